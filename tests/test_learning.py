"""Learning tests: short seeded runs that must reach a return taken from ground truth."""

from typing import Any

import gymnasium as gym
import pytest
import torch

from advrl.core.checkpoint import load_checkpoint
from advrl.envs import value_iteration
from advrl.plugins import Plugin, Run
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


class KeepCurve(Plugin):
    """Keeps the run's learning curve, (env step, return) of every finished episode, as its
    logger recorded it."""

    name = "keep_curve"

    def __init__(self) -> None:
        self.curve: list[tuple[int, float]] = []

    def summary(self, run: Run) -> dict[str, Any]:
        self.curve = list(run.logger.curve)
        return {}


@pytest.mark.parametrize("algo", ["reinforce", "ppo", "dqn"])
def test_same_seed_gives_the_same_curve(algo, tmp_path):
    def run(name, seed):
        kept = KeepCurve()
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
            ),
            plugins=[kept],
        )
        agent = load_checkpoint(summary["checkpoint"])["agent"]
        return kept.curve, agent["q_net" if algo == "dqn" else "policy"]

    (first, first_weights), (again, again_weights), (other, other_weights) = (
        run("a", 5),
        run("b", 5),
        run("c", 6),
    )
    assert len(first) >= 20  # enough episodes for the curves to say something
    assert first == again  # every episode's step and return, exactly
    assert other != first
    assert all(torch.equal(first_weights[k], again_weights[k]) for k in first_weights)
    assert not all(torch.equal(first_weights[k], other_weights[k]) for k in first_weights)
