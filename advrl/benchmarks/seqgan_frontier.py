"""Beyond MLE's frontier? The density-ratio reward with a KL anchor on the paper's oracle.

``python scripts/benchmark.py --suite seqgan-frontier``, one process, one seed:

1. ``mle``: the strong MLE (``--hp preset=strong_mle``), with its temperature sweep; it is
   p_ref, the reference of everything after.
2. The small CNN trained against p_ref's samples, then frozen: its logit estimates
   log p_data / p_ref. The reweighted model's NLL-test (``density_ratio_ceiling``) says what
   an exact optimisation of that reward with beta = 1 would give.
3. For each beta: PPO from p_ref on the logit reward of whole sequences (``final``, discount
   1) with a KL anchor to p_ref of coefficient beta: RLHF's objective, maximised by
   p_ref * exp(logit D / beta). Each is a user's run (``advrl.train`` with SeqGAN's recipe)
   started from p_ref and the frozen discriminator (``seqgan.adversarial_run``).
4. ``density_ratio``: the beta whose generator lies furthest beyond MLE's curve on a
   *validation* frontier (NLL-oracle of separate samples, NLL on MLE's held-out validation
   sequences), never on the reported figures.

Each generator gets NLL-oracle ± SE over ``eval_samples`` samples, NLL-test, BLEU,
Self-BLEU-4, a temperature sweep, its frontier gap against ``mle``'s curve and its samples
as ``samples_NAME.txt.gz``; ``frontier.png`` draws them.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from advrl.benchmarks.seqgan import adversarial_run, saved_start
from advrl.benchmarks.seqgan_paper import (
    SWEEP,
    PaperCPUSchedule,
    evaluate_generator,
    plot_paper_frontier,
    strong_mle,
    train_mle,
)
from advrl.core.checkpoint import write_json_atomic
from advrl.core.seeding import seed_everything
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.gan.frontier import frontier_gap
from advrl.plugins.seqgan_recipe import SeqGANRecipe


@dataclass
class FrontierSchedule:
    """What the suite trains; the defaults fit 60 minutes on 2 cores."""

    betas: tuple[float, ...] = (0.5, 1.0, 2.0)
    """KL coefficients tried (beta = 1 is the density ratio's own optimum)."""
    updates: int = 60
    """PPO updates per beta, each of 64 whole sequences per env step batch."""
    d_pretrain_rounds: int = 20
    """Rounds of fresh p_ref samples the discriminator trains on before it is frozen."""
    d_pretrain_negatives: int = 5000
    d_token_noise: float = 0.5
    """The env's augmentation against memorisation (0 trains on clean sequences only)."""
    eval_samples: int = 10_000
    sweep: tuple[float, ...] = SWEEP
    env: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Extra SeqGAN-v0 options (tests shrink the oracle with them)."""


def run_frontier(
    out_dir: Path,
    schedule: FrontierSchedule | None = None,
    seed: int = 1,
    oracle_params: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and evaluate ``mle`` and one generator per beta; write results.json."""
    schedule = schedule or FrontierSchedule()
    out_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "device": "cpu",
        "data_seed": seed,
        "init_seed": seed,
        "reward_mode": "final",
        "d_reward": "logit",
        "d_every": 0,
        "d_negatives": schedule.d_pretrain_negatives,
        "d_token_noise": schedule.d_token_noise,
        **schedule.env,
    }
    if oracle_params:
        options["oracle_params"] = oracle_params
    seed_everything(seed)
    game = SequenceGame(SeqGANConfig(**options))
    report = PaperCPUSchedule(eval_samples=schedule.eval_samples, sweep=schedule.sweep)
    config, hp = strong_mle()
    mle, mle_wall = train_mle(game, "mle", config, hp, seed, say)
    validation = mle.validation
    generators = {"mle": evaluate_generator(mle, report, out_dir / "samples_mle.txt.gz", 1.0)}
    generators["mle"]["wall_s"] = mle_wall
    validation_curve = _validation_sweep(mle, validation, schedule)

    start = time.perf_counter()
    game.update_rollout_policy(mle.generator, rate=0.0)
    pretrain = game.train_discriminator(schedule.d_pretrain_rounds)
    ceiling = mle.density_ratio_ceiling(schedule.eval_samples)
    say(
        f"discriminator: {schedule.d_pretrain_rounds} rounds, {time.perf_counter() - start:.0f} s,"
        f" accuracy {pretrain.get('accuracy', float('nan')):.3f}; ceiling NLL-test "
        f"{ceiling['ceiling_nll_test']:.3f} (p_ref {ceiling['reference_nll_test']:.3f}), "
        f"effective samples {ceiling['effective_samples']:.0f}"
    )
    steps = schedule.updates * 64 * game.length

    chosen: dict[str, Any] = {}
    with saved_start(mle) as saved:
        for beta in schedule.betas:
            name = f"density_ratio_beta{beta:g}"
            run = adversarial_run(
                saved,
                game.config,
                "ppo",
                steps,
                seed,
                torch.device("cpu"),
                hp={**hp, "kl_coef": beta},
                recipe={"eval_samples": schedule.eval_samples},
            )
            val = _validation_point(run.recipe, validation, schedule.eval_samples)
            val_gap = frontier_gap(validation_curve, val)
            row = evaluate_generator(run.recipe, report, out_dir / f"samples_{name}.txt.gz", 1.0)
            row |= {"beta": beta, "wall_s": run.seconds + mle_wall, "validation": val}
            row["validation_frontier_gap"] = val_gap.gap
            generators[name] = row
            say(
                f"{name}: validation gap {val_gap.gap:+.3f}; NLL-oracle {row['nll_oracle']:.3f} "
                f"NLL-test {row['nll_test']:.3f} ({run.seconds:.0f} s)"
            )
            if not chosen or val_gap.gap < chosen["validation_frontier_gap"]:
                chosen = row
    # The chosen setting's samples under its own name too, so every row has its file.
    shutil.copyfile(out_dir / chosen["samples"], out_dir / "samples_density_ratio.txt.gz")
    generators["density_ratio"] = {
        **chosen,
        "samples": "samples_density_ratio.txt.gz",
        "chosen_from": [f"{b:g}" for b in schedule.betas],
    }

    for row in generators.values():
        found = frontier_gap(generators["mle"]["temperature_sweep"], row)
        row |= {"frontier_gap": found.gap, "frontier_gap_se": found.se}
        row["frontier_gap_in_range"] = found.in_range
    plot_generators = {k: v for k, v in generators.items() if k != "density_ratio"}
    plot_paper_frontier(plot_generators, mle.oracle_nll_of_test(), out_dir)
    result = {
        "generators": generators,
        "density_ratio_ceiling": ceiling,
        "discriminator_pretrain": pretrain,
        "oracle_nll_of_test": mle.oracle_nll_of_test(),
        "seed": seed,
        "schedule": dataclasses.asdict(schedule),
        "env_options": dataclasses.asdict(game.config),
        "validation_curve_mle": validation_curve,
    }
    write_json_atomic(out_dir / "results.json", result)
    return result


def _validation_point(recipe: SeqGANRecipe, validation: torch.Tensor, n: int) -> dict[str, float]:
    """NLL-oracle of fresh samples (not the reported ones) and NLL of the validation reals."""
    return recipe.nll_oracle(recipe.sample(n)) | {"nll_test": recipe.nll_at(validation, [1.0])[1.0]}


def _validation_sweep(
    recipe: SeqGANRecipe, validation: torch.Tensor, schedule: FrontierSchedule
) -> list[dict[str, float]]:
    """MLE's temperature curve on the validation frontier."""
    nll = recipe.nll_at(validation, schedule.sweep)
    return [
        {"temperature": tau, "nll_test": nll[tau]}
        | recipe.nll_oracle(recipe.sample(schedule.eval_samples, tau))
        for tau in schedule.sweep
    ]


def format_frontier_table(result: dict[str, Any]) -> str:
    """Markdown table of ``run_frontier``'s result."""
    lines = [
        "| generator | beta | NLL-oracle | NLL-test | frontier gap vs mle | validation gap | "
        "BLEU-2 | Self-BLEU-4 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["generators"].items():
        val = row.get("validation_frontier_gap")
        lines.append(
            f"| {name} | {row.get('beta', '-')} | {row['nll_oracle']:.3f} ± "
            f"{row['nll_oracle_se']:.3f} | {row['nll_test']:.3f} | {row['frontier_gap']:+.3f} ± "
            f"{row['frontier_gap_se']:.3f} | {'-' if val is None else f'{val:+.3f}'} | "
            f"{row['bleu2']:.3f} | {row['self_bleu4']:.3f} |"
        )
    ceiling = result["density_ratio_ceiling"]
    lines.append(
        f"\nceiling (p_ref * exp(logit D) / Z): NLL-test {ceiling['ceiling_nll_test']:.3f}, "
        f"p_ref's {ceiling['reference_nll_test']:.3f}, effective samples "
        f"{ceiling['effective_samples']:.0f} of {ceiling['samples']}"
    )
    return "\n".join(lines)
