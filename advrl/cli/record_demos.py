"""``scripts/record_demos.py CHECKPOINT``: whole episodes of a trained agent as demonstrations."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from advrl.cli.common import add_episodes_arguments, load_checked_agent, run_main


def record_demos_main(argv: Sequence[str] | None = None) -> int:
    """``record_demos.py CHECKPOINT --episodes N --out demos.npz``: expert demonstrations."""
    parser = argparse.ArgumentParser(
        prog="record_demos.py",
        description="Record whole episodes of a trained agent (greedy by default) as an .npz "
        "of obs, actions, next_obs, dones and episode_returns, for --reward gail.",
    )
    add_episodes_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("demos.npz"))
    parser.add_argument("--stochastic", action="store_true", help="sample the agent's actions")
    args = parser.parse_args(argv)

    def main() -> int:
        from advrl.core.demos import save_demos
        from advrl.evaluation import record_demos

        agent, factory, run = load_checked_agent(args)
        demos = record_demos(agent, factory, args.episodes, args.seed, not args.stochastic)
        save_demos(args.out, demos)
        returns = demos["episode_returns"]
        print(
            f"{run['env']}: {args.episodes} episodes, {len(demos['obs'])} transitions, "
            f"return {returns.mean():.3f} ± {returns.std():.3f} -> {args.out}"
        )
        return 0

    return run_main(main)
