"""Device resolution: ``auto`` picks CUDA when torch sees it; asking for CUDA without it is
a UserError that names the fix. And the CPU allocator setting every run starts with."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import torch

from advrl.core.errors import UserError


def resolve_device(name: str, flag: str = "--device") -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` as a ``torch.device``; ``flag`` names the
    option in the message (``--device``, or an env option such as SeqGAN-v0's ``device``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(
            f"{flag} {name} asked for, but torch sees no CUDA device; use {flag} cpu or auto"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"{flag} must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_THRESHOLD = 1 << 30


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def has_mallopt() -> bool:
    """Whether this process's C library is glibc's (or another with ``mallopt``)."""
    return _libc() is not None


def flush_subnormals() -> bool:
    """Make CPU float arithmetic treat subnormal numbers as zero; True if the CPU supports it.

    A subnormal (below about 1.2e-38 in float32) takes a slow microcode path on x86, dozens
    of times a normal multiply. RelGAN's relaxed tokens, softmax(beta (o + g)) with beta up to
    100, underflow into that range: on this machine a Gumbel run of the estimator tests' tiny
    game (seed 4) crawled at 18-19 steps/s and finished in under 90 s once subnormals were
    flushed. Values that small carry no signal in a float32 network; TensorFlow flushes them
    by default. It sets the calling thread's flag, which threads started after it inherit
    (torch's OpenMP pool starts at its first parallel region).
    """
    return bool(torch.set_flush_denormal(True))


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks of up to 1 GiB for reuse; True if it applied.

    Torch's CPU tensors come from the system allocator. glibc serves a block over its mmap
    threshold (128 KiB at first, adapting up to 32 MiB) with a fresh mmap and returns freed
    memory at the heap's top to the system, so a training step that allocates its (B*T, V)
    logits, their softmax and their gradients again faults their pages in anew: on this
    machine SeqGAN-v0's MLE step (B=64, T=20, V=5000) and its Monte Carlo rollouts ran 2-3x
    slower for it (``scripts/benchmark.py --suite seqgan-throughput`` measures both
    settings). Keeping the memory costs at most the process's peak heap, which it held
    anyway. A no-op (False) where there is no ``mallopt`` (macOS, Windows, musl).
    """
    libc = _libc()
    if libc is None:
        return False
    mmap_ok = libc.mallopt(_M_MMAP_THRESHOLD, KEEP_THRESHOLD)
    trim_ok = libc.mallopt(_M_TRIM_THRESHOLD, KEEP_THRESHOLD)
    return bool(mmap_ok and trim_ok)
