"""Networks shared by every agent, picked from the observation and action spaces.

- Encoders: one-hot for ``Discrete`` observations, flatten for vector ``Box`` observations,
  the Nature CNN (Mnih et al. 2015) for image ``Box`` observations (uint8, scaled inside),
  and SeqGAN's token LSTM for token prefixes (``TokenPrefix``, SeqGAN-v0's observations).
- Policy heads: categorical for ``Discrete`` actions, diagonal Gaussian with a
  state-independent log std for ``Box`` actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from advrl.core.modules import NatureCNN, is_image_space, mlp


class OneHot(nn.Module):
    """Encode a Discrete observation (an integer) as a one-hot vector."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x.long().reshape(-1), self.n).float()


class TokenLSTM(nn.Module):
    """SeqGAN's generator body: token embedding + LSTM over a prefix -> (B, H) features.

    Observations are ``TokenPrefix`` arrays ``[t, start, x_1..x_T]``; the features are the
    LSTM output after reading ``start, x_1..x_t``, from which a linear head gives the
    logits of x_{t+1}. ``teacher_forced`` gives the features of every position of whole
    sequences in one pass, for MLE pre-training and likelihoods, optionally with variational
    dropout (Gal and Ghahramani 2016: one mask per sequence, shared over its positions, on
    the LSTM's inputs and outputs), the regulariser of the strongest MLE on SeqGAN's oracle
    (Caccia et al. 2020). Only teacher-forced passes in training mode drop units; acting
    never does.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_dim: int = 32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.hidden_dim = hidden_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.long()
        lengths = obs[:, 0]  # (B,)
        # The LSTM is causal: inputs after a row's prefix cannot change its features, so
        # one pass up to the longest prefix serves every row.
        inputs = obs[:, 1 : 2 + int(lengths.max())]  # (B, 1 + max t): start, tokens
        out, _ = self.lstm(self.embedding(inputs))  # (B, 1 + max t, H)
        return out[torch.arange(len(obs), device=obs.device), lengths]  # (B, H)

    def teacher_forced(
        self, sequences: torch.Tensor, start_id: int, dropout: float = 0.0
    ) -> torch.Tensor:
        """Features (B, T, H) predicting each token of ``sequences`` (B, T) from its prefix;
        in training mode with ``dropout`` > 0, through variational dropout masks."""
        start = torch.full_like(sequences[:, :1], start_id)
        inputs = torch.cat([start, sequences[:, :-1]], dim=1).long()  # (B, T)
        embedded = self.embedding(inputs)
        if not (self.training and dropout > 0):
            return self.lstm(embedded)[0]
        out = self.lstm(locked_dropout(embedded, dropout))[0]
        return locked_dropout(out, dropout)


def locked_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """``x`` (B, T, D) with one dropout mask per row, the same at every position."""
    keep = torch.empty_like(x[:, :1]).bernoulli_(1.0 - p) / (1.0 - p)  # (B, 1, D)
    return x * keep


LSTMState = tuple[torch.Tensor, torch.Tensor]
"""(h, c) of a one-layer LSTM, each (1, B, H)."""


class TokenPolicy(nn.Sequential):
    """(token LSTM, torso, actor): next-token logits of token prefixes, ``forward(obs)``,
    and the same network one token at a time, ``start`` then ``step``.

    Sampling a whole sequence through ``forward`` re-reads the prefix at every token: O(T²)
    LSTM steps. ``start`` reads each prefix once and ``step`` advances the LSTM state by one
    token, O(T) in all; a state can be copied to branch N completions from one prefix.
    """

    def start(self, obs: torch.Tensor) -> tuple[torch.Tensor, LSTMState]:
        """Logits (B, V) after each row's prefix ``[t, start, x_1..x_t]`` and the LSTM
        state there; rows may have different lengths t."""
        encoder, torso, actor = self
        obs = obs.long()
        lengths = obs[:, 0]
        inputs = encoder.embedding(obs[:, 1 : 2 + int(lengths.max())])  # (B, 1 + max t, E)
        packed = nn.utils.rnn.pack_padded_sequence(
            inputs, (lengths + 1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h, c) = encoder.lstm(packed)  # the state after each row's own last input
        return actor(torso(h[0])), (h, c)

    def step(self, tokens: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """Feed one token per row (B,): the next logits (B, V) and the new state."""
        encoder, torso, actor = self
        out, state = encoder.lstm(encoder.embedding(tokens.long()).unsqueeze(1), state)
        return actor(torso(out[:, 0])), state


def is_token_prefix_space(space: spaces.Space) -> bool:
    """SeqGAN-v0's observations (``advrl.envs.seqgan.TokenPrefix``)."""
    return hasattr(space, "vocab_size") and isinstance(space, spaces.MultiDiscrete)


def splits_over_threads(space: spaces.Space) -> bool:
    """Whether the encoder for ``space`` is large enough to gain from torch's intra-op threads:
    the Nature CNN and the token LSTM (with its vocabulary-wide softmax) are; an MLP over a
    vector is not (``advrl.core.threads``)."""
    return is_token_prefix_space(space) or is_image_space(space)


def make_encoder(
    space: spaces.Space, token_lstm: tuple[int, int] = (32, 32)
) -> tuple[nn.Module, int]:
    """Pick the encoder for an observation space; returns it and its feature size.

    ``token_lstm`` is the (embedding, hidden) width of the token LSTM (SeqGAN: 32, 32).
    """
    if isinstance(space, spaces.Discrete):
        return OneHot(int(space.n)), int(space.n)
    if is_token_prefix_space(space):
        encoder = TokenLSTM(space.vocab_size, *token_lstm)
        return encoder, encoder.hidden_dim
    if is_image_space(space):
        channels_first = space.shape[0] <= 4 or space.shape[0] < space.shape[-1]
        if not channels_first:
            raise ValueError(
                f"image observations must be channels-first (C, H, W); got {space.shape}. "
                "Wrap the env in a transpose (e.g. gymnasium's FrameStackObservation on "
                "grayscale frames)"
            )
        return NatureCNN(space.shape[0], space.shape), 512
    if isinstance(space, spaces.Box):
        return nn.Flatten(), int(np.prod(space.shape))
    raise ValueError(
        f"advrl's networks take Discrete or Box observations, not {space}; flatten it with a "
        "wrapper such as gymnasium.wrappers.FlattenObservation"
    )


def seqgan_init(*modules: nn.Module) -> None:
    """SeqGAN's generator initialisation: every weight and bias drawn from N(0, 0.1).

    The RL defaults (an N(0, 1) embedding, an orthogonal output layer of gain 0.01) start the
    token policy almost uniform with almost no gradient through its head, and MLE on the
    paper's oracle then lags the paper's curve (NLL-oracle 9.76 against 9.47 after 5 epochs,
    the authors' log: 9.43; 9.48 against 9.15 after 10, the authors': 9.24).
    """
    for module in modules:
        for parameter in module.parameters():
            nn.init.normal_(parameter, 0.0, 0.1)


class ActorCritic(nn.Module):
    """A stochastic policy and a state-value function over one encoder.

    The encoder holds parameters only for images (the Nature CNN, shared by actor and critic
    as in CleanRL's Atari PPO). Above it, the actor and critic are separate MLPs by default
    (SB3's default for vector observations), or, with ``shared=True``, one MLP torso with two
    linear heads.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        hidden_sizes: Sequence[int] = (64, 64),
        log_std_init: float = 0.0,
        shared: bool = False,
        token_lstm: tuple[int, int] = (32, 32),
    ) -> None:
        super().__init__()
        self.encoder, features = make_encoder(observation_space, token_lstm)
        self.action_space = action_space
        self.torso: nn.Module = nn.Identity()
        head_hidden: Sequence[int] = hidden_sizes
        if shared and hidden_sizes:
            self.torso = mlp(features, hidden_sizes, out_dim=None)
            features, head_hidden = hidden_sizes[-1], ()
        if isinstance(action_space, spaces.Discrete):
            self.actor = mlp(features, head_hidden, int(action_space.n), out_gain=0.01)
            self.log_std = None
        elif isinstance(action_space, spaces.Box):
            action_dim = int(np.prod(action_space.shape))
            self.actor = mlp(features, head_hidden, action_dim, out_gain=0.01)
            self.log_std = nn.Parameter(torch.full((action_dim,), log_std_init))
        else:
            raise ValueError(f"no policy head for action space {action_space}")
        self.critic = mlp(features, head_hidden, 1, out_gain=1.0)
        if isinstance(self.encoder, TokenLSTM):
            seqgan_init(self.encoder, self.actor)

    def forward(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """The action distribution and V(s) (B,), from one pass through the encoder."""
        features = self.torso(self.encoder(obs))
        return self._distribution(self.actor(features)), self.critic(features).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> Distribution:
        """The policy's action distribution; log_prob and entropy sum over action dims."""
        return self._distribution(self.actor(self.torso(self.encoder(obs))))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s), shape (B,)."""
        return self.critic(self.torso(self.encoder(obs))).squeeze(-1)

    def logits_module(self) -> nn.Module:
        """Observations -> the actor's raw outputs, as one module sharing these weights.

        For a categorical policy, next-action logits: SeqGAN-v0's rollout policy and the
        generator that MLE pre-trains (with ``teacher_forced_logits``). Over the token LSTM
        it is a ``TokenPolicy``, which can also be stepped one token at a time.
        """
        if isinstance(self.encoder, TokenLSTM):
            return TokenPolicy(self.encoder, self.torso, self.actor)
        return nn.Sequential(self.encoder, self.torso, self.actor)

    def teacher_forced_logits(
        self, sequences: torch.Tensor, start_id: int, dropout: float = 0.0
    ) -> torch.Tensor:
        """Logits (B, T, V) of every token of whole sequences (B, T): token LSTM only;
        ``dropout`` as in ``TokenLSTM.teacher_forced``."""
        if not isinstance(self.encoder, TokenLSTM):
            raise TypeError("teacher_forced_logits needs the token LSTM encoder")
        features = self.encoder.teacher_forced(sequences, start_id, dropout)
        return self.actor(self.torso(features))

    def _distribution(self, out: torch.Tensor) -> Distribution:
        # Argument validation costs more than the forward pass at RL batch sizes; our
        # actions always come from these distributions, so it is off.
        if self.log_std is None:
            return Categorical(logits=out, validate_args=False)
        normal = Normal(out, self.log_std.exp().expand_as(out), validate_args=False)
        return Independent(normal, 1, validate_args=False)

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Sample an action, or take the mode (argmax / mean) when deterministic."""
        dist = self.distribution(obs)
        if not deterministic:
            return dist.sample()
        if self.log_std is None:
            return dist.probs.argmax(dim=-1)
        return dist.mean

    def env_action(self, action: torch.Tensor) -> np.ndarray:
        """Convert policy actions to what the env takes: ints, or Box actions clipped to bounds."""
        array = action.cpu().numpy()
        if self.log_std is None:
            return array
        low, high = self.action_space.low, self.action_space.high
        return np.clip(array.reshape(-1, *self.action_space.shape), low, high)


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
    tensor = torch.from_numpy(np.asarray(obs)).to(device)  # zero-copy on CPU
    return tensor.float() if tensor.is_floating_point() else tensor
