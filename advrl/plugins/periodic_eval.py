"""Periodic greedy evaluation with a best model, as SB3's ``EvalCallback`` (``--eval-every``).

A policy's last update is not always its best one (DQN's greedy policy can flip late in a
run), so every ``every`` env steps the agent plays ``episodes`` greedy episodes on a
separate env, logs ``eval/mean_return``, and ``checkpoints/best.pt`` keeps the weights of
the best evaluation so far. Every evaluation starts from the same seed, so evaluations
differ only by the policy (common random numbers) and best.pt replays its logged return
exactly; that seed differs from the final evaluation's, so best.pt can be scored on
episodes that did not choose it.
"""

from __future__ import annotations

from typing import Any

from advrl.evaluation import evaluate
from advrl.plugins.base import Plugin, Run

SELECTION_SEED_OFFSET = 20_000
"""The periodic evaluations' seed is the run's seed plus this (the final one's: 10,000)."""


class PeriodicEvaluation(Plugin):
    """Every ``every`` env steps: ``episodes`` greedy episodes (``epsilon``-greedy where the
    run evaluates so), logged, the best one kept."""

    name = "evaluation"

    def __init__(self, every: int, episodes: int, epsilon: float = 0.0) -> None:
        self.every, self.episodes, self.epsilon = every, episodes, epsilon
        self.last_step = 0
        self.curve: list[dict[str, float]] = []
        """One entry per evaluation: step, mean and std of the returns."""
        self.best: dict[str, float] | None = None

    def before_learn(self, run: Run) -> None:
        self.last_step = run.agent.global_step

    def after_update(self, run: Run, step: int) -> None:
        if step // self.every <= self.last_step // self.every:
            return
        self.last_step = step
        returns = evaluate(
            run.agent,
            run.factory,
            self.episodes,
            seed=run.seed + SELECTION_SEED_OFFSET,
            epsilon=self.epsilon,
        )
        point = {
            "step": step,
            "mean_return": float(returns.mean()),
            "std_return": float(returns.std()),
        }
        self.curve.append(point)
        run.logger.scalars(
            {"mean_return": point["mean_return"], "std_return": point["std_return"]},
            prefix="eval/",
            step=step,
        )
        if self.best is None or point["mean_return"] > self.best["mean_return"]:
            self.best = point
            run.save("best.pt")

    def state_dict(self, run: Run) -> dict[str, Any]:
        return {"last_step": self.last_step, "curve": self.curve, "best": self.best}

    def load_state_dict(self, run: Run, state: dict[str, Any]) -> None:
        self.last_step, self.curve, self.best = state["last_step"], state["curve"], state["best"]

    def summary(self, run: Run) -> dict[str, Any]:
        best = self.best or {}
        return {
            "best_eval_return_mean": best.get("mean_return"),
            "best_step": best.get("step"),
            "best_checkpoint": str(run.run_dir / "checkpoints" / "best.pt") if best else None,
            "eval_curve": self.curve,
        }
