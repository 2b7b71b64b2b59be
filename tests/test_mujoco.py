"""MuJoCo envs (gymnasium[mujoco]) train with Box actions, and a checkpoint evaluates to the
return its run logged: the ground the imitation benchmarks on Hopper and HalfCheetah stand on."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from advrl.train import TrainSettings, train


def test_ppo_trains_on_hopper_and_its_checkpoint_replays_the_logged_return(tmp_path):
    summary = train(
        TrainSettings(
            env="Hopper-v5",
            algo="ppo",
            seed=3,
            total_steps=2048,
            eval_episodes=2,
            run_dir=tmp_path / "run",
        )
    )
    assert summary["total_steps"] >= 2048 and summary["eval_episodes"] == 2
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), summary["checkpoint"],
         "--episodes", "2", "--seed", str(3 + 10_000), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    replayed = json.loads(result.stdout)
    assert replayed["returns"] == pytest.approx(summary["eval_returns"])
