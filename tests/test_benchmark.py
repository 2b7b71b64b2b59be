"""scripts/benchmark.py compares ours with SB3 interval against interval."""

import json

import pytest

from advrl.benchmarks.rl import CaseResult, RunResult, format_table, write_json
from advrl.sweeps.aggregate import aggregate_scores

pytest.importorskip("rliable")


def test_each_implementation_gets_its_final_return_iqm_and_interval(tmp_path):
    result = CaseResult("ppo-cartpole", "CartPole-v1", 1000, 475.0)
    finals = {"advrl": [500.0, 480.0, 200.0, 499.0], "sb3": [450.0, 500.0, 470.0, 300.0]}
    for impl, values in finals.items():
        for seed, value in enumerate(values):
            result.runs.append(RunResult(impl, seed, value, None, 1.0, 1000.0))
    expected = aggregate_scores(finals)
    table = format_table([result])
    for agg in expected.values():
        assert f"{agg.iqm:.1f} [{agg.iqm_low:.1f}, {agg.iqm_high:.1f}]" in table
    write_json([result], tmp_path / "b.json", {})
    written = json.loads((tmp_path / "b.json").read_text())["results"][0]["final_return_iqm"]
    assert written["sb3"]["iqm"] == pytest.approx(expected["sb3"].iqm)
    assert written["advrl"]["iqm_ci95"] == pytest.approx(
        [expected["advrl"].iqm_low, expected["advrl"].iqm_high]
    )


def test_each_side_trains_with_its_own_users_threads(tmp_path, monkeypatch):
    """Ours with advrl's thread policy (one thread for an MLP), SB3 with torch's default, and
    torch's count put back between them; each run's gradient phase timed."""
    import torch

    from advrl.benchmarks.rl import run_suite

    pytest.importorskip("mujoco")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        (result,) = run_suite(
            "ppo-mujoco",
            [1],
            eval_episodes=1,
            steps=1024,
            log=lambda _: None,
            journal=tmp_path / "runs.jsonl",
        )
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert {run.impl: run.threads for run in result.runs} == {"advrl": 1, "sb3": 2}
    journaled = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [entry["threads"] for entry in journaled] == [1, 2]
    # Each run also says how much of its wall time went to the gradient phase.
    for run in result.runs:
        assert run.update_s is not None and 0 < run.update_s < run.wall_time_s
    assert [entry["update_s"] for entry in journaled] == [run.update_s for run in result.runs]
