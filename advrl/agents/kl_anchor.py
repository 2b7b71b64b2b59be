"""A KL anchor for the policy-gradient agents: RLHF's penalty against a frozen reference.

The objective is E_pi[R] - beta * KL(pi || p_ref), with p_ref a frozen copy of a policy (by
default the agent's own policy when learning starts: on SeqGAN-v0, the MLE generator). Over
an episode, KL(pi || p_ref) = E_pi[sum_t log pi(a_t | s_t) - log p_ref(a_t | s_t)], so the
summed per-step log ratio of the agent's own actions is an unbiased estimate of it (Ziegler
et al. 2019; Stiennon et al. 2020). Its policy gradient is that of a reward
-beta * log ratio at every step, undiscounted: each step's action is weighted by the log
ratios still to come in its episode (``penalty_to_go``), added to the advantage of the
env's reward whatever discount the env's reward uses (SeqGAN-v0's rollout reward uses 0),
so the critic keeps learning the env's return alone.

With ``kl_target``, beta follows TRL's adaptive controller (after Ziegler et al.): after
each rollout beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * steps / 10,000.

Why this on SeqGAN-v0: a discriminator trained to optimum between real data and samples of
p_ref has logit D(x) = log p_data(x) - log p_ref(x), and E_pi[r] - beta * KL(pi || p_ref)
is maximised by pi ∝ p_ref * exp(r / beta); with r = logit D and beta = 1, that is p_data.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

ADAPTIVE_HORIZON = 10_000
"""Env steps over which the adaptive controller may change beta by at most 20% (TRL's)."""


def kl_problems(kl_coef: float, kl_target: float | None) -> list[str]:
    """What is wrong with an agent config's ``kl_coef`` and ``kl_target``, if anything."""
    problems = []
    if kl_coef < 0:
        problems.append(f"kl_coef must be >= 0, got {kl_coef}")
    if kl_target is not None and (kl_target <= 0 or kl_coef == 0):
        problems.append("kl_target must be > 0 and needs kl_coef > 0 (its starting value)")
    return problems


class KLAnchor:
    """The frozen reference policy, beta, and the penalty's advantages and statistics."""

    def __init__(self, reference: nn.Module, coef: float, target: float | None = None) -> None:
        self.reference = copy.deepcopy(reference).eval().requires_grad_(False)
        """Observations -> next-action logits, frozen."""
        self.coef, self.target = coef, target

    @torch.no_grad()
    def log_probs(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log p_ref(a | s) (B,) of discrete ``actions``."""
        logits = self.reference(obs)
        return F.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def penalty_to_go(self, log_ratios: torch.Tensor, episode_ends: torch.Tensor) -> torch.Tensor:
        """-beta times the sum of the log ratios from each step to its episode's end (T, N).

        A rollout that ends mid-episode counts the ratios up to its last step (SeqGAN-v0's
        rollouts are whole sequences, so nothing is cut there).
        """
        to_go = torch.zeros_like(log_ratios)
        running = torch.zeros_like(log_ratios[0])
        for t in reversed(range(len(log_ratios))):
            running = log_ratios[t] + running * (1.0 - episode_ends[t])
            to_go[t] = running
        return -self.coef * to_go

    def statistics(self, log_ratios: torch.Tensor, episode_ends: torch.Tensor) -> dict[str, float]:
        """The rollout's KL per episode (summed log ratios over the episodes it ended; per
        env if none ended), per step, and beta."""
        episodes = float(episode_ends.sum()) or float(log_ratios.shape[1])
        return {
            "kl/sequence": float(log_ratios.sum()) / episodes,
            "kl/per_step": float(log_ratios.mean()),
            "kl/coef": self.coef,
        }

    def adapt(self, kl: float, steps: int) -> None:
        """TRL's adaptive update of beta towards ``target`` (no-op without one)."""
        if self.target is None:
            return
        error = min(max(kl / self.target - 1.0, -0.2), 0.2)
        self.coef *= 1.0 + error * steps / ADAPTIVE_HORIZON

    def state_dict(self) -> dict[str, Any]:
        return {"reference": self.reference.state_dict(), "coef": self.coef}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reference.load_state_dict(state["reference"])
        self.coef = float(state["coef"])
