"""The density-ratio reward, the KL anchor and the reweighted model's ceiling (issue 14)."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import advrl  # noqa: F401  (registers SeqGAN-v0)
from advrl.agents.networks import ActorCritic
from advrl.agents.reinforce import Reinforce, ReinforceConfig
from advrl.agents.rollout import OnPolicyAgent, RolloutBuffer, collect_rollout
from advrl.core.logger import RunLogger
from advrl.envs.seqgan import SeqGANConfig, SeqGANVectorEnv, SequenceGame
from advrl.gan.density_ratio import exact_log_z, importance_log_z, reweighted_nll

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_VOCAB = {"vocab_size": 4, "seq_len": 3, "n_train": 200, "n_test": 50, "d_every": 0}
"""4 ** 3 = 64 sequences: every distribution is exact by enumeration."""


class TableLogit(nn.Module):
    """A hand-written discriminator: the logit of each sequence read from a table."""

    def __init__(self, logits: torch.Tensor, vocab_size: int) -> None:
        super().__init__()
        self.logits, self.vocab_size = logits, vocab_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = torch.zeros(len(x), dtype=torch.long)
        for t in range(x.shape[1]):
            index = index * self.vocab_size + x[:, t].long().cpu()
        return self.logits[index].float()


def spaces_of(envs: gym.vector.VectorEnv) -> tuple[gym.Space, gym.Space]:
    return envs.single_observation_space, envs.single_action_space


def all_sequences(vocab_size: int, length: int) -> torch.Tensor:
    """Every sequence, in the order ``TableLogit`` indexes them."""
    grids = torch.cartesian_prod(*[torch.arange(vocab_size)] * length)
    return grids.reshape(-1, length)


def policy_log_probs(policy: ActorCritic, sequences: torch.Tensor, start_id: int) -> torch.Tensor:
    """log pi(x) (B,) of whole sequences under a token policy."""
    with torch.no_grad():
        logits = policy.teacher_forced_logits(sequences, start_id)
    return F.log_softmax(logits, -1).gather(-1, sequences.unsqueeze(-1)).squeeze(-1).sum(1)


def oracle_log_probs(game: SequenceGame, sequences: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return -game.oracle.nll(sequences).double() * sequences.shape[1]


# --- the reward ---------------------------------------------------------------------------


def test_logit_reward_is_log_d_over_one_minus_d():
    sequences = all_sequences(4, 3)
    logits = torch.linspace(-3.0, 3.0, len(sequences))
    rewards = {}
    for mode in ("prob", "logit"):
        game = SequenceGame(SeqGANConfig(**TINY_VOCAB, d_reward=mode))
        game.reward_model.discriminator = TableLogit(logits, 4)
        rewards[mode] = game.score(sequences)
    d = rewards["prob"]
    assert torch.allclose(d, torch.sigmoid(logits), atol=1e-6)
    assert torch.allclose(rewards["logit"], torch.log(d / (1 - d)), atol=1e-4)
    assert SeqGANConfig(d_reward="ratio").validate() == [
        "d_reward must be one of ('prob', 'logit'), got 'ratio'"
    ]


def test_rollout_mode_averages_the_logit_over_completions():
    game = SequenceGame(
        SeqGANConfig(**TINY_VOCAB, d_reward="logit", reward_mode="rollout", n_rollouts=512)
    )
    sequences = all_sequences(4, 3)
    logits = torch.linspace(-2.0, 2.0, len(sequences))
    game.reward_model.discriminator = TableLogit(logits, 4)
    # With uniform completions, Q(x_1) is the mean logit over the 16 sequences x_1 starts.
    prefix = game.empty_prefixes(1)
    prefix[0, 0], prefix[0, 2] = 1, 2  # t = 1, x_1 = 2
    uniforms = torch.rand(1, 512, 3, generator=torch.Generator().manual_seed(0))
    reward = game.step_rewards(prefix, torch.tensor([False]), uniforms)
    expected = logits[sequences[:, 0] == 2].mean()
    assert float(reward) == pytest.approx(float(expected), abs=0.1)


# --- the KL anchor --------------------------------------------------------------------------


class OneStep(gym.Env):
    """A bandit: one observation, four actions, reward 0, every episode one step."""

    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 0, 0.0, True, False, {}


class FixedLogits(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(obs), -1)


def test_kl_estimate_matches_the_closed_form():
    torch.manual_seed(0)
    envs = gym.vector.SyncVectorEnv(
        [OneStep] * 256, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    config = ReinforceConfig(hidden_sizes=(), kl_coef=1.0)
    agent = Reinforce(*spaces_of(envs), config, torch.device("cpu"))
    pi_logits = torch.tensor([2.0, 0.5, -1.0, 0.0])
    with torch.no_grad():
        agent.policy.actor[-1].weight.zero_()
        agent.policy.actor[-1].bias.copy_(pi_logits)
    ref_logits = torch.tensor([0.0, 1.0, 0.5, -0.5])
    agent.anchor_to(FixedLogits(ref_logits))
    buffer = RolloutBuffer(16, 256, *spaces_of(envs), torch.device("cpu"))
    obs, _ = envs.reset(seed=0)
    collect_rollout(envs, agent.policy, buffer, obs, 1.0, lambda *_: None, agent.kl_anchor)
    pi, ref = F.log_softmax(pi_logits, 0), F.log_softmax(ref_logits, 0)
    closed_form = float((pi.exp() * (pi - ref)).sum())
    stats = agent.kl_anchor.statistics(buffer.log_ratios, buffer.episode_ends)
    se = float(buffer.log_ratios.std()) / np.sqrt(buffer.log_ratios.numel())
    assert abs(stats["kl/sequence"] - closed_form) < 3 * se
    assert stats["kl/sequence"] == pytest.approx(stats["kl/per_step"])  # one-step episodes
    # every step's penalty is -beta times its own log ratio (nothing follows in its episode)
    penalty, _ = agent.kl_penalty(buffer)
    assert torch.allclose(penalty, -buffer.log_ratios)


def test_penalty_to_go_sums_the_log_ratios_left_in_each_episode():
    from advrl.agents.kl_anchor import KLAnchor

    anchor = KLAnchor(FixedLogits(torch.zeros(2)), coef=0.5)
    log_ratios = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    ends = torch.tensor([[0.0], [1.0], [0.0], [1.0]])  # two episodes of two steps
    assert anchor.penalty_to_go(log_ratios, ends).flatten().tolist() == [-1.5, -1.0, -3.5, -2.0]


def test_adaptive_beta_moves_towards_the_target():
    from advrl.agents.kl_anchor import KLAnchor

    anchor = KLAnchor(FixedLogits(torch.zeros(2)), coef=0.1, target=1.0)
    anchor.adapt(kl=5.0, steps=10_000)  # far above: +20%
    assert anchor.coef == pytest.approx(0.12)
    anchor.adapt(kl=0.5, steps=5_000)  # below: -50% clipped to -20%, over half a horizon
    assert anchor.coef == pytest.approx(0.12 * 0.9)
    assert ReinforceConfig(kl_target=1.0).validate() == [
        "kl_target must be > 0 and needs kl_coef > 0 (its starting value)"
    ]


def test_the_anchor_is_saved_and_restored():
    envs = gym.vector.SyncVectorEnv([OneStep], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    spaces = (envs.single_observation_space, envs.single_action_space)
    config = ReinforceConfig(hidden_sizes=(), kl_coef=0.3, kl_target=2.0)
    agent = Reinforce(*spaces, config, torch.device("cpu"))
    agent.start_learning()
    agent.kl_anchor.coef = 0.7  # adapted
    with torch.no_grad():
        agent.policy.actor[-1].bias.add_(1.0)  # the policy moved; the reference did not
    restored = Reinforce(*spaces, config, torch.device("cpu"))
    restored.load_state_dict(agent.state_dict())
    assert restored.kl_anchor.coef == 0.7
    obs = torch.zeros(1, dtype=torch.long)
    assert torch.equal(restored.kl_anchor.reference(obs), agent.kl_anchor.reference(obs))
    assert not torch.equal(restored.kl_anchor.reference(obs), restored.policy.logits_module()(obs))


def _train_on_perfect_ratio(tmp_path, kl_coef: float) -> tuple[float, float]:
    """Total variation to p_data before and after REINFORCE on r = log p_data - log p_ref."""
    torch.manual_seed(0)
    game = SequenceGame(SeqGANConfig(**TINY_VOCAB, reward_mode="final", d_reward="logit"))
    envs = SeqGANVectorEnv(num_envs=128, game=game)
    config = ReinforceConfig(
        lr=3e-2, gamma=1.0, n_steps=3, hidden_sizes=(), kl_coef=kl_coef, max_grad_norm=5.0
    )
    agent: OnPolicyAgent = Reinforce(*spaces_of(envs), config, torch.device("cpu"))
    sequences = all_sequences(4, 3)
    p_data = oracle_log_probs(game, sequences).exp()
    ref_log_p = policy_log_probs(agent.policy, sequences, game.start_id).double()
    game.reward_model.discriminator = TableLogit(p_data.log() - ref_log_p, 4)

    def total_variation() -> float:
        pi = policy_log_probs(agent.policy, sequences, game.start_id).double().exp()
        return 0.5 * float((pi - p_data).abs().sum())

    before = total_variation()
    logger = RunLogger(tmp_path / f"kl{kl_coef}", 3 * 128 * 300)
    agent.learn(envs, 3 * 128 * 300, logger, seed=0)
    logger.close()
    return before, total_variation()


def test_a_perfect_density_ratio_with_beta_one_moves_the_policy_to_p_data(tmp_path):
    # r = log p_data - log p_ref exactly and beta = 1: the optimum is pi = p_data.
    before, after = _train_on_perfect_ratio(tmp_path, kl_coef=1.0)
    assert before > 0.2  # the untrained policy is far from the oracle
    assert after < 0.15 * before
    # Without the anchor the same reward is maximised by its argmax, not by p_data.
    _, unanchored = _train_on_perfect_ratio(tmp_path, kl_coef=0.0)
    assert unanchored > 3 * after


# --- the ceiling ----------------------------------------------------------------------------


def test_importance_sampled_ceiling_equals_the_exact_one():
    torch.manual_seed(0)
    sequences = all_sequences(4, 3)
    ref_log_p = torch.log_softmax(torch.randn(len(sequences)), 0).double()
    log_ratio = torch.randn(len(sequences)).double()
    exact = exact_log_z(ref_log_p, log_ratio)
    draws = torch.multinomial(ref_log_p.exp(), 200_000, replacement=True)
    estimate, ess = importance_log_z(log_ratio[draws])
    assert estimate == pytest.approx(exact, abs=0.01)
    assert 0.3 * len(draws) < ess < len(draws)
    test = sequences[:10]
    lengths = torch.full((10,), 3)
    nll = reweighted_nll(ref_log_p[:10], log_ratio[:10], lengths, exact)
    q = (ref_log_p + log_ratio - exact).exp()
    assert float(q.sum()) == pytest.approx(1.0)  # q is a distribution
    assert nll == pytest.approx(float(-q[:10].log().mean() / 3))
    assert len(test) == 10


def test_a_zero_log_ratio_leaves_the_reference_as_its_own_ceiling():
    from advrl.plugins.seqgan_recipe import SeqGANRecipe

    game = SequenceGame(SeqGANConfig(**TINY_VOCAB, d_reward="logit"))
    game.reward_model.discriminator = TableLogit(torch.zeros(64), 4)
    space = SeqGANVectorEnv(num_envs=1, game=game).single_observation_space
    policy = ActorCritic(space, gym.spaces.Discrete(4), hidden_sizes=())
    recipe = SeqGANRecipe(game, policy, torch.device("cpu"))
    ceiling = recipe.density_ratio_ceiling(500)
    assert ceiling["log_z"] == pytest.approx(0.0, abs=1e-9)
    assert ceiling["effective_samples"] == pytest.approx(500)
    assert ceiling["ceiling_nll_test"] == pytest.approx(ceiling["reference_nll_test"])
    assert ceiling["reference_nll_test"] == pytest.approx(recipe.nll_test(), abs=1e-5)


def test_density_ratio_run_end_to_end(tmp_path):
    from conftest import run_script
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    kwargs = "vocab_size=60 seq_len=8 n_train=500 n_test=100 d_negatives=64 d_reward=logit"
    recipe = "mle_epochs=2 d_pretrain_rounds=2 eval_samples=300 kl_reference=refresh"
    result = run_script(
        "train_agent.py",
        "--env", "SeqGAN-v0", "--algo", "ppo", "--total-steps", "1280",
        "--env-kwargs", *kwargs.split(), "--recipe-kwargs", *recipe.split(),
        "--hp", "kl_coef=1.0", "kl_target=2.0", "--run-dir", str(run_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "density-ratio ceiling" in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    ceiling = summary["density_ratio_ceiling"]
    assert np.isfinite(ceiling["ceiling_nll_test"]) and 1 <= ceiling["effective_samples"] <= 300
    assert summary["kl_coef_final"] != 1.0  # adapted towards kl_target
    assert 0.0 <= summary["d_calibration_error"] <= 1.0
    tags = EventAccumulator(str(run_dir)).Reload().Tags()["scalars"]
    assert {"kl/sequence", "kl/per_step", "kl/coef"} <= set(tags)
