"""GAN losses, each with a discriminator side and a generator side.

Every function takes the discriminator's raw outputs, shape (B,): logits for the two
binary cross-entropy losses, unbounded scores (critic values) for the others. Each returns
a scalar to minimise; batch terms are means, so real and fake batches may differ in size.
Writing ``r = D(x_real)``, ``f = D(G(z))``, ``σ`` for the logistic sigmoid and
``softplus(a) = log(1 + e^a)`` (so ``-log σ(a) = softplus(-a)`` and
``-log(1 - σ(a)) = softplus(a)``, computed stably):

| name | discriminator loss | generator loss |
|---|---|---|
| ``minimax`` | E softplus(-r) + E softplus(f) | -E softplus(f) = E log(1 - σ(f)) |
| ``non_saturating`` | same | E softplus(-f) = -E log σ(f) |
| ``wgan`` | E f - E r, weights clipped to ±0.01 | -E f |
| ``wgan_gp`` | E f - E r + λ E (‖∇D(x̂)‖ - 1)², λ = 10 | -E f |
| ``least_squares`` | ½E (r - 1)² + ½E f² | ½E (f - 1)² |
| ``hinge`` | E relu(1 - r) + E relu(1 + f) | -E f |
| ``rsgan`` | E softplus(-(r - f)) | E softplus(-(f - r)) |

Sources: minimax and non-saturating, Goodfellow et al. 2014 (§3); WGAN, Arjovsky et al.
2017; WGAN-GP, Gulrajani et al. 2017; least squares, Mao et al. 2017 with the 0-1 coding
(a = 0, b = c = 1); hinge, Lim & Ye 2017 and Miyato et al. 2018 (SN-GAN); the relativistic
standard GAN, Jolicoeur-Martineau 2019, RelGAN's loss (Nie et al. 2019).

The relativistic loss pairs the i-th real with the i-th fake: D estimates the probability
that a real sample is more realistic than a fake one, σ(r - f), so both batches have one
size and the generator's side needs the real outputs too (``GANLoss.relativistic``).

The minimax generator loss saturates when D confidently rejects fakes (its gradient
vanishes as σ(f) -> 0), which is why the non-saturating form is the usual default.
``GAN_LOSSES`` maps each name to a ``GANLoss`` that also says how its outputs read (logit,
critic value or least-squares score) and what regularisation its discriminator needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from advrl.core.errors import UserError, did_you_mean

# --- discriminator and generator sides ------------------------------------------------


def minimax_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-E log D(x) - E log(1 - D(G(z))), with D = σ(logit): binary cross-entropy."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g(fake: torch.Tensor) -> torch.Tensor:
    """E log(1 - D(G(z))): the generator minimises the discriminator's log-loss on fakes."""
    return -F.softplus(fake).mean()


def non_saturating_g(fake: torch.Tensor) -> torch.Tensor:
    """-E log D(G(z)): strong gradients exactly when D rejects the fakes."""
    return F.softplus(-fake).mean()


def wgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E D(G(z)) - E D(x): minus the critic's estimate of the Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def wgan_g(fake: torch.Tensor) -> torch.Tensor:
    """-E D(G(z)) (shared by WGAN, WGAN-GP and hinge)."""
    return -fake.mean()


def least_squares_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """½E (D(x) - 1)² + ½E D(G(z))²: regress real to 1 and fake to 0."""
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def least_squares_g(fake: torch.Tensor) -> torch.Tensor:
    """½E (D(G(z)) - 1)²: push fakes towards the real target."""
    return 0.5 * (fake - 1).pow(2).mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E relu(1 - D(x)) + E relu(1 + D(G(z))): a margin of 1 on each side."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def relativistic_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-E log σ(D(x) - D(G(z))), paired: the real should look more real than its fake."""
    _check_paired(real, fake)
    return F.softplus(-(real - fake)).mean()


def relativistic_g(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """-E log σ(D(G(z)) - D(x)), paired: the generator's side of the same game."""
    _check_paired(real, fake)
    return F.softplus(-(fake - real)).mean()


def _check_paired(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape != fake.shape:
        raise ValueError(
            f"a relativistic loss pairs each real with one fake; got {tuple(real.shape)} real "
            f"and {tuple(fake.shape)} fake outputs"
        )


# --- regularisers -----------------------------------------------------------------------


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's penalty: ``weight * E (‖∇_x̂ D(x̂)‖₂ - 1)²`` (Gulrajani et al. 2017, Alg. 1).

    x̂ = ε x_real + (1 - ε) x_fake with one ε ~ U[0, 1] per sample, on straight lines
    between the two batches (which must have the same shape and be floating point: for
    tokens, interpolate one-hot encodings). The norm is over all non-batch dimensions. The
    graph is kept (``create_graph``) so the penalty trains the critic.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"the gradient penalty pairs real and fake samples; got shapes "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if not real.is_floating_point():
        raise ValueError("the gradient penalty interpolates inputs, which must be floating point")
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return weight * (norm - 1).pow(2).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, clip: float = 0.01) -> None:
    """WGAN's weight clipping: every parameter into [-clip, clip], after each critic step."""
    for param in module.parameters():
        param.clamp_(-clip, clip)


# --- the registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class GANLoss:
    """One GAN loss: its two sides, how its outputs read, and the critic's regulariser."""

    name: str
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    """(real outputs (B,), fake outputs (B,)) -> scalar loss of the discriminator."""
    generator: Callable[..., torch.Tensor]
    """fake outputs (B,) -> scalar loss of the generator; (fake, real) when relativistic."""
    output: str
    """"logit" (D = σ(output)), "critic" (unbounded, higher = more real) or "score"
    (least squares: 1 = real, 0 = fake)."""
    threshold: float | None
    """Outputs above it are classified real; None where no threshold means anything (a
    Wasserstein critic's values are only defined up to a constant)."""
    gradient_penalty: float = 0.0
    """λ of WGAN-GP's gradient penalty; 0 for none."""
    clip: float | None = None
    """WGAN's weight-clipping bound; None for none."""
    relativistic: bool = False
    """The generator's side reads the paired real outputs as well: ``generator(fake, real)``."""

    @property
    def is_bce(self) -> bool:
        """True for the cross-entropy losses, whose outputs are logits of P(real)."""
        return self.output == "logit"


GAN_LOSSES: dict[str, GANLoss] = {
    loss.name: loss
    for loss in (
        GANLoss("minimax", minimax_d, minimax_g, "logit", threshold=0.0),
        GANLoss("non_saturating", minimax_d, non_saturating_g, "logit", threshold=0.0),
        GANLoss("wgan", wgan_d, wgan_g, "critic", threshold=None, clip=0.01),
        GANLoss("wgan_gp", wgan_d, wgan_g, "critic", threshold=None, gradient_penalty=10.0),
        GANLoss("least_squares", least_squares_d, least_squares_g, "score", threshold=0.5),
        GANLoss("hinge", hinge_d, wgan_g, "critic", threshold=0.0),
        GANLoss(
            "rsgan", relativistic_d, relativistic_g, "critic", threshold=None, relativistic=True
        ),
    )
}


def get_loss(name: str) -> GANLoss:
    """The ``GANLoss`` called ``name``; an unknown name is a ``UserError`` listing them all."""
    try:
        return GAN_LOSSES[name]
    except KeyError:
        raise UserError(
            f"unknown GAN loss {name!r}{did_you_mean(name, GAN_LOSSES)}; "
            f"choose one of {', '.join(GAN_LOSSES)}"
        ) from None
