"""Expert demonstrations on disk: what ``record_demos.py`` writes, and GAIL and behaviour
cloning read. An .npz of ``obs``, ``actions``, ``next_obs``, ``dones`` (episode ends) and
``episode_returns``, read with ``allow_pickle=False`` so a file cannot run code."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from advrl.core.checkpoint import write_bytes_atomic
from advrl.core.errors import UserError

DEMO_KEYS = ("obs", "actions", "next_obs", "dones", "episode_returns")


def load_demos(path: str | Path) -> dict[str, np.ndarray]:
    """Read a demonstrations file; a missing or malformed one is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"demonstrations file not found: {path}; make one with record_demos.py")
    try:
        with np.load(path, allow_pickle=False) as npz:
            demos = {key: np.array(npz[key]) for key in npz.files}
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read demonstrations from {path} ({exc})") from None
    missing = [key for key in DEMO_KEYS if key not in demos]
    if missing or len(demos.get("obs", [])) == 0:
        raise UserError(
            f"{path} is not a demonstrations file (missing {', '.join(missing) or 'data'}); "
            "make one with scripts/record_demos.py"
        )
    return demos


def save_demos(path: Path, demos: dict[str, np.ndarray]) -> Path:
    """Write ``demos`` as a compressed .npz, atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **demos)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    return write_bytes_atomic(Path(path), buffer.getvalue())


def episode_bounds(demos: dict[str, np.ndarray]) -> list[tuple[int, int]]:
    """(start, end) row ranges of the whole episodes in ``demos``, in order."""
    ends = np.flatnonzero(demos["dones"]) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def subsample_demos(
    demos: dict[str, np.ndarray], episodes: int, seed: int, every: int = 1
) -> dict[str, np.ndarray]:
    """``episodes`` whole episodes drawn without replacement (seeded), and of each, every
    ``every``-th step from a random offset (Ho & Ermon 2016 kept every 20th pair, so that a
    demonstration is a handful of states rather than a trajectory to copy step by step).

    Per-step arrays keep their kept rows (``dones`` still marks the rows that ended an
    episode, so with ``every`` > 1 an episode may have none); ``episode_returns`` keeps the
    chosen episodes' returns.
    """
    bounds = episode_bounds(demos)
    if not 1 <= episodes <= len(bounds):
        raise UserError(f"cannot draw {episodes} episodes from {len(bounds)} demonstrations")
    if every < 1:
        raise UserError(f"every must be >= 1, got {every}")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(bounds), size=episodes, replace=False))
    rows = np.concatenate(
        [np.arange(bounds[i][0] + rng.integers(every), bounds[i][1], every) for i in chosen]
    )
    subset = {key: value[rows] for key, value in demos.items() if key != "episode_returns"}
    subset["episode_returns"] = demos["episode_returns"][chosen]
    return subset
