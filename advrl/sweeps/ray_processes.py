"""A sweep leaves no Ray process behind when its driver dies.

``ray.shutdown()`` ends every process of a local Ray the driver started (GCS, raylet,
workers, the dashboard and runtime-env agents), and Ray calls it at exit. Two ways of dying
skip it, and both are handled here:

- **SIGTERM and SIGHUP** (``kill``, a closed terminal, a job scheduler's stop) end Python
  without running ``finally`` blocks. ``exit_on_signals`` turns them into ``SystemExit``, so
  the sweep's ``finally`` shuts Ray down.
- **SIGKILL** runs nothing. Ray's raylet and GCS then go, but the dashboard and runtime-env
  agents live on, orphaned (seen with Ray 2.60). While a sweep runs, ``RayProcessRecorder``
  keeps the local Ray's processes (pid and start time) in ``ray_processes.json`` in the
  sweep's folder; ``end_leftover_ray``, run by ``--resume`` (and any sweep started on that
  folder), ends those still alive. The start time makes sure a recycled pid is never hit.

What this cannot do: a cluster joined with ``--address`` is not the sweep's to stop, and
after a SIGKILL nothing is cleaned until the sweep's folder is resumed.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from advrl.core.checkpoint import write_json_atomic
from advrl.core.errors import UserError

RAY_PROCESSES_FILE = "ray_processes.json"
RECORD_EVERY_S = 2.0
"""How often the recorder looks for new processes (Ray starts its agents after ``init``)."""
EXIT_SIGNALS = ("SIGTERM", "SIGHUP")


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit(128 + signal)``, so ``finally``
    blocks run (Python's default for them is to die at once).

    A signal that lands while Ray waits in its C++ core (``ray.wait``, ``ray.get``) runs the
    handler there, and Ray replaces the handler's exception with a ``SystemExit(1)`` of its
    own; so whatever leaves the block after a signal leaves it as that signal's exit."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread
        return
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        raise SystemExit(128 + signum)

    previous = {}
    for name in EXIT_SIGNALS:
        if hasattr(signal, name):  # Windows has no SIGHUP
            number = getattr(signal, name)
            previous[number] = signal.signal(number, handler)
    try:
        yield
    except BaseException:
        if received:
            raise SystemExit(128 + received[0]) from None
        raise
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _identity(process: Any) -> dict[str, float]:
    return {"pid": process.pid, "create_time": process.create_time()}


def _descendants() -> list[dict[str, float]]:
    """This process's descendants: the local Ray it started, with their start times."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            found.append(_identity(child))
    return found


class RayProcessRecorder:
    """Keeps ``path`` listing every process this driver's local Ray has started, until
    ``stop``; a daemon thread adds new ones every ``RECORD_EVERY_S`` seconds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        import psutil

        self.driver = _identity(psutil.Process())
        self.seen: dict[int, dict[str, float]] = {}
        self._stop = threading.Event()
        self._record()
        self._thread = threading.Thread(target=self._loop, name="ray-processes", daemon=True)
        self._thread.start()

    def _record(self) -> None:
        new = {int(p["pid"]): p for p in _descendants() if p["pid"] not in self.seen}
        if new:
            self.seen.update(new)
            record = {"driver": self.driver, "processes": list(self.seen.values())}
            write_json_atomic(self.path, record)

    def _loop(self) -> None:
        while not self._stop.wait(RECORD_EVERY_S):
            self._record()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def end_leftover_ray(folder: Path, grace_s: float = 5.0) -> int:
    """End the processes a killed sweep in ``folder`` left (those of its record still alive
    with the recorded start time); returns how many there were."""
    import psutil

    record = folder / RAY_PROCESSES_FILE
    if not record.exists():
        return 0
    content = json.loads(record.read_text())
    if _alive(psutil, content["driver"]):
        raise UserError(
            f"{folder}: its sweep is still running (driver pid {content['driver']['pid']}); "
            "stop it, or wait for it to end"
        )
    alive = [p for p in (_alive(psutil, e) for e in content["processes"]) if p is not None]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, still = psutil.wait_procs(alive, timeout=grace_s)
    for process in still:
        with contextlib.suppress(psutil.Error):
            process.kill()
    record.unlink()
    return len(alive)


def _alive(psutil: Any, entry: dict[str, float]) -> Any:
    """The process ``entry`` names if it still runs (same pid, same start time), else None."""
    try:
        process = psutil.Process(int(entry["pid"]))
        return process if abs(process.create_time() - float(entry["create_time"])) < 0.01 else None
    except psutil.Error:
        return None
