"""SeqGAN-v0's generator trained by a reparameterised estimator (RelGAN's Gumbel-softmax) and
by the exact per-step expectation (CoT): the sampler, the schedule, learning, resuming."""

import pytest
import torch
from gymnasium import spaces

from advrl.agents.networks import ActorCritic
from advrl.agents.token_lstm import TokenPolicy
from advrl.core.checkpoint import load_checkpoint
from advrl.core.errors import UserError
from advrl.core.spaces import TokenPrefix
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.plugins.cot import CooperativeTraining
from advrl.plugins.relgan import GumbelGenerator
from advrl.train import TrainSettings, train

TINY = {"vocab_size": 6, "seq_len": 5, "n_train": 500, "n_test": 200, "d_negatives": 64}


def token_policy(game: SequenceGame, seed: int) -> TokenPolicy:
    """SeqGAN-v0's generator for ``game``: the token LSTM and a linear head."""
    torch.manual_seed(seed)
    space = TokenPrefix(game.vocab_size, game.length)
    policy = ActorCritic(space, spaces.Discrete(game.vocab_size), hidden_sizes=())
    module = policy.logits_module()
    assert isinstance(module, TokenPolicy)
    return module


def run(tmp_path, estimator, steps, name="run", **recipe):
    """A SeqGAN-v0 run from the untrained generator (no MLE) trained by ``estimator``."""
    options = {"mle_epochs": 0, "eval_samples": 2000, "estimator": estimator,
               "adv_batch_size": 32, **recipe}  # fmt: skip
    settings = TrainSettings(env="SeqGAN-v0", algo="ppo", seed=1, total_steps=steps,
                             env_kwargs=TINY, recipe_kwargs=options, run_dir=tmp_path / name,
                             device="cpu")  # fmt: skip
    return train(settings)


def test_gumbel_max_tokens_are_exact_samples_and_the_relaxation_carries_the_gradient():
    game = SequenceGame(SeqGANConfig(**TINY, d_every=0, device="cpu"))
    policy = token_policy(game, seed=0)
    gumbel = GumbelGenerator(game, policy, seed=0)
    tokens, relaxed = gumbel.relaxed_sample(20_000, beta=1.0)
    with torch.no_grad():
        first = torch.softmax(policy.start(game.empty_prefixes(1))[0][0], -1)
    counts = torch.bincount(tokens[:, 0], minlength=game.vocab_size) / len(tokens)
    assert torch.allclose(counts, first, atol=0.015)  # argmax(o + g) ~ softmax(o)
    assert torch.allclose(relaxed.sum(-1), torch.ones(20_000, game.length))
    grads = torch.autograd.grad(relaxed[:, :, 0].sum(), list(policy.parameters()))
    assert all(grad.abs().sum() > 0 for grad in grads)
    sharp_tokens, sharp = gumbel.relaxed_sample(500, beta=1e4)
    assert torch.equal(sharp.argmax(-1), sharp_tokens)
    assert (sharp.amax(-1) > 0.99).float().mean() > 0.99  # all but near-ties are one-hot


def test_gumbel_inverse_temperature_rises_from_one_to_beta_max():
    game = SequenceGame(SeqGANConfig(**TINY, d_every=0, device="cpu"))
    gumbel = GumbelGenerator(game, token_policy(game, seed=0), seed=0, beta_max=100.0)
    assert [gumbel.beta(p) for p in (0.0, 0.5, 1.0, 2.0)] == pytest.approx([1, 10, 100, 100])
    assert game.reward_model.loss.name == "rsgan"  # the env's D now plays RelGAN's game


def test_cot_starts_at_zero_divergence_to_its_mediator():
    game = SequenceGame(SeqGANConfig(**TINY, d_every=0, device="cpu"))
    cot = CooperativeTraining(game, token_policy(game, seed=0), seed=0)
    assert cot.iteration(0.0)["losses/g_kl_to_mediator"] == pytest.approx(0.0, abs=1e-6)
    assert cot.iteration(0.0)["losses/g_kl_to_mediator"] > 0  # the mediator has moved


# How far NLL-test must fall. RelGAN's generator narrows as it learns (Self-BLEU-4 0.80 ->
# 0.92-0.96), so its held-out NLL falls less than CoT's and varies more from seed to seed:
# 0.12, 0.30, 0.19 and 0.16 for seeds 1-4 (2026-12-05). 0.15, set from seed 1's 0.19 on
# another day, failed when a package update moved it to 0.12.
NLL_TEST_DROP = {"gumbel": 0.05, "cot": 0.15}


@pytest.mark.parametrize("estimator", ["gumbel", "cot"])
def test_each_estimator_trains_an_untrained_generator_towards_the_oracle(tmp_path, estimator):
    """100 iterations of 32 sequences from the untrained generator (measured, seed 1: NLL-oracle
    3.05 -> 1.90 for gumbel and 1.70 for cot; NLL-test 1.79 -> 1.67 and 1.39). NLL-oracle fell
    by 1.16-1.33 for gumbel over seeds 1-4."""
    summary = run(tmp_path, estimator, 100 * 32 * 5, adv_lr=1e-2, cot_mediator_lr=1e-2)
    assert summary["nll_oracle"] < summary["nll_oracle_mle"] - 0.8
    assert summary["nll_test"] < summary["nll_test_mle"] - NLL_TEST_DROP[estimator]
    assert summary["total_steps"] == 100 * 32 * 5
    assert summary["hyperparameters"] and summary["frontier_gap"] is not None


@pytest.mark.parametrize("estimator", ["gumbel", "cot"])
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, estimator):
    """beta_max=1 holds gumbel's temperature still: its schedule is relative to the run's
    length, which a resumed run with more steps changes."""
    options = {"gumbel_beta_max": 1.0, "adv_lr": 1e-2}
    whole = run(tmp_path, estimator, 20 * 32 * 5, "whole", **options)
    half = run(tmp_path, estimator, 10 * 32 * 5, "half", **options)
    train(TrainSettings(resume=half["checkpoint"], total_steps=20 * 32 * 5, device="cpu"))
    a = load_checkpoint(whole["checkpoint"])
    b = load_checkpoint(tmp_path / "half" / "checkpoints" / "final.pt")
    assert b["agent"]["global_step"] == 20 * 32 * 5
    assert all(torch.equal(a["agent"]["policy"][k], b["agent"]["policy"][k])
               for k in a["agent"]["policy"])  # fmt: skip
    state = b["plugins"]["seqgan"]["generator_trainer"]
    assert ("mediator" in state) == (estimator == "cot")


def test_an_unknown_estimator_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UserError, match="estimator must be one of"):
        run(tmp_path, "reparam", 160)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("estimator", ["score_function", "gumbel"])
def test_a_text_run_draws_its_bleu4_frontier(tmp_path, estimator):
    """Real text has no oracle: the frontier is BLEU-4 against NLL-test over MLE's sweep.
    Gumbel's relaxed samples end in <pad> after <eos>, as the env's do."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c d\nb c\nc a b a d\na\nd d a b\n" * 40)
    settings = TrainSettings(
        env="SeqGAN-v0", algo="ppo", seed=1, total_steps=640, device="cpu",
        env_kwargs={"dataset": str(corpus), "seq_len": 6, "d_negatives": 64},
        recipe_kwargs={"mle_epochs": 2, "d_pretrain_rounds": 1, "eval_samples": 300,
                       "estimator": estimator, "adv_batch_size": 16},
        run_dir=tmp_path / "run",
    )  # fmt: skip
    summary = train(settings)
    for row in summary["temperature_sweep"] + summary["temperature_sweep_mle"]:
        assert 0.0 <= row["bleu4"] <= 1.0 and 0.0 <= row["self_bleu4"] <= 1.0
    assert isinstance(summary["bleu4_gap"], float) and "frontier_gap" not in summary
    assert summary["bleu4"] - summary["bleu4_mle_matched"] == pytest.approx(summary["bleu4_gap"])
    assert 0.0 <= summary["self_bleu4_mle_matched"] <= 1.0
    for figure in ("frontier_bleu.png", "frontier_self_bleu.png"):
        assert (tmp_path / "run" / figure).read_bytes()[:4] == b"\x89PNG"
