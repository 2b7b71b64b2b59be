"""Atari through ale-py with the standard DQN preprocessing (Mnih et al. 2015).

Built from Gymnasium's own wrappers where they exist, SB3's where Gymnasium has none:

- ``AtariPreprocessing`` (Gymnasium): up to 30 no-op actions on reset, frame skip 4 with a
  max over the last two frames, 84x84 grayscale;
- ``EpisodicLifeEnv`` (SB3), training only: a lost life ends the learner's episode while the
  game goes on, which speeds up value propagation;
- ``FireResetEnv`` (SB3): press FIRE after a reset in games that wait for it;
- ``FireOnLifeLoss``, evaluation only: press FIRE after every lost life too, as SB3's
  evaluation stack does (a greedy policy that never presses it would wait, ball never served,
  until the game's frame cap: 27,000 steps an evaluation game);
- ``ClipReward`` (Gymnasium), training only: rewards clipped to [-1, 1];
- ``FrameStackObservation`` (Gymnasium): the last 4 frames, shape (4, 84, 84) uint8.

``charts/episodic_return`` and evaluation report raw game scores of whole games: the episode
statistics wrapper sits under all of these (see ``advrl.envs.make.make_env``).

For training, ``ale_vector_env`` does the same preprocessing in C++ threads with ale-py's
own vector env (``AtariVectorEnv``): no-op starts, frame skip with max-pool, resize, grey
scale, frame stack and FIRE on reset. Life loss and reward clipping are done above the
episode statistics (``AtariTrainingSignals``), so the returns are whole-game scores there
too. Two differences from the wrappers: the stack at a reset is padded with zeros, not
copies of the first frame, and after a lost life the agent presses FIRE itself (SB3's
wrappers press it for the agent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import AtariPreprocessing, ClipReward, FrameStackObservation

if TYPE_CHECKING:
    from ale_py.env import AtariEnv

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


def atari_game(env: gym.Env) -> AtariEnv:
    """The ale-py game under ``env``'s wrappers; a TypeError if there is none."""
    from ale_py.env import AtariEnv

    game = env.unwrapped
    if not isinstance(game, AtariEnv):
        raise TypeError(f"{env} does not wrap an ale-py game")
    return game


def wrap_atari(
    env: gym.Env,
    training: bool,
    frame_stack: int = 4,
    noop_max: int = 30,
    fire_reset: bool = True,
) -> gym.Env:
    """Apply the DQN preprocessing; life loss and reward clipping only when ``training``
    (``noop_max=0, fire_reset=False`` make it deterministic, for tests)."""
    from stable_baselines3.common.atari_wrappers import EpisodicLifeEnv, FireResetEnv

    env = AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=4,
        screen_size=84,
        terminal_on_life_loss=False,
        grayscale_obs=True,
    )
    if training:
        env = EpisodicLifeEnv(env)
    if fire_reset and "FIRE" in atari_game(env).get_action_meanings():
        env = FireResetEnv(env)
        if not training:
            env = FireOnLifeLoss(env)
    if training:
        env = ClipReward(env, -1.0, 1.0)
    return FrameStackObservation(env, frame_stack)


class FireOnLifeLoss(gym.Wrapper):
    """Press FIRE after every lost life of a game that goes on (evaluation of whole games).

    Training ends the learner's episode at a lost life and ``FireResetEnv`` presses FIRE at
    its reset; a whole-game evaluation has no such reset, so this wrapper presses it. The
    FIRE step's reward and end are the step's own, so returns stay raw whole-game scores.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.atari_env = atari_game(env)
        self.fire = self.atari_env.get_action_meanings().index("FIRE")
        self.lives = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.lives = self.atari_env.ale.lives()
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self.atari_env.ale.lives()
        if 0 < lives < self.lives and not (terminated or truncated):
            obs, fire_reward, terminated, truncated, info = self.env.step(self.fire)
            reward = float(reward) + float(fire_reward)
        self.lives = self.atari_env.ale.lives()
        return obs, reward, terminated, truncated, info


ALE_VECTOR_OPTIONS = (
    "repeat_action_probability",
    "full_action_space",
    "max_num_frames_per_episode",
)
"""The ``--env-kwargs`` ale-py's vector env takes; any other sends ``--vec auto`` to the
single-env wrappers."""


def ale_vector_options(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The vector env's options for ``env_id`` (the id's own, ``kwargs`` over them), or
    None when ``kwargs`` ask for something it cannot do (another obs_type, say)."""
    if any(key not in ALE_VECTOR_OPTIONS for key in kwargs):
        return None
    spec = gym.registry[env_id]
    own = {key: spec.kwargs[key] for key in ALE_VECTOR_OPTIONS if key in spec.kwargs}
    return {"game": spec.kwargs["game"], **own, **kwargs}


def ale_vector_env(
    env_id: str,
    num_envs: int,
    noop_max: int = 30,
    fire_reset: bool = True,
    num_threads: int = 0,
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """``num_envs`` games of ``env_id`` in ale-py's C++ vector env, with the DQN
    preprocessing, raw whole-game episode statistics, then life loss and reward clipping
    (``noop_max`` and ``fire_reset`` as in ``wrap_atari``) on ``num_threads`` C++ threads
    (0: ale-py's choice; advrl's thread policy sets it, ``advrl.core.threads``)."""
    from ale_py.vector_env import AtariVectorEnv

    options = ale_vector_options(env_id, kwargs)
    if options is None:
        raise ValueError(f"ale-py's vector env takes only {', '.join(ALE_VECTOR_OPTIONS)}")
    envs = AtariVectorEnv(
        num_envs=num_envs,
        frameskip=4,
        maxpool=True,
        noop_max=noop_max,
        img_height=84,
        img_width=84,
        grayscale=True,
        stack_num=4,
        episodic_life=False,
        reward_clipping=False,
        use_fire_reset=fire_reset,
        num_threads=num_threads,
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        **options,
    )
    return AtariTrainingSignals(gym.wrappers.vector.RecordEpisodeStatistics(envs))


class AtariTrainingSignals(gym.vector.VectorWrapper):
    """Training-only signals over a vector env of whole games: a lost life ends the
    learner's episode while the game goes on (SB3's ``EpisodicLifeEnv``) and rewards are
    clipped to their sign (``ClipReward``). Every ended episode's last observation is in
    ``info["final_obs"]`` with the ``info["_final_obs"]`` mask Gymnasium's vector envs give."""

    def __init__(self, envs: gym.vector.VectorEnv) -> None:
        super().__init__(envs)
        self.lives = np.zeros(envs.num_envs, dtype=np.int64)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.lives = np.asarray(info["lives"]).copy()
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        lives = np.asarray(info["lives"])
        game_over = terminated | truncated
        life_lost = (lives < self.lives) & (lives > 0) & ~game_over
        self.lives = lives.copy()
        final_obs = np.asarray(info["final_obs"]) if "final_obs" in info else obs.copy()
        final_obs = final_obs.copy()
        final_obs[life_lost] = obs[life_lost]  # the game goes on: its next frame is the last
        info["final_obs"], info["_final_obs"] = final_obs, game_over | life_lost
        return obs, np.sign(reward), terminated | life_lost, truncated, info
