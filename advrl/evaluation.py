"""Greedy evaluation of a trained agent, optionally recorded to video."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from advrl.envs.make import EnvFactory, make_env

DEFAULT_EPISODE_CAP = 10_000
"""Step cap for evaluation episodes of envs without a time limit (a greedy policy can loop)."""


def evaluate(
    agent,
    factory: EnvFactory,
    episodes: int,
    seed: int | None = None,
    video_dir: Path | None = None,
    deterministic: bool = True,
) -> np.ndarray:
    """Return the undiscounted return of each of ``episodes`` episodes.

    The first reset takes ``seed``; later resets continue the env's own RNG, as Gymnasium
    recommends. With ``video_dir``, every episode is recorded there by Gymnasium's
    RecordVideo (moviepy), as ``eval-episode-<i>.mp4``. Atari games are evaluated on whole
    games with raw scores (no life-loss ends, no reward clipping).
    """
    env = make_env(factory, training=False, video_dir=video_dir)
    limit = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else None
    cap = limit or DEFAULT_EPISODE_CAP
    returns = np.zeros(episodes)
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            for _ in range(cap):
                action = agent.act(np.asarray(obs)[None], deterministic)[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                returns[episode] += float(reward)
                if terminated or truncated:
                    break
    finally:
        env.close()
    return returns
