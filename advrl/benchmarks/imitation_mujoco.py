"""Imitation where the discriminator should win: BC, GAIL and AIRL on MuJoCo with few
demonstrations (``python scripts/benchmark.py --suite imitation-mujoco [--resume]``).

The protocol, fixed before any result was seen:

- **Experts**: PPO checkpoints committed as ``experts/ENV.pt`` (optimiser state stripped).
  ``expert_return`` is the greedy return over 10 episodes, ``random_return`` that of uniform
  random actions over 10 episodes (both from seed 10,000).
- **Demonstrations**: 50 greedy expert episodes (seed 0); for N in ``DEMOS[env]``, N of them
  drawn without replacement and every 20th step kept from a random offset (both seeded 0),
  as Ho & Ermon (2016) subsampled: ``demos_ENV_N.npz``.
- **The learner** of each env is the PPO that trained its expert, chosen on the RL task
  alone (``LEARNERS``). Hopper-v5: CleanRL's ``ppo_continuous_action`` settings
  (``CLEANRL_PPO``), which on Hopper's own reward reached 3,000+ by 1.5M steps where
  rl-baselines3-zoo's tuned preset reached 711 at 1M on the same seed; its expert is that
  PPO (seed 1, the best of its evaluations every 100k of 2M steps). HalfCheetah-v5: the
  zoo preset (the env's preset in ``advrl.presets``), whose seed-1 run is the expert (1M
  steps, its final evaluation its best: 5,842 ± 41).
- **Methods**, each with that learner and ``STEPS`` env steps:
  ``bc`` (``--pretrain bc --total-steps 0``), ``gail``, ``airl``, ``bc_gail`` (BC, then
  GAIL), with the reward's default options (AIRL's agent reward -log(1 - D), chosen on a
  development seed, 11, where the logit taught the agent to fall: ``AIRLConfig.reward``);
  ``airl_transfer`` trains a fresh PPO for half as many steps on the frozen reward g of each
  headline AIRL run (``--reward model:PATH``, read as softplus(g)), from its committed copy
  ``checkpoints/airl_sSEED_reward.pt``; ``airl_transfer_floor`` the same with g read above
  its floor (``reward=above_floor``, ``advrl.gan.airl.AboveFloor``), added when softplus(g)
  taught the fresh agent nothing; ``airl_transfer_rank`` with g read as its rank among the
  demonstrations' states (``reward=expert_rank``, ``advrl.gan.airl.ExpertRank``), added when
  the floor taught it to stand, and chosen on the development seed's reward alone.
- **Score**: each run's greedy true return over 10 episodes (``advrl.train``'s evaluation,
  seed + 10,000), normalised so that the random policy is 0 and the expert 1; per (method,
  demonstrations) the IQM with rliable's 95% bootstrap interval over seeds.
- **Runs** go through the sweep machinery (``advrl.sweeps``) on Ray Tune, one sweep per
  stage (``STAGES``: env, demonstrations, seeds), 1 CPU a trial, two at a time; a stage's
  results join ``results.json`` as soon as it ends. results.json is the ledger: a stage
  runs only the (method, seed) pairs it does not hold yet, so the suite resumes on a fresh
  clone, where the sweeps' folders are gone. Within one machine a stopped sweep also
  resumes, and a trial it cut off goes on from its newest checkpoint (every
  ``CHECKPOINT_EVERY`` steps; the run's ``resumed_from`` says so), not from step 0.
- **The reference**: the imitation library's GAIL and AIRL on the same demonstrations, steps
  and seeds (``REFERENCE``), by ``imitation_library_mujoco.py`` in the library's own venv
  (``--reference-python``), two at a time, each finished run kept in
  ``imitation_library.jsonl`` so that a stopped reference resumes.
- **Side by side** (``--side-by-side``): wall times of ours and the library's compare only
  when the runs share a machine and its load, so GAIL and AIRL of both run in pairs started
  together, one core each, on ``REFERENCE``'s seeds with ``SIDE_BY_SIDE_STEPS`` steps each;
  each pair is kept in ``side_by_side.jsonl``, and results.json's ``side_by_side`` holds
  the ratios (ours over the library's) and their median per method and budget.

Files in ``benchmarks/imitation_mujoco/``: ``results.json`` (shaped ``{"envs": {ENV:
{"expert_return", "random_return", "runs": [{"method", "demos", "seed", "return",
"env_steps", "wall_s", "checkpoint"}]}}}``, plus ``normalised`` and ``aggregates``;
``checkpoint`` is relative to the suite's folder), the
demonstration files, ``checkpoints/`` (every Hopper-v5 run on 4 trajectories, for
re-evaluation), ``normalised_return.png`` and ``curves.png``. Sweeps and their run folders
live under ``runs/imitation_mujoco/`` (ignored by git).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advrl.benchmarks import REPO, RESULTS, append_journal, read_journal
from advrl.core.checkpoint import load_checkpoint, save_checkpoint, write_json_atomic
from advrl.core.demos import save_demos, subsample_demos
from advrl.envs.make import make_env, resolve_env
from advrl.evaluation import evaluate, load_agent, record_demos
from advrl.gan.airl import EXPERT_READINGS
from advrl.sweeps.aggregate import aggregate_scores, iqm_band
from advrl.sweeps.sweep import SweepSettings, load_settings, run_sweep

SUITE = RESULTS / "imitation_mujoco"
SWEEPS = REPO / "runs" / "imitation_mujoco"
STEPS = 2_000_000
CHECKPOINT_EVERY = 100_000
"""Each trial saves a checkpoint this often, so a stage stopped when a session ends loses
at most this many steps of each running trial (``SweepSettings.checkpoint_every``)."""
TRANSFER_FRACTION = 0.5
"""A transferred reward trains its fresh PPO for half the methods' steps (1M of 2M)."""
POOL_EPISODES = 50
EVERY = 20
"""Keep every 20th demonstration step (Ho & Ermon 2016)."""
EVAL_SEED = 10_000
DEMOS = {"Hopper-v5": (4, 16), "HalfCheetah-v5": (4,)}
HEADLINE = ("Hopper-v5", 4)
"""The (env, demonstrations) whose every final checkpoint is committed."""
METHODS = ("bc", "gail", "airl", "bc_gail")
TRANSFERS: dict[str, dict[str, Any]] = {
    "airl_transfer": {},
    "airl_transfer_floor": {"reward_kwargs": {"reward": "above_floor"}},
    "airl_transfer_rank": {"reward_kwargs": {"reward": "expert_rank"}},
}
"""The reward-transfer methods: a fresh PPO on a headline AIRL run's frozen g, read as
softplus(g) (the protocol's reading, as the agent read its logit), above its floor, or as
its rank among the demonstrations' states (which then go with the run, ``--demos``)."""
METHOD_ORDER = {m: i for i, m in enumerate((*METHODS, *TRANSFERS))}
"""The order of runs in results.json."""
AIRL_OPTIONS = {"reward": "neg_log_one_minus_d", "state_only": "true"}
"""AIRL's options, written out so that the sweep records them (they are the defaults)."""
REFERENCE = (("Hopper-v5", 4, (1, 2, 3)),)
"""(env, demonstrations, seeds) the imitation library's GAIL and AIRL run on."""
REFERENCE_SCRIPT = Path(__file__).with_name("imitation_library_mujoco.py")
REFERENCE_ROUND = 2048
"""The library trains in whole rounds of one 2,048-step rollout each."""
SIDE_BY_SIDE_STEPS = 500_000
"""The budget of each side-by-side pair (``run_side_by_side``): a quarter of the protocol's,
enough for both sides to settle to their steady rate, so three seeds of GAIL and AIRL fit in
about an hour."""
CLEANRL_PPO = {
    "lr": "3e-4",
    "anneal_lr": "true",
    "n_steps": "2048",
    "batch_size": "64",
    "n_epochs": "10",
    "gamma": "0.99",
    "gae_lambda": "0.95",
    "clip_coef": "0.2",
    "entropy_coef": "0",
    "value_coef": "0.5",
    "max_grad_norm": "0.5",
    "hidden_sizes": "[64,64]",
    "activation": "tanh",
    "ortho_init": "true",
    "log_std_init": "0",
    "normalize_obs": "true",
    "normalize_reward": "true",
}
"""CleanRL's ppo_continuous_action.py (Huang et al. 2022) in advrl's names."""
LEARNERS: dict[str, dict[str, str]] = {"Hopper-v5": CLEANRL_PPO, "HalfCheetah-v5": {}}
"""Each env's learner: ``--hp`` over its preset (none: the preset itself)."""


@dataclass(frozen=True)
class Stage:
    """One sweep of the suite: every method of ``METHODS`` on ``env`` with ``demos``
    trajectories, for each of ``seeds``; or, with ``transfer``, PPO on the AIRL rewards
    of those seeds."""

    env: str
    demos: int
    seeds: tuple[int, ...]
    transfer: bool = False

    @property
    def name(self) -> str:
        kind = "transfer" if self.transfer else "methods"
        return f"{self.env}_{self.demos}_{kind}_s{self.seeds[0]}-{self.seeds[-1]}"


STAGES: tuple[Stage, ...] = (
    Stage("Hopper-v5", 4, (1, 2, 3)),
    Stage("Hopper-v5", 4, (1, 2, 3), transfer=True),
    Stage("Hopper-v5", 16, (1, 2, 3)),
    Stage("Hopper-v5", 4, (4, 5)),
    Stage("Hopper-v5", 4, (4, 5), transfer=True),
    Stage("Hopper-v5", 16, (4, 5)),
    Stage("HalfCheetah-v5", 4, (1, 2, 3)),
)
"""In the order they run: the headline and its reward transfer first, then more
demonstrations and seeds, then HalfCheetah."""
RUNS_AT_ONCE = 2
"""The protocol's runs at a time, one per core of the 2-core machine it was fixed on: every
wall time it reports is a run's with one other beside it. ``cpus=1`` runs them one at a time
while a core serves another job, which keeps that load."""
LONGEST_FIRST = ("airl", "bc_gail", "gail", "bc")
"""The order a stage starts its runs in, so that the short ones fill the end."""


def expert_path(env: str, suite: Path = SUITE) -> Path:
    return suite / "experts" / f"{env}.pt"


def demos_path(env: str, count: int, suite: Path = SUITE) -> Path:
    return suite / f"demos_{env}_{count}.npz"


def reward_model_path(seed: int, suite: Path = SUITE) -> Path:
    """The committed copy of the headline AIRL run's learned reward that its transfer run
    trains on (a fresh clone has no sweep folders, so the transfer reads this copy)."""
    return suite / "checkpoints" / f"airl_s{seed}_reward.pt"


def evaluation_copy(checkpoint: Path, destination: Path) -> Path:
    """A checkpoint without its optimiser, RNG and plug-in states: what ``evaluate.py`` and
    ``record_demos.py`` need, at a third of the size."""
    payload = load_checkpoint(checkpoint)
    payload["agent"] = {k: v for k, v in payload["agent"].items() if k != "optimizer"}
    for key in ("rng", "plugins"):
        payload.pop(key, None)
    payload.pop("format_version", None)
    return save_checkpoint(destination, payload)


def random_return(env: str, episodes: int = 10, seed: int = EVAL_SEED) -> float:
    """Mean return of uniformly random actions."""
    environment = make_env(resolve_env(env), training=False)
    environment.action_space.seed(seed)
    returns = []
    try:
        for episode in range(episodes):
            environment.reset(seed=seed if episode == 0 else None)
            total, done = 0.0, False
            while not done:
                _, reward, terminated, truncated, _ = environment.step(
                    environment.action_space.sample()
                )
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        environment.close()
    return float(np.mean(returns))


def prepare(env: str, suite: Path = SUITE, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The expert's and random policy's returns, and the demonstration files (kept if they
    exist, so a resumed suite trains on the same ones)."""
    info_path = suite / f"expert_{env}.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
    else:
        agent, factory, _ = load_agent(expert_path(env, suite), "cpu")
        expert = evaluate(agent, factory, 10, seed=EVAL_SEED)
        info = {
            "expert_return": float(expert.mean()),
            "expert_return_std": float(expert.std()),
            "random_return": random_return(env),
        }
        write_json_atomic(info_path, info)
    for count in DEMOS[env]:
        path = demos_path(env, count, suite)
        if path.exists():
            continue
        agent, factory, _ = load_agent(expert_path(env, suite), "cpu")
        pool = record_demos(agent, factory, POOL_EPISODES, seed=0)
        save_demos(path, subsample_demos(pool, count, seed=0, every=EVERY))
        log(f"{env}: {count} demonstrations, every {EVERY}th step -> {path}")
    return info


def stage_variants(
    stage: Stage, suite: Path, sweeps: Path, total_steps: int
) -> dict[str, dict[str, Any]]:
    """The runs a stage still owes, as sweep variants named ``METHOD_sSEED``: each of its
    (method, seed) pairs not yet in results.json or a sweep folder; for a headline AIRL
    run, also one whose learned reward was not committed (its transfer needs it). A
    transfer stage owes one run per seed whose AIRL reward is committed."""
    done = {(run["method"], run["seed"]) for run in finished_runs(suite, sweeps, stage)}
    variants: dict[str, dict[str, Any]] = {}
    demos = str(demos_path(stage.env, stage.demos, suite))
    if stage.transfer:
        for method, options in TRANSFERS.items():
            ranks_demos = options.get("reward_kwargs", {}).get("reward") in EXPERT_READINGS
            for seed in stage.seeds:
                model = reward_model_path(seed, suite)
                if (method, seed) not in done and model.exists():
                    variants[f"{method}_s{seed}"] = {
                        "reward": f"model:{model}",
                        **options,
                        **({"demos": demos} if ranks_demos else {}),
                        "seed": seed,
                        "total_steps": int(total_steps * TRANSFER_FRACTION),
                    }
        return variants
    fields: dict[str, dict[str, Any]] = {
        "bc": {"pretrain": "bc", "demos": demos, "total_steps": 0},
        "gail": {"reward": "gail", "demos": demos},
        "airl": {"reward": "airl", "demos": demos, "reward_kwargs": AIRL_OPTIONS},
        "bc_gail": {"pretrain": "bc", "reward": "gail", "demos": demos},
    }
    keeps_reward = (stage.env, stage.demos) == HEADLINE
    for method in LONGEST_FIRST:
        for seed in stage.seeds:
            lost = method == "airl" and keeps_reward and not reward_model_path(seed, suite).exists()
            if (method, seed) not in done or lost:
                variants[f"{method}_s{seed}"] = {**fields[method], "seed": seed}
    return variants


def finished_runs(suite: Path, sweeps: Path, stage: Stage) -> list[dict[str, Any]]:
    """The stage's runs finished so far: committed in results.json, or in its sweeps."""
    return [
        run
        for run in merged_runs(suite, sweeps, stage.env, stage.demos)
        if run["seed"] in stage.seeds and (run["method"] in TRANSFERS) == stage.transfer
    ]


def run_stage(
    stage: Stage,
    suite: Path = SUITE,
    sweeps: Path = SWEEPS,
    total_steps: int = STEPS,
    learner_hp: dict[str, str] | None = None,
    cpus: int = RUNS_AT_ONCE,
) -> dict[str, Any] | None:
    """Run (or resume, or skip if finished) one stage's sweep on ``cpus`` CPUs, one run
    each and at most ``RUNS_AT_ONCE`` at a time; its results.json.

    A stage whose sweep finished but that owes runs added since (a new method) runs them
    in a sweep of its own, in the next folder: ``NAME``, ``NAME_2``, ``NAME_3``, ...; only
    the last of them is ever resumed."""
    out, folders = sweeps / stage.name, 1
    while sweep_finished(out) or (sweeps / f"{stage.name}_{folders + 1}").exists():
        folders += 1  # this one ran to its end, or a later sweep took over from it
        out = sweeps / f"{stage.name}_{folders}"
    if (out / "sweep.json").exists():
        return run_sweep(dataclasses.replace(load_settings(out), num_cpus=cpus), resume=True)
    variants = stage_variants(stage, suite, sweeps, total_steps)
    if not variants:
        return None  # all done (committed), or a transfer stage before its AIRL runs
    settings = SweepSettings(
        env=stage.env,
        algo="ppo",
        out=str(out),
        total_steps=total_steps,
        hp=dict(LEARNERS[stage.env] if learner_hp is None else learner_hp),
        eval_episodes=10,
        seeds=1,  # each variant names its seed
        seed=stage.seeds[0],
        cpus_per_trial=1.0,
        max_concurrent=RUNS_AT_ONCE,
        num_cpus=cpus,
        checkpoint_every=CHECKPOINT_EVERY,
        variants=variants,
    )
    return run_sweep(settings)


def sweep_finished(out: Path) -> bool:
    """Whether the sweep in ``out`` ran to its end. run_sweep writes results.json when an
    interruption (Ctrl-C, SIGTERM) cuts it off too, with the cut-off trials ``stopped``;
    the stages run without an early-stopping scheduler, so a stopped trial means the sweep
    is to be resumed from its checkpoints, not started afresh in the next folder."""
    path = out / "results.json"
    if not path.exists():
        return False
    trials = json.loads(path.read_text()).get("trials", [])
    return all(trial["status"] != "stopped" for trial in trials)


def collect_runs(sweeps: Path, env: str, demos: int) -> list[dict[str, Any]]:
    """Every finished run of ``env`` with ``demos`` trajectories in the stages' sweeps, read
    from the trials themselves (Tune's ``params.json`` and reports, and each run's
    summary.json), so a stage still running contributes the runs it has finished."""
    runs = []
    for params_path in sorted(sweeps.glob(f"{env}_{demos}_*/tune/*/params.json")):
        trial_dir = params_path.parent
        run_dir = trial_dir.parent.parent / "runs" / trial_dir.name
        if not (run_dir / "summary.json").exists():
            continue  # not finished (yet)
        summary = json.loads((run_dir / "summary.json").read_text())
        variant = json.loads(params_path.read_text())["variant"]
        method = re.sub(r"_s\d+$", "", variant)  # METHOD_sSEED (or METHOD)
        resumed = summary.get("resumed_from")  # the checkpoint a cut-off trial went on from
        runs.append(
            {
                "method": method,
                "demos": demos,
                "seed": summary["seed"],
                "return": summary["eval_return_mean"],
                "env_steps": summary["total_steps"],
                "wall_s": summary["wall_time_s"],
                "checkpoint": summary["checkpoint"],
                "resumed_from": Path(resumed).name if resumed else None,
                "run_dir": str(run_dir),
                "curve": _reported_curve(trial_dir / "result.json"),
            }
        )
    return runs


def committed_runs(suite: Path, env: str, demos: int) -> list[dict[str, Any]]:
    """The runs of ``env`` with ``demos`` trajectories already in the suite's results.json,
    with their curves: what a fresh clone resumes from, since sweep folders are not
    committed. The imitation library's runs come from their journal instead."""
    path = suite / "results.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())["envs"].get(env)
    curves_path = suite / f"curves_{env}.json"
    curves = json.loads(curves_path.read_text()) if curves_path.exists() else {}
    runs = []
    for run in data["runs"] if data else []:
        if run["demos"] != demos or "reference" in run:
            continue
        name = f"{run['method']} {run['demos']} seed {run['seed']}"
        kept = {k: v for k, v in run.items() if k != "normalised"}
        runs.append(kept | {"run_dir": None, "curve": curves.get(name, [])})
    return runs


def merged_runs(suite: Path, sweeps: Path, env: str, demos: int) -> list[dict[str, Any]]:
    """Every finished run of ``env`` with ``demos`` trajectories, one per (method, seed):
    the committed ones, replaced by a sweep's where a run was done again."""
    runs = {(r["method"], r["seed"]): r for r in committed_runs(suite, env, demos)}
    for run in collect_runs(sweeps, env, demos):
        runs[(run["method"], run["seed"])] = run
    return sorted(runs.values(), key=lambda r: (METHOD_ORDER[r["method"]], r["seed"]))


def _reported_curve(results: Path) -> list[list[float]]:
    """(env step, mean recent true return) of a trial's progress reports to Ray Tune.

    Tune starts a resumed trial's result.json afresh, so the reports from before a cut-off
    are read back from its TensorBoard files in the trial's folder (float32 there), up to
    the first step result.json holds."""
    curve = []
    if results.exists():
        for line in results.read_text().splitlines():
            report = json.loads(line)
            if "episodic_return" in report and "finished" not in report:
                curve.append([float(report["env_steps"]), float(report["episodic_return"])])
    first = curve[0][0] if curve else float("inf")
    earlier = [point for point in _tensorboard_reports(results.parent) if point[0] < first]
    return sorted({step: [step, value] for step, value in earlier}.values()) + curve


def _tensorboard_reports(trial_dir: Path) -> list[list[float]]:
    """(env step, episodic return) of every report in the trial's Tune TensorBoard files,
    one file per time the trial ran, each indexed by its own training iterations."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    points = []
    for path in sorted(trial_dir.glob("events.out.tfevents.*")):
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        tags = events.Tags()["scalars"]
        if "ray/tune/env_steps" not in tags or "ray/tune/episodic_return" not in tags:
            continue
        steps = {e.step: e.value for e in events.Scalars("ray/tune/env_steps")}
        for event in events.Scalars("ray/tune/episodic_return"):
            if event.step in steps:
                points.append([float(steps[event.step]), float(event.value)])
    return points


def run_reference(
    python: str,
    suite: Path = SUITE,
    total_steps: int = STEPS,
    log: Callable[[str], None] = print,
    cpus: int = RUNS_AT_ONCE,
) -> list[dict[str, Any]]:
    """The imitation library's GAIL and AIRL (``REFERENCE``) through ``python`` (its venv's
    interpreter), ``min(cpus, RUNS_AT_ONCE)`` at a time; runs already in
    ``imitation_library.jsonl`` are kept."""
    journal = suite / "imitation_library.jsonl"
    done = read_reference(suite)
    jobs = [
        (env, count, method, seed)
        for env, count, seeds in REFERENCE
        for seed in seeds
        for method in ("gail", "airl")
        if not any(
            (r["env"], r["demos"], r["method"], r["seed"])
            == (env, count, f"imitation_{method}", seed)
            and reference_finished(r, total_steps)
            for r in done
        )
    ]

    def run(job: tuple[str, int, str, int]) -> dict[str, Any]:
        env, count, method, seed = job
        argv = library_argv(python, env, count, method, seed, total_steps, suite)
        result = subprocess.run(argv, capture_output=True, text=True, check=True)
        return library_result(result.stdout)

    finished = []
    with ThreadPoolExecutor(max_workers=min(cpus, RUNS_AT_ONCE)) as pool:
        # Journal each run as it finishes (not in job order), so a session that ends while
        # one run is still going keeps the other.
        for future in as_completed([pool.submit(run, job) for job in jobs]):
            entry = future.result()
            append_journal(journal, entry)
            log(f"reference {entry['method']} seed {entry['seed']}: {entry['return']:.1f}")
            finished.append(entry)
    return finished


def reference_finished(entry: dict[str, Any], total_steps: int) -> bool:
    """Whether a library run had the budget: all of it, or all but the last, partial round
    (its first runs trained the whole rounds below the budget: 976 rounds, 1,998,848 of 2M
    steps; it now rounds up, to 2,000,896 like advrl's)."""
    return entry["env_steps"] > total_steps - REFERENCE_ROUND


def read_reference(suite: Path = SUITE) -> list[dict[str, Any]]:
    """The imitation library's finished runs (``imitation_library.jsonl``)."""
    return read_journal(suite / "imitation_library.jsonl")


def library_argv(
    python: str, env: str, count: int, method: str, seed: int, total_steps: int, suite: Path
) -> list[str]:
    """The imitation library's run of a (method, seed) through its venv's ``python``."""
    demos = str(demos_path(env, count, suite))
    name = env.removesuffix("-v5")  # the script picks the library's gymnasium version of it
    return [python, str(REFERENCE_SCRIPT), demos, name, method, str(total_steps), str(seed)]


def library_result(stdout: str) -> dict[str, Any]:
    """The JSON line the library's script prints last."""
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def side_by_side_argv(
    env: str,
    count: int,
    method: str,
    seed: int,
    total_steps: int,
    run_dir: Path,
    suite: Path = SUITE,
    learner_hp: dict[str, str] | None = None,
) -> list[str]:
    """Our GAIL or AIRL run of a stage as a user runs it, ``train_agent.py`` with the stage's
    learner and reward options, on one torch thread as each trial has."""
    hp = LEARNERS[env] if learner_hp is None else learner_hp
    argv = [
        sys.executable, str(REPO / "scripts" / "train_agent.py"), "--env", env, "--algo", "ppo",
        "--seed", str(seed), "--total-steps", str(total_steps), "--reward", method,
        "--demos", str(demos_path(env, count, suite)), "--eval-episodes", "10",
        "--threads", "1", "--run-dir", str(run_dir),
    ]  # fmt: skip
    if hp:
        argv += ["--hp", *(f"{key}={value}" for key, value in hp.items())]
    if method == "airl":
        argv += ["--reward-kwargs", *(f"{key}={value}" for key, value in AIRL_OPTIONS.items())]
    return argv


def _timed(argv: list[str]) -> tuple[float, str]:
    """A command's wall time, start to exit (imports and the final evaluation included), and
    its standard output; a failure raises with the end of its standard error."""
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} ... failed:\n{result.stderr[-2000:]}")
    return wall, result.stdout


def run_side_by_side(
    python: str,
    suite: Path = SUITE,
    sweeps: Path = SWEEPS,
    total_steps: int = SIDE_BY_SIDE_STEPS,
    log: Callable[[str], None] = print,
    learner_hp: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Ours and the imitation library's GAIL and AIRL on the same work at the same time, one
    core each: ``REFERENCE``'s env, demonstrations and seeds, ``total_steps`` each.

    The protocol's wall times come from different sessions, and a session's machine may be
    faster or slower than another's; two runs started together on one machine share its
    speed and its load, so their ratio is the fair reading. Each side is timed from start
    to exit by this process. Each pair is journaled in ``side_by_side.jsonl`` as it ends,
    so a stopped comparison resumes at the next pair."""
    journal = suite / "side_by_side.jsonl"
    done = {
        (e["env"], e["demos"], e["method"], e["seed"], e["steps"]) for e in read_side_by_side(suite)
    }
    pairs = []
    for env, count, seeds in REFERENCE:
        for seed in seeds:  # seed by seed, so a comparison stopped early has both methods
            for method in ("gail", "airl"):
                if (env, count, method, seed, total_steps) in done:
                    continue
                run_dir = sweeps / "side_by_side" / f"{env}_{count}_{method}_s{seed}"
                shutil.rmtree(run_dir, ignore_errors=True)
                ours = side_by_side_argv(
                    env, count, method, seed, total_steps, run_dir, suite, learner_hp
                )
                library = library_argv(python, env, count, method, seed, total_steps, suite)
                with ThreadPoolExecutor(max_workers=2) as pool:
                    ours_run, library_run = pool.submit(_timed, ours), pool.submit(_timed, library)
                    (ours_wall, _), (library_wall, output) = ours_run.result(), library_run.result()
                summary = json.loads((run_dir / "summary.json").read_text())
                reference = library_result(output)
                entry = {
                    "env": env, "demos": count, "method": method, "seed": seed,
                    "steps": total_steps,
                    "advrl": {"wall_s": ours_wall, "return": summary["eval_return_mean"],
                              "env_steps": summary["total_steps"]},
                    "library": {"wall_s": library_wall, "return": reference["return"],
                                "env_steps": reference["env_steps"],
                                "env_id_run": reference["env_id_run"]},
                    "ratio": ours_wall / library_wall,
                }  # fmt: skip
                append_journal(journal, entry)
                log(
                    f"side by side {method} seed {seed}: advrl {ours_wall:.0f} s, the library "
                    f"{library_wall:.0f} s ({entry['ratio']:.2f}x)"
                )
                pairs.append(entry)
    return pairs


def read_side_by_side(suite: Path = SUITE) -> list[dict[str, Any]]:
    """The side-by-side pairs finished so far (``side_by_side.jsonl``)."""
    return read_journal(suite / "side_by_side.jsonl")


def side_by_side_summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method and budget (``"gail 500000"``), the pairs' wall-time ratios (advrl's over
    the library's) and their median."""
    summary: dict[str, Any] = {}
    for pair in pairs:
        entry = summary.setdefault(f"{pair['method']} {pair['steps']}", {"seeds": [], "ratios": []})
        entry["seeds"].append(pair["seed"])
        entry["ratios"].append(pair["ratio"])
    for entry in summary.values():
        entry["median_ratio"] = float(np.median(entry["ratios"]))
    return summary


def normalised(value: float, info: dict[str, Any]) -> float:
    """0 for the random policy, 1 for the expert."""
    return (value - info["random_return"]) / (info["expert_return"] - info["random_return"])


def write_results(
    suite: Path = SUITE, sweeps: Path = SWEEPS, total_steps: int = STEPS
) -> dict[str, Any]:
    """Collate every finished run into results.json, copy the headline's checkpoints, and
    draw the figures."""
    envs: dict[str, Any] = {}
    for env, counts in DEMOS.items():
        info_path = suite / f"expert_{env}.json"
        if not info_path.exists():
            continue
        info = json.loads(info_path.read_text())
        runs = [run for count in counts for run in merged_runs(suite, sweeps, env, count)]
        for entry in read_reference(suite):
            if entry["env"] == env and reference_finished(entry, total_steps):
                runs.append(
                    {key: entry[key] for key in ("method", "demos", "seed", "return")}
                    | {"env_steps": entry["env_steps"], "wall_s": entry["wall_s"]}
                    | {"curve": entry.get("curve", [])}
                    | {"checkpoint": None, "run_dir": None, "reference": entry["env_id_run"]}
                )
        for run in runs:
            run["normalised"] = normalised(run["return"], info)
            if run["run_dir"] is None:
                continue  # committed (its files too), or the library's
            if (env, run["demos"]) != HEADLINE:
                run["checkpoint"] = None  # in the run folders, not committed
                continue
            copy = suite / "checkpoints" / f"{run['method']}_s{run['seed']}.pt"
            evaluation_copy(Path(run["checkpoint"]), copy)
            run["checkpoint"] = str(copy.relative_to(suite))
            if run["method"] == "airl":
                reward = reward_model_path(run["seed"], suite)
                shutil.copyfile(Path(run["run_dir"]) / "reward_model.pt", reward)
                run["reward_model"] = str(reward.relative_to(suite))
        groups: dict[str, list[float]] = {}
        for run in runs:
            groups.setdefault(f"{run['method']} {run['demos']}", []).append(run["normalised"])
        aggregates = {k: a.as_dict() for k, a in aggregate_scores(groups, seed=0).items()}
        envs[env] = {
            **info,
            "runs": [{k: v for k, v in r.items() if k not in ("curve", "run_dir")} for r in runs],
            "aggregates": aggregates,
            "cost": run_cost([run for run in runs if "reference" not in run]),
        }
        curves = {
            f"{run['method']} {run['demos']} seed {run['seed']}": run["curve"] for run in runs
        }
        write_json_atomic(suite / f"curves_{env}.json", curves)
    results = {
        "protocol": {
            "steps": total_steps,
            "transfer_steps": int(total_steps * TRANSFER_FRACTION),
            "demo_pool_episodes": POOL_EPISODES,
            "every": EVERY,
            "eval_episodes": 10,
            "eval_seed": f"seed + {EVAL_SEED}",
        },
        "envs": envs,
        "cost": {
            key: sum(env["cost"][key] for env in envs.values())
            for key in ("env_steps", "cpu_hours")
        },
    }
    if pairs := read_side_by_side(suite):
        results["side_by_side"] = side_by_side_summary(pairs)
    write_json_atomic(suite / "results.json", results)
    plot_results(results, suite)
    return results


def run_cost(runs: list[dict[str, Any]]) -> dict[str, float]:
    """What advrl's runs took: env steps, and CPU hours (each trial holds one CPU for its
    wall time)."""
    return {
        "env_steps": sum(int(run["env_steps"]) for run in runs),
        "cpu_hours": sum(float(run["wall_s"]) for run in runs) / 3600,
    }


def plot_results(results: dict[str, Any], suite: Path = SUITE) -> None:
    """normalised_return.png: IQM and 95% interval against demonstrations, one line per
    method; curves.png: the true training return of each (method, demonstrations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = results["envs"]
    if not envs:
        return
    figure, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for axis, (env, data) in zip(axes[0], envs.items(), strict=True):
        methods = sorted({run["method"] for run in data["runs"]}, key=_plot_order)
        for method in methods:
            points = [
                (int(key.split()[1]), agg)
                for key, agg in data["aggregates"].items()
                if key.split()[0] == method
            ]
            points.sort(key=lambda point: point[0])
            xs = [x for x, _ in points]
            iqm = [agg["iqm"] for _, agg in points]
            low = [agg["iqm_ci95"][0] for _, agg in points]
            high = [agg["iqm_ci95"][1] for _, agg in points]
            axis.plot(xs, iqm, "o-", color=_colour(method), label=method)
            axis.fill_between(xs, low, high, color=_colour(method), alpha=0.2)
        axis.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        axis.set(title=env, xlabel="expert trajectories", ylabel="normalised return (IQM)")
        axis.set_xscale("log", base=2)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(suite / "normalised_return.png", dpi=120)
    plt.close(figure)
    _plot_curves(suite, envs)


PLOT_METHODS = (*METHODS, *TRANSFERS, "imitation_gail", "imitation_airl")
"""Each method's colour in both figures, the same on every env (a method added since comes
after them)."""


def _plot_order(method: str) -> int:
    return PLOT_METHODS.index(method) if method in PLOT_METHODS else len(PLOT_METHODS)


def _colour(method: str) -> str:
    """The method's colour: its own of matplotlib's ten, or black past them."""
    index = _plot_order(method)
    return f"C{index}" if index < 10 else "black"


def _plot_curves(suite: Path, envs: dict[str, Any]) -> None:
    """curves.png: one line per method, solid for the env's fewest demonstrations, dashed
    for more."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for axis, env in zip(axes[0], envs, strict=True):
        curves = json.loads((suite / f"curves_{env}.json").read_text())
        groups: dict[str, list[np.ndarray]] = {}
        for name, curve in curves.items():
            if len(curve) > 1:
                groups.setdefault(name.rsplit(" seed ", 1)[0], []).append(np.asarray(curve))
        for group in sorted(groups, key=lambda g: (_plot_order(g.split()[0]), int(g.split()[1]))):
            runs = groups[group]
            grid = np.linspace(0, min(run[-1, 0] for run in runs), 50)
            values = np.stack([np.interp(grid, run[:, 0], run[:, 1]) for run in runs])
            centre, low, high = iqm_band(values)
            method, demos = group.split()
            style = "-" if int(demos) == min(DEMOS.get(env, (int(demos),))) else "--"
            axis.plot(grid, centre, style, color=_colour(method), label=group)
            axis.fill_between(grid, low, high, color=_colour(method), alpha=0.2)
        info = envs[env]
        axis.axhline(info["expert_return"], color="grey", linestyle="--", linewidth=1)
        axis.set(title=env, xlabel="env steps", ylabel="true episodic return (training)")
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(suite / "curves.png", dpi=120)
    plt.close(figure)


def run_suite(
    stages: tuple[Stage, ...] = STAGES,
    suite: Path = SUITE,
    sweeps: Path = SWEEPS,
    total_steps: int = STEPS,
    log: Callable[[str], None] = print,
    learner_hp: dict[str, str] | None = None,
    cpus: int = RUNS_AT_ONCE,
) -> dict[str, Any]:
    """Run the stages in order (each env prepared before its first) on ``cpus`` CPUs,
    collating results after each; ``learner_hp`` replaces ``LEARNERS``' (tests shrink the
    rollouts)."""
    start = time.perf_counter()
    results: dict[str, Any] = {}
    for stage in stages:
        if not expert_path(stage.env, suite).exists():
            log(f"{stage.name}: skipped, no expert at {expert_path(stage.env, suite)}")
            continue
        info = prepare(stage.env, suite, log)  # once per env; kept from then on
        log(
            f"{stage.name}: running ({time.perf_counter() - start:.0f} s in; expert "
            f"{info['expert_return']:.1f}, random {info['random_return']:.1f})"
        )
        run_stage(stage, suite, sweeps, total_steps, learner_hp, cpus)
        results = write_results(suite, sweeps, total_steps)
    return results


def copy_expert(run_checkpoint: Path, env: str, suite: Path = SUITE) -> Path:
    """Commit a trained PPO run's checkpoint as the expert of ``env`` (evaluation copy)."""
    return evaluation_copy(run_checkpoint, expert_path(env, suite))


if __name__ == "__main__":
    # python -m advrl.benchmarks.imitation_mujoco ENV CHECKPOINT: install an expert.
    import sys

    print(copy_expert(Path(sys.argv[2]), sys.argv[1]))
