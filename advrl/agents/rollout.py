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

from advrl.agents.networks import ActorCritic, make_adam, obs_to_tensor
from advrl.vec import finished_episodes


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
) -> tuple[np.ndarray, torch.Tensor]:
    """Run ``policy`` for ``buffer.n_steps`` vector steps, filling ``buffer``.

    ``on_step(steps_taken, finished_episodes)`` reports progress after each vector step.
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

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations, in the env's format."""
        action = self.policy.act(obs_to_tensor(obs, self.device), deterministic)
        return self.policy.env_action(action)

    def state_dict(self) -> dict:
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
        }

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step = int(state["global_step"])
