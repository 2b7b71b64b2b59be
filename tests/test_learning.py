"""Learning tests: short seeded runs that must reach a return taken from ground truth."""

import gymnasium as gym
import pytest
import torch

from advrl.core.checkpoint import load_checkpoint
from advrl.envs import value_iteration
from advrl.train import TrainSettings, train


def optimal_gridworld_return(**env_kwargs) -> float:
    """The exact optimal undiscounted return from the start square (value iteration)."""
    env = gym.make("GridWorld-v0", **env_kwargs)
    return float(value_iteration(env, gamma=1.0).values[env.unwrapped.start_state])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reinforce_reaches_the_optimal_gridworld_return(seed, tmp_path):
    optimal = optimal_gridworld_return()
    assert optimal == pytest.approx(0.84)
    summary = train(
        TrainSettings(
            env="GridWorld-v0",
            algo="reinforce",
            total_steps=20_000,
            seed=seed,
            run_dir=tmp_path / "run",
            eval_episodes=5,
            device="cpu",
        )
    )
    assert summary["eval_return_mean"] == pytest.approx(optimal, abs=0.01)


@pytest.mark.parametrize("algo", ["reinforce", "ppo", "dqn"])
def test_same_seed_gives_the_same_curve(algo, tmp_path):
    def run(name, seed):
        summary = train(
            TrainSettings(
                env="GridWorld-v0",
                algo=algo,
                total_steps=1_500,
                seed=seed,
                run_dir=tmp_path / name,
                eval_episodes=2,
                device="cpu",
                env_kwargs={"slip": 0.2},
            )
        )
        agent = load_checkpoint(summary["checkpoint"])["agent"]
        return agent["q_net" if algo == "dqn" else "policy"]

    first, again, other = run("a", 5), run("b", 5), run("c", 6)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
