"""Benchmark advrl against Stable-Baselines3 on the same work, in one process.

``python scripts/benchmark.py --suite reinforce --seeds 1 2 3`` prints a markdown table of
medians over seeds with ours / SB3 ratios, and writes the raw results as JSON.
"""

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from advrl import __version__
from advrl.benchmarks.atari import atari_vec_suite, format_atari_vec_table
from advrl.benchmarks.concurrency import concurrency_suite, format_concurrency_table
from advrl.benchmarks.rl import (
    CLEANRL_DQN_BREAKOUT,
    SUITES,
    format_table,
    run_suite,
    suite_case_names,
    write_curves,
    write_json,
)
from advrl.benchmarks.seqgan import (
    PAPER_ORACLE,
    format_seqgan_table,
    format_throughput_table,
    run_seqgan_benchmark,
    throughput_suite,
)
from advrl.benchmarks.seqgan_frontier import FrontierSchedule, format_frontier_table, run_frontier
from advrl.benchmarks.seqgan_paper import (
    PaperCPUSchedule,
    format_paper_cpu_table,
    run_paper_cpu,
)
from advrl.benchmarks.sweep_throughput import format_sweep_throughput, sweep_throughput
from advrl.core.checkpoint import write_json_atomic
from advrl.core.device import keep_freed_memory, resolve_device


def benchmark_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suite",
        choices=sorted(
            [
                *SUITES,
                "seqgan",
                "seqgan-throughput",
                "seqgan-paper-cpu",
                "seqgan-frontier",
                "atari-vec",
                "sweep-throughput",
                "concurrency",
                "imitation-mujoco",
                "estimators",
                "seqgan-estimators",
                "gan-family",
            ]
        ),
        required=True,
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=None, help="override each case's budget")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="estimators: the lab's estimates per estimator and batch size (default 100); "
        "fewer for a quick look",
    )
    parser.add_argument(
        "--cases", nargs="+", default=None, help="run only these cases of the suite (by name)"
    )
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default benchmarks/<suite>.json)"
    )
    parser.add_argument(
        "--preset", default="default", help="seqgan suite: default (CPU) or paper (GPU)"
    )
    parser.add_argument("--device", default="auto", help="seqgan suite: auto, cpu or cuda")
    parser.add_argument(
        "--collect",
        action="store_true",
        help="imitation-mujoco, seqgan-estimators: only collate the runs finished so far",
    )
    parser.add_argument(
        "--reference-python",
        default=None,
        help="imitation-mujoco: the imitation library's venv interpreter; runs its GAIL and "
        "AIRL on the same demonstrations after the stages",
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="imitation-mujoco: instead of the stages, time our GAIL and AIRL against the "
        "library's (--reference-python), a pair at a time on the same machine, one core each "
        "(--steps each, default 500,000)",
    )
    parser.add_argument(
        "--cpus",
        type=int,
        default=None,
        help="imitation-mujoco: CPUs its runs may use, one run each and at most 2 at a time "
        "(default 2); 1 leaves a core to another job, and may change when the suite resumes",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="SB3 side-by-side suites: keep the runs already finished (OUT.runs.jsonl, written "
        "as each run ends) and run only the rest",
    )
    args = parser.parse_args(argv)
    if args.suite != "seqgan-throughput":  # which measures glibc's own settings first
        keep_freed_memory()
    if args.suite == "seqgan":
        return seqgan(args)
    if args.suite == "seqgan-throughput":
        return seqgan_throughput(args)
    if args.suite == "seqgan-paper-cpu":
        return seqgan_paper_cpu(args)
    if args.suite == "seqgan-frontier":
        return seqgan_frontier(args)
    if args.suite == "atari-vec":
        return atari_vec(args)
    if args.suite == "sweep-throughput":
        return sweep_throughput_suite(args)
    if args.suite == "concurrency":
        return concurrency(args)
    if args.suite == "imitation-mujoco":
        return imitation_mujoco(args)
    if args.suite == "estimators":
        return estimators(args)
    if args.suite == "seqgan-estimators":
        return seqgan_estimators(args)
    if args.suite == "gan-family":
        return gan_family(args)
    import stable_baselines3

    print(f"suite {args.suite}, seeds {args.seeds}, torch threads {torch.get_num_threads()}")
    if args.cases is not None:
        known = suite_case_names(args.suite)
        unknown = [name for name in args.cases if name not in known]
        if unknown:
            print(
                f"error: --suite {args.suite} has no case {', '.join(unknown)}; "
                f"its cases: {', '.join(known)}",
                file=sys.stderr,
            )
            return 2
    out = args.out or Path("benchmarks") / f"{args.suite}.json"
    journal = out.with_suffix(".runs.jsonl")
    if not args.resume:
        journal.unlink(missing_ok=True)
    journal.parent.mkdir(parents=True, exist_ok=True)
    results = run_suite(
        args.suite, args.seeds, args.eval_episodes, args.steps, cases=args.cases, journal=journal
    )
    print(format_table(results))
    if args.suite in ("atari-learning", "ppo-mujoco"):
        curves = out.parent / out.stem.replace("-", "_")
        write_curves(results, curves, CLEANRL_DQN_BREAKOUT if "atari" in args.suite else None)
        print(f"curves: {curves / 'curves.json'} {curves / 'curves.png'}")
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
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
            "command": " ".join(sys.argv),
        },
        merge=args.cases is not None,
    )
    print(f"results: {out}")
    return 0


def estimators(args: argparse.Namespace) -> int:
    """Gradient estimators against closed forms and exact gradients (minutes)."""
    from advrl.benchmarks.estimators import OUT, lab_study, toy_study

    if args.repeats is not None and args.repeats < 2:
        print(
            f"error: --repeats must be at least 2 (a variance needs two estimates), got "
            f"{args.repeats}",
            file=sys.stderr,
        )
        return 2
    out = args.out or OUT
    result = toy_study(out, seed=args.seeds[0])
    for row in result["rows"]:
        if row["samples"] == 1 and row["theta"] in (0.0, 1.0, 3.0):
            print(
                f"{row['estimator']:24s} theta {row['theta']:4.1f}  mean {row['mean']:7.3f} "
                f"(true {row['true_gradient']:5.2f})  variance {row['variance']:8.2f} "
                f"(closed form {row['variance_closed_form']:8.2f})"
            )
    repeats = {"repeats": args.repeats} if args.repeats else {}
    lab = lab_study(out, seed=args.seeds[0], **repeats)
    print(f"lab: V={lab['vocab_size']}, T={lab['length']}, {lab['parameters']} parameters")
    for row in lab["rows"]:
        if row["batch"] in (1, 64):
            print(
                f"{row['estimator']:20s} batch {row['batch']:3d}  cosine {row['cosine']:6.3f}  "
                f"relative error {row['relative_error']:6.3f}  variance {row['variance']:8.4f}  "
                f"{row['ms']:6.2f} ms{'' if row['unbiased'] else '  (biased)'}"
            )
    print(f"results: {out / 'toy.json'}, {out / 'lab.json'}; figures: toy.png, lab.png")
    return 0


def seqgan_estimators(args: argparse.Namespace) -> int:
    """Each gradient-estimator family from the same strong MLE, seeds 1-5, on the frontier,
    through Ray Tune sweeps stage by stage (hours; run the same command again to resume)."""
    from advrl.benchmarks import seqgan_estimators as suite

    out = args.out or suite.SUITE
    sweeps = suite.SWEEPS if args.out is None else args.out / "sweeps"
    if args.collect:
        results = suite.write_results(suite.Protocol(), out, sweeps)
    else:
        results = suite.run_suite(suite.Protocol(), out, sweeps)
    for method, entry in results["methods"].items():
        if "aggregate" in entry:
            agg = entry["aggregate"]
            low, high = agg["iqm_ci95"]
            print(f"{method:14s} frontier gap IQM {agg['iqm']:+.3f} [{low:+.3f}, {high:+.3f}] "
                  f"over {agg['runs']} seeds")  # fmt: skip
    print(f"results: {out / 'results.json'}")
    return 0


def gan_family(args: argparse.Namespace) -> int:
    """Every image GAN of the family on the digits over --seeds (about 20 minutes; it resumes:
    run the same command again)."""
    from advrl.benchmarks import gan_family as suite

    out = args.out or suite.SUITE
    runs = suite.RUNS if args.out is None else args.out / "runs"
    results = suite.run_suite(out, runs, seeds=tuple(args.seeds))
    print(suite.format_table(results))
    print(f"results: {out / 'results.json'}")
    return 0


def imitation_mujoco(args: argparse.Namespace) -> int:
    """BC, GAIL and AIRL on MuJoCo through Ray Tune sweeps, stage by stage (many hours; it
    resumes where it stopped: run the same command again)."""
    from advrl.benchmarks import imitation_mujoco as suite

    stages = suite.STAGES
    if args.cases is not None:
        known = [stage.name for stage in suite.STAGES]
        unknown = [name for name in args.cases if name not in known]
        if unknown:
            print(
                f"error: --suite imitation-mujoco has no stage {', '.join(unknown)}; its "
                f"stages: {', '.join(known)}",
                file=sys.stderr,
            )
            return 2
        stages = tuple(stage for stage in suite.STAGES if stage.name in args.cases)
    cpus = suite.RUNS_AT_ONCE if args.cpus is None else args.cpus
    if cpus < 1:
        print(f"error: --cpus must be at least 1, got {cpus}", file=sys.stderr)
        return 2
    out = args.out or suite.SUITE
    sweeps = suite.SWEEPS if args.out is None else args.out / "sweeps"
    steps = args.steps or suite.STEPS
    if args.collect:
        suite.write_results(out, sweeps, steps)
        print(f"results: {out / 'results.json'}")
        return 0
    if args.side_by_side:
        if not args.reference_python:
            print(
                "error: --side-by-side times ours against the imitation library's runs; give "
                "its venv's interpreter with --reference-python (how to make one: "
                "advrl/benchmarks/imitation_library_mujoco.py)",
                file=sys.stderr,
            )
            return 2
        suite.run_side_by_side(
            args.reference_python, out, sweeps, args.steps or suite.SIDE_BY_SIDE_STEPS
        )
        suite.write_results(out, sweeps, suite.STEPS)
        print(f"results: {out / 'results.json'}")
        return 0
    suite.run_suite(stages, out, sweeps, steps, cpus=cpus)
    if args.reference_python:
        suite.run_reference(args.reference_python, out, steps, cpus=cpus)
        suite.write_results(out, sweeps, steps)
    print(f"results: {out / 'results.json'}")
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


def sweep_throughput_suite(args: argparse.Namespace) -> int:
    """Trials per hour on a local Ray: one trial at a time against one per core."""
    print(f"suite sweep-throughput, torch threads {torch.get_num_threads()}")
    folder = Path("runs") / "sweep-throughput"
    result = sweep_throughput(folder, **({"total_steps": args.steps} if args.steps else {}))
    print(format_sweep_throughput(result))
    out = args.out or Path("benchmarks") / "sweep_throughput.json"
    result["meta"] = {"torch": torch.__version__, "command": " ".join(sys.argv)}
    write_json_atomic(out, result)
    print(f"results: {out}")
    return 0


def concurrency(args: argparse.Namespace) -> int:
    """Two runs at once: the thread policy against torch's defaults (about 20 minutes)."""
    print(f"suite concurrency, {len(args.seeds)} repeat(s)")
    result = concurrency_suite(Path("runs") / "concurrency", repeats=len(args.seeds))
    print(format_concurrency_table(result))
    out = args.out or Path("benchmarks") / "concurrency.json"
    result["meta"] = {"torch": torch.__version__, "command": " ".join(sys.argv)}
    write_json_atomic(out, result)
    print(f"results: {out}")
    return 0


def atari_vec(args: argparse.Namespace) -> int:
    """Atari's C++ vector env against the wrappers: env steps/s and PPO training SPS."""
    print(f"suite atari-vec, torch threads {torch.get_num_threads()}")
    result = atari_vec_suite(
        seed=args.seeds[0], **({"train_steps": args.steps} if args.steps else {})
    )
    print(format_atari_vec_table(result))
    out = args.out or Path("benchmarks") / "atari_vec.json"
    result["meta"] = {"torch": torch.__version__, "command": " ".join(sys.argv)}
    write_json_atomic(out, result)
    print(f"results: {out}")
    return 0


def paper_oracle(suite: str) -> Path | None:
    """The paper's oracle weights, or None after saying where they should be."""
    oracle = PAPER_ORACLE / "target_params.npz"
    if not oracle.exists():
        print(
            f"error: --suite {suite} needs the paper's oracle at {oracle} "
            "(../shared/benchmarks/seqgan_oracle beside the checkout)",
            file=sys.stderr,
        )
        return None
    return oracle


def seqgan_frontier(args: argparse.Namespace) -> int:
    """The density-ratio reward with a KL anchor against the strong MLE (about 60 minutes)."""
    oracle = paper_oracle("seqgan-frontier")
    if oracle is None:
        return 2
    print(f"suite seqgan-frontier, seed {args.seeds[0]}, torch threads {torch.get_num_threads()}")
    out = args.out or Path("benchmarks") / "seqgan_frontier"
    schedule = FrontierSchedule()
    if args.steps:
        schedule.updates = args.steps
    result = run_frontier(out, schedule, seed=args.seeds[0], oracle_params=str(oracle))
    print(format_frontier_table(result))
    print(f"results: {out / 'results.json'}")
    return 0


def seqgan_paper_cpu(args: argparse.Namespace) -> int:
    """The paper's generator schedule on CPU with its controls (about 60 minutes)."""
    oracle = paper_oracle("seqgan-paper-cpu")
    if oracle is None:
        return 2
    print(f"suite seqgan-paper-cpu, seed {args.seeds[0]}, torch threads {torch.get_num_threads()}")
    out = args.out or Path("benchmarks") / "seqgan_paper_cpu"
    schedule = PaperCPUSchedule()
    if args.steps:
        schedule.adversarial_epochs = args.steps
    result = run_paper_cpu(out, schedule, seed=args.seeds[0], oracle_params=str(oracle))
    print(format_paper_cpu_table(result))
    print(f"results: {out / 'results.json'}")
    return 0
