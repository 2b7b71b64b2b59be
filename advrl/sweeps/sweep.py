"""Seeds and hyperparameter sweeps on Ray Tune: every trial is one ordinary ``advrl.train``
run (the same function ``train_agent.py`` calls, its own run dir and summary.json).

Ray Tune schedules the trials (a local Ray by default, a cluster by ``--address``); the
searchers are Tune's: its grid for ``grid``, and Optuna through ``OptunaSearch`` for
``random`` (Optuna's seeded random sampler) and ``optuna`` (TPE), wrapped in Tune's
``Repeater`` so each drawn configuration runs with every seed and the searcher learns from
their mean. ASHA (``--scheduler asha``) stops weak trials from the training returns each trial
reports while it learns. When the sweep ends, rliable ranks the configurations by the
interquartile mean over seeds (``advrl.sweeps.aggregate``) and matplotlib draws their curves.

Seeds: a configuration's seeds are ``seed, seed + 1, ..., seed + seeds - 1`` (``--seed``,
default 1), so the same sweep run twice trains the same seeds; the random and TPE searchers
are seeded with ``seed`` too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advrl.core.capabilities import env_capabilities
from advrl.core.checkpoint import write_json_atomic
from advrl.core.errors import UserError
from advrl.plan import TrainSettings, plan_run
from advrl.plugins import Plugin, Run
from advrl.sweeps.aggregate import (
    BOOTSTRAP_REPS,
    Aggregate,
    aggregate_scores,
    format_aggregate,
    iqm_band,
)
from advrl.sweeps.ray_processes import (
    RAY_PROCESSES_FILE,
    RayProcessRecorder,
    end_leftover_ray,
    exit_on_signals,
)

SEARCHES = ("grid", "random", "optuna")
SCHEDULERS = ("none", "asha")
RANDOM_FORMS = ("choice", "uniform", "loguniform", "randint")
FORMS = ("grid", *RANDOM_FORMS)
SPEC_HELP = (
    "a value, grid(a,b,...), choice(a,b,...), uniform(lo,hi), loguniform(lo,hi) or randint(lo,hi)"
)
DEFAULT_METRIC = "eval_return_mean"
ADDRESS_TIMEOUT_S = 30.0
PROGRESS_REPORTS = 50
"""Training-return reports per trial (what ASHA and the curves see)."""
SETTINGS_FILE = "sweep.json"
TUNE_NAME = "tune"
"""Ray Tune's experiment folder inside ``--out``."""


# --- search specs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One ``KEY=SPEC``: a plain value (``form == "value"``) or a search form and its items."""

    form: str
    items: tuple[str, ...]

    @property
    def swept(self) -> bool:
        return self.form != "value"

    def probe_values(self) -> list[str]:
        """Values that stand for the whole range when checking it against the config."""
        if self.form == "randint":
            return [self.items[0], str(int(self.items[1]) - 1)]
        return list(self.items)

    def domain(self) -> Any:
        """The Ray Tune search domain (grid search for ``grid``)."""
        from ray import tune

        if self.form == "grid":
            return tune.grid_search(list(self.items))
        if self.form == "choice":
            return tune.choice(list(self.items))
        low, high = float(self.items[0]), float(self.items[1])
        if self.form == "uniform":
            return tune.uniform(low, high)
        if self.form == "loguniform":
            return tune.loguniform(low, high)
        return tune.randint(int(low), int(high))


def split_items(text: str) -> list[str]:
    """Split at the commas outside brackets: ``[64,64],[128,128]`` is two items."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items


def parse_spec(flag: str, key: str, text: str) -> Spec:
    """``KEY=SPEC`` from the command line; a malformed SPEC is a UserError naming the fix."""
    where = f"{flag} {key}={text}"
    match = re.fullmatch(r"([A-Za-z_]\w*)\((.*)\)", text.strip(), re.S)
    if match is None:
        return Spec("value", (text,))
    form, items = match[1], split_items(match[2])
    if form not in FORMS:
        raise UserError(f"{where}: unknown SPEC form {form!r}; use {SPEC_HELP}")
    if any(not item for item in items):
        raise UserError(f"{where}: an empty item; write {form}(a,b,...)")
    if form in ("grid", "choice"):
        return Spec(form, tuple(items))
    if len(items) != 2:
        raise UserError(f"{where}: {form} takes two bounds, {form}(lo,hi)")
    try:
        low, high = (int(i) for i in items) if form == "randint" else (float(i) for i in items)
    except ValueError:
        kind = "integers" if form == "randint" else "numbers"
        raise UserError(f"{where}: the bounds must be {kind}") from None
    if not low < high:
        raise UserError(f"{where}: the lower bound must be below the upper one")
    if form == "loguniform" and low <= 0:
        raise UserError(f"{where}: loguniform needs bounds above 0")
    return Spec(form, tuple(items))


def parse_specs(assignments: Mapping[str, str], flag: str) -> dict[str, Spec]:
    return {key: parse_spec(flag, key, text) for key, text in assignments.items()}


# --- settings and their checks ----------------------------------------------------------


@dataclass
class SweepSettings:
    """Everything a sweep needs; saved as ``--out/sweep.json`` so ``--resume`` can go on."""

    env: str
    algo: str
    out: str
    hp: dict[str, str] = field(default_factory=dict)
    """KEY -> SPEC text for the algorithm's hyperparameters."""
    env_kwargs: dict[str, str] = field(default_factory=dict)
    """KEY -> SPEC text for the env's options."""
    recipe_kwargs: dict[str, str] = field(default_factory=dict)
    total_steps: int | None = None
    num_envs: int | None = None
    eval_episodes: int = 10
    vec: str = "auto"
    device: str = "auto"
    seeds: int = 1
    seed: int = 1
    samples: int = 10
    search: str = "grid"
    metric: str = DEFAULT_METRIC
    mode: str | None = None
    """``min`` or ``max``; None picks ``default_mode(metric)``."""
    scheduler: str = "none"
    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    num_cpus: int | None = None
    """The CPUs of the local Ray the sweep starts (None: all of this machine's); with
    ``cpus_per_trial`` it bounds the trials at once, and unlike ``max_concurrent`` (fixed in
    Tune's experiment) it may change when the sweep resumes: a machine shared for a while."""
    max_failures: int = 1
    checkpoint_every: int = 0
    """Each trial saves ``checkpoints/step_N.pt`` every this many env steps, and a trial cut
    off (its driver killed, a session over) resumes from its newest checkpoint when the
    sweep resumes; 0: no periodic checkpoints, and a cut-off trial starts over."""
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Named kinds of run, swept on a grid beside the seeds: each a set of ``TrainSettings``
    fields over the sweep's own (``VARIANT_FIELDS``: the reward, demonstrations,
    pre-training, ...), so one sweep compares methods, not only hyperparameters (the
    imitation benchmark's BC, GAIL and AIRL on the same seeds)."""

    @property
    def seed_list(self) -> list[int]:
        return [self.seed + i for i in range(self.seeds)]

    @property
    def resolved_mode(self) -> str:
        return self.mode or default_mode(self.metric)


VARIANT_FIELDS = (
    "algo",
    "seed",
    "total_steps",
    "reward",
    "demos",
    "reward_kwargs",
    "pretrain",
    "pretrain_kwargs",
    "hp",
    "env_kwargs",
    "recipe_kwargs",
)
"""The ``TrainSettings`` fields a variant may set; its ``hp``, ``env_kwargs`` and
``recipe_kwargs`` go over the sweep's, the others replace them. A variant that names its
``seed`` takes the place of the grid's seeds: the sweep then runs once per variant
(``--seeds 1``), and the variants alone are its grid."""


def default_mode(metric: str) -> str:
    """``min`` for losses, likelihoods and gaps (``nll_oracle``, ``frontier_gap``), else max."""
    lowered = metric.lower()
    return "min" if lowered.startswith(("nll", "loss")) or "gap" in lowered else "max"


def check_sweep(settings: SweepSettings) -> tuple[dict[str, Spec], dict[str, Spec]]:
    """Every check before a trial starts: the sweep's own options, each SPEC, and each swept
    value planned as ``train_agent.py`` would plan it (so a typo is caught here, not in
    trial 7). Returns the parsed ``(hp, env_kwargs)`` specs."""
    if settings.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {settings.seeds}")
    if settings.samples < 1:
        raise UserError(f"--samples must be at least 1, got {settings.samples}")
    if settings.search not in SEARCHES:
        raise UserError(f"--search must be one of {', '.join(SEARCHES)}, got {settings.search!r}")
    if settings.scheduler not in SCHEDULERS:
        raise UserError(f"--scheduler must be none or asha, got {settings.scheduler!r}")
    if settings.mode not in (None, "min", "max"):
        raise UserError(f"--mode must be min or max, got {settings.mode!r}")
    if settings.cpus_per_trial <= 0 or settings.gpus_per_trial < 0:
        raise UserError("--cpus-per-trial must be above 0 and --gpus-per-trial at least 0")
    if settings.max_failures < 0 or (settings.max_concurrent or 1) < 1:
        raise UserError("--max-failures must be >= 0 and --max-concurrent >= 1")
    if settings.num_cpus is not None and settings.num_cpus < 1:
        raise UserError(f"--num-cpus must be at least 1, got {settings.num_cpus}")
    if settings.num_cpus is not None and not is_local(settings.address):
        raise UserError(
            "--num-cpus sizes the local Ray; a cluster's CPUs are set where it starts "
            "(`ray start --num-cpus N`): leave one of --num-cpus and --address out"
        )
    if settings.scheduler == "asha" and env_capabilities(settings.env).learned_reward:
        raise UserError(
            f"--scheduler asha judges trials by their training return, which on {settings.env} "
            "is the discriminator's score, not the generator's quality; use --scheduler none"
        )
    hp = parse_specs(settings.hp, "--hp")
    env_kwargs = parse_specs(settings.env_kwargs, "--env-kwargs")
    for name, variant in settings.variants.items():
        unknown = sorted(set(variant) - set(VARIANT_FIELDS))
        if unknown:
            raise UserError(
                f"variant {name!r} sets {', '.join(unknown)}; a variant may set "
                f"{', '.join(VARIANT_FIELDS)}"
            )
    if settings.variants and settings.search != "grid":
        raise UserError("variants are swept on a grid; use --search grid")
    if variants_name_seeds(settings) and settings.seeds != 1:
        raise UserError(
            f"a variant names its own seed, so --seeds {settings.seeds} would run it "
            f"{settings.seeds} times on that one seed; use --seeds 1, or one variant per seed"
        )
    forms = {spec.form for spec in (*hp.values(), *env_kwargs.values())}
    if settings.search == "grid" and forms & set(RANDOM_FORMS):
        raise UserError(
            "--search grid takes values and grid(...) only; choice, uniform, loguniform and "
            "randint are drawn by --search random or --search optuna"
        )
    if settings.search != "grid" and "grid" in forms:
        raise UserError(
            f"grid(...) goes with --search grid; with --search {settings.search} write choice(...)"
        )
    if settings.search != "grid" and not forms & set(RANDOM_FORMS):
        raise UserError(
            f"--search {settings.search} has nothing to draw: give a SPEC such as "
            "--hp lr=loguniform(1e-4,1e-2), or use --search grid"
        )
    for hp_values, env_values in _probe_variants(hp, env_kwargs):
        names: list[str | None] = [*settings.variants] or [None]
        for variant_name in names:
            probe = _train_settings(
                settings, hp_values, env_values, settings.seed, _probe_dir(), variant_name
            )
            plan_run(probe)
    return hp, env_kwargs


def _probe_variants(
    hp: Mapping[str, Spec], env_kwargs: Mapping[str, Spec]
) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """The first value of every key, then each other value of one key at a time."""
    first_hp = {k: s.probe_values()[0] for k, s in hp.items()}
    first_env = {k: s.probe_values()[0] for k, s in env_kwargs.items()}
    yield first_hp, first_env
    for key, spec in hp.items():
        for value in spec.probe_values()[1:]:
            yield {**first_hp, key: value}, first_env
    for key, spec in env_kwargs.items():
        for value in spec.probe_values()[1:]:
            yield first_hp, {**first_env, key: value}


def _probe_dir() -> Path:
    return Path(tempfile.gettempdir()) / "advrl-sweep-probe-never-written"


def _train_settings(
    settings: SweepSettings,
    hp: Mapping[str, Any],
    env_kwargs: Mapping[str, Any],
    seed: int,
    run_dir: Path,
    variant: str | None = None,
) -> TrainSettings:
    """The ``train_agent.py`` settings of one trial (values as command-line strings), with
    the named ``variant``'s fields over the sweep's."""
    train_settings = TrainSettings(
        env=settings.env,
        algo=settings.algo,
        total_steps=settings.total_steps,
        seed=seed,
        num_envs=settings.num_envs,
        device=settings.device,
        run_dir=run_dir,
        env_kwargs={k: str(v) for k, v in env_kwargs.items()},
        hp={k: str(v) for k, v in hp.items()},
        eval_episodes=settings.eval_episodes,
        vec=settings.vec,
        recipe_kwargs=dict(settings.recipe_kwargs),
        threads=max(1, int(settings.cpus_per_trial)),  # Ray's allotment (advrl.core.threads)
        checkpoint_every=settings.checkpoint_every,
    )
    if variant is None:
        return train_settings
    fields: dict[str, Any] = dict(settings.variants[variant])
    for group in ("hp", "env_kwargs", "recipe_kwargs"):
        given = {k: str(v) for k, v in fields.pop(group, {}).items()}
        fields[group] = {**getattr(train_settings, group), **given}
    if fields.get("demos") is not None:
        fields["demos"] = Path(fields["demos"])
    return dataclasses.replace(train_settings, **fields)


# --- one trial --------------------------------------------------------------------------


class TuneProgress(Plugin):
    """Reports the running training return to Ray Tune about ``PROGRESS_REPORTS`` times a
    run: the points of the sweep's curves, and what ASHA judges trials by."""

    name = "tune_progress"

    def before_learn(self, run: Run) -> None:
        self.every = max(1, run.total_steps // PROGRESS_REPORTS)
        self.next_report = run.agent.global_step + self.every  # a resumed trial goes on

    def after_update(self, run: Run, step: int) -> None:
        if step < self.next_report or run.logger is None or not run.logger.recent_returns:
            return
        from ray import tune

        tune.report({"env_steps": step, "episodic_return": run.logger.mean_recent_return})
        self.next_report = step + self.every


def variants_name_seeds(settings: SweepSettings) -> bool:
    """Whether a variant names its own seed: then the seeds are not a grid axis of their
    own, and Ray's trial table (and config) shows none but the variants' names."""
    return any("seed" in variant for variant in settings.variants.values())


def trial_seed(settings: SweepSettings, config: Mapping[str, Any]) -> int:
    """A trial's seed: its variant's own, the grid's ``seed`` key, or the Repeater's index
    into the seed list."""
    variant = settings.variants.get(config.get("variant") or "", {})
    if "seed" in variant:
        return int(variant["seed"])
    if "seed" in config:
        return int(config["seed"])
    from ray.tune.search.repeater import TRIAL_INDEX

    return settings.seed_list[int(config.get(TRIAL_INDEX, 0))]


def run_trial(config: dict[str, Any], sweep: dict[str, Any]) -> None:
    """Ray Tune's trainable: one ``advrl.train`` run, reported to Tune as it learns and at
    its end with every number of its summary.json."""
    from ray import tune

    from advrl.train import train

    settings = SweepSettings(**sweep)
    hp_specs, env_specs = parse_specs(settings.hp, "--hp"), parse_specs(settings.env_kwargs, "")
    hp = {**_constants(hp_specs), **config.get("hp", {})}
    env_kwargs = {**_constants(env_specs), **config.get("env_kwargs", {})}
    seed = trial_seed(settings, config)
    run_dir = Path(settings.out) / "runs" / tune.get_context().get_trial_id()
    finished = run_dir / "summary.json"  # written atomically, once the run has ended
    if finished.exists():
        # It ended before the sweep stopped, but Tune's saved state had not recorded that
        # yet (Ctrl-C right after it): a resumed sweep reports it instead of training again.
        summary = json.loads(finished.read_text())
    else:
        trial_settings = _train_settings(
            settings, hp, env_kwargs, seed, run_dir, config.get("variant")
        )
        resume = resume_point(run_dir) if settings.checkpoint_every else None
        if resume is None:
            shutil.rmtree(run_dir, ignore_errors=True)  # a retried or cut-off trial starts afresh
        trial_settings = dataclasses.replace(trial_settings, resume=resume)
        summary = train(trial_settings, plugins=[TuneProgress()])
    numbers = {
        key: float(value)
        for key, value in summary.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    if settings.metric not in numbers:
        raise KeyError(
            f"summary.json has no number {settings.metric!r} to sweep on; it has: "
            f"{', '.join(sorted(numbers))}"
        )
    numbers["env_steps"] = float(summary["total_steps"])
    tune.report({**numbers, "finished": 1, "run_dir": str(run_dir)})


def resume_point(run_dir: Path) -> Path | None:
    """The checkpoint a cut-off trial goes on from: its ``final.pt`` (cut off while
    evaluating), else its newest ``step_N.pt``; None if it saved none."""
    checkpoints = run_dir / "checkpoints"
    if (checkpoints / "final.pt").exists():
        return checkpoints / "final.pt"
    steps = sorted(checkpoints.glob("step_*.pt"))  # step_<10 digits>.pt: by name is by step
    return steps[-1] if steps else None


def _constants(specs: Mapping[str, Spec]) -> dict[str, str]:
    return {key: spec.items[0] for key, spec in specs.items() if not spec.swept}


# --- the sweep --------------------------------------------------------------------------


def is_local(address: str | None) -> bool:
    """Whether ``address`` (``--address``) means a local Ray this process starts."""
    return not address or address == "local"


def connect(address: str | None, max_cpus: int | None = None) -> None:
    """Start a local Ray with this machine's cores, or join the cluster at ``address``
    (``auto``, ``host:port`` or ``ray://host:port``); a silent address is a UserError."""
    import ray

    quiet: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if address is None or is_local(address):
        ray.init(address="local", num_cpus=max_cpus or os.cpu_count(), **quiet)
        return
    if address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--address {address!r}: expected auto, host:port or ray://host:port")
        try:
            socket.create_connection((host, int(port)), timeout=ADDRESS_TIMEOUT_S).close()
        except OSError as exc:
            raise UserError(
                f"--address {address}: nothing answered at {host}:{port} within "
                f"{ADDRESS_TIMEOUT_S:.0f} s ({exc.strerror or exc}); start a head with "
                "`ray start --head`, or leave --address out for a local Ray"
            ) from None
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = ""
        if address != "auto" and "RAY_AUTH_MODE" not in os.environ:
            # Ray sends its token (~/.ray/auth_token) to an explicit address only when asked.
            hint = "; a cluster with Ray's token authentication needs RAY_AUTH_MODE=token"
        raise UserError(
            f"--address {address}: could not join a Ray cluster ({exc}){hint}; start one "
            "with `ray start --head`, or leave --address out for a local Ray"
        ) from None


def _tuner(settings: SweepSettings, hp: dict[str, Spec], env_kwargs: dict[str, Spec]) -> Any:
    """The Ray Tune experiment: trainable with its resources, search, scheduler, storage."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import Repeater
    from ray.tune.search.optuna import OptunaSearch

    swept = {
        group: {key: spec.domain() for key, spec in specs.items() if spec.swept}
        for group, specs in (("hp", hp), ("env_kwargs", env_kwargs))
    }
    param_space: dict[str, Any] = {k: v for k, v in swept.items() if v}
    mode = settings.resolved_mode
    if settings.variants:
        param_space = {"variant": tune.grid_search(list(settings.variants)), **param_space}
    if settings.search == "grid":
        if not variants_name_seeds(settings):
            param_space = {"seed": tune.grid_search(settings.seed_list), **param_space}
        search_alg, num_samples = None, 1
    else:
        import optuna

        sampler_cls: type[optuna.samplers.RandomSampler | optuna.samplers.TPESampler]
        sampler_cls = optuna.samplers.RandomSampler
        if settings.search == "optuna":
            sampler_cls = optuna.samplers.TPESampler
        searcher = OptunaSearch(
            metric=settings.metric, mode=mode, sampler=sampler_cls(seed=settings.seed)
        )
        search_alg = Repeater(searcher, repeat=settings.seeds)
        num_samples = settings.samples * settings.seeds
    scheduler = None
    if settings.scheduler == "asha":
        total_steps = _total_steps(settings)
        scheduler = ASHAScheduler(
            time_attr="env_steps",
            metric="episodic_return",
            mode="max",
            # One past the run's end: ASHA stops a trial whose report reaches max_t, which
            # would cut it off before its final report with the metric.
            max_t=total_steps + 1,
            grace_period=max(1, total_steps // 10),
            reduction_factor=2,
        )
    tune_config = tune.TuneConfig(
        search_alg=search_alg,
        scheduler=scheduler,
        num_samples=num_samples,
        max_concurrent_trials=settings.max_concurrent,
        reuse_actors=True,  # a trial reuses a finished one's worker: no fresh torch import
        trial_dirname_creator=lambda trial: trial.trial_id,
    )
    return tune.Tuner(
        _trainable(settings),
        param_space=param_space,
        tune_config=tune_config,
        run_config=_run_config(settings),
    )


def _trainable(settings: SweepSettings) -> Any:
    from ray import tune

    resources = {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial}
    trainable = tune.with_parameters(run_trial, sweep=dataclasses.asdict(settings))
    return tune.with_resources(trainable, resources)


def _run_config(settings: SweepSettings) -> Any:
    from ray import tune

    return tune.RunConfig(
        name=TUNE_NAME,
        storage_path=str(Path(settings.out).resolve()),
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
        verbose=1,
    )


def _total_steps(settings: SweepSettings) -> int:
    probe = _train_settings(
        settings, _constants(parse_specs(settings.hp, "--hp")), {}, 1, _probe_dir()
    )
    return plan_run(probe).total_steps


def run_sweep(settings: SweepSettings, resume: bool = False) -> dict[str, Any]:
    """Run (or, with ``resume``, continue) the sweep; write results.json, report.md and
    curves.png into ``settings.out`` and return results.json's content."""
    from ray import tune

    hp, env_kwargs = check_sweep(settings)
    out = Path(settings.out).resolve()
    settings.out = str(out)
    experiment = out / TUNE_NAME
    if resume and not tune.Tuner.can_restore(str(experiment)):
        raise UserError(f"--resume {out}: no sweep to resume there (no {experiment})")
    if not resume and (out / SETTINGS_FILE).exists():
        raise UserError(
            f"--out {out} already holds a sweep; --resume {out} to continue it, or pick "
            "another --out"
        )
    # Intermediate reports carry the training return only; the metric comes at the end.
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    import ray

    # A Ray this process already runs (a notebook's ray.init()) is used as it is, and kept.
    started = not ray.is_initialized()
    local = started and is_local(settings.address)
    if local:
        end_leftover_ray(out)  # what a killed driver of this sweep left (SIGKILL)
    recorder = None
    with exit_on_signals():  # a SIGTERM while Ray starts still ends what it started
        if started:
            connect(settings.address, settings.num_cpus)  # check_sweep: num_cpus is local
        out.mkdir(parents=True, exist_ok=True)  # only now: a bad --address writes nothing
        if local:
            recorder = RayProcessRecorder(out / RAY_PROCESSES_FILE)
        try:
            with exit_on_signals():  # again: ray.init sets a SIGTERM handler of its own
                grid_trials = _fit(settings, hp, env_kwargs, out, experiment, resume)
        finally:
            if recorder is not None:
                recorder.stop()
            if started:
                ray.shutdown()
            if recorder is not None:
                recorder.path.unlink(missing_ok=True)
    return write_outputs(settings, grid_trials)


def _fit(
    settings: SweepSettings,
    hp: dict[str, Spec],
    env_kwargs: dict[str, Spec],
    out: Path,
    experiment: Path,
    resume: bool,
) -> list[dict[str, Any]]:
    """Run the Tune experiment (new or restored) to its end; one record per trial."""
    from ray import tune

    write_json_atomic(out / SETTINGS_FILE, dataclasses.asdict(settings))
    if resume:
        tuner = tune.Tuner.restore(
            str(experiment),
            _trainable(settings),
            resume_unfinished=True,
            resume_errored=False,
            restart_errored=False,
        )
    else:
        tuner = _tuner(settings, hp, env_kwargs)
    grid = tuner.fit()
    # By index: ResultGrid iterates through __getitem__, which mypy does not count as __iter__.
    return [_trial_record(settings, grid[i]) for i in range(len(grid))]


def load_settings(out: Path) -> SweepSettings:
    """The settings a sweep in ``out`` was started with (for ``--resume``)."""
    path = Path(out) / SETTINGS_FILE
    if not path.exists():
        raise UserError(f"--resume {out}: no {SETTINGS_FILE} there; is it a sweep's --out?")
    return SweepSettings(**json.loads(path.read_text()))


def _trial_record(settings: SweepSettings, result: Any) -> dict[str, Any]:
    """One results.json entry from a Tune ``Result``."""
    config = result.config or {}
    metrics = result.metrics or {}
    trial_id = Path(result.path).name
    frame = result.metrics_dataframe
    curve: list[list[float]] = []
    if frame is not None and "episodic_return" in frame:
        rows = frame[["env_steps", "episodic_return"]].dropna()
        curve = [[float(s), float(r)] for s, r in rows.itertuples(index=False)]
    if metrics.get("finished"):
        status = "finished"
    elif result.error is not None:
        status = "failed"
    else:
        status = "stopped"  # by ASHA, or by an interruption not resumed yet
    error = None
    if result.error is not None:
        lines = [line for line in str(result.error).strip().splitlines() if line.strip()]
        error = lines[-1].strip() if lines else type(result.error).__name__
    value = metrics.get(settings.metric) if status == "finished" else None
    return {
        "trial_id": trial_id,
        "config": {k: config.get(k, {}) for k in ("hp", "env_kwargs")},
        "variant": config.get("variant"),
        "label": config_label(config),
        "seed": trial_seed(settings, config),
        "status": status,
        "metric": None if value is None else float(value),
        "env_steps": int(metrics.get("env_steps", curve[-1][0] if curve else 0)),
        "run_dir": str(Path(settings.out) / "runs" / trial_id),
        "error": error,
        "curve": curve,
    }


def config_label(config: Mapping[str, Any]) -> str:
    """``lr=0.01 gamma=0.9``: the swept values of a trial (seeds aside), after its variant's
    name if it has one."""
    parts = [f"{k}={v}" for group in ("hp", "env_kwargs") for k, v in config.get(group, {}).items()]
    if config.get("variant"):
        parts.insert(0, str(config["variant"]))
    return " ".join(parts) or "(as given)"


# --- results, report, curves ------------------------------------------------------------


def rank_configurations(
    settings: SweepSettings, trials: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each configuration's aggregate over its finished seeds, best first."""
    labels = list(dict.fromkeys(t["label"] for t in trials))
    scores = {
        label: [t["metric"] for t in trials if t["label"] == label and t["status"] == "finished"]
        for label in labels
    }
    aggregates: dict[str, Aggregate] = aggregate_scores(scores, seed=settings.seed)
    sign = -1.0 if settings.resolved_mode == "max" else 1.0
    ranked = sorted(aggregates, key=lambda label: sign * aggregates[label].iqm)
    rows = []
    for label in [*ranked, *(label for label in labels if label not in aggregates)]:
        group = [t for t in trials if t["label"] == label]
        row: dict[str, Any] = {
            "label": label,
            "config": group[0]["config"],
            "seeds": [t["seed"] for t in group],
            "finished": sum(t["status"] == "finished" for t in group),
            "stopped": sum(t["status"] == "stopped" for t in group),
            "failed": sum(t["status"] == "failed" for t in group),
        }
        if label in aggregates:
            row["rank"] = ranked.index(label) + 1
            row |= aggregates[label].as_dict()
        rows.append(row)
    return rows


def write_outputs(settings: SweepSettings, trials: list[dict[str, Any]]) -> dict[str, Any]:
    """results.json, report.md and curves.png in ``settings.out``."""
    out = Path(settings.out)
    configurations = rank_configurations(settings, trials)
    results = {
        "sweep": dataclasses.asdict(settings),
        "metric": settings.metric,
        "mode": settings.resolved_mode,
        "seeds": settings.seed_list,
        "trials": trials,
        "configurations": configurations,
    }
    write_json_atomic(out / "results.json", results)
    (out / "report.md").write_text(format_report(settings, trials, configurations))
    plot_curves(trials, configurations, out / "curves.png", seed=settings.seed)
    return results


def format_report(
    settings: SweepSettings, trials: Sequence[dict[str, Any]], configurations: Sequence[dict]
) -> str:
    """report.md: configurations ranked by IQM over seeds, then every trial that failed."""
    mode = settings.resolved_mode
    counts = {s: sum(t["status"] == s for t in trials) for s in ("finished", "stopped", "failed")}
    lines = [
        f"# Sweep: {settings.algo} on {settings.env}",
        "",
        f"Metric `{settings.metric}` ({'higher' if mode == 'max' else 'lower'} is better), "
        f"search `{settings.search}`, scheduler `{settings.scheduler}`, seeds "
        f"{settings.seed_list}. {len(trials)} trials: {counts['finished']} finished, "
        f"{counts['stopped']} stopped early, {counts['failed']} failed.",
        "",
        "Configurations ranked by the interquartile mean (IQM) of the metric over their "
        "finished seeds; the interval is rliable's 95% stratified bootstrap confidence "
        f"interval ({BOOTSTRAP_REPS:,} resamples, bootstrap seed {settings.seed}).",
        "",
        "| rank | configuration | finished seeds | IQM [95% CI] | mean | median |",
        "|---|---|---|---|---|---|",
    ]
    for row in configurations:
        if "iqm" not in row:
            continue
        low, high = row["iqm_ci95"]
        agg = Aggregate(row["runs"], row["iqm"], low, high, row["mean"], row["median"])
        lines.append(
            f"| {row['rank']} | `{row['label']}` | {row['finished']}/{len(row['seeds'])} | "
            f"{format_aggregate(agg, 3)} | {row['mean']:.3f} | {row['median']:.3f} |"
        )
    unfinished = [t for t in trials if t["status"] != "finished"]
    if unfinished:
        lines += [
            "",
            "## Trials that did not finish",
            "",
            "| trial | configuration | seed | status | env steps | error |",
            "|---|---|---|---|---|---|",
        ]
        for t in unfinished:
            error = (t["error"] or "").replace("|", "\\|")
            lines.append(
                f"| {t['trial_id']} | `{t['label']}` | {t['seed']} | {t['status']} | "
                f"{t['env_steps']:,} | {error} |"
            )
    return "\n".join(lines) + "\n"


def plot_curves(
    trials: Sequence[dict[str, Any]], configurations: Sequence[dict], path: Path, seed: int = 0
) -> None:
    """curves.png: each configuration's training return over env steps, the IQM over its
    finished seeds with a 95% bootstrap band; trials ASHA stopped as thin lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, row in enumerate(configurations):
        color = f"C{index % 10}"
        group = [t for t in trials if t["label"] == row["label"] and len(t["curve"]) > 1]
        finished = [np.asarray(t["curve"]) for t in group if t["status"] == "finished"]
        for t in group:
            if t["status"] != "finished":
                steps, returns = np.asarray(t["curve"]).T
                axes.plot(steps, returns, color=color, lw=0.6, alpha=0.5, ls=":")
        if not finished:
            continue
        start = max(c[0, 0] for c in finished)
        end = min(c[-1, 0] for c in finished)
        grid = np.linspace(start, end, 50) if end > start else np.array([end])
        curves = np.stack([np.interp(grid, c[:, 0], c[:, 1]) for c in finished])
        label = f"{row['label']} ({len(finished)} seeds)"
        if len(finished) > 1:
            iqm, low, high = iqm_band(curves, seed=seed)
            axes.fill_between(grid, low, high, color=color, alpha=0.2)
        else:
            iqm = curves[0]
        axes.plot(grid, iqm, color=color, label=label)
    axes.set_xlabel("env steps")
    axes.set_ylabel("training return (IQM over seeds, 95% CI)")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
