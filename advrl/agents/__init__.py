"""RL algorithms, selectable by name, and the interface the trainer relies on.

Every algorithm is a class with ``name``, ``Config`` (a dataclass of hyperparameters),
``action_spaces`` (the space types it handles), a constructor
``(observation_space, action_space, config, device)``, and the methods ``learn``, ``act``,
``state_dict`` and ``load_state_dict``. One file each, reading top to bottom.

Their networks read observations through the encoder registered for the observation space's
class (``advrl.agents.encoders``); ``register_encoder`` adds one for a space of your own.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from advrl.agents.dqn import DQN, DoubleDQN, DuelingDoubleDQN, DuelingDQN
from advrl.agents.encoders import EncoderOptions, make_encoder, register_encoder
from advrl.agents.ppo import PPO
from advrl.agents.reinforce import Reinforce
from advrl.core.errors import UserError
from advrl.core.hooks import LearnHooks
from advrl.core.logger import RunLogger


class AlgorithmTraits(Protocol):
    """What an algorithm declares on its class: ``name``, ``Config`` (the dataclass of its
    hyperparameters) and ``action_spaces`` (the space types it handles).

    Read-only properties here, so that an algorithm's own, narrower class attributes
    (``Config = PPOConfig``) match them.
    """

    @property
    def name(self) -> str: ...

    @property
    def Config(self) -> type: ...  # noqa: N802 (it holds a class)

    @property
    def action_spaces(self) -> tuple[type[gym.Space], ...]: ...


class Agent(AlgorithmTraits, Protocol):
    """What ``advrl.train`` needs from an algorithm."""

    config: Any
    global_step: int

    def learn(
        self,
        envs: gym.vector.VectorEnv,
        total_steps: int,
        logger: RunLogger,
        seed: int | None = None,
        hooks: LearnHooks | None = None,
    ) -> None: ...

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class AgentClass(AlgorithmTraits, Protocol):
    """An algorithm's class, as ``ALGORITHMS`` holds it: its traits and the constructor,
    which is given spaces that ``check_spaces`` accepted."""

    def __call__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any,
        device: torch.device,
    ) -> Agent: ...


ALGORITHMS: dict[str, AgentClass] = {"reinforce": Reinforce, "ppo": PPO}
# The DQN family: one implementation, its flags preset by name.
ALGORITHMS.update({cls.name: cls for cls in (DQN, DoubleDQN, DuelingDQN, DuelingDoubleDQN)})


def get_algorithm(name: str) -> AgentClass:
    """The algorithm class for ``name``; an unknown name is a UserError listing the valid ones."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UserError(
            f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}"
        ) from None


def check_spaces(
    algo: AgentClass, observation_space: gym.Space, action_space: gym.Space, env_name: str
) -> None:
    """Refuse, with the fix, an env whose spaces the algorithm cannot handle."""
    if not isinstance(action_space, algo.action_spaces):
        handled = ", ".join(space.__name__ for space in algo.action_spaces)
        capable = [
            name for name, cls in ALGORITHMS.items() if isinstance(action_space, cls.action_spaces)
        ]
        hint = f"use {' or '.join(capable)}" if capable else "wrap the env to one of those"
        raise UserError(
            f"--algo {algo.name} cannot handle env {env_name!r}'s action space "
            f"{action_space} (it handles {handled}); {hint}"
        )
    try:
        make_encoder(observation_space)
    except ValueError as exc:
        raise UserError(f"env {env_name!r}: {exc}") from None


__all__ = [
    "ALGORITHMS",
    "PPO",
    "Agent",
    "AgentClass",
    "EncoderOptions",
    "Reinforce",
    "check_spaces",
    "get_algorithm",
    "make_encoder",
    "register_encoder",
]
