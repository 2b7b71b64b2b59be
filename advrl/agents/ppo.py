"""PPO with clipping (Schulman et al. 2017, https://arxiv.org/abs/1707.06347).

Each iteration collects ``n_steps`` from every env with the current policy, computes
generalised advantages (Schulman et al. 2016), then takes ``n_epochs`` passes of minibatch
gradient steps on

    loss = -mean(min(r * A, clip(r, 1 - eps, 1 + eps) * A))      r = pi(a|s) / pi_old(a|s)
           + value_coef * mean((V(s) - R)^2)                     (optionally clipped)
           - entropy_coef * mean(entropy)

with the learning rate annealed linearly to 0 and an optional early stop when the
approximate KL to the rollout policy passes ``target_kl``. Implementation details follow
CleanRL's ppo.py and "The 37 Implementation Details of PPO" (Huang et al. 2022); the value
loss is SB3's (no extra 1/2), so ``value_coef`` means the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from advrl.agents.kl_anchor import kl_problems
from advrl.agents.rollout import OnPolicyAgent, RolloutBuffer
from advrl.core.modules import ACTIVATIONS


@dataclass
class PPOConfig:
    """Hyperparameters of PPO; defaults are SB3's, presets in advrl/presets.py."""

    lr: float = 3e-4
    """Adam learning rate at the start of training."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over the run."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 is one-step TD, 1 is Monte Carlo."""
    n_steps: int = 2048
    """Env steps collected from each env per iteration."""
    batch_size: int = 64
    """Minibatch size; n_steps * num_envs should be a multiple of it."""
    n_epochs: int = 10
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """Clipping range of the probability ratio (epsilon in the paper)."""
    clip_value_loss: bool = False
    """Also clip the value update around the rollout's values (OpenAI baselines' form)."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    normalize_advantage: bool = True
    """Standardise advantages within each minibatch."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this value."""
    target_kl: float | None = None
    """Stop the epochs of an iteration early once the approximate KL exceeds this."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden widths of the actor and critic MLPs (over the CNN for images)."""
    shared_network: bool = False
    """One MLP torso for actor and critic instead of two separate MLPs."""
    token_lstm: tuple[int, int] = (32, 32)
    """(Embedding, hidden) width of the token LSTM over SeqGAN-v0 prefixes (SeqGAN: 32, 32)."""
    kl_coef: float = 0.0
    """beta of a KL penalty against a frozen reference policy (by default the policy when
    learning starts: SeqGAN-v0's MLE generator); 0 turns it off (advrl.agents.kl_anchor)."""
    kl_target: float | None = None
    """Adapt beta after every rollout towards this KL per episode (TRL's controller)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian policies (Box actions)."""
    activation: str = "tanh"
    """Hidden activation of the MLPs: tanh or relu."""
    ortho_init: bool = True
    """Orthogonal initialisation of the MLPs (False: torch's default, as SB3's
    ``ortho_init=False``)."""
    normalize_obs: bool = False
    """Standardise vector observations with running statistics kept in the policy (SB3's
    VecNormalize, inside the agent so checkpoints carry it)."""
    normalize_reward: bool = False
    """Divide rewards by the running standard deviation of the discounted return."""

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.gamma <= 1:
            problems.append(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0 <= self.gae_lambda <= 1:
            problems.append(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        for name in ("n_steps", "batch_size", "n_epochs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.clip_coef <= 0:
            problems.append(f"clip_coef must be > 0, got {self.clip_coef}")
        if self.value_coef < 0 or self.entropy_coef < 0:
            problems.append("value_coef and entropy_coef must be >= 0")
        if self.max_grad_norm <= 0:
            problems.append(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if self.target_kl is not None and self.target_kl <= 0:
            problems.append(f"target_kl must be > 0 or none, got {self.target_kl}")
        if any(width < 1 for width in self.hidden_sizes):
            problems.append(f"hidden_sizes must be positive widths, got {self.hidden_sizes}")
        if len(self.token_lstm) != 2 or min(self.token_lstm) < 1:
            problems.append(f"token_lstm must be two positive widths, got {self.token_lstm}")
        if self.activation not in ACTIVATIONS:
            problems.append(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        problems += kl_problems(self.kl_coef, self.kl_target)
        return problems


def clipped_policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, clip_coef: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate loss, with the fraction of clipped ratios and approx. KL.

    The KL estimate is (r - 1) - log r, unbiased and always >= 0 (Schulman's blog post
    "Approximating KL Divergence").
    """
    log_ratio = logprobs - old_logprobs
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip_coef, 1 + clip_coef)
    loss = torch.max(unclipped, clipped).mean()
    with torch.no_grad():
        clip_fraction = ((ratio - 1).abs() > clip_coef).float().mean()
        approx_kl = ((ratio - 1) - log_ratio).mean()
    return loss, clip_fraction, approx_kl


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip_coef: float | None
) -> torch.Tensor:
    """Squared error to the returns; clipped around the old values when ``clip_coef`` is set."""
    loss = (values - returns).pow(2)
    if clip_coef is not None:
        clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
        loss = torch.max(loss, (clipped - returns).pow(2))
    return loss.mean()


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - predicted) / Var(target): 1 is perfect, <= 0 is no better than a mean."""
    variance = target.var()
    return float("nan") if variance == 0 else float(1 - (target - predicted).var() / variance)


class PPO(OnPolicyAgent):
    """PPO with a clipped objective and GAE, on a Gymnasium vector env; ``learn`` is
    ``OnPolicyAgent``'s loop (rollout, GAE, annealed learning rate, logging, hooks)."""

    name = "ppo"
    Config = PPOConfig

    def update(
        self, buffer: RolloutBuffer, advantages: Tensor, returns: Tensor, kl_advantages: Tensor
    ) -> dict[str, float]:
        """``n_epochs`` passes of minibatch steps on the clipped surrogate, the value loss and
        the entropy bonus (fewer past ``target_kl``); their means over the steps."""
        cfg = self.config
        batch = buffer.n_steps * buffer.num_envs
        minibatch = min(cfg.batch_size, batch)
        # The KL anchor's advantage (if any) joins the policy's; the critic keeps learning
        # the env's return alone.
        b_values, b_returns = buffer.values.flatten(), returns.flatten()
        samples = (
            buffer.obs.flatten(0, 1),
            buffer.actions.flatten(0, 1),
            buffer.logprobs.flatten(),
            b_values,
            (advantages + kl_advantages).flatten(),
            b_returns,
        )
        stats = torch.zeros(5, device=self.device)  # policy, value, entropy, clipfrac, kl
        n_updates = 0
        for _ in range(cfg.n_epochs):
            # Shuffled once per epoch, so each minibatch is a slice rather than a gather.
            # One minibatch covering the batch needs no shuffle (SB3's CartPole preset).
            shuffled: tuple[Tensor, ...] = samples
            if minibatch < batch:
                order = torch.randperm(batch, device=self.device)
                shuffled = tuple(tensor[order] for tensor in samples)
            for start in range(0, batch, minibatch):
                obs, actions, old_logprobs, old_values, adv, rets = (
                    tensor[start : start + minibatch] for tensor in shuffled
                )
                dist, values = self.policy(obs)
                if cfg.normalize_advantage and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss, clip_fraction, approx_kl = clipped_policy_loss(
                    dist.log_prob(actions), old_logprobs, adv, cfg.clip_coef
                )
                v_loss = value_loss(
                    values, old_values, rets, cfg.clip_coef if cfg.clip_value_loss else None
                )
                entropy = dist.entropy().mean()
                loss = pg_loss + cfg.value_coef * v_loss - cfg.entropy_coef * entropy

                self.gradient_step(loss)
                stats += torch.stack([pg_loss, v_loss, entropy, clip_fraction, approx_kl]).detach()
                n_updates += 1
            if cfg.target_kl is not None and approx_kl.item() > cfg.target_kl:
                break

        policy_loss, v_loss_mean, entropy_mean, clipfrac, kl = (stats / n_updates).tolist()
        return {
            "losses/policy_loss": policy_loss,
            "losses/value_loss": v_loss_mean,
            "losses/entropy": entropy_mean,
            "losses/clipfrac": clipfrac,
            "losses/approx_kl": kl,
            "losses/explained_variance": explained_variance(b_values, b_returns),
        }
