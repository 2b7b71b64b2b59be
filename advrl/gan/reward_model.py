"""A reward model: a discriminator, a GAN loss and an optimiser, behind one small API.

It is the same object whether the samples are token sequences (SeqGAN), state-action
vectors (GAIL) or images (a DCGAN): ``update(real, fake)`` takes one discriminator step and
returns its metrics, ``reward(x)`` scores samples for the generator / policy.

Scoring always runs in eval mode under ``no_grad`` (dropout off, batch-norm statistics
frozen) and then restores the previous mode: a discriminator left in training mode while
it scores rewards is a pitfall of public SeqGAN code (DESIGN.md).

Rewards (``reward=``), for the cross-entropy losses, where D = σ(logit) = P(real):

- ``"neg_log_one_minus_d"`` (the default): -log(1 - D) = softplus(logit), in [0, ∞).
  Positive, so an agent never gains by ending an episode early (the usual GAIL choice).
- ``"log_d"``: log D = -softplus(-logit), in (-∞, 0].
- ``"logit"``: log D - log(1 - D), the sum of the two above.
- ``"prob"``: D itself, SeqGAN's reward.

For WGAN, WGAN-GP, hinge and least squares only ``"raw"`` (the default) exists: the
critic's value (the least-squares score for least squares).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from advrl.core.errors import UserError, did_you_mean
from advrl.core.normalization import parallel_update
from advrl.gan.losses import GANLoss, clip_weights, get_loss, gradient_penalty

BCE_REWARDS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "neg_log_one_minus_d": F.softplus,
    "log_d": lambda logit: -F.softplus(-logit),
    "logit": lambda logit: logit,
    "prob": torch.sigmoid,
}
CRITIC_REWARDS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"raw": lambda out: out}


class RunningNorm:
    """Running per-feature mean and variance of inputs (Chan et al.'s parallel update).

    The statistics are created from the first batch's feature shape; ``normalize`` maps
    inputs to (x - mean) / sqrt(var + eps), clipped to ±``clip``.
    """

    def __init__(self, eps: float = 1e-8, clip: float = 10.0) -> None:
        self.eps, self.clip = eps, clip
        self.mean: torch.Tensor | None = None
        self.var: torch.Tensor | None = None
        self.count: float = 0

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double()
        batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        if self.mean is None or self.var is None:
            self.mean, self.var, self.count = batch_mean, batch_var, n
            return
        self.mean, self.var, self.count = parallel_update(
            self.mean, self.var, self.count, batch_mean, batch_var, n
        )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is None or self.var is None:
            return x
        mean, var = self.mean.to(x), self.var.to(x)
        return ((x - mean) / torch.sqrt(var + self.eps)).clamp(-self.clip, self.clip)

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]


class BaseRewardModel:
    """What every learned reward shares: a discriminator module and its optimiser, optional
    running statistics of float inputs, scoring in eval mode without gradients, and a state
    that resumes it.

    ``RewardModel`` trains its discriminator with a GAN loss; ``advrl.gan.energy.EnergyModel``
    with an energy (EBGAN, BEGAN, the loss-sensitive GAN). Each says how it trains
    (``update``, ``generator_loss``) and how its raw outputs read as scores, higher = more
    real (``_score``), and picks ``reward_mode`` from its own reward readings.
    """

    def __init__(
        self,
        discriminator: nn.Module,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        normalize_inputs: bool = False,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
    ) -> None:
        self.discriminator = discriminator
        self.normalizer = RunningNorm() if normalize_inputs else None
        params = list(discriminator.parameters())
        self.optimizer = (
            optimizer(params)
            if optimizer is not None
            else torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
        )
        self.updates = 0
        self.reward_mode = "raw"
        self._to_reward: Callable[[torch.Tensor], torch.Tensor] = CRITIC_REWARDS["raw"]

    @property
    def device(self) -> torch.device:
        param = next(self.discriminator.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    def _pick_reward(
        self, reward: str, modes: dict[str, Callable[[torch.Tensor], torch.Tensor]], what: str
    ) -> None:
        """Set ``reward_mode`` to ``reward`` (``default``: the first of ``modes``)."""
        mode = next(iter(modes)) if reward == "default" else reward
        if mode not in modes:
            raise UserError(
                f"reward {reward!r} does not exist for {what}{did_you_mean(reward, modes)}; "
                f"choose one of default, {', '.join(modes)}"
            )
        self.reward_mode, self._to_reward = mode, modes[mode]

    def _observe(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both batches on the model's device, the input statistics updated with them."""
        real, fake = real.to(self.device), fake.to(self.device)
        if self.normalizer is not None:
            self._check_float(real, "normalize_inputs")
            self.normalizer.update(torch.cat([real, fake]))
        return real, fake

    def _step(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss``."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.updates += 1

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """One optimiser step of the discriminator on a real and a fake batch; its metrics."""
        raise NotImplementedError

    def generator_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's side on ``fake``, differentiable w.r.t. ``fake``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as a deep copy."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- scoring ------------------------------------------------------------------------

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (B,) in eval mode, higher = more real: logits, critic values, least-squares
        scores, or minus an energy."""
        with self._eval_mode():
            return self._score(x.to(self.device))

    def reward(self, x: torch.Tensor) -> torch.Tensor:
        """The reward (B,) of each sample, read as ``reward_mode`` (eval mode, no grad)."""
        return self._to_reward(self.scores(x))

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)

    @property
    def pairs_with_reals(self) -> bool:
        """Whether ``generator_loss`` needs the paired real batch (a relativistic loss)."""
        return False

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalizer is not None:
            x = self.normalizer.normalize(x)
        return self._per_sample(self.discriminator(x))

    @staticmethod
    def _per_sample(out: torch.Tensor) -> torch.Tensor:
        """A module's outputs as one number per sample (B,), from (B,) or (B, 1)."""
        if out.ndim == 2 and out.shape[1] == 1:
            out = out.squeeze(1)
        if out.ndim != 1:
            raise ValueError(
                f"the discriminator must return one output per sample, (B,) or (B, 1); "
                f"got shape {tuple(out.shape)}"
            )
        return out

    @contextmanager
    def _eval_mode(self):
        was_training = self.discriminator.training
        if not was_training:  # already there: no walk over the modules (per-step rewards)
            yield
            return
        self.discriminator.eval()
        try:
            yield
        finally:
            self.discriminator.train(was_training)

    @staticmethod
    def _check_float(x: torch.Tensor, what: str) -> None:
        if not x.is_floating_point():
            raise UserError(f"{what} standardises float inputs; got {x.dtype} (token ids?)")

    # --- persistence --------------------------------------------------------------------

    def _base_state(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "normalizer": None if self.normalizer is None else self.normalizer.state_dict(),
        }

    def _load_base_state(self, state: dict[str, Any]) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        # A copy again, so that one snapshot loaded twice does not tie two optimisers.
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        if (state["normalizer"] is None) != (self.normalizer is None):
            raise UserError(
                "normalize_inputs differs between the saved reward model and this one; build "
                f"it with normalize_inputs={state['normalizer'] is not None}"
            )
        if self.normalizer is not None:
            self.normalizer.load_state_dict(state["normalizer"])
        self.updates = state["updates"]


class RewardModel(BaseRewardModel):
    """A discriminator trained with a GAN loss, read as a reward.

    Args:
        discriminator: any module mapping a batch (B, ...) to raw outputs (B,) or (B, 1):
            logits for ``minimax`` / ``non_saturating``, unbounded values otherwise.
        loss: a name in ``advrl.gan.losses.GAN_LOSSES``.
        lr, betas, weight_decay: Adam's; the defaults are SeqGAN's discriminator (TF Adam,
            lr 1e-4). DCGAN-style image GANs use betas (0.5, 0.999), WGAN-GP (0.0, 0.9).
        reward: how ``reward`` reads the outputs; see the module docstring.
        normalize_inputs: standardise float inputs with running statistics of every batch
            ``update`` sees (real and fake); frozen while scoring.
        gradient_penalty: WGAN-GP's λ; None takes the loss's own (10 for ``wgan_gp``).
        clip: WGAN's weight-clipping bound; None takes the loss's own (0.01 for ``wgan``).
        optimizer: a factory ``params -> torch.optim.Optimizer`` that replaces Adam (e.g.
            RMSprop at 5e-5, the original WGAN's choice).
        label_smoothing: one-sided label smoothing ε for the cross-entropy losses: real
            targets 1 - ε, fake targets 0 (Salimans et al. 2016). It bounds how confident D
            gets about its reals, one remedy for a discriminator that memorises them.
    """

    def __init__(
        self,
        discriminator: nn.Module,
        loss: str = "non_saturating",
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        reward: str = "default",
        normalize_inputs: bool = False,
        gradient_penalty: float | None = None,
        clip: float | None = None,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(discriminator, lr, betas, weight_decay, normalize_inputs, optimizer)
        self.loss: GANLoss = get_loss(loss)
        if label_smoothing and not self.loss.is_bce:
            raise UserError(
                f"label_smoothing needs a cross-entropy loss (minimax or non_saturating), "
                f"not {loss}"
            )
        if not 0.0 <= label_smoothing < 0.5:
            raise UserError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
        self.label_smoothing = label_smoothing
        modes = BCE_REWARDS if self.loss.is_bce else CRITIC_REWARDS
        self._pick_reward(reward, modes, f"the {loss} loss")
        self.gp_weight = (
            self.loss.gradient_penalty if gradient_penalty is None else gradient_penalty
        )
        self.clip = self.loss.clip if clip is None else clip

    # --- training -----------------------------------------------------------------------

    def update(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        auxiliary: Callable[[], torch.Tensor] | None = None,
    ) -> dict[str, float]:
        """One optimiser step of the discriminator on a real and a fake batch.

        ``auxiliary()``, when given, is an extra loss of the discriminator's other heads
        (AC-GAN's class loss, InfoGAN's code loss), computed in the same training mode and
        added to this step's.

        Returns ``loss`` (including any penalty and auxiliary loss), ``real_score`` /
        ``fake_score`` (mean raw outputs) and ``score_gap`` (their difference: for WGAN,
        the critic's estimate of the Wasserstein-1 distance), and where meaningful
        ``real_prob`` / ``fake_prob`` (BCE losses), ``real_acc`` / ``fake_acc`` /
        ``accuracy`` (the fraction classified correctly; not for WGAN and WGAN-GP, whose
        critic has no threshold), ``gradient_penalty`` and ``auxiliary_loss``. Scores and
        accuracies come from this step's own training-mode forward pass (dropout on),
        before the step.
        """
        real, fake = self._observe(real, fake)
        self.discriminator.train()
        real_out, fake_out = self._forward(real), self._forward(fake)
        loss = self.loss.discriminator(real_out, fake_out)
        if self.label_smoothing:
            # BCE with target 1 - ε: softplus(-x) + ε * (softplus(x) - softplus(-x)), and
            # softplus(x) - softplus(-x) = x.
            loss = loss + self.label_smoothing * real_out.mean()
        metrics: dict[str, float] = {}
        if self.gp_weight > 0:
            n = min(len(real), len(fake))
            penalty = self._penalty(real[:n], fake[:n])
            loss = loss + penalty
            metrics["gradient_penalty"] = penalty.item()
        if auxiliary is not None:
            extra = auxiliary()
            loss = loss + extra
            metrics["auxiliary_loss"] = extra.item()
        self._step(loss)
        if self.clip is not None:
            clip_weights(self.discriminator, self.clip)
        return {
            "loss": loss.item(),
            **metrics,
            **self._summary(real_out.detach(), fake_out.detach()),
        }

    def _summary(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> dict[str, float]:
        metrics = {"real_score": real_out.mean().item(), "fake_score": fake_out.mean().item()}
        metrics["score_gap"] = metrics["real_score"] - metrics["fake_score"]
        if self.loss.relativistic:
            # A relativistic D judges pairs: P(the real is more real than its fake) = σ(r - f).
            won = (real_out > fake_out).float().mean().item()
            prob = torch.sigmoid(real_out - fake_out).mean().item()
            return metrics | {"real_prob": prob, "fake_prob": 1.0 - prob, "real_acc": won,
                              "fake_acc": won, "accuracy": won}  # fmt: skip
        if self.loss.is_bce:
            metrics["real_prob"] = torch.sigmoid(real_out).mean().item()
            metrics["fake_prob"] = torch.sigmoid(fake_out).mean().item()
        if self.loss.threshold is not None:
            real_acc = (real_out > self.loss.threshold).float().mean().item()
            fake_acc = (fake_out <= self.loss.threshold).float().mean().item()
            metrics |= {"real_acc": real_acc, "fake_acc": fake_acc}
            metrics["accuracy"] = (real_acc * len(real_out) + fake_acc * len(fake_out)) / (
                len(real_out) + len(fake_out)
            )
        return metrics

    @property
    def pairs_with_reals(self) -> bool:
        return self.loss.relativistic

    def generator_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """The generator side of the loss on ``fake``, differentiable w.r.t. ``fake``.

        For generators trained through the discriminator (image GANs, RelGAN's Gumbel-softmax
        generator). A relativistic loss pairs ``fake`` with ``real``, a batch of the same size,
        which it needs. The discriminator's mode is left as it is; its parameters collect
        gradients that ``update`` clears.
        """
        fake_out = self._forward(fake.to(self.device))
        if not self.loss.relativistic:
            return self.loss.generator(fake_out)
        if real is None:
            raise ValueError(f"the {self.loss.name} loss pairs fakes with reals: pass real")
        with torch.no_grad():
            real_out = self._forward(real.to(self.device))
        return self.loss.generator(fake_out, real_out)

    # --- scoring ------------------------------------------------------------------------

    def prob_real(self, x: torch.Tensor) -> torch.Tensor:
        """D(x) = P(real | x) (B,), for the cross-entropy losses only."""
        if not self.loss.is_bce:
            raise UserError(
                f"prob_real needs a cross-entropy loss (minimax or non_saturating); the "
                f"{self.loss.name} discriminator's output is not a probability, use reward()"
            )
        return torch.sigmoid(self.scores(x))

    # --- internals ----------------------------------------------------------------------

    def _penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP's penalty on the discriminator's gradient with respect to its inputs, at
        points between two batches of the same size."""
        real_gp, fake_gp = self._interpolable(real), self._interpolable(fake)
        return gradient_penalty(self._forward, real_gp, fake_gp, weight=self.gp_weight)

    def _interpolable(self, x: torch.Tensor) -> torch.Tensor:
        """Float inputs as they are; token ids as one-hot (B, ..., V) for the penalty."""
        if x.is_floating_point():
            return x
        vocab = getattr(self.discriminator, "vocab_size", None)
        if vocab is None:
            raise UserError(
                f"the {self.loss.name} gradient penalty interpolates inputs, so token ids must "
                "become one-hot vectors: the discriminator needs a vocab_size attribute and "
                "must accept (B, T, V) float input (advrl.gan.SequenceCNN does)"
            )
        return F.one_hot(x.long(), vocab).float()

    # --- persistence --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimiser state, input statistics.

        A deep copy, unlike ``nn.Module.state_dict``: a snapshot kept in memory would
        otherwise share Adam's moment tensors with the live optimiser (and with any model
        it is loaded into), and drift as either trains.
        """
        return copy.deepcopy(
            {"loss": self.loss.name, "reward": self.reward_mode, **self._base_state()}
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output into a model built with the same loss."""
        if state["loss"] != self.loss.name:
            raise UserError(
                f"this reward model was saved with the {state['loss']} loss but is being "
                f"loaded into one built with {self.loss.name}; build it with "
                f"loss={state['loss']!r}"
            )
        self._load_base_state(state)
