"""Shared fixtures: the repository paths, and ``tests/`` importable for custom_envs."""

import os

# Ray sends its token (~/.ray/auth_token, which `ray start --head` uses) to an explicit
# address only when RAY_AUTH_MODE=token, and reads that when ray is first imported, which is
# while pytest collects the test modules (any of them may import ray): so it is set here,
# before any of them, as a user joining a token-authenticated cluster sets it. (Set in
# tests/test_sweep.py alone, it came after tests/test_benchmark_imitation.py had imported
# ray, and every in-process Ray after that failed to start its GCS.)
os.environ.setdefault("RAY_AUTH_MODE", "token")

import subprocess
import sys
from pathlib import Path

import pytest
import torch

# Under pytest-xdist (`make test` runs two workers on CI's two cores) each worker, and every
# script it starts, gets one torch thread, so the two never oversubscribe the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
sys.path.insert(0, str(TESTS))


def run_script(
    script: str, *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``scripts/<script>`` in a fresh interpreter, with tests/ on PYTHONPATH."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def script():
    return run_script


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread, restoring the setting after it.

    Small tensors (a few hundred rows) gain nothing from torch's intra-op threads, and on a
    machine whose cores are busy with other jobs two OpenMP threads made the oracle tests
    about 10x slower (measured: 8.8 s against 0.8 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
