"""Linear schedules for learning rates and exploration, one copy for every agent."""

from __future__ import annotations


def linear_schedule(start: float, end: float, duration: float, t: int) -> float:
    """``start`` moving linearly to ``end`` over ``duration`` steps, then ``end``."""
    if t >= duration:
        return end
    return start + (end - start) * t / duration


def annealed_lr(lr: float, step: int, total_steps: int) -> float:
    """``lr`` annealed linearly to 0 over a ``total_steps`` run (CleanRL's ``anneal_lr``)."""
    return lr * max(1.0 - step / total_steps, 0.0)


def crossed(interval: int, before: int, after: int) -> int:
    """How many multiples of ``interval`` a step count passed going from before to after."""
    return after // interval - before // interval
