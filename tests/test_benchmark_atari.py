"""The Atari benchmarks, shrunk: both env paths measured; the learning suite's cases run
apart into one JSON and one curve file, with whole-game training curves on both sides."""

import json
import subprocess
import sys

import pytest

from advrl.benchmarks.atari import atari_vec_suite, format_atari_vec_table
from advrl.benchmarks.rl import (
    CaseResult,
    RunResult,
    format_table,
    run_suite,
    write_curves,
    write_json,
)


def test_both_paths_are_measured():
    result = atari_vec_suite(num_envs=2, env_steps=20, train_steps=256, repeats=1)
    for vec in ("auto", "sync"):
        assert result["medians"][vec]["env_sps"] > 0 and result["medians"][vec]["train_sps"] > 0
    assert result["ratio_env_sps"] > 0
    assert "ale-py C++" in format_atari_vec_table(result)


def _result(case: str, impls: tuple[str, ...]) -> CaseResult:
    result = CaseResult(case, "ALE/Breakout-v5", 1000, 20.0)
    for impl in impls:
        curve = [(100, 1.0), (600, 3.0), (900, 2.0)]
        result.runs.append(RunResult(impl, 1, 4.0, None, 10.0, 100.0, curve))
    return result


def test_cases_run_apart_merge_into_one_json_and_one_curve_file(tmp_path):
    ppo, dqn = _result("ppo-breakout", ("advrl", "sb3")), _result("dqn-breakout", ("advrl",))
    path, curves = tmp_path / "atari-learning.json", tmp_path / "atari_learning"
    write_json([ppo], path, {"command": "ppo"}, merge=True)
    write_curves([ppo], curves)
    write_json([dqn], path, {"command": "dqn"}, merge=True)
    write_curves([dqn], curves, {"published": [[1000, 5.0]]})
    rows = json.loads(path.read_text())["results"]
    assert [(r["case"], r["meta"]["command"]) for r in rows] == [
        ("ppo-breakout", "ppo"),
        ("dqn-breakout", "dqn"),
    ]
    assert all("curve" not in run for row in rows for run in row["runs"])
    written = json.loads((curves / "curves.json").read_text())
    assert sorted(written["runs"]) == [
        "dqn-breakout advrl seed 1",
        "ppo-breakout advrl seed 1",
        "ppo-breakout sb3 seed 1",
    ]
    assert written["runs"]["ppo-breakout sb3 seed 1"]["episodic_return"][1] == [600.0, 3.0]
    assert written["runs"]["dqn-breakout advrl seed 1"]["eval_mean_return"] == [[1000.0, 4.0]]
    assert written["references"] == {"published": [[1000, 5.0]]}
    assert (curves / "curves.png").stat().st_size > 0
    # Re-running a case replaces its row instead of adding a second one.
    write_json([ppo], path, {"command": "ppo again"}, merge=True)
    assert [r["meta"]["command"] for r in json.loads(path.read_text())["results"]] == [
        "dqn",
        "ppo again",
    ]
    table = format_table([ppo, dqn])
    assert "| ppo-breakout | | **ours/SB3**" in table
    assert "| dqn-breakout | | **ours/SB3**" not in table  # ours only: no ratio row


def test_an_unknown_case_is_a_one_line_error():
    run = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--suite", "atari-learning", "--cases", "nope"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error: --suite atari-learning has no case nope; its cases: ppo-breakout, dqn-breakout"
    ]


@pytest.mark.slow
def test_atari_learning_shrunk_trains_both_and_curves_hold_whole_game_scores():
    (result,) = run_suite(
        "atari-learning",
        [1],
        eval_episodes=1,
        steps=2048,
        log=lambda _: None,
        cases=["ppo-breakout"],
    )
    assert [run.impl for run in result.runs] == ["advrl", "sb3"]
    for run in result.runs:
        assert run.final_return is not None and run.final_return >= 0
        assert run.curve, f"{run.impl} logged no episode"
        # Whole games in raw score: 2048 steps over 8 envs end few games, never one per life.
        assert len(run.curve) <= 16
        assert all(step <= 2048 + 8 and ret >= 0 for step, ret in run.curve)
