"""RL algorithms, selectable by name, and the interface the trainer relies on.

Every algorithm is a class with ``name``, ``Config`` (a dataclass of hyperparameters),
``action_spaces`` (the space types it handles), a constructor
``(observation_space, action_space, config, device)``, and the methods ``learn``, ``act``,
``state_dict`` and ``load_state_dict``. One file each, reading top to bottom.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from advrl.agents.dqn import DQN, DoubleDQN, DuelingDoubleDQN, DuelingDQN
from advrl.agents.networks import make_encoder
from advrl.agents.ppo import PPO
from advrl.agents.reinforce import Reinforce
from advrl.core.errors import UserError
from advrl.core.hooks import LearnHooks
from advrl.core.logger import RunLogger


class Agent(Protocol):
    """What ``advrl.train`` needs from an algorithm."""

    name: str
    Config: type
    action_spaces: tuple[type[gym.Space], ...]
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


ALGORITHMS: dict[str, type] = {"reinforce": Reinforce, "ppo": PPO}
# The DQN family: one implementation, its flags preset by name.
ALGORITHMS.update({cls.name: cls for cls in (DQN, DoubleDQN, DuelingDQN, DuelingDoubleDQN)})


def get_algorithm(name: str) -> type:
    """The algorithm class for ``name``; an unknown name is a UserError listing the valid ones."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UserError(
            f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}"
        ) from None


def check_spaces(
    algo: type, observation_space: gym.Space, action_space: gym.Space, env_name: str
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
    "Reinforce",
    "check_spaces",
    "get_algorithm",
]
