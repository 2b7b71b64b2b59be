"""Gradient estimators measured against the exact gradient
(``python scripts/benchmark.py --suite estimators``).

First the lecture's toy (``advrl.gan.estimators``): the score-function estimator of
d/dtheta E[z^2], z ~ N(theta, 1), with and without a baseline, against the path derivative
(reparameterisation), each one's variance sampled beside its closed form, against theta and
against the number of samples averaged: ``benchmarks/estimators/toy.json`` and ``toy.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from advrl.benchmarks import RESULTS
from advrl.core.checkpoint import write_json_atomic
from advrl.gan.estimators import TOY_ESTIMATORS, toy_estimates, toy_gradient, toy_variance

OUT = RESULTS / "estimators"
THETAS = tuple(float(t) for t in np.linspace(-3.0, 3.0, 13))
SAMPLES = (1, 4, 16, 64, 256)
REPEATS = 20_000
"""Independent estimates per point, from which each variance is sampled."""


def toy_study(out: Path = OUT, repeats: int = REPEATS, seed: int = 0) -> dict[str, Any]:
    """Each estimator's sampled mean and variance beside the closed forms, over ``THETAS``
    (one sample per estimate) and over ``SAMPLES`` (at theta = 1); toy.json and toy.png."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    points = [(theta, 1) for theta in THETAS] + [(1.0, n) for n in SAMPLES if n != 1]
    for estimator in TOY_ESTIMATORS:
        for theta, n in points:
            estimates = toy_estimates(estimator, theta, n, repeats, generator)
            rows.append(
                {
                    "estimator": estimator,
                    "theta": theta,
                    "samples": n,
                    "true_gradient": toy_gradient(theta),
                    "mean": estimates.mean().item(),
                    "variance": estimates.var().item(),
                    "variance_closed_form": toy_variance(estimator, theta, n),
                }
            )
    result = {"repeats": repeats, "seed": seed, "rows": rows}
    write_json_atomic(out / "toy.json", result)
    plot_toy(rows, out / "toy.png")
    return result


def plot_toy(rows: list[dict[str, Any]], path: Path) -> None:
    """Variance against theta (one sample) and against samples (theta = 1), log scale:
    sampled points on their closed-form lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_theta, by_samples) = plt.subplots(1, 2, figsize=(10, 4))
    for index, estimator in enumerate(TOY_ESTIMATORS):
        color = f"C{index}"
        mine = [r for r in rows if r["estimator"] == estimator]
        single = sorted((r for r in mine if r["samples"] == 1), key=lambda r: r["theta"])
        thetas = np.linspace(min(THETAS), max(THETAS), 200)
        by_theta.plot(thetas, [toy_variance(estimator, t) for t in thetas], color=color,
                      label=estimator.replace("_", " "))  # fmt: skip
        by_theta.plot([r["theta"] for r in single], [r["variance"] for r in single], "o",
                      color=color, markersize=4)  # fmt: skip
        at_one = sorted((r for r in mine if r["theta"] == 1.0), key=lambda r: r["samples"])
        counts = [r["samples"] for r in at_one]
        by_samples.plot(counts, [toy_variance(estimator, 1.0, n) for n in counts], color=color)
        by_samples.plot(counts, [r["variance"] for r in at_one], "o", color=color, markersize=4)
    by_theta.set(yscale="log", xlabel="theta", ylabel="variance of one-sample estimate",
                 title="d/dtheta E[z^2], z ~ N(theta, 1)")  # fmt: skip
    by_samples.set(xscale="log", yscale="log", xlabel="samples averaged",
                   ylabel="variance (theta = 1)",
                   title="lines: closed form; dots: sampled")  # fmt: skip
    by_theta.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
