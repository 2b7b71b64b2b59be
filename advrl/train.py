"""Train an agent on an env: the logic behind ``scripts/train_agent.py``, usable from Python.

``train(TrainSettings(env="GridWorld-v0", algo="reinforce"))`` resolves the env and the
algorithm, applies presets and overrides, trains with TensorBoard logging and periodic
atomic checkpoints, evaluates the greedy policy and writes ``<run_dir>/summary.json``.
Every user mistake is raised as ``UserError`` before anything is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import advrl
from advrl.agents import check_spaces, get_algorithm, resolve_device
from advrl.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    write_json_atomic,
)
from advrl.config import config_from_overrides
from advrl.envs.make import EnvFactory, env_run_name, make_env, make_vector_env, resolve_env
from advrl.errors import UserError
from advrl.evaluation import evaluate
from advrl.logger import RunLogger
from advrl.presets import find_preset

DEFAULT_TOTAL_STEPS = 100_000


@dataclass
class TrainSettings:
    """One training run, as the command line describes it."""

    env: str | None = None
    """Registered env id, module.path:ClassOrFactory, or module.path:EnvId."""
    algo: str | None = None
    """Algorithm name (see advrl.agents.ALGORITHMS)."""
    total_steps: int | None = None
    """Env steps to train for in all (a resumed run continues up to this count)."""
    seed: int = 1
    num_envs: int | None = None
    device: str = "auto"
    run_dir: Path | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Env constructor arguments; strings are typed by the constructor's annotations."""
    hp: Mapping[str, Any] = field(default_factory=dict)
    """Hyperparameter overrides; strings are typed by the algorithm's config."""
    eval_episodes: int = 10
    checkpoint_every: int = 0
    """Save a checkpoint every this many env steps (0: only at the end)."""
    resume: Path | None = None
    capture_video: bool = False
    vec: str = "sync"
    """Vector env kind: sync (one process) or async (a process per env)."""


@dataclass
class _Plan:
    """Everything resolved and validated before anything is written."""

    env: str
    algo_cls: type
    factory: EnvFactory
    config: Any
    total_steps: int
    num_envs: int
    seed: int
    device: torch.device
    run_dir: Path
    checkpoint: dict[str, Any] | None


def seed_everything(seed: int) -> None:
    """Seed every global RNG advrl uses (Python, NumPy, torch); envs are seeded on reset."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _plan(settings: TrainSettings) -> _Plan:
    checkpoint = load_checkpoint(settings.resume) if settings.resume else None
    if checkpoint is not None:
        run = checkpoint["run"]
        for name in ("env", "algo"):
            given = getattr(settings, name)
            if given is not None and given != run[name]:
                raise UserError(
                    f"--{name} {given!r} differs from the checkpoint's {run[name]!r}; "
                    f"drop --{name} when resuming, or start a new run"
                )
        env, algo, seed, num_envs = run["env"], run["algo"], run["seed"], run["num_envs"]
        env_kwargs = {**run["env_kwargs"], **settings.env_kwargs}
        hp_base, hp = checkpoint["config"], settings.hp
        run_dir = Path(settings.run_dir or run["run_dir"])
        if not run_dir.exists():
            run_dir = Path(settings.resume).resolve().parent.parent
    else:
        if settings.env is None or settings.algo is None:
            raise UserError("--env and --algo are required (or --resume a checkpoint)")
        env, algo, seed = settings.env, settings.algo, settings.seed
        env_kwargs, hp = settings.env_kwargs, settings.hp
        preset = find_preset(algo, env)
        hp_base = preset.hp
        num_envs = settings.num_envs or preset.num_envs
        run_dir = Path(
            settings.run_dir or f"runs/{env_run_name(env)}__{algo}__{seed}__{int(time.time())}"
        )
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(
                f"run dir {str(run_dir)!r} already holds files; pick another "
                "--run-dir, or --resume a checkpoint from it"
            )
    algo_cls = get_algorithm(algo)
    config = config_from_overrides(algo_cls.Config, hp_base, hp, f"--algo {algo}")
    factory = resolve_env(env, env_kwargs)
    probe = make_env(factory, training=False)
    try:
        check_spaces(algo_cls, probe.observation_space, probe.action_space, env)
    finally:
        probe.close()
    total_steps = settings.total_steps
    if total_steps is None:
        total_steps = (
            DEFAULT_TOTAL_STEPS if checkpoint is None else (checkpoint["run"]["total_steps"])
        )
    if total_steps < 1:
        raise UserError(f"--total-steps must be positive, got {total_steps}")
    if settings.eval_episodes < 0 or settings.checkpoint_every < 0:
        raise UserError("--eval-episodes and --checkpoint-every must be >= 0")
    return _Plan(
        env,
        algo_cls,
        factory,
        config,
        total_steps,
        num_envs,
        seed,
        resolve_device(settings.device),
        run_dir,
        checkpoint,
    )


@contextlib.contextmanager
def _graceful_ctrl_c(logger: RunLogger) -> Iterator[None]:
    """First Ctrl-C: stop at the next env step and checkpoint. Second: stop at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. not in a worker)
        return

    def handler(signum: int, frame: Any) -> None:
        if logger.stop_requested:
            raise KeyboardInterrupt
        logger.request_stop()
        print(
            "\nstopping after this step to save a checkpoint (Ctrl-C again to abort)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train(settings: TrainSettings) -> dict[str, Any]:
    """Run ``settings`` to the end and return the summary written to summary.json."""
    plan = _plan(settings)
    start_time = time.perf_counter()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir = plan.run_dir / "checkpoints"

    seed_everything(plan.seed)
    envs = make_vector_env(plan.factory, plan.num_envs, settings.vec)
    agent = plan.algo_cls(
        envs.single_observation_space, envs.single_action_space, plan.config, plan.device
    )
    if plan.checkpoint is not None:
        agent.load_state_dict(plan.checkpoint["agent"])
        set_rng_state(plan.checkpoint["rng"])

    run_meta = {
        "env": plan.env,
        "algo": plan.algo_cls.name,
        "seed": plan.seed,
        "num_envs": plan.num_envs,
        "env_kwargs": dict(plan.factory.kwargs),
        "run_dir": str(plan.run_dir),
        "total_steps": plan.total_steps,
        "advrl_version": advrl.__version__,
    }

    def save(name: str) -> Path:
        return save_checkpoint(
            checkpoint_dir / name,
            {
                "run": run_meta,
                "config": dataclasses.asdict(plan.config),
                "agent": agent.state_dict(),
                "rng": rng_state(),
            },
        )

    last_saved = agent.global_step

    def maybe_checkpoint(step: int) -> None:
        nonlocal last_saved
        every = settings.checkpoint_every
        if every and step // every > last_saved // every:
            save(f"step_{step:010d}.pt")
            last_saved = step

    hparams = {**run_meta, **dataclasses.asdict(plan.config), "device": str(plan.device)}
    logger = RunLogger(
        plan.run_dir, plan.total_steps, agent.global_step, hparams, on_update=maybe_checkpoint
    )
    # A resumed run resets its envs with a different seed, so it does not replay episodes.
    reset_seed = plan.seed + agent.global_step
    try:
        with _graceful_ctrl_c(logger):
            agent.learn(envs, plan.total_steps, logger, seed=reset_seed)
    except KeyboardInterrupt:
        path = save(f"step_{agent.global_step:010d}.pt")
        logger.close()
        envs.close()
        print(
            f"\ninterrupted at step {agent.global_step:,}; checkpoint: {path}\n"
            f"resume with: --resume {path}"
        )
        raise
    final_path = save("final.pt")
    train_sps = logger.sps
    logger.close()
    envs.close()

    video_dir = plan.run_dir / "videos" if settings.capture_video else None
    returns = (
        evaluate(
            agent,
            plan.factory,
            settings.eval_episodes,
            seed=plan.seed + 10_000,
            video_dir=video_dir,
        )
        if settings.eval_episodes
        else np.zeros(0)
    )
    summary = {
        "env": plan.env,
        "algo": plan.algo_cls.name,
        "seed": plan.seed,
        "total_steps": agent.global_step,
        "eval_return_mean": float(returns.mean()) if returns.size else None,
        "eval_return_std": float(returns.std()) if returns.size else None,
        "eval_episodes": int(returns.size),
        "eval_returns": returns.tolist(),
        "wall_time_s": time.perf_counter() - start_time,
        "sps": train_sps,
        "num_envs": plan.num_envs,
        "device": str(plan.device),
        "env_kwargs": dict(plan.factory.kwargs),
        "hyperparameters": dataclasses.asdict(plan.config),
        "run_dir": str(plan.run_dir),
        "checkpoint": str(final_path),
        "videos": str(video_dir) if video_dir else None,
        "resumed_from": str(settings.resume) if settings.resume else None,
        "advrl_version": advrl.__version__,
    }
    write_json_atomic(plan.run_dir / "summary.json", summary)
    return summary
