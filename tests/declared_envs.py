"""User-style envs that declare what advrl should know of them (``metadata["advrl"]``), for
the encoder and capability tests; importing this module registers JudgedCorridor-v0.

``JudgedCorridor``'s reward is declared learned (a sweep may not stop its trials early on
returns); ``GeneratorCorridor`` brings a training recipe, ``"counting"`` (the tests register
it), and is evaluated as a generator; ``DictDeclaredCorridor`` declares with a plain dict,
as a module that does not import advrl can.
"""

import gymnasium as gym
from custom_envs import Corridor

from advrl.core.capabilities import EnvCapabilities


class JudgedCorridor(Corridor):
    """A Corridor whose reward, says its metadata, is a learned model's score."""

    metadata = {**Corridor.metadata, "advrl": EnvCapabilities(learned_reward=True)}


class GeneratorCorridor(Corridor):
    """A Corridor that brings the ``counting`` recipe and is judged as a generator."""

    metadata = {
        **Corridor.metadata,
        "advrl": EnvCapabilities(recipe="counting", learned_reward=True, generator=True),
    }


class DictDeclaredCorridor(Corridor):
    """JudgedCorridor's declaration, as a dict."""

    metadata = {**Corridor.metadata, "advrl": {"learned_reward": True}}


if "JudgedCorridor-v0" not in gym.registry:
    gym.register(id="JudgedCorridor-v0", entry_point=JudgedCorridor, max_episode_steps=50)
