"""``scripts/evaluate.py CHECKPOINT``: a trained agent's return over N episodes (greedy by
default), or a generator's metrics on envs that declare their agent a generator (SeqGAN-v0:
``advrl.core.capabilities``), from the recipe the env brings."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advrl.cli.common import add_episodes_arguments, load_checked_agent, run_main
from advrl.core.capabilities import EnvCapabilities, env_capabilities
from advrl.core.errors import UserError


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """``evaluate.py CHECKPOINT``: run the greedy policy for N episodes, print mean ± std."""
    parser = argparse.ArgumentParser(prog="evaluate.py", description=evaluate_main.__doc__)
    add_episodes_arguments(parser)
    parser.add_argument(
        "--video",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="record the episodes (default DIR: <run_dir>/videos/evaluate)",
    )
    parser.add_argument(
        "--stochastic", action="store_true", help="sample actions instead of taking the greedy one"
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="chance of a random action (default: the run's --eval-epsilon)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    def main() -> int:
        from advrl.evaluation import evaluate

        agent, factory, run = load_checked_agent(args)
        capabilities = env_capabilities(run["env"])
        if capabilities.generator:
            return _evaluate_generator(agent, factory, run["env"], capabilities, args)
        epsilon = run.get("eval_epsilon", 0.0) if args.epsilon is None else args.epsilon
        if not 0.0 <= epsilon <= 1.0:
            raise UserError(f"--epsilon must lie in [0, 1], got {epsilon}")
        video_dir = None
        if args.video is not None:
            video_dir = Path(
                args.video or Path(args.checkpoint).resolve().parent.parent / "videos" / "evaluate"
            )
        returns = evaluate(
            agent,
            factory,
            args.episodes,
            seed=args.seed,
            video_dir=video_dir,
            deterministic=not args.stochastic,
            epsilon=epsilon,
        )
        result = {
            "env": run["env"],
            "algo": run["algo"],
            "episodes": args.episodes,
            "epsilon": epsilon,
            "return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "returns": returns.tolist(),
        }
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{run['env']} {run['algo']}: return {returns.mean():.3f} ± {returns.std():.3f} "
                f"over {args.episodes} episodes"
            )
        if video_dir is not None:
            print(f"videos: {video_dir}")
        return 0

    return run_main(main)


def _evaluate_generator(
    agent: Any,
    factory: Any,
    env_name: str,
    capabilities: EnvCapabilities,
    args: argparse.Namespace,
) -> int:
    """Generator envs (SeqGAN-v0): the generation metrics of the env's recipe, under the
    run's own reward model, instead of episode returns."""
    from advrl.plugins import env_recipe

    recipe = env_recipe(capabilities, env_name)
    if recipe is None or recipe.evaluate_checkpoint is None:
        raise UserError(
            f"env {env_name!r} declares its agent a generator, but its training recipe "
            f"({capabilities.recipe}) has no generation metrics to evaluate it by"
        )
    metrics = recipe.evaluate_checkpoint(agent, factory, args.checkpoint)
    samples = metrics.pop("samples", [])
    if args.json:
        print(json.dumps({**metrics, "samples": samples}))
    else:
        print("  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
        print("\n".join(samples))
    return 0
