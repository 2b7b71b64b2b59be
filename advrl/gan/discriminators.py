"""Sequence discriminators: SeqGAN's CNN over token embeddings (Yu et al., AAAI 2017).

The architecture is Kim (2014)'s sentence CNN with a highway layer, as in SeqGAN's
``discriminator.py``: embed the tokens, run parallel 1-D convolutions of several widths
over time, ReLU, max-over-time pooling (one feature per filter: "is this n-gram pattern
anywhere in the sequence?"), a highway layer, dropout, and a linear map to one logit.
A single logit is SeqGAN's two-class softmax with one redundant row removed.

``SequenceCNNConfig.paper()`` is the full-size network of the paper's synthetic
experiment: 1720 filters, 7.0M parameters with V = 5000, 5.9M of them in the 1720-wide
highway layer. ``small()`` is the CPU default: 250 filters, 0.31M parameters (0.15M outside
the embedding), about 10x faster forward and backward on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


@dataclass
class SequenceCNNConfig:
    """Sizes of a ``SequenceCNN``."""

    vocab_size: int = 5000
    """V: token ids are in [0, V)."""
    embed_dim: int = 32
    """Token embedding size (the paper: 64)."""
    filter_sizes: tuple[int, ...] = (1, 2, 3, 4, 5)
    """Convolution widths in tokens: the n of the n-gram detectors."""
    num_filters: tuple[int, ...] = field(default=(50, 50, 50, 50, 50))
    """Filters per width; the sum is the feature size."""
    dropout: float = 0.25
    """Drop probability before the output layer (the paper keeps 0.75)."""
    highway_bias: float = -2.0
    """Initial bias of the highway gate: negative starts the layer close to the identity."""

    def __post_init__(self) -> None:
        self.filter_sizes, self.num_filters = tuple(self.filter_sizes), tuple(self.num_filters)
        if len(self.filter_sizes) != len(self.num_filters) or not self.filter_sizes:
            raise ValueError(
                f"filter_sizes {self.filter_sizes} and num_filters {self.num_filters} must be "
                "non-empty and of the same length"
            )
        if min(self.filter_sizes) < 1 or min(self.num_filters) < 1:
            raise ValueError("filter sizes and filter counts must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout is a drop probability in [0, 1), got {self.dropout}")

    @classmethod
    def paper(cls, vocab_size: int = 5000) -> SequenceCNNConfig:
        """SeqGAN's discriminator: embedding 64, widths 1-10, 15, 20, 1720 filters, keep 0.75."""
        return cls(vocab_size, 64, PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, dropout=0.25)

    @classmethod
    def small(cls, vocab_size: int = 5000) -> SequenceCNNConfig:
        """A CPU-sized default: embedding 32, widths 1-5 with 50 filters each."""
        return cls(vocab_size)

    @property
    def num_features(self) -> int:
        return sum(self.num_filters)


class Highway(nn.Module):
    """y = t * relu(W_h x) + (1 - t) * x with gate t = σ(W_t x + b) (Srivastava et al. 2015).

    A learned mix of a transform and the identity, so the layer can pass features through
    untouched; the gate bias starts negative, i.e. mostly carrying x.
    """

    def __init__(self, dim: int, gate_bias: float = -2.0) -> None:
        super().__init__()
        self.transform = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.sigmoid(self.gate(x))
        return t * F.relu(self.transform(x)) + (1 - t) * x


class SequenceCNN(nn.Module):
    """SeqGAN's CNN discriminator: token sequences (B, T) -> logits (B,) of P(real).

    It also accepts float input (B, T, V), one-hot rows or any distributions over tokens,
    embedded as a probability-weighted sum of embeddings; a one-hot input gives exactly the
    output of its token ids. This lets WGAN-GP interpolate between sequences and lets a
    generator's soft outputs be scored. Sequences shorter than the widest filter are padded
    at the end with zero embeddings, so every width yields at least one window.
    """

    def __init__(self, config: SequenceCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SequenceCNNConfig.small()
        self.vocab_size = config.vocab_size
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embed_dim, n, kernel_size=k)
            for k, n in zip(config.filter_sizes, config.num_filters, strict=True)
        )
        self.highway = Highway(config.num_features, config.highway_bias)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.num_features, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) or token distributions (B, T, V) -> embeddings (B, T, E)."""
        if x.is_floating_point():
            if x.ndim != 3 or x.shape[-1] != self.vocab_size:
                raise ValueError(
                    f"float input must be (B, T, V={self.vocab_size}) token distributions, "
                    f"got shape {tuple(x.shape)}"
                )
            return x @ self.embedding.weight  # (B, T, E)
        if x.ndim != 2:
            raise ValueError(f"token input must be (B, T) ids, got shape {tuple(x.shape)}")
        return self.embedding(x.long())  # (B, T, E)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Max-over-time n-gram features (B, F) before the highway layer."""
        emb = self.embed(x).transpose(1, 2)  # (B, E, T)
        if emb.shape[2] == 0:
            raise ValueError("cannot score empty sequences (T = 0)")
        shortfall = max(self.config.filter_sizes) - emb.shape[2]
        if shortfall > 0:
            emb = F.pad(emb, (0, shortfall))  # (B, E, max filter size)
        pooled = [F.relu(conv(emb)).amax(dim=2) for conv in self.convs]  # each (B, n_k)
        return torch.cat(pooled, dim=1)  # (B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(self.highway(self.features(x)))  # (B, F)
        return self.head(h).squeeze(1)  # (B,)
