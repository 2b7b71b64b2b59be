"""Run directories and what every trainer writes in them, one way for ``train_agent.py`` and
``train_gan.py``: the default name, the refusal to overwrite a run, the checkpoint a run
resumes (checked to be one of its own), checkpoints holding the run's record, its config,
the trainer's state and the RNG states (written atomically, loaded without running code),
summary.json, and Ctrl-C (stop at the next safe point, save a checkpoint, exit 130)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import advrl
from advrl.core.checkpoint import load_checkpoint, rng_state, save_checkpoint, write_json_atomic
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


def new_run_dir(given: Path | None, *parts: object) -> Path:
    """A new run's dir: ``given``, else ``default_run_dir(*parts)``; refused if it holds files."""
    return check_new_run_dir(Path(given or default_run_dir(*parts)))


def resumed_run_dir(given: Path | None, recorded: str, checkpoint: Path) -> Path:
    """A resumed run's dir: ``given``, else the recorded one, else the checkpoint's run
    (the folder ``<run>/checkpoints/x.pt`` sits in, for a run that was moved)."""
    run_dir = Path(given or recorded)
    if given is None and not run_dir.exists():
        run_dir = Path(checkpoint).resolve().parent.parent
    return run_dir


def load_resume(path: Path, record_key: str, script: str) -> dict[str, Any]:
    """The checkpoint ``--resume`` names, refused unless ``script`` wrote it: its
    checkpoints keep the run's record under ``record_key``."""
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint.get(record_key), dict):
        raise UserError(
            f"checkpoint {str(path)!r} is not a {script} checkpoint; pass a file under "
            f"<run_dir>/checkpoints/ of a run {script} wrote"
        )
    return checkpoint


@dataclass
class RunFiles:
    """Where a run writes and what: ``checkpoints/<name>`` and summary.json in ``run_dir``."""

    run_dir: Path
    record_key: str
    """The checkpoint key of the run's record: ``run`` (train_agent.py), ``gan_run``
    (train_gan.py); ``load_resume`` refuses a checkpoint without it."""
    record: dict[str, Any]
    """The run as its checkpoints record it: what ``--resume`` rebuilds it from."""
    resumed_from: Path | None = None
    """The checkpoint this run continues, if any."""

    def create(self) -> None:
        """Make the run dir (planning checked it holds nothing, or is the resumed run's)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def save(self, name: str, config: dict[str, Any], state: dict[str, Any]) -> Path:
        """Write ``checkpoints/<name>`` atomically: the run's record (with advrl's version),
        its ``config``, the trainer's ``state`` (weights, optimisers, counters) and the
        Python, NumPy and torch RNG states; only values ``weights_only`` loading accepts."""
        payload = {
            self.record_key: {**self.record, "advrl_version": advrl.__version__},
            "config": config,
            **state,
            "rng": rng_state(),
        }
        return save_checkpoint(self.run_dir / "checkpoints" / name, payload)

    def summary_entries(self, checkpoint: Path) -> dict[str, Any]:
        """What every summary.json says of the run: where it is, its last checkpoint, what
        it resumed and advrl's version."""
        return {
            "run_dir": str(self.run_dir),
            "checkpoint": str(checkpoint),
            "resumed_from": str(self.resumed_from) if self.resumed_from else None,
            "advrl_version": advrl.__version__,
        }

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write summary.json atomically (other tools read it)."""
        return write_json_atomic(self.run_dir / "summary.json", summary)


class CtrlC:
    """Ctrl-C as a request to stop: while ``catching``, the first sets ``pressed`` and the
    loop stops after its current ``step`` (an update, a batch) to save a checkpoint; the
    second stops at once."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.pressed = False

    @contextlib.contextmanager
    def catching(self) -> Iterator[CtrlC]:
        """Catch Ctrl-C inside the block (in the main thread only: signal handlers can be
        set nowhere else, so a worker thread stops at once as usual)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            if self.pressed:
                raise KeyboardInterrupt
            self.pressed = True
            print(
                f"\nstopping after this {self.step} to save a checkpoint (Ctrl-C again to abort)",
                file=sys.stderr,
                flush=True,
            )

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def exit_interrupted(checkpoint: Path, where: str) -> NoReturn:
    """Say where an interrupted run stopped and how to resume it, then raise
    KeyboardInterrupt (the command line exits 130)."""
    print(f"\ninterrupted at {where}; checkpoint: {checkpoint}\nresume with: --resume {checkpoint}")
    raise KeyboardInterrupt
