"""A sweep's driver that dies leaves no Ray process behind (advrl.sweeps.ray_processes).

Each test starts a local Ray in a sweep driver of its own; they share the Ray tests' xdist
group, so no two Rays run at once on CI's two cores.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from advrl.core.errors import UserError
from advrl.sweeps.ray_processes import RAY_PROCESSES_FILE, end_leftover_ray, exit_on_signals

pytest.importorskip("ray.tune")

ROOT = Path(__file__).resolve().parent.parent
ray_group = pytest.mark.xdist_group("ray")


def start_sweep(out: Path, *extra: str) -> subprocess.Popen:
    """A GridWorld sweep of three seeds, one trial at a time, on a local Ray of its own."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    command = [
        sys.executable, str(ROOT / "scripts" / "sweep.py"), "--env", "GridWorld-v0",
        "--algo", "reinforce", "--total-steps", "20000", "--seeds", "3", "--eval-episodes",
        "1", "--max-concurrent", "1", "--out", str(out), *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def recorded(out: Path) -> list[dict[str, float]]:
    path = out / RAY_PROCESSES_FILE
    return json.loads(path.read_text())["processes"] if path.exists() else []


def wait_for_a_running_trial(sweep: subprocess.Popen, out: Path) -> list[dict[str, float]]:
    """Wait until a trial trains (its run dir exists) and Ray's agents are on the record."""
    deadline = time.monotonic() + 240
    while not (list(out.glob("runs/*")) and len(recorded(out)) >= 6):
        assert sweep.poll() is None, sweep.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no trial started within 240 s"
        time.sleep(0.5)
    time.sleep(2 * 2.0)  # two more rounds of the recorder
    return recorded(out)


def still_running(processes: list[dict[str, float]]) -> list[int]:
    alive = []
    for entry in processes:
        try:
            process = psutil.Process(int(entry["pid"]))
        except psutil.NoSuchProcess:
            continue
        same = abs(process.create_time() - entry["create_time"]) < 0.01
        if same and process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            alive.append(process.pid)
    return alive


def wait_until_gone(processes: list[dict[str, float]], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := still_running(processes)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return alive


@ray_group
@pytest.mark.slow
def test_a_sweep_driver_killed_with_sigterm_leaves_no_ray_process(tmp_path):
    out = tmp_path / "sweep"
    sweep = start_sweep(out)
    processes = wait_for_a_running_trial(sweep, out)
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=120) == 128 + signal.SIGTERM
    assert wait_until_gone(processes) == []
    assert not (out / RAY_PROCESSES_FILE).exists()  # a clean end leaves no record


def wait_for_a_trial_checkpoint(sweep: subprocess.Popen, out: Path) -> Path:
    """The run dir of a trial that has saved a periodic checkpoint and not yet ended."""
    deadline = time.monotonic() + 240
    while True:
        for run_dir in out.glob("runs/*"):
            ended = (run_dir / "checkpoints" / "final.pt").exists()
            if not ended and list(run_dir.glob("checkpoints/step_*.pt")):
                return run_dir
        assert sweep.poll() is None, sweep.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no trial saved a checkpoint within 240 s"
        time.sleep(0.05)


@ray_group
@pytest.mark.slow
def test_resuming_a_sigkilled_sweep_ends_what_its_ray_left(tmp_path):
    """And a trial cut off goes on from its newest periodic checkpoint (--checkpoint-every)."""
    out = tmp_path / "sweep"
    sweep = start_sweep(out, "--checkpoint-every", "2000")
    processes = wait_for_a_running_trial(sweep, out)
    cut_off = wait_for_a_trial_checkpoint(sweep, out)
    sweep.kill()  # SIGKILL: no handler runs, Ray's agents outlive the driver
    sweep.wait(timeout=60)
    time.sleep(3)
    newest = sorted((cut_off / "checkpoints").glob("step_*.pt"))[-1]
    resumed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep.py"), "--resume", str(out)],
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert wait_until_gone(processes, timeout=10) == []
    trials = json.loads((out / "results.json").read_text())["trials"]
    assert len(trials) == 3 and {t["status"] for t in trials} == {"finished"}
    summary = json.loads((cut_off / "summary.json").read_text())
    assert summary["resumed_from"] == str(newest) and summary["total_steps"] >= 20000


def test_a_record_whose_driver_still_runs_is_refused(tmp_path):
    me = psutil.Process()
    record = {"driver": {"pid": me.pid, "create_time": me.create_time()}, "processes": []}
    (tmp_path / RAY_PROCESSES_FILE).write_text(json.dumps(record))
    with pytest.raises(UserError, match="still running"):
        end_leftover_ray(tmp_path)


def test_leftovers_are_ended_and_a_recycled_pid_is_spared(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    spared = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(child.pid).create_time()
        other = psutil.Process(spared.pid).create_time()
        record = {
            "driver": {"pid": 999_999_999, "create_time": 0.0},
            "processes": [
                {"pid": child.pid, "create_time": started},
                {"pid": spared.pid, "create_time": other - 100},  # a pid used again
            ],
        }
        (tmp_path / RAY_PROCESSES_FILE).write_text(json.dumps(record))
        assert end_leftover_ray(tmp_path, grace_s=5) == 1
        assert child.wait(timeout=10) is not None
        assert spared.poll() is None
        assert not (tmp_path / RAY_PROCESSES_FILE).exists()
    finally:
        child.kill()
        spared.kill()


def test_sigterm_inside_the_block_runs_finally():
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or Ray's when this worker ran Ray
    ran = []
    with pytest.raises(SystemExit) as exit_info, exit_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            ran.append(True)
    assert ran == [True] and exit_info.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_that_ray_turns_into_another_exit_still_exits_as_the_signal():
    """Ray's C++ wait runs the handler and raises SystemExit(1) in place of its exception
    (seen on a loaded CI machine: the driver exited 1, not 143)."""
    with pytest.raises(SystemExit) as exit_info, exit_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except SystemExit:
            raise SystemExit(1) from None  # what ray._raylet.check_status does
    assert exit_info.value.code == 128 + signal.SIGTERM
    with pytest.raises(SystemExit) as exit_info, exit_on_signals():
        raise SystemExit(3)  # with no signal, an exit is left as it is
    assert exit_info.value.code == 3
