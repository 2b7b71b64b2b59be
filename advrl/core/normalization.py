"""Running statistics for normalising observations and scaling rewards.

What SB3's ``VecNormalize`` and CleanRL's continuous PPO do, kept inside the agent instead of
in an env wrapper, so that the statistics travel with the weights: a checkpoint evaluates,
records demonstrations and resumes with the statistics it was trained with (losing them
is a classic pitfall of wrapper-held statistics).

- ``parallel_update``: Chan et al.'s merge of a batch's mean and variance into running ones,
  the one implementation every running statistic here uses.
- ``ObservationNormalizer``: an ``nn.Module`` mapping x to clip((x - mean) / std, ±10), its
  statistics kept as buffers (so ``state_dict`` holds them).
- ``ReturnScaler``: rewards divided by the running standard deviation of each env's
  discounted return, clipped to ±10 (SB3's ``norm_reward``).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

EPSILON = 1e-8
"""Added to the variance before its square root (SB3's default)."""
CLIP = 10.0
"""Normalised observations and scaled rewards are clipped to ±CLIP (SB3's default)."""
PRIOR_COUNT = 1e-4
"""Statistics start as mean 0, variance 1 with this weight (SB3's ``RunningMeanStd``), so
the first batch all but replaces them and nothing divides by zero before it."""


Stat = TypeVar("Stat", torch.Tensor, np.ndarray, float)


def parallel_update(
    mean: Stat, var: Stat, count: float, batch_mean: Stat, batch_var: Stat, batch_count: int
) -> tuple[Stat, Stat, float]:
    """Merge a batch's mean and (population) variance into running ones (Chan et al. 1979),
    as tensors, arrays or floats. Returns the new (mean, var, count)."""
    total = count + batch_count
    delta = batch_mean - mean
    new_mean = mean + delta * batch_count / total
    m2 = var * count + batch_var * batch_count + delta * delta * count * batch_count / total
    return new_mean, m2 / total, total


class ObservationNormalizer(nn.Module):
    """clip((x - mean) / sqrt(var + 1e-8), ±10) per feature, with running statistics.

    The statistics are float64 buffers, so they are saved and loaded with the module that
    holds it; they change only through ``update``, never in ``forward``. Before the first
    update it is the identity (then clipped).
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor
    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, shape: tuple[int, ...], clip: float = CLIP) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(PRIOR_COUNT, dtype=torch.float64))
        # What forward uses, in float32, recomputed whenever the statistics change.
        self.register_buffer("shift", torch.zeros(shape), persistent=False)
        self.register_buffer("scale", torch.ones(shape), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, keys: module.refresh())
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute forward's float32 shift and scale from the statistics."""
        self.shift.copy_(self.mean)
        self.scale.copy_(torch.sqrt(self.var + EPSILON))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Add a batch of observations (B, *shape) to the statistics."""
        x = x.detach().to(self.mean.device, torch.float64).reshape(-1, *self.mean.shape)
        mean, var, count = parallel_update(
            self.mean,
            self.var,
            float(self.count),
            x.mean(0),
            x.var(0, unbiased=False),
            x.shape[0],
        )
        self.mean.copy_(mean)
        self.var.copy_(var)
        self.count.fill_(count)
        self.refresh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.shift) / self.scale).clamp(-self.clip, self.clip)


class ReturnScaler:
    """Scale rewards by the running standard deviation of the discounted return.

    Each env keeps its discounted return G <- gamma * G + r (reset at episode ends); the
    statistics of G are updated every step and rewards are divided by sqrt(Var[G] + 1e-8),
    then clipped to ±10, as SB3's ``VecNormalize(norm_reward=True)``. The mean is not
    subtracted, so a reward's sign survives. Values, advantages and GAE see the scaled
    rewards; episode returns in the logs stay the env's own.
    """

    def __init__(self, gamma: float, clip: float = CLIP) -> None:
        self.gamma, self.clip = gamma, clip
        self.mean, self.var, self.count = 0.0, 1.0, PRIOR_COUNT
        self.returns: np.ndarray | None = None

    def __call__(self, rewards: np.ndarray, episode_ends: np.ndarray) -> np.ndarray:
        """The scaled rewards of one vector step; ``episode_ends`` resets each env's G after."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.returns is None or self.returns.shape != rewards.shape:
            self.returns = np.zeros_like(rewards)
        self.returns = self.returns * self.gamma + rewards
        # np.mean and np.var's own arithmetic, without their Python wrappers: this runs
        # every env step.
        size = self.returns.size
        batch_mean = float(np.add.reduce(self.returns, axis=None)) / size
        deviation = self.returns - batch_mean
        batch_var = float(np.add.reduce(deviation * deviation, axis=None)) / size
        self.mean, self.var, self.count = parallel_update(
            self.mean, self.var, self.count, batch_mean, batch_var, size
        )
        self.returns[np.asarray(episode_ends, dtype=bool)] = 0.0
        scaled = rewards / math.sqrt(self.var + EPSILON)
        return np.minimum(np.maximum(scaled, -self.clip), self.clip)  # np.clip, faster

    def state_dict(self) -> dict[str, Any]:
        returns = None if self.returns is None else torch.from_numpy(self.returns.copy())
        return {"mean": self.mean, "var": self.var, "count": self.count, "returns": returns}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.var = float(state["mean"]), float(state["var"])
        self.count = float(state["count"])
        returns = state.get("returns")
        self.returns = None if returns is None else returns.numpy().astype(np.float64)
