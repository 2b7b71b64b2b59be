"""Train an agent on an env: the logic behind ``scripts/train_agent.py``, usable from Python.

``train(TrainSettings(env="GridWorld-v0", algo="reinforce"))`` plans the run (``advrl.plan``:
presets, overrides, every check before anything is written), then builds, restores,
pre-trains, learns, evaluates and summarises. Everything particular to one kind of run
(SeqGAN's recipe, GAIL, behaviour cloning, periodic checkpoints) is a plug-in
(``advrl.plugins``); pass your own as ``train(settings, plugins=[...])``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import gymnasium as gym
import numpy as np

from advrl.core.checkpoint import set_rng_state
from advrl.core.device import flush_subnormals, keep_freed_memory
from advrl.core.errors import UserError
from advrl.core.hooks import LearnHooks
from advrl.core.logger import RunLogger
from advrl.core.runs import CtrlC, RunFiles, exit_interrupted
from advrl.core.seeding import seed_everything
from advrl.core.threads import apply_threads
from advrl.envs.make import make_vector_env
from advrl.evaluation import evaluate
from advrl.plan import DEFAULT_TOTAL_STEPS, RUN_RECORD, Plan, TrainSettings, plan_run
from advrl.plugins import Plugin, Run

__all__ = ["DEFAULT_TOTAL_STEPS", "TrainSettings", "train"]


def train(settings: TrainSettings, plugins: Sequence[Plugin] = ()) -> dict[str, Any]:
    """Run ``settings`` (with extra ``plugins``) to the end; the summary in summary.json."""
    plan = plan_run(settings, plugins)
    # A resumed run's wall time goes on from what its checkpoint had taken so far.
    start_time = time.perf_counter() - (plan.checkpoint or {}).get("wall_time_s", 0.0)
    keep_freed_memory()  # 1.6x faster SeqGAN-v0 steps on CPU (advrl.core.device)
    flush_subnormals()  # RelGAN's relaxed tokens underflow; subnormals are slow (advrl.core.device)
    apply_threads(plan.threads)  # threads sized to the work, not the machine (advrl.core.threads)
    files = RunFiles(plan.run_dir, RUN_RECORD, plan.run_meta, settings.resume)
    files.create()
    seed_everything(plan.seed)
    resumed = plan.checkpoint is not None

    def elapsed() -> float:
        return time.perf_counter() - start_time

    run = Run(plan.run_dir, plan.seed, plan.device, plan.total_steps, plan.factory, resumed,
              save=lambda name: _save(plan, files, run, name, elapsed()))  # fmt: skip
    ctrl_c = CtrlC("update")
    hooks = PluginHooks(run, plan.plugins, ctrl_c)
    run.envs = make_vector_env(plan.factory, plan.num_envs, settings.vec, plan.threads.env)
    for plugin in plan.plugins:
        run.envs = plugin.wrap_envs(run, run.envs)
    spaces = (run.envs.single_observation_space, run.envs.single_action_space)
    run.agent = agent = plan.algo_cls(*spaces, plan.config, plan.device)
    if resumed:
        _restore(plan, run)
    hparams = {**plan.run_meta, **dataclasses.asdict(plan.config), "device": str(plan.device)}
    tag = _return_tag(plan.plugins)
    run.logger = RunLogger(plan.run_dir, plan.total_steps, agent.global_step, hparams, tag)
    for plugin in plan.plugins:
        plugin.before_learn(run)
    # A resumed run resets its envs with a different seed, so it does not replay episodes.
    with ctrl_c.catching():
        # A plug-in may train the policy itself (a generator trained through D, say).
        if not any(plugin.learn(run, hooks) for plugin in plan.plugins):
            seed = plan.seed + agent.global_step
            agent.learn(run.envs, plan.total_steps, run.logger, seed, hooks)
    if ctrl_c.pressed:
        _interrupted(run)
    final_path = run.save("final.pt")
    train_sps = run.logger.sps
    run.envs.close()
    evaluation, video_error = _evaluate(run, plan.plugins, settings, plan.eval_epsilon)
    run.logger.close()
    summary = {
        "env": plan.run_meta["env"],
        "algo": plan.algo_cls.name,
        "seed": plan.seed,
        "total_steps": agent.global_step,
        **evaluation,
        "wall_time_s": elapsed(),
        "sps": train_sps,
        "num_envs": plan.num_envs,
        "device": str(plan.device),
        "threads": {"torch": plan.threads.torch, "env": plan.threads.env},
        "env_kwargs": dict(plan.factory.kwargs),
        "hyperparameters": dataclasses.asdict(plan.config),
        **files.summary_entries(final_path),
    }
    for plugin in plan.plugins:
        summary |= plugin.summary(run)
    files.write_summary(summary)
    if video_error:
        raise UserError(f"the run is saved ({plan.run_dir / 'summary.json'}) but {video_error}")
    return summary


class PluginHooks(LearnHooks):
    """The agent's hooks: after every update, each plug-in's ``after_update``; learning
    stops when a plug-in calls ``run.stop()`` or on Ctrl-C (``ctrl_c.pressed``)."""

    def __init__(self, run: Run, plugins: Sequence[Plugin], ctrl_c: CtrlC) -> None:
        self.run, self.plugins, self.ctrl_c = run, plugins, ctrl_c

    @property
    def stop_requested(self) -> bool:
        return self.run.stop_requested or self.ctrl_c.pressed

    @stop_requested.setter
    def stop_requested(self, value: bool) -> None:
        """Setting it, as ``LearnHooks`` allows, sets the run's (``run.stop()``)."""
        self.run.stop_requested = value

    def after_update(self, step: int) -> None:
        for plugin in self.plugins:
            plugin.after_update(self.run, step)


def _save(plan: Plan, files: RunFiles, run: Run, name: str, wall_time_s: float) -> Path:
    """Write ``checkpoints/<name>``: the run, the agent, RNG states, plug-in states and the
    wall time so far (a resumed run's summary counts every part)."""
    states = {p.name: p.state_dict(run) for p in plan.plugins}
    agent = run.agent.state_dict()
    plugins = {name: state for name, state in states.items() if state is not None}
    state = {"agent": agent, "plugins": plugins, "wall_time_s": wall_time_s}
    return files.save(name, dataclasses.asdict(plan.config), state)


def _restore(plan: Plan, run: Run) -> None:
    checkpoint = plan.checkpoint
    if checkpoint is None:
        raise ValueError("_restore needs a plan that resumes a checkpoint")
    run.agent.load_state_dict(checkpoint["agent"])
    set_rng_state(checkpoint["rng"])
    # Checkpoints from before plug-ins kept the two plug-in states under their own keys.
    legacy = {
        "seqgan": checkpoint.get("env_state"),
        "learned_reward": checkpoint.get("reward_model"),
    }
    states = checkpoint.get("plugins") or {k: v for k, v in legacy.items() if v is not None}
    for plugin in plan.plugins:
        if plugin.name in states:
            plugin.load_state_dict(run, states[plugin.name])


def _return_tag(plugins: Sequence[Plugin]) -> str:
    """With a learned reward the env's own return is for reference only: say so in its name."""
    learned = any(plugin.learned_reward for plugin in plugins)
    return "charts/true_episodic_return" if learned else "charts/episodic_return"


def _interrupted(run: Run) -> NoReturn:
    path = run.save(f"step_{run.agent.global_step:010d}.pt")
    run.logger.close()
    run.envs.close()
    exit_interrupted(path, f"step {run.agent.global_step:,}")


def _evaluate(
    run: Run, plugins: Sequence[Plugin], settings: TrainSettings, epsilon: float
) -> tuple[dict[str, Any], str | None]:
    """A plug-in's evaluation if one has it, else greedy (or ``epsilon``-greedy) episodes,
    optionally on video.

    A video that cannot be recorded (a missing renderer, say) costs the video only: the
    episodes are played again without it, and the error is returned to report after the
    summary is written.
    """
    for plugin in plugins:
        result = plugin.evaluate(run)
        if result is not None:
            no_episodes = {"eval_return_mean": None, "eval_return_std": None}
            return {**no_episodes, "eval_episodes": 0, "eval_returns": [], "videos": None,
                    **result}, None  # fmt: skip
    video_dir = run.run_dir / "videos" if settings.capture_video else None
    episodes, seed, error = settings.eval_episodes, run.seed + 10_000, None
    returns = np.zeros(0)
    if episodes and video_dir is not None:
        try:
            returns = evaluate(
                run.agent, run.factory, episodes, seed, video_dir=video_dir, epsilon=epsilon
            )
        except (gym.error.Error, ImportError, OSError, RuntimeError) as exc:
            error = f"its video failed: {(str(exc).strip() or type(exc).__name__).splitlines()[0]}"
            video_dir = None
    if episodes and video_dir is None:
        returns = evaluate(run.agent, run.factory, episodes, seed, epsilon=epsilon)
    return {
        "eval_return_mean": float(returns.mean()) if returns.size else None,
        "eval_return_std": float(returns.std()) if returns.size else None,
        "eval_episodes": int(returns.size),
        "eval_returns": returns.tolist(),
        "eval_epsilon": epsilon,
        "videos": str(video_dir) if video_dir else None,
    }, error
