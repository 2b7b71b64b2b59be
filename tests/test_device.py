"""The device and allocator settings every run starts with."""

import platform

import pytest
import torch

from advrl.benchmarks.seqgan import format_throughput_table
from advrl.core.device import flush_subnormals, has_mallopt, keep_freed_memory, resolve_device
from advrl.core.errors import UserError
from advrl.train import TrainSettings, train


def test_resolve_device_names_the_fix():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(UserError, match="must be auto, cpu or cuda"):
        resolve_device("tpu")


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's"
)
def test_keep_freed_memory_applies_on_glibc_and_changes_no_result():
    torch.manual_seed(0)
    x = torch.randn(1280, 5000)
    before = torch.log_softmax(x, 1)
    assert has_mallopt()
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent
    assert torch.equal(torch.log_softmax(x, 1), before)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="FTZ/DAZ are SSE flags")
def test_a_run_flushes_subnormals_to_zero(tmp_path):
    """A run sets flush-to-zero: subnormal operands (RelGAN's underflowing relaxed tokens)
    would otherwise take x86's slow path. The flag is process-wide, so it is put back."""
    try:
        torch.set_flush_denormal(False)  # an earlier run in this process may have set it
        tiny = torch.tensor([1e-39])  # subnormal in float32 (flushed on creation if set)
        assert (tiny * 1.0).item() > 0
        train(TrainSettings(env="GridWorld-v0", algo="reinforce", total_steps=64, seed=1,
                            run_dir=tmp_path / "run", eval_episodes=1, device="cpu"))  # fmt: skip
        assert (tiny * 1.0).item() == 0.0
        assert flush_subnormals() is True
    finally:
        torch.set_flush_denormal(False)


def test_throughput_table_shows_the_allocator_rows():
    row = {
        "discriminator": "small",
        "completion": "stepwise O(T)",
        "episode_seconds": 1.0,
        "sequences_scored_per_s": 19520.0,
    }
    allocator = {
        "glibc_default": {"mle_step_ms": 50.0, "mc_episode_seconds": 2.0},
        "keep_freed_memory": {"mle_step_ms": 25.0, "mc_episode_seconds": 1.6},
        "speedup": {"mle_step": 2.0, "mc_episode": 1.25},
    }
    result = {"device": "cpu", "rows": [row], "speedup": {"small": 1.5}, "allocator": allocator}
    table = format_throughput_table(result)
    assert "| glibc_default | 50.0 | 2.00 |" in table
    assert "**2.00x**" in table and "**1.25x**" in table
    assert "| malloc |" in table
    assert "| malloc |" not in format_throughput_table({**result, "allocator": None})
