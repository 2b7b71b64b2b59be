"""Adversarial imitation (GAIL, Ho & Ermon 2016) on any Gymnasium env, and frozen reward
models, as a vector-env wrapper that replaces the env's reward.

``LearnedReward`` wraps a vector env: each step's reward becomes a ``RewardModel``'s reward
of the (observation, action) pair, with the env's own reward left in the episode statistics
(``RecordEpisodeStatistics`` sits inside each env) for logging as
``charts/true_episodic_return``, never for learning. With expert demonstrations it is GAIL:
every ``d_every`` env steps the discriminator takes ``d_steps`` minibatch steps, expert pairs
(real) against the agent's pairs (fake): its most recent ones, and, for half of each batch, a
uniform sample of its earlier ones (``agent_history``, like the imitation library's generator
replay buffer). Without demonstrations it is a frozen reward model (``--reward model:PATH``).

The discriminator is an MLP over the flattened observation (standardised with running
statistics) and the action (one-hot for ``Discrete``), or for image observations the Nature
CNN on the frames with the action joined to its features; the reward is -log(1 - D) by
default. Note that this reward is always positive, which on its own rewards survival: on
CartPole that alone solves the task (a known GAIL bias, Kostrikov et al. 2019); ``log_d``
is the always-negative alternative.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from advrl.agents.networks import NatureCNN, is_image_space, mlp
from advrl.checkpoint import load_checkpoint, save_checkpoint
from advrl.errors import UserError
from advrl.gan.reward_model import RewardModel

DEMO_KEYS = ("obs", "actions", "next_obs", "dones", "episode_returns")


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


def pair_features(obs: np.ndarray, actions: np.ndarray, action_space: spaces.Space) -> torch.Tensor:
    """(observation, action) pairs as float vectors (B, obs_dim + action_dim)."""
    obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32).flatten(1)
    if isinstance(action_space, spaces.Discrete):
        act_t = nn.functional.one_hot(
            torch.as_tensor(np.asarray(actions), dtype=torch.long).reshape(-1),
            int(action_space.n),
        ).float()
    else:
        act_t = torch.as_tensor(np.asarray(actions), dtype=torch.float32).flatten(1)
    return torch.cat([obs_t, act_t], dim=1)


def feature_size(observation_space: spaces.Space, action_space: spaces.Space) -> int:
    obs = int(np.prod(observation_space.shape))
    act = (
        int(action_space.n)
        if isinstance(action_space, spaces.Discrete)
        else int(np.prod(action_space.shape))
    )
    return obs + act


class ImagePairDiscriminator(nn.Module):
    """D over (image observation, action) pairs: the Nature CNN on the frames, then an MLP
    on its features and the action. Takes ``pair_features`` rows (pixels, then action)."""

    def __init__(
        self, observation_space: spaces.Box, action_dim: int, hidden_sizes: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.shape = tuple(observation_space.shape)
        self.obs_dim = int(np.prod(self.shape))
        self.cnn = NatureCNN(self.shape[0], self.shape)
        self.head = mlp(512 + action_dim, hidden_sizes, 1)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        frames = pairs[:, : self.obs_dim].reshape(-1, *self.shape)  # raw 0..255 values
        return self.head(torch.cat([self.cnn(frames), pairs[:, self.obs_dim :]], dim=1))


def make_reward_model(
    observation_space: spaces.Space, action_space: spaces.Space, config: GAILConfig
) -> RewardModel:
    """A transition discriminator in a RewardModel: an MLP over standardised vector
    observations and the action, or the Nature CNN for image observations."""
    if is_image_space(observation_space):
        action_dim = feature_size(observation_space, action_space) - int(
            np.prod(observation_space.shape)
        )
        net: nn.Module = ImagePairDiscriminator(observation_space, action_dim, config.hidden_sizes)
        normalize = False  # the CNN scales pixels itself
    elif isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1:
        net = mlp(feature_size(observation_space, action_space), config.hidden_sizes, 1)
        normalize = True
    else:
        raise UserError(
            f"the GAIL discriminator takes vector or image (C, H, W) observations; got "
            f"{observation_space}"
        )
    return RewardModel(
        net, loss=config.loss, lr=config.lr, reward=config.reward, normalize_inputs=normalize
    )


def load_demos(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``record_demos.py``'s .npz; a missing or malformed file is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"demonstrations file not found: {path}; make one with record_demos.py")
    try:
        with np.load(path, allow_pickle=False) as npz:
            demos = {key: np.array(npz[key]) for key in npz.files}
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read demonstrations from {path} ({exc})") from None
    missing = [key for key in DEMO_KEYS if key not in demos]
    if missing or len(demos.get("obs", [])) == 0:
        raise UserError(
            f"{path} is not a demonstrations file (missing {', '.join(missing) or 'data'}); "
            "make one with scripts/record_demos.py"
        )
    return demos


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
        expert_obs, expert_actions = self.expert
        past_size = min(self._past_seen, cfg.agent_history)
        n_past = cfg.batch_size // 2 if past_size else 0
        space = self.env.single_action_space
        totals: dict[str, float] = {}
        for _ in range(cfg.d_steps):
            e = self.rng.integers(len(expert_obs), size=cfg.batch_size)
            a = self.rng.integers(len(agent_obs), size=cfg.batch_size - n_past)
            fake_obs, fake_actions = agent_obs[a], agent_actions[a]
            if n_past:
                p = self.rng.integers(past_size, size=n_past)
                fake_obs = np.concatenate([fake_obs, self._past[0][p]])
                fake_actions = np.concatenate([fake_actions, self._past[1][p]])
            real = pair_features(expert_obs[e], expert_actions[e], space)
            fake = pair_features(fake_obs, fake_actions, space)
            for key, value in self.reward_model.update(real, fake).items():
                totals[key] = totals.get(key, 0.0) + value / cfg.d_steps
        self._remember(agent_obs, agent_actions)
        self.history.append(totals)
        return totals

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

    def save(self, path: Path, observation_space: spaces.Space, action_space: spaces.Space) -> Path:
        """Write the reward model and what it takes as input, atomically."""
        return save_checkpoint(
            path,
            {
                "kind": "transition",
                "reward_model": self.reward_model.state_dict(),
                "config": dataclasses.asdict(self.config),
                "features": feature_size(observation_space, action_space),
            },
        )


def load_reward_model(
    path: str | Path, observation_space: spaces.Space, action_space: spaces.Space
) -> RewardModel:
    """A frozen transition reward model saved by a GAIL run (``reward_model.pt``)."""
    state = load_checkpoint(Path(path))
    if state.get("kind") != "transition":
        raise UserError(
            f"{path} is not a transition reward model (reward_model.pt of a --reward gail "
            "run); for a SeqGAN-v0 discriminator use it on SeqGAN-v0 with "
            "--reward model:PATH or --env-kwargs discriminator_path=PATH d_every=0"
        )
    if state["features"] != feature_size(observation_space, action_space):
        raise UserError(
            f"the reward model in {path} takes {state['features']} features, this env's "
            f"(obs, action) pairs have {feature_size(observation_space, action_space)}"
        )
    config = GAILConfig(
        **{**state["config"], "hidden_sizes": tuple(state["config"]["hidden_sizes"])}
    )
    model = make_reward_model(observation_space, action_space, config)
    model.load_state_dict(state["reward_model"])
    return model
