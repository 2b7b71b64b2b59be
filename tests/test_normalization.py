"""Observation normalisation and reward scaling (advrl.core.normalization) compute what SB3's
VecNormalize computes, live inside the agent, and travel with its checkpoints."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from advrl.agents.ppo import PPO, PPOConfig
from advrl.core.checkpoint import load_checkpoint
from advrl.core.errors import UserError
from advrl.core.normalization import ObservationNormalizer, ReturnScaler, parallel_update
from advrl.evaluation import evaluate, load_agent
from advrl.train import TrainSettings, train


def test_parallel_update_equals_the_statistics_of_all_batches_at_once():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (1, 7, 50)]
    mean, var, count = np.zeros(4), np.ones(4), 0.0
    for batch in batches:
        stats = (batch.mean(0), batch.var(0), len(batch))
        mean, var, count = parallel_update(mean, var, count, *stats)
    everything = np.concatenate(batches)
    assert count == len(everything)
    np.testing.assert_allclose(mean, everything.mean(0))
    np.testing.assert_allclose(var, everything.var(0))


def test_observation_normalizer_matches_sb3_running_mean_std_and_starts_as_the_identity():
    rng = np.random.default_rng(1)
    norm, reference = ObservationNormalizer((3,)), RunningMeanStd(shape=(3,))
    x = torch.tensor([[0.5, -2.0, 30.0]])
    assert torch.equal(norm(x), x.clamp(-10, 10))  # before any statistics: the identity
    for _ in range(5):
        batch = rng.normal([1.0, -5.0, 100.0], [0.1, 3.0, 20.0], size=(64, 3))
        norm.update(torch.as_tensor(batch, dtype=torch.float32))
        reference.update(batch)
    np.testing.assert_allclose(norm.mean.numpy(), reference.mean, rtol=1e-5)
    np.testing.assert_allclose(norm.var.numpy(), reference.var, rtol=1e-5)
    obs = rng.normal([1.0, -5.0, 100.0], [0.1, 3.0, 20.0], size=(8, 3))
    expected = np.clip((obs - reference.mean) / np.sqrt(reference.var + 1e-8), -10, 10)
    np.testing.assert_allclose(norm(torch.as_tensor(obs, dtype=torch.float32)), expected, atol=1e-4)


def test_observation_statistics_are_in_the_state_dict_and_restored():
    norm = ObservationNormalizer((2,))
    norm.update(torch.tensor([[1.0, 10.0], [3.0, 30.0]]))
    restored = ObservationNormalizer((2,))
    restored.load_state_dict(norm.state_dict())
    x = torch.tensor([[2.0, 5.0]])
    assert torch.equal(restored(x), norm(x))
    assert not torch.equal(restored(x), x)


def test_return_scaler_scales_rewards_exactly_as_sb3_vec_normalize():
    gamma, n_envs, steps = 0.99, 3, 400
    venv = VecNormalize(
        DummyVecEnv([lambda: gym.make("Pendulum-v1")] * n_envs),
        norm_obs=False,
        norm_reward=True,
        gamma=gamma,
    )
    venv.seed(0)
    venv.reset()
    scaler = ReturnScaler(gamma)
    for _ in range(steps):
        _, scaled, dones, _ = venv.step(np.zeros((n_envs, 1), dtype=np.float32))
        ours = scaler(venv.get_original_reward(), dones)
        np.testing.assert_allclose(ours, scaled, rtol=1e-5)
    assert np.any(dones)  # the 200-step episodes ended and the returns were reset


def test_return_scaler_state_round_trips():
    scaler = ReturnScaler(0.9)
    for step in range(20):
        scaler(np.array([1.0, -2.0]), np.array([step == 9, False]))
    copy = ReturnScaler(0.9)
    copy.load_state_dict(scaler.state_dict())
    np.testing.assert_array_equal(
        copy(np.array([0.5, 0.5]), np.array([False, False])),
        scaler(np.array([0.5, 0.5]), np.array([False, False])),
    )


def test_ppo_state_dict_carries_both_normalisations():
    space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    config = PPOConfig(normalize_obs=True, normalize_reward=True)
    agent = PPO(space, gym.spaces.Box(-1, 1, (2,)), config, torch.device("cpu"))
    assert agent.policy.obs_norm is not None and agent.reward_scaler is not None
    agent.policy.obs_norm.update(torch.randn(16, 3) * 5 + 2)
    agent.reward_scaler(np.array([3.0]), np.array([False]))
    state = agent.state_dict()
    assert "obs_norm.mean" in state["policy"] and "reward_scaler" in state
    other = PPO(space, gym.spaces.Box(-1, 1, (2,)), config, torch.device("cpu"))
    other.load_state_dict(state)
    assert torch.equal(other.policy.obs_norm.mean, agent.policy.obs_norm.mean)
    assert other.reward_scaler.var == agent.reward_scaler.var


def test_normalize_obs_on_token_or_image_observations_is_refused_before_anything_is_written(
    tmp_path,
):
    with pytest.raises(UserError, match="normalize_obs standardises vector observations"):
        train(
            TrainSettings(
                env="GridWorld-v0",
                algo="ppo",
                hp={"normalize_obs": True},
                run_dir=tmp_path / "run",
            )
        )
    assert not (tmp_path / "run").exists()


def test_a_hopper_checkpoint_evaluates_with_the_statistics_it_was_trained_with(tmp_path):
    summary = train(
        TrainSettings(
            env="Hopper-v5",
            algo="ppo",
            seed=5,
            total_steps=4096,
            eval_episodes=2,
            run_dir=tmp_path / "run",
        )
    )
    payload = load_checkpoint(tmp_path / "run" / "checkpoints" / "final.pt")
    assert payload["config"]["normalize_obs"] and payload["config"]["normalize_reward"]
    # Every rollout (8 of 512 steps) went into both statistics, and they were saved.
    assert float(payload["agent"]["policy"]["obs_norm.count"]) == pytest.approx(4096, abs=1)
    assert payload["agent"]["reward_scaler"]["count"] == pytest.approx(4096, abs=1)
    agent, factory, _ = load_agent(tmp_path / "run" / "checkpoints" / "final.pt")
    returns = evaluate(agent, factory, 2, seed=5 + 10_000)
    assert returns.tolist() == pytest.approx(summary["eval_returns"])
    # Without its statistics the same weights act differently: they matter.
    agent.policy.obs_norm.load_state_dict(type(agent.policy.obs_norm)((11,)).state_dict())
    assert evaluate(agent, factory, 2, seed=5 + 10_000).tolist() != pytest.approx(returns)


def test_a_resumed_run_continues_both_statistics(tmp_path):
    first = train(
        TrainSettings(env="Hopper-v5", algo="ppo", seed=6, total_steps=1024, eval_episodes=0,
                      run_dir=tmp_path / "run")
    )  # fmt: skip
    train(TrainSettings(resume=first["checkpoint"], total_steps=2048, eval_episodes=0))
    payload = load_checkpoint(tmp_path / "run" / "checkpoints" / "final.pt")
    assert payload["agent"]["global_step"] == 2048
    # Counted from the checkpoint's 1,024 on, not from zero again.
    assert float(payload["agent"]["policy"]["obs_norm.count"]) == pytest.approx(2048, abs=1)
    assert payload["agent"]["reward_scaler"]["count"] == pytest.approx(2048, abs=1)
