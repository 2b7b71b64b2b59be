"""Checkpoints are atomic, round-trip, and never execute code when loaded."""

import os
import pickle
import random

import numpy as np
import pytest
import torch

from advrl.core.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from advrl.core.errors import UserError


def test_round_trip_and_no_temporary_files(tmp_path):
    path = save_checkpoint(
        tmp_path / "c.pt", {"w": torch.arange(3), "step": 7, "cfg": {"a": (1, 2)}}
    )
    payload = load_checkpoint(path)
    assert payload["step"] == 7 and torch.equal(payload["w"], torch.arange(3))
    assert payload["cfg"] == {"a": (1, 2)}
    assert os.listdir(tmp_path) == ["c.pt"]


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1})

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert os.listdir(tmp_path) == ["c.pt"]


def test_missing_and_corrupt_checkpoints_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(garbage)
    good = save_checkpoint(tmp_path / "good.pt", {"w": torch.zeros(1000)})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:500])
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(UserError, match="not an advrl checkpoint"):
        load_checkpoint(foreign)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "x": _Exploit(str(marker))}, evil, pickle_module=pickle)
    with pytest.raises(UserError, match="corrupt or not an advrl checkpoint"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_rng_state_round_trip(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    path = save_checkpoint(tmp_path / "r.pt", {"rng": rng_state()})
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    set_rng_state(load_checkpoint(path)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
