"""Command-line entry point of ``scripts/sweep.py`` (``advrl-sweep``): seeds and
hyperparameter sweeps on Ray Tune (``advrl.sweeps.sweep``).

User mistakes print one line, ``advrl: error: <what is wrong and the fix>``, and exit with
status 2 before any trial starts (``advrl.cli.common.run_main``), as ``train_agent.py`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from advrl.agents import ALGORITHMS
from advrl.cli.common import add_assignments, run_main
from advrl.core.config import split_assignments
from advrl.core.errors import UserError
from advrl.sweeps.sweep import (
    DEFAULT_METRIC,
    SCHEDULERS,
    SEARCHES,
    SPEC_HELP,
    SweepSettings,
    load_settings,
    run_sweep,
)


def sweep_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py",
        description="Run many seeds and hyperparameter settings of an advrl training run on "
        "Ray Tune (a local Ray by default, a cluster with --address). Each trial is one "
        "train_agent.py run with its own run dir; the sweep ends with results.json, report.md "
        "(configurations ranked by IQM over seeds with rliable's 95%% intervals) and "
        "curves.png in --out.",
        epilog="examples:\n"
        "  sweep.py --env CartPole-v1 --algo ppo --seeds 10 --out runs/sweeps/ppo_cartpole\n"
        "  sweep.py --env GridWorld-v0 --algo reinforce --hp 'lr=grid(1e-3,1e-2)' --seeds 3\n"
        "  sweep.py --env CartPole-v1 --algo dqn --search optuna --samples 20 \\\n"
        "      --hp 'lr=loguniform(1e-4,1e-2)' 'gamma=choice(0.98,0.99)' --scheduler asha\n"
        "  sweep.py --resume runs/sweeps/ppo_cartpole",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", help="as train_agent.py: a registered id or module:Class")
    parser.add_argument("--algo", help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    add_assignments(parser, "--hp", f"KEY=SPEC, SPEC being {SPEC_HELP}")
    add_assignments(parser, "--env-kwargs", "KEY=SPEC for the env's options")
    add_assignments(parser, "--recipe-kwargs", "SeqGAN-v0's recipe options (values)")
    parser.add_argument("--total-steps", type=int, default=None, help="env steps per trial")
    parser.add_argument("--num-envs", type=int, default=None)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--vec", choices=["auto", "sync", "async", "native"], default="auto")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--seeds", type=int, default=1, help="seeds per configuration: --seed, --seed + 1, ..."
    )
    parser.add_argument("--seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument(
        "--samples", type=int, default=10, help="configurations drawn by random and optuna"
    )
    parser.add_argument("--search", choices=SEARCHES, default="grid")
    parser.add_argument(
        "--metric",
        default=DEFAULT_METRIC,
        help="the summary.json number to rank by (default: the final greedy return; "
        "SeqGAN-v0: nll_oracle, nll_test, frontier_gap, ...)",
    )
    parser.add_argument(
        "--mode",
        choices=["min", "max"],
        default=None,
        help="default: min for nll_*, loss* and *gap*, else max",
    )
    parser.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default="none",
        help="asha: stop weak trials early from their training returns",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="a Ray cluster: auto, host:port or ray://host:port (default: a local Ray with "
        "this machine's cores)",
    )
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--gpus-per-trial", type=float, default=0.0)
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="trials at once (default: as many as the CPUs and GPUs allow)",
    )
    parser.add_argument(
        "--num-cpus",
        type=int,
        default=None,
        help="CPUs the local Ray may use (default: all of this machine's); may change on "
        "--resume, e.g. to leave a core to another job for a while",
    )
    parser.add_argument(
        "--max-failures", type=int, default=1, help="retries of a trial that crashes"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="each trial saves a checkpoint every STEPS env steps, and a trial cut off "
        "resumes from its newest one on --resume (default 0: it starts over)",
    )
    parser.add_argument("--out", type=Path, default=None, help="default runs/sweeps/{env}__{algo}")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="DIR",
        help="continue the sweep in DIR: finished trials are kept, unfinished ones run",
    )
    return parser


def sweep_main(argv: Sequence[str] | None = None) -> int:
    """``sweep.py``: parse, check everything, sweep, print where the report is."""
    args = sweep_parser().parse_args(argv)

    def main() -> int:
        if args.resume is not None:
            settings = load_settings(args.resume)
            if args.address is not None:
                settings.address = args.address
            if args.num_cpus is not None:
                settings.num_cpus = args.num_cpus
        else:
            if not args.env or not args.algo:
                raise UserError("--env and --algo are required (or --resume a sweep's folder)")
            name = f"{args.env}__{args.algo}".replace("/", "-").replace(":", "-")
            settings = SweepSettings(
                env=args.env,
                algo=args.algo,
                out=str(args.out or Path("runs") / "sweeps" / name),
                hp=split_assignments(args.hp, "--hp"),
                env_kwargs=split_assignments(args.env_kwargs, "--env-kwargs"),
                recipe_kwargs=split_assignments(args.recipe_kwargs, "--recipe-kwargs"),
                total_steps=args.total_steps,
                num_envs=args.num_envs,
                eval_episodes=args.eval_episodes,
                vec=args.vec,
                device=args.device,
                seeds=args.seeds,
                seed=args.seed,
                samples=args.samples,
                search=args.search,
                metric=args.metric,
                mode=args.mode,
                scheduler=args.scheduler,
                address=args.address,
                cpus_per_trial=args.cpus_per_trial,
                gpus_per_trial=args.gpus_per_trial,
                max_concurrent=args.max_concurrent,
                num_cpus=args.num_cpus,
                max_failures=args.max_failures,
                checkpoint_every=args.checkpoint_every,
            )
        results = run_sweep(settings, resume=args.resume is not None)
        out = Path(settings.out)
        statuses = [t["status"] for t in results["trials"]]
        print(
            f"{len(statuses)} trials: {statuses.count('finished')} finished, "
            f"{statuses.count('stopped')} stopped early, {statuses.count('failed')} failed"
        )
        best = next((c for c in results["configurations"] if c.get("rank") == 1), None)
        if best is not None:
            low, high = best["iqm_ci95"]
            print(
                f"best: {best['label']}  {results['metric']} IQM {best['iqm']:.3f} "
                f"[{low:.3f}, {high:.3f}] over {best['runs']} seeds"
            )
        for name in ("report.md", "curves.png", "results.json"):
            print(f"{name + ':':13s} {out / name}")
        print(f"tensorboard:  tensorboard --logdir {out / 'runs'}")
        return 0

    return run_main(main)
