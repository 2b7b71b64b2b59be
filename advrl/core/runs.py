"""Run directories: the default name, and the check that never overwrites a run."""

from __future__ import annotations

import time
from pathlib import Path

from advrl.core.errors import UserError


def default_run_dir(*parts: object) -> Path:
    """``runs/{part}__{part}__...__{unix time}`` (CleanRL's run names), file-name safe."""
    name = "__".join(str(p).replace("/", "-").replace(":", "-") for p in parts)
    return Path("runs") / f"{name}__{int(time.time())}"


def check_new_run_dir(run_dir: Path) -> Path:
    """Refuse a run dir that already holds files (a run is never overwritten)."""
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(
            f"run dir {str(run_dir)!r} already holds files; pick another --run-dir, or "
            "--resume a checkpoint from it"
        )
    return run_dir


def resumed_run_dir(given: Path | None, recorded: str, checkpoint: Path) -> Path:
    """A resumed run's dir: ``given``, else the recorded one, else the checkpoint's run
    (the folder ``<run>/checkpoints/x.pt`` sits in, for a run that was moved)."""
    run_dir = Path(given or recorded)
    if given is None and not run_dir.exists():
        run_dir = Path(checkpoint).resolve().parent.parent
    return run_dir
