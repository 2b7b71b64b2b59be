"""Learning curves of game scores against env steps, drawn with matplotlib.

One figure format for every Atari learning run: each run's training episodes as a moving
mean, its greedy evaluations as dots, and published reference points as crosses, so a
benchmark's PNG and a TensorBoard export read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

Curve = Sequence[Sequence[float]]
"""[[step, value], ...]"""


def moving_mean(curve: Curve, window: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(steps, mean of the last ``window`` values) from the window-th point on."""
    steps, values = np.asarray(curve, dtype=float).T
    window = min(window, len(values))
    smooth = np.convolve(values, np.ones(window) / window, mode="valid")
    return steps[window - 1 :], smooth


def plot_learning_curves(
    runs: Mapping[str, Mapping[str, Curve]],
    path: Path,
    references: Mapping[str, Curve] | None = None,
    window: int = 20,
) -> None:
    """Write ``path`` (PNG): per run, ``episodic_return`` smoothed over ``window`` episodes
    and ``eval_mean_return`` as dots; each reference's [[step, score], ...] as crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (name, run) in enumerate(runs.items()):
        color = f"C{index}"
        if run.get("episodic_return"):
            steps, smooth = moving_mean(run["episodic_return"], window)
            axes.plot(steps, smooth, color=color, label=f"{name} (train, mean of {window})")
        if run.get("eval_mean_return"):
            steps, returns = np.asarray(run["eval_mean_return"], dtype=float).T
            axes.plot(steps, returns, "o", color=color, ms=4, label=f"{name} (greedy eval)")
    for index, (name, points) in enumerate((references or {}).items(), start=len(runs)):
        steps, scores = np.asarray(points, dtype=float).T
        axes.plot(steps, scores, "x", color=f"C{index}", ms=8, mew=2, label=name)
    axes.set_xlabel("agent steps")
    axes.set_ylabel("game score")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
