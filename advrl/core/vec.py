"""Vector-env helpers every agent shares: the autoreset check and finished-episode stats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from advrl.core.errors import UserError


def check_same_step_autoreset(envs: gym.vector.VectorEnv) -> None:
    """Raise a UserError unless ``envs`` resets finished envs in the same step.

    advrl's agents treat every step as a transition; a next-step autoreset env (Gymnasium's
    default) inserts a reset step with reward 0 after each episode, which would be learnt
    from as if it were real.
    """
    mode = envs.metadata.get("autoreset_mode")
    if mode != gym.vector.AutoresetMode.SAME_STEP:
        raise UserError(
            f"advrl's agents need a vector env that autoresets in the same step, got "
            f"autoreset_mode={mode}; build it with advrl.envs.make.make_vector_env or pass "
            "autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP"
        )


def finished_episodes(infos: Mapping[str, Any]) -> list[tuple[int, float, int]]:
    """(env index, return, length) of every episode that ended in this vector step."""
    # Per-env wrappers put the statistics in final_info; the vector wrapper at the top.
    final = infos.get("final_info", {})
    source = final if "episode" in final else infos
    if "episode" not in source:
        return []
    mask = source["_episode"]
    stats = source["episode"]
    return [(int(i), float(stats["r"][i]), int(stats["l"][i])) for i in np.flatnonzero(mask)]
