"""The thread policy (advrl.core.threads): threads sized to the work, idle OpenMP threads asleep."""

import json
import os
import subprocess
import sys

import pytest

from advrl.core.threads import available_cpus, plan_threads
from advrl.plan import TrainSettings, plan_run


@pytest.fixture
def no_omp_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_small_networks_take_one_thread_and_cnns_every_core(no_omp_threads):
    small = plan_threads(None, parallel_work=False, num_envs=4)
    assert (small.torch, small.env) == (1, 1)
    wide = plan_threads(None, parallel_work=True, num_envs=8)
    assert wide.torch == available_cpus()
    assert wide.env == min(8, available_cpus())
    assert plan_threads(None, parallel_work=True, num_envs=1).env == 1


def test_threads_flag_then_omp_num_threads_come_before_the_work(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert plan_threads(None, parallel_work=False, num_envs=8).torch == 3
    assert plan_threads(5, parallel_work=False, num_envs=8).torch == 5
    assert plan_threads(5, parallel_work=False, num_envs=2).env == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert plan_threads(None, parallel_work=False, num_envs=8).torch == 1


@pytest.mark.parametrize(
    ("env", "algo", "parallel"),
    [("CartPole-v1", "ppo", False), ("GridWorld-v0", "dqn", False),
     ("ALE/Breakout-v5", "ppo", True), ("SeqGAN-v0", "ppo", True)],
)  # fmt: skip
def test_plan_run_decides_from_the_observation_space(env, algo, parallel, no_omp_threads, tmp_path):
    settings = TrainSettings(env=env, algo=algo, run_dir=tmp_path / "run")
    if env == "SeqGAN-v0":  # a small oracle keeps the probe cheap
        settings.env_kwargs = {"n_train": "64", "n_test": "64"}
    plan = plan_run(settings)
    assert plan.threads.torch == (available_cpus() if parallel else 1)


def test_a_run_uses_and_records_its_threads(script, tmp_path):
    result = script(
        "train_agent.py", "--env", "CartPole-v1", "--algo", "ppo", "--total-steps", "512",
        "--threads", "2", "--eval-episodes", "0", "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["threads"] == {"torch": 2, "env": 2}


def test_bad_threads_is_a_one_line_error(script, tmp_path):
    result = script(
        "train_agent.py", "--env", "CartPole-v1", "--algo", "ppo", "--threads", "0",
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "advrl: error: --threads must be at least 1, got 0"
    ]


def _wait_policy(code: str, **env: str) -> str:
    """OMP_WAIT_POLICY as a fresh interpreter sees it after running ``code``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_W", "GOMP"))}
    result = subprocess.run(
        [sys.executable, "-c", f"{code}; import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_policy_turned_off_keeps_torchs_defaults(monkeypatch):
    monkeypatch.setenv("ADVRL_THREADS", "off")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    import torch

    plan = plan_threads(None, parallel_work=False, num_envs=8)
    assert (plan.torch, plan.env) == (torch.get_num_threads(), 0)
    assert plan_threads(3, parallel_work=False, num_envs=8).torch == 3  # --threads still wins
    assert _wait_policy("import advrl", ADVRL_THREADS="off") == "None"


def test_importing_advrl_lets_idle_openmp_threads_sleep():
    assert _wait_policy("import advrl") == "PASSIVE"
    # the user's own choice stands
    assert _wait_policy("import advrl", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
    assert _wait_policy("import advrl", GOMP_SPINCOUNT="10000") == "None"
    # too late once torch has loaded OpenMP: leave it unset rather than pretend
    assert _wait_policy("import torch, advrl") == "None"
