"""The oracle LSTM of SeqGAN's synthetic-data experiment (Yu et al., AAAI 2017).

A fixed, randomly initialised LSTM plays "the real world": its samples are the real data,
and its own per-token NLL of a generator's samples (NLL-oracle) measures their quality.
The equations are exactly those of the paper's target LSTM (``target_lstm.py``), in the
row-vector convention of ``../shared/benchmarks/seqgan_oracle/README.md``::

    i  = sigmoid(x W_i + h U_i + b_i)        f  = sigmoid(x W_f + h U_f + b_f)
    o  = sigmoid(x W_o + h U_o + b_o)        c~ = tanh(x W_c + h U_c + b_c)
    c_t = f * c_{t-1} + i * c~               h_t = o * tanh(c_t)
    logits_t = h_t W_out + b_out

x is the embedding of the previous token (token 0 at step 0), and the state starts at zero.

Sampling is a two-level inverse CDF on the softmax (``sample_from_logits``): exact up to
float32 rounding, and several times cheaper on CPU than ``torch.multinomial`` over 5000
classes (a DESIGN.md pitfall). Everything runs in chunks of ``batch_size`` sequences, one
time step at a time, into one reused logits buffer, so 10,000 sequences never materialise
a (10000, 20, 5000) tensor. On one CPU thread of the development machine, 10,000 sequences
of 20 tokens took about 2 s to sample and 2 s to score. Keep torch's thread count at the
number of idle cores: with two threads competing against other jobs the same loops ran
10x slower.
"""

from __future__ import annotations

import functools
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from advrl.core.errors import UserError

GATES = ("i", "f", "o", "c")
"""Gate order of the fused weight matrices: input, forget, output, candidate."""

NPZ_KEYS = (
    "embedding",
    *(f"{kind}_{gate}" for gate in GATES for kind in ("W", "U", "b")),
    "W_out",
    "b_out",
)
"""Array names of the paper's parameter file (see the benchmarks README)."""


BLOCK = 64
"""Block width of the two-level inverse-CDF sampler (see ``block_width``)."""


@functools.lru_cache(maxsize=64)
def block_width(width: int) -> int:
    """The sampler's block width for rows of ``width`` tokens: ``BLOCK`` where it divides
    ``width``, else the divisor of ``width`` in [32, 128] nearest it (50 for V = 5000), so
    the mass needs no padded copy; ``BLOCK`` with padding where there is none."""
    divisors = [b for b in range(32, 129) if width % b == 0]
    return min(divisors, key=lambda b: (abs(b - BLOCK), b)) if divisors else BLOCK


def sample_from_logits(
    logits: torch.Tensor,
    u: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One exact draw per row of softmax(logits), by two-level inverse CDF: (B, V) -> (B,).

    Overwrites ``logits``. ``u`` (B,) are uniforms in [0, 1), drawn from ``generator`` when
    None. The CDF is searched in two steps: over the cumulative masses of blocks of about 64
    tokens (``block_width``), then inside the chosen block. That avoids a 5000-wide cumsum,
    the slowest step of a one-level search on CPU, and sums fewer float32 terms; the mass is never
    normalised (the uniform is scaled by the row total instead). Resolution is float32's:
    about 1e-7 of a row's mass, as with Gumbel-max in float32. A width with no divisor in
    [32, 128] costs a padded copy (``OracleLSTM.sample`` pads its logits with -inf columns).
    """
    rows, width = logits.shape
    if logits.requires_grad:  # a policy's logits: sample without touching its graph
        logits = logits.detach().clone()
    if u is None:
        u = torch.rand(rows, generator=generator, device=logits.device)
    mass = logits.sub_(logits.amax(-1, keepdim=True)).exp_()  # (B, V), unnormalised
    block = block_width(width)
    n_blocks = -(-width // block)
    if n_blocks * block != width:
        mass = nn.functional.pad(mass, (0, n_blocks * block - width))  # zero mass
    blocks = mass.view(rows, n_blocks, block)  # (B, nb, block)
    cum = blocks.sum(-1).cumsum_(-1)  # (B, nb)
    k, rest = _search(cum, u.reshape(rows, 1).to(cum.dtype) * cum[:, -1:])  # (B, 1) each
    inner = blocks[torch.arange(rows, device=mass.device), k.squeeze(1)].cumsum_(-1)  # (B, block)
    j, _ = _search(inner, rest)
    return (k * block + j).squeeze(1)  # (B,)


def _search(cum: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index (B, 1) of the first entry of each row of ``cum`` that exceeds ``target`` (B, 1),
    and how far ``target`` lies past the previous entry.

    ``target`` is first clamped into [0, row total): float rounding may push it just past
    either end, and an index found outside that range could have zero mass.
    """
    total = cum[:, -1:]
    target = torch.minimum(target.clamp_min(0), torch.nextafter(total, torch.zeros_like(total)))
    index = torch.searchsorted(cum, target, right=True)  # (B, 1), < width after the clamp
    below = cum.gather(1, (index - 1).clamp_min(0)).masked_fill_(index == 0, 0.0)
    return index, target - below


class OracleLSTM(nn.Module):
    """SeqGAN's target LSTM: a fixed sequence distribution to sample from and score with.

    The parameters are buffers (the oracle is never trained), fused over gates in the order
    i, f, o, c: ``w`` (E, 4H) = [W_i | W_f | W_o | W_c], ``u`` (H, 4H), ``b`` (4H,).
    Build one with ``OracleLSTM.random(...)`` or ``OracleLSTM.from_npz(path)``.
    """

    # Buffers (register_buffer): fixed weights that move with .to() but are never trained.
    embedding: torch.Tensor
    w: torch.Tensor
    u: torch.Tensor
    b: torch.Tensor
    w_out: torch.Tensor
    b_out: torch.Tensor

    def __init__(
        self,
        embedding: torch.Tensor,
        w: torch.Tensor,
        u: torch.Tensor,
        b: torch.Tensor,
        w_out: torch.Tensor,
        b_out: torch.Tensor,
        start_token: int = 0,
    ) -> None:
        super().__init__()
        vocab, emb = embedding.shape
        hidden = u.shape[0]
        expected = {
            "w": (emb, 4 * hidden),
            "u": (hidden, 4 * hidden),
            "b": (4 * hidden,),
            "w_out": (hidden, vocab),
            "b_out": (vocab,),
        }
        given = {"w": w, "u": u, "b": b, "w_out": w_out, "b_out": b_out}
        for name, shape in expected.items():
            if tuple(given[name].shape) != shape:
                raise ValueError(f"{name} has shape {tuple(given[name].shape)}, expected {shape}")
        if not 0 <= start_token < vocab:
            raise ValueError(f"start_token {start_token} is outside the vocabulary of {vocab}")
        self.register_buffer("embedding", embedding.float())
        self.register_buffer("w", w.float())
        self.register_buffer("u", u.float())
        self.register_buffer("b", b.float())
        self.register_buffer("w_out", w_out.float())
        self.register_buffer("b_out", b_out.float())
        self.start_token = start_token

    # --- construction -------------------------------------------------------------------

    @classmethod
    def random(
        cls, vocab: int = 5000, emb: int = 32, hidden: int = 32, seed: int = 0
    ) -> OracleLSTM:
        """A new oracle with every weight and bias N(0, 1), as the paper initialises its own.

        The arrays are drawn in ``NPZ_KEYS`` order from one ``torch.Generator`` seeded with
        ``seed``, so the same seed gives the same oracle on every machine.
        """
        g = torch.Generator().manual_seed(seed)
        shapes = {"embedding": (vocab, emb), "W_out": (hidden, vocab), "b_out": (vocab,)}
        for gate in GATES:
            shapes |= {f"W_{gate}": (emb, hidden), f"U_{gate}": (hidden, hidden)}
            shapes[f"b_{gate}"] = (hidden,)
        arrays = {key: torch.randn(shapes[key], generator=g) for key in NPZ_KEYS}
        return cls._from_arrays(arrays)

    @classmethod
    def from_npz(cls, path: str | Path) -> OracleLSTM:
        """Load the paper's parameters (``target_params.npz``, layout in the benchmarks README)."""
        path = Path(path)
        if not path.is_file():
            raise UserError(
                f"oracle parameter file not found: {path}; pass the path of an .npz file with "
                f"the arrays {', '.join(NPZ_KEYS)} (e.g. ../shared/benchmarks/seqgan_oracle/"
                "target_params.npz)"
            )
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array")
            with loaded as npz:
                arrays = {key: torch.from_numpy(np.array(npz[key])) for key in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise UserError(
                f"cannot read oracle parameters from {path} ({exc}); it must be a NumPy .npz "
                "archive as written by numpy.savez"
            ) from None
        missing = [key for key in NPZ_KEYS if key not in arrays]
        if missing:
            raise UserError(
                f"oracle parameter file {path} lacks the arrays {', '.join(missing)}; "
                f"it must hold {', '.join(NPZ_KEYS)}"
            )
        try:
            return cls._from_arrays(arrays)
        except ValueError as exc:
            raise UserError(
                f"oracle parameter file {path} has inconsistent shapes: {exc}"
            ) from None

    @classmethod
    def _from_arrays(cls, a: dict[str, torch.Tensor]) -> OracleLSTM:
        if a["embedding"].ndim != 2:
            raise ValueError(
                f"embedding must be 2-D (vocab, emb), got {tuple(a['embedding'].shape)}"
            )
        for gate in GATES:
            for kind in "WUb":
                key = f"{kind}_{gate}"
                like = a[f"{kind}_i"]
                if a[key].shape != like.shape:
                    raise ValueError(
                        f"{key} has shape {tuple(a[key].shape)}, {kind}_i {tuple(like.shape)}"
                    )
        return cls(
            embedding=a["embedding"],
            w=torch.cat([a[f"W_{gate}"] for gate in GATES], dim=1),
            u=torch.cat([a[f"U_{gate}"] for gate in GATES], dim=1),
            b=torch.cat([a[f"b_{gate}"] for gate in GATES]),
            w_out=a["W_out"],
            b_out=a["b_out"],
        )

    def to_npz(self, path: str | Path) -> None:
        """Save in the paper's layout, so ``from_npz`` (and other code) can read it back."""
        h = self.hidden_dim
        arrays = {"embedding": self.embedding, "W_out": self.w_out, "b_out": self.b_out}
        for k, gate in enumerate(GATES):
            cols = slice(k * h, (k + 1) * h)
            arrays |= {f"W_{gate}": self.w[:, cols], f"U_{gate}": self.u[:, cols]}
            arrays[f"b_{gate}"] = self.b[cols]
        numpy_arrays = {key: arrays[key].detach().cpu().numpy() for key in NPZ_KEYS}
        np.savez(path, **numpy_arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle

    # --- the recurrence -----------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[0]

    @property
    def embed_dim(self) -> int:
        return self.embedding.shape[1]

    @property
    def hidden_dim(self) -> int:
        return self.u.shape[0]

    def initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The zero state (h, c), each (n, H)."""
        zeros = torch.zeros(n, self.hidden_dim, device=self.embedding.device)
        return zeros, zeros.clone()

    def cell(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Feed the previous tokens (B,) and advance the state (h, c) by one step."""
        h, c = state
        x = self.embedding[tokens]  # (B, E)
        z = torch.addmm(self.b, x, self.w).addmm_(h, self.u)  # (B, 4H)
        i, f, o, c_tilde = z.split(self.hidden_dim, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(c_tilde)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def step(
        self,
        tokens: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits (B, V) of the next token after ``tokens`` (B,), and the new state.

        ``out`` (B, V) receives the logits if given: on CPU, reusing one buffer instead of
        allocating 5000 floats a row every step roughly halves the cost of sampling.
        """
        state = self.cell(tokens, state)
        return torch.addmm(self.b_out, state[0], self.w_out, out=out), state

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) of each position of ``sequences`` (B, T).

        Memory grows as B*T*V; for large batches use ``nll``, which streams over time.
        """
        tokens = self._inputs(sequences)  # (B, T)
        state = self.initial_state(sequences.shape[0])
        logits = []
        for t in range(sequences.shape[1]):
            out, state = self.step(tokens[:, t], state)
            logits.append(out)
        return torch.stack(logits, dim=1)  # (B, T, V)

    def _inputs(self, sequences: torch.Tensor) -> torch.Tensor:
        """Inputs of a teacher-forced pass: the start token, then all but the last token."""
        start = torch.full_like(sequences[:, :1], self.start_token)
        return torch.cat([start, sequences[:, :-1]], dim=1)  # (B, T)

    # --- sampling and scoring -----------------------------------------------------------

    @torch.no_grad()
    def sample(
        self,
        n: int,
        length: int = 20,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        batch_size: int = 256,
    ) -> torch.Tensor:
        """Draw ``n`` sequences of ``length`` tokens, LongTensor (n, length).

        Randomness comes only from ``generator`` (the global torch RNG when None; it must
        live on the oracle's device). ``temperature`` divides the logits; 1.0 is the oracle.
        """
        _check_temperature(temperature)
        device = self.embedding.device
        # All uniforms up front: the samples then do not depend on batch_size.
        uniforms = torch.rand(n, length, generator=generator, device=device)
        out = torch.empty(n, length, dtype=torch.long, device=device)
        # Pad the vocabulary to whole sampler blocks with -inf logits (zero mass), and write
        # every step's logits into one reused buffer: no (B, V) allocation in the loop.
        pad = -self.vocab_size % BLOCK
        w_out = nn.functional.pad(self.w_out, (0, pad))
        b_out = nn.functional.pad(self.b_out, (0, pad), value=-math.inf)
        buffer = torch.empty(min(batch_size, n), self.vocab_size + pad, device=device)
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            state = self.initial_state(rows)
            tokens = torch.full((rows,), self.start_token, device=device)
            for t in range(length):
                state = self.cell(tokens, state)
                logits = torch.addmm(b_out, state[0], w_out, out=buffer[:rows])  # (rows, V+pad)
                if temperature != 1.0:
                    logits.div_(temperature)
                tokens = sample_from_logits(logits, uniforms[start : start + rows, t])  # (rows,)
                out[start : start + rows, t] = tokens
        return out

    @torch.no_grad()
    def nll(
        self, sequences: torch.Tensor, temperature: float = 1.0, batch_size: int = 256
    ) -> torch.Tensor:
        """Per-sequence mean per-token negative log-likelihood (nats), shape (B,).

        Mean over the T positions of each sequence; ``nll(x).mean()`` is NLL-oracle.
        """
        _check_temperature(temperature)
        sequences = sequences.to(self.embedding.device).long()
        if sequences.ndim != 2:
            raise ValueError(
                f"sequences must be (B, T) token ids, got shape {tuple(sequences.shape)}"
            )
        if (
            sequences.numel()
            and not 0 <= int(sequences.min()) <= int(sequences.max()) < self.vocab_size
        ):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        total = torch.zeros(sequences.shape[0], device=sequences.device)
        buffer = torch.empty(min(batch_size, len(sequences)), self.vocab_size, device=total.device)
        for start in range(0, sequences.shape[0], batch_size):
            chunk = sequences[start : start + batch_size]  # (b, T)
            inputs = self._inputs(chunk)
            state = self.initial_state(chunk.shape[0])
            nll = total[start : start + batch_size]
            for t in range(chunk.shape[1]):
                logits, state = self.step(inputs[:, t], state, out=buffer[: len(chunk)])  # (b, V)
                if temperature != 1.0:
                    logits.div_(temperature)
                target = logits.gather(1, chunk[:, t : t + 1]).squeeze(1)  # (b,)
                # logsumexp by hand, in place: about twice as fast as torch.logsumexp on CPU.
                top = logits.amax(1, keepdim=True)  # (b, 1)
                log_z = logits.sub_(top).exp_().sum(1).log_() + top.squeeze(1)
                nll += log_z - target
        return total / max(sequences.shape[1], 1)


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise UserError(f"temperature must be > 0, got {temperature}")
