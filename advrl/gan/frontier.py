"""The quality–diversity frontier of a sequence generator: NLL-oracle against NLL-test.

Lowering a generator's sampling temperature trades diversity (NLL-test, how well it covers
held-out real data) for quality (NLL-oracle, how likely the oracle finds its samples).
Caccia et al. ("Language GANs Falling Short", 2020) showed that MLE swept over temperature
dominates every language GAN they tried on SeqGAN's oracle, so a GAN's gain in NLL-oracle
means something only when it lies beyond MLE's curve. ``frontier_gap`` measures that
distance; ``plot_frontier`` draws the curves (matplotlib, imported only when drawing).

Real text has no oracle. There the quality axis is BLEU-4 against held-out sentences (higher
is better), and ``frontier_gap(curve, point, quality="bleu4")`` gives the generator's BLEU-4
minus MLE's at equal NLL-test: positive is beyond MLE's curve.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = Mapping[str, float]
"""One point of a temperature sweep: ``temperature``, ``nll_oracle``, ``nll_test`` and
optionally ``nll_oracle_se``."""


@dataclass(frozen=True)
class FrontierGap:
    """How far a generator's NLL-oracle lies above (+) or below (-) MLE's frontier."""

    gap: float
    """The generator's NLL-oracle minus MLE's, interpolated at the generator's NLL-test."""
    se: float
    """Standard error of ``gap`` from both NLL-oracle estimates (NLL-test is exact)."""
    in_range: bool
    """False when the generator's NLL-test lies outside the curve's: the nearest end of
    the frontier was used, and the gap says less."""


def efficient_branch(curve: Sequence[Row]) -> list[Row]:
    """The temperatures at or below the one with the lowest NLL-test, coldest first.

    Above that temperature both NLLs rise (dominated points); below it, NLL-test rises as
    NLL-oracle falls: the trade-off the frontier is made of.
    """
    if not curve:
        raise ValueError("a frontier needs a temperature sweep with at least one point")
    rows = sorted(curve, key=lambda row: row["temperature"])
    best = min(range(len(rows)), key=lambda i: rows[i]["nll_test"])
    return rows[: best + 1]


def frontier_gap(curve: Sequence[Row], point: Row, quality: str = "nll_oracle") -> FrontierGap:
    """``point``'s ``quality`` minus ``curve``'s (MLE's sweep) at ``point``'s NLL-test.

    MLE's quality is interpolated linearly in NLL-test along the curve's efficient branch;
    outside its NLL-test range the nearest end is used (``in_range`` False). For NLL-oracle,
    negative means the generator is better than any cooling of MLE at that diversity; for
    BLEU-4 (``quality="bleu4"``), positive does. The SE reads ``quality + "_se"`` where rows
    have it.
    """
    branch = efficient_branch(curve)
    x = point["nll_test"]
    coldest, warmest = branch[0], branch[-1]  # NLL-test falls along the branch
    if len(branch) == 1 or not warmest["nll_test"] <= x <= coldest["nll_test"]:
        end = coldest if x >= coldest["nll_test"] else warmest
        return _gap(point, end, 0.0, x == end["nll_test"], quality=quality)
    for cold, warm in itertools.pairwise(branch):
        if warm["nll_test"] <= x <= cold["nll_test"]:
            w = (cold["nll_test"] - x) / (cold["nll_test"] - warm["nll_test"])  # 0 at cold
            return _gap(point, cold, w, True, warm, quality)
    raise AssertionError("unreachable: x lies between the branch's ends")


def _gap(
    point: Row,
    cold: Row,
    w: float,
    in_range: bool,
    warm: Row | None = None,
    quality: str = "nll_oracle",
) -> FrontierGap:
    """The gap to ``(1 - w) * cold + w * warm`` (``cold`` alone when ``warm`` is None)."""
    warm, se_key = warm or cold, f"{quality}_se"
    mle = (1 - w) * cold[quality] + w * warm[quality]
    mle_se = math.hypot((1 - w) * cold.get(se_key, 0.0), w * warm.get(se_key, 0.0))
    se = math.hypot(point.get(se_key, 0.0), mle_se)
    return FrontierGap(point[quality] - mle, se, in_range)


AXIS_LABELS = {
    "nll_oracle": "NLL-oracle (quality, lower is better)",
    "bleu4": "BLEU-4 (quality, higher is better)",
    "self_bleu4": "Self-BLEU-4 (repetition, lower is more diverse)",
}


def plot_frontier(
    curves: Mapping[str, Sequence[Row]],
    oracle_nll: float | None = None,
    path: Path | None = None,
    title: str = "SeqGAN-v0: quality against diversity",
    quality: str = "nll_oracle",
) -> Any:
    """A matplotlib figure: one curve per generator over its temperature sweep (τ = 1
    circled), the oracle's own point starred; saved to ``path`` when given. ``quality`` is
    the x axis: NLL-oracle, or BLEU-4 for real text."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for name, rows in curves.items():
        rows = sorted(rows, key=lambda row: row["temperature"])
        xs = [row[quality] for row in rows]
        ys = [row["nll_test"] for row in rows]
        (line,) = ax.plot(xs, ys, marker=".", label=name)
        for row in rows:
            if row["temperature"] in (rows[0]["temperature"], 1.0):
                ax.annotate(
                    f"τ={row['temperature']:g}",
                    (row[quality], row["nll_test"]),
                    fontsize=7,
                    textcoords="offset points",
                    xytext=(4, 4),
                )
        ones = [row for row in rows if row["temperature"] == 1.0]
        if ones:
            ax.plot(
                [ones[0][quality]],
                [ones[0]["nll_test"]],
                "o",
                mfc="none",
                color=line.get_color(),
                ms=9,
            )
    if oracle_nll is not None:
        ax.plot([oracle_nll], [oracle_nll], "k*", ms=10, label="oracle")
    ax.set_xlabel(AXIS_LABELS.get(quality, quality))
    ax.set_ylabel("NLL-test (diversity, lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
