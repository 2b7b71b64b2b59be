"""``--eval-every``: periodic greedy evaluation, TensorBoard curves and checkpoints/best.pt."""

import json

import numpy as np
import pytest
import torch
from conftest import run_script
from test_cli import assert_user_error, scalars

from advrl.evaluation import evaluate, load_agent
from advrl.plugins.periodic_eval import SELECTION_SEED_OFFSET
from advrl.train import TrainSettings, train

SLIPPERY = {"slip": 0.2}  # stochastic episodes: evaluations differ by seed and by policy


def _run(tmp_path, name, **settings):
    options = {
        "env": "GridWorld-v0",
        "algo": "reinforce",
        "total_steps": 6000,
        "seed": 2,
        "env_kwargs": SLIPPERY,
        "eval_episodes": 5,
        "run_dir": tmp_path / name,
        "device": "cpu",
    }
    return train(TrainSettings(**{**options, **settings}))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("eval_every")
    return _run(tmp_path, "eval", eval_every=1000), _run(tmp_path, "plain"), tmp_path


def test_every_evaluation_is_logged_and_the_best_is_kept(evaluated):
    summary, _, tmp_path = evaluated
    curve = summary["eval_curve"]
    assert [point["step"] // 1000 for point in curve] == list(range(1, len(curve) + 1))
    assert len(curve) >= 5
    logged = scalars(tmp_path / "eval", "eval/mean_return")
    assert [step for step, _ in logged] == [point["step"] for point in curve]
    best = max(curve, key=lambda point: point["mean_return"])
    assert summary["best_eval_return_mean"] == best["mean_return"]
    assert summary["best_step"] == best["step"]
    assert summary["best_checkpoint"].endswith("checkpoints/best.pt")
    # the evaluations differ (policy and slips), so "best" is a real choice
    assert len({point["mean_return"] for point in curve}) > 1


def test_best_checkpoint_replays_its_logged_return(evaluated):
    summary, _, _ = evaluated
    agent, factory, run = load_agent(summary["best_checkpoint"], device="cpu")
    returns = evaluate(agent, factory, 5, seed=run["seed"] + SELECTION_SEED_OFFSET)
    assert float(np.mean(returns)) == pytest.approx(summary["best_eval_return_mean"], abs=1e-9)


def test_evaluating_does_not_change_training(evaluated):
    with_eval, plain, tmp_path = evaluated
    assert "best_checkpoint" not in plain
    weights = [
        torch.load(tmp_path / name / "checkpoints" / "final.pt", weights_only=True)["agent"]
        for name in ("eval", "plain")
    ]
    policy = [w["policy"] for w in weights]
    assert all(torch.equal(policy[0][key], policy[1][key]) for key in policy[0])
    assert with_eval["eval_returns"] == plain["eval_returns"]


def test_evaluate_script_takes_best_pt(evaluated):
    summary, _, _ = evaluated
    result = run_script("evaluate.py", summary["best_checkpoint"], "--episodes", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["episodes"] == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--eval-every", "0"], "--eval-every must be at least 1 env step, got 0"),
        (["--eval-every", "500", "--eval-episodes", "0"], "--eval-every needs --eval-episodes"),
    ],
)
def test_bad_eval_every_is_a_one_line_error(args, fragment, tmp_path):
    result = run_script(
        "train_agent.py", "--env", "GridWorld-v0", "--algo", "reinforce",
        "--run-dir", str(tmp_path / "run"), *args,
    )  # fmt: skip
    assert_user_error(result, fragment)
    assert not (tmp_path / "run").exists()  # nothing written


def test_seqgan_points_eval_every_to_its_recipe(tmp_path):
    result = run_script(
        "train_agent.py", "--env", "SeqGAN-v0", "--algo", "ppo", "--eval-every", "100",
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert_user_error(result, "--recipe-kwargs eval_every=STEPS")
