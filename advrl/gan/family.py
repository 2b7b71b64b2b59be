"""The image GAN family ``train_gan`` trains (``--gan NAME``): each variant's networks, its
discriminator as a learned reward, and its two steps.

| name | generator | discriminator | its own part |
|---|---|---|---|
| ``dcgan`` | z | real/fake (``--loss``) | |
| ``cgan`` | z, class | real/fake of image + class planes | |
| ``acgan`` | z, class | real/fake, and a class head | the class's cross-entropy, both sides |
| ``infogan`` | z, codes | real/fake, and Q (the codes) | a bound on I(codes; G(z, codes)) |
| ``ebgan`` | z | autoencoder energy | margin, pulling-away term (``advrl.gan.energy``) |
| ``began`` | z | autoencoder energy | the equilibrium k_t, M_global (``advrl.gan.energy``) |
| ``lsgan_ls`` | z | a learned loss | margin Δ(x, G(z)), Lipschitz penalty (``advrl.gan.energy``) |

- **AC-GAN** (Odena et al. 2017): the discriminator sees the image alone and predicts its
  class beside real/fake. Its loss adds the class cross-entropy on reals and fakes; the
  generator's adds it on its fakes of the asked class. ``aux_weight`` (1) scales both.
- **InfoGAN** (Chen et al. 2016): the generator reads z, a categorical code c (``info_codes``
  values, uniform) and ``info_continuous`` codes, each uniform in [-1, 1]. Q, a head on the
  discriminator's features, predicts them from G(z, c): logits for c and means for the
  continuous codes (unit-variance Gaussians). Both networks minimise Q's negative
  log-likelihood, scaled by ``aux_weight``: this maximises the variational lower bound
  L_I = H(c) + E log Q(c | G(z, c)) on the mutual information. Its categorical part,
  log K - cross-entropy in nats, is logged as ``mi_lower_bound``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.nn import functional as F

from advrl.core.errors import UserError
from advrl.gan.energy import ENERGY_KINDS, EnergyModel
from advrl.gan.image_networks import (
    AuxiliaryDiscriminator,
    Discriminator,
    Generator,
    ImageAutoencoder,
    with_label_planes,
)
from advrl.gan.reward_model import BaseRewardModel, RewardModel

GAN_NAMES = ("dcgan", "cgan", "acgan", "infogan", *ENERGY_KINDS)
"""``--gan`` names (contracts)."""
CONDITIONAL = ("cgan", "acgan")
"""Variants whose generator is asked for a class."""


class FamilyConfig(Protocol):
    """What ``build_image_gan`` reads of a config (``advrl.gan.dcgan.DCGANConfig`` has it)."""

    latent_dim: int
    base_channels: int
    loss: str
    lr: float
    aux_weight: float
    info_codes: int
    info_continuous: int
    ebgan_margin: float
    ebgan_pt_weight: float
    began_gamma: float
    began_lambda_k: float
    ls_weight: float
    ls_lipschitz: float

    def resolved_gan(self) -> str: ...

    def resolved_betas(self) -> tuple[float, float]: ...


@dataclass
class ImageGAN:
    """One variant's generator and discriminator and a batch's two steps, on latents from
    ``noise`` (a CPU generator, so runs are reproducible on any device)."""

    name: str
    generator: Generator
    reward_model: BaseRewardModel
    g_optimizer: torch.optim.Optimizer
    noise: torch.Generator
    latent_dim: int
    label_planes: int
    """Classes appended to the discriminator's input (cgan); 0 otherwise."""
    device: torch.device
    aux_weight: float = 1.0
    info_codes: int = 0
    info_continuous: int = 0

    @property
    def conditional(self) -> bool:
        return self.name in CONDITIONAL

    # --- inputs -------------------------------------------------------------------------

    def latents(
        self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(z, what the generator is asked for, InfoGAN's continuous codes) for ``n`` fakes:
        a conditional variant's ``labels``, InfoGAN's uniform categorical codes."""
        gen = generator or self.noise
        z = torch.randn(n, self.latent_dim, generator=gen)
        if self.name != "infogan":
            return z.to(self.device), labels, None
        codes = torch.randint(self.info_codes, (n,), generator=gen)
        continuous = torch.rand(n, self.info_continuous, generator=gen) * 2 - 1
        z = torch.cat([z, continuous], dim=1)
        return z.to(self.device), codes.to(self.device), continuous.to(self.device)

    def _d_input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return (
            x if self.label_planes == 0 or y is None else with_label_planes(x, y, self.label_planes)
        )

    # --- the auxiliary heads ------------------------------------------------------------

    def _auxiliary_loss(
        self, fake_x: torch.Tensor, asked: torch.Tensor | None, continuous: torch.Tensor | None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """AC-GAN's class loss or InfoGAN's code loss on ``fake_x``, and its metrics."""
        head = self.reward_model.discriminator
        assert isinstance(head, AuxiliaryDiscriminator) and asked is not None
        out = head.auxiliary(fake_x)
        if self.name == "acgan":
            loss = F.cross_entropy(out, asked)
            return loss, {"class_loss": loss.item()}
        cross_entropy = F.cross_entropy(out[:, : self.info_codes], asked)
        loss = cross_entropy
        if continuous is not None and self.info_continuous:
            loss = loss + 0.5 * (out[:, self.info_codes :] - continuous).pow(2).sum(1).mean()
        bound = math.log(self.info_codes) - cross_entropy.item()
        return loss, {"info_loss": loss.item(), "mi_lower_bound": bound}

    # --- the two steps ------------------------------------------------------------------

    def discriminator(self, real_x: torch.Tensor, real_y: torch.Tensor | None) -> dict[str, float]:
        """One reward-model update: the real batch against as many fakes (a conditional
        variant's asked for the real batch's classes), plus the auxiliary head's loss."""
        with torch.no_grad():
            z, asked, continuous = self.latents(len(real_x), real_y)
            fake_x = self.generator(z, asked)
        real, fake = self._d_input(real_x, real_y), self._d_input(fake_x, real_y)
        if self.name not in ("acgan", "infogan"):
            return self.reward_model.update(real, fake)
        assert isinstance(self.reward_model, RewardModel)
        extra: dict[str, float] = {}

        def auxiliary() -> torch.Tensor:
            loss, metrics = self._auxiliary_loss(fake_x, asked, continuous)
            if self.name == "acgan":  # the reals' classes are known: learn them too
                assert real_y is not None
                head = self.reward_model.discriminator
                assert isinstance(head, AuxiliaryDiscriminator)
                loss = loss + F.cross_entropy(head.auxiliary(real_x), real_y)
            extra.update(metrics)
            return self.aux_weight * loss

        metrics = self.reward_model.update(real, fake, auxiliary=auxiliary)
        return metrics | {f"d_{k}": v for k, v in extra.items() if k != "mi_lower_bound"}

    def generator_step(
        self, n: int, labels: torch.Tensor | None, real_x: torch.Tensor | None = None
    ) -> dict[str, float]:
        """One Adam step on the generator's loss for ``n`` fakes through D as it is now (a
        relativistic loss pairs them with ``real_x``); its metrics, ``g_loss`` first."""
        z, asked, continuous = self.latents(n, labels)
        fake_x = self.generator(z, asked)
        real = None if real_x is None else self._d_input(real_x, labels)
        loss = self.reward_model.generator_loss(self._d_input(fake_x, labels), real)
        metrics = {"g_loss": loss.item()}
        if self.name in ("acgan", "infogan"):
            aux, extra = self._auxiliary_loss(fake_x, asked, continuous)
            loss = loss + self.aux_weight * aux
            metrics |= extra
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optimizer.step()
        return metrics

    # --- persistence --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The networks, their optimisers and the latents' RNG, as checkpoints keep them."""
        return {
            "generator": self.generator.state_dict(),
            "generator_optimizer": self.g_optimizer.state_dict(),
            "reward_model": self.reward_model.state_dict(),
            "noise_rng": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.g_optimizer.load_state_dict(state["generator_optimizer"])
        self.reward_model.load_state_dict(state["reward_model"])
        self.noise.set_state(state["noise_rng"])


def build_image_gan(
    config: FamilyConfig,
    channels: int,
    image_size: int,
    n_classes: int,
    device: torch.device,
    noise: torch.Generator,
) -> ImageGAN:
    """The variant ``config.resolved_gan()`` names, for images of this shape, on ``device``."""
    name, betas, base = config.resolved_gan(), config.resolved_betas(), config.base_channels
    if name in CONDITIONAL and n_classes == 0:
        raise UserError(
            f"--gan {name} needs classes: put each class's images in its own subfolder of --data"
        )
    asked = n_classes if name in CONDITIONAL else config.info_codes if name == "infogan" else 0
    extra_latent = config.info_continuous if name == "infogan" else 0
    generator = Generator(config.latent_dim + extra_latent, channels, image_size, base, asked)
    model: BaseRewardModel
    if name in ENERGY_KINDS:
        # The loss-sensitive GAN's penalty is per sample: layer norm, as WGAN-GP's critic.
        module = (
            ImageAutoencoder(channels, image_size, base)
            if name != "lsgan_ls"
            else Discriminator(channels, image_size, base, 0, norm="layer")
        )
        model = EnergyModel(
            module.to(device), name, lr=config.lr, betas=betas, margin=config.ebgan_margin,
            pt_weight=config.ebgan_pt_weight, gamma=config.began_gamma,
            lambda_k=config.began_lambda_k, ls_weight=config.ls_weight,
            lipschitz=config.ls_lipschitz,
        )  # fmt: skip
    else:
        if name in ("acgan", "infogan"):
            outputs = n_classes if name == "acgan" else config.info_codes + config.info_continuous
            discriminator: Discriminator = AuxiliaryDiscriminator(
                channels, image_size, base, outputs
            )
        else:
            planes = n_classes if name == "cgan" else 0
            norm = "layer" if config.loss == "wgan_gp" else "batch"
            discriminator = Discriminator(channels, image_size, base, planes, norm)
        model = RewardModel(discriminator.to(device), config.loss, lr=config.lr, betas=betas)
    return ImageGAN(
        name=name,
        generator=generator.to(device),
        reward_model=model,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas),
        noise=noise,
        latent_dim=config.latent_dim,
        label_planes=n_classes if name == "cgan" else 0,
        device=device,
        aux_weight=config.aux_weight,
        info_codes=config.info_codes if name == "infogan" else 0,
        info_continuous=config.info_continuous if name == "infogan" else 0,
    )
