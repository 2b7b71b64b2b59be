"""SeqGAN's paper schedule on CPU, with the controls that say what its gain is made of.

``python scripts/benchmark.py --suite seqgan-paper-cpu``, one process, one seed, on the
paper's oracle:

- ``mle_paper``: MLE the paper's way (120 epochs, Adam 1e-2, batch 64, all 10,000
  sequences, no early stopping).
- ``seqgan``: from ``mle_paper``, the paper's generator schedule: per adversarial epoch one
  REINFORCE step on 64 sequences, no baseline, lr 1e-2, 16 rollouts, rollout policy rate
  0.8; the discriminator's schedule scaled to the CPU (``PaperCPUSchedule``).
- ``constant_reward``: the same REINFORCE from the same MLE, every token rewarded with a
  constant (the mean reward SeqGAN's first generator step sees): what sharpening alone does
  (LantaoYu/SeqGAN #21).
- ``mle_matched``: ``mle_paper`` sampled at the temperature whose NLL-oracle equals
  SeqGAN's (bisection on common random numbers): cooling MLE instead (Caccia et al. 2020).
- ``mle_early``: the early-stopped MLE, the CPU default's generator.
- ``mle_strong``: the strongest MLE found on this oracle, chosen on a validation split
  (``--hp preset=strong_mle``: a wider token LSTM with variational dropout); the frontier's
  default reference, since a frontier is only as honest as its MLE.

``seqgan`` and ``constant_reward`` are users' runs (``advrl.train`` with SeqGAN's recipe,
``seqgan.adversarial_run``) started from ``mle_paper`` and the pre-trained discriminator.
Each generator gets NLL-oracle ± SE over ``eval_samples`` samples, NLL-test, BLEU-2..5,
Self-BLEU-4, wall time, a temperature sweep, its frontier gap against each MLE's curve, and
its evaluation samples in ``samples_NAME.txt.gz`` (one sequence of token ids a line).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from advrl.benchmarks.seqgan import adversarial_run, new_agent, saved_start
from advrl.core.checkpoint import write_json_atomic
from advrl.core.seeding import seed_everything
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.gan.frontier import frontier_gap, plot_frontier
from advrl.plugins.seqgan_recipe import SeqGANRecipe, SeqGANRecipeConfig, write_samples
from advrl.presets import find_preset

PAPER_FIGURES = {"mle_paper": 9.038, "seqgan": 8.736}
"""The paper's NLL-oracle (Yu et al. 2017, Table 1)."""
REFERENCES = ("mle_strong", "mle_paper", "mle_early")
"""The MLE curves every generator's frontier gap is measured against, the default first."""
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)


@dataclass
class PaperCPUSchedule:
    """What the suite trains; the defaults fit 60 minutes on 2 cores."""

    mle_epochs: int = 120
    """The paper's MLE epochs (Adam 1e-2, batch 64, all data)."""
    adversarial_epochs: int = 150
    """Generator steps of 64 sequences (the paper's figure is at epoch 150)."""
    discriminator: str = "small"
    """The CNN: ``small`` (4 ms per step) fits the budget, ``paper`` (50 ms) does not."""
    d_pretrain_rounds: int = 20
    """Rounds of fresh negatives before adversarial training (paper: 50 of 10,000)."""
    d_pretrain_negatives: int = 5000
    """Fresh MLE samples per pre-training round."""
    d_negatives: int = 1024
    """Fresh samples per discriminator round after every generator step (paper: 5 rounds
    of 10,000)."""
    d_epochs: int = 3
    """Epochs per round (paper: 3)."""
    eval_samples: int = 10_000
    """Samples per generator and per sweep temperature (paper: 10,000)."""
    sweep: tuple[float, ...] = SWEEP
    env: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Extra SeqGAN-v0 options (tests shrink the oracle with them)."""


def run_paper_cpu(
    out_dir: Path,
    schedule: PaperCPUSchedule | None = None,
    seed: int = 1,
    oracle_params: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and evaluate every generator; write results.json, samples and frontier.png."""
    schedule = schedule or PaperCPUSchedule()
    device = torch.device("cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "device": "cpu",
        "data_seed": seed,
        "init_seed": seed,
        "discriminator": schedule.discriminator,
        "n_rollouts": 16,
        "rollout_update_rate": 0.8,
        "d_every": 64,
        "d_rounds": 1,
        "d_negatives": schedule.d_negatives,
        "d_epochs": schedule.d_epochs,
        **schedule.env,
    }
    if oracle_params:
        options["oracle_params"] = oracle_params
    seed_everything(seed)
    game = SequenceGame(SeqGANConfig(**options))
    wall: dict[str, float] = {}
    evaluations: dict[str, dict[str, Any]] = {}

    def evaluate(
        name: str, recipe: SeqGANRecipe, temperature: float = 1.0, sweep: list | None = None
    ) -> None:
        start = time.perf_counter()
        evaluations[name] = evaluate_generator(
            recipe, schedule, out_dir / f"samples_{name}.txt.gz", temperature, sweep
        )
        say(
            f"{name}: NLL-oracle {evaluations[name].get('nll_oracle', float('nan')):.3f} "
            f"NLL-test {evaluations[name]['nll_test']:.3f} ({time.perf_counter() - start:.0f} s "
            "to evaluate)"
        )

    # MLE, the paper's way, and the early-stopped one
    recipes: dict[str, SeqGANRecipe] = {}
    strong_config, strong_hp = strong_mle()
    for name, config, hp in (
        ("mle_paper", SeqGANRecipeConfig(mle_epochs=schedule.mle_epochs, mle_patience=0), {}),
        ("mle_early", SeqGANRecipeConfig(), {}),
        ("mle_strong", strong_config, strong_hp),
    ):
        recipes[name], wall[name] = train_mle(game, name, config, hp, seed, say)
        evaluate(name, recipes[name])
    mle = recipes["mle_paper"]

    # the discriminator, pre-trained against the paper MLE's samples
    start = time.perf_counter()
    game.update_rollout_policy(mle.generator, rate=0.0)
    game.config.d_negatives = schedule.d_pretrain_negatives
    pretrain = game.train_discriminator(schedule.d_pretrain_rounds)
    game.config.d_negatives = schedule.d_negatives
    d_pretrain_s = time.perf_counter() - start
    start_reward = float(game.score(mle.sample(2000)).mean())
    say(
        f"discriminator: {schedule.d_pretrain_rounds} rounds, {d_pretrain_s:.0f} s, "
        f"accuracy {pretrain.get('accuracy', float('nan')):.3f}, mean reward {start_reward:.3f}"
    )
    steps = schedule.adversarial_epochs * 64 * game.length
    # Users' runs of the paper preset, measured at the end only (as the suite always was)
    # and by the suite's own protocol (``evaluate_generator``).
    recipe = {"eval_every": 0, "eval_samples": schedule.eval_samples}

    with saved_start(mle) as saved:
        run = adversarial_run(
            saved, game.config, "reinforce", steps, seed, device, "paper", recipe=recipe
        )
        recipes["seqgan"] = run.recipe
        wall["seqgan"] = run.seconds + wall["mle_paper"] + d_pretrain_s
        d_phases = run.run_summary["seqgan"]["discriminator_phases"]
        evaluate("seqgan", recipes["seqgan"])

        # control (a): the same REINFORCE with a constant reward, the discriminator unused
        run = adversarial_run(
            saved,
            dataclasses.replace(game.config, reward_mode="final", d_every=0),
            "reinforce",
            steps,
            seed,
            device,
            "paper",
            hp={"gamma": 0.0},
            recipe=recipe,
            wrap_envs=lambda envs: ConstantReward(envs, start_reward),
        )
        recipes["constant_reward"] = run.recipe
        wall["constant_reward"] = run.seconds + wall["mle_paper"]
        evaluate("constant_reward", recipes["constant_reward"])

    # control (b): MLE cooled to SeqGAN's NLL-oracle
    matched = None
    if game.oracle is not None:
        start = time.perf_counter()
        matched = matched_temperature(
            mle, evaluations["seqgan"]["nll_oracle"], schedule.eval_samples
        )
        wall["mle_matched"] = time.perf_counter() - start + wall["mle_paper"]
        # the same model as mle_paper: its sweep is mle_paper's
        evaluate("mle_matched", mle, matched, evaluations["mle_paper"]["temperature_sweep"])
        evaluations["mle_matched"]["temperature"] = matched

    for name, row in evaluations.items():
        row["wall_s"] = wall[name]
    generators = dict(evaluations)
    if game.oracle is not None:
        frontier_gaps(generators)
        plot_paper_frontier(generators, recipes["mle_paper"].oracle_nll_of_test(), out_dir)
    result = {
        "generators": generators,
        "paper_nll_oracle": PAPER_FIGURES,
        "oracle_nll_of_test": recipes["mle_paper"].oracle_nll_of_test() if game.oracle else None,
        "seed": seed,
        "schedule": dataclasses.asdict(schedule),
        "env_options": dataclasses.asdict(game.config),
        "discriminator_pretrain": pretrain,
        "discriminator_phases": d_phases,
        "constant_reward": start_reward,
        "mle_matched_temperature": matched,
    }
    write_json_atomic(out_dir / "results.json", result)
    return result


def strong_mle() -> tuple[SeqGANRecipeConfig, dict[str, Any]]:
    """The ``strong_mle`` preset's MLE options and its agent hyperparameters."""
    preset = find_preset("reinforce", "SeqGAN-v0", "strong_mle")
    hp = {k: v for k, v in preset.hp.items() if k == "token_lstm"}
    return SeqGANRecipeConfig(**preset.recipe_kwargs), hp


def train_mle(
    game: SequenceGame,
    name: str,
    config: SeqGANRecipeConfig,
    hp: dict[str, Any],
    seed: int,
    say: Callable[[str], None],
) -> tuple[SeqGANRecipe, float]:
    """A fresh generator (the paper preset's, ``hp`` over it) trained by MLE; its wall time."""
    agent, _ = new_agent(game, "reinforce", torch.device("cpu"), "paper", hp)
    recipe = SeqGANRecipe(game, agent.policy, torch.device("cpu"), config)
    start = time.perf_counter()
    recipe.pretrain_mle(seed, _every_tenth_epoch(name, say))
    wall = time.perf_counter() - start
    epochs = len(recipe.val_nll) or config.mle_epochs
    say(f"{name}: {epochs} epochs (kept {recipe.best_epoch}), {wall:.0f} s")
    return recipe, wall


def frontier_gaps(generators: dict[str, dict[str, Any]]) -> None:
    """Each generator's frontier gap against every MLE curve in ``REFERENCES`` it has."""
    for row in generators.values():
        for reference in REFERENCES:
            if reference not in generators:
                continue
            found = frontier_gap(generators[reference]["temperature_sweep"], row)
            row[f"frontier_gap_vs_{reference}"] = found.gap
            row[f"frontier_gap_vs_{reference}_se"] = found.se
            row[f"frontier_gap_vs_{reference}_in_range"] = found.in_range


def plot_paper_frontier(
    generators: dict[str, dict[str, Any]], oracle_point: float, out_dir: Path
) -> None:
    """frontier.png: every generator's temperature curve (mle_matched is mle_paper's)."""
    plot_frontier(
        {
            name: row["temperature_sweep"]
            for name, row in generators.items()
            if name != "mle_matched"
        },
        oracle_point,
        out_dir / "frontier.png",
        title="SeqGAN-v0, paper's oracle: NLL-oracle against NLL-test",
    )


def add_strong_reference(
    out_dir: Path, oracle_params: str | None = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Add ``mle_strong`` to a finished run's results.json: the same oracle, data and seed,
    its evaluation, samples and sweep, every frontier gap against it, frontier.png again.

    For a run made before mle_strong existed; a full run trains it in place (after the
    other two MLEs, so its random numbers, and its figures, differ slightly from these)."""
    path = out_dir / "results.json"
    result = json.loads(path.read_text())
    options = dict(result["env_options"])
    if oracle_params:  # the file may have moved since the run
        options["oracle_params"] = oracle_params
    seed = result["seed"]
    seed_everything(seed)
    game = SequenceGame(SeqGANConfig(**options))
    schedule = PaperCPUSchedule(
        **{**result["schedule"], "sweep": tuple(result["schedule"]["sweep"])}
    )
    config, hp = strong_mle()
    recipe, wall = train_mle(game, "mle_strong", config, hp, seed, say)
    row = evaluate_generator(recipe, schedule, out_dir / "samples_mle_strong.txt.gz", 1.0)
    row |= {"wall_s": wall, "added_later": True, "best_epoch": recipe.best_epoch}
    generators = result["generators"]
    generators["mle_strong"] = row
    frontier_gaps(generators)
    plot_paper_frontier(generators, result["oracle_nll_of_test"], out_dir)
    write_json_atomic(path, result)
    say(f"mle_strong: NLL-oracle {row['nll_oracle']:.3f} NLL-test {row['nll_test']:.3f}")
    return result


def _every_tenth_epoch(name: str, say: Callable[[str], None]) -> Callable[..., None]:
    def log(epoch: int, loss: float, val_nll: float | None) -> None:
        if epoch % 10 == 0:
            val = "" if val_nll is None else f", validation NLL {val_nll:.4f}"
            say(f"{name}: epoch {epoch}, loss {loss:.4f}{val}")

    return log


class ConstantReward(gym.vector.VectorWrapper):
    """Every step's reward replaced by ``value``: REINFORCE's pull without a critic."""

    def __init__(self, envs: gym.vector.VectorEnv, value: float) -> None:
        super().__init__(envs)
        self.value = value

    def step(self, actions: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return obs, np.full_like(reward, self.value), terminated, truncated, info


def matched_temperature(
    recipe: SeqGANRecipe, target: float, n: int, low: float = 0.3, high: float = 1.5
) -> float:
    """The temperature at which ``recipe``'s generator has NLL-oracle ``target``.

    NLL-oracle rises with temperature; every probe draws its samples from the same
    random numbers, so the bisection follows a smooth curve, not sampling noise.
    """
    rng = recipe.game.d_rng
    state = rng.get_state()

    def nll(tau: float) -> float:
        rng.set_state(state)
        return recipe.nll_oracle(recipe.sample(n, tau))["nll_oracle"]

    for _ in range(12):
        middle = (low + high) / 2
        low, high = (middle, high) if nll(middle) < target else (low, middle)
    rng.set_state(state)
    return (low + high) / 2


def evaluate_generator(
    recipe: SeqGANRecipe,
    schedule: PaperCPUSchedule,
    samples_path: Path,
    temperature: float,
    sweep: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """One generator's metrics at ``temperature``, its sweep (``sweep`` when it is known
    already), and its samples written."""
    samples = recipe.sample(schedule.eval_samples, temperature)
    write_samples(samples_path, samples)
    if sweep is None:  # after the samples, in the order the committed results were drawn in
        sweep = recipe.temperature_sweep(schedule.eval_samples, schedule.sweep)
    known = [row["nll_test"] for row in sweep if row["temperature"] == temperature]
    metrics = recipe.metrics_of(samples, temperature, known[0] if known else None)
    metrics["examples"] = metrics.pop("samples")  # five, as text
    metrics["samples"] = samples_path.name
    metrics["temperature_sweep"] = sweep
    return metrics


def format_paper_cpu_table(result: dict[str, Any]) -> str:
    """Markdown table of ``run_paper_cpu``'s result, the paper's figures beside."""
    lines = [
        "| generator | NLL-oracle | NLL-test | frontier gap vs mle_strong | vs mle_paper | "
        "vs mle_early | BLEU-2 | BLEU-5 | Self-BLEU-4 | wall s | paper |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["generators"].items():
        oracle = (
            "-"
            if "nll_oracle" not in row
            else f"{row['nll_oracle']:.3f} ± {row['nll_oracle_se']:.3f}"
        )
        gaps = [
            "-"
            if f"frontier_gap_vs_{ref}" not in row
            else f"{row[f'frontier_gap_vs_{ref}']:+.3f} ± {row[f'frontier_gap_vs_{ref}_se']:.3f}"
            for ref in REFERENCES
        ]
        label = name if "temperature" not in row else f"{name} (τ={row['temperature']:.3f})"
        lines.append(
            f"| {label} | {oracle} | {row['nll_test']:.3f} | {' | '.join(gaps)} | "
            f"{row['bleu2']:.3f} | {row['bleu5']:.3f} | {row['self_bleu4']:.3f} | "
            f"{row['wall_s']:.0f} | {result['paper_nll_oracle'].get(name, '-')} |"
        )
    return "\n".join(lines)
