"""REINFORCE: the score-function policy gradient with reward-to-go and a learned baseline.

Williams (1992); the batch form with a state-value baseline follows Spinning Up's "vanilla
policy gradient". Each update collects ``n_steps`` from every env, computes the discounted
reward-to-go G_t of each step within its episode (bootstrapped with V where the batch or a
time limit cuts an episode), and takes one gradient step on

    loss = -mean(log pi(a_t|s_t) * (G_t - V(s_t))) + value_coef * mean((V(s_t) - G_t)^2)
           - entropy_coef * mean(entropy).

``baseline=False`` drops V(s_t) from the policy term (the plain estimator SeqGAN uses).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from advrl.agents.kl_anchor import kl_problems
from advrl.agents.rollout import OnPolicyAgent, RolloutBuffer


@dataclass
class ReinforceConfig:
    """Hyperparameters of REINFORCE (with a learned baseline by default)."""

    lr: float = 1e-3
    """Adam learning rate for the policy and the value baseline."""
    gamma: float = 0.99
    """Discount factor of the reward-to-go."""
    n_steps: int = 256
    """Env steps collected from each env before every update."""
    value_coef: float = 0.5
    """Weight of the baseline's squared error in the loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus (exploration)."""
    baseline: bool = True
    """Subtract the learned value V(s_t) from the return G_t. False is the plain estimator
    (SeqGAN's generator update: rewards in [0, 1] weight the log-likelihood of the agent's
    own samples, which also sharpens the policy)."""
    normalize_advantage: bool = True
    """Standardise the advantages over the batch (lower-variance steps)."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this value."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the policy and value MLPs (empty: linear heads)."""
    token_lstm: tuple[int, int] = (32, 32)
    """(Embedding, hidden) width of the token LSTM over SeqGAN-v0 prefixes (SeqGAN: 32, 32)."""
    kl_coef: float = 0.0
    """beta of a KL penalty against a frozen reference policy (by default the policy when
    learning starts: SeqGAN-v0's MLE generator); 0 turns it off (advrl.agents.kl_anchor)."""
    kl_target: float | None = None
    """Adapt beta after every rollout towards this KL per episode (TRL's controller)."""

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.gamma <= 1:
            problems.append(f"gamma must be in [0, 1], got {self.gamma}")
        if self.n_steps < 1:
            problems.append(f"n_steps must be >= 1, got {self.n_steps}")
        if self.value_coef < 0 or self.entropy_coef < 0:
            problems.append("value_coef and entropy_coef must be >= 0")
        if self.max_grad_norm <= 0:
            problems.append(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if any(width < 1 for width in self.hidden_sizes):
            problems.append(f"hidden_sizes must be positive widths, got {self.hidden_sizes}")
        if len(self.token_lstm) != 2 or min(self.token_lstm) < 1:
            problems.append(f"token_lstm must be two positive widths, got {self.token_lstm}")
        problems += kl_problems(self.kl_coef, self.kl_target)
        return problems


class Reinforce(OnPolicyAgent):
    """REINFORCE with a state-value baseline, on a Gymnasium vector env; ``learn`` is
    ``OnPolicyAgent``'s loop (rollout, advantages, logging, hooks)."""

    name = "reinforce"
    Config = ReinforceConfig

    def update(
        self, buffer: RolloutBuffer, advantages: Tensor, returns: Tensor, kl_advantages: Tensor
    ) -> dict[str, float]:
        """One gradient step on the score-function loss and the baseline's squared error."""
        cfg = self.config
        obs_b = buffer.obs.flatten(0, 1)
        actions_b = buffer.actions.flatten(0, 1)
        # The config has no gae_lambda, so GAE's lambda is 1: ``returns`` are the discounted
        # reward-to-go G_t and ``advantages`` G_t - V(s_t).
        advantages_b, returns_b = advantages.flatten(), returns.flatten()
        if not cfg.baseline:
            advantages_b = returns_b
        advantages_b = advantages_b + kl_advantages.flatten()  # the KL anchor's, if any
        if cfg.normalize_advantage and advantages_b.numel() > 1:
            advantages_b = (advantages_b - advantages_b.mean()) / (advantages_b.std() + 1e-8)

        dist, values = self.policy(obs_b)
        policy_loss = -(dist.log_prob(actions_b) * advantages_b).mean()
        value_loss = (values - returns_b).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy

        self.gradient_step(loss)
        return {
            "losses/policy_loss": policy_loss.item(),
            "losses/value_loss": value_loss.item(),
            "losses/entropy": entropy.item(),
        }
