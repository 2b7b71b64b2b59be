"""A training run as the command line describes it (``TrainSettings``), resolved and checked
into a ``Plan`` before anything is written: env, algorithm, presets and overrides, the run
dir, the checkpoint to resume, and the run's plug-ins."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from advrl.agents import AgentClass, check_spaces, get_algorithm
from advrl.agents.networks import splits_over_threads
from advrl.core.config import config_from_overrides
from advrl.core.device import resolve_device
from advrl.core.errors import UserError
from advrl.core.modules import is_vector_space
from advrl.core.runs import load_resume, new_run_dir, resumed_run_dir
from advrl.core.threads import ThreadPlan, plan_threads
from advrl.envs.make import EnvFactory, make_env, resolve_env
from advrl.plugins import PeriodicCheckpoints, Plugin, PluginRequest, assemble_plugins
from advrl.plugins.periodic_eval import PeriodicEvaluation
from advrl.presets import find_preset

DEFAULT_TOTAL_STEPS = 100_000
RUN_RECORD = "run"
"""The checkpoint key of a training run's record (``Plan.run_meta``)."""


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
    """Parallel envs; None takes the preset's."""
    device: str = "auto"
    run_dir: Path | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Env constructor arguments; strings are typed by the constructor's annotations."""
    hp: Mapping[str, Any] = field(default_factory=dict)
    """Hyperparameter overrides; strings are typed by the algorithm's config."""
    eval_episodes: int = 10
    eval_every: int | None = None
    """Evaluate greedily every this many env steps, keeping checkpoints/best.pt (None: at
    the end only)."""
    checkpoint_every: int = 0
    """Save a checkpoint every this many env steps (0: only at the end)."""
    resume: Path | None = None
    capture_video: bool = False
    reward: str = "env"
    """env (the env's own), gail (learned from --demos), or model:PATH (a frozen one)."""
    demos: Path | None = None
    """Expert demonstrations (record_demos.py) for reward=gail and pretrain=bc."""
    reward_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """GAIL options (advrl.plugins.gail.GAILConfig); strings are typed by it."""
    pretrain: str | None = None
    """bc: fit the policy to --demos by maximum likelihood before RL."""
    pretrain_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Behaviour cloning options (advrl.agents.bc.BCConfig)."""
    recipe_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """SeqGAN-v0's recipe options (advrl.plugins.seqgan_recipe.SeqGANRecipeConfig)."""
    vec: str = "auto"
    """Vector env kind: auto (native if the env has one, else sync), sync, async, native."""
    threads: int | None = None
    """torch's intra-op threads (None: from OMP_NUM_THREADS, else the work; advrl.core.threads)."""
    eval_epsilon: float | None = None
    """Chance of a random action in evaluation episodes (None: the preset's, 0.05 for DQN on
    Atari as the Nature paper evaluated, else 0)."""


@dataclass
class Plan:
    """Everything resolved and validated before anything is written."""

    algo_cls: AgentClass
    factory: EnvFactory
    config: Any
    total_steps: int
    num_envs: int
    seed: int
    device: torch.device
    run_dir: Path
    checkpoint: dict[str, Any] | None
    plugins: list[Plugin]
    run_meta: dict[str, Any]
    """The run as checkpoints record it (what ``--resume`` rebuilds it from)."""
    threads: ThreadPlan
    eval_epsilon: float


def _periodic_evaluation(
    settings: TrainSettings, every: int, plugins: Sequence[Plugin], env: str, epsilon: float
) -> PeriodicEvaluation:
    """``--eval-every``'s plug-in (``every`` env steps), after checking it can evaluate
    anything."""
    if every < 1:
        raise UserError(
            f"--eval-every must be at least 1 env step, got {every}; leave it "
            "out to evaluate only at the end"
        )
    if settings.eval_episodes < 1:
        raise UserError(
            f"--eval-every needs --eval-episodes of at least 1, got {settings.eval_episodes}"
        )
    if any(type(plugin).evaluate is not Plugin.evaluate for plugin in plugins):
        raise UserError(
            f"{env} is evaluated by its recipe's metrics, not greedy episodes; set how often "
            "with --recipe-kwargs eval_every=STEPS"
        )
    return PeriodicEvaluation(every, settings.eval_episodes, epsilon)


def plan_run(settings: TrainSettings, extra_plugins: Sequence[Plugin] = ()) -> Plan:
    """Resolve and check ``settings``; every user mistake is a UserError, raised here."""
    resume = settings.resume
    checkpoint: dict[str, Any] | None
    if not resume:
        checkpoint = None
        if settings.env is None or settings.algo is None:
            raise UserError("--env and --algo are required (or --resume a checkpoint)")
        env, algo, seed = settings.env, settings.algo, settings.seed
        hp = dict(settings.hp)
        preset = find_preset(algo, env, str(hp.pop("preset", "default")))
        hp_base, recorded, preset_recipe = preset.hp, None, preset.recipe_kwargs
        num_envs = preset.num_envs if settings.num_envs is None else settings.num_envs
        default_steps = preset.total_steps or DEFAULT_TOTAL_STEPS
        eval_epsilon = preset.eval_epsilon
        run_dir = new_run_dir(settings.run_dir, env, algo, seed)
        factory = resolve_env(env, settings.env_kwargs)
        # The preset's env options (typed already) go under the user's.
        factory = dataclasses.replace(factory, kwargs={**preset.env_kwargs, **factory.kwargs})
    else:
        checkpoint = load_resume(resume, RUN_RECORD, "train_agent.py")
        recorded = checkpoint[RUN_RECORD]
        for name in ("env", "algo"):
            given = getattr(settings, name)
            if given is not None and given != recorded[name]:
                raise UserError(
                    f"--{name} {given!r} differs from the checkpoint's {recorded[name]!r}; "
                    f"drop --{name} when resuming, or start a new run"
                )
        env, algo, seed = recorded["env"], recorded["algo"], recorded["seed"]
        num_envs, hp_base, hp = recorded["num_envs"], checkpoint["config"], dict(settings.hp)
        default_steps, preset_recipe = recorded["total_steps"], {}
        eval_epsilon = recorded.get("eval_epsilon", 0.0)
        run_dir = resumed_run_dir(settings.run_dir, recorded["run_dir"], resume)
        factory = resolve_env(env, {**recorded["env_kwargs"], **settings.env_kwargs})
    if num_envs < 1:
        raise UserError(
            f"--num-envs must be at least 1, got {num_envs}; leave it out for the preset's"
        )
    algo_cls = get_algorithm(algo)
    total_steps = default_steps if settings.total_steps is None else settings.total_steps
    request = PluginRequest.from_settings(settings, recorded, preset_recipe)
    probe = make_env(factory, training=False)
    try:
        check_spaces(algo_cls, probe.observation_space, probe.action_space, env)
        observation_space = probe.observation_space
        parallel_work = splits_over_threads(probe.observation_space)
        plugins, factory = assemble_plugins(request, probe.unwrapped, algo_cls, factory, env)
        if checkpoint is None:
            # Settings the env itself asks for (SeqGAN-v0's discount), over the preset.
            fields = {f.name for f in dataclasses.fields(algo_cls.Config)}
            recommended = getattr(probe.unwrapped, "recommended_hp", {})
            hp_base = {**hp_base, **{k: v for k, v in recommended.items() if k in fields}}
    finally:
        probe.close()
    config = config_from_overrides(algo_cls.Config, hp_base, hp, f"--algo {algo}")
    if getattr(config, "normalize_obs", False) and not is_vector_space(observation_space):
        raise UserError(
            f"normalize_obs standardises vector observations (a float Box), and {env}'s are "
            f"{observation_space}; drop --hp normalize_obs=true"
        )
    pretrains = request.pretrain is not None or request.resolved.get("recipe") is not None
    if total_steps < (0 if pretrains else 1):
        raise UserError(
            f"--total-steps must be positive, got {total_steps} (0 is allowed with --pretrain, "
            "or with an env's recipe: SeqGAN-v0's MLE alone)"
        )
    if settings.eval_episodes < 0 or settings.checkpoint_every < 0:
        raise UserError("--eval-episodes and --checkpoint-every must be >= 0")
    if settings.eval_epsilon is not None:
        eval_epsilon = settings.eval_epsilon
    if not 0.0 <= eval_epsilon <= 1.0:
        raise UserError(f"--eval-epsilon must lie in [0, 1], got {eval_epsilon}")
    threads = plan_threads(settings.threads, parallel_work, num_envs)
    if settings.checkpoint_every:
        plugins.append(PeriodicCheckpoints(settings.checkpoint_every))
    if settings.eval_every is not None:
        plugins.append(
            _periodic_evaluation(settings, settings.eval_every, plugins, env, eval_epsilon)
        )
    run_meta = {
        "env": env,
        "algo": algo_cls.name,
        "seed": seed,
        "num_envs": num_envs,
        "env_kwargs": dict(factory.kwargs),
        "run_dir": str(run_dir),
        "total_steps": total_steps,
        "eval_epsilon": eval_epsilon,
        **request.meta(),
    }
    return Plan(
        algo_cls,
        factory,
        config,
        total_steps,
        num_envs,
        seed,
        resolve_device(settings.device),
        run_dir,
        checkpoint,
        [*plugins, *extra_plugins],
        run_meta,
        threads,
        eval_epsilon,
    )
