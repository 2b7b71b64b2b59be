"""The gan-family suite at toy size: every run journaled, IQMs over seeds, a grid per
variant, and a second call that trains nothing."""

import json

import pytest

from advrl.benchmarks import gan_family as suite

pytest.importorskip("rliable")


def test_the_suite_runs_each_variant_and_seed_once_and_aggregates_them(tmp_path):
    out, runs = tmp_path / "suite", tmp_path / "runs"
    names = ("dcgan", "infogan", "began")
    results = suite.run_suite(out, runs, seeds=(1, 2), epochs=1, names=names, base_channels=16)
    assert set(results["variants"]) == set(names)
    for entry in results["variants"].values():
        assert [r["seed"] for r in entry["runs"]] == [1, 2]
        assert entry["aggregate"]["frechet_distance"]["runs"] == 2
        assert (out / entry["grid"]).read_bytes()[:4] == b"\x89PNG"
    assert set(results["variants"]["infogan"]["aggregate"]) == {
        "frechet_distance", "code_class_accuracy", "mi_lower_bound"
    }  # fmt: skip
    assert len(results["variants"]["began"]["runs"][0]["m_global_curve"]) == 1
    journal = (out / "runs.jsonl").read_text().splitlines()
    assert len(journal) == 6
    again = suite.run_suite(out, runs, seeds=(1, 2), epochs=1, names=names, base_channels=16)
    assert (out / "runs.jsonl").read_text().splitlines() == journal  # nothing retrained
    assert again["variants"] == json.loads((out / "results.json").read_text())["variants"]
    assert "| began |" in suite.format_table(again)
