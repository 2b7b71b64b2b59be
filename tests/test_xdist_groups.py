"""`make test` keeps the Ray tests in one pytest-xdist worker, one at a time.

Each Ray test starts a local cluster sized to the machine's two cores; two at once
oversubscribe them, and on CI they hung until its time ran out. The tests say so with
``xdist_group("ray")``, which only ``--dist loadgroup`` honours, and pytest 9.2 broke it
silently (xdist 3.8 could no longer add the group to the node ids). This runs a tiny suite
the way the Makefile does and checks that the group held.
"""

import os
import subprocess
import sys

GROUPED_SUITE = """
import os
import pytest

def record(name):
    with open(name, "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.parametrize("i", range(4))
@pytest.mark.xdist_group("ray")
def test_grouped(i):
    record(f"grouped_{i}")

@pytest.mark.parametrize("i", range(4))
def test_free(i):
    record(f"free_{i}")
"""


def test_tests_marked_with_one_xdist_group_run_in_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED_SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "test_grouped.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    grouped = [line for line in done.stdout.splitlines() if "PASSED" in line and "@ray" in line]
    assert len(grouped) == 4, done.stdout  # the group's name suffixes its node ids
    workers = {(tmp_path / f"grouped_{i}").read_text() for i in range(4)}
    assert len(workers) == 1, workers
