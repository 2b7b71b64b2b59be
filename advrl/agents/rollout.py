"""The on-policy scaffold shared by REINFORCE and PPO: rollouts and the learning loop.

``collect_rollout`` fills a ``RolloutBuffer``, ``compute_gae`` turns it into advantages, and
``OnPolicyAgent.learn`` runs the loop around them (learning rate, logging, hooks, the KL
anchor), so that an algorithm writes only its ``update``: its loss, in its own file.

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
from torch import Tensor, nn

from advrl.agents.kl_anchor import KLAnchor
from advrl.agents.networks import ActorCritic, make_adam, obs_to_tensor
from advrl.core.errors import UserError
from advrl.core.hooks import LearnHooks
from advrl.core.logger import RunLogger
from advrl.core.normalization import ReturnScaler
from advrl.core.schedules import annealed_lr
from advrl.core.vec import check_same_step_autoreset, finished_episodes


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
    # A loop of 512 small steps: numpy's per-call cost is a fifth of torch's, and float32
    # arithmetic is the same in both, so the numbers are the same bit for bit.
    rewards_np, values_np = _host(rewards), _host(values)
    ends_np, last_np = _host(episode_ends), _host(last_values)
    n_steps = rewards_np.shape[0]
    advantages = np.zeros_like(rewards_np)
    last_gae = np.zeros_like(last_np)
    for t in reversed(range(n_steps)):
        next_values = last_np if t == n_steps - 1 else values_np[t + 1]
        not_end = 1.0 - ends_np[t]
        delta = rewards_np[t] + gamma * next_values * not_end - values_np[t]
        last_gae = delta + gamma * gae_lambda * not_end * last_gae
        advantages[t] = last_gae
    advantages_t = torch.from_numpy(advantages).to(rewards.device)
    return advantages_t, advantages_t + values


def _host(tensor: torch.Tensor) -> np.ndarray:
    """A tensor as a numpy array (a view on CPU)."""
    return tensor.detach().cpu().numpy()


class RolloutBuffer:
    """Fixed-size (n_steps, num_envs) storage for one on-policy rollout.

    What the env returns (observations, rewards, episode ends) is written step by step to
    numpy arrays on the host, ``host_*``: a numpy row write costs a tenth of a torch one,
    which matters at one env step per policy call. On CPU the tensors share their memory;
    elsewhere ``upload`` copies them to the device once per rollout.
    """

    def __init__(
        self,
        n_steps: int,
        num_envs: int,
        observation_space: gym.Space,
        action_space: gym.Space,
        device: torch.device | str,
    ) -> None:
        self.n_steps, self.num_envs, self.device = n_steps, num_envs, torch.device(device)
        obs_dtype = (
            np.int64
            if isinstance(observation_space, gym.spaces.Discrete)
            or np.issubdtype(observation_space.dtype, np.signedinteger)
            else (np.uint8 if observation_space.dtype == np.uint8 else np.float32)
        )
        obs_shape, action_shape = observation_space.shape, action_space.shape
        if obs_shape is None or action_shape is None:
            raise ValueError(
                f"a rollout needs spaces with a shape, got {observation_space} and {action_space}"
            )
        shape = (n_steps, num_envs)
        self.host_obs = np.zeros(shape + obs_shape, dtype=obs_dtype)
        self.host_rewards = np.zeros(shape, dtype=np.float32)
        self.host_episode_ends = np.zeros(shape, dtype=np.float32)
        self.obs = torch.from_numpy(self.host_obs).to(device)
        self.rewards = torch.from_numpy(self.host_rewards).to(device)
        self.episode_ends = torch.from_numpy(self.host_episode_ends).to(device)
        action_dtype = (
            torch.long if isinstance(action_space, gym.spaces.Discrete) else torch.float32
        )
        self.actions = torch.zeros(shape + action_shape, dtype=action_dtype, device=device)
        self.logprobs = torch.zeros(shape, device=device)
        self.log_ratios = torch.zeros(shape, device=device)
        """log pi(a | s) - log p_ref(a | s) with a KL anchor (else zeros)."""
        self.values = torch.zeros(shape, device=device)

    def obs_tensor(self, t: int) -> torch.Tensor:
        """Step t's observations (written to ``host_obs[t]``) as the policy reads them."""
        return torch.from_numpy(self.host_obs[t]).to(self.device)

    def upload(self) -> None:
        """Copy the host arrays to the device tensors (nothing to do on CPU: they share)."""
        if self.device.type != "cpu":
            self.obs.copy_(torch.from_numpy(self.host_obs))
            self.rewards.copy_(torch.from_numpy(self.host_rewards))
            self.episode_ends.copy_(torch.from_numpy(self.host_episode_ends))


def collect_rollout(
    envs: gym.vector.VectorEnv,
    policy: ActorCritic,
    buffer: RolloutBuffer,
    obs: np.ndarray,
    gamma: float,
    on_step: Callable[[int, list[tuple[int, float, int]]], None],
    anchor: KLAnchor | None = None,
    reward_scaler: ReturnScaler | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """Run ``policy`` for ``buffer.n_steps`` vector steps, filling ``buffer``.

    ``on_step(steps_taken, finished_episodes)`` reports progress after each vector step.
    With an ``anchor``, each action's log ratio against its reference is stored too; with a
    ``reward_scaler``, rewards are stored scaled (before a truncated episode's bootstrap
    value is added, as SB3 does). Returns the next observation and its value, V(s_T), for
    the backward pass.
    """
    device = buffer.device
    # The policy's outputs are kept in lists and stacked once: cheaper than a row write each.
    actions, logprobs, values, log_ratios = [], [], [], []
    for t in range(buffer.n_steps):
        buffer.host_obs[t] = obs
        obs_t = buffer.obs_tensor(t)
        with torch.no_grad():
            dist, value = policy(obs_t)
            action = dist.sample()
            logprob = dist.log_prob(action)
            if anchor is not None:
                log_ratios.append(logprob - anchor.log_probs(obs_t, action))
        actions.append(action)
        logprobs.append(logprob)
        values.append(value)
        next_obs, reward, terminated, truncated, infos = envs.step(policy.env_action(action))
        if reward_scaler is not None:
            reward = reward_scaler(reward, terminated | truncated)
        reward = bootstrap_truncated(reward, terminated, truncated, infos, policy, gamma, device)
        buffer.host_rewards[t] = reward
        buffer.host_episode_ends[t] = terminated | truncated
        on_step(envs.num_envs, finished_episodes(infos))
        obs = next_obs
    buffer.upload()
    torch.stack(actions, out=buffer.actions)
    torch.stack(logprobs, out=buffer.logprobs)
    torch.stack(values, out=buffer.values)
    if anchor is not None:
        torch.stack(log_ratios, out=buffer.log_ratios)
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
    """What REINFORCE and PPO share: an ActorCritic, its Adam optimiser, the learning loop,
    acting and state.

    A subclass sets ``name``, ``Config`` and ``action_spaces`` and writes ``update``; the
    loop in ``learn`` is the same for all. The config must have ``lr``, ``gamma``,
    ``n_steps``, ``max_grad_norm`` and ``hidden_sizes``, and may have ``gae_lambda``
    (default 1: advantages are the reward-to-go minus V), ``anneal_lr`` (default off),
    ``kl_coef`` and ``kl_target`` (default no KL anchor), ``log_std_init``,
    ``shared_network``, ``token_lstm``, ``activation``, ``ortho_init``, and
    ``normalize_obs`` and ``normalize_reward`` (default off; ``advrl.core.normalization``).

    Observation statistics live in the policy (``policy.obs_norm``) and move between
    rollouts, never within one, so each update starts with probability ratios of exactly 1;
    the return scaler's state is part of ``state_dict``. Both travel with checkpoints.
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
            getattr(config, "activation", "tanh"),
            getattr(config, "ortho_init", True),
            getattr(config, "normalize_obs", False),
        ).to(device)
        self.reward_scaler = (
            ReturnScaler(config.gamma) if getattr(config, "normalize_reward", False) else None
        )
        # eps 1e-5 as in SB3 and CleanRL: steadier steps when gradients are tiny.
        self.optimizer = make_adam(self.policy.parameters(), lr=config.lr, eps=1e-5)
        self.global_step = 0
        self.kl_anchor: KLAnchor | None = None
        """The KL penalty's reference (``kl_coef`` > 0); see ``advrl.agents.kl_anchor``."""

    def learn(
        self,
        envs: gym.vector.VectorEnv,
        total_steps: int,
        logger: RunLogger,
        seed: int | None = None,
        hooks: LearnHooks | None = None,
    ) -> None:
        """Train until ``global_step`` reaches ``total_steps`` or ``hooks`` ask to stop.

        Each iteration anneals the learning rate (with ``anneal_lr``), collects ``n_steps``
        from every env, computes GAE, lets ``update`` learn from the rollout, logs its
        metrics with the learning rate and the KL anchor's statistics, and calls
        ``hooks.after_update``.
        """
        hooks = hooks or LearnHooks()
        cfg = self.config
        buffer = RolloutBuffer(
            cfg.n_steps,
            envs.num_envs,
            envs.single_observation_space,
            envs.single_action_space,
            self.device,
        )
        check_same_step_autoreset(envs)
        self.start_learning()
        obs, _ = envs.reset(seed=seed)
        while self.global_step < total_steps and not hooks.stop_requested:
            if getattr(cfg, "anneal_lr", False):
                lr = annealed_lr(cfg.lr, self.global_step, total_steps)
                self.optimizer.param_groups[0]["lr"] = lr

            obs, last_values = collect_rollout(
                envs,
                self.policy,
                buffer,
                obs,
                cfg.gamma,
                logger.on_step,
                self.kl_anchor,
                self.reward_scaler,
            )
            self.global_step += cfg.n_steps * envs.num_envs
            advantages, returns = compute_gae(
                buffer.rewards,
                buffer.values,
                buffer.episode_ends,
                last_values,
                cfg.gamma,
                getattr(cfg, "gae_lambda", 1.0),
            )
            kl_advantages, kl_stats = self.kl_penalty(buffer)
            metrics = self.update(buffer, advantages, returns, kl_advantages)
            if self.policy.obs_norm is not None:  # for the next rollout
                self.policy.obs_norm.update(buffer.obs.flatten(0, 1))
            logger.on_update(
                {
                    **metrics,
                    "charts/learning_rate": self.optimizer.param_groups[0]["lr"],
                    **kl_stats,
                }
            )
            hooks.after_update(self.global_step)

    def update(
        self, buffer: RolloutBuffer, advantages: Tensor, returns: Tensor, kl_advantages: Tensor
    ) -> dict[str, float]:
        """Learn from one filled rollout; the metrics to log (``losses/...``).

        ``advantages`` and ``returns`` are GAE's (T, N); ``kl_advantages`` (T, N) is the KL
        anchor's advantage (zeros without one), for the policy's term only: the critic keeps
        learning the env's return alone.
        """
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    def gradient_step(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss``, the global gradient norm clipped to ``max_grad_norm``."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm, foreach=True)
        self.optimizer.step()

    def anchor_to(self, reference: torch.nn.Module | None = None) -> KLAnchor:
        """Penalise KL(pi || reference) by ``kl_coef`` from now on; ``reference`` maps
        observations to next-action logits, by default a frozen copy of the policy now.
        Returns the new ``kl_anchor``."""
        if self.policy.log_std is not None:
            raise UserError("kl_coef needs a discrete action space (a categorical policy)")
        reference = self.policy.logits_module() if reference is None else reference
        self.kl_anchor = KLAnchor(reference, self.config.kl_coef, self.config.kl_target)
        return self.kl_anchor

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

    @torch.no_grad()
    def log_prob(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """log pi(a | s) of each (observation, action) row under the current policy, for
        plug-ins whose reward reads it (AIRL's discriminator)."""
        dist = self.policy.distribution(obs_to_tensor(obs, self.device))
        action = torch.as_tensor(np.asarray(actions), device=self.device)
        if action.is_floating_point():
            action = action.float()
        return dist.log_prob(action).cpu().numpy()

    def state_dict(self) -> dict:
        state = {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
        }
        if self.kl_anchor is not None:
            state["kl_anchor"] = self.kl_anchor.state_dict()
        if self.reward_scaler is not None:
            state["reward_scaler"] = self.reward_scaler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        if "optimizer" in state:  # evaluation copies of checkpoints leave it out
            self.optimizer.load_state_dict(state["optimizer"])
        self.global_step = int(state["global_step"])
        if self.reward_scaler is not None and "reward_scaler" in state:
            self.reward_scaler.load_state_dict(state["reward_scaler"])
        if "kl_anchor" in state:
            # The architecture first; its weights and beta come from the state.
            self.anchor_to().load_state_dict(state["kl_anchor"])
