"""What every entry point shares: user mistakes print one line,
``advrl: error: <what is wrong and the fix>``, and exit with status 2; Ctrl-C exits with 130
(training saves a checkpoint first)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advrl.agents import Agent
from advrl.core.errors import UserError
from advrl.envs.make import EnvFactory


def run_main(main: Callable[[], int]) -> int:
    try:
        return main()
    except UserError as exc:
        print(f"advrl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def add_assignments(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """A repeatable ``flag KEY=VALUE ...`` option (parsed later by ``split_assignments``)."""
    parser.add_argument(
        flag, nargs="+", action="extend", default=[], metavar="KEY=VALUE", help=help
    )


def add_episodes_arguments(parser: argparse.ArgumentParser) -> None:
    """What the scripts that play a trained agent share: the checkpoint, how many episodes,
    their first seed and the device (``evaluate.py``, ``record_demos.py``)."""
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")


def load_checked_agent(args: argparse.Namespace) -> tuple[Agent, EnvFactory, dict[str, Any]]:
    """The checkpoint's agent, env factory and run record, after checking ``--episodes``."""
    from advrl.evaluation import load_agent

    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    return load_agent(args.checkpoint, args.device)
