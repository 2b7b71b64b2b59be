"""DQN, Double DQN and Dueling DQN: one implementation, two flags that compose.

- DQN (Mnih et al. 2015, https://www.nature.com/articles/nature14236): Q-learning with a
  neural network, experience replay, a target network, epsilon-greedy exploration with a
  linearly decaying epsilon, the Huber loss and gradient clipping.
- ``double`` (van Hasselt et al. 2016, https://arxiv.org/abs/1509.06461): the online
  network picks the next action and the target network scores it, which reduces the max
  operator's overestimation bias.
- ``dueling`` (Wang et al. 2016, https://arxiv.org/abs/1511.06581): the network ends in a
  state value and action advantages, Q(s,a) = V(s) + A(s,a) - mean_a A(s,a).

The TD target, for every variant:

    y = r + gamma * (1 - terminated) * Q_target(s', a'),
    a' = argmax_a Q_target(s', a)   (DQN)   or   argmax_a Q_online(s', a)   (Double DQN)

A time-limit truncation is not a termination: its transition keeps terminated = 0 and
bootstraps from the episode's real last observation (Gymnasium's ``final_obs``).

Counting follows SB3 and CleanRL: ``learning_starts``, ``train_freq`` and
``target_update_interval`` are env steps summed over all envs, so the number of gradient
steps per env step does not change with ``num_envs``. Defaults are SB3's DQN defaults (the
Nature paper's, with Adam); presets per env are in ``advrl/presets.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advrl.agents.networks import make_adam, make_encoder, obs_to_tensor
from advrl.agents.replay import FrameStackReplayBuffer, ReplayBuffer
from advrl.core.hooks import LearnHooks
from advrl.core.logger import RunLogger
from advrl.core.modules import is_image_space
from advrl.core.schedules import annealed_lr, crossed, linear_schedule
from advrl.core.vec import check_same_step_autoreset, finished_episodes

LOG_EVERY = 100
"""Gradient steps between two log lines and two ``hooks.after_update`` calls (the plug-ins'
chances to checkpoint)."""


@dataclass
class DQNConfig:
    """Hyperparameters of the DQN family; defaults are SB3's DQN defaults."""

    lr: float = 1e-4
    """Adam learning rate (at the start, with ``anneal_lr``)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over the run (steadier late training)."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions (all envs together)."""
    learning_starts: int = 100
    """Env steps collected before learning starts: with uniformly random actions in a new
    run; a resumed run refills its empty buffer this long with its epsilon-greedy policy."""
    batch_size: int = 32
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 1.0
    """Target network update: 1 copies the online network, < 1 is Polyak averaging."""
    target_update_interval: int = 10_000
    """Env steps between two target network updates."""
    train_freq: int = 4
    """Env steps between two training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    exploration_fraction: float = 0.1
    """Fraction of the run over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.05
    """Epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Clip the global gradient norm to this value."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden ReLU layers after the encoder (the Nature CNN for images; use () for Atari)."""
    double: bool = False
    """Double DQN: the online network selects the next action, the target one scores it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    frame_stack_buffer: bool = True
    """Store image stacks frame by frame (each frame once); false for images that are not
    rolling frame stacks."""

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if not 0 < self.gamma <= 1:
            problems.append(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0 < self.tau <= 1:
            problems.append(f"tau must be in (0, 1], got {self.tau}")
        for name in ("buffer_size", "batch_size", "target_update_interval", "train_freq"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_starts < 0 or self.gradient_steps < 0:
            problems.append("learning_starts and gradient_steps must be >= 0")
        if not 0 <= self.exploration_fraction <= 1:
            problems.append(
                f"exploration_fraction must be in [0, 1], got {self.exploration_fraction}"
            )
        for name in ("exploration_initial_eps", "exploration_final_eps"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.max_grad_norm <= 0:
            problems.append(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if self.hidden_sizes and min(self.hidden_sizes) < 1:
            problems.append(f"hidden_sizes must be positive widths, got {self.hidden_sizes}")
        return problems


def dueling_q(value: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """Q(s,a) = V(s) + A(s,a) - mean_a A(s,a); value (B, 1), advantages (B, A) -> (B, A).

    Subtracting the mean makes V and A identifiable (Wang et al. 2016, eq. 9).
    """
    return value + advantages - advantages.mean(dim=1, keepdim=True)


def td_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    next_q_target: torch.Tensor,
    gamma: float,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """r + gamma * (1 - terminated) * Q_target(s', a'), all (B,); next Q values are (B, A).

    Without ``next_q_online`` a' is the target network's own argmax (DQN); with it, the
    online network's argmax (Double DQN).
    """
    if next_q_online is None:
        next_q = next_q_target.max(dim=1).values
    else:
        next_actions = next_q_online.argmax(dim=1, keepdim=True)
        next_q = next_q_target.gather(1, next_actions).squeeze(1)
    return rewards + gamma * (1.0 - terminated) * next_q


class QNetwork(nn.Module):
    """Q(s, .) for every action: an encoder picked from the observation space, ReLU layers,
    and a plain or dueling output layer. Linear layers keep PyTorch's default init, as in
    SB3's and CleanRL's DQN (the Nature CNN has its orthogonal init).

    The dueling streams split at the output layer, so the variants differ by one linear
    unit; the paper gives each stream its own 512-unit layer after the convolutions.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        n_actions: int,
        hidden_sizes: Sequence[int],
        dueling: bool,
    ) -> None:
        super().__init__()
        encoder, width = make_encoder(observation_space)
        layers = [encoder]
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.torso = nn.Sequential(*layers)
        self.dueling = dueling
        if dueling:
            self.value = nn.Linear(width, 1)
            self.advantage = nn.Linear(width, n_actions)
        else:
            self.q = nn.Linear(width, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.torso(obs)
        if self.dueling:
            return dueling_q(self.value(features), self.advantage(features))
        return self.q(features)


class DQN:
    """DQN with optional Double and Dueling extensions, on a Gymnasium vector env.

    The replay buffer is not checkpointed (Atari's would be gigabytes): a resumed run
    refills a fresh one for ``learning_starts`` steps, acting with its trained network,
    before it trains again; epsilon and the learning rate continue from ``global_step``.
    ``self.buffer`` is the latest ``learn`` call's buffer.
    """

    name = "dqn"
    Config = DQNConfig
    action_spaces = (gym.spaces.Discrete,)

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DQNConfig,
        device: torch.device,
    ) -> None:
        if not isinstance(action_space, gym.spaces.Discrete):
            raise TypeError(f"{self.name} needs a Discrete action space, got {action_space}")
        self.config, self.device = config, device
        self.observation_space, self.action_space = observation_space, action_space
        self.n_actions = int(action_space.n)
        args = (observation_space, self.n_actions, config.hidden_sizes, config.dueling)
        self.q_net = QNetwork(*args).to(device)
        self.target_net = QNetwork(*args).to(device)
        self.target_net.load_state_dict(self.q_net.state_dict())
        self.target_net.requires_grad_(False)
        self.optimizer = make_adam(self.q_net.parameters(), config.lr)
        self.global_step = 0
        self.n_updates = 0
        self.buffer: ReplayBuffer | FrameStackReplayBuffer | None = None

    def epsilon(self, total_steps: int) -> float:
        """Exploration rate at ``global_step`` of a ``total_steps`` run."""
        cfg = self.config
        duration = cfg.exploration_fraction * total_steps
        return linear_schedule(
            cfg.exploration_initial_eps, cfg.exploration_final_eps, duration, self.global_step
        )

    def make_buffer(
        self, num_envs: int, rng: np.random.Generator
    ) -> ReplayBuffer | FrameStackReplayBuffer:
        """Frame sharing for stacked images (Atari), plain storage for everything else."""
        cfg = self.config
        if cfg.frame_stack_buffer and is_image_space(self.observation_space):
            return FrameStackReplayBuffer(
                cfg.buffer_size,
                self.observation_space,
                self.action_space,
                num_envs,
                self.device,
                rng,
            )
        return ReplayBuffer(cfg.buffer_size, self.observation_space, num_envs, self.device, rng)

    def learn(
        self,
        envs: gym.vector.VectorEnv,
        total_steps: int,
        logger: RunLogger,
        seed: int | None = None,
        hooks: LearnHooks | None = None,
    ) -> None:
        """Train until ``global_step`` reaches ``total_steps`` or ``hooks`` ask to stop."""
        hooks = hooks or LearnHooks()
        cfg = self.config
        num_envs = envs.num_envs
        rng = np.random.default_rng(seed)
        self.buffer = buffer = self.make_buffer(num_envs, rng)
        start_step = self.global_step
        check_same_step_autoreset(envs)
        obs, _ = envs.reset(seed=seed)
        while self.global_step < total_steps and not hooks.stop_requested:
            # Uniformly random actions until learning starts (the Nature paper's replay start,
            # as in SB3), then epsilon-greedy, each env tossing its own coin.
            epsilon = self.epsilon(total_steps)
            actions = rng.integers(self.n_actions, size=num_envs)
            explore = rng.random(num_envs) < epsilon
            if self.global_step >= cfg.learning_starts and not explore.all():
                with torch.no_grad():
                    q_values = self.q_net(obs_to_tensor(obs, self.device))
                actions = np.where(explore, actions, q_values.argmax(dim=1).cpu().numpy())

            next_obs, rewards, terminated, truncated, infos = envs.step(actions)
            # Same-step autoreset: where an episode ended, next_obs is already the next
            # episode's first observation; the transition needs the real last one.
            real_next_obs = next_obs
            if "_final_obs" in infos and infos["_final_obs"].any():
                real_next_obs = next_obs.copy()
                for i in np.flatnonzero(infos["_final_obs"]):
                    real_next_obs[i] = infos["final_obs"][i]
            buffer.add(obs, real_next_obs, actions, rewards, terminated, truncated)
            obs = next_obs
            previous_step = self.global_step
            self.global_step += num_envs
            logger.on_step(num_envs, finished_episodes(infos))

            if crossed(cfg.target_update_interval, previous_step, self.global_step):
                with torch.no_grad():  # tau = 1 copies exactly: lerp's weight-1 branch is end
                    for target, online in zip(
                        self.target_net.parameters(), self.q_net.parameters(), strict=True
                    ):
                        target.lerp_(online, cfg.tau)

            if self.global_step - start_step < cfg.learning_starts:
                continue
            phases = crossed(cfg.train_freq, previous_step, self.global_step)
            if cfg.anneal_lr and phases:
                lr = annealed_lr(cfg.lr, self.global_step, total_steps)
                self.optimizer.param_groups[0]["lr"] = lr
            for _ in range(phases * cfg.gradient_steps):
                data = buffer.sample(cfg.batch_size)
                with torch.no_grad():
                    next_q_target = self.target_net(data.next_observations)
                    next_q_online = self.q_net(data.next_observations) if cfg.double else None
                    target_q = td_target(
                        data.rewards, data.terminated, next_q_target, cfg.gamma, next_q_online
                    )
                q = self.q_net(data.observations).gather(1, data.actions[:, None]).squeeze(1)
                loss = F.smooth_l1_loss(q, target_q)  # the Huber loss

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.q_net.parameters(), cfg.max_grad_norm, foreach=True)
                self.optimizer.step()
                self.n_updates += 1
                if self.n_updates % LOG_EVERY == 0:
                    logger.on_update(
                        {
                            "losses/td_loss": loss.item(),
                            "losses/q_values": q.mean().item(),
                            "charts/epsilon": epsilon,
                            "charts/learning_rate": self.optimizer.param_groups[0]["lr"],
                        }
                    )
                    hooks.after_update(self.global_step)
                    if hooks.stop_requested:  # a plug-in's stop: now, not after the phase
                        break

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Greedy actions for a batch of observations; epsilon-greedy with the final epsilon
        when not ``deterministic``."""
        greedy = self.q_net(obs_to_tensor(obs, self.device)).argmax(dim=1).cpu().numpy()
        if deterministic:
            return greedy
        explore = np.random.random(len(greedy)) < self.config.exploration_final_eps
        return np.where(explore, np.random.randint(self.n_actions, size=len(greedy)), greedy)

    def state_dict(self) -> dict:
        return {
            "q_net": self.q_net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
            "n_updates": self.n_updates,
        }

    def load_state_dict(self, state: dict) -> None:
        self.q_net.load_state_dict(state["q_net"])
        self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step = int(state["global_step"])
        self.n_updates = int(state["n_updates"])


# The named variants: the same DQN with its flags on by default. Checkpoints store the name
# and reload through ``advrl.agents.get_algorithm(name)``; ``--algo dqn --hp double=true``
# trains the same agent as ``--algo double_dqn``.


@dataclass
class DoubleDQNConfig(DQNConfig):
    """DQN's hyperparameters with ``double`` on by default."""

    double: bool = True


@dataclass
class DuelingDQNConfig(DQNConfig):
    """DQN's hyperparameters with ``dueling`` on by default."""

    dueling: bool = True


@dataclass
class DuelingDoubleDQNConfig(DQNConfig):
    """DQN's hyperparameters with ``double`` and ``dueling`` on by default."""

    double: bool = True
    dueling: bool = True


class DoubleDQN(DQN):
    """Double DQN (van Hasselt et al. 2016): the online network picks a', the target scores it."""

    name = "double_dqn"
    Config = DoubleDQNConfig


class DuelingDQN(DQN):
    """Dueling DQN (Wang et al. 2016): Q = V + A - mean(A)."""

    name = "dueling_dqn"
    Config = DuelingDQNConfig


class DuelingDoubleDQN(DQN):
    """Double and Dueling DQN together."""

    name = "dueling_double_dqn"
    Config = DuelingDoubleDQNConfig
