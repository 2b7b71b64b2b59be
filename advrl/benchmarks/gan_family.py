"""Every image GAN of the family on the digits, over seeds
(``python scripts/benchmark.py --suite gan-family``).

The protocol: each ``--gan`` variant (``advrl.gan.family.GAN_NAMES``) trains ``EPOCHS``
epochs on scikit-learn's 8 x 8 digits with its defaults (base channels 128, latent 32, Adam
2e-4), seeds 1-3, two runs at a time with one thread each. Each run is judged on 1,000
samples by the Fréchet distance in the package's digits classifier's feature space, class
coverage, and its own quantity: label accuracy (cgan, acgan), the categorical code's
best one-to-one class accuracy and the MI lower bound (infogan), M_global at the first and
last epoch (began). Per variant: the IQM of the Fréchet distance with rliable's 95% interval
over the seeds, and the seed-1 sample grid.

Files in ``benchmarks/gan_family/``: ``results.json`` (``{"protocol", "variants": {NAME:
{"runs": [...], "aggregate": {...}, "grid"}}}``), ``grid_NAME.png``; ``runs.jsonl`` keeps each
finished run, so a stopped suite resumes. Run folders live under ``runs/gan_family/``
(ignored by git).
"""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from advrl.benchmarks import REPO, RESULTS, append_journal, read_journal
from advrl.core.checkpoint import write_json_atomic
from advrl.gan.family import GAN_NAMES
from advrl.sweeps.aggregate import aggregate_scores

SUITE = RESULTS / "gan_family"
RUNS = REPO / "runs" / "gan_family"
EPOCHS = 30
SEEDS = (1, 2, 3)
OWN_METRICS = {
    "cgan": ("label_accuracy",),
    "acgan": ("label_accuracy",),
    "infogan": ("code_class_accuracy", "mi_lower_bound"),
    "began": ("m_global", "k"),
}
"""Each variant's own quantities, beside the Fréchet distance and coverage every one has."""


def train_one(name: str, seed: int, epochs: int, run_dir: Path, **options: Any) -> dict[str, Any]:
    """One run of ``name`` on the digits, on one thread; its row of results."""
    import torch

    from advrl.gan.dcgan import DCGANConfig, GANSettings, train_gan

    torch.set_num_threads(1)
    history: list[dict[str, float]] = []
    config = DCGANConfig(epochs=epochs, gan=name, **options)
    settings = GANSettings(
        config=config, seed=seed, device="cpu", run_dir=run_dir, sample_every=epochs
    )
    summary = train_gan(settings, on_epoch=lambda _, metrics: history.append(metrics))
    row = {
        "gan": name,
        "seed": seed,
        "frechet_distance": summary["frechet_distance"],
        "frechet_distance_untrained": summary["initial"]["frechet_distance"],
        "class_coverage": summary["class_coverage"],
        "wall_s": summary["wall_time_s"],
        "grid": summary["samples"][-1],
    }
    for key in OWN_METRICS.get(name, ()):
        row[key] = summary[key]
        if key in ("m_global", "mi_lower_bound"):
            row[f"{key}_curve"] = [metrics[key] for metrics in history]
    return row


def run_suite(
    suite: Path = SUITE,
    runs: Path = RUNS,
    seeds: tuple[int, ...] = SEEDS,
    epochs: int = EPOCHS,
    names: tuple[str, ...] = GAN_NAMES,
    workers: int = 2,
    **options: Any,
) -> dict[str, Any]:
    """Every (variant, seed) not in ``runs.jsonl`` yet, ``workers`` at a time; the results."""
    suite.mkdir(parents=True, exist_ok=True)
    journal = suite / "runs.jsonl"
    done = {(row["gan"], row["seed"]) for row in read_journal(journal)}
    jobs = [(name, seed) for name in names for seed in seeds if (name, seed) not in done]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(train_one, name, seed, epochs, runs / f"{name}_s{seed}", **options)
            for name, seed in jobs
        ]
        for future in futures:
            row = future.result()
            append_journal(journal, row)
            print(f"{row['gan']} seed {row['seed']}: FD {row['frechet_distance']:.1f}")
    return write_results(suite, epochs, seeds)


def write_results(
    suite: Path = SUITE, epochs: int = EPOCHS, seeds: tuple[int, ...] = SEEDS
) -> dict[str, Any]:
    """results.json from the journal: every run, each variant's IQMs, its seed-1 grid."""
    rows = read_journal(suite / "runs.jsonl")
    variants: dict[str, Any] = {}
    for name in GAN_NAMES:
        own = sorted((r for r in rows if r["gan"] == name), key=lambda r: r["seed"])
        if not own:
            continue
        scores = {"frechet_distance": [r["frechet_distance"] for r in own]}
        for key in OWN_METRICS.get(name, ()):
            scores[key] = [r[key] for r in own]
        aggregates = aggregate_scores(scores, seed=0)
        grid = suite / f"grid_{name}.png"
        first = own[0]
        if Path(first["grid"]).exists():
            shutil.copyfile(first["grid"], grid)
        variants[name] = {
            "runs": own,
            "aggregate": {key: agg.as_dict() for key, agg in aggregates.items()},
            "grid": grid.name,
        }
    results = {
        "protocol": {"epochs": epochs, "seeds": list(seeds), "data": "digits (8 x 8)"},
        "variants": variants,
    }
    write_json_atomic(suite / "results.json", results)
    return results


def format_table(results: dict[str, Any]) -> str:
    """Markdown: per variant, the IQM [95% interval] of the Fréchet distance and of its own
    quantities over the seeds."""
    lines = ["| variant | Fréchet distance, IQM [95%] | its own | seconds a run |",
             "|---|---|---|---|"]  # fmt: skip
    for name, entry in results["variants"].items():
        agg = entry["aggregate"]
        own = "; ".join(f"{key} {_cell(agg[key])}" for key in OWN_METRICS.get(name, ()))
        wall = sum(r["wall_s"] for r in entry["runs"]) / len(entry["runs"])
        fd = _cell(agg["frechet_distance"])
        lines.append(f"| {name} | {fd} | {own or '-'} | {wall:.0f} |")
    return "\n".join(lines)


def _cell(aggregate: dict[str, Any]) -> str:
    low, high = aggregate["iqm_ci95"]
    return f"{aggregate['iqm']:.3g} [{low:.3g}, {high:.3g}]"
