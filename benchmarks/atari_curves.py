"""Learning curves of finished or stopped runs, from their TensorBoard logs, as JSON and PNG.

``python benchmarks/atari_curves.py OUT RUN_DIR [RUN_DIR ...]`` writes ``OUT/curves.json``
({run name: {"episodic_return": [[step, return], ...], "eval_mean_return": [...],
"sps": [[step, sps], ...]}}) and ``OUT/curves.png`` (raw game scores against env steps, a
moving mean of 20 episodes per run, greedy evaluations as dots).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TAGS = {
    "episodic_return": "charts/episodic_return",
    "eval_mean_return": "eval/mean_return",
    "sps": "charts/SPS",
}


def read_curves(run_dir: Path) -> dict[str, list[list[float]]]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    available = set(events.Tags()["scalars"])
    return {
        key: [[float(e.step), float(e.value)] for e in events.Scalars(tag)]
        for key, tag in TAGS.items()
        if tag in available
    }


def plot(curves: dict[str, dict[str, list[list[float]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (name, run) in enumerate(curves.items()):
        color = f"C{index}"
        if run.get("episodic_return"):
            steps, returns = np.asarray(run["episodic_return"]).T
            window = min(20, len(returns))
            smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
            axes.plot(steps[window - 1 :], smooth, color=color, label=f"{name} (train, mean of 20)")
        if run.get("eval_mean_return"):
            steps, returns = np.asarray(run["eval_mean_return"]).T
            axes.plot(steps, returns, "o", color=color, ms=4, label=f"{name} (greedy eval)")
    axes.set_xlabel("agent steps")
    axes.set_ylabel("game score")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: atari_curves.py OUT RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    curves = {Path(run).name: read_curves(Path(run)) for run in argv[1:]}
    (out / "curves.json").write_text(json.dumps(curves))
    plot(curves, out / "curves.png")
    print(f"curves: {out / 'curves.json'} {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
