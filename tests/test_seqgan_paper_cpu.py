"""The paper-schedule suite, shrunk: every generator, its samples and the frontier."""

from __future__ import annotations

import gzip
import json

from advrl.benchmarks.seqgan_paper import (
    REFERENCES,
    PaperCPUSchedule,
    add_strong_reference,
    format_paper_cpu_table,
    run_paper_cpu,
)

NAMES = ("mle_paper", "mle_early", "mle_strong", "seqgan", "constant_reward", "mle_matched")


def test_a_tiny_run_writes_every_generator_its_samples_and_the_frontier(tmp_path):
    schedule = PaperCPUSchedule(
        mle_epochs=2,
        adversarial_epochs=2,
        d_pretrain_rounds=1,
        d_pretrain_negatives=128,
        d_negatives=64,
        eval_samples=200,
        sweep=(0.5, 1.0, 1.5),
        env={"vocab_size": 30, "seq_len": 6, "n_train": 400, "n_test": 100, "n_rollouts": 2},
    )
    result = run_paper_cpu(tmp_path, schedule, seed=0, say=lambda _: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["generators"]) == set(NAMES)
    for name in NAMES:
        row = saved["generators"][name]
        for key in ("nll_oracle", "nll_oracle_se", "nll_test", "bleu2", "self_bleu4", "wall_s"):
            assert isinstance(row[key], float), (name, key)
        assert [point["temperature"] for point in row["temperature_sweep"]] == [0.5, 1.0, 1.5]
        lines = gzip.decompress((tmp_path / row["samples"]).read_bytes()).decode().splitlines()
        assert len(lines) == 200 and all(len(line.split()) == 6 for line in lines)
        for reference in REFERENCES:
            assert isinstance(row[f"frontier_gap_vs_{reference}"], float)
    # MLE cooled to SeqGAN's NLL-oracle lands on it (common random numbers, 200 samples)
    matched = saved["generators"]["mle_matched"]
    assert abs(matched["nll_oracle"] - saved["generators"]["seqgan"]["nll_oracle"]) < 0.05
    assert 0.3 < matched["temperature"] < 1.5
    # the paper MLE lies on its own frontier, to within the sampling noise of two draws
    mle = saved["generators"]["mle_paper"]
    assert abs(mle["frontier_gap_vs_mle_paper"]) < 4 * mle["frontier_gap_vs_mle_paper_se"]
    assert saved["discriminator_phases"] >= 2  # D trained after each generator step
    assert (tmp_path / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert "| seqgan |" in format_paper_cpu_table(result)
    # A run made before mle_strong existed gets it added, with every gap against it.
    del saved["generators"]["mle_strong"]
    for row in saved["generators"].values():
        for key in [k for k in row if k.startswith("frontier_gap_vs_mle_strong")]:
            del row[key]
    (tmp_path / "results.json").write_text(json.dumps(saved))
    added = add_strong_reference(tmp_path, say=lambda _: None)["generators"]
    assert added["mle_strong"]["added_later"] and set(added) == set(NAMES)
    assert all(isinstance(row["frontier_gap_vs_mle_strong"], float) for row in added.values())
    strong = added["mle_strong"]
    assert abs(strong["frontier_gap_vs_mle_strong"]) < 4 * strong["frontier_gap_vs_mle_strong_se"]
