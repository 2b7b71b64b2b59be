"""Greedy evaluation of a trained agent, optionally recorded to video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from advrl.agents import Agent, get_algorithm
from advrl.core.checkpoint import load_checkpoint
from advrl.core.device import resolve_device
from advrl.envs.make import EnvFactory, make_env, resolve_env

DEFAULT_EPISODE_CAP = 10_000
"""Step cap for evaluation episodes of envs without a time limit (a greedy policy can loop)."""


def evaluate(
    agent: Agent,
    factory: EnvFactory,
    episodes: int,
    seed: int | None = None,
    video_dir: Path | None = None,
    deterministic: bool = True,
    epsilon: float = 0.0,
) -> np.ndarray:
    """Return the undiscounted return of each of ``episodes`` episodes.

    The first reset takes ``seed``; later resets continue the env's own RNG, as Gymnasium
    recommends. With ``epsilon``, each action is a uniformly random one with that chance
    (Nature DQN's evaluation, epsilon 0.05), drawn from an RNG seeded with ``seed``. With
    ``video_dir``, every episode is recorded there by Gymnasium's RecordVideo (moviepy), as
    ``eval-episode-<i>.mp4``. Atari games are evaluated on whole games with raw scores (no
    life-loss ends, no reward clipping, FIRE pressed after a lost life).
    """
    env = make_env(factory, training=False, video_dir=video_dir)
    limit = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else None
    cap = limit or DEFAULT_EPISODE_CAP
    returns = np.zeros(episodes)
    explore = np.random.default_rng(seed)
    env.action_space.seed(seed)
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            for _ in range(cap):
                if epsilon and explore.random() < epsilon:
                    action = env.action_space.sample()
                else:
                    action = agent.act(np.asarray(obs)[None], deterministic)[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                returns[episode] += float(reward)
                if terminated or truncated:
                    break
    finally:
        env.close()
    return returns


def load_agent(checkpoint: Path, device: str = "auto") -> tuple[Agent, EnvFactory, dict[str, Any]]:
    """The trained agent of a checkpoint, its env factory and the run's metadata."""
    payload = load_checkpoint(checkpoint)
    run = payload["run"]
    algo_cls = get_algorithm(run["algo"])
    factory = resolve_env(run["env"], run["env_kwargs"])
    probe = make_env(factory, training=False)
    config = algo_cls.Config(**payload["config"])
    agent = algo_cls(probe.observation_space, probe.action_space, config, resolve_device(device))
    probe.close()
    agent.load_state_dict(payload["agent"])
    return agent, factory, run


def record_demos(
    agent: Agent, factory: EnvFactory, episodes: int, seed: int = 0, deterministic: bool = True
) -> dict[str, np.ndarray]:
    """``episodes`` whole episodes of ``agent``: observations, actions, next observations,
    episode ends (terminated or truncated), terminations alone (no future: what AIRL's
    shaping needs) and each episode's return, as arrays."""
    env = make_env(factory, training=False)
    cap = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else None
    obs_list, actions, next_obs, dones, terminals, returns = [], [], [], [], [], []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            total = 0.0
            for _ in range(cap or DEFAULT_EPISODE_CAP):
                action = agent.act(np.asarray(obs)[None], deterministic)[0]
                new_obs, reward, terminated, truncated, _ = env.step(action)
                obs_list.append(np.asarray(obs))
                actions.append(np.asarray(action))
                next_obs.append(np.asarray(new_obs))
                dones.append(terminated or truncated)
                terminals.append(terminated)
                total += float(reward)
                obs = new_obs
                if terminated or truncated:
                    break
            returns.append(total)
    finally:
        env.close()
    return {
        "obs": np.stack(obs_list),
        "actions": np.stack(actions),
        "next_obs": np.stack(next_obs),
        "dones": np.array(dones),
        "terminals": np.array(terminals, dtype=bool),
        "episode_returns": np.array(returns),
    }
