"""Observation encoders, picked by the observation space's class through one registry.

``make_encoder(space)`` takes the encoder registered for the space's class, the most specific
first (a subclass's own registration wins over its base class's), so a new kind of
observation is one ``register_encoder`` away, with no change to the networks:

- ``Discrete``: one-hot;
- ``Box``: the Nature CNN (Mnih et al. 2015) for images (uint8, scaled inside), a flatten
  for vectors;
- ``TokenPrefix`` (``advrl.core.spaces``): SeqGAN's token LSTM (``advrl.agents.token_lstm``).

An encoder may also shape the policy above it, through optional methods that
``ActorCritic`` calls when the encoder has them (``InitialisesPolicy``, ``ExposesPolicy``,
``TeacherForced``); the token LSTM has all three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from advrl.agents.token_lstm import TokenLSTM
from advrl.core.modules import NatureCNN, is_image_space
from advrl.core.spaces import TokenPrefix


@dataclass(frozen=True)
class EncoderOptions:
    """Widths that the agent's config sets for the encoders that read them."""

    token_lstm: tuple[int, int] = (32, 32)
    """(embedding, hidden) width of the token LSTM (SeqGAN: 32, 32)."""


EncoderBuilder = Callable[[Any, EncoderOptions], tuple[nn.Module, int]]
"""``build(space, options)`` -> the encoder and the size of its (B, features) output; the
space is one of the class it is registered for."""


@dataclass(frozen=True)
class EncoderEntry:
    """A registered encoder: how to build it, and whether it gains from threads."""

    build: EncoderBuilder
    splits_over_threads: bool | Callable[[spaces.Space], bool]
    """Whether the encoder is large enough to gain from torch's intra-op threads
    (``advrl.core.threads``), or a function of the space that says so."""


ENCODERS: dict[type[spaces.Space], EncoderEntry] = {}
"""The registry, by observation space class; ``register_encoder`` fills it."""


def register_encoder(
    space_type: type[spaces.Space],
    *,
    splits_over_threads: bool | Callable[[spaces.Space], bool] = False,
) -> Callable[[EncoderBuilder], EncoderBuilder]:
    """Register the decorated ``build(space, options)`` as the encoder of ``space_type``
    (and of its subclasses that have none of their own); a later registration for the same
    class replaces the earlier one."""

    def register(build: EncoderBuilder) -> EncoderBuilder:
        ENCODERS[space_type] = EncoderEntry(build, splits_over_threads)
        return build

    return register


def encoder_entry(space: spaces.Space) -> EncoderEntry | None:
    """The registration for ``space``'s class, the most specific first; None if none."""
    for cls in type(space).__mro__:
        if cls in ENCODERS:
            return ENCODERS[cls]
    return None


def make_encoder(
    space: spaces.Space, token_lstm: tuple[int, int] = (32, 32)
) -> tuple[nn.Module, int]:
    """The encoder registered for an observation space, and its feature size; a space with
    none is a ValueError that names the fix.

    ``token_lstm`` is the (embedding, hidden) width of the token LSTM (SeqGAN: 32, 32).
    """
    entry = encoder_entry(space)
    if entry is None:
        raise ValueError(
            f"advrl's networks take Discrete or Box observations, not {space}; flatten it "
            "with a wrapper such as gymnasium.wrappers.FlattenObservation, or register an "
            "encoder for its class with advrl.agents.register_encoder"
        )
    return entry.build(space, EncoderOptions(token_lstm=token_lstm))


def splits_over_threads(space: spaces.Space) -> bool:
    """Whether the encoder for ``space`` is large enough to gain from torch's intra-op threads:
    the Nature CNN and the token LSTM (with its vocabulary-wide softmax) are; an MLP over a
    vector is not (``advrl.core.threads``). As its registration declares it."""
    entry = encoder_entry(space)
    if entry is None:
        return False
    if callable(entry.splits_over_threads):
        return entry.splits_over_threads(space)
    return entry.splits_over_threads


# --- the hooks an encoder may have ----------------------------------------------------


@runtime_checkable
class InitialisesPolicy(Protocol):
    """An encoder that initialises the actor head above it, after ``ActorCritic`` made both
    (the token LSTM: SeqGAN's N(0, 0.1) over itself and the head)."""

    def init_policy(self, actor: nn.Module) -> None: ...


@runtime_checkable
class ExposesPolicy(Protocol):
    """An encoder whose policy module (observations -> the actor's outputs) is more than
    ``Sequential(encoder, torso, actor)`` (the token LSTM's steps one token at a time)."""

    def policy_module(self, torso: nn.Module, actor: nn.Module) -> nn.Module: ...


@runtime_checkable
class TeacherForced(Protocol):
    """An encoder of whole sequences at once: features (B, T, H) predicting each token of
    ``sequences`` (B, T) from its prefix (MLE and likelihoods)."""

    def teacher_forced(
        self, sequences: torch.Tensor, start_id: int, dropout: float = 0.0
    ) -> torch.Tensor: ...


# --- the built-in encoders ------------------------------------------------------------


class OneHot(nn.Module):
    """Encode a Discrete observation (an integer) as a one-hot vector."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x.long().reshape(-1), self.n).float()


@register_encoder(spaces.Discrete)
def one_hot_encoder(space: spaces.Discrete, options: EncoderOptions) -> tuple[nn.Module, int]:
    """A one-hot vector of the observation."""
    return OneHot(int(space.n)), int(space.n)


@register_encoder(spaces.Box, splits_over_threads=is_image_space)
def box_encoder(space: spaces.Box, options: EncoderOptions) -> tuple[nn.Module, int]:
    """The Nature CNN for channels-first images, a flatten for every other Box."""
    if is_image_space(space):
        channels_first = space.shape[0] <= 4 or space.shape[0] < space.shape[-1]
        if not channels_first:
            raise ValueError(
                f"image observations must be channels-first (C, H, W); got {space.shape}. "
                "Wrap the env in a transpose (e.g. gymnasium's FrameStackObservation on "
                "grayscale frames)"
            )
        return NatureCNN(space.shape[0], space.shape), 512
    return nn.Flatten(), int(np.prod(space.shape))


@register_encoder(TokenPrefix, splits_over_threads=True)
def token_lstm_encoder(space: TokenPrefix, options: EncoderOptions) -> tuple[nn.Module, int]:
    """SeqGAN's token LSTM over the prefix."""
    encoder = TokenLSTM(space.vocab_size, *options.token_lstm)
    return encoder, encoder.hidden_dim
