"""Images for the DCGAN: scikit-learn's digits or a folder of PNG/JPG files, as tensors in
[-1, 1], and the sample grids written during training."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from advrl.core.checkpoint import write_bytes_atomic
from advrl.core.errors import UserError
from advrl.gan.image_networks import stage_count

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRID_COLUMNS = 10
MIN_TILE_SIDE = 24
"""Saved grids are enlarged until one image is at least this many pixels on a side."""


@dataclass
class ImageData:
    """Training images in [-1, 1] and, where the data has classes, their labels."""

    images: torch.Tensor
    """(N, C, H, W) float32 in [-1, 1]."""
    labels: torch.Tensor | None
    """(N,) int64 class indices, or None for unlabelled data."""
    class_names: list[str]
    """The name of each class (empty when unlabelled)."""
    name: str
    """"digits" or the folder's name, for run names."""

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def load_digits_data(image_size: int = 8) -> ImageData:
    """scikit-learn's 1,797 handwritten digits (8x8, values 0..16, offline), as [-1, 1].

    Another ``image_size`` resizes them bilinearly (to try the larger networks quickly).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear")
        images = images.clamp(-1, 1)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return ImageData(images, labels, [str(d) for d in range(10)], "digits")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(folder: Path, channels: int = 1, image_size: int = 32) -> ImageData:
    """PNG/JPG images from ``folder``, resized to ``image_size`` and scaled to [-1, 1].

    Images directly in the folder are unlabelled; subfolders holding images name classes
    (``cats/``, ``dogs/``), one label per subfolder, in sorted order.
    """
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--data {str(folder)!r} is not a folder; pass a folder of PNG/JPG images")
    top = _image_files(folder)
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and _image_files(p))
    if top and class_dirs:
        raise UserError(
            f"--data {str(folder)!r} holds images and class subfolders; move the loose images "
            "into a class subfolder, or remove the subfolders for an unconditional GAN"
        )
    if class_dirs:
        files = [(p, label) for label, d in enumerate(class_dirs) for p in _image_files(d)]
        class_names = [d.name for d in class_dirs]
    else:
        files = [(p, -1) for p in top]
        class_names = []
    if not files:
        raise UserError(
            f"--data {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}), neither "
            "directly nor in class subfolders"
        )
    mode = {1: "L", 3: "RGB"}[channels]
    arrays = []
    for path, _ in files:
        try:
            with Image.open(path) as image:
                image = image.convert(mode).resize(
                    (image_size, image_size), Image.Resampling.BILINEAR
                )
                arrays.append(np.asarray(image, dtype=np.float32))
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            raise UserError(f"cannot read image {str(path)!r} ({exc}); remove or fix it") from None
    pixels = np.stack(arrays)  # (N, H, W) or (N, H, W, 3)
    pixels = pixels[:, None] if channels == 1 else pixels.transpose(0, 3, 1, 2)  # (N, C, H, W)
    images = torch.from_numpy(pixels / 127.5 - 1.0).float()
    labels = torch.tensor([label for _, label in files]) if class_names else None
    return ImageData(images, labels, class_names, folder.resolve().name)


def load_data(data: Path | None, channels: int, image_size: int | None) -> ImageData:
    """The digits (``data`` None) or a folder of images, at a size the networks can make."""
    if channels not in (1, 3):
        raise UserError(f"--channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if data is None:
        if channels != 1:
            raise UserError("the digits are grayscale; --channels 3 needs --data FOLDER")
        size = image_size or 8
        stage_count(size)
        return load_digits_data(size)
    size = image_size or 32
    stage_count(size)
    return load_image_folder(data, channels, size)


def image_grid(images: torch.Tensor, columns: int = GRID_COLUMNS, pad: int = 1) -> np.ndarray:
    """Images (B, C, H, W) in [-1, 1] as one (rows*(H+pad)+pad, ..., C) uint8 array."""
    images = ((images.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    b, c, h, w = images.shape
    rows = math.ceil(b / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):  # (H, W, C) each
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        grid[top : top + h, left : left + w] = image
    return grid


def save_grid(
    grid: np.ndarray,
    path: Path,
    image_side: int,
    min_tile: int = MIN_TILE_SIDE,
    min_side: int = 320,
) -> Path:
    """Write a grid as PNG, atomically, enlarged by whole pixels (nearest neighbour) until
    each ``image_side`` tile is ``min_tile`` px and the grid ``min_side`` px, whichever is
    more: 8x8 digits are too small to judge by eye."""
    from PIL import Image

    scale = max(1, math.ceil(min_tile / image_side), min_side // max(grid.shape[:2]))
    image = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return write_bytes_atomic(path, buffer.getvalue())
