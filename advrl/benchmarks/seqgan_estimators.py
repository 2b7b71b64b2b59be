"""Seeds on the frontier: a generator trained by each gradient-estimator family, from the same
strong MLE on SeqGAN's oracle (``python scripts/benchmark.py --suite seqgan-estimators``).

The protocol, fixed before any result was seen:

- **Data**: the paper's oracle (``../shared/benchmarks/seqgan_oracle``), 10,000 training and
  5,000 test sequences (data seed 0), the same for every seed.
- **MLE** per seed: ``--hp preset=strong_mle`` (a 64/128 token LSTM, variational dropout 0.5,
  early stopping on a 10% validation split). Its temperature sweep is that seed's frontier.
  Its discriminator (the small CNN after 20 rounds of 5,000 fresh MLE samples) is saved too.
- **Methods**, each starting from its seed's MLE generator (``generator_path``):
  - ``seqgan``, the score function with Monte Carlo rollouts: REINFORCE on SeqGAN's per-token
    rollout reward (16 rollouts). D starts from the seed's MLE discriminator and keeps
    learning on the CPU preset's schedule;
  - ``density_ratio``, the score function with a KL anchor: PPO on the frozen
    discriminator's logit, with a KL anchor of coefficient 2 to the MLE. That coefficient was
    chosen on the seqgan-frontier suite's validation frontier;
  - ``gumbel``, the reparameterised relaxation: RelGAN's generator
    (``estimator=gumbel``). Its discriminator starts untrained, as RelGAN's does;
  - ``cot``, the exact per-step expectation: Cooperative Training (``estimator=cot``).
- **Budgets** are equal in training time, not in updates: about 5 minutes on one core at the
  strong MLE's sizes (``ITERATIONS``, measured before the runs: 3.8 s per rollout
  REINFORCE update, 2.4 s per PPO update, 0.82 s per Gumbel iteration, 0.51 s per CoT one).
- **Development** on seed 11, which is never reported. gumbel and cot each try ``DEV_GRID``
  (learning rate, and β_max or the mediator's learning rate). The setting with the lowest
  frontier gap is used on seeds 1-5.
- **Score**: the frontier gap of each run's 10,000 samples at temperature 1: NLL-oracle minus
  its seed's MLE curve at equal NLL-test (negative: beyond cooled MLE). It is computed
  against the committed MLE curve. Per method, the IQM with rliable's 95% interval over
  seeds 1-5.
- **COCO captions** (``../shared/benchmarks/coco_captions``; T = 16): MLE and the four
  methods on seeds 1-3, with the settings the development seed chose, scored by BLEU-4 and
  Self-BLEU-4 of 500 samples beside temperature-matched MLE (its curve interpolated at the
  run's NLL-test); ``bleu4_gap`` is the run's BLEU-4 minus MLE's there.
- **Runs** go through the sweep machinery on Ray Tune, one sweep per stage (``oracle_mle``,
  ``oracle_dev``, ``oracle_methods``, ``coco_mle``, ``coco_methods``), 1 CPU a trial, two at
  a time. Each stage resumes.

Files in ``benchmarks/seqgan_estimators/``: ``results.json``, shaped ``{"mle": {"seeds":
{SEED: {"temperature_sweep": [...], ...}}}, "methods": {NAME: {"seeds": {SEED: {"nll_oracle",
"nll_oracle_se", "nll_test", "frontier_gap", "samples", ...}}, "aggregate": {...}}}, "dev":
{...}, "protocol": {...}}``; ``samples/NAME_sSEED.txt.gz`` (every run's 10,000 samples, one
sequence of token ids a line); ``frontier.png``. COCO's runs are under ``"coco"``, shaped
the same, their samples ``samples/coco_NAME_sSEED.txt.gz``. Sweeps and run folders live under
``runs/seqgan_estimators/`` (ignored by git).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from advrl.benchmarks import REPO, RESULTS, SHARED_BENCHMARKS
from advrl.core.checkpoint import write_json_atomic
from advrl.core.errors import UserError
from advrl.gan.frontier import efficient_branch, frontier_gap
from advrl.sweeps.aggregate import aggregate_scores
from advrl.sweeps.sweep import SweepSettings, load_settings, run_sweep

SUITE = RESULTS / "seqgan_estimators"
SWEEPS = REPO / "runs" / "seqgan_estimators"
ORACLE = SHARED_BENCHMARKS / "seqgan_oracle" / "target_params.npz"
COCO = SHARED_BENCHMARKS / "coco_captions"
METHODS = ("seqgan", "density_ratio", "gumbel", "cot")
SEQUENCES_PER_UPDATE = 64
"""Every method's generator step is on 64 sequences (the presets' 64 envs; RelGAN's and
CoT's batch)."""
ITERATIONS = {"seqgan": 80, "density_ratio": 120, "gumbel": 360, "cot": 600}
"""Generator updates per method: about 5 minutes of training each on one core."""
DEV_GRID: dict[str, list[dict[str, str]]] = {
    "gumbel": [
        {"adv_lr": lr, "gumbel_beta_max": beta}
        for lr in ("1e-4", "1e-3")
        for beta in ("100", "1000")
    ],
    "cot": [
        {"adv_lr": lr, "cot_mediator_lr": m} for lr in ("1e-4", "1e-3") for m in ("1e-3", "1e-2")
    ],
}
"""The settings each tuned method tries on the development seed (RelGAN reports β_max 100
and 1000; its adversarial learning rate is 1e-4)."""
DENSITY_RATIO_KL = "2"
"""The density-ratio PPO's KL coefficient: the seqgan-frontier suite's choice among 0.5, 1
and 2 on its validation frontier."""


@dataclass(frozen=True)
class Task:
    """One data set the suite runs on: SeqGAN-v0's options for it, its reported seeds and
    its sequence length (to turn generator updates into env steps)."""

    name: str
    env: dict[str, str]
    seeds: tuple[int, ...]
    length: int


ORACLE_TASK = Task("oracle", {"oracle_params": str(ORACLE), "d_negatives": "5000"},
                   (1, 2, 3, 4, 5), 20)  # fmt: skip
"""The MLE's discriminator trains on 5,000 fresh negatives a round."""
COCO_TASK = Task(
    "coco",
    {"dataset": str(COCO / "train.txt"), "test_dataset": str(COCO / "test.txt"),
     "d_negatives": "5000"},
    (1, 2, 3),
    16,
)  # fmt: skip


@dataclass(frozen=True)
class Protocol:
    """What the suite runs; the defaults are the protocol above (tests shrink it)."""

    oracle: Task = ORACLE_TASK
    coco: Task | None = COCO_TASK
    dev_seed: int = 11
    """The development seed, on the oracle task (never reported)."""
    hp: dict[str, str] = field(default_factory=lambda: {"preset": "strong_mle"})
    mle_recipe: dict[str, str] = field(default_factory=dict)
    """Recipe options over the preset's for the MLE runs."""
    eval_samples: int = 10_000
    iterations: dict[str, int] = field(default_factory=lambda: dict(ITERATIONS))
    dev_grid: dict[str, list[dict[str, str]]] = field(default_factory=lambda: DEV_GRID)

    def steps(self, method: str, task: Task) -> int:
        return self.iterations[method] * SEQUENCES_PER_UPDATE * task.length

    @property
    def tasks(self) -> tuple[Task, ...]:
        return (self.oracle,) if self.coco is None else (self.oracle, self.coco)


Runs = dict[str, tuple[dict[str, Any], Path]]
"""A stage's finished trials by variant name: (summary, run folder)."""


def run_suite(
    protocol: Protocol | None = None,
    suite: Path = SUITE,
    sweeps: Path = SWEEPS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every stage in order (each skipped if finished, resumed if begun), then the results:
    the oracle's MLE, development grid and methods, then COCO's MLE and methods."""
    protocol = protocol or Protocol()
    oracle = protocol.oracle
    _stage(sweeps / "oracle_mle", partial(mle_settings, protocol, oracle, sweeps))
    _stage(sweeps / "oracle_dev", partial(dev_settings, protocol, sweeps))
    chosen = choose(protocol, finished_runs(sweeps / "oracle_dev"))
    log(f"development seed {protocol.dev_seed}: chose {chosen}")
    for task in protocol.tasks:
        if task is not oracle:
            _stage(sweeps / f"{task.name}_mle", partial(mle_settings, protocol, task, sweeps))
        methods = partial(method_settings, protocol, task, sweeps, chosen)
        _stage(sweeps / f"{task.name}_methods", methods)
    return write_results(protocol, suite, sweeps)


def _stage(out: Path, settings: Callable[[], SweepSettings]) -> None:
    """Run one stage's sweep, resume it, or leave it be when it has finished."""
    if (out / "results.json").exists():
        return
    if (out / "sweep.json").exists():
        run_sweep(load_settings(out), resume=True)
    else:
        run_sweep(settings())


def _sweep(
    protocol: Protocol, task: Task, out: Path, variants: dict[str, dict[str, Any]]
) -> SweepSettings:
    return SweepSettings(
        env="SeqGAN-v0",
        algo="reinforce",
        out=str(out),
        hp=dict(protocol.hp),
        env_kwargs=dict(task.env),
        recipe_kwargs={"eval_samples": str(protocol.eval_samples)},
        eval_episodes=0,
        device="cpu",
        metric="nll_test",
        cpus_per_trial=1.0,
        max_concurrent=2,
        variants=variants,
    )


def mle_settings(protocol: Protocol, task: Task, sweeps: Path) -> SweepSettings:
    """MLE alone (no adversarial steps) on every reported seed (and, on the oracle, the
    development seed)."""
    seeds = (*task.seeds, protocol.dev_seed) if task is protocol.oracle else task.seeds
    variants = {
        f"mle_s{seed}": {"seed": seed, "total_steps": 0, "recipe_kwargs": protocol.mle_recipe}
        for seed in seeds
    }
    return _sweep(protocol, task, sweeps / f"{task.name}_mle", variants)


def method_variant(
    protocol: Protocol, task: Task, method: str, seed: int, mle_dir: Path, options: dict[str, str]
) -> dict[str, Any]:
    """One run of ``method`` from the MLE of ``seed`` (its run folder ``mle_dir``)."""
    recipe = {"generator_path": str(mle_dir / "generator.pt"), **options}
    discriminator = str(mle_dir / "discriminator.pt")
    variant: dict[str, Any] = {"seed": seed, "total_steps": protocol.steps(method, task)}
    if method == "seqgan":  # the CPU preset's D schedule on the MLE's discriminator
        env = {"discriminator_path": discriminator, "d_negatives": "1024"}
        return variant | {"algo": "reinforce", "env_kwargs": env, "recipe_kwargs": recipe}
    if method == "density_ratio":
        env = {"discriminator_path": discriminator, "reward_mode": "final", "d_reward": "logit",
               "d_every": "0"}  # fmt: skip
        hp = {"kl_coef": DENSITY_RATIO_KL}
        return variant | {"algo": "ppo", "hp": hp, "env_kwargs": env, "recipe_kwargs": recipe}
    if method in ("gumbel", "cot"):
        return variant | {"algo": "reinforce", "recipe_kwargs": {**recipe, "estimator": method}}
    raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")


def dev_settings(protocol: Protocol, sweeps: Path) -> SweepSettings:
    """Each tuned method's grid on the development seed of the oracle."""
    task, seed = protocol.oracle, protocol.dev_seed
    _, mle_dir = finished_runs(sweeps / "oracle_mle")[f"mle_s{seed}"]
    variants = {
        dev_name(method, options): method_variant(protocol, task, method, seed, mle_dir, options)
        for method, grid in protocol.dev_grid.items()
        for options in grid
    }
    return _sweep(protocol, task, sweeps / "oracle_dev", variants)


def dev_name(method: str, options: dict[str, str]) -> str:
    return "_".join([method, *(f"{k}={v}" for k, v in options.items())])


def choose(protocol: Protocol, dev: Runs) -> dict[str, dict[str, str]]:
    """Each tuned method's options with the lowest frontier gap on the development seed."""
    chosen = {}
    for method, grid in protocol.dev_grid.items():
        names = [dev_name(method, options) for options in grid]
        gaps = [(dev[name][0]["frontier_gap"], i) for i, name in enumerate(names) if name in dev]
        if not gaps:
            raise UserError(
                f"no development run of {method} finished, so nothing can be chosen; see the "
                "oracle_dev sweep's trials and run the suite again to retry them"
            )
        chosen[method] = grid[min(gaps)[1]]
    return chosen


def method_settings(
    protocol: Protocol, task: Task, sweeps: Path, chosen: dict[str, dict[str, str]]
) -> SweepSettings:
    """Every method on every reported seed of ``task``, tuned ones with their chosen options."""
    mle = finished_runs(sweeps / f"{task.name}_mle")
    variants = {
        f"{method}_s{seed}": method_variant(
            protocol, task, method, seed, mle[f"mle_s{seed}"][1], chosen.get(method, {})
        )
        for method in METHODS
        for seed in task.seeds
    }
    return _sweep(protocol, task, sweeps / f"{task.name}_methods", variants)


def finished_runs(out: Path) -> Runs:
    """Each finished trial of a stage's sweep by its variant: (summary, run folder)."""
    runs = {}
    for params in sorted(out.glob("tune/*/params.json")):
        run_dir = out / "runs" / params.parent.name
        if (run_dir / "summary.json").exists():
            variant = json.loads(params.read_text())["variant"]
            runs[variant] = (json.loads((run_dir / "summary.json").read_text()), run_dir)
    return runs


METRICS = ("nll_test", "bleu4", "self_bleu4")
ORACLE_METRICS = ("nll_oracle", "nll_oracle_se")


def task_results(protocol: Protocol, task: Task, suite: Path, sweeps: Path) -> dict[str, Any]:
    """One task's MLE curves and method runs, every run placed against its seed's MLE curve:
    in NLL-oracle (the oracle) and in BLEU-4 and Self-BLEU-4 (both tasks); samples copied."""
    oracle, prefix = task is protocol.oracle, "" if task is protocol.oracle else f"{task.name}_"
    metrics = (*ORACLE_METRICS, *METRICS) if oracle else METRICS

    def samples(summary: dict[str, Any], name: str) -> str:
        copy = suite / "samples" / f"{prefix}{name}.txt.gz"
        shutil.copyfile(summary["samples_file"], copy)
        return str(copy.relative_to(suite))

    mle: dict[int, dict[str, Any]] = {}
    for name, (summary, _) in finished_runs(sweeps / f"{task.name}_mle").items():
        if summary["seed"] in task.seeds:
            row = {k: summary[k] for k in ("temperature_sweep", *metrics)}
            row |= {"wall_s": summary["wall_time_s"], "samples": samples(summary, name)}
            mle[summary["seed"]] = row
    methods: dict[str, Any] = {name: {"seeds": {}} for name in METHODS}
    for name, (summary, _) in finished_runs(sweeps / f"{task.name}_methods").items():
        method, seed = name.rsplit("_s", 1)[0], summary["seed"]
        if seed not in mle:
            continue
        curve = mle[seed]["temperature_sweep"]
        row = {k: summary[k] for k in metrics}
        if oracle:
            found = frontier_gap(curve, summary)
            row |= {"frontier_gap": found.gap, "frontier_gap_se": found.se,
                    "frontier_gap_in_range": found.in_range,
                    "frontier_gap_own_curve": summary.get("frontier_gap")}  # fmt: skip
        bleu_gap = frontier_gap(curve, summary, quality="bleu4")
        self_bleu_gap = frontier_gap(curve, summary, quality="self_bleu4")
        row |= {
            "bleu4_gap": bleu_gap.gap,
            "bleu4_gap_in_range": bleu_gap.in_range,
            "bleu4_mle_matched": summary["bleu4"] - bleu_gap.gap,
            "self_bleu4_mle_matched": summary["self_bleu4"] - self_bleu_gap.gap,
            "env_steps": summary["total_steps"],
            "wall_s": summary["wall_time_s"],
            "samples": samples(summary, name),
        }
        methods[method]["seeds"][seed] = row
    score = "frontier_gap" if oracle else "bleu4_gap"
    scores = {
        method: [row[score] for row in entry["seeds"].values()]
        for method, entry in methods.items()
        if entry["seeds"]
    }
    for method, aggregate in aggregate_scores(scores, seed=0).items():
        methods[method]["aggregate"] = aggregate.as_dict() | {"score": score}
    return {"mle": {"seeds": mle}, "methods": methods}


def write_results(
    protocol: Protocol | None = None, suite: Path = SUITE, sweeps: Path = SWEEPS
) -> dict[str, Any]:
    """Collate every finished run into results.json, copy their samples, draw the figure.
    A stage still running contributes the runs it has finished."""
    protocol = protocol or Protocol()
    (suite / "samples").mkdir(parents=True, exist_ok=True)
    results = task_results(protocol, protocol.oracle, suite, sweeps)
    dev = finished_runs(sweeps / "oracle_dev")
    results["dev"] = {
        "seed": protocol.dev_seed,
        "runs": {name: summary["frontier_gap"] for name, (summary, _) in dev.items()},
        "chosen": choose(protocol, dev) if _dev_done(protocol, dev) else None,
    }
    if protocol.coco is not None:
        results["coco"] = task_results(protocol, protocol.coco, suite, sweeps)
    results["protocol"] = dataclasses.asdict(protocol) | {"methods": list(METHODS)}
    results["wall_s"] = sum(
        summary["wall_time_s"]
        for stage in sweeps.glob("*/")
        for summary, _ in finished_runs(stage).values()
    )
    write_json_atomic(suite / "results.json", results)
    if results["mle"]["seeds"]:
        plot_results(results, suite / "frontier.png")
    if results.get("coco", {}).get("mle", {}).get("seeds"):
        plot_results(results["coco"], suite / "frontier_coco.png", quality="bleu4")
    return results


def _dev_done(protocol: Protocol, dev: Runs) -> bool:
    names = {dev_name(m, o) for m, grid in protocol.dev_grid.items() for o in grid}
    return names <= set(dev)


def plot_results(task: dict[str, Any], path: Path, quality: str = "nll_oracle") -> None:
    """Left: each seed's MLE curve and every run's point, ``quality`` against NLL-test; middle:
    the same around the runs' points; right: each method's gap to its curve
    (``frontier_gap``, or ``bleu4_gap`` for BLEU-4), every seed a dot, the IQM with its 95%
    interval."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    score = "frontier_gap" if quality == "nll_oracle" else f"{quality}_gap"
    figure, (left, zoom, right) = plt.subplots(1, 3, figsize=(15, 4.5), dpi=100)
    for panel in (left, zoom):
        for i, entry in enumerate(task["mle"]["seeds"].values()):
            branch = efficient_branch(entry["temperature_sweep"])
            label = "MLE, each seed's temperatures" if i == 0 else None
            panel.plot([r[quality] for r in branch], [r["nll_test"] for r in branch],
                       ".-", color="0.6", lw=1, label=label)  # fmt: skip
    points: list[tuple[float, float]] = []
    for k, (method, entry) in enumerate(task["methods"].items()):
        rows, color = list(entry["seeds"].values()), f"C{k}"
        points += [(r[quality], r["nll_test"]) for r in rows]
        for panel in (left, zoom):
            panel.plot([r[quality] for r in rows], [r["nll_test"] for r in rows], "o",
                       color=color, label=method)  # fmt: skip
        right.plot([k] * len(rows), [r[score] for r in rows], "o", color=color, alpha=0.5)
        if "aggregate" in entry:
            iqm, (low, high) = entry["aggregate"]["iqm"], entry["aggregate"]["iqm_ci95"]
            right.errorbar([k + 0.15], [iqm], yerr=[[iqm - low], [high - iqm]], fmt="s",
                           color=color, capsize=4)  # fmt: skip
    better = "lower" if quality == "nll_oracle" else "higher"
    left.set_xlabel(f"{quality} (quality, {better} is better)")
    left.set_ylabel("NLL-test (diversity, lower is better)")
    left.legend(fontsize=8)
    if points:
        (x_low, x_high), (y_low, y_high) = (
            (min(axis), max(axis)) for axis in zip(*points, strict=True)
        )
        x_pad, y_pad = max(x_high - x_low, 1e-3) * 0.5, max(y_high - y_low, 1e-3) * 0.5
        zoom.set_xlim(x_low - x_pad, x_high + x_pad)
        zoom.set_ylim(y_low - y_pad, y_high + y_pad)
    zoom.set_xlabel(left.get_xlabel())
    zoom.set_title("around the runs", fontsize=9)
    for panel in (left, zoom):
        panel.grid(alpha=0.3)
    right.axhline(0.0, color="k", lw=0.8)
    right.set_xticks(range(len(task["methods"])), list(task["methods"]))
    beyond = "below" if quality == "nll_oracle" else "above"
    right.set_ylabel(f"{score} ({beyond} 0: beyond cooled MLE)")
    right.grid(alpha=0.3, axis="y")
    figure.suptitle("Each estimator family from the same strong MLE, every seed")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
