"""Atari evaluation on whole games that cannot stall: FIRE after every lost life (as SB3's
evaluation stack presses it) and Nature DQN's evaluation epsilon."""

import numpy as np
import pytest

from advrl.envs.atari import FireOnLifeLoss
from advrl.envs.make import make_env, resolve_env
from advrl.evaluation import evaluate
from advrl.plan import TrainSettings, plan_run

BREAKOUT = "ALE/Breakout-v5"
FRAME_CAP_STEPS = 27_000
"""ale-py's v5 cap: 108,000 frames, 27,000 agent steps at frame skip 4."""


class NoOpAgent:
    """A greedy agent that never presses FIRE: the one whose games used to run to the cap."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)


def play(env, seed: int) -> tuple[int, int, int]:
    """One whole game of NOOPs: (agent steps, lives lost, the wrapper's FIRE presses seen)."""
    env.reset(seed=seed)
    lives, steps, lost = env.unwrapped.ale.lives(), 0, 0
    while True:
        _, _, terminated, truncated, _ = env.step(0)
        steps += 1
        now = env.unwrapped.ale.lives()
        lost, lives = lost + (now < lives), now
        if terminated or truncated:
            return steps, lost, lives


def test_a_noop_agents_evaluation_game_ends_long_before_the_cap():
    env = make_env(resolve_env(BREAKOUT), training=False)
    assert env.spec.max_episode_steps is None or env.spec.max_episode_steps >= FRAME_CAP_STEPS
    wrapper = env
    while not isinstance(wrapper, FireOnLifeLoss):  # it sits in the evaluation stack
        wrapper = wrapper.env
    steps, lost, lives = play(env, seed=0)
    env.close()
    # Five lives, each served by FIRE and missed by a paddle that never moves: a whole game
    # of a few hundred steps, ended by the game (no lives left), not by the cap.
    assert lost == 5 and lives == 0
    assert steps < 2_000


def test_training_envs_keep_life_loss_ends_and_press_no_extra_fire():
    env = make_env(resolve_env(BREAKOUT), training=True)
    wrapper, kinds = env, []
    while hasattr(wrapper, "env"):
        kinds.append(type(wrapper).__name__)
        wrapper = wrapper.env
    env.close()
    assert "EpisodicLifeEnv" in kinds and "FireOnLifeLoss" not in kinds


def test_evaluate_returns_whole_game_scores_within_the_budget():
    returns = evaluate(NoOpAgent(), resolve_env(BREAKOUT), episodes=2, seed=0)
    assert returns.shape == (2,) and (returns >= 0).all()


def test_eval_epsilon_takes_random_actions_with_its_chance_and_its_seed():
    factory = resolve_env("CartPole-v1")

    class Left:
        def act(self, obs, deterministic=True):
            return np.zeros(len(obs), dtype=np.int64)

    greedy = evaluate(Left(), factory, episodes=5, seed=3)
    noisy = evaluate(Left(), factory, episodes=5, seed=3, epsilon=0.5)
    again = evaluate(Left(), factory, episodes=5, seed=3, epsilon=0.5)
    assert np.array_equal(noisy, again)  # the same seed, the same random actions
    assert noisy.mean() > greedy.mean()  # pushing left alone falls fastest


@pytest.mark.parametrize(
    ("algo", "env", "epsilon"),
    [("dqn", BREAKOUT, 0.05), ("double_dqn", BREAKOUT, 0.05), ("ppo", BREAKOUT, 0.0),
     ("dqn", "CartPole-v1", 0.0)],
)  # fmt: skip
def test_eval_epsilon_defaults_to_the_published_protocol(algo, env, epsilon, tmp_path):
    plan = plan_run(TrainSettings(env=env, algo=algo, run_dir=tmp_path / "run"))
    assert plan.eval_epsilon == epsilon
    assert plan.run_meta["eval_epsilon"] == epsilon
    chosen = plan_run(
        TrainSettings(env=env, algo=algo, run_dir=tmp_path / "other", eval_epsilon=0.2)
    )
    assert chosen.eval_epsilon == 0.2


@pytest.mark.parametrize("epsilon", ["-0.1", "1.5"])
def test_bad_eval_epsilon_is_a_one_line_error(epsilon, script, tmp_path):
    result = script(
        "train_agent.py", "--env", "CartPole-v1", "--algo", "ppo", "--eval-epsilon", epsilon,
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"advrl: error: --eval-epsilon must lie in [0, 1], got {float(epsilon)}"
    ]
    assert not (tmp_path / "run").exists()
