"""An image GAN: DCGAN (Radford et al. 2016, https://arxiv.org/abs/1511.06434), scaled to the data.

The generator projects a latent vector to a (C, 2, 2) feature map and doubles its size with
transposed convolutions (batch norm and ReLU after each, tanh at the end) until it reaches
the image size: two stages for scikit-learn's 8x8 digits, four for 32x32 images. The
discriminator mirrors it with strided convolutions and LeakyReLU(0.2), without batch norm on
its first layer (the paper's guidelines). Both train with Adam, lr 2e-4 and betas
(0.5, 0.999). WGAN-GP follows Gulrajani et al. 2017: betas (0.0, 0.9), five critic steps
per generator step (WGAN too) and layer norm in place of batch norm, since its penalty is
per sample.

The discriminator side is ``advrl.gan.RewardModel``, so any loss of ``GAN_LOSSES`` works.
For the class-conditional GAN (``conditional=True``) the generator gets the one-hot class
concatenated to its latent, and the discriminator gets it as constant image planes
concatenated to its input channels (``with_label_planes``): one tensor, so the reward
model's ``update(real, fake)`` stays as it is. Fakes are drawn with the labels of the real
batch they are compared with, which keeps WGAN-GP's interpolated label planes one-hot.

Mode collapse is measured with a logistic-regression classifier trained on the real images
(held-out accuracy about 0.96 on the digits): on 1,000 samples from fixed latents,
``class_coverage`` counts the classes that are the classifier's top pick for at least
``COVERAGE_MIN_FRACTION`` of them, ``class_entropy`` is the entropy of that histogram (log
10 ≈ 2.30 nats when uniform over 10 classes) and ``mean_confidence`` the mean top
probability. ``train_gan`` runs a whole experiment: TensorBoard logs, sample grids,
checkpoints and summary.json.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from advrl.agents import resolve_device
from advrl.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    write_json_atomic,
)
from advrl.errors import UserError
from advrl.gan.losses import get_loss
from advrl.gan.reward_model import RewardModel
from advrl.train import seed_everything

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
COVERAGE_MIN_FRACTION = 0.01
"""A class counts as covered when it is the top prediction for at least 1% of samples."""
EVAL_SAMPLES = 1000
GRID_COLUMNS = 10


# --- configuration ------------------------------------------------------------------------


@dataclass
class DCGANConfig:
    """Hyperparameters of the DCGAN; defaults follow Radford et al. 2016, scaled down."""

    epochs: int = 30
    """Passes over the training images."""
    batch_size: int = 64
    """Real images per discriminator step (the paper's 128 is over 10% of the digits)."""
    latent_dim: int = 32
    """Size of the generator's noise vector z ~ N(0, I) (the paper's 100 was for 64x64)."""
    base_channels: int = 128
    """Channels of the generator's first (2x2) feature map, halved at each up-sampling stage
    (at least 16); the discriminator mirrors them."""
    loss: str = "non_saturating"
    """GAN loss: minimax, non_saturating, wgan, wgan_gp, least_squares or hinge."""
    lr: float = 2e-4
    """Adam learning rate of both networks."""
    betas: tuple[float, float] | None = None
    """Adam's betas; None is (0.5, 0.999) (the paper's), or (0.0, 0.9) for wgan_gp."""
    d_steps: int | None = None
    """Discriminator steps per generator step; None is 5 for wgan and wgan_gp, else 1."""
    conditional: bool = False
    """Condition both networks on the class label (needs labelled data)."""

    def resolved_betas(self) -> tuple[float, float]:
        if self.betas is not None:
            return tuple(self.betas)  # type: ignore[return-value]
        return (0.0, 0.9) if self.loss == "wgan_gp" else (0.5, 0.999)

    def resolved_d_steps(self) -> int:
        if self.d_steps is not None:
            return self.d_steps
        return 5 if self.loss in ("wgan", "wgan_gp") else 1

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        for name in ("epochs", "batch_size", "latent_dim", "base_channels"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.d_steps is not None and self.d_steps < 1:
            problems.append(f"d_steps must be >= 1, got {self.d_steps}")
        if self.betas is not None and not all(0 <= b < 1 for b in self.betas):
            problems.append(f"betas must be in [0, 1), got {self.betas}")
        return problems


# --- data ---------------------------------------------------------------------------------


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
                image = image.convert(mode).resize((image_size, image_size), Image.BILINEAR)
                arrays.append(np.asarray(image, dtype=np.float32))
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            raise UserError(f"cannot read image {str(path)!r} ({exc}); remove or fix it") from None
    pixels = np.stack(arrays)  # (N, H, W) or (N, H, W, 3)
    pixels = pixels[:, None] if channels == 1 else pixels.transpose(0, 3, 1, 2)
    images = torch.from_numpy(pixels / 127.5 - 1.0).float()
    labels = torch.tensor([label for _, label in files]) if class_names else None
    return ImageData(images, labels, class_names, folder.resolve().name)


def with_label_planes(images: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Append the one-hot label as ``n_classes`` constant planes: (B, C + K, H, W).

    How the conditional discriminator sees labels: one tensor through ``RewardModel``.
    """
    b, _, h, w = images.shape
    planes = F.one_hot(labels, n_classes).to(images.dtype)  # (B, K)
    return torch.cat([images, planes[:, :, None, None].expand(b, n_classes, h, w)], dim=1)


# --- networks -----------------------------------------------------------------------------


def _stage_count(image_size: int) -> int:
    """Up-sampling stages from 2x2 to ``image_size`` (a power of two, at least 4)."""
    stages = int(math.log2(image_size)) - 1 if image_size >= 4 else 0
    if stages < 1 or 2 ** (stages + 1) != image_size:
        raise UserError(
            f"--image-size must be a power of two >= 4 (8, 16, 32, 64), got {image_size}"
        )
    return stages


def _widths(base_channels: int, stages: int) -> list[int]:
    """Feature-map channels at 2x2, 4x4, ... (the generator's order)."""
    return [max(base_channels >> i, 16) for i in range(stages)]


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d | nn.GroupNorm):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z (B, latent_dim) [+ one-hot class (B, K)] -> images (B, channels, size, size) in [-1, 1]."""

    def __init__(
        self, latent_dim: int, channels: int, image_size: int, base_channels: int, n_classes: int
    ) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        widths = _widths(base_channels, _stage_count(image_size))
        # "Project and reshape": a linear layer to the first (C, 2, 2) feature map.
        self.project = nn.Sequential(
            nn.Linear(latent_dim + n_classes, widths[0] * 4, bias=False),
            nn.BatchNorm1d(widths[0] * 4),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            if labels is None:
                raise ValueError("a conditional generator needs labels")
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)
        x = self.project(z).view(len(z), -1, 2, 2)  # (B, C, 2, 2)
        return self.upsample(x)  # (B, channels, size, size)


class Discriminator(nn.Module):
    """Images (B, channels [+ K label planes], size, size) -> one raw output each (B,)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        base_channels: int,
        n_classes: int,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        widths = _widths(base_channels, _stage_count(image_size))[::-1]  # narrow to wide
        layers: list[nn.Module] = [
            nn.Conv2d(channels + n_classes, widths[0], 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        for c_in, c_out in itertools.pairwise(widths):
            # Layer norm (one group) for WGAN-GP: its penalty is per sample, batch norm mixes.
            norm_layer = nn.BatchNorm2d(c_out) if norm == "batch" else nn.GroupNorm(1, c_out)
            layers += [
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                norm_layer,
                nn.LeakyReLU(0.2),
            ]
        self.features = nn.Sequential(*layers)  # (B, widths[-1], 2, 2)
        self.head = nn.Linear(widths[-1] * 4, 1)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)


def build_networks(
    config: DCGANConfig, channels: int, image_size: int, n_classes: int
) -> tuple[Generator, Discriminator]:
    """The generator and discriminator for images of this shape (``n_classes`` 0: unconditional)."""
    k = n_classes if config.conditional else 0
    norm = "layer" if config.loss == "wgan_gp" else "batch"
    return (
        Generator(config.latent_dim, channels, image_size, config.base_channels, k),
        Discriminator(channels, image_size, config.base_channels, k, norm),
    )


# --- mode-collapse metrics ----------------------------------------------------------------


class ImageClassifier:
    """Multinomial logistic regression on raw pixels, the judge of generated images.

    Trained on 80% of the real images (stratified, seeded); ``accuracy`` is on the other 20%.
    """

    def __init__(self, data: ImageData, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from threadpoolctl import threadpool_limits

        if data.labels is None:
            raise ValueError("the classifier needs labelled images")
        x = data.images.flatten(1).numpy()
        y = data.labels.numpy()
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=0.2, random_state=seed, stratify=y
        )
        # One BLAS thread: on a busy machine a threaded fit of this small problem is ~100x
        # slower (measured: 0.04 s against 6 s on two shared cores).
        with threadpool_limits(1):
            self.model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
            self.accuracy = float(self.model.score(x_test, y_test))
        self.n_classes = data.n_classes

    def predict_proba(self, images: torch.Tensor) -> np.ndarray:
        """(B, K) class probabilities of images (B, C, H, W) in [-1, 1]."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self.model.predict_proba(images.detach().cpu().flatten(1).numpy())


def mode_metrics(
    probs: np.ndarray, labels: np.ndarray | None = None, min_fraction: float = COVERAGE_MIN_FRACTION
) -> dict[str, float]:
    """Class coverage, entropy of the predicted-class histogram and mean confidence.

    ``probs`` (B, K) are the classifier's probabilities for B generated samples; ``labels``,
    for a conditional generator, the classes asked for (adds ``label_accuracy``).
    """
    n_classes = probs.shape[1]
    predicted = probs.argmax(1)
    fractions = np.bincount(predicted, minlength=n_classes) / len(predicted)
    nonzero = fractions[fractions > 0]
    metrics = {
        "class_coverage": int((fractions >= min_fraction).sum()),
        "class_entropy": float(-(nonzero * np.log(nonzero)).sum()) + 0.0,
        "mean_confidence": float(probs.max(1).mean()),
    }
    if labels is not None:
        metrics["label_accuracy"] = float((predicted == labels).mean())
    return metrics


@torch.no_grad()
def generate(
    generator: Generator, z: torch.Tensor, labels: torch.Tensor | None, batch: int = 500
) -> torch.Tensor:
    """Samples in eval mode (batch norm's running statistics), restoring the mode after."""
    was_training = generator.training
    generator.eval()
    try:
        device = next(generator.parameters()).device
        chunks = []
        for i in range(0, len(z), batch):
            y = None if labels is None else labels[i : i + batch].to(device)
            chunks.append(generator(z[i : i + batch].to(device), y).cpu())
        return torch.cat(chunks)
    finally:
        generator.train(was_training)


def evaluation_inputs(
    latent_dim: int, n_classes: int, conditional: bool, seed: int, n: int = EVAL_SAMPLES
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fixed latents (and balanced labels when conditional) on which coverage is measured."""
    gen = torch.Generator().manual_seed(seed + 2)
    z = torch.randn(n, latent_dim, generator=gen)
    labels = torch.arange(n) % n_classes if conditional else None
    return z, labels


def evaluate_generator(
    generator: Generator,
    classifier: ImageClassifier,
    z: torch.Tensor,
    labels: torch.Tensor | None,
) -> dict[str, float]:
    """``mode_metrics`` of the classifier on the generator's samples from ``z``."""
    probs = classifier.predict_proba(generate(generator, z, labels))
    return mode_metrics(probs, None if labels is None else labels.numpy())


# --- sample grids -------------------------------------------------------------------------


def image_grid(images: torch.Tensor, columns: int = GRID_COLUMNS, pad: int = 1) -> np.ndarray:
    """Images (B, C, H, W) in [-1, 1] as one (rows*(H+pad)+pad, ..., C) uint8 array."""
    images = ((images.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    b, c, h, w = images.shape
    rows = math.ceil(b / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        grid[top : top + h, left : left + w] = image
    return grid


def save_grid(grid: np.ndarray, path: Path, min_side: int = 320) -> Path:
    """Write a grid as PNG, enlarged by whole pixels (nearest) so 8x8 digits are visible."""
    from PIL import Image

    scale = max(1, min_side // max(grid.shape[:2]))
    image = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)
    return path


# --- training -----------------------------------------------------------------------------


@dataclass
class GANSettings:
    """One run of ``train_gan``: what to train on, where to write, and the hyperparameters."""

    config: DCGANConfig = dataclasses.field(default_factory=DCGANConfig)
    data: Path | None = None
    """A folder of images; None is scikit-learn's digits."""
    channels: int = 1
    """1 (grayscale) or 3 (RGB), for folder data."""
    image_size: int | None = None
    """Side of the (square) images; None is 8 for the digits, 32 for a folder."""
    seed: int = 1
    device: str = "auto"
    run_dir: Path | None = None
    """Default runs/gan__{data}__{seed}__{time}."""
    sample_every: int = 1
    """Save a sample grid every this many epochs (and after the last)."""
    checkpoint_every: int = 0
    """Checkpoint every this many epochs; 0 is only at the end."""
    resume: Path | None = None
    """Continue from this checkpoint (``config.epochs`` is the new total)."""


def load_data(data: Path | None, channels: int, image_size: int | None) -> ImageData:
    """The digits (``data`` None) or a folder of images, as ``ImageData``."""
    if channels not in (1, 3):
        raise UserError(f"--channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if data is None:
        if channels != 1:
            raise UserError("the digits are grayscale; --channels 3 needs --data FOLDER")
        size = image_size or 8
        _stage_count(size)
        return load_digits_data(size)
    size = image_size or 32
    _stage_count(size)
    return load_image_folder(data, channels, size)


_RESUMABLE = {"epochs"}


def _plan(settings: GANSettings) -> tuple[GANSettings, dict[str, Any] | None]:
    """Settings with the checkpoint's run filled in when resuming, and the checkpoint."""
    if settings.resume is None:
        problems = settings.config.validate()
        if problems:
            raise UserError(f"invalid GAN settings: {'; '.join(problems)}")
        if settings.sample_every < 1 or settings.checkpoint_every < 0:
            raise UserError("--sample-every must be >= 1 and --checkpoint-every >= 0")
        get_loss(settings.config.loss)
        return settings, None
    checkpoint = load_checkpoint(settings.resume)
    if "generator" not in checkpoint or "gan_run" not in checkpoint:
        raise UserError(
            f"checkpoint {str(settings.resume)!r} is not a train_gan.py checkpoint; pass a "
            "file under <run_dir>/checkpoints/ of a GAN run"
        )
    run = checkpoint["gan_run"]
    saved = DCGANConfig(**checkpoint["config"])
    for f in dataclasses.fields(DCGANConfig):
        given = getattr(settings.config, f.name)
        if f.name not in _RESUMABLE and given != f.default and given != getattr(saved, f.name):
            raise UserError(
                f"{f.name}={given!r} differs from the checkpoint's {getattr(saved, f.name)!r}; "
                "only --epochs may change when resuming"
            )
    if settings.config.epochs <= checkpoint["epoch"]:
        raise UserError(
            f"the checkpoint has trained {checkpoint['epoch']} epochs already; pass a larger "
            "--epochs (the new total) to continue"
        )
    run_dir = Path(settings.run_dir or run["run_dir"])
    if settings.run_dir is None and not run_dir.exists():  # the run folder was moved
        run_dir = Path(settings.resume).resolve().parent.parent
    resumed = dataclasses.replace(
        settings,
        config=dataclasses.replace(saved, epochs=settings.config.epochs),
        data=Path(run["data"]) if run["data"] else None,
        channels=run["channels"],
        image_size=run["image_size"],
        seed=run["seed"],
        run_dir=run_dir,
    )
    return resumed, checkpoint


def train_gan(
    settings: GANSettings, on_epoch: Callable[[int, dict[str, float]], None] | None = None
) -> dict[str, Any]:
    """Train a DCGAN as ``settings`` say and return the summary written to summary.json.

    ``on_epoch(epoch, metrics)`` is called after each epoch (for progress lines).
    """
    from torch.utils.tensorboard import SummaryWriter

    start_time = time.perf_counter()
    settings, checkpoint = _plan(settings)
    config, seed = settings.config, settings.seed
    device = resolve_device(settings.device)
    data = load_data(settings.data, settings.channels, settings.image_size)
    if config.conditional and data.labels is None:
        raise UserError(
            "--conditional needs classes: put each class's images in its own subfolder of --data"
        )
    _, channels, image_size, _ = data.images.shape
    if checkpoint is None:
        run_dir = Path(settings.run_dir or f"runs/gan__{data.name}__{seed}__{int(time.time())}")
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(
                f"run dir {str(run_dir)!r} already holds files; pick another --run-dir, or "
                "--resume a checkpoint from it"
            )
    else:
        run_dir = Path(settings.run_dir)  # type: ignore[arg-type]
    run_dir.mkdir(parents=True, exist_ok=True)

    seed_everything(seed)
    n_classes = data.n_classes
    generator, discriminator = build_networks(config, channels, image_size, n_classes)
    generator.to(device)
    discriminator.to(device)
    betas = config.resolved_betas()
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas)
    reward_model = RewardModel(discriminator, config.loss, lr=config.lr, betas=betas)
    classifier = ImageClassifier(data, seed) if data.labels is not None else None
    conditional = config.conditional
    label_planes = n_classes if conditional else 0

    # Fixed inputs: the sample grid (one row per class when conditional, the same latent
    # down each column) and the latents on which coverage is measured.
    fixed_gen = torch.Generator().manual_seed(seed + 1)
    rows = n_classes if conditional else GRID_COLUMNS
    columns_z = torch.randn(GRID_COLUMNS, config.latent_dim, generator=fixed_gen)
    if conditional:
        fixed_z = columns_z.repeat(rows, 1)
        fixed_labels: torch.Tensor | None = torch.arange(rows).repeat_interleave(GRID_COLUMNS)
    else:
        fixed_z = torch.randn(rows * GRID_COLUMNS, config.latent_dim, generator=fixed_gen)
        fixed_labels = None
    eval_z, eval_labels = evaluation_inputs(config.latent_dim, n_classes, conditional, seed)

    # Shuffling and latents come from their own generators, so CPU runs are reproducible.
    shuffle_gen = torch.Generator().manual_seed(seed + 3)
    noise_gen = torch.Generator().manual_seed(seed + 4)
    start_epoch, samples_written = 0, 0
    history: dict[str, Any] = {}
    if checkpoint is not None:
        generator.load_state_dict(checkpoint["generator"])
        g_optimizer.load_state_dict(checkpoint["generator_optimizer"])
        reward_model.load_state_dict(checkpoint["reward_model"])
        shuffle_gen.set_state(checkpoint["shuffle_rng"])
        noise_gen.set_state(checkpoint["noise_rng"])
        set_rng_state(checkpoint["rng"])
        start_epoch, samples_written = checkpoint["epoch"], checkpoint["samples_written"]
        history = checkpoint["history"]

    images = data.images.to(device)
    labels = data.labels.to(device) if data.labels is not None else None
    batch_size = min(config.batch_size, len(images))
    d_steps = config.resolved_d_steps()
    run_meta = {
        "data": str(Path(settings.data).resolve()) if settings.data else None,
        "channels": channels,
        "image_size": image_size,
        "seed": seed,
        "run_dir": str(run_dir),
    }
    writer = SummaryWriter(str(run_dir), purge_step=start_epoch or None)
    if checkpoint is None:
        hparams = {**run_meta, **dataclasses.asdict(config), "device": str(device)}
        rows_md = "\n".join(f"|{key}|{value}|" for key, value in hparams.items())
        writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows_md}", 0)

    def discriminator_input(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return x if y is None or not conditional else with_label_planes(x, y, label_planes)

    def sample_noise(n: int) -> torch.Tensor:
        return torch.randn(n, config.latent_dim, generator=noise_gen).to(device)

    def evaluate_now(epoch: int) -> dict[str, float]:
        if classifier is None:
            return {}
        metrics = evaluate_generator(generator, classifier, eval_z, eval_labels)
        for key, value in metrics.items():
            writer.add_scalar(f"eval/{key}", value, epoch)
        return metrics

    def write_samples(epoch: int) -> Path:
        nonlocal samples_written
        samples_written += 1
        grid = image_grid(generate(generator, fixed_z, fixed_labels))
        writer.add_image("samples", grid, epoch, dataformats="HWC")
        return save_grid(grid, run_dir / f"generated-images-{samples_written:04d}.png")

    def save(name: str, epoch: int) -> Path:
        return save_checkpoint(
            run_dir / "checkpoints" / name,
            {
                "gan_run": run_meta,
                "config": dataclasses.asdict(config),
                "epoch": epoch,
                "samples_written": samples_written,
                "history": history,
                "generator": generator.state_dict(),
                "generator_optimizer": g_optimizer.state_dict(),
                "reward_model": reward_model.state_dict(),
                "shuffle_rng": shuffle_gen.get_state(),
                "noise_rng": noise_gen.get_state(),
                "rng": rng_state(),
            },
        )

    if checkpoint is None:
        history["initial"] = evaluate_now(0)
    for epoch in range(start_epoch + 1, config.epochs + 1):
        sums: dict[str, float] = {}
        d_updates = g_updates = 0
        order = torch.randperm(len(images), generator=shuffle_gen).to(device)
        for start in range(0, len(images) - batch_size + 1, batch_size):  # full batches only
            index = order[start : start + batch_size]
            real_x = images[index]
            real_y = labels[index] if labels is not None and conditional else None
            with torch.no_grad():
                fake_x = generator(sample_noise(batch_size), real_y)
            d_metrics = reward_model.update(
                discriminator_input(real_x, real_y), discriminator_input(fake_x, real_y)
            )
            d_updates += 1
            for key, value in d_metrics.items():
                sums[key] = sums.get(key, 0.0) + value
            if reward_model.updates % d_steps:  # counted over the run: epochs may be short
                continue
            # Generator step: fakes with the real batch's labels, through D as it is now.
            fake_x = generator(sample_noise(batch_size), real_y)
            g_loss = reward_model.generator_loss(discriminator_input(fake_x, real_y))
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
            g_updates += 1
            sums["g_loss"] = sums.get("g_loss", 0.0) + g_loss.item()
        epoch_metrics = {
            key: value / (g_updates if key == "g_loss" else d_updates)
            for key, value in sums.items()
        }
        epoch_metrics["d_loss"] = epoch_metrics.pop("loss")
        for key, value in epoch_metrics.items():
            writer.add_scalar(f"gan/{key}", value, epoch)
        if epoch % settings.sample_every == 0 or epoch == config.epochs:
            write_samples(epoch)
            epoch_metrics |= evaluate_now(epoch)
        if settings.checkpoint_every and epoch % settings.checkpoint_every == 0:
            save(f"epoch_{epoch:04d}.pt", epoch)
        history["final"] = epoch_metrics
        if on_epoch is not None:
            on_epoch(epoch, epoch_metrics)
    final_path = save("final.pt", config.epochs)
    final = history.get("final", {})
    if "class_coverage" not in final:
        final |= evaluate_now(config.epochs)
    writer.close()

    summary: dict[str, Any] = {
        "data": run_meta["data"] or "digits",
        "seed": seed,
        "epochs": config.epochs,
        "device": str(device),
        "image_shape": [channels, image_size, image_size],
        "n_classes": n_classes,
        "hyperparameters": dataclasses.asdict(config),
        **final,
    }
    if classifier is not None:
        summary |= {
            "classifier_accuracy": classifier.accuracy,
            "coverage_min_fraction": COVERAGE_MIN_FRACTION,
            "eval_samples": len(eval_z),
            "initial": history.get("initial", {}),
        }
    summary |= {
        "samples": [
            str(run_dir / f"generated-images-{i:04d}.png") for i in range(1, samples_written + 1)
        ],
        "checkpoint": str(final_path),
        "run_dir": str(run_dir),
        "resumed_from": str(settings.resume) if settings.resume else None,
        "wall_time_s": time.perf_counter() - start_time,
    }
    write_json_atomic(run_dir / "summary.json", summary)
    return summary
