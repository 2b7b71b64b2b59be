"""What an agent calls back while it learns: SB3's callback, pared down to two members.

An agent calls ``after_update(step)`` after each of its updates (DQN: every ``LOG_EVERY``
gradient steps, with its log line) and ends ``learn`` at its next step boundary once
``stop_requested`` is true. The trainer's subclass runs its plug-ins there; the default
does nothing, so an agent learns from plain Python with no trainer at all.
"""

from __future__ import annotations


class LearnHooks:
    """No-op hooks; subclass ``after_update`` or set ``stop_requested`` to steer a run."""

    stop_requested: bool = False

    def after_update(self, step: int) -> None:
        """Called with ``global_step`` after every update."""
