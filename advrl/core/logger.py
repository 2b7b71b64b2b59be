"""TensorBoard scalars, a progress bar and the hyperparameter table for one run.

Metric names follow CleanRL's namespaces: ``charts/episodic_return``, ``charts/SPS``,
``losses/...``. A resumed run opens the same log directory with ``purge_step`` at the
checkpoint's step, so its curve continues instead of restarting at 0 (SB3 #1277).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm


class RunLogger:
    """Progress, episode metrics and losses for one training run."""

    def __init__(
        self,
        log_dir: Path,
        total_steps: int,
        start_step: int = 0,
        hparams: Mapping[str, Any] | None = None,
        return_tag: str = "charts/episodic_return",
    ) -> None:
        """``return_tag`` names the episode-return curve: ``charts/true_episodic_return``
        when the agent learns from a learned reward and the env's own is for reference."""
        self.return_tag = return_tag
        self.writer = SummaryWriter(str(log_dir), purge_step=start_step or None)
        self.global_step = start_step
        self.total_steps = total_steps
        self.recent_returns: deque[float] = deque(maxlen=20)
        self.curve: list[tuple[int, float]] = []
        """(global step, return) of every finished episode, for benchmarks and tests."""
        self.episodes = 0
        self._start_time = time.perf_counter()
        self._start_step = start_step
        self._last_sps_time = self._start_time
        self._last_sps_step = start_step
        self._last_print = 0.0
        self._interactive = sys.stderr.isatty()
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            disable=not self._interactive,
            smoothing=0.05,
        )
        if hparams:
            self.writer.add_text("hyperparameters", hparams_table(hparams), start_step)

    def on_step(self, steps: int, episodes: list[tuple[int, float, int]]) -> None:
        """Count ``steps`` env steps and log the episodes that finished in them."""
        self.global_step += steps
        for _, episode_return, length in episodes:
            self.episodes += 1
            self.recent_returns.append(episode_return)
            self.curve.append((self.global_step, episode_return))
            self.writer.add_scalar(self.return_tag, episode_return, self.global_step)
            self.writer.add_scalar("charts/episodic_length", length, self.global_step)
        self.bar.update(steps)
        now = time.perf_counter()
        if now - self._last_sps_time >= 1.0:
            sps = (self.global_step - self._last_sps_step) / (now - self._last_sps_time)
            self.writer.add_scalar("charts/SPS", sps, self.global_step)
            self._last_sps_time, self._last_sps_step = now, self.global_step
            postfix = {"SPS": f"{sps:,.0f}"}
            if self.recent_returns:
                postfix["return"] = f"{self.mean_recent_return:.3f}"
            self.bar.set_postfix(postfix, refresh=False)
            if not self._interactive and now - self._last_print >= 30.0:
                self._last_print = now
                print(
                    f"step {self.global_step:,}/{self.total_steps:,}  "
                    + "  ".join(f"{k} {v}" for k, v in postfix.items()),
                    file=sys.stderr,
                    flush=True,
                )

    def on_update(self, metrics: Mapping[str, float]) -> None:
        """Log one update's metrics (``losses/...``, ``charts/...``)."""
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, self.global_step)

    def scalars(
        self, metrics: Mapping[str, Any], prefix: str = "", step: int | None = None
    ) -> None:
        """Log the numbers in ``metrics`` as ``prefix + key`` at ``step`` (default: now)."""
        step = self.global_step if step is None else step
        for key, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(prefix + key, value, step)

    def text(self, tag: str, text: str, step: int | None = None) -> None:
        """Log ``text`` (markdown) under ``tag``, e.g. generated samples."""
        self.writer.add_text(tag, text, self.global_step if step is None else step)

    def figure(self, tag: str, figure: Any, step: int | None = None) -> None:
        """Log a matplotlib ``figure`` as an image under ``tag`` (and close it)."""
        self.writer.add_figure(tag, figure, self.global_step if step is None else step)

    @staticmethod
    def say(message: str) -> None:
        """A progress line on stderr (stdout is left for the run's results)."""
        print(message, file=sys.stderr, flush=True)

    @property
    def mean_recent_return(self) -> float:
        return sum(self.recent_returns) / max(len(self.recent_returns), 1)

    @property
    def sps(self) -> float:
        """Mean env steps per second since this process started the run."""
        elapsed = time.perf_counter() - self._start_time
        return (self.global_step - self._start_step) / max(elapsed, 1e-9)

    def close(self) -> None:
        self.bar.close()
        self.writer.flush()
        self.writer.close()


def hparams_table(hparams: Mapping[str, Any]) -> str:
    """A run's settings as the markdown table TensorBoard's TEXT tab shows."""
    rows = "\n".join(f"|{key}|{value}|" for key, value in hparams.items())
    return f"|param|value|\n|-|-|\n{rows}"
