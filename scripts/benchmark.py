#!/usr/bin/env python
"""Benchmark advrl against Stable-Baselines3 on the same work, in one process.

``python scripts/benchmark.py --suite reinforce --seeds 1 2 3`` prints a markdown table of
medians over seeds with ours / SB3 ratios, and writes the raw results as JSON.
"""

import argparse
import platform
import sys
from pathlib import Path

import torch

from advrl import __version__
from advrl.benchmark import SUITES, format_table, run_suite, write_json


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", choices=sorted(SUITES), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=None, help="override each case's budget")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default benchmarks/<suite>.json)"
    )
    args = parser.parse_args()
    import stable_baselines3

    print(f"suite {args.suite}, seeds {args.seeds}, torch threads {torch.get_num_threads()}")
    results = run_suite(args.suite, args.seeds, args.eval_episodes, args.steps)
    print(format_table(results))
    out = args.out or Path("benchmarks") / f"{args.suite}.json"
    write_json(
        results,
        out,
        {
            "suite": args.suite,
            "seeds": args.seeds,
            "advrl": __version__,
            "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "command": " ".join(sys.argv),
        },
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
