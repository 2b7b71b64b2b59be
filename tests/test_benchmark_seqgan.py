"""The seqgan suite, shrunk, and its adversarial runs: users' runs from one saved start."""

from __future__ import annotations

import pytest
import torch

from advrl.benchmarks.seqgan import (
    adversarial_run,
    format_seqgan_table,
    new_agent,
    run_seqgan_benchmark,
    saved_start,
)
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.plugins.seqgan_recipe import SeqGANRecipe, SeqGANRecipeConfig

TINY_ENV = {
    **{"vocab_size": 30, "seq_len": 6, "n_train": 400, "n_test": 100, "n_rollouts": 2},
    **{"d_negatives": 64, "d_epochs": 1},
}
TINY_RECIPE = {"mle_epochs": 2, "d_pretrain_rounds": 1, "eval_samples": 200}
UPDATE = 64 * 20
"""Env steps of one generator update under the SeqGAN-v0 presets (64 envs, 20 steps each)."""


def test_a_tiny_suite_trains_both_algorithms_from_the_same_start():
    env = {**TINY_ENV, "oracle_params": None}
    result = run_seqgan_benchmark(
        seed=0,
        adversarial_steps=UPDATE,
        device="cpu",
        env=env,
        recipe=TINY_RECIPE,
        coco=False,
        throughput=False,
    )
    rows = result["rows"]
    assert list(rows) == ["mle", "seqgan_reinforce", "seqgan_ppo"]
    for name, row in rows.items():
        for key in ("nll_oracle", "nll_oracle_se", "nll_test", "bleu4", "self_bleu4", "wall_s"):
            assert isinstance(row[key], float), (name, key)
        assert len(row["temperature_sweep"]) > 1, name
    assert rows["mle"]["mle_epochs_run"] == 2
    for algo in ("reinforce", "ppo"):
        row = rows[f"seqgan_{algo}"]
        assert row["adversarial_steps"] == UPDATE and 0 < row["adversarial_s"] < row["wall_s"]
        assert isinstance(row["discriminator_accuracy"], float)  # D trained during the run
        assert row["nll_test"] != rows["mle"]["nll_test"]  # the generator moved
    assert result["oracle"] == "random (seed 0)"
    assert "| seqgan_ppo |" in format_seqgan_table(result)


def test_adversarial_runs_load_the_start_and_apply_the_users_recipe_options():
    device = torch.device("cpu")
    config = SeqGANConfig(**TINY_ENV, d_every=64, device="cpu")
    game = SequenceGame(config)
    agent, _ = new_agent(game, "ppo", device)
    mle = SeqGANRecipe(game, agent.policy, device, SeqGANRecipeConfig(**TINY_RECIPE))
    mle.pretrain_mle(0)
    mle.pretrain_discriminator()
    generators = {}
    with saved_start(mle) as saved:
        for reference in ("start", "refresh"):
            run = adversarial_run(
                saved,
                config,
                "ppo",
                2 * UPDATE,
                seed=0,
                device=device,
                hp={"kl_coef": 0.5},
                recipe={"eval_samples": 200, "kl_reference": reference},
            )
            # the run started from the saved generator, loaded as it was
            assert run.run_summary["nll_test_mle"] == pytest.approx(mle.nll_test(), rel=1e-5)
            assert run.run_summary["seqgan"]["discriminator_phases"] >= 2
            generators[reference] = run.recipe.generator.state_dict()
    # The same seed and start: only the KL anchor's reference, moved after the
    # discriminator phases of the first update, can tell the two runs' second updates apart.
    start, refresh = generators["start"], generators["refresh"]
    assert not all(torch.equal(start[key], refresh[key]) for key in start)
