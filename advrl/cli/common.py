"""What every entry point shares: user mistakes print one line,
``advrl: error: <what is wrong and the fix>``, and exit with status 2; Ctrl-C exits with 130
(training saves a checkpoint first)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from advrl.core.errors import UserError


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
