"""Adversarial imitation (GAIL, Ho & Ermon 2016) on any Gymnasium env, and frozen reward
models, as a trainer plug-in that replaces the env's reward.

``LearnedReward`` wraps a vector env: each step's reward becomes a ``RewardModel``'s reward
of the (observation, action) pair, with the env's own reward left in the episode statistics
(``RecordEpisodeStatistics`` sits inside each env) for logging as
``charts/true_episodic_return``, never for learning. With expert demonstrations it is GAIL:
every ``d_every`` env steps the discriminator takes ``d_steps`` minibatch steps, expert pairs
(real) against the agent's pairs (fake): its most recent ones, and, for half of each batch, a
uniform sample of its earlier ones (``agent_history``, like the imitation library's generator
replay buffer). Without demonstrations it is a frozen reward model (``--reward model:PATH``).

The discriminator (``advrl.gan.transitions``) is an MLP over the standardised observation and
the action, or the Nature CNN for image observations; the reward is -log(1 - D) by default.
Note that this reward is always positive, which on its own rewards survival: on CartPole
that alone solves the task (a known GAIL bias, Kostrikov et al. 2019); ``log_d`` is the
always-negative alternative.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from advrl.core.demos import load_demos
from advrl.core.errors import UserError
from advrl.core.stats import mean_metrics
from advrl.gan.reward_model import RewardModel
from advrl.gan.transitions import (
    feature_size,
    load_transition_reward_model,
    make_transition_reward_model,
    pair_features,
    save_transition_reward_model,
)
from advrl.plugins.base import DiscriminatorLog, Plugin, Run


@dataclass
class GAILConfig:
    """Options of the GAIL reward (``--reward-kwargs``)."""

    d_every: int = 2048
    """Env steps (over all envs) between discriminator phases."""
    d_steps: int = 10
    """Discriminator minibatch steps per phase."""
    batch_size: int = 256
    """Expert and agent pairs per discriminator step (each)."""
    lr: float = 3e-4
    """Adam learning rate of the discriminator."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden widths of the discriminator MLP."""
    loss: str = "non_saturating"
    """A GAN loss from advrl.gan.GAN_LOSSES."""
    reward: str = "default"
    """How the reward reads the discriminator (default: -log(1 - D) for BCE losses)."""
    agent_history: int = 20_000
    """Past agent pairs kept, a uniform sample of the whole run, as extra negatives: half of
    each fake batch. D then keeps scoring earlier, non-expert behaviour low instead of
    forgetting it once the agent is expert-like. 0: the latest pairs only (Ho & Ermon)."""

    def make_reward_model(
        self, observation_space: gym.Space, action_space: gym.Space
    ) -> RewardModel:
        """A fresh transition discriminator with these options."""
        return make_transition_reward_model(
            observation_space, action_space, self.hidden_sizes, self.loss, self.lr, self.reward
        )

    def validate(self) -> list[str]:
        problems = []
        for name in ("d_every", "d_steps", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.agent_history < 0:
            problems.append(f"agent_history must be >= 0, got {self.agent_history}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        return problems


class LearnedReward(gym.vector.VectorWrapper):
    """Replace a vector env's rewards with a reward model's; train it on demos (GAIL)."""

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        reward_model: RewardModel,
        demos: dict[str, np.ndarray] | None = None,
        config: GAILConfig | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(env)
        self.reward_model = reward_model
        self.config = config or GAILConfig()
        space = env.single_action_space
        self.expert: tuple[np.ndarray, np.ndarray] | None = None
        if demos is not None:
            features = pair_features(demos["obs"][:1], demos["actions"][:1], space).shape[1]
            if features != feature_size(env.single_observation_space, space):
                raise UserError(
                    f"the demonstrations have {features} features per (obs, action) pair, "
                    f"this env {feature_size(env.single_observation_space, space)}; record "
                    "them on the same env"
                )
            self.expert = (demos["obs"], demos["actions"])
        self.rng = np.random.default_rng(seed)
        self._obs: np.ndarray | None = None
        # The agent's latest pairs, kept as the env gave them (uint8 frames stay uint8).
        self._recent: list[tuple[np.ndarray, np.ndarray]] = []
        self._since_phase = 0
        # A reservoir (uniform) sample of all earlier agent pairs, filled phase by phase.
        self._past: tuple[np.ndarray, np.ndarray] | None = None
        self._past_seen = 0
        self.history: list[dict[str, float]] = []

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs = np.asarray(obs)
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("LearnedReward.step() before reset()")
        prev_obs, actions = self._obs, np.asarray(actions)
        pairs = pair_features(prev_obs, actions, self.env.single_action_space)
        obs, _, terminated, truncated, infos = self.env.step(actions)
        self._obs = np.asarray(obs)
        rewards = self.reward_model.reward(pairs).cpu().numpy().astype(np.float64)
        if self.expert is not None:
            self._recent.append((prev_obs, actions))
            self._since_phase += len(actions)
            if self._since_phase >= self.config.d_every:
                self.train_discriminator()
        return obs, rewards, terminated, truncated, infos

    def train_discriminator(self) -> dict[str, float]:
        """``d_steps`` steps of expert pairs (real) against agent pairs (fake): the latest
        ones, and half from the earlier ones once there are any (``agent_history``)."""
        cfg = self.config
        agent_obs = np.concatenate([obs for obs, _ in self._recent])
        agent_actions = np.concatenate([actions for _, actions in self._recent])
        self._recent, self._since_phase = [], 0
        if self.expert is None:
            raise RuntimeError("a frozen reward model has no demonstrations to train on")
        expert_obs, expert_actions = self.expert
        past_size = min(self._past_seen, cfg.agent_history)
        n_past = cfg.batch_size // 2 if past_size else 0
        space = self.env.single_action_space
        steps = []
        for _ in range(cfg.d_steps):
            e = self.rng.integers(len(expert_obs), size=cfg.batch_size)
            a = self.rng.integers(len(agent_obs), size=cfg.batch_size - n_past)
            fake_obs, fake_actions = agent_obs[a], agent_actions[a]
            if n_past:
                if self._past is None:
                    raise RuntimeError("agent pairs were counted but none were kept")
                p = self.rng.integers(past_size, size=n_past)
                fake_obs = np.concatenate([fake_obs, self._past[0][p]])
                fake_actions = np.concatenate([fake_actions, self._past[1][p]])
            real = pair_features(expert_obs[e], expert_actions[e], space)
            fake = pair_features(fake_obs, fake_actions, space)
            steps.append(self.reward_model.update(real, fake))
        self._remember(agent_obs, agent_actions)
        self.history.append(mean_metrics(steps))
        return self.history[-1]

    def _remember(self, obs: np.ndarray, actions: np.ndarray) -> None:
        """Reservoir sampling (Vitter's algorithm R) of the agent's pairs into ``_past``."""
        capacity = self.config.agent_history
        if capacity == 0:
            return
        if self._past is None:
            self._past = (
                np.empty((capacity, *obs.shape[1:]), obs.dtype),
                np.empty((capacity, *actions.shape[1:]), actions.dtype),
            )
        index = self._past_seen + np.arange(len(obs))  # each pair's index in the run
        slot = np.where(index < capacity, index, self.rng.integers(0, index + 1))
        kept = slot < capacity
        self._past[0][slot[kept]] = obs[kept]
        self._past[1][slot[kept]] = actions[kept]
        self._past_seen += len(obs)


class LearnedRewardPlugin(Plugin):
    """GAIL (``--reward gail --demos FILE``) or a frozen reward model (``--reward
    model:PATH``): wraps the envs in ``LearnedReward``, checkpoints the reward model, and
    saves it as ``reward_model.pt`` at the end."""

    name = "learned_reward"
    learned_reward = True

    def __init__(
        self, config: GAILConfig | None = None, demos: Path | None = None, model: str | None = None
    ) -> None:
        self.config, self.demos, self.model_path = config, demos, model
        self._wrapper: LearnedReward | None = None

    @property
    def wrapper(self) -> LearnedReward:
        """The envs' reward wrapper, made by ``wrap_envs``."""
        if self._wrapper is None:
            raise RuntimeError("the reward wrapper is made in wrap_envs, which has not run")
        return self._wrapper

    def discriminator_log(self) -> DiscriminatorLog:
        """GAIL's discriminator phases as curves."""
        return DiscriminatorLog(lambda run: self.wrapper.history)

    def wrap_envs(self, run: Run, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        obs_space, act_space = envs.single_observation_space, envs.single_action_space
        if self.model_path is not None:
            model = load_transition_reward_model(self.model_path, obs_space, act_space)
            self._wrapper = LearnedReward(envs, model)
        else:
            if self.config is None or self.demos is None:
                raise RuntimeError("GAIL needs its config and demonstrations (--demos)")
            model = self.config.make_reward_model(obs_space, act_space)
            demos = load_demos(self.demos)
            self._wrapper = LearnedReward(envs, model, demos, self.config, seed=run.seed)
        return self.wrapper

    def state_dict(self, run: Run) -> dict[str, Any]:
        return self.wrapper.reward_model.state_dict()

    def load_state_dict(self, run: Run, state: dict[str, Any]) -> None:
        self.wrapper.reward_model.load_state_dict(state)

    def summary(self, run: Run) -> dict[str, Any]:
        envs = self.wrapper
        path = save_transition_reward_model(
            run.run_dir / "reward_model.pt",
            envs.reward_model,
            dataclasses.asdict(envs.config),
            envs.single_observation_space,
            envs.single_action_space,
        )
        history = envs.history
        return {
            "reward_model": str(path),
            "discriminator_phases": len(history),
            "discriminator_accuracy": history[-1].get("accuracy") if history else None,
        }
