"""Atari's two training paths side by side: ale-py's C++ vector env against the wrappers.

``python scripts/benchmark.py --suite atari-vec`` measures, in one process on the same game
and number of envs: env steps per second under random actions, and PPO's training SPS with
CleanRL's Atari settings, for ``--vec auto`` (C++) and ``--vec sync`` (Gymnasium's and
SB3's wrappers over single envs). Medians of ``repeats`` timed runs, with the ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from advrl.envs.make import make_vector_env, resolve_env

PATHS = ("auto", "sync")


def env_steps_per_second(env_id: str, num_envs: int, vec: str, steps: int, seed: int) -> float:
    """Vector steps of random actions per second, times ``num_envs`` (after a warm-up)."""
    envs = make_vector_env(resolve_env(env_id), num_envs, vec)
    try:
        envs.reset(seed=seed)
        rng = np.random.default_rng(seed)
        space = envs.single_action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise TypeError(f"{env_id} has a {space} action space, not Discrete")
        n = int(space.n)
        for _ in range(50):
            envs.step(rng.integers(0, n, size=num_envs))
        start = time.perf_counter()
        for _ in range(steps):
            envs.step(rng.integers(0, n, size=num_envs))
        return steps * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


def training_sps(env_id: str, num_envs: int, vec: str, total_steps: int, seed: int) -> float:
    """PPO's training SPS (the Atari preset) on one path."""
    from advrl.train import TrainSettings, train

    with tempfile.TemporaryDirectory() as tmp:
        summary = train(
            TrainSettings(
                env=env_id,
                algo="ppo",
                total_steps=total_steps,
                seed=seed,
                num_envs=num_envs,
                device="cpu",
                run_dir=Path(tmp) / "run",
                eval_episodes=0,
                vec=vec,
            )
        )
    return float(summary["sps"])


def atari_vec_suite(
    env_id: str = "ALE/Breakout-v5",
    num_envs: int = 8,
    env_steps: int = 1000,
    train_steps: int = 8192,
    repeats: int = 3,
    seed: int = 1,
) -> dict[str, Any]:
    """Both paths, interleaved (auto, sync, auto, ...), medians and the C++/wrappers ratio."""
    runs: dict[str, dict[str, list[float]]] = {p: {"env_sps": [], "train_sps": []} for p in PATHS}
    for _ in range(repeats):
        for vec in PATHS:
            runs[vec]["env_sps"].append(
                env_steps_per_second(env_id, num_envs, vec, env_steps, seed)
            )
    for _ in range(max(1, repeats - 1)):
        for vec in PATHS:
            runs[vec]["train_sps"].append(training_sps(env_id, num_envs, vec, train_steps, seed))
    medians = {
        vec: {key: statistics.median(values) for key, values in metrics.items()}
        for vec, metrics in runs.items()
    }
    return {
        "env_id": env_id,
        "num_envs": num_envs,
        "runs": runs,
        "medians": medians,
        "ratio_env_sps": medians["auto"]["env_sps"] / medians["sync"]["env_sps"],
        "ratio_train_sps": medians["auto"]["train_sps"] / medians["sync"]["train_sps"],
    }


def format_atari_vec_table(result: dict[str, Any]) -> str:
    """Markdown table of ``atari_vec_suite``'s medians."""
    m = result["medians"]
    return "\n".join(
        [
            f"{result['env_id']}, {result['num_envs']} envs (medians)",
            "| path | env steps/s | PPO training SPS |",
            "|---|---|---|",
            f"| ale-py C++ (`--vec auto`) | {m['auto']['env_sps']:,.0f} | "
            f"{m['auto']['train_sps']:,.0f} |",
            f"| wrappers (`--vec sync`) | {m['sync']['env_sps']:,.0f} | "
            f"{m['sync']['train_sps']:,.0f} |",
            f"| ratio | {result['ratio_env_sps']:.2f}x | {result['ratio_train_sps']:.2f}x |",
        ]
    )
