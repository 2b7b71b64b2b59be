"""The trainer's plug-in protocol: how a kind of run extends ``advrl.train`` without editing it.

In the spirit of SB3's callbacks and Lightning's ``Callback``: a plug-in is an object with a
few hooks, each a no-op in ``Plugin``, so a plug-in overrides only the ones it needs. The
trainer calls them in this order, every hook with the ``Run`` it is part of:

    wrap_envs(run, envs) -> envs   before the agent is built (GAIL replaces the reward here)
    load_state_dict(run, state)    when resuming, with what ``state_dict`` saved
    before_learn(run)              pre-training: MLE, behaviour cloning, D pre-training
    learn(run, hooks) -> bool      True when it trained the agent's policy itself, in place
                                   of the agent's ``learn`` (SeqGAN's Gumbel and CoT options)
    after_update(run, step)        after every agent update; ``run.stop()`` ends learning
    state_dict(run) -> dict        saved in every checkpoint under ``plugins[name]``
    evaluate(run) -> dict | None   replaces the greedy-episode evaluation (SeqGAN's metrics)
    summary(run) -> dict           entries merged into summary.json
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import torch

from advrl.agents import Agent
from advrl.core.hooks import LearnHooks
from advrl.core.logger import RunLogger
from advrl.envs.make import EnvFactory


@dataclass
class Run:
    """What plug-ins see of a training run; the trainer fills it in as the run is built."""

    run_dir: Path
    seed: int
    device: torch.device
    total_steps: int
    factory: EnvFactory
    resumed: bool
    """True when the run continues a checkpoint (pre-training is then skipped)."""
    save: Callable[[str], Path]
    """``save(name)`` writes ``checkpoints/<name>`` now (agent, RNG and plug-in states)."""
    # The trainer sets these three as it builds the run: only ``wrap_envs`` runs before them
    # (and sees None); every later hook may use them as typed.
    envs: gym.vector.VectorEnv = None  # type: ignore[assignment]
    agent: Agent = None  # type: ignore[assignment]
    logger: RunLogger = None  # type: ignore[assignment]
    stop_requested: bool = False

    def stop(self) -> None:
        """End learning after the current update; the run then finishes as usual."""
        self.stop_requested = True


class Plugin:
    """A trainer plug-in with every hook a no-op; see the module docstring for the order."""

    name: ClassVar[str] = "plugin"
    """Its key in checkpoints; one plug-in of a name per run."""
    learned_reward: ClassVar[bool] = False
    """The agent learns from a reward this plug-in makes: the env's own return is then
    logged as ``charts/true_episodic_return``, for reference only."""

    def wrap_envs(self, run: Run, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        return envs

    def load_state_dict(self, run: Run, state: dict[str, Any]) -> None:
        pass

    def before_learn(self, run: Run) -> None:
        pass

    def learn(self, run: Run, hooks: LearnHooks) -> bool:
        return False

    def after_update(self, run: Run, step: int) -> None:
        pass

    def state_dict(self, run: Run) -> dict[str, Any] | None:
        return None

    def evaluate(self, run: Run) -> dict[str, Any] | None:
        return None

    def summary(self, run: Run) -> dict[str, Any]:
        return {}


class PeriodicCheckpoints(Plugin):
    """``checkpoints/step_<N>.pt`` every ``every`` env steps (``--checkpoint-every``)."""

    name = "checkpoints"

    def __init__(self, every: int) -> None:
        self.every = every
        self.last_saved = 0

    def before_learn(self, run: Run) -> None:
        self.last_saved = run.agent.global_step

    def after_update(self, run: Run, step: int) -> None:
        if step // self.every > self.last_saved // self.every:
            run.save(f"step_{step:010d}.pt")
            self.last_saved = step


class DiscriminatorLog(Plugin):
    """Logs each new discriminator phase's metrics as ``discriminator/<key>`` curves.

    ``phases(run)`` is the list a reward model appends one dict of metrics to per phase
    (SeqGAN-v0's ``game.d_history``, GAIL's ``history``); phases before learning starts
    (pre-training) are left to the summary.
    """

    name = "discriminator_log"

    def __init__(self, phases: Callable[[Run], list[dict[str, float]]]) -> None:
        self.phases = phases
        self.logged = 0

    def before_learn(self, run: Run) -> None:
        self.logged = len(self.phases(run))

    def after_update(self, run: Run, step: int) -> None:
        phases = self.phases(run)
        for phase in phases[self.logged :]:
            run.logger.scalars(phase, prefix="discriminator/", step=step)
        self.logged = len(phases)
