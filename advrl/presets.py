"""Per-(algorithm, env) defaults, kept in one place.

A preset fills hyperparameters and the number of envs before the user's ``--hp`` and
``--num-envs`` overrides. Env patterns use shell-style wildcards; ``ATARI`` matches every
ale-py game. The first matching pattern wins; ``*`` is each algorithm's fallback.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from advrl.envs.atari import is_atari_id


@dataclass(frozen=True)
class Preset:
    """Defaults for one (algorithm, env pattern)."""

    num_envs: int = 1
    hp: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    """Where the numbers come from, shown in logs."""


ATARI = "<atari>"
"""Pattern that matches every ale-py game id (ALE/Pong-v5, PongNoFrameskip-v4, ...)."""

PRESETS: dict[str, list[tuple[str, Preset]]] = {
    "reinforce": [
        (
            "GridWorld-v0",
            Preset(
                num_envs=4,
                hp={"lr": 3e-3, "n_steps": 64, "gamma": 0.99},
                source="tuned on GridWorld-v0 for tests/test_learning.py",
            ),
        ),
        ("CartPole-v1", Preset(num_envs=4, hp={"lr": 2e-3, "n_steps": 256, "gamma": 0.99})),
        ("*", Preset(num_envs=4)),
    ],
    "ppo": [
        (
            "GridWorld-v0",
            Preset(
                num_envs=4,
                hp={
                    "lr": 3e-3,
                    "n_steps": 64,
                    "batch_size": 64,
                    "n_epochs": 4,
                    "gamma": 0.99,
                    "gae_lambda": 0.95,
                    "entropy_coef": 0.0,
                },
                source="tuned on GridWorld-v0 for tests/test_ppo.py",
            ),
        ),
        (
            "CartPole-v1",
            Preset(
                num_envs=8,
                hp={
                    "lr": 1e-3,
                    "anneal_lr": True,
                    "n_steps": 32,
                    "batch_size": 256,
                    "n_epochs": 20,
                    "gamma": 0.98,
                    "gae_lambda": 0.8,
                    "clip_coef": 0.2,
                    "entropy_coef": 0.0,
                },
                source="rl-baselines3-zoo's tuned CartPole-v1 PPO",
            ),
        ),
        (
            "Pendulum-v1",
            Preset(
                num_envs=4,
                hp={
                    "lr": 1e-3,
                    "n_steps": 1024,
                    "batch_size": 64,
                    "n_epochs": 10,
                    "gamma": 0.9,
                    "gae_lambda": 0.95,
                    "clip_coef": 0.2,
                    "entropy_coef": 0.0,
                },
                source="rl-baselines3-zoo's Pendulum-v1 PPO (without gSDE)",
            ),
        ),
        (
            ATARI,
            Preset(
                num_envs=8,
                hp={
                    "lr": 2.5e-4,
                    "anneal_lr": True,
                    "n_steps": 128,
                    "batch_size": 256,
                    "n_epochs": 4,
                    "gamma": 0.99,
                    "gae_lambda": 0.95,
                    "clip_coef": 0.1,
                    "clip_value_loss": True,
                    "entropy_coef": 0.01,
                    "value_coef": 0.5,
                    "max_grad_norm": 0.5,
                    "hidden_sizes": (),
                },
                source="CleanRL's ppo_atari.py (Huang et al. 2022)",
            ),
        ),
        ("*", Preset(num_envs=4)),
    ],
}


def find_preset(algo: str, env: str) -> Preset:
    """The first preset of ``algo`` whose pattern matches ``env`` (an empty one if none)."""
    env_id = env.split(":")[-1]
    for pattern, preset in PRESETS.get(algo, []):
        if pattern == ATARI:
            if is_atari_id(env_id):
                return preset
        elif fnmatch.fnmatchcase(env_id, pattern):
            return preset
    return Preset()
