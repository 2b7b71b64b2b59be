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
from advrl.benchmark_seqgan import (
    format_seqgan_table,
    format_throughput_table,
    run_seqgan_benchmark,
    throughput_suite,
)
from advrl.checkpoint import write_json_atomic
from advrl.device import resolve_device


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suite", choices=sorted([*SUITES, "seqgan", "seqgan-throughput"]), required=True
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=None, help="override each case's budget")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default benchmarks/<suite>.json)"
    )
    parser.add_argument(
        "--preset", default="default", help="seqgan suite: default (CPU) or paper (GPU)"
    )
    parser.add_argument("--device", default="auto", help="seqgan suite: auto, cpu or cuda")
    args = parser.parse_args()
    if args.suite == "seqgan":
        return seqgan(args)
    if args.suite == "seqgan-throughput":
        return seqgan_throughput(args)
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


def seqgan(args: argparse.Namespace) -> int:
    """The SeqGAN-v0 suite: MLE vs SeqGAN (REINFORCE, PPO) on the paper's oracle."""
    print(f"suite seqgan, preset {args.preset}, torch threads {torch.get_num_threads()}")
    result = run_seqgan_benchmark(
        args.preset, seed=args.seeds[0], adversarial_steps=args.steps, device=args.device
    )
    print(format_seqgan_table(result))
    suffix = "" if args.preset == "default" else f"_{args.preset}"
    out = args.out or Path("benchmarks") / f"seqgan{suffix}.json"
    result["meta"] = {"torch": torch.__version__, "command": " ".join(sys.argv)}
    write_json_atomic(out, result)
    print(f"results: {out}")
    return 0


def seqgan_throughput(args: argparse.Namespace) -> int:
    """Monte Carlo reward throughput: O(T) vs O(T²) completions, small and paper D."""
    print(f"suite seqgan-throughput, torch threads {torch.get_num_threads()}")
    result = throughput_suite(resolve_device(args.device))
    print(format_throughput_table(result))
    out = args.out or Path("benchmarks") / "seqgan_throughput.json"
    result["meta"] = {"torch": torch.__version__, "command": " ".join(sys.argv)}
    write_json_atomic(out, result)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
