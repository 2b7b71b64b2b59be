"""Checkpoints: written atomically, loaded without executing code.

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and
dicts: model and optimiser state, step counters, RNG states and the full run config. Loading
uses ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects, so a
checkpoint from elsewhere cannot run code. Writing goes to a temporary file in the same
folder, is flushed to disk, then renamed over the target: a crash never leaves half a file.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import random
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from advrl.core.errors import UserError

FORMAT_VERSION = 1


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write through ``write`` (its result ignored) to a temporary file beside ``path``, then
    rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically and return the path."""
    return save_tensors_atomic(path, {"format_version": FORMAT_VERSION, **payload})


def save_tensors_atomic(path: Path, state: dict[str, Any]) -> Path:
    """``torch.save`` of ``state`` (a state dict, say), atomically; read it back with
    ``torch.load(weights_only=True)``."""
    return _write_atomic(path, lambda handle: torch.save(state, handle))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a PNG, say) and return the path."""
    return _write_atomic(path, lambda handle: handle.write(data))


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (other tools read summary.json)."""
    return write_bytes_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint safely; a missing or corrupt file is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"checkpoint {str(path)!r} does not exist; pass the path of a .pt file "
            "under <run_dir>/checkpoints/"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        EOFError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        KeyError,
        AttributeError,
    ) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"checkpoint {str(path)!r} is corrupt or not an advrl checkpoint "
            f"({first_line}); use another checkpoint from the run"
        ) from None
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise UserError(
            f"checkpoint {str(path)!r} is not an advrl checkpoint (no format "
            "version); pass a file written by advrl's train_agent.py"
        )
    if payload["format_version"] > FORMAT_VERSION:
        raise UserError(
            f"checkpoint {str(path)!r} has format {payload['format_version']}, newer "
            f"than this advrl understands ({FORMAT_VERSION}); upgrade advrl"
        )
    return payload


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as checkpoint-safe values (no numpy objects)."""
    legacy = np.random.get_state(legacy=True)  # the default, spelled out for the type
    if not isinstance(legacy, tuple):
        raise TypeError("NumPy's global RNG is not MT19937, so its state cannot be saved")
    kind, keys, pos, has_gauss, cached = legacy
    state: dict[str, Any] = {
        "python": repr(random.getstate()),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` saved."""

    random.setstate(_to_tuple(ast.literal_eval(state["python"])))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list | tuple) else value
