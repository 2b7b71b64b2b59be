"""Atari through ale-py with the standard DQN preprocessing (Mnih et al. 2015).

Built from Gymnasium's own wrappers where they exist, SB3's where Gymnasium has none:

- ``AtariPreprocessing`` (Gymnasium): up to 30 no-op actions on reset, frame skip 4 with a
  max over the last two frames, 84x84 grayscale;
- ``EpisodicLifeEnv`` (SB3), training only: a lost life ends the learner's episode while the
  game goes on, which speeds up value propagation;
- ``FireResetEnv`` (SB3): press FIRE after a reset in games that wait for it;
- ``ClipReward`` (Gymnasium), training only: rewards clipped to [-1, 1];
- ``FrameStackObservation`` (Gymnasium): the last 4 frames, shape (4, 84, 84) uint8.

``charts/episodic_return`` and evaluation report raw game scores of whole games: the episode
statistics wrapper sits under all of these (see ``advrl.envs.make.make_env``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing, ClipReward, FrameStackObservation

ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"


def ensure_atari_registered() -> None:
    """ale-py's ids appear in Gymnasium's registry only after ``register_envs(ale_py)``."""
    try:
        import ale_py
    except ImportError:
        return
    gym.register_envs(ale_py)


def is_atari_id(env_id: str) -> bool:
    """Whether an env id is an ale-py game (registering ale-py's ids if needed)."""
    if env_id not in gym.registry:
        ensure_atari_registered()
    spec = gym.registry.get(env_id)
    return spec is not None and spec.entry_point == ATARI_ENTRY_POINT


def atari_make_kwargs(env_id: str) -> dict[str, Any]:
    """Extra ``gym.make`` kwargs: v5 ids skip 4 frames inside ALE, our wrapper does it instead."""
    spec = gym.registry[env_id]
    return {"frameskip": 1} if spec.kwargs.get("frameskip", 1) != 1 else {}


def is_atari_env(env: gym.Env) -> bool:
    """Whether ``env`` wraps an ale-py game."""
    try:
        from ale_py import AtariEnv
    except ImportError:
        return False
    return isinstance(env.unwrapped, AtariEnv)


def wrap_atari(env: gym.Env, training: bool, frame_stack: int = 4) -> gym.Env:
    """Apply the DQN preprocessing; life loss and reward clipping only when ``training``."""
    from stable_baselines3.common.atari_wrappers import EpisodicLifeEnv, FireResetEnv

    env = AtariPreprocessing(
        env,
        noop_max=30,
        frame_skip=4,
        screen_size=84,
        terminal_on_life_loss=False,
        grayscale_obs=True,
    )
    if training:
        env = EpisodicLifeEnv(env)
    if "FIRE" in env.unwrapped.get_action_meanings():
        env = FireResetEnv(env)
    if training:
        env = ClipReward(env, -1.0, 1.0)
    return FrameStackObservation(env, frame_stack)
