"""Two runs at once on one machine: the thread policy (``advrl.core.threads``) against torch's
defaults, on the same work (``scripts/benchmark.py --suite concurrency``).

Three workloads, each a fresh process as a user starts it: CartPole PPO (an MLP),
SeqGAN-v0's step loop (Monte Carlo rollouts through the token LSTM and the discriminator)
and Breakout PPO (the Nature CNN on ale-py's C++ envs). Each runs alone, then every pair
runs at once (each workload beside itself and beside the others), and each process's wall
time is divided by its time alone. Fair sharing of two cores gives a ratio of at most 2.

The two policies differ only in the environment the processes start with:

- ``advrl``: the thread policy as users get it (nothing set);
- ``spinning``: what advrl did before it, torch's defaults: a thread per core, ale-py's own
  pool, and libgomp's own wait (spin a while, then sleep): ``ADVRL_THREADS=off``. (An empty
  ``OMP_WAIT_POLICY`` is not the same as an unset one: two CartPole runs then took 12x
  their time alone, against 4.6x unset.)
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from advrl.benchmarks import REPO
from advrl.core.threads import OFF_VARIABLE, available_cpus

SCRIPTS = REPO / "scripts"
WORKLOADS: dict[str, list[str]] = {
    "cartpole-ppo": ["--env", "CartPole-v1", "--algo", "ppo", "--total-steps", "30000"],
    "seqgan-steps": [],
    "breakout-ppo": ["--env", "ALE/Breakout-v5", "--algo", "ppo", "--total-steps", "8192"],
}
SEQGAN_EPISODES = 6
"""Episodes of 64 sequences in the SeqGAN-v0 step loop (about 13 s alone on 2 cores)."""
POLICIES = ("advrl", "spinning")


def seqgan_step_loop(episodes: int = SEQGAN_EPISODES) -> None:
    """SeqGAN-v0's env alone: ``episodes`` batches of 64 sequences, 16 rollouts a step."""
    import torch

    from advrl.agents.networks import splits_over_threads
    from advrl.benchmarks.seqgan import mc_throughput
    from advrl.core.device import keep_freed_memory
    from advrl.core.threads import apply_threads, plan_threads
    from advrl.envs.seqgan import TokenPrefix

    keep_freed_memory()
    parallel = splits_over_threads(TokenPrefix(20, 5000))
    apply_threads(plan_threads(None, parallel, num_envs=64))
    mc_throughput(torch.device("cpu"), repeats=episodes)


def _command(workload: str, folder: Path) -> list[str]:
    if workload == "seqgan-steps":
        code = "from advrl.benchmarks.concurrency import seqgan_step_loop; seqgan_step_loop()"
        return [sys.executable, "-c", code]
    run_dir = Path(tempfile.mkdtemp(dir=folder)) / "run"
    return [
        sys.executable, str(SCRIPTS / "train_agent.py"), *WORKLOADS[workload],
        "--eval-episodes", "0", "--seed", "1", "--run-dir", str(run_dir),
    ]  # fmt: skip


def _environment(policy: str) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    }
    if policy == "spinning":
        return {**clean, OFF_VARIABLE: "off"}
    return {k: v for k, v in clean.items() if k != OFF_VARIABLE}


def run_together(workloads: tuple[str, ...], policy: str, folder: Path) -> list[float]:
    """Start ``workloads`` at once; each one's wall time in seconds."""
    env = _environment(policy)
    starts, processes = [], []
    for workload in workloads:
        starts.append(time.perf_counter())
        processes.append(
            subprocess.Popen(
                _command(workload, folder),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    walls = [0.0] * len(processes)
    pending = set(range(len(processes)))
    while pending:
        for i in list(pending):
            if processes[i].poll() is not None:
                walls[i] = time.perf_counter() - starts[i]
                pending.discard(i)
                stderr = processes[i].stderr
                if processes[i].returncode != 0:
                    error = stderr.read().decode()[-1500:] if stderr else ""
                    raise RuntimeError(f"{workloads[i]} failed under {policy}: {error}")
        time.sleep(0.05)
    return walls


def concurrency_suite(folder: Path, repeats: int = 1) -> dict[str, Any]:
    """Each workload alone and every pair at once, under both policies; the medians of
    ``repeats`` and each pair's wall-time ratios to alone."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(WORKLOADS)
    pairs = list(itertools.combinations_with_replacement(names, 2))
    result: dict[str, Any] = {"cpus": available_cpus(), "policies": {}}
    for policy in POLICIES:
        alone = {
            name: float(
                np.median([run_together((name,), policy, folder)[0] for _ in range(repeats)])
            )
            for name in names
        }
        rows: list[dict[str, Any]] = []
        for pair in pairs:
            walls = np.median([run_together(pair, policy, folder) for _ in range(repeats)], axis=0)
            rows.append(
                {
                    "pair": list(pair),
                    "wall_s": [float(w) for w in walls],
                    "ratio": [float(w / alone[name]) for w, name in zip(walls, pair, strict=True)],
                }
            )
            ratios = ", ".join(f"{r:.2f}x" for r in rows[-1]["ratio"])
            print(f"{policy}: {' + '.join(pair)} -> {ratios}", flush=True)
        result["policies"][policy] = {
            "alone_s": alone,
            "pairs": rows,
            "worst_ratio": max(max(row["ratio"]) for row in rows),
        }
    base, ours = result["policies"]["spinning"], result["policies"]["advrl"]
    result["alone_ratio"] = {name: ours["alone_s"][name] / base["alone_s"][name] for name in names}
    return result


def format_concurrency_table(result: dict[str, Any]) -> str:
    """Markdown: each pair's wall-time ratios to alone under both policies, then alone."""
    policies = result["policies"]
    lines = [
        "| pair | advrl (ratio to alone) | spinning (ratio to alone) |",
        "|---|---|---|",
    ]
    for ours, base in zip(policies["advrl"]["pairs"], policies["spinning"]["pairs"], strict=True):
        lines.append(f"| {' + '.join(ours['pair'])} | {_ratios(ours)} | {_ratios(base)} |")
    lines.append(
        f"| **worst** | **{policies['advrl']['worst_ratio']:.2f}x** | "
        f"**{policies['spinning']['worst_ratio']:.2f}x** |"
    )
    lines += ["", "| alone | advrl (s) | spinning (s) | advrl / spinning |", "|---|---|---|---|"]
    for name, ratio in result["alone_ratio"].items():
        lines.append(
            f"| {name} | {policies['advrl']['alone_s'][name]:.1f} | "
            f"{policies['spinning']['alone_s'][name]:.1f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def _ratios(row: dict[str, Any]) -> str:
    return " / ".join(f"{r:.2f}x" for r in row["ratio"])
