"""``scripts/evaluate.py CHECKPOINT``: a trained agent's return over N episodes (greedy by
default), or a generator's metrics for SeqGAN-v0 runs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advrl.cli.common import run_main
from advrl.core.errors import UserError
from advrl.envs.make import make_env
from advrl.plugins.seqgan_recipe import SeqGANRecipeConfig


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """``evaluate.py CHECKPOINT``: run the greedy policy for N episodes, print mean ± std."""
    parser = argparse.ArgumentParser(prog="evaluate.py", description=evaluate_main.__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
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
        from advrl.evaluation import evaluate, load_agent

        if args.episodes < 1:
            raise UserError(f"--episodes must be >= 1, got {args.episodes}")
        agent, factory, run = load_agent(args.checkpoint, args.device)
        if run["env"].split(":")[-1].startswith("SeqGAN"):
            return _evaluate_generator(agent, factory, args)
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


def _evaluate_generator(agent: Any, factory: Any, args: argparse.Namespace) -> int:
    """SeqGAN-v0 checkpoints: generation metrics under the run's own discriminator."""
    from advrl.core.checkpoint import load_checkpoint
    from advrl.plugins.seqgan_recipe import SeqGANRecipe

    env = make_env(factory, training=False)
    game = env.unwrapped.game
    payload = load_checkpoint(args.checkpoint)
    state = payload.get("plugins", {}).get("seqgan", payload.get("env_state"))
    if state is not None:
        game.load_state_dict(state)
    recipe_options = payload["run"].get("recipe") or {}
    recipe = SeqGANRecipe(game, agent.policy, agent.device, SeqGANRecipeConfig(**recipe_options))
    metrics = recipe.evaluate()
    samples = metrics.pop("samples")
    if args.json:
        print(json.dumps({**metrics, "samples": samples}))
    else:
        print("  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
        print("\n".join(samples))
    return 0
