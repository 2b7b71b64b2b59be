"""The concurrency suite: each workload alone and in pairs, under both thread policies."""

import pytest

from advrl.benchmarks import concurrency as benchmark_concurrency
from advrl.benchmarks.concurrency import _environment, concurrency_suite, format_concurrency_table


def test_the_spinning_reference_is_torchs_defaults_and_advrl_sets_nothing(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as under pytest-xdist: never passed on
    ours, reference = _environment("advrl"), _environment("spinning")
    variables = {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "ADVRL_THREADS"}
    assert not variables & set(ours)
    assert not variables - {"ADVRL_THREADS"} & set(reference)
    assert reference["ADVRL_THREADS"] == "off"


@pytest.mark.slow
def test_a_shrunk_suite_measures_alone_and_pairs_under_both_policies(monkeypatch, tmp_path):
    tiny = ["--env", "CartPole-v1", "--algo", "ppo", "--total-steps", "512"]
    monkeypatch.setattr(benchmark_concurrency, "WORKLOADS", {"cartpole-ppo": tiny})
    result = concurrency_suite(tmp_path)
    for policy in ("advrl", "spinning"):
        measured = result["policies"][policy]
        assert measured["alone_s"]["cartpole-ppo"] > 0
        (row,) = measured["pairs"]
        assert row["pair"] == ["cartpole-ppo", "cartpole-ppo"]
        alone = measured["alone_s"]["cartpole-ppo"]
        assert row["ratio"] == pytest.approx([w / alone for w in row["wall_s"]])
        assert measured["worst_ratio"] == max(row["ratio"])
    table = format_concurrency_table(result)
    assert "| cartpole-ppo + cartpole-ppo |" in table and "**worst**" in table
