"""Per-(algorithm, env) defaults, kept in one place.

A preset fills hyperparameters and the number of envs before the user's ``--hp`` and
``--num-envs`` overrides. Env patterns use shell-style wildcards (``ALE/*``). The first
matching pattern wins; ``*`` is each algorithm's fallback.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    """Defaults for one (algorithm, env pattern)."""

    num_envs: int = 1
    hp: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    """Where the numbers come from, shown in logs."""


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
}


def find_preset(algo: str, env: str) -> Preset:
    """The first preset of ``algo`` whose pattern matches ``env`` (an empty one if none)."""
    for pattern, preset in PRESETS.get(algo, []):
        if fnmatch.fnmatchcase(env, pattern) or fnmatch.fnmatchcase(env.split(":")[-1], pattern):
            return preset
    return Preset()
