"""advrl's thread policy: how many threads a run takes, decided from its work, so that two
runs on one machine share its cores instead of starving each other.

Three decisions, each measured on 2 cores (``scripts/benchmark.py --suite concurrency``):

- **torch's intra-op threads** come from ``--threads N`` when given, else ``OMP_NUM_THREADS``
  when set, else a sweep trial's CPUs (Ray's allotment), else the work: one thread for small
  networks (MLPs over vector observations: their matmuls are too small to split, and a
  second thread only adds synchronisation), every available core for the Nature CNN and
  SeqGAN's token LSTM (Breakout PPO and SeqGAN-v0's rollouts run 1.5-2x faster on two).
- **The vector env's threads** (ale-py's C++ pool): one per env, at most as many as torch's
  (the env steps while the network waits, so the two take turns on the same cores).
- **Idle OpenMP threads sleep** (``OMP_WAIT_POLICY=PASSIVE``) instead of spinning. torch's
  OpenMP threads otherwise spin after each parallel region, waiting for the next; with two
  processes asking for more threads than there are cores, a spinning thread holds the core
  its partner needs and both crawl (two SeqGAN-v0 step loops at once: 3.4x one's wall time
  with spinning, 1.6x with sleeping). Alone, sleeping costs a few percent on many small
  regions. OpenMP reads this once, when torch loads, so ``import advrl`` sets it only if
  torch is not yet imported and you set neither ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT``
  yourself (``OMP_WAIT_POLICY=ACTIVE`` gives back the spinning, for a machine of your own).

``ADVRL_THREADS=off`` turns the policy off: torch's and ale-py's own defaults (a thread per
core) and OpenMP's own wait, as advrl ran before it (``--threads`` still applies).

The thread count can change a run's floating-point sums (a reduction split over two
threads adds in another order), so the same seed gives the same curve on the same machine
with the same thread count; ``summary.json`` records it under ``threads``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from advrl.core.errors import UserError

WAIT_POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
OFF_VARIABLE = "ADVRL_THREADS"
"""Set to ``off`` to keep torch's, ale-py's and OpenMP's own defaults."""


def policy_off() -> bool:
    """Whether the user turned the thread policy off (``ADVRL_THREADS=off``)."""
    return os.environ.get(OFF_VARIABLE, "").lower() == "off"


def sleep_idle_threads() -> bool:
    """Ask OpenMP to let idle threads sleep (before torch loads it); True if it applied."""
    if "torch" in sys.modules or any(name in os.environ for name in WAIT_POLICY_VARIABLES):
        return False
    if policy_off():
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def available_cpus() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ThreadPlan:
    """The threads one run takes."""

    torch: int
    """torch's intra-op threads."""
    env: int
    """Threads of a vector env that has its own pool (ale-py's); 0 leaves it its own choice."""
    reason: str
    """Where ``torch`` came from: threads, OMP_NUM_THREADS, or the work."""


def plan_threads(requested: int | None, parallel_work: bool, num_envs: int) -> ThreadPlan:
    """Threads for a run: ``requested`` (``--threads``) first, then ``OMP_NUM_THREADS``, then
    the work (``parallel_work``: a network large enough to split over threads)."""
    if requested is not None:
        if requested < 1:
            raise UserError(f"--threads must be at least 1, got {requested}")
        count, reason = requested, "--threads"
    elif policy_off():
        import torch

        return ThreadPlan(torch=torch.get_num_threads(), env=0, reason=f"{OFF_VARIABLE}=off")
    elif os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]):
        count, reason = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    elif parallel_work:
        count, reason = available_cpus(), "the work: a CNN or token LSTM splits over cores"
    else:
        count, reason = 1, "the work: a small network gains nothing from a second thread"
    return ThreadPlan(torch=count, env=max(1, min(num_envs, count)), reason=reason)


def apply_threads(plan: ThreadPlan) -> None:
    """Set torch's intra-op threads to the plan's."""
    import torch

    if torch.get_num_threads() != plan.torch:
        torch.set_num_threads(plan.torch)
