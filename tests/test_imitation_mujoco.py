"""Imitation on MuJoCo end to end, at toy size: demonstrations with Box actions, behaviour
cloning on them, GAIL and AIRL runs, and AIRL's reward transferred to a fresh agent. The
learning itself is measured by ``scripts/benchmark.py --suite imitation-mujoco``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_script

from advrl.agents.networks import obs_to_tensor
from advrl.core.checkpoint import load_checkpoint
from advrl.core.demos import episode_bounds, load_demos, subsample_demos
from advrl.evaluation import load_agent
from advrl.train import TrainSettings, train

ENV = "Hopper-v5"


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """Six episodes of a briefly trained PPO agent on Hopper-v5."""
    root = tmp_path_factory.mktemp("mujoco_demos")
    summary = train(
        TrainSettings(env=ENV, algo="ppo", seed=1, total_steps=2048, eval_episodes=0,
                      run_dir=root / "expert")
    )  # fmt: skip
    path = root / "demos.npz"
    result = run_script(
        "record_demos.py", summary["checkpoint"], "--episodes", "6", "--out", str(path)
    )
    assert result.returncode == 0, result.stderr
    return path


def test_demonstrations_of_box_actions_keep_actions_and_terminations(demos):
    data = load_demos(demos)
    assert data["actions"].shape == (len(data["obs"]), 3)
    assert data["actions"].dtype == np.float32
    assert np.all(np.abs(data["actions"]) <= 1.0)  # clipped to the action space
    assert data["terminals"].dtype == bool
    assert np.all(data["dones"][data["terminals"]])  # a termination ends an episode
    assert len(episode_bounds(data)) == 6 == len(data["episode_returns"])


def test_subsampled_demonstrations_are_seeded_whole_episodes_every_nth_step(demos):
    data = load_demos(demos)
    first = subsample_demos(data, episodes=2, seed=0, every=3)
    assert subsample_demos(data, 2, seed=0, every=3)["obs"].tobytes() == first["obs"].tobytes()
    assert len(first["episode_returns"]) == 2
    lengths = [end - start for start, end in episode_bounds(data)]
    assert len(first["obs"]) <= sum(sorted(lengths)[-2:]) // 3 + 2
    whole = subsample_demos(data, episodes=6, seed=0)
    assert len(whole["obs"]) == len(data["obs"])


def test_behaviour_cloning_fits_box_actions(demos, tmp_path):
    summary = train(
        TrainSettings(env=ENV, algo="ppo", seed=2, total_steps=0, pretrain="bc", demos=demos,
                      pretrain_kwargs={"epochs": 30, "patience": 0}, eval_episodes=0,
                      run_dir=tmp_path / "bc")
    )  # fmt: skip
    agent, _, _ = load_agent(summary["checkpoint"])
    data = load_demos(demos)
    with torch.no_grad():
        mean = agent.policy.distribution(obs_to_tensor(data["obs"], agent.device)).mean.numpy()
    error = np.mean((mean - data["actions"]) ** 2)
    assert error < 0.1 * np.var(data["actions"]), error  # the deterministic expert is copied
    # The policy reads observations standardised with the demonstrations' statistics.
    stats = load_checkpoint(summary["checkpoint"])["agent"]["policy"]
    np.testing.assert_allclose(stats["obs_norm.mean"].numpy(), data["obs"].mean(0), rtol=1e-4)


@pytest.mark.parametrize("reward", ["gail", "airl"])
def test_adversarial_imitation_runs_on_hopper_end_to_end(demos, tmp_path, reward):
    summary = train(
        TrainSettings(env=ENV, algo="ppo", seed=3, total_steps=2048, reward=reward, demos=demos,
                      reward_kwargs={"d_every": 512, "batch_size": 64}, eval_episodes=1,
                      run_dir=tmp_path / reward)
    )  # fmt: skip
    assert summary["discriminator_phases"] == 4
    saved = load_checkpoint(summary["reward_model"])
    assert saved["kind"] == ("airl" if reward == "airl" else "transition")
    if reward == "airl":
        assert saved["gamma"] == pytest.approx(0.999)  # the Hopper preset's discount

        # Its reward g, frozen, trains a fresh agent (AIRL's reward transfer).
        transfer = train(
            TrainSettings(env=ENV, algo="ppo", seed=4, total_steps=1024,
                          reward=f"model:{summary['reward_model']}", eval_episodes=1,
                          run_dir=tmp_path / "transfer")
        )  # fmt: skip
        assert transfer["total_steps"] >= 1024 and transfer["eval_episodes"] == 1

        # Read above its floor; a resumed run keeps the reading and the floor.
        model = f"model:{summary['reward_model']}"
        floored = train(
            TrainSettings(env=ENV, algo="ppo", seed=4, total_steps=512, reward=model,
                          reward_kwargs={"reward": "above_floor"}, eval_episodes=0,
                          run_dir=tmp_path / "floored")
        )  # fmt: skip
        first = load_checkpoint(floored["checkpoint"])
        assert first["run"]["frozen_reward"] == {"reward": "above_floor"}
        floor = first["plugins"]["learned_reward"]["discriminator"]["floor"].item()
        assert np.isfinite(floor)
        train(TrainSettings(resume=floored["checkpoint"], total_steps=1024, eval_episodes=0))
        resumed = load_checkpoint(tmp_path / "floored" / "checkpoints" / "final.pt")
        assert resumed["run"]["frozen_reward"] == {"reward": "above_floor"}
        assert resumed["plugins"]["learned_reward"]["discriminator"]["floor"].item() <= floor

        # Ranked among the expert's states (--demos); a resumed run keeps the reading.
        ranked = train(
            TrainSettings(env=ENV, algo="ppo", seed=4, total_steps=512, reward=model,
                          demos=demos, reward_kwargs={"reward": "expert_rank"},
                          eval_episodes=0, run_dir=tmp_path / "ranked")
        )  # fmt: skip
        train(TrainSettings(resume=ranked["checkpoint"], total_steps=1024, eval_episodes=0))
        resumed = load_checkpoint(tmp_path / "ranked" / "checkpoints" / "final.pt")
        assert resumed["run"]["frozen_reward"] == {"reward": "expert_rank"}
        expert_g = resumed["plugins"]["learned_reward"]["discriminator"]["expert_g"]
        assert len(expert_g) == len(load_demos(demos)["obs"])

        for kwargs, message in [
            (["reward=exp"], "reward=logit|neg_log_one_minus_d|above_floor|expert_rank"),
            (["reward=expert_rank"], "ranks g among the expert's states: add --demos FILE"),
        ]:
            result = run_script(
                "train_agent.py", "--env", ENV, "--algo", "ppo", "--reward", model,
                "--reward-kwargs", *kwargs, "--run-dir", str(tmp_path / "refused"),
            )  # fmt: skip
            assert result.returncode == 2 and message in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
            assert not (tmp_path / "refused").exists()


def test_airl_is_refused_for_an_agent_without_a_policy_and_for_token_observations(demos, tmp_path):
    result = run_script(
        "train_agent.py", "--env", "GridWorld-v0", "--algo", "ppo", "--reward", "airl",
        "--demos", str(demos), "--run-dir", str(tmp_path / "grid"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "--reward airl takes vector observations" in result.stderr
    assert not (tmp_path / "grid").exists()
    result = run_script(
        "train_agent.py", "--env", "CartPole-v1", "--algo", "dqn", "--reward", "airl",
        "--demos", str(demos), "--run-dir", str(tmp_path / "dqn"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "--algo dqn has no policy; use --algo ppo" in result.stderr
    assert not (tmp_path / "dqn").exists()
