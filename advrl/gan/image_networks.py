"""DCGAN networks (Radford et al. 2016, https://arxiv.org/abs/1511.06434), scaled to the image.

The generator projects z to a (C, 2, 2) map and doubles it with transposed convolutions
(batch norm, ReLU; tanh at the end) up to the image size: two stages for 8x8 digits, four for
32x32. The discriminator mirrors it with strided convolutions and LeakyReLU(0.2), no norm on
its first layer; WGAN-GP gets layer norm instead of batch norm, since its penalty is per
sample. Conditional networks see the one-hot class: concatenated to z for the generator, as
constant image planes (``with_label_planes``) for the discriminator, so that
``RewardModel.update(real, fake)`` still takes one tensor per side.
"""

from __future__ import annotations

import itertools
import math
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from advrl.core.errors import UserError


class NetworkConfig(Protocol):
    """What ``build_networks`` reads of a config (``advrl.gan.dcgan.DCGANConfig`` has it)."""

    latent_dim: int
    base_channels: int
    loss: str
    conditional: bool


def stage_count(image_size: int) -> int:
    """Up-sampling stages from 2x2 to ``image_size`` (a power of two, at least 4)."""
    stages = int(math.log2(image_size)) - 1 if image_size >= 4 else 0
    if stages < 1 or 2 ** (stages + 1) != image_size:
        raise UserError(
            f"--image-size must be a power of two >= 4 (8, 16, 32, 64), got {image_size}"
        )
    return stages


def stage_widths(base_channels: int, stages: int) -> list[int]:
    """Feature-map channels at 2x2, 4x4, ... (the generator's order), halved, at least 16."""
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


def with_label_planes(images: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Append the one-hot label as ``n_classes`` constant planes: (B, C + K, H, W)."""
    b, _, h, w = images.shape
    planes = F.one_hot(labels, n_classes).to(images.dtype)  # (B, K)
    return torch.cat([images, planes[:, :, None, None].expand(b, n_classes, h, w)], dim=1)


def _up(c_in: int, c_out: int, norm: str = "batch") -> list[nn.Module]:
    """(B, c_in, S, S) -> (B, c_out, 2S, 2S): transposed conv, batch or layer norm, ReLU."""
    return [
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out) if norm == "batch" else nn.GroupNorm(1, c_out),
        nn.ReLU(),
    ]


def _down(c_in: int, c_out: int, norm: str) -> list[nn.Module]:
    """(B, c_in, 2S, 2S) -> (B, c_out, S, S): strided conv, batch or layer norm, LeakyReLU."""
    norm_layer = nn.BatchNorm2d(c_out) if norm == "batch" else nn.GroupNorm(1, c_out)
    return [
        nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        norm_layer,
        nn.LeakyReLU(0.2),
    ]


class Generator(nn.Module):
    """z (B, latent_dim) [+ class (B,)] -> images (B, channels, size, size) in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        base_channels: int,
        n_classes: int,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        widths = stage_widths(base_channels, stage_count(image_size))
        # "Project and reshape": (B, latent_dim + K) -> (B, widths[0] * 4), viewed as 2x2.
        self.project = nn.Sequential(
            nn.Linear(latent_dim + n_classes, widths[0] * 4, bias=False),
            nn.BatchNorm1d(widths[0] * 4) if norm == "batch" else nn.LayerNorm(widths[0] * 4),
            nn.ReLU(),
        )
        layers = [m for c_in, c_out in itertools.pairwise(widths) for m in _up(c_in, c_out, norm)]
        # Last stage: (B, widths[-1], size/2, size/2) -> (B, channels, size, size), tanh.
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            if labels is None:
                raise ValueError("a conditional generator needs labels")
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)  # (B, L+K)
        x = self.project(z).view(len(z), -1, 2, 2)  # (B, widths[0], 2, 2)
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
        widths = stage_widths(base_channels, stage_count(image_size))[::-1]  # narrow to wide
        # First stage, no norm: (B, channels + K, size, size) -> (B, widths[0], size/2, size/2).
        layers: list[nn.Module] = [
            nn.Conv2d(channels + n_classes, widths[0], 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        layers += [
            m for c_in, c_out in itertools.pairwise(widths) for m in _down(c_in, c_out, norm)
        ]
        self.features = nn.Sequential(*layers)  # (B, widths[-1], 2, 2)
        self.head = nn.Linear(widths[-1] * 4, 1)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)  # (B,)


class AuxiliaryDiscriminator(Discriminator):
    """A discriminator with a second head on the same features: AC-GAN's class logits, or
    InfoGAN's Q network (the codes' statistics). ``forward`` is the real/fake output."""

    def __init__(
        self, channels: int, image_size: int, base_channels: int, aux_outputs: int
    ) -> None:
        super().__init__(channels, image_size, base_channels, 0)
        self.aux = nn.Linear(self.head.in_features, aux_outputs)
        self.aux.apply(init_dcgan_weights)

    def auxiliary(self, x: torch.Tensor) -> torch.Tensor:
        """The second head's outputs (B, aux_outputs)."""
        return self.aux(self.features(x).flatten(1))


class ImageAutoencoder(nn.Module):
    """EBGAN's and BEGAN's discriminator: the DCGAN discriminator's strided convolutions down
    to a code, the generator's transposed convolutions (tanh) back up to the image.

    ``norm`` is batch norm by default, as EBGAN's. Layer norm makes each energy a property
    of one sample alone; on the digits (development seed 11, 30 epochs) it did worse:
    EBGAN's Fréchet distance 17 against 5, and BEGAN collapsed onto one class."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        base_channels: int,
        code_dim: int = 32,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        body = Discriminator(channels, image_size, base_channels, 0, norm=norm)
        self.encoder = nn.Sequential(
            body.features, nn.Flatten(), nn.Linear(body.head.in_features, code_dim)
        )
        self.decoder = Generator(code_dim, channels, image_size, base_channels, 0, norm=norm)
        self.encoder.apply(init_dcgan_weights)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def build_networks(
    config: NetworkConfig, channels: int, image_size: int, n_classes: int
) -> tuple[Generator, Discriminator]:
    """The generator and discriminator for images of this shape (``n_classes`` 0: unconditional)."""
    k = n_classes if config.conditional else 0
    norm = "layer" if config.loss == "wgan_gp" else "batch"
    return (
        Generator(config.latent_dim, channels, image_size, config.base_channels, k),
        Discriminator(channels, image_size, config.base_channels, k, norm),
    )


@torch.no_grad()
def generate(
    generator: Generator, z: torch.Tensor, labels: torch.Tensor | None, batch: int = 500
) -> torch.Tensor:
    """Samples on the CPU, in eval mode (batch norm's running statistics), mode restored after."""
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
