"""Networks shared by every agent, picked from the observation and action spaces.

- Encoders: registered by observation space class (``advrl.agents.encoders``): one-hot for
  ``Discrete``, flatten or the Nature CNN for ``Box``, the token LSTM for ``TokenPrefix``.
- Policy heads: categorical for ``Discrete`` actions, diagonal Gaussian with a
  state-independent log std for ``Box`` actions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical

from advrl.agents.encoders import (
    ExposesPolicy,
    InitialisesPolicy,
    OneHot,
    TeacherForced,
    make_encoder,
    register_encoder,
    splits_over_threads,
)
from advrl.agents.token_lstm import LSTMState, TokenLSTM, TokenPolicy, locked_dropout, seqgan_init
from advrl.core.modules import ACTIVATIONS, is_vector_space, mlp
from advrl.core.normalization import ObservationNormalizer


class DiagonalGaussian:
    """A Gaussian over action vectors with independent dimensions: the numbers of
    ``Independent(Normal(mean, std), 1)``, computed with the same arithmetic, so a run
    is the same bit for bit.

    torch.distributions checks and broadcasts its arguments on every call, which at one
    observation a rollout step is most of the cost: sampling and scoring one Hopper-v5
    action took 60-68 us through it and 45 us here.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean, self.std = mean, std

    def sample(self) -> torch.Tensor:
        with torch.no_grad():
            return torch.normal(self.mean, self.std)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a), summed over the action dimensions: shape (B,)."""
        per_dim = (
            -((actions - self.mean) ** 2) / (2 * self.std**2)
            - self.std.log()
            - math.log(math.sqrt(2 * math.pi))
        )
        return per_dim.sum(-1)

    def entropy(self) -> torch.Tensor:
        return (0.5 + 0.5 * math.log(2 * math.pi) + torch.log(self.std)).sum(-1)


PolicyDistribution = Categorical | DiagonalGaussian
"""A policy's action distribution: ``sample``, ``log_prob`` and ``entropy`` per row."""


class ActorCritic(nn.Module):
    """A stochastic policy and a state-value function over one encoder.

    The encoder (``make_encoder``) holds parameters for images (the Nature CNN, shared by actor
    and critic as in CleanRL's Atari PPO) and token prefixes (the token LSTM). Above it, the
    actor and critic are separate MLPs by default (SB3's default for vector observations), or,
    with ``shared=True``, one MLP torso with two linear heads. An encoder with the hooks of
    ``advrl.agents.encoders`` initialises the actor, exposes its own policy module, or reads
    whole sequences (``teacher_forced_logits``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        hidden_sizes: Sequence[int] = (64, 64),
        log_std_init: float = 0.0,
        shared: bool = False,
        token_lstm: tuple[int, int] = (32, 32),
        activation: str = "tanh",
        ortho_init: bool = True,
        normalize_obs: bool = False,
    ) -> None:
        super().__init__()
        self.obs_norm: ObservationNormalizer | None = None
        if normalize_obs:
            if not is_vector_space(observation_space):
                raise ValueError(
                    f"normalize_obs standardises vector observations (a float Box), not "
                    f"{observation_space}"
                )
            self.obs_norm = ObservationNormalizer(tuple(observation_space.shape))
        self.encoder, features = make_encoder(observation_space, token_lstm)
        self.action_space = action_space
        self.torso: nn.Module = nn.Identity()
        head_hidden: Sequence[int] = hidden_sizes
        layers = functools.partial(mlp, activation=ACTIVATIONS[activation], orthogonal=ortho_init)
        if shared and hidden_sizes:
            self.torso = layers(features, hidden_sizes, out_dim=None)
            features, head_hidden = hidden_sizes[-1], ()
        if isinstance(action_space, spaces.Discrete):
            self.actor = layers(features, head_hidden, int(action_space.n), 0.01)
            self.log_std = None
        elif isinstance(action_space, spaces.Box):
            action_dim = int(np.prod(action_space.shape))
            self.actor = layers(features, head_hidden, action_dim, 0.01)
            self.log_std = nn.Parameter(torch.full((action_dim,), log_std_init))
        else:
            raise ValueError(f"no policy head for action space {action_space}")
        self.critic = layers(features, head_hidden, 1, 1.0)
        if isinstance(self.encoder, InitialisesPolicy):  # e.g. SeqGAN's N(0, 0.1)
            self.encoder.init_policy(self.actor)

    def forward(self, obs: torch.Tensor) -> tuple[PolicyDistribution, torch.Tensor]:
        """The action distribution and V(s) (B,), from one pass through the encoder."""
        features = self.features(obs)
        return self._distribution(self.actor(features)), self.critic(features).squeeze(-1)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """What the actor and critic heads read: (normalised) observations, encoded."""
        if self.obs_norm is not None:
            obs = self.obs_norm(obs)
        return self.torso(self.encoder(obs))

    def distribution(self, obs: torch.Tensor) -> PolicyDistribution:
        """The policy's action distribution; log_prob and entropy sum over action dims."""
        return self._distribution(self.actor(self.features(obs)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s), shape (B,)."""
        return self.critic(self.features(obs)).squeeze(-1)

    def logits_module(self) -> nn.Module:
        """Observations -> the actor's raw outputs, as one module sharing these weights.

        For a categorical policy, next-action logits: SeqGAN-v0's rollout policy and the
        generator that MLE pre-trains (with ``teacher_forced_logits``). An encoder may expose
        more (``ExposesPolicy``): over the token LSTM it is a ``TokenPolicy``, which can also
        be stepped one token at a time.
        """
        if isinstance(self.encoder, ExposesPolicy):
            return self.encoder.policy_module(self.torso, self.actor)
        normalize = [self.obs_norm] if self.obs_norm is not None else []
        return nn.Sequential(*normalize, self.encoder, self.torso, self.actor)

    def teacher_forced_logits(
        self, sequences: torch.Tensor, start_id: int, dropout: float = 0.0
    ) -> torch.Tensor:
        """Logits (B, T, V) of every token of whole sequences (B, T), for encoders of whole
        sequences (``TeacherForced``: the token LSTM); ``dropout`` as in
        ``TokenLSTM.teacher_forced``."""
        if not isinstance(self.encoder, TeacherForced):
            raise TypeError(
                "teacher_forced_logits needs an encoder of whole sequences (the token LSTM)"
            )
        features = self.encoder.teacher_forced(sequences, start_id, dropout)
        return self.actor(self.torso(features))

    def _distribution(self, out: torch.Tensor) -> PolicyDistribution:
        # Argument validation costs more than the forward pass at RL batch sizes; our
        # actions always come from these distributions, so it is off.
        if self.log_std is None:
            return Categorical(logits=out, validate_args=False)
        return DiagonalGaussian(out, self.log_std.exp().expand_as(out))

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Sample an action, or take the mode (argmax / mean) when deterministic."""
        dist = self.distribution(obs)
        if not deterministic:
            return dist.sample()
        if isinstance(dist, Categorical):
            return dist.probs.argmax(dim=-1)
        return dist.mean

    def env_action(self, action: torch.Tensor) -> np.ndarray:
        """Convert policy actions to what the env takes: ints, or Box actions clipped to bounds."""
        array = action.cpu().numpy()
        space = self.action_space
        if not isinstance(space, spaces.Box):  # Discrete
            return array
        # np.clip's numbers; its Python wrapper costs more than the two ufuncs here.
        return np.minimum(np.maximum(array.reshape(-1, *space.shape), space.low), space.high)


def make_adam(params: Iterable[nn.Parameter], lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with torch's fused kernel where it has one (CPU since torch 2.4, CUDA).

    The same update in one kernel instead of a Python loop over parameters: measurably
    faster for the small networks of RL.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, eps=eps)


def obs_to_tensor(obs: np.ndarray, device: torch.device) -> torch.Tensor:
    """A batch of observations as a tensor: floats as float32, integers and uint8 kept."""
    array = np.asarray(obs)
    if array.dtype.kind == "f":  # float32 in numpy: cheaper than a torch cast, same numbers
        array = array.astype(np.float32, copy=False)
    return torch.from_numpy(array).to(device)  # zero-copy on CPU


__all__ = [
    "ActorCritic",
    "DiagonalGaussian",
    "LSTMState",
    "OneHot",
    "TokenLSTM",
    "TokenPolicy",
    "locked_dropout",
    "make_adam",
    "make_encoder",
    "obs_to_tensor",
    "register_encoder",
    "seqgan_init",
    "splits_over_threads",
]
