"""``scripts/record_demos.py CHECKPOINT``: whole episodes of a trained agent as demonstrations."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from advrl.cli.common import run_main
from advrl.core.errors import UserError


def record_demos_main(argv: Sequence[str] | None = None) -> int:
    """``record_demos.py CHECKPOINT --episodes N --out demos.npz``: expert demonstrations."""
    parser = argparse.ArgumentParser(
        prog="record_demos.py",
        description="Record whole episodes of a trained agent (greedy by default) as an .npz "
        "of obs, actions, next_obs, dones and episode_returns, for --reward gail.",
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("demos.npz"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--stochastic", action="store_true", help="sample the agent's actions")
    args = parser.parse_args(argv)

    def main() -> int:
        from advrl.core.demos import save_demos
        from advrl.evaluation import load_agent, record_demos

        if args.episodes < 1:
            raise UserError(f"--episodes must be >= 1, got {args.episodes}")
        agent, factory, run = load_agent(args.checkpoint, args.device)
        demos = record_demos(agent, factory, args.episodes, args.seed, not args.stochastic)
        save_demos(args.out, demos)
        returns = demos["episode_returns"]
        print(
            f"{run['env']}: {args.episodes} episodes, {len(demos['obs'])} transitions, "
            f"return {returns.mean():.3f} ± {returns.std():.3f} -> {args.out}"
        )
        return 0

    return run_main(main)
