"""Trials per hour: the same sweep one trial at a time and two at a time, in one process.

``python scripts/benchmark.py --suite sweep-throughput`` runs ``trials`` seeds of one
configuration twice on a local Ray: first one trial at a time with the whole machine
(``--cpus-per-trial`` = all cores, so torch uses them all, as a shell loop of
``train_agent.py`` would), then as many at a time as there are cores, one core each. The
ratio of trials per hour is what Ray's scheduling buys on this machine.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from advrl.sweeps.sweep import SweepSettings, run_sweep


def sweep_throughput(
    out_dir: Path,
    env: str = "CartPole-v1",
    algo: str = "ppo",
    trials: int = 8,
    total_steps: int = 100_000,
    say: Any = print,
) -> dict[str, Any]:
    """Both schedules of the same ``trials`` runs; trials per hour of each and their ratio."""
    cores = os.cpu_count() or 1
    result: dict[str, Any] = {
        "env": env,
        "algo": algo,
        "trials": trials,
        "total_steps": total_steps,
        "cores": cores,
    }
    for name, concurrent in (("one_at_a_time", 1), ("concurrent", cores)):
        folder = out_dir / name
        shutil.rmtree(folder, ignore_errors=True)
        settings = SweepSettings(
            env=env,
            algo=algo,
            out=str(folder),
            total_steps=total_steps,
            eval_episodes=5,
            seeds=trials,
            cpus_per_trial=cores / concurrent,
            max_concurrent=concurrent,
        )
        start = time.perf_counter()
        results = run_sweep(settings)
        wall = time.perf_counter() - start
        finished = sum(t["status"] == "finished" for t in results["trials"])
        best: dict[str, Any] = next(iter(results["configurations"]), {})
        result[name] = {
            "concurrent": concurrent,
            "cpus_per_trial": cores / concurrent,
            "wall_s": wall,
            "finished": finished,
            "trials_per_hour": finished / wall * 3600,
            "metric_iqm": best.get("iqm"),
        }
        say(f"{name}: {finished} trials in {wall:.0f} s ({finished / wall * 3600:.0f} per hour)")
    result["ratio"] = (
        result["concurrent"]["trials_per_hour"] / result["one_at_a_time"]["trials_per_hour"]
    )
    return result


def format_sweep_throughput(result: dict[str, Any]) -> str:
    rows = [
        "| schedule | trials at once | CPUs per trial | wall s | trials per hour |",
        "|---|---|---|---|---|",
    ]
    for name in ("one_at_a_time", "concurrent"):
        r = result[name]
        rows.append(
            f"| {name.replace('_', ' ')} | {r['concurrent']} | {r['cpus_per_trial']:g} | "
            f"{r['wall_s']:.0f} | {r['trials_per_hour']:.0f} |"
        )
    rows.append(f"| **ratio** | | | | **{result['ratio']:.2f}x** |")
    return "\n".join(rows)
