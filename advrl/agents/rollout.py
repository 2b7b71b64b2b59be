"""On-policy rollouts shared by REINFORCE and PPO: collection, storage and advantages.

Episode ends follow Gymnasium's two signals. A *terminated* episode has no future value. A
*truncated* one (a time limit) still has one, so its last reward gets ``gamma * V(final_obs)``
added (SB3's treatment); after that both count as an episode end for the backward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from advrl.agents.kl_anchor import KLAnchor
from advrl.agents.networks import ActorCritic, make_adam, obs_to_tensor
from advrl.core.errors import UserError
from advrl.core.vec import finished_episodes


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    episode_ends: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over a (T, N) rollout.

    ``episode_ends[t]`` is 1 where the episode ended after step t, so no value flows back
    across it. ``last_values`` is V of the observation after the rollout (N,). With
    ``gae_lambda = 1`` the advantages are Monte Carlo reward-to-go minus the baseline.
    Returns (advantages, returns), both (T, N), with returns = advantages + values.
    """
    n_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros_like(last_values)
    for t in reversed(range(n_steps)):
        next_values = last_values if t == n_steps - 1 else values[t + 1]
        not_end = 1.0 - episode_ends[t]
        delta = rewards[t] + gamma * next_values * not_end - values[t]
        last_gae = delta + gamma * gae_lambda * not_end * last_gae
        advantages[t] = last_gae
    return advantages, advantages + values


class RolloutBuffer:
    """Fixed-size (n_steps, num_envs) storage for one on-policy rollout."""

    def __init__(
        self,
        n_steps: int,
        num_envs: int,
        observation_space: gym.Space,
        action_space: gym.Space,
        device: torch.device,
    ) -> None:
        self.n_steps, self.num_envs, self.device = n_steps, num_envs, device
        obs_dtype = (
            torch.long
            if isinstance(observation_space, gym.spaces.Discrete)
            or np.issubdtype(observation_space.dtype, np.signedinteger)
            else (torch.uint8 if observation_space.dtype == np.uint8 else torch.float32)
        )
        shape = (n_steps, num_envs)
        self.obs = torch.zeros(shape + observation_space.shape, dtype=obs_dtype, device=device)
        action_dtype = (
            torch.long if isinstance(action_space, gym.spaces.Discrete) else torch.float32
        )
        self.actions = torch.zeros(shape + action_space.shape, dtype=action_dtype, device=device)
        self.logprobs = torch.zeros(shape, device=device)
        self.log_ratios = torch.zeros(shape, device=device)
        """log pi(a | s) - log p_ref(a | s) with a KL anchor (else zeros)."""
        self.rewards = torch.zeros(shape, device=device)
        self.episode_ends = torch.zeros(shape, device=device)
        self.values = torch.zeros(shape, device=device)


def collect_rollout(
    envs: gym.vector.VectorEnv,
    policy: ActorCritic,
    buffer: RolloutBuffer,
    obs: np.ndarray,
    gamma: float,
    on_step: Callable[[int, list[tuple[int, float, int]]], None],
    anchor: KLAnchor | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """Run ``policy`` for ``buffer.n_steps`` vector steps, filling ``buffer``.

    ``on_step(steps_taken, finished_episodes)`` reports progress after each vector step.
    With an ``anchor``, each action's log ratio against its reference is stored too.
    Returns the next observation and its value, V(s_T), for the backward pass.
    """
    device = buffer.device
    for t in range(buffer.n_steps):
        obs_t = obs_to_tensor(obs, device)
        with torch.no_grad():
            dist, value = policy(obs_t)
            action = dist.sample()
            buffer.logprobs[t] = dist.log_prob(action)
            buffer.values[t] = value
            if anchor is not None:
                buffer.log_ratios[t] = buffer.logprobs[t] - anchor.log_probs(obs_t, action)
        next_obs, reward, terminated, truncated, infos = envs.step(policy.env_action(action))
        reward = bootstrap_truncated(reward, terminated, truncated, infos, policy, gamma, device)
        buffer.obs[t] = obs_t
        buffer.actions[t] = action
        buffer.rewards[t] = torch.from_numpy(np.asarray(reward, dtype=np.float32))
        buffer.episode_ends[t] = torch.from_numpy(terminated | truncated)
        on_step(envs.num_envs, finished_episodes(infos))
        obs = next_obs
    with torch.no_grad():
        last_values = policy.value(obs_to_tensor(obs, device))
    return obs, last_values


def bootstrap_truncated(
    reward: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    infos: dict[str, Any],
    policy: ActorCritic,
    gamma: float,
    device: torch.device,
) -> np.ndarray:
    """Add ``gamma * V(final_obs)`` to the reward of episodes cut by a time limit."""
    cut = np.flatnonzero(truncated & ~terminated)
    if cut.size == 0:
        return reward
    final_obs = np.stack([infos["final_obs"][i] for i in cut])
    with torch.no_grad():
        final_values = policy.value(obs_to_tensor(final_obs, device)).cpu().numpy()
    reward = reward.astype(np.float64, copy=True)
    reward[cut] += gamma * final_values
    return reward


class OnPolicyAgent:
    """What REINFORCE and PPO share: an ActorCritic, its Adam optimiser, acting, state.

    Subclasses set ``name``, ``Config`` and ``action_spaces`` and write ``learn``; the
    config must have ``lr``, ``hidden_sizes`` and may have ``log_std_init`` and
    ``shared_network``.
    """

    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any,
        device: torch.device,
    ) -> None:
        self.config, self.device = config, device
        self.policy = ActorCritic(
            observation_space,
            action_space,
            config.hidden_sizes,
            getattr(config, "log_std_init", 0.0),
            getattr(config, "shared_network", False),
            getattr(config, "token_lstm", (32, 32)),
        ).to(device)
        # eps 1e-5 as in SB3 and CleanRL: steadier steps when gradients are tiny.
        self.optimizer = make_adam(self.policy.parameters(), lr=config.lr, eps=1e-5)
        self.global_step = 0
        self.kl_anchor: KLAnchor | None = None
        """The KL penalty's reference (``kl_coef`` > 0); see ``advrl.agents.kl_anchor``."""

    def anchor_to(self, reference: torch.nn.Module | None = None) -> None:
        """Penalise KL(pi || reference) by ``kl_coef`` from now on; ``reference`` maps
        observations to next-action logits, by default a frozen copy of the policy now."""
        if self.policy.log_std is not None:
            raise UserError("kl_coef needs a discrete action space (a categorical policy)")
        reference = self.policy.logits_module() if reference is None else reference
        self.kl_anchor = KLAnchor(reference, self.config.kl_coef, self.config.kl_target)

    def kl_penalty(self, buffer: RolloutBuffer) -> tuple[torch.Tensor, dict[str, float]]:
        """The KL anchor's advantage (T, N) for this rollout (zeros without an anchor),
        its statistics, and beta adapted for the next rollout."""
        anchor = self.kl_anchor
        if anchor is None:
            return torch.zeros_like(buffer.rewards), {}
        penalty = anchor.penalty_to_go(buffer.log_ratios, buffer.episode_ends)
        stats = anchor.statistics(buffer.log_ratios, buffer.episode_ends)
        anchor.adapt(stats["kl/sequence"], buffer.log_ratios.numel())
        return penalty, stats

    def start_learning(self) -> None:
        """What every ``learn`` call does first: anchor to the current policy when
        ``kl_coef`` > 0 and no reference was set (a resumed run restored its own)."""
        if getattr(self.config, "kl_coef", 0.0) > 0 and self.kl_anchor is None:
            self.anchor_to()

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations, in the env's format."""
        action = self.policy.act(obs_to_tensor(obs, self.device), deterministic)
        return self.policy.env_action(action)

    def state_dict(self) -> dict:
        state = {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
        }
        if self.kl_anchor is not None:
            state["kl_anchor"] = self.kl_anchor.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step = int(state["global_step"])
        if "kl_anchor" in state:
            self.anchor_to()  # the architecture; its weights and beta come next
            self.kl_anchor.load_state_dict(state["kl_anchor"])
