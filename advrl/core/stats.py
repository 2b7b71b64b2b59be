"""Averages every part of advrl takes the same way: metric rows, and batched per-row means."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch


def mean_metrics(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each key over ``rows`` (a phase's per-step metrics); empty for none."""
    totals: dict[str, float] = {}
    count = 0
    for row in rows:
        count += 1
        for key, value in row.items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: value / max(count, 1) for key, value in totals.items()}


def batched_mean(
    per_row: Callable[[torch.Tensor], torch.Tensor], rows: torch.Tensor, batch_size: int = 1000
) -> float:
    """The mean of ``per_row(batch)`` over all ``rows``, ``batch_size`` rows at a time, in
    float64 and without gradients (a likelihood over a held-out set, say)."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            total += float(per_row(rows[start : start + batch_size]).double().sum())
    return total / max(len(rows), 1)
