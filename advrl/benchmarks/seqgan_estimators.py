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
- **Runs** go through the sweep machinery on Ray Tune, one sweep per stage (``mle``,
  ``dev``, ``methods``), 1 CPU a trial, two at a time. Each stage resumes.

Files in ``benchmarks/seqgan_estimators/``: ``results.json``, shaped ``{"mle": {"seeds":
{SEED: {"temperature_sweep": [...], ...}}}, "methods": {NAME: {"seeds": {SEED: {"nll_oracle",
"nll_oracle_se", "nll_test", "frontier_gap", "samples", ...}}, "aggregate": {...}}}, "dev":
{...}, "protocol": {...}}``; ``samples/NAME_sSEED.txt.gz`` (every run's 10,000 samples, one
sequence of token ids a line); ``frontier.png``. Sweeps and run folders live under
``runs/seqgan_estimators/`` (ignored by git).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advrl.benchmarks import REPO, RESULTS, SHARED_BENCHMARKS
from advrl.core.checkpoint import write_json_atomic
from advrl.gan.frontier import efficient_branch, frontier_gap
from advrl.sweeps.aggregate import aggregate_scores
from advrl.sweeps.sweep import SweepSettings, load_settings, run_sweep

SUITE = RESULTS / "seqgan_estimators"
SWEEPS = REPO / "runs" / "seqgan_estimators"
ORACLE = SHARED_BENCHMARKS / "seqgan_oracle" / "target_params.npz"
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
class Protocol:
    """What the suite runs; the defaults are the protocol above (tests shrink it)."""

    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    dev_seed: int = 11
    env: dict[str, str] = field(
        default_factory=lambda: {"oracle_params": str(ORACLE), "d_negatives": "5000"}
    )
    """SeqGAN-v0's options for every run (the MLE's discriminator trains on 5,000 negatives)."""
    hp: dict[str, str] = field(default_factory=lambda: {"preset": "strong_mle"})
    mle_recipe: dict[str, str] = field(default_factory=dict)
    """Recipe options over the preset's for the MLE runs."""
    eval_samples: int = 10_000
    iterations: dict[str, int] = field(default_factory=lambda: dict(ITERATIONS))
    dev_grid: dict[str, list[dict[str, str]]] = field(default_factory=lambda: DEV_GRID)
    length: int = 20
    """Tokens per sequence (the oracle's T), to turn updates into env steps."""

    def steps(self, method: str) -> int:
        return self.iterations[method] * SEQUENCES_PER_UPDATE * self.length


def run_suite(
    protocol: Protocol | None = None,
    suite: Path = SUITE,
    sweeps: Path = SWEEPS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every stage in order (each skipped if finished, resumed if begun), then the results."""
    protocol = protocol or Protocol()
    _stage(sweeps / "mle", lambda: mle_settings(protocol, sweeps))
    mle = finished_runs(sweeps / "mle")
    log(f"mle: {len(mle)} seeds finished")
    _stage(sweeps / "dev", lambda: dev_settings(protocol, sweeps, mle))
    chosen = choose(protocol, finished_runs(sweeps / "dev"))
    log(f"development seed {protocol.dev_seed}: chose {chosen}")
    _stage(sweeps / "methods", lambda: method_settings(protocol, sweeps, mle, chosen))
    return write_results(protocol, suite, sweeps)


def _stage(out: Path, settings: Callable[[], SweepSettings]) -> None:
    """Run one stage's sweep, resume it, or leave it be when it has finished."""
    if (out / "results.json").exists():
        return
    if (out / "sweep.json").exists():
        run_sweep(load_settings(out), resume=True)
    else:
        run_sweep(settings())


def _sweep(protocol: Protocol, out: Path, variants: dict[str, dict[str, Any]]) -> SweepSettings:
    return SweepSettings(
        env="SeqGAN-v0",
        algo="reinforce",
        out=str(out),
        hp=dict(protocol.hp),
        env_kwargs=dict(protocol.env),
        recipe_kwargs={"eval_samples": str(protocol.eval_samples)},
        eval_episodes=0,
        device="cpu",
        metric="nll_oracle",
        cpus_per_trial=1.0,
        max_concurrent=2,
        variants=variants,
    )


def mle_settings(protocol: Protocol, sweeps: Path) -> SweepSettings:
    """MLE alone (no adversarial steps) on every reported seed and the development seed."""
    seeds = (*protocol.seeds, protocol.dev_seed)
    variants = {
        f"mle_s{seed}": {"seed": seed, "total_steps": 0, "recipe_kwargs": protocol.mle_recipe}
        for seed in seeds
    }
    return _sweep(protocol, sweeps / "mle", variants)


def method_variant(
    protocol: Protocol, method: str, seed: int, mle_dir: Path, options: dict[str, str]
) -> dict[str, Any]:
    """One run of ``method`` from the MLE of ``seed`` (its run folder ``mle_dir``)."""
    recipe = {"generator_path": str(mle_dir / "generator.pt"), **options}
    discriminator = str(mle_dir / "discriminator.pt")
    variant: dict[str, Any] = {"seed": seed, "total_steps": protocol.steps(method)}
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


def dev_settings(
    protocol: Protocol, sweeps: Path, mle: dict[str, tuple[dict[str, Any], Path]]
) -> SweepSettings:
    """Each tuned method's grid on the development seed."""
    seed = protocol.dev_seed
    _, mle_dir = mle[f"mle_s{seed}"]
    variants = {
        dev_name(method, options): method_variant(protocol, method, seed, mle_dir, options)
        for method, grid in protocol.dev_grid.items()
        for options in grid
    }
    return _sweep(protocol, sweeps / "dev", variants)


def dev_name(method: str, options: dict[str, str]) -> str:
    return "_".join([method, *(f"{k}={v}" for k, v in options.items())])


def choose(
    protocol: Protocol, dev: dict[str, tuple[dict[str, Any], Path]]
) -> dict[str, dict[str, str]]:
    """Each tuned method's options with the lowest frontier gap on the development seed."""
    chosen = {}
    for method, grid in protocol.dev_grid.items():
        gaps = [(dev[dev_name(method, o)][0]["frontier_gap"], i) for i, o in enumerate(grid)]
        chosen[method] = grid[min(gaps)[1]]
    return chosen


def method_settings(
    protocol: Protocol,
    sweeps: Path,
    mle: dict[str, tuple[dict[str, Any], Path]],
    chosen: dict[str, dict[str, str]],
) -> SweepSettings:
    """Every method on every reported seed, tuned ones with their chosen options."""
    variants = {
        f"{method}_s{seed}": method_variant(
            protocol, method, seed, mle[f"mle_s{seed}"][1], chosen.get(method, {})
        )
        for method in METHODS
        for seed in protocol.seeds
    }
    return _sweep(protocol, sweeps / "methods", variants)


def finished_runs(out: Path) -> dict[str, tuple[dict[str, Any], Path]]:
    """Each finished trial of a stage's sweep by its variant: (summary, run folder)."""
    runs = {}
    for params in sorted(out.glob("tune/*/params.json")):
        run_dir = out / "runs" / params.parent.name
        if (run_dir / "summary.json").exists():
            variant = json.loads(params.read_text())["variant"]
            runs[variant] = (json.loads((run_dir / "summary.json").read_text()), run_dir)
    return runs


METRICS = ("nll_oracle", "nll_oracle_se", "nll_test", "bleu4", "self_bleu4")


def write_results(
    protocol: Protocol | None = None, suite: Path = SUITE, sweeps: Path = SWEEPS
) -> dict[str, Any]:
    """Collate every finished run into results.json, copy their samples, draw the figure.
    A stage still running contributes the runs it has finished."""
    protocol = protocol or Protocol()
    (suite / "samples").mkdir(parents=True, exist_ok=True)

    def samples(summary: dict[str, Any], name: str) -> str:
        copy = suite / "samples" / f"{name}.txt.gz"
        shutil.copyfile(summary["samples_file"], copy)
        return str(copy.relative_to(suite))

    mle: dict[int, dict[str, Any]] = {}
    for name, (summary, _) in finished_runs(sweeps / "mle").items():
        seed = summary["seed"]
        if seed in protocol.seeds:
            mle[seed] = {k: summary[k] for k in ("temperature_sweep", *METRICS)}
            mle[seed] |= {"wall_s": summary["wall_time_s"], "samples": samples(summary, name)}
    methods: dict[str, Any] = {name: {"seeds": {}} for name in METHODS}
    for name, (summary, _) in finished_runs(sweeps / "methods").items():
        method, seed = name.rsplit("_s", 1)[0], summary["seed"]
        if seed not in mle:
            continue
        found = frontier_gap(mle[seed]["temperature_sweep"], summary)
        methods[method]["seeds"][seed] = {k: summary[k] for k in METRICS} | {
            "frontier_gap": found.gap,
            "frontier_gap_se": found.se,
            "frontier_gap_in_range": found.in_range,
            "frontier_gap_own_curve": summary.get("frontier_gap"),
            "bleu4_gap": summary.get("bleu4_gap"),
            "env_steps": summary["total_steps"],
            "wall_s": summary["wall_time_s"],
            "samples": samples(summary, name),
        }
    gaps = {
        method: [row["frontier_gap"] for row in entry["seeds"].values()]
        for method, entry in methods.items()
        if entry["seeds"]
    }
    for method, aggregate in aggregate_scores(gaps, seed=0).items():
        methods[method]["aggregate"] = aggregate.as_dict()
    dev = finished_runs(sweeps / "dev")
    results = {
        "protocol": dataclasses.asdict(protocol) | {"methods": list(METHODS)},
        "mle": {"seeds": mle},
        "methods": methods,
        "dev": {
            "seed": protocol.dev_seed,
            "runs": {name: summary["frontier_gap"] for name, (summary, _) in dev.items()},
            "chosen": choose(protocol, dev) if _dev_done(protocol, dev) else None,
        },
        "wall_s": sum(
            summary["wall_time_s"]
            for stage in ("mle", "dev", "methods")
            for summary, _ in finished_runs(sweeps / stage).values()
        ),
    }
    write_json_atomic(suite / "results.json", results)
    if mle:
        plot_results(results, suite / "frontier.png")
    return results


def _dev_done(protocol: Protocol, dev: dict[str, Any]) -> bool:
    names = {dev_name(m, o) for m, grid in protocol.dev_grid.items() for o in grid}
    return names <= set(dev)


def plot_results(results: dict[str, Any], path: Path) -> None:
    """Left: each seed's MLE curve and every run's point; right: each method's frontier
    gap, every seed a dot, the IQM with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=100)
    for i, entry in enumerate(results["mle"]["seeds"].values()):
        branch = efficient_branch(entry["temperature_sweep"])
        xs, ys = [r["nll_oracle"] for r in branch], [r["nll_test"] for r in branch]
        left.plot(
            xs, ys, color="0.6", lw=1, label="MLE, each seed's temperatures" if i == 0 else None
        )
    for k, (method, entry) in enumerate(results["methods"].items()):
        rows = list(entry["seeds"].values())
        color = f"C{k}"
        left.plot([r["nll_oracle"] for r in rows], [r["nll_test"] for r in rows], "o",
                  color=color, label=method)  # fmt: skip
        right.plot([k] * len(rows), [r["frontier_gap"] for r in rows], "o", color=color, alpha=0.5)
        if "aggregate" in entry:
            agg = entry["aggregate"]
            low, high = agg["iqm_ci95"]
            right.errorbar([k + 0.15], [agg["iqm"]], yerr=[[agg["iqm"] - low], [high - agg["iqm"]]],
                           fmt="s", color=color, capsize=4)  # fmt: skip
    left.set_xlabel("NLL-oracle (quality, lower is better)")
    left.set_ylabel("NLL-test (diversity, lower is better)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.axhline(0.0, color="k", lw=0.8)
    right.set_xticks(range(len(results["methods"])), list(results["methods"]))
    right.set_ylabel("frontier gap (nats; below 0: beyond cooled MLE)")
    right.grid(alpha=0.3, axis="y")
    figure.suptitle("SeqGAN's oracle: each estimator family from the same strong MLE")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
