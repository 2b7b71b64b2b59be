"""Aggregates over seeds, computed by rliable: the interquartile mean (IQM) with a 95%
stratified bootstrap confidence interval (Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice"), beside the mean and the median.

Sweeps rank their configurations with it and ``scripts/benchmark.py`` compares ours with SB3
by it, so every comparison is interval against interval. rliable is in the ``sweep`` extra;
without it these functions say how to install it.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from advrl.core.errors import UserError

BOOTSTRAP_REPS = 2_000
"""Bootstrap resamples per interval. rliable's default is 50,000, but its bootstrap (arch's,
a Python loop) calls the statistic once a resample; 2,000 is what rliable's own curve figures
use, and moves a 95% bound by well under its width."""


@dataclass(frozen=True)
class Aggregate:
    """One group of per-seed scores, summarised."""

    runs: int
    iqm: float
    iqm_low: float
    iqm_high: float
    """The 95% stratified bootstrap confidence interval of the IQM."""
    mean: float
    median: float

    def as_dict(self) -> dict[str, float | int | list[float]]:
        return {
            "runs": self.runs,
            "iqm": self.iqm,
            "iqm_ci95": [self.iqm_low, self.iqm_high],
            "mean": self.mean,
            "median": self.median,
        }


@contextlib.contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator for the block, then put its state back.

    rliable's stratified bootstrap (1.2) draws its resamples with ``np.random.choice`` and
    ignores the ``random_state`` it is given, so without this the same scores gave other
    intervals from call to call (a 95% bound moved by 0.07 on five scores)."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _rliable():
    # arch, under rliable, warns that the RandomState rliable passes it is deprecated.
    warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
    try:
        from rliable import library, metrics
    except ImportError:
        raise UserError(
            "interval estimates need rliable: pip install -e '.[sweep]' (or pip install rliable)"
        ) from None
    return library, metrics


def interquartile_mean(scores: np.ndarray) -> float:
    """The 25% trimmed mean of all ``scores``: ``rliable.metrics.aggregate_iqm``'s number.

    rliable computes it with ``scipy.stats.trim_mean``, whose array-API and NaN-policy
    wrappers cost about 0.45 ms a call; the bootstrap calls it 2,000 times an interval, so
    the suites' tests spent half a minute in them. This is the same computation (the same
    cut, the same partition, the same mean) in NumPy alone.
    """
    flat = np.asarray(scores, dtype=float).ravel()
    if not flat.size:
        return float("nan")
    low = int(0.25 * flat.size)
    high = flat.size - low
    return float(np.mean(np.partition(flat, (low, high - 1))[low:high]))


def aggregate_scores(
    scores: Mapping[str, Sequence[float]], seed: int = 0, reps: int = BOOTSTRAP_REPS
) -> dict[str, Aggregate]:
    """IQM with its 95% interval, mean and median of each group's per-seed ``scores``.

    Each group is one task with one score per run, as rliable's ``(runs, tasks)`` matrices;
    ``seed`` fixes the bootstrap, so the same scores always give the same intervals.
    """
    library, _ = _rliable()
    matrices = {
        name: np.asarray(values, dtype=float).reshape(-1, 1) for name, values in scores.items()
    }
    matrices = {name: m for name, m in matrices.items() if m.size}
    if not matrices:
        return {}
    with _global_numpy_seed(seed):
        point, interval = library.get_interval_estimates(
            matrices,
            lambda m: np.array([interquartile_mean(m)]),
            reps=reps,
            confidence_interval_size=0.95,
            random_state=np.random.RandomState(seed),
        )
    return {
        name: Aggregate(
            runs=len(m),
            iqm=float(point[name][0]),
            iqm_low=float(interval[name][0, 0]),
            iqm_high=float(interval[name][1, 0]),
            mean=float(np.mean(m)),
            median=float(np.median(m)),
        )
        for name, m in matrices.items()
    }


def iqm_band(
    curves: np.ndarray, seed: int = 0, reps: int = 1_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The IQM over runs at each point of ``curves`` (runs x points) and its 95% band.

    The bootstrap resamples whole runs (rliable's runs x tasks x points layout, one task),
    as rliable's own sample-efficiency curves do. Each resample's IQMs are one trimmed mean
    along the runs, all points at once: what ``rliable.metrics.aggregate_iqm`` computes point
    by point (scipy's 25% ``trim_mean``), without a Python loop over the points, which took
    about 10 s a curve at 1,000 resamples and 50 points.
    """
    from scipy.stats import trim_mean

    library, _ = _rliable()
    curves = np.asarray(curves, dtype=float)[:, None, :]
    with _global_numpy_seed(seed):
        point, interval = library.get_interval_estimates(
            {"curve": curves},
            lambda m: trim_mean(m.reshape(-1, m.shape[-1]), 0.25, axis=0),
            reps=reps,
            confidence_interval_size=0.95,
            random_state=np.random.RandomState(seed),
        )
    return point["curve"], interval["curve"][0], interval["curve"][1]


def format_aggregate(agg: Aggregate, digits: int = 1) -> str:
    """``IQM [low, high]`` for a table cell."""
    return f"{agg.iqm:.{digits}f} [{agg.iqm_low:.{digits}f}, {agg.iqm_high:.{digits}f}]"
