"""Observation spaces that say what they hold, so that networks are picked by the space's
class (``advrl.agents.encoders``) rather than by probing its attributes."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class TokenPrefix(spaces.MultiDiscrete):
    """Prefixes of token sequences: ``[t, start, x_1..x_T]`` with 0 <= t <= T.

    One array holds the prefix's length t, the start token's id and the tokens so far (the
    slots after x_t are padding), from a vocabulary of ``vocab_size`` ids; T is ``length``.
    A ``MultiDiscrete``, so Stable-Baselines3 and the env checkers take it as it is; advrl's
    networks give it the token LSTM encoder (SeqGAN-v0's observations are these).
    """

    def __init__(self, vocab_size: int, length: int, seed: Any = None) -> None:
        nvec = np.array([length + 1] + [vocab_size] * (length + 1), dtype=np.int64)
        super().__init__(nvec, dtype=np.int64, seed=seed)

    @property
    def vocab_size(self) -> int:
        return int(self.nvec[1])

    @property
    def length(self) -> int:
        """T, the number of tokens in a whole sequence."""
        return int(self.nvec[0]) - 1

    def __repr__(self) -> str:
        return f"TokenPrefix(vocab_size={self.vocab_size}, length={self.length})"
