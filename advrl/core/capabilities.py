"""What an env declares about itself, so that generic code never recognises an env by name.

An env class publishes ``EnvCapabilities`` in Gymnasium's ``metadata`` dict, under
``"advrl"`` (an ``EnvCapabilities``, or a plain dict of its fields for an env module that
does not import advrl). It is read from the class, so an env id or ``module:Class`` answers
without building the env (``env_capabilities("SeqGAN-v0")``), and so does a built env:

    class MyGAN(gym.Env):
        metadata = {"render_modes": [], "advrl": EnvCapabilities(learned_reward=True)}

The same pieces find the class that an ``--env`` value names (``env_creator``): a registered
id's entry point, or a user module's attribute, imported from the current folder as
``--env`` does.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

from advrl.core.errors import UserError

METADATA_KEY = "advrl"
"""The key of ``metadata`` that holds an env's capabilities."""


@dataclass(frozen=True)
class EnvCapabilities:
    """What an env brings to training and evaluation, beyond the Gymnasium API."""

    recipe: str | None = None
    """The training recipe the env brings, by name: ``advrl.plugins.RECIPES`` maps it to its
    options (``--recipe-kwargs``) and plug-ins (SeqGAN-v0: ``"seqgan"``, MLE pre-training
    and the rollout policy's sync)."""
    learned_reward: bool = False
    """The reward is learned or adversarial (a discriminator's score), so a training return
    says nothing of quality: a sweep cannot stop trials early on it (ASHA)."""
    generator: bool = False
    """The agent is a generator, evaluated by its recipe's generation metrics rather than by
    episode returns (``evaluate.py``)."""


def env_capabilities(env: Any) -> EnvCapabilities:
    """The capabilities that ``env`` declares: a built env or vector env (wrapped or not), its
    class or factory, or an ``--env`` value (a registered id or ``module:Attr``). An env that
    declares none, or a value that names no env, has the defaults (none)."""
    if isinstance(env, str):
        env = env_creator(env)
    if isinstance(env, (gym.Env, gym.vector.VectorEnv)):
        env = env.unwrapped  # under its wrappers, whose metadata may be their own
    metadata = getattr(env, "metadata", None)
    declared = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    if declared is None or isinstance(declared, EnvCapabilities):
        return declared or EnvCapabilities()
    if isinstance(declared, Mapping):
        fields = {f.name for f in dataclasses.fields(EnvCapabilities)}
        unknown = sorted(set(declared) - fields)
        if not unknown:
            return EnvCapabilities(**declared)
        raise UserError(
            f"{_name(env)}'s metadata[{METADATA_KEY!r}] has unknown capabilities {unknown}; "
            f"the known ones are {sorted(fields)}"
        )
    raise UserError(
        f"{_name(env)}'s metadata[{METADATA_KEY!r}] should be an advrl EnvCapabilities or a "
        f"dict of its fields, not {type(declared).__name__}"
    )


def _name(env: Any) -> str:
    return getattr(env, "__name__", type(env).__name__)


def env_creator(spec: str) -> Any:
    """The class or function that the ``--env`` value ``spec`` is built by, without building
    anything; None when it names nothing found (making the env reports why)."""
    module_name, sep, attr = spec.partition(":")
    env_id = spec
    if sep:
        try:
            module = import_user_module(module_name)
        except ImportError:
            return None
        if attr.isidentifier() and hasattr(module, attr):
            return getattr(module, attr)
        env_id = attr  # Gymnasium's module:EnvId, registered by importing the module
    try:
        return registered_creator(env_id)
    except (ImportError, AttributeError):  # an entry point that does not load
        return None


def registered_creator(env_id: str, vector: bool = False) -> Any:
    """The class or function a registered id is built by (its vector env's with ``vector``);
    None for an unregistered id or a missing vector entry point."""
    if env_id not in gym.registry:
        return None
    spec = gym.registry[env_id]
    entry = spec.vector_entry_point if vector else spec.entry_point
    return load_env_creator(entry) if isinstance(entry, str) else entry


def import_user_module(module_name: str) -> ModuleType:
    """Import a module named in ``--env``, from the current folder or ``PYTHONPATH``."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(module_name)
