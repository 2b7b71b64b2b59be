"""Energy-based discriminators as learned rewards: EBGAN, BEGAN and the loss-sensitive GAN.

Each gives a sample an energy E(x) >= 0, low for real data, and trains it with its own
objective instead of a classifier's loss. The score is -E(x), so that higher is more real as
for every reward model. The default reward is exp(-E(x)), in (0, 1]. It is positive,
like GAIL's -log(1 - D), so an agent never gains by ending an episode early. ``raw`` reads
-E(x).

| kind | D is | E(x) | D loss | G loss |
|---|---|---|---|---|
| ``ebgan`` | autoencoder | mean (Dec(Enc(x)) - x)² | E(x) + relu(m - E(G(z))) | E(G(z)) + λ_PT PT |
| ``began`` | autoencoder | mean abs(Dec(Enc(x)) - x) | E(x) - k_t E(G(z)) | E(G(z)) |
| ``lsgan_ls`` | any network | softplus(out(x)) | E(x) + λ relu(Δ + E(x) - E(G(z))) + κR | E(G(z)) |

- **EBGAN** (Zhao, Mathieu & LeCun 2017): fakes are pushed up to the margin m and no further.
  The pulling-away term PT = mean over i ≠ j of cos²(S_i, S_j), over the encoder's codes S
  of the fake batch, keeps the generator from collapsing onto one low-energy point
  (λ_PT = 0.1, the paper's).
- **BEGAN** (Berthelot, Schumm & Metz 2017) matches the distribution of the autoencoder's
  losses rather than the data's. The equilibrium variable k_t starts at 0 and follows
  k_{t+1} = clip(k_t + λ_k (γ E(x) - E(G(z))), 0, 1), with γ = 0.5 and λ_k = 0.001. The
  convergence measure M_global = E(x) + abs(γ E(x) - E(G(z))) falls as training converges.
- **Loss-sensitive GAN** (Qi 2017): a learned loss that must be smaller on a real sample
  than on a fake one by a margin Δ(x, G(z)), the mean absolute distance between the paired
  samples (λ = 1). The loss is kept non-negative by a softplus, without which E(x) could
  fall without bound. Qi's analysis needs it Lipschitz; the penalty κ E‖∇_x E(x)‖² on the
  real batch (κ = 1) regularises that.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from advrl.core.errors import UserError, did_you_mean
from advrl.core.modules import mlp
from advrl.gan.reward_model import BaseRewardModel

ENERGY_KINDS = ("ebgan", "began", "lsgan_ls")
ENERGY_REWARDS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "exp": torch.exp,  # exp(-E) from the score -E
    "raw": lambda score: score,
}
"""How the score -E(x) reads as a reward; the first is the default."""


class VectorAutoencoder(nn.Module):
    """An MLP autoencoder of feature vectors (B, D): the energy discriminator of GAIL."""

    def __init__(self, features: int, hidden_sizes: tuple[int, ...], code_dim: int = 16) -> None:
        super().__init__()
        self.encoder = mlp(features, hidden_sizes, code_dim)
        self.decoder = mlp(code_dim, tuple(reversed(hidden_sizes)), features)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def pulling_away(codes: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term: the mean squared cosine similarity of distinct rows of
    ``codes`` (N, h); 0 for orthogonal codes, 1 for identical directions."""
    n = len(codes)
    if n < 2:
        return codes.new_zeros(())
    unit = F.normalize(codes.flatten(1), dim=1)
    similarity = unit @ unit.T  # (N, N), ones on the diagonal
    return (similarity.pow(2).sum() - n) / (n * (n - 1))


class EnergyModel(BaseRewardModel):
    """An energy-based discriminator (``kind``: ebgan, began or lsgan_ls) behind the learned
    reward API: ``update(real, fake)``, ``generator_loss(fake)``, ``scores`` and ``reward``.

    Args:
        discriminator: for ebgan and began an autoencoder with ``encode`` and ``decode``;
            for lsgan_ls any module mapping a batch to one output per sample.
        kind: one of ``ENERGY_KINDS``.
        lr, betas, weight_decay, normalize_inputs, optimizer: as ``RewardModel``'s.
        reward: exp (the default) or raw.
        margin: EBGAN's m (energies are per-element means, so about 1 for data in [-1, 1]).
        pt_weight: EBGAN's λ_PT.
        gamma, lambda_k: BEGAN's diversity ratio γ and the learning rate of k_t.
        ls_weight, lipschitz: the loss-sensitive GAN's λ and κ.
    """

    def __init__(
        self,
        discriminator: nn.Module,
        kind: str,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        reward: str = "default",
        normalize_inputs: bool = False,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        margin: float = 1.0,
        pt_weight: float = 0.1,
        gamma: float = 0.5,
        lambda_k: float = 0.001,
        ls_weight: float = 1.0,
        lipschitz: float = 1.0,
    ) -> None:
        if kind not in ENERGY_KINDS:
            raise UserError(
                f"unknown energy discriminator {kind!r}{did_you_mean(kind, ENERGY_KINDS)}; "
                f"choose one of {', '.join(ENERGY_KINDS)}"
            )
        if kind != "lsgan_ls" and not all(
            callable(getattr(discriminator, name, None)) for name in ("encode", "decode")
        ):
            raise UserError(
                f"the {kind} discriminator is an autoencoder: it needs encode and decode"
            )
        super().__init__(discriminator, lr, betas, weight_decay, normalize_inputs, optimizer)
        self.kind = kind
        self._pick_reward(reward, ENERGY_REWARDS, f"the {kind} discriminator")
        self.margin, self.pt_weight = margin, pt_weight
        self.gamma, self.lambda_k = gamma, lambda_k
        self.ls_weight, self.lipschitz = ls_weight, lipschitz
        self.k = 0.0
        """BEGAN's equilibrium variable k_t, in [0, 1]."""

    def energy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """E(x) (B,) with gradients, and for an autoencoder the codes (B, h) too."""
        if self.normalizer is not None:
            x = self.normalizer.normalize(x)
        if self.kind == "lsgan_ls":
            return F.softplus(self._per_sample(self.discriminator(x))), None
        autoencoder: Any = self.discriminator  # checked for encode and decode when built
        code = autoencoder.encode(x)
        error = autoencoder.decode(code) - x
        per_element = error.pow(2) if self.kind == "ebgan" else error.abs()
        return per_element.flatten(1).mean(1), code

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The energy model's raw output is minus its energy (higher = more real)."""
        return -self.energy(x)[0]

    # --- training -----------------------------------------------------------------------

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """One optimiser step of the discriminator on a real and a fake batch (the same size
        for lsgan_ls, whose margin pairs them). Returns ``loss``, ``real_energy``,
        ``fake_energy``, ``real_score`` / ``fake_score`` / ``score_gap`` (minus the
        energies), ``accuracy`` (the share of reals below the mean fake energy and of fakes
        above the mean real one), and BEGAN's ``k`` and ``m_global``."""
        real, fake = self._observe(real, fake)
        self.discriminator.train()
        if self.kind == "lsgan_ls" and self.lipschitz > 0:
            real = real.detach().requires_grad_(True)
        e_real, e_fake = self.energy(real)[0], self.energy(fake)[0]
        metrics: dict[str, float] = {}
        if self.kind == "ebgan":
            loss = e_real.mean() + F.relu(self.margin - e_fake).mean()
        elif self.kind == "began":
            loss = e_real.mean() - self.k * e_fake.mean()
        else:
            if real.shape != fake.shape:
                raise ValueError(
                    f"the loss-sensitive margin pairs each real with one fake; got "
                    f"{tuple(real.shape)} and {tuple(fake.shape)}"
                )
            delta = (real - fake).abs().flatten(1).mean(1)  # Δ(x, G(z)), paired
            loss = e_real.mean() + self.ls_weight * F.relu(delta + e_real - e_fake).mean()
            if self.lipschitz > 0:
                (grad,) = torch.autograd.grad(e_real.sum(), real, create_graph=True)
                penalty = grad.flatten(1).pow(2).sum(1).mean()
                loss = loss + self.lipschitz * penalty
                metrics["lipschitz_penalty"] = penalty.item()
        self._step(loss)
        e_real, e_fake = e_real.detach(), e_fake.detach()
        if self.kind == "began":
            balance = self.gamma * e_real.mean().item() - e_fake.mean().item()
            self.k = min(max(self.k + self.lambda_k * balance, 0.0), 1.0)
            metrics |= {"k": self.k, "m_global": e_real.mean().item() + abs(balance)}
        real_acc = (e_real < e_fake.mean()).float().mean().item()
        fake_acc = (e_fake > e_real.mean()).float().mean().item()
        return {
            "loss": loss.item(),
            "real_energy": e_real.mean().item(),
            "fake_energy": e_fake.mean().item(),
            "real_score": -e_real.mean().item(),
            "fake_score": -e_fake.mean().item(),
            "score_gap": (e_fake.mean() - e_real.mean()).item(),
            "real_acc": real_acc,
            "fake_acc": fake_acc,
            "accuracy": (real_acc + fake_acc) / 2,
            **metrics,
        }

    def generator_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """E(G(z)), plus EBGAN's pulling-away term; differentiable w.r.t. ``fake``."""
        energy, codes = self.energy(fake.to(self.device))
        loss = energy.mean()
        if self.kind == "ebgan" and self.pt_weight > 0 and codes is not None:
            loss = loss + self.pt_weight * pulling_away(codes)
        return loss

    # --- persistence --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimiser, input statistics and BEGAN's k_t, as a deep copy."""
        state = {"kind": self.kind, "reward": self.reward_mode, "k": self.k}
        return copy.deepcopy(state | self._base_state())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise UserError(
                f"this discriminator was saved as {state.get('kind')!r} but is being loaded "
                f"into a {self.kind!r} one; build it with discriminator={state.get('kind')!r}"
            )
        self._load_base_state(state)
        self.k = state["k"]
