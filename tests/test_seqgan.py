"""SeqGAN-v0: reward semantics, batching, checkers, the SeqGAN recipe and the users' command."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import ROOT, run_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import advrl  # noqa: F401  (registers SeqGAN-v0)
from advrl.agents.networks import ActorCritic, TokenLSTM
from advrl.core.errors import UserError
from advrl.envs.seqgan import (
    MEMORISATION_KEYS,
    SeqGANConfig,
    SeqGANEnv,
    SeqGANVectorEnv,
    SequenceGame,
    StepwisePolicy,
)
from advrl.plugins.seqgan_recipe import SeqGANRecipe, SeqGANRecipeConfig

TINY = {"vocab_size": 6, "seq_len": 5, "n_train": 200, "n_test": 50, "n_rollouts": 4}
SMALL = {"vocab_size": 40, "seq_len": 8, "n_train": 2000, "n_test": 500, "n_rollouts": 4}


class CountOnes(nn.Module):
    """A hand-written discriminator: D(x) = 0.01 + 0.98 * (fraction of tokens equal to 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = 0.01 + 0.98 * (x == 1).float().mean(1)
        return torch.log(p) - torch.log1p(-p)  # the logit, so that D = sigmoid(logit) = p


def fixture_score(sequences: torch.Tensor) -> torch.Tensor:
    return 0.01 + 0.98 * (sequences == 1).float().mean(1)


def game_with_fixture(**options) -> SequenceGame:
    game = SequenceGame(SeqGANConfig(**{**TINY, "d_every": 0, **options}))
    game.reward_model.discriminator = CountOnes()
    return game


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- reward semantics -----------------------------------------------------------------------


def test_final_mode_pays_only_at_the_last_step():
    env = SeqGANEnv(game=game_with_fixture(reward_mode="final"))
    env.reset(seed=0)
    actions = [1, 0, 1, 1, 3]
    rewards, ends = [], []
    for a in actions:
        obs, reward, terminated, _, _ = env.step(a)
        rewards.append(reward)
        ends.append(terminated)
    assert rewards[:-1] == [0.0] * 4 and ends == [False] * 4 + [True]
    assert rewards[-1] == pytest.approx(0.01 + 0.98 * 3 / 5)
    assert obs.tolist() == [5, 0, *actions]


def test_rollout_reward_is_the_mean_score_of_completions_that_keep_the_prefix():
    game = game_with_fixture(reward_mode="rollout", n_rollouts=8)
    seen = []
    complete = game.complete

    def spy(policy, obs, uniforms, copies=1):
        out = complete(policy, obs, uniforms, copies)
        seen.append((obs.clone(), out.clone()))
        return out

    game.complete = spy
    env = SeqGANEnv(game=game)
    env.reset(seed=1)
    prefix = []
    for t, a in enumerate([1, 2, 1, 0]):
        _, reward, terminated, _, _ = env.step(a)
        prefix.append(a)
        inputs, completions = seen[-1]
        assert len(completions) == 8 and not terminated
        assert (inputs[:, 2 : 3 + t] == torch.tensor(prefix)).all()  # given the prefix
        assert (completions[:, : t + 1] == torch.tensor(prefix)).all()  # and kept it
        assert reward == pytest.approx(float(fixture_score(completions).mean()), abs=1e-6)
    assert len({tuple(row.tolist()) for row in seen[0][1]}) > 1  # uniform completions vary


def test_rollout_policy_decides_the_completions():
    game = game_with_fixture(reward_mode="rollout")

    def always_one(obs: torch.Tensor) -> torch.Tensor:
        logits = torch.full((len(obs), 6), -30.0)
        logits[:, 1] = 30.0
        return logits

    game.set_rollout_policy(always_one)
    env = SeqGANEnv(game=game)
    env.reset(seed=0)
    _, reward, *_ = env.step(0)  # prefix [0], completions [0, 1, 1, 1, 1]
    assert reward == pytest.approx(0.01 + 0.98 * 4 / 5, abs=1e-6)


@pytest.mark.parametrize("text", [False, True])
def test_stepwise_completions_equal_whole_prefix_completions(text, tmp_path):
    """A token policy stepped one token at a time (O(T)) completes prefixes of mixed
    lengths, each branched 3 times, exactly as reading the whole prefix at every token."""
    if text:
        corpus = tmp_path / "corpus.txt"
        corpus.write_text("a b c d\nb c\nc a b a d\na\n" * 20)
        game = SequenceGame(SeqGANConfig(dataset=str(corpus), d_every=0, seq_len=6))
    else:
        game = SequenceGame(SeqGANConfig(**{**TINY, "vocab_size": 50, "seq_len": 9}))
    env = SeqGANEnv(game=game)
    torch.manual_seed(0)
    module = ActorCritic(env.observation_space, env.action_space, hidden_sizes=()).logits_module()
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(3.0)  # sharp logits: an eos often, many different tokens
    assert isinstance(module, StepwisePolicy)
    sequences = game.generate(module, 12)
    obs = game.empty_prefixes(12)
    for row, length in enumerate([0, 1, 2, 3, 5, 0, 1, 4, 2, 3, 1, 0]):
        length = min(length, game.length)
        obs[row, 0] = length
        obs[row, 2 : 2 + length] = sequences[row, :length]
    uniforms = torch.rand(36, game.length, generator=torch.Generator().manual_seed(1))
    stepwise = game.complete(module, obs, uniforms, copies=3)
    whole = game.complete(lambda o: module(o), obs, uniforms, copies=3)
    assert not isinstance(lambda o: module(o), StepwisePolicy)
    assert torch.equal(stepwise, whole)
    for row in range(12):  # prefixes kept
        length = int(obs[row, 0])
        assert torch.equal(
            stepwise[3 * row : 3 * row + 3, :length], obs[row, 2 : 2 + length].expand(3, -1)
        )
    assert len({tuple(r) for r in stepwise.tolist()}) > 12  # copies differ
    if text:
        assert (stepwise == game.eos_id).any()


def test_stepwise_completion_is_linear_in_the_length():
    """LSTM time steps to complete one empty prefix N times: T with the stepwise path (the
    start token, then one per sampled token but the last), T(T+1)/2 re-reading the prefix."""
    game = SequenceGame(SeqGANConfig(**{**TINY, "vocab_size": 50, "seq_len": 9}))
    env = SeqGANEnv(game=game)
    module = ActorCritic(env.observation_space, env.action_space, hidden_sizes=()).logits_module()
    lstm_steps = []

    def count(lstm, inputs, output):  # time steps of this call: packed or (B, T, E)
        x = inputs[0]
        lstm_steps.append(x.batch_sizes.numel() if hasattr(x, "batch_sizes") else x.shape[1])

    module[0].lstm.register_forward_hook(count)
    uniforms = torch.rand(4, 9)
    game.complete(module, game.empty_prefixes(1), uniforms, copies=4)
    assert sum(lstm_steps) == 9
    lstm_steps.clear()
    game.complete(lambda o: module(o), game.empty_prefixes(1), uniforms, copies=4)
    assert sum(lstm_steps) == 9 * 10 // 2


def test_delayed_rollout_policy_blends_weights():
    game = game_with_fixture()
    live = nn.Linear(3, 6)
    game.update_rollout_policy(live)
    first = game.rollout_policy.weight.detach().clone()
    assert torch.equal(first, live.weight) and game.rollout_policy is not live
    with torch.no_grad():
        live.weight.add_(1.0)
    game.update_rollout_policy(live, rate=0.8)
    assert torch.allclose(game.rollout_policy.weight, 0.8 * first + 0.2 * live.weight)


def test_text_episodes_end_at_eos(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\nb c a\nc a b\na a b\n" * 20)
    env = SeqGANEnv(dataset=str(corpus), reward_mode="final", d_every=0)
    eos = env.game.eos_id
    env.reset(seed=0)
    word = env.game.data.vocab.index("a")
    _, reward, terminated, *_ = env.step(word)
    assert not terminated and reward == 0.0
    obs, reward, terminated, *_ = env.step(eos)
    assert terminated and 0.0 < reward < 1.0
    assert env.game.data.decode(obs[2:]) == "a"


def test_text_length_fits_95_percent_unless_set_and_a_cut_is_said(tmp_path, capfd):
    """Unset, T is the shortest length that holds 95% of the sentences with their <eos>
    (here 24 words + <eos>), not the oracle's 20; a T that cuts more than 5% says so."""
    poem = " ".join(f"w{i % 7}" for i in range(24))
    corpus = tmp_path / "poems.txt"
    corpus.write_text(f"{poem}\n" * 95 + "a b\n" * 5)
    game = SequenceGame(SeqGANConfig(dataset=str(corpus), d_every=0))
    assert game.length == 25 and game.data.stats["train_cut"] == 0.0
    assert "warning" not in capfd.readouterr().err
    game = SequenceGame(SeqGANConfig(dataset=str(corpus), d_every=0, seq_len=20))
    assert game.length == 20
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "seq_len=20 cuts" in lines[0] and "seq_len=25 fits 95%" in lines[0]
    # the oracle keeps SeqGAN's 20
    assert SequenceGame(SeqGANConfig(**{**TINY, "seq_len": None})).length == 20


def test_a_test_dataset_is_the_whole_held_out_set(tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("a b c\nb c a\n" * 20)
    test.write_text("c b a\n" * 7)
    game = SequenceGame(SeqGANConfig(dataset=str(train), test_dataset=str(test), d_every=0))
    assert len(game.data.train) == 40 and len(game.data.test) == 7
    with pytest.raises(UserError, match="test_dataset needs dataset"):
        SequenceGame(SeqGANConfig(test_dataset=str(test)))


def test_bad_options_and_data_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="reward_mode"):
        SeqGANEnv(reward_mode="sometimes")
    with pytest.raises(UserError, match="did you mean n_rollouts"):
        SeqGANEnv(n_rolouts=3)
    with pytest.raises(UserError, match="not found"):
        SeqGANEnv(dataset=str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(UserError):
        SeqGANEnv(dataset=str(empty))


# --- batching and checkers ------------------------------------------------------------------


def _play(env, actions, seed):
    env.reset(seed=seed)
    return [env.step(a)[1] for a in actions]


def test_vector_env_agrees_with_single_envs_and_batch_size_changes_nothing():
    config = SeqGANConfig(**SMALL, d_every=0)
    game = SequenceGame(config)
    policy = nn.Sequential(TokenLSTM(40), nn.Linear(32, 40))
    game.update_rollout_policy(policy)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 40, size=(8, 5))  # 5 envs, 8 steps: one whole sequence
    vector_rewards = {}
    for n in (5, 3):
        vec = SeqGANVectorEnv(num_envs=n, game=game)
        vec.reset(seed=10)
        vector_rewards[n] = np.stack([vec.step(actions[t, :n])[1] for t in range(8)])
    np.testing.assert_allclose(vector_rewards[3], vector_rewards[5][:, :3], atol=1e-5)
    single = SeqGANEnv(game=game)
    for i in range(5):
        rewards = _play(single, actions[:, i], seed=10 + i)
        np.testing.assert_allclose(rewards, vector_rewards[5][:, i], atol=1e-5)


def test_vector_env_autoresets_in_the_same_step():
    vec = gym.make_vec(
        "SeqGAN-v0", num_envs=3, vectorization_mode="vector_entry_point", **TINY, d_every=0
    )
    obs, _ = vec.reset(seed=0)
    for _ in range(5):
        obs, _, terminated, truncated, info = vec.step(np.array([1, 2, 3]))
    assert terminated.all() and not truncated.any()
    assert (obs[:, 0] == 0).all()  # already the next sequences' empty prefixes
    assert info["final_obs"][0].tolist() == [5, 0, 1, 1, 1, 1, 1]


def test_passes_both_env_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("SeqGAN-v0", **TINY)
    check_env(env.unwrapped)
    sb3_check_env(env.unwrapped)


def test_makes_in_a_fresh_process_by_module_prefix():
    code = "import gymnasium as gym; e = gym.make('advrl:SeqGAN-v0', vocab_size=7, seq_len=3, n_train=10, n_test=5); print(e.action_space)"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "Discrete(7)" in out.stdout


@pytest.mark.slow
def test_stable_baselines3_ppo_learns_on_it_unchanged():
    """SB3's PPO on the plain Gymnasium env, rewarded by a frozen discriminator's logit of
    each whole sequence: its last 50 training episodes beat the uniform policy, whose
    expected reward is exact (every one of the 6^5 sequences scored), by a wide margin.
    Measured: uniform 0.40, the best sequence 0.95; PPO 0.84, and 0.46 at learning rate 0."""
    from stable_baselines3 import PPO

    env = gym.make("SeqGAN-v0", **TINY, reward_mode="final", d_reward="logit", d_every=0)
    tokens = range(TINY["vocab_size"])
    every_sequence = torch.tensor(list(itertools.product(tokens, repeat=TINY["seq_len"])))
    uniform = env.unwrapped.game.score(every_sequence).mean().item()
    options = {"n_steps": 128, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-2}
    model = PPO("MlpPolicy", env, **options, stats_window_size=50, seed=0, device="cpu")
    model.learn(total_timesteps=1024)
    returns = [episode["r"] for episode in model.ep_info_buffer]
    assert len(returns) == 50
    assert np.mean(returns) > uniform + 0.2, (np.mean(returns), uniform)


# --- discriminator memorisation -----------------------------------------------------------

MEMO = {
    **TINY,
    **{"vocab_size": 20, "seq_len": 8, "n_train": 40, "d_every": 0, "d_holdout": 0.5},
    "d_token_noise": 0.0,  # the plain discriminator, which memorises
}


def oracle_policy(game: SequenceGame):
    """Next-token logits of the oracle itself: fakes drawn from the real distribution."""

    def policy(obs: torch.Tensor) -> torch.Tensor:
        return game.oracle(obs[:, 2:])[torch.arange(len(obs)), obs[:, 0]]

    return policy


def rows_of(sequences: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(r) for r in sequences.tolist()}


@pytest.mark.parametrize("options", [{}, {"d_patience": 1, "d_token_noise": 0.2}])
def test_held_out_reals_never_reach_discriminator_training(options):
    """Neither the validation half (early stopping) nor the measurement half of the
    held-out share is ever trained on, augmented or not."""
    game = SequenceGame(SeqGANConfig(**{**MEMO, "d_negatives": 64, **options}))
    heldout = rows_of(game.d_heldout) | rows_of(game.d_val)
    assert len(game.d_heldout) == len(game.d_val) == 10
    assert heldout | rows_of(game.d_train) == rows_of(game.data.train)
    seen: list[torch.Tensor] = []
    update = game.reward_model.update
    game.reward_model.update = lambda real, fake: seen.append(real) or update(real, fake)
    game.live_policy = oracle_policy(game)
    game.train_discriminator(rounds=3)
    assert seen and not heldout & rows_of(torch.cat(seen))


def test_token_noise_replaces_a_share_of_tokens_with_tokens_of_the_same_batch():
    game = SequenceGame(SeqGANConfig(**{**MEMO, "d_token_noise": 0.3}))
    batch = game.d_train[:16]
    noisy = game.augment(batch)
    changed = (noisy != batch).float().mean().item()
    assert 0.1 < changed <= 0.3  # a replacement may draw the token it replaces
    assert set(noisy.unique().tolist()) <= set(batch.unique().tolist())
    assert torch.equal(batch, game.d_train[:16])  # the data itself is untouched
    assert SequenceGame(SeqGANConfig(**MEMO)).augment(batch) is batch


def test_early_stopping_keeps_the_discriminator_from_memorising():
    """Fakes from the oracle itself: nothing tells unseen reals from fakes, so every epoch
    that lowers the training loss raises the validation loss; early stopping keeps the
    best weights and the gap stays small where plain training memorises (> 3 nats)."""
    gaps = {}
    for patience in (0, 2):
        game = SequenceGame(SeqGANConfig(**MEMO, d_negatives=128, d_patience=patience))
        game.live_policy = oracle_policy(game)
        gaps[patience] = game.train_discriminator(rounds=8)["d_memorisation_gap"]
    assert gaps[0] > 3.0 and abs(gaps[2]) < 1.0, gaps


def test_memorisation_gap_is_large_on_a_tiny_set_and_small_with_fresh_reals():
    """Fakes from the oracle itself: D can only tell 20 training reals apart by memorising
    them (a large gap); with fresh oracle reals every round there is nothing to memorise."""
    gaps = {}
    for fresh in (False, True):
        game = SequenceGame(SeqGANConfig(**MEMO, d_negatives=128, d_fresh_reals=fresh))
        game.live_policy = oracle_policy(game)
        phase = game.train_discriminator(rounds=8)
        gaps[fresh] = phase["d_memorisation_gap"]
        assert set(MEMORISATION_KEYS) <= set(phase)
    assert gaps[False] > 3.0 and abs(gaps[True]) < 1.0, gaps


# --- the SeqGAN recipe ----------------------------------------------------------------------


def _recipe(**options) -> tuple[SequenceGame, ActorCritic, SeqGANRecipe]:
    """A game and a recipe; ``options`` are the env's or the recipe's, by name."""
    recipe_fields = SeqGANRecipeConfig.__dataclass_fields__
    recipe_options = {
        "eval_samples": 500,
        **{k: v for k, v in options.items() if k in recipe_fields},
    }
    env_options = {k: v for k, v in options.items() if k not in recipe_fields}
    game = SequenceGame(SeqGANConfig(**{**SMALL, **env_options}))
    space = SeqGANEnv(game=game).observation_space
    torch.manual_seed(0)
    policy = ActorCritic(space, gym.spaces.Discrete(40), hidden_sizes=())
    config = SeqGANRecipeConfig(**recipe_options)
    return game, policy, SeqGANRecipe(game, policy, torch.device("cpu"), config)


def test_mle_pretraining_lowers_nll_oracle_and_discriminator_learns():
    # Without token noise: with V = 40, replacing half the tokens leaves D little to learn
    # from in 20 rounds (with V = 5000 it generalises better with it; README).
    _, _, recipe = _recipe(mle_epochs=5, d_pretrain_rounds=20, d_negatives=256, d_token_noise=0)
    untrained = recipe.evaluate()
    losses = recipe.pretrain_mle(seed=0)
    trained = recipe.evaluate()
    assert losses[-1] < losses[0]
    assert trained["nll_oracle"] < untrained["nll_oracle"] - 0.3
    assert trained["nll_test"] < untrained["nll_test"] - 0.3
    metrics = recipe.pretrain_discriminator()
    assert metrics["accuracy"] > 0.6
    assert metrics["d_heldout_real_logit"] > metrics["d_fake_logit"] + 0.2  # unseen reals too


def test_mle_early_stopping_keeps_the_best_validation_epoch():
    # 200 sequences over-fit within a few epochs at this learning rate.
    _, _, recipe = _recipe(n_train=200, mle_epochs=30, mle_patience=2, mle_lr=3e-2)
    losses = recipe.pretrain_mle(seed=0)
    assert len(losses) < 30  # stopped early
    assert len(losses) == recipe.best_epoch + 2  # two epochs without improvement
    assert recipe.val_nll[recipe.best_epoch - 1] == min(recipe.val_nll)
    # The kept weights are the best epoch's, not the last one's.
    assert recipe.nll_at(recipe.validation, [1.0])[1.0] == pytest.approx(
        min(recipe.val_nll), abs=1e-5
    )
    assert len(recipe.validation) == 20  # mle_val_fraction 0.1, held out of training


def test_mle_dropout_is_one_mask_per_sequence_and_only_in_training():
    from advrl.agents.networks import locked_dropout

    x = torch.ones(64, 7, 16)
    dropped = locked_dropout(x, 0.5)
    assert torch.equal(dropped, dropped[:, :1].expand_as(x))  # the same mask at every step
    assert set(dropped.unique().tolist()) == {0.0, 2.0}  # kept units rescaled by 1 / (1 - p)
    encoder = TokenLSTM(vocab_size=10)
    sequences = torch.randint(0, 10, (8, 5))
    plain = encoder.teacher_forced(sequences, 0)
    assert not torch.equal(encoder.teacher_forced(sequences, 0, dropout=0.5), plain)
    encoder.eval()
    assert torch.equal(encoder.teacher_forced(sequences, 0, dropout=0.5), plain)
    assert SeqGANRecipeConfig(mle_dropout=1.0).validate() == [
        "mle_dropout must be in [0, 1), got 1.0"
    ]


def test_mle_dropout_regularises_and_validates_without_dropout():
    # The set-up of the early-stopping test, where 200 sequences over-fit within epochs.
    options = {"n_train": 200, "mle_epochs": 30, "mle_patience": 2, "mle_lr": 3e-2}
    _, _, plain = _recipe(**options)
    plain.pretrain_mle(seed=0)
    _, _, dropped = _recipe(**options, mle_dropout=0.5)
    dropped.pretrain_mle(seed=0)
    assert min(dropped.val_nll) < min(plain.val_nll) - 0.02
    # validation NLLs are measured without dropout: the kept weights reproduce the best one
    assert dropped.nll_at(dropped.validation, [1.0])[1.0] == pytest.approx(
        min(dropped.val_nll), abs=1e-5
    )


def test_a_saved_generator_loads_the_token_policy_but_not_the_critic(tmp_path):
    game, policy, recipe = _recipe()
    space = SeqGANEnv(game=game).observation_space
    torch.manual_seed(1)
    saved = ActorCritic(space, gym.spaces.Discrete(40), hidden_sizes=())
    path = tmp_path / "generator.pt"
    torch.save(saved.state_dict(), path)
    critic = {k: v.clone() for k, v in policy.critic.state_dict().items()}
    recipe.load_generator(path)
    expected = SeqGANRecipe(game, saved, torch.device("cpu")).nll_test()
    assert recipe.nll_test() == pytest.approx(expected, rel=1e-6)
    assert all(torch.equal(policy.critic.state_dict()[k], v) for k, v in critic.items())
    # a generator of other sizes is refused with the fix, a missing file before the run
    other = ActorCritic(space, gym.spaces.Discrete(40), hidden_sizes=(), token_lstm=(8, 8))
    torch.save(other.state_dict(), path)
    with pytest.raises(UserError, match="token_lstm sizes"):
        recipe.load_generator(path)
    missing = str(tmp_path / "none.pt")
    problem = f"generator_path {missing!r} is not a file"
    assert SeqGANRecipeConfig(generator_path=missing).validate() == [problem]


def test_short_adversarial_run_raises_the_discriminator_reward(tmp_path):
    from advrl.agents.ppo import PPO, PPOConfig
    from advrl.core.logger import RunLogger

    game, _, _ = _recipe(reward_mode="rollout", d_every=0, mle_epochs=0)
    vec = SeqGANVectorEnv(num_envs=32, game=game)
    config = PPOConfig(lr=3e-3, gamma=0.0, n_steps=8, batch_size=128, n_epochs=4)
    config.hidden_sizes = ()
    torch.manual_seed(0)
    agent = PPO(vec.single_observation_space, vec.single_action_space, config, torch.device("cpu"))
    recipe = SeqGANRecipe(
        game, agent.policy, torch.device("cpu"), SeqGANRecipeConfig(d_pretrain_rounds=6)
    )
    recipe.pretrain_discriminator()  # 6 rounds against the untrained policy
    before = float(game.score(recipe.sample(1000)).mean())
    logger = RunLogger(tmp_path / "run", 32 * 8 * 15)
    try:
        agent.learn(vec, 32 * 8 * 15, logger, seed=0)
    finally:
        logger.close()
    after = float(game.score(recipe.sample(1000)).mean())
    assert after > before + 0.05


# --- the users' command ---------------------------------------------------------------------


def test_users_command_end_to_end_writes_the_metrics(tmp_path):
    run_dir = tmp_path / "run"
    kwargs = "vocab_size=60 seq_len=8 n_train=500 n_test=100 d_negatives=64"
    recipe = "mle_epochs=2 d_pretrain_rounds=2 eval_samples=300"
    result = run_script(
        "train_agent.py",
        "--env", "SeqGAN-v0", "--algo", "ppo", "--total-steps", "1280",
        "--env-kwargs", *kwargs.split(), "--recipe-kwargs", *recipe.split(),
        "--run-dir", str(run_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "after MLE" in result.stderr and "after adversarial training" in result.stderr
    # A generator's result is its generation metrics, not a fake one-episode return.
    assert "generator: nll_oracle" in result.stdout and "eval return" not in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("nll_oracle", "nll_test", "nll_oracle_mle", "bleu2", "bleu5", "self_bleu4"):
        assert isinstance(summary[key], float), key
    assert summary["discriminator_accuracy"] is not None
    for key in MEMORISATION_KEYS:  # the logits, the gap and the called-real rates
        assert isinstance(summary[key], float) and isinstance(summary[f"{key}_pretrain"], float)
    assert 0.0 <= summary["d_heldout_real_called_real"] <= 1.0
    assert 1.0 in [row["temperature"] for row in summary["temperature_sweep"]]
    assert all("nll_oracle_se" in row for row in summary["temperature_sweep"])
    assert len(summary["temperature_sweep_mle"]) == len(summary["temperature_sweep"])
    assert summary["seqgan"]["mle_best_epoch"] >= 1
    # where the generator lies against MLE's temperature curve, in the summary and a figure
    assert isinstance(summary["frontier_gap"], float) and summary["frontier_gap_se"] > 0
    assert "seqgan: frontier gap" in result.stderr
    assert (run_dir / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert "seqgan/frontier" in EventAccumulator(str(run_dir)).Reload().Tags()["images"]
    assert (run_dir / "generator.pt").exists() and (run_dir / "discriminator.pt").exists()
    # evaluate.py reports generation metrics under the run's own discriminator.
    result = run_script("evaluate.py", summary["checkpoint"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nll_oracle"] == pytest.approx(summary["nll_oracle"], abs=0.5)
    # The trained discriminator is reusable as a fixed reward model.
    env = SeqGANEnv(
        **{k: int(v) for k, v in (kv.split("=") for kv in kwargs.split()[:4])},
        discriminator_path=str(run_dir / "discriminator.pt"),
        d_every=0,
    )
    assert env.game.reward_model.updates > 0
    # ... and through the CLI, as another run's frozen reward.
    result = run_script(
        "train_agent.py",
        "--env", "SeqGAN-v0", "--algo", "reinforce", "--total-steps", "640",
        "--reward", f"model:{run_dir / 'discriminator.pt'}",
        "--env-kwargs", *kwargs.split(), "--recipe-kwargs", *recipe.split(),
        f"generator_path={run_dir / 'generator.pt'}", "--run-dir", str(tmp_path / "reuse"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reuse = json.loads((tmp_path / "reuse" / "summary.json").read_text())
    assert reuse["env_kwargs"]["d_every"] == 0
    assert reuse["seqgan"]["discriminator_phases"] == 0
    # ... with the first run's generator, loaded into another agent instead of MLE
    assert reuse["seqgan"]["mle_losses"] == [] and "generator loaded" in result.stderr
    assert reuse["nll_test_mle"] == pytest.approx(summary["nll_test"], rel=1e-5)


def test_list_hp_shows_what_the_run_would_use_and_the_env_options():
    result = run_script("train_agent.py", "--env", "SeqGAN-v0", "--algo", "ppo", "--list-hp")
    assert result.returncode == 0, result.stderr
    assert "gamma=0.0" in result.stdout  # the env's recommended discount, over the preset
    assert "options of SeqGAN-v0" in result.stdout and "n_rollouts=16" in result.stdout
    paper = run_script(
        "train_agent.py", "--env", "SeqGAN-v0", "--algo", "ppo", "--list-hp", "--hp", "preset=paper"
    )
    assert "discriminator=paper" in paper.stdout and "mle_epochs=120" in paper.stdout
    bad = run_script(
        "train_agent.py", "--env", "SeqGAN-v0", "--algo", "ppo", "--list-hp", "--hp", "preset=papr"
    )
    assert bad.returncode == 2 and "did you mean paper" in bad.stderr


def test_the_token_lstm_widths_are_a_hyperparameter():
    from advrl.agents.ppo import PPO, PPOConfig

    env = SeqGANEnv(**TINY, d_every=0)
    config = PPOConfig(token_lstm=(16, 48), hidden_sizes=())
    agent = PPO(env.observation_space, env.action_space, config, torch.device("cpu"))
    encoder = agent.policy.encoder
    assert (encoder.embedding.embedding_dim, encoder.hidden_dim) == (16, 48)
    assert PPOConfig(token_lstm=(0, 32)).validate() == [
        "token_lstm must be two positive widths, got (0, 32)"
    ]
