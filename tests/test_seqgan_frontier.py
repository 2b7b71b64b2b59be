"""The density-ratio frontier suite, shrunk: every generator, the choice and the ceiling."""

from __future__ import annotations

import gzip
import json

from advrl.benchmarks.seqgan_frontier import FrontierSchedule, format_frontier_table, run_frontier


def test_a_tiny_run_writes_every_generator_and_chooses_on_validation(tmp_path):
    schedule = FrontierSchedule(
        betas=(0.5, 2.0),
        updates=2,
        d_pretrain_rounds=1,
        d_pretrain_negatives=128,
        eval_samples=200,
        sweep=(0.5, 1.0, 1.5),
        env={"vocab_size": 30, "seq_len": 6, "n_train": 400, "n_test": 100},
    )
    result = run_frontier(tmp_path, schedule, seed=0, say=lambda _: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    names = {"mle", "density_ratio_beta0.5", "density_ratio_beta2", "density_ratio"}
    assert set(saved["generators"]) == names
    for name, row in saved["generators"].items():
        assert isinstance(row["frontier_gap"], float) and row["frontier_gap_se"] > 0, name
        assert [p["temperature"] for p in row["temperature_sweep"]] == [0.5, 1.0, 1.5]
        lines = gzip.decompress((tmp_path / row["samples"]).read_bytes()).decode().splitlines()
        assert len(lines) == 200
    tried = [saved["generators"][f"density_ratio_beta{b}"] for b in ("0.5", "2")]
    chosen = saved["generators"]["density_ratio"]
    # chosen on the validation frontier, which is not the reported one
    assert chosen["validation_frontier_gap"] == min(r["validation_frontier_gap"] for r in tried)
    assert chosen["validation"]["nll_test"] != chosen["nll_test"]
    assert saved["density_ratio_ceiling"]["effective_samples"] >= 1
    assert (tmp_path / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert "| density_ratio |" in format_frontier_table(result)
