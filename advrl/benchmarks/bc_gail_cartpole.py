"""Env steps PPO + GAIL needs on CartPole-v1 to reach a training return of 450, with and
without behaviour cloning first (seeds 1-3), from 10 episodes of a PPO expert.

``python -m advrl.benchmarks.bc_gail_cartpole`` (about 5 minutes on 2 cores) prints a markdown
table and writes ``benchmarks/bc_gail_cartpole.json``. The return is the env's own
(``charts/true_episodic_return``), the mean of the last 10 training episodes; the agent
learns only from the discriminator's reward. The curve is recorded by a ten-line plug-in.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from advrl.benchmarks.rl import steps_to_threshold
from advrl.core.checkpoint import write_json_atomic
from advrl.core.demos import save_demos
from advrl.evaluation import load_agent, record_demos
from advrl.plugins import Plugin, Run
from advrl.train import TrainSettings, train


class Curve(Plugin):
    """Puts the run's (step, episode return) curve in its summary."""

    name = "curve"

    def summary(self, run: Run) -> dict[str, Any]:
        return {"curve": run.logger.curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/bc_gail_cartpole.json"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bc_gail_"))
    expert = train(TrainSettings(env="CartPole-v1", algo="ppo", seed=2, run_dir=root / "expert"))
    demos = root / "demos.npz"
    agent, factory, _ = load_agent(Path(expert["checkpoint"]))
    save_demos(demos, record_demos(agent, factory, episodes=10))
    rows: dict[str, list[dict[str, Any]]] = {"gail": [], "bc_then_gail": []}
    for seed in args.seeds:
        for name, pretrain in (("gail", None), ("bc_then_gail", "bc")):
            summary = train(
                TrainSettings(
                    env="CartPole-v1",
                    algo="ppo",
                    seed=seed,
                    total_steps=args.steps,
                    reward="gail",
                    demos=demos,
                    pretrain=pretrain,
                    run_dir=root / f"{name}_{seed}",
                ),
                plugins=[Curve()],
            )
            curve = [tuple(point) for point in summary["curve"]]
            rows[name].append(
                {
                    "seed": seed,
                    "steps_to_450": steps_to_threshold(curve, 450.0),
                    "first_return": curve[0][1] if curve else None,
                    "final_eval_return": summary["eval_return_mean"],
                    "wall_time_s": summary["wall_time_s"],
                }
            )
            print(name, rows[name][-1], flush=True)
    print("\n| run | steps to 450 (seeds " + ", ".join(map(str, args.seeds)) + ") | median |")
    print("|---|---|---|")
    for name, runs in rows.items():
        steps = [r["steps_to_450"] for r in runs]
        reached = [s for s in steps if s is not None]
        median = f"{statistics.median(reached):,.0f}" if len(reached) == len(steps) else "-"
        cells = ", ".join("not reached" if s is None else f"{s:,}" for s in steps)
        print(f"| {name} | {cells} | {median} |")
    write_json_atomic(args.out, {"rows": rows, "steps": args.steps, "demos_episodes": 10})
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
