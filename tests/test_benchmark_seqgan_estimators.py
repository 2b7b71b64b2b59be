"""The seqgan-estimators suite at toy size: MLE per seed, the development grid, every method
from its seed's MLE through Ray Tune sweeps, and results.json in the issue's shape, with
samples from which the reported NLL-oracle is recomputed."""

import json

import pytest

from advrl.benchmarks import seqgan_estimators as suite
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.plugins.seqgan_recipe import read_samples

pytest.importorskip("ray.tune")

TINY = {"vocab_size": "6", "seq_len": "5", "n_train": "500", "n_test": "200", "d_negatives": "64"}


@pytest.mark.xdist_group("ray")
@pytest.mark.slow
def test_the_suite_runs_every_stage_and_writes_results_in_the_issues_shape(tmp_path):
    corpus = tmp_path / "captions.txt"
    corpus.write_text("a b c d\nb c\nc a b a d\na\nd d a b\n" * 40)
    text = {"dataset": str(corpus), "seq_len": "6", "d_negatives": "64"}
    protocol = suite.Protocol(
        oracle=suite.Task("oracle", TINY, (1, 2), 5),
        coco=suite.Task("coco", text, (1,), 6),
        dev_seed=3,
        hp={},
        mle_recipe={"mle_epochs": "2", "d_pretrain_rounds": "1"},
        eval_samples=300,
        iterations={"seqgan": 1, "density_ratio": 1, "gumbel": 2, "cot": 2},
        dev_grid={"gumbel": [{"adv_lr": "1e-3"}, {"adv_lr": "1e-2"}], "cot": [{"adv_lr": "1e-3"}]},
    )
    out, sweeps = tmp_path / "suite", tmp_path / "sweeps"
    suite.run_suite(protocol, out, sweeps)
    saved = json.loads((out / "results.json").read_text())

    assert sorted(saved["mle"]["seeds"]) == ["1", "2"]  # the development seed is not reported
    for row in saved["mle"]["seeds"]["1"]["temperature_sweep"]:
        assert {"temperature", "nll_oracle", "nll_test", "bleu4", "self_bleu4"} <= set(row)
    assert set(saved["methods"]) == set(suite.METHODS)
    oracle = SequenceGame(SeqGANConfig(**{k: int(v) for k, v in TINY.items()})).oracle
    for method, entry in saved["methods"].items():
        assert sorted(entry["seeds"]) == ["1", "2"] and entry["aggregate"]["runs"] == 2
        for row in entry["seeds"].values():
            assert {"nll_oracle", "nll_oracle_se", "nll_test", "frontier_gap", "samples"} <= set(
                row
            )
            # (a policy gradient's update is 20 steps of 64 envs: whole ones, here T = 5)
            whole = 64 * 20 if method in ("seqgan", "density_ratio") else 0
            assert row["env_steps"] == max(protocol.steps(method, protocol.oracle), whole)
            samples = read_samples(out / row["samples"])
            assert samples.shape == (300, 5)
            assert oracle.nll(samples).mean().item() == pytest.approx(row["nll_oracle"], rel=1e-5)
    assert saved["dev"]["chosen"]["gumbel"] in protocol.dev_grid["gumbel"]
    assert len(saved["dev"]["runs"]) == 3
    # Real text: BLEU-4 and Self-BLEU-4 beside MLE's at the same NLL-test.
    for entry in saved["coco"]["methods"].values():
        row = entry["seeds"]["1"]
        assert row["bleu4"] - row["bleu4_mle_matched"] == pytest.approx(row["bleu4_gap"])
        assert 0.0 <= row["self_bleu4_mle_matched"] <= 1.0 and "nll_oracle" not in row
        assert entry["aggregate"]["score"] == "bleu4_gap"
    for figure in ("frontier.png", "frontier_coco.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    # Run again: every stage has finished, so nothing trains and the results stand.
    again = suite.run_suite(protocol, out, sweeps)
    assert again["methods"]["cot"]["aggregate"] == saved["methods"]["cot"]["aggregate"]
