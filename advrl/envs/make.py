"""Turn what a user typed after ``--env`` into environments.

Three forms are accepted:

- a registered Gymnasium id: ``GridWorld-v0``, ``CartPole-v1``, ``ALE/Pong-v5``;
- ``module.path:ClassOrFactory``: a ``gymnasium.Env`` subclass or a function returning one;
- ``module.path:EnvId``: Gymnasium's own form, which imports the module (so that it
  registers its ids) and then makes ``EnvId``.

User modules are imported from the current directory or ``PYTHONPATH``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from advrl.core.capabilities import import_user_module, registered_creator
from advrl.core.config import parse_call_kwargs
from advrl.core.errors import UserError, did_you_mean
from advrl.envs.atari import (
    ale_vector_env,
    ale_vector_options,
    atari_make_kwargs,
    ensure_atari_registered,
    is_atari_env,
    is_atari_id,
    wrap_atari,
)

# gymnasium.make's own keywords, allowed in --env-kwargs for any registered id.
_MAKE_KWARGS: dict[str, Any] = {"max_episode_steps": int | None}


@dataclass(frozen=True)
class EnvFactory:
    """How to build one env: the user's spelling, a constructor, and typed kwargs."""

    name: str
    """What the user typed after --env."""
    constructor: Callable[..., gym.Env]
    """A callable taking the kwargs (and render_mode) and returning a fresh env."""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments for the constructor, already typed."""
    accepts_render_mode: bool = True
    make_vector: Callable[..., gym.vector.VectorEnv] | None = None
    """A native vector env (Gymnasium's ``vector_entry_point``) taking num_envs and kwargs,
    when the env has one that resets finished envs in the same step."""
    vector_threads: bool = False
    """Whether ``make_vector`` takes ``num_threads`` (ale-py's C++ pool does)."""

    def __call__(self, render_mode: str | None = None) -> gym.Env:
        """Build the env; ``render_mode`` is passed only when one is asked for."""
        kwargs = dict(self.kwargs)
        if render_mode is not None:
            if not self.accepts_render_mode:
                raise UserError(
                    f"env {self.name!r} takes no render_mode argument, so it cannot record "
                    "video; add render_mode to its constructor or drop --capture-video/--video"
                )
            kwargs["render_mode"] = render_mode
        try:
            env = self.constructor(**kwargs)
        except (TypeError, ValueError, AssertionError) as exc:
            raise UserError(f"env {self.name!r} rejected its arguments {kwargs}: {exc}") from exc
        if not isinstance(env, gym.Env):
            raise UserError(
                f"--env {self.name!r} returned {type(env).__name__}, not a gymnasium.Env; "
                "point it at a gymnasium.Env subclass or a function that returns one"
            )
        if render_mode is not None and env.render_mode != render_mode:
            raise UserError(
                f"env {self.name!r} does not support render_mode={render_mode!r} "
                f"(its metadata lists {env.metadata.get('render_modes', [])})"
            )
        return env


def _import_user_module(module_name: str, spec: str) -> Any:
    try:
        return import_user_module(module_name)
    except ModuleNotFoundError as exc:
        raise UserError(
            f"cannot import module {module_name!r} named in --env {spec!r} ({exc}); run from "
            "the folder that holds it or add that folder to PYTHONPATH"
        ) from None


def _registered_factory(env_id: str, spec: str, raw_kwargs: Mapping[str, str]) -> EnvFactory:
    if env_id not in gym.registry:
        ensure_atari_registered()
    if env_id not in gym.registry:
        raise UserError(
            f"unknown env {env_id!r}{did_you_mean(env_id, gym.registry)}; use a registered "
            "Gymnasium id (e.g. GridWorld-v0, CartPole-v1, ALE/Pong-v5) or module.path:ClassName"
        )
    creator = registered_creator(env_id)
    kwargs = parse_call_kwargs(creator, raw_kwargs, f"env {env_id!r}", extra=_MAKE_KWARGS)

    defaults = atari_make_kwargs(env_id) if is_atari_id(env_id) else {}

    def make(**kw: Any) -> gym.Env:
        return gym.make(env_id, **{**defaults, **kw})

    make_vector = _native_vector(env_id)
    if is_atari_id(env_id):  # ale-py's vector env, with advrl's preprocessing, where it fits
        fits = ale_vector_options(env_id, kwargs) is not None
        make_vector = functools.partial(ale_vector_env, env_id) if fits else None
        return EnvFactory(spec, make, kwargs, make_vector=make_vector, vector_threads=fits)
    return EnvFactory(spec, make, kwargs, make_vector=make_vector)


def _native_vector(env_id: str) -> Callable[..., gym.vector.VectorEnv] | None:
    """The env's own vector env, if it autoresets in the same step as advrl's agents need."""
    creator = registered_creator(env_id, vector=True)
    if creator is None:
        return None
    mode = getattr(creator, "metadata", {}).get("autoreset_mode")
    if mode != gym.vector.AutoresetMode.SAME_STEP:
        return None  # e.g. CartPoleVectorEnv resets in the next step: use SyncVectorEnv
    return creator


def resolve_env(spec: str, raw_kwargs: Mapping[str, str] | None = None) -> EnvFactory:
    """Resolve ``--env`` and ``--env-kwargs`` into an ``EnvFactory``; bad input is a UserError."""
    raw_kwargs = raw_kwargs or {}
    module_name, sep, attr = spec.partition(":")
    if not sep:
        return _registered_factory(spec, spec, raw_kwargs)
    if not module_name or not attr:
        raise UserError(f"--env {spec!r} should read module.path:ClassName or module.path:EnvId")
    module = _import_user_module(module_name, spec)
    if attr.isidentifier() and hasattr(module, attr):
        target = getattr(module, attr)
        if isinstance(target, type) and not issubclass(target, gym.Env):
            raise UserError(f"{spec!r} is a class but not a gymnasium.Env subclass")
        if not callable(target):
            raise UserError(f"{spec!r} is neither a gymnasium.Env subclass nor a function")
        kwargs = parse_call_kwargs(target, raw_kwargs, f"env {spec!r}")
        try:
            params = inspect.signature(target).parameters
            accepts = "render_mode" in params or any(
                p.kind is p.VAR_KEYWORD for p in params.values()
            )
        except (TypeError, ValueError):
            accepts = True
        return EnvFactory(spec, target, kwargs, accepts_render_mode=accepts)
    if attr.isidentifier() and attr not in gym.registry:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise UserError(
            f"module {module_name!r} has no attribute {attr!r}{did_you_mean(attr, public)} and "
            f"registers no env id {attr!r}"
        )
    return _registered_factory(attr, spec, raw_kwargs)


def make_env(
    factory: EnvFactory,
    render_mode: str | None = None,
    training: bool = True,
    video_dir: Path | None = None,
) -> gym.Env:
    """One env, wrapped as advrl trains or evaluates on it.

    Innermost come the video recorder (so videos show the real game at full frame rate) and
    the episode statistics (so returns are raw scores of whole episodes); Atari games then
    get the DQN preprocessing, with life loss and reward clipping only when ``training``.
    """
    if video_dir is not None:
        render_mode = "rgb_array"
    env = factory(render_mode=render_mode)
    if video_dir is not None:
        env = gym.wrappers.RecordVideo(
            env,
            str(video_dir),
            episode_trigger=lambda _: True,
            name_prefix="eval",
            disable_logger=True,
        )
    env = gym.wrappers.RecordEpisodeStatistics(env)
    if is_atari_env(env):
        env = wrap_atari(env, training=training)
    return env


VECTORIZATIONS = ("auto", "sync", "async", "native")
"""--vec: auto takes the env's native vector env where it has one, else sync."""


def make_vector_env(
    factory: EnvFactory, num_envs: int, vectorization: str = "auto", threads: int = 0
) -> gym.vector.VectorEnv:
    """``num_envs`` envs in a Gymnasium vector env that resets finished envs in the same step.

    ``sync`` and ``async`` wrap ``num_envs`` single envs; ``native`` (and ``auto``, where
    it exists) is the env's own batched vector env, e.g. SeqGAN-v0's, on ``threads``
    threads where it has a pool of its own (0: its own choice).

    Same-step autoreset puts the last observation of a finished episode in
    ``info["final_obs"]``, which agents need to bootstrap truncated episodes.
    """
    if num_envs < 1:
        raise UserError(f"--num-envs must be at least 1, got {num_envs}")
    if vectorization not in VECTORIZATIONS:
        raise UserError(f"--vec must be one of {', '.join(VECTORIZATIONS)}, got {vectorization!r}")
    if vectorization in ("auto", "native") and factory.make_vector is not None:
        pool = {"num_threads": threads} if factory.vector_threads and threads else {}
        try:
            envs = factory.make_vector(num_envs=num_envs, **pool, **factory.kwargs)
        except (TypeError, ValueError) as exc:
            raise UserError(f"env {factory.name!r} rejected {dict(factory.kwargs)}: {exc}") from exc
        if _records_episodes(envs):  # ale-py's, under its life-loss signals
            return envs
        return gym.wrappers.vector.RecordEpisodeStatistics(envs)
    if vectorization == "native":
        raise UserError(
            f"env {factory.name!r} has no native vector env that resets in the same step; "
            "use --vec auto, sync or async"
        )
    fns = [lambda: make_env(factory) for _ in range(num_envs)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if vectorization == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def _records_episodes(envs: gym.vector.VectorEnv) -> bool:
    """Whether a vector env already has episode statistics somewhere in its wrappers."""
    while True:
        if isinstance(envs, gym.wrappers.vector.RecordEpisodeStatistics):
            return True
        if not isinstance(envs, gym.vector.VectorWrapper):
            return False
        envs = envs.env
