"""SeqGAN-v0 on the paper's oracle: MLE only, SeqGAN with REINFORCE, SeqGAN with PPO.

One process, one seed: the generator is MLE pre-trained once and the discriminator
pre-trained once, both saved as a run saves them; each adversarial row is then a user's run
(``advrl.train`` with SeqGAN's recipe plug-in, ``adversarial_run``) that starts from those
two files, so the three rows differ only in what happened after MLE. Each row reports
NLL-oracle, NLL-test (at temperature 1) and wall time; the paper's figures are printed
beside them. A second table gives the Monte Carlo reward throughput of the env (B=64, N=16,
T=20, V=5000).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch

from advrl.agents import get_algorithm
from advrl.agents.bc import token_nll
from advrl.agents.rollout import OnPolicyAgent
from advrl.benchmarks import SHARED_BENCHMARKS
from advrl.core.checkpoint import save_tensors_atomic
from advrl.core.config import config_from_overrides
from advrl.core.device import has_mallopt, keep_freed_memory, resolve_device
from advrl.core.seeding import seed_everything
from advrl.envs.seqgan import SeqGANConfig, SeqGANEnv, SeqGANVectorEnv, SequenceGame
from advrl.gan.metrics import bleu, self_bleu
from advrl.plugins import Plugin, Run
from advrl.plugins.seqgan_recipe import (
    SeqGANRecipe,
    SeqGANRecipeConfig,
    policy_agent,
    seqgan_game,
)
from advrl.presets import find_preset
from advrl.train import TrainSettings, train

PAPER_ORACLE = SHARED_BENCHMARKS / "seqgan_oracle"
PAPER_NLL_ORACLE = {"mle": 9.038, "seqgan_reinforce": 8.736}
COCO = PAPER_ORACLE.parent / "coco_captions"
TEXYGEN_COCO = {
    "seqgan_reinforce": {
        "bleu2": 0.745,
        "bleu3": 0.498,
        "bleu4": 0.294,
        "bleu5": 0.180,
        "self_bleu4": 0.670,
    },
    "training_set": {
        "bleu2": 0.740,
        "bleu3": 0.520,
        "bleu4": 0.337,
        "bleu5": 0.218,
        "self_bleu4": 0.573,
    },
}
"""Texygen's published COCO figures (geek-ai/Texygen docs/evaluation.md: BLEU "on test
dataset", Self-BLEU on the generated text)."""


BENCHMARK_STEPS = 64 * 64 * 20
"""The seqgan suite's adversarial steps on the CPU preset (64 generator updates), kept when
``make run``'s default was halved, so the suite's results stay comparable."""


def _env_options(preset: str, oracle_params: str | None) -> dict[str, Any]:
    options = dict(find_preset("ppo", "SeqGAN-v0", preset).env_kwargs)
    if oracle_params:
        options["oracle_params"] = oracle_params
    return options


def recipe_options(preset: str, overrides: dict[str, Any] | None = None) -> SeqGANRecipeConfig:
    """The preset's recipe options (MLE, D pre-training, evaluation), ``overrides`` on top."""
    preset_options = find_preset("ppo", "SeqGAN-v0", preset).recipe_kwargs
    return SeqGANRecipeConfig(**{**preset_options, **(overrides or {})})


def run_seqgan_benchmark(
    preset: str = "default",
    seed: int = 1,
    adversarial_steps: int | None = None,
    device: str = "auto",
    oracle_params: str | None = None,
    env: dict[str, Any] | None = None,
    recipe: dict[str, Any] | None = None,
    coco: bool = True,
    throughput: bool = True,
) -> dict[str, Any]:
    """The three rows and the throughput figures, as a JSON-ready dict.

    ``env`` and ``recipe`` are SeqGAN-v0 and recipe options over the preset's (tests shrink
    the oracle and MLE with them); ``coco`` adds the COCO captions' rows where the data is,
    ``throughput`` the Monte Carlo reward throughput (``mc_throughput``).
    """
    torch_device = resolve_device(device)
    if oracle_params is None and (PAPER_ORACLE / "target_params.npz").exists():
        oracle_params = str(PAPER_ORACLE / "target_params.npz")
    options = {**_env_options(preset, oracle_params), **(env or {})}
    options["device"] = str(torch_device)
    config = SeqGANConfig(**options)
    seed_everything(seed)
    game = SequenceGame(config)

    rows: dict[str, dict[str, Any]] = {}
    mle_agent, _ = new_agent(game, "ppo", torch_device, preset)
    mle = SeqGANRecipe(game, mle_agent.policy, torch_device, recipe_options(preset, recipe))
    start = time.perf_counter()
    mle_losses = mle.pretrain_mle(seed)
    mle_seconds = time.perf_counter() - start
    start = time.perf_counter()
    d_metrics = mle.pretrain_discriminator()
    d_seconds = time.perf_counter() - start

    preset_steps = find_preset("ppo", "SeqGAN-v0", preset).total_steps
    steps = adversarial_steps or (preset_steps if preset != "default" else None) or BENCHMARK_STEPS
    with saved_start(mle) as saved:
        for algo in ("reinforce", "ppo"):
            run = adversarial_run(
                saved, config, algo, steps, seed, torch_device, preset, recipe=recipe
            )
            summary = run.run_summary
            if not rows:  # the generator both runs start from, as the first one measured it
                rows["mle"] = {**_row(summary["seqgan"]["after_mle"]), "wall_s": mle_seconds}
                rows["mle"]["discriminator_pretrain_accuracy"] = d_metrics.get("accuracy")
                rows["mle"] |= {"mle_epochs_run": len(mle_losses), "mle_best_epoch": mle.best_epoch}
            rows[f"seqgan_{algo}"] = {
                **_row(summary),
                "wall_s": run.seconds + mle_seconds + d_seconds,
                "adversarial_s": run.seconds,
                "adversarial_steps": steps,
                "discriminator_accuracy": summary["discriminator_accuracy"],
            }
    result = {
        "preset": preset,
        "seed": seed,
        "device": str(torch_device),
        "oracle": config.oracle_params or f"random (seed {config.oracle_seed})",
        "env_options": dataclasses.asdict(config),
        "rows": rows,
    }
    if throughput:
        result["throughput"] = mc_throughput(torch_device)
    if coco and (COCO / "train.txt").exists():
        result["coco"] = coco_rows(preset, seed, steps, torch_device)
    return result


def coco_rows(preset: str, seed: int, steps: int, device: torch.device) -> dict[str, Any]:
    """MLE and SeqGAN (REINFORCE) on COCO captions, with the training sentences scored the
    same way (Texygen's protocol check): BLEU-2..5 of 500 generated sentences against all
    10,000 test captions, Self-BLEU-4 of those 500, NLL-test."""
    options = _env_options(preset, None)
    options |= {"dataset": str(COCO / "train.txt"), "test_dataset": str(COCO / "test.txt")}
    options["device"] = str(device)
    seed_everything(seed)
    config = SeqGANConfig(**options)
    game = SequenceGame(config)
    agent, _ = new_agent(game, "reinforce", device, preset)
    mle = SeqGANRecipe(game, agent.policy, device, recipe_options(preset))
    start = time.perf_counter()
    mle.pretrain_mle(seed)
    mle.pretrain_discriminator()
    mle_seconds = time.perf_counter() - start
    rows = {"mle": {**_text_row(mle.metrics_of(mle.sample(500))), "wall_s": mle_seconds}}
    with saved_start(mle) as saved:
        run = adversarial_run(saved, config, "reinforce", steps, seed, device, preset)
    rows["seqgan_reinforce"] = {
        **_text_row(run.recipe.metrics_of(run.recipe.sample(500))),
        "wall_s": run.seconds + mle_seconds,
    }
    order = torch.randperm(len(game.data.train), generator=torch.Generator().manual_seed(seed))
    real = game.data.tokens(game.data.train[order[:500]])
    rows["training_set"] = {
        **{f"bleu{k}": v for k, v in bleu(real, game.data.references(), n=(2, 3, 4, 5)).items()},
        "self_bleu4": self_bleu(real, n=4),
    }
    return {"rows": rows, "seq_len": game.length, "texygen": TEXYGEN_COCO}


def _text_row(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("nll_test", "bleu2", "bleu3", "bleu4", "bleu5", "self_bleu4", "samples")
    return {key: metrics[key] for key in keys}


def new_agent(
    game: SequenceGame,
    algo: str,
    device: torch.device,
    preset: str = "default",
    overrides: dict[str, Any] | None = None,
) -> tuple[Any, int]:
    """An ``algo`` agent for ``game`` with its SeqGAN-v0 preset (and the env's recommended
    discount), ``overrides`` on top; and the preset's number of envs. For MLE outside a
    run: adversarial training goes through ``adversarial_run``."""
    found = find_preset(algo, "SeqGAN-v0", preset)
    algo_cls = get_algorithm(algo)
    env = SeqGANEnv(game=game)
    hp = {**found.hp, **env.recommended_hp, **(overrides or {})}
    config = config_from_overrides(algo_cls.Config, hp, {}, algo)
    agent = algo_cls(env.observation_space, gym.spaces.Discrete(game.vocab_size), config, device)
    return agent, found.num_envs


GENERATOR, DISCRIMINATOR = "generator.pt", "discriminator.pt"
"""The files a run saves its generator and discriminator in, and ``saved_start`` too."""


@contextlib.contextmanager
def saved_start(recipe: SeqGANRecipe) -> Iterator[Path]:
    """A temporary folder with ``recipe``'s generator and its game's discriminator, saved as
    a run saves them, for ``adversarial_run`` to start from."""
    with tempfile.TemporaryDirectory(prefix="advrl-seqgan-start-") as folder:
        save_tensors_atomic(Path(folder) / GENERATOR, recipe.policy.state_dict())
        recipe.game.save_discriminator(Path(folder) / DISCRIMINATOR)
        yield Path(folder)


class Measure(Plugin):
    """What a benchmark takes from a run beyond its summary: the adversarial phase's wall
    time, ``after_update(recipe)`` after every update (after the recipe's own, which moves
    the rollout policy), ``wrap_envs(envs)`` around the run's envs (a control's reward), and
    the trained generator, as a ``SeqGANRecipe`` over the run's game, to measure after it."""

    name = "benchmark"

    def __init__(
        self,
        after_update: Callable[[SeqGANRecipe], None] | None = None,
        wrap_envs: Callable[[gym.vector.VectorEnv], gym.vector.VectorEnv] | None = None,
    ) -> None:
        self.callback, self.wrap = after_update, wrap_envs
        self._recipe: SeqGANRecipe | None = None
        self.seconds = 0.0
        """Wall seconds from the end of pre-training to the last update."""
        self.run_summary: dict[str, Any] = {}
        """The run's summary (``adversarial_run`` sets it)."""
        self._started = 0.0

    @property
    def recipe(self) -> SeqGANRecipe:
        """The run's generator and game, from the start of learning on."""
        if self._recipe is None:
            raise RuntimeError("the run has not started learning")
        return self._recipe

    def wrap_envs(self, run: Run, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        return envs if self.wrap is None else self.wrap(envs)

    def before_learn(self, run: Run) -> None:
        # After the recipe's own before_learn: the generator is loaded, the rollout synced.
        policy = policy_agent(run).policy
        self._recipe = SeqGANRecipe(seqgan_game(run), policy, run.device)
        self._started = time.perf_counter()

    def after_update(self, run: Run, step: int) -> None:
        self.seconds = time.perf_counter() - self._started
        if self.callback is not None:
            self.callback(self.recipe)


def adversarial_run(
    start: Path,
    env: SeqGANConfig,
    algo: str,
    steps: int,
    seed: int,
    device: torch.device,
    preset: str = "default",
    hp: dict[str, Any] | None = None,
    recipe: dict[str, Any] | None = None,
    after_update: Callable[[SeqGANRecipe], None] | None = None,
    wrap_envs: Callable[[gym.vector.VectorEnv], gym.vector.VectorEnv] | None = None,
) -> Measure:
    """``steps`` of adversarial training by a fresh ``algo`` agent, run as a user's run is:
    ``advrl.train`` on SeqGAN-v0 with ``env``'s options, the ``preset``'s hyperparameters and
    recipe options with ``hp`` and ``recipe`` over them, starting from the generator and
    discriminator in ``start`` (``saved_start``) instead of pre-training. What ``Measure``
    kept of it (the trained generator, the wall time, the run's summary).

    ``after_update(recipe)`` runs after every agent update, once the rollout policy moved;
    ``wrap_envs`` wraps the vector env the agent learns on (a control's reward, say).
    """
    measure = Measure(after_update, wrap_envs)
    with tempfile.TemporaryDirectory(prefix="advrl-seqgan-run-") as folder:
        settings = TrainSettings(
            env="SeqGAN-v0",
            algo=algo,
            total_steps=steps,
            seed=seed,
            device=str(device),
            run_dir=Path(folder) / "run",
            env_kwargs={
                **dataclasses.asdict(env),
                "discriminator_path": str(start / DISCRIMINATOR),
            },
            hp={"preset": preset, **(hp or {})},
            recipe_kwargs={**(recipe or {}), "generator_path": str(start / GENERATOR)},
        )
        measure.run_summary = train(settings, plugins=[measure])
    return measure


def _row(metrics: dict[str, Any]) -> dict[str, Any]:
    """A generator's columns of the table, from ``SeqGANRecipe.evaluate(sweep=True)``'s
    metrics (a run's summary has them)."""
    keys = ("nll_oracle", "nll_oracle_se", "nll_test", "bleu4", "self_bleu4", "temperature_sweep")
    return {key: metrics.get(key) for key in keys}


def _token_policy(envs: SeqGANVectorEnv, algo: str, device: torch.device) -> Any:
    """A fresh ``algo`` agent's token policy for ``envs`` (the linear softmax head)."""
    algo_cls = get_algorithm(algo)
    config = config_from_overrides(algo_cls.Config, {"hidden_sizes": ()}, {}, algo)
    spaces = (envs.single_observation_space, envs.single_action_space)
    return cast(OnPolicyAgent, algo_cls(*spaces, config, device)).policy


def mc_throughput(
    device: torch.device,
    batch: int = 64,
    n_rollouts: int = 16,
    repeats: int = 3,
    discriminator: str = "small",
    stepwise: bool = True,
) -> dict[str, Any]:
    """Sequences the env completes and scores per second in rollout mode (B=64, N=16,
    T=20, V=5000, an MLE-sized token LSTM rollout policy).

    One whole episode of B sequences: T - 1 steps of B * N completions each, plus the B
    finished sequences; the median of ``repeats`` episodes. ``stepwise=False`` hides the
    policy's ``start``/``step`` so completions re-read the whole prefix at every token (the
    O(T²) path, as before advrl read prefixes once).
    """
    config = SeqGANConfig(
        n_train=64, n_test=64, n_rollouts=n_rollouts, d_every=0, discriminator=discriminator
    )
    config.device = str(device)
    game = SequenceGame(config)
    envs = SeqGANVectorEnv(num_envs=batch, game=game)
    policy = _token_policy(envs, "ppo", device)
    game.update_rollout_policy(policy.logits_module())
    if not stepwise:
        rollout = game.rollout_policy
        game.set_rollout_policy(lambda obs: rollout(obs))
    rng = np.random.default_rng(0)
    times = []
    for _ in range(repeats):
        envs.reset(seed=0)
        start = time.perf_counter()
        for _ in range(game.length):
            envs.step(rng.integers(0, game.vocab_size, size=batch))
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    scored = batch * n_rollouts * (game.length - 1) + batch
    return {
        "discriminator": discriminator,
        "completion": "stepwise O(T)" if stepwise else "whole prefix O(T^2)",
        "batch": batch,
        "n_rollouts": n_rollouts,
        "seq_len": game.length,
        "vocab_size": game.vocab_size,
        "episode_seconds": seconds,
        "sequences_scored_per_s": scored / seconds,
        "env_steps_per_s": batch * game.length / seconds,
    }


def mle_step_seconds(
    device: torch.device, batch: int = 64, steps: int = 40, warmup: int = 5
) -> float:
    """Median seconds of one MLE step (teacher-forced cross-entropy, backward, clipped Adam)
    of the 32/32 token LSTM on B=64 oracle sequences of T=20 tokens, V=5000."""
    config = SeqGANConfig(n_train=batch * 8, n_test=64, d_every=0, device=str(device))
    game = SequenceGame(config)
    policy = _token_policy(SeqGANVectorEnv(num_envs=1, game=game), "reinforce", device)
    params = list(policy.logits_module().parameters())
    optimizer = torch.optim.Adam(params, lr=1e-2)
    data = game.data.train.to(device)
    times = []
    for step in range(warmup + steps):
        rows = data[(torch.arange(batch) + step * batch) % len(data)]
        start = time.perf_counter()
        loss = token_nll(policy, rows, game.start_id, game.eos_id).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times[warmup:]))


def allocator_comparison(device: torch.device, repeats: int = 3) -> dict[str, Any] | None:
    """An MLE step and a Monte Carlo episode under glibc's own malloc settings, then with
    ``keep_freed_memory``, in this process; None off glibc or on CUDA. Must run before
    anything in the process calls ``keep_freed_memory`` (which cannot be undone: glibc's
    adaptive thresholds stop adapting once set)."""
    if device.type != "cpu" or not has_mallopt():
        return None

    def measure() -> dict[str, float]:
        episode = mc_throughput(device, repeats=repeats)
        return {
            "mle_step_ms": 1e3 * mle_step_seconds(device),
            "mc_episode_seconds": episode["episode_seconds"],
        }

    default = measure()
    keep_freed_memory()
    kept = measure()
    result: dict[str, Any] = {"glibc_default": default, "keep_freed_memory": kept}
    result["speedup"] = {
        "mle_step": default["mle_step_ms"] / kept["mle_step_ms"],
        "mc_episode": default["mc_episode_seconds"] / kept["mc_episode_seconds"],
    }
    return result


def throughput_suite(device: torch.device, repeats: int = 3) -> dict[str, Any]:
    """The ``seqgan-throughput`` suite: both completion paths with both discriminators, in
    one process, and the new / old ratio of sequences per second for each discriminator;
    first, on CPU, the allocator setting's effect (``allocator_comparison``)."""
    allocator = allocator_comparison(device, repeats)
    keep_freed_memory()
    rows = [
        mc_throughput(device, repeats=repeats, discriminator=name, stepwise=stepwise)
        for name in ("small", "paper")
        for stepwise in (False, True)
    ]
    ratios = {
        rows[i]["discriminator"]: rows[i + 1]["sequences_scored_per_s"]
        / rows[i]["sequences_scored_per_s"]
        for i in (0, 2)
    }
    return {"device": str(device), "rows": rows, "speedup": ratios, "allocator": allocator}


def format_throughput_table(result: dict[str, Any]) -> str:
    """Markdown table of ``throughput_suite``'s result."""
    lines = [
        f"SeqGAN-v0 Monte Carlo rewards, B=64, N=16, T=20, V=5000, device {result['device']}",
        "",
        "| discriminator | completion | s per episode | sequences scored per s |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['discriminator']} | {row['completion']} | {row['episode_seconds']:.2f} | "
            f"{row['sequences_scored_per_s']:,.0f} |"
        )
    lines += [
        "",
        "speedup (stepwise / whole prefix): "
        + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in result["speedup"].items()),
    ]
    allocator = result.get("allocator")
    if allocator:
        lines += [
            "",
            "| malloc | MLE step ms (B=64) | s per episode (small D, stepwise) |",
            "|---|---|---|",
        ]
        for name in ("glibc_default", "keep_freed_memory"):
            row = allocator[name]
            lines.append(f"| {name} | {row['mle_step_ms']:.1f} | {row['mc_episode_seconds']:.2f} |")
        speed = allocator["speedup"]
        lines.append(
            f"| **speedup** | **{speed['mle_step']:.2f}x** | **{speed['mc_episode']:.2f}x** |"
        )
    return "\n".join(lines)


def format_coco_table(coco: dict[str, Any]) -> str:
    """Markdown table of ``coco_rows``, Texygen's published figures beside ours."""
    lines = [
        f"COCO captions (T={coco['seq_len']}): BLEU-2..5 of 500 sentences against the 10,000 "
        "test captions, Self-BLEU-4 of the same 500; Texygen's published figure after each /",
        "",
        "| generator | BLEU-2 | BLEU-3 | BLEU-4 | BLEU-5 | Self-BLEU-4 | NLL-test |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in coco["rows"].items():
        theirs = coco["texygen"].get(name, {})
        cells = [
            f"{row[key]:.3f}" + (f" / {theirs[key]:.3f}" if key in theirs else "")
            for key in ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu4")
        ]
        nll = f"{row['nll_test']:.3f}" if "nll_test" in row else "-"
        lines.append(f"| {name} | {' | '.join(cells)} | {nll} |")
    return "\n".join(lines)


def format_seqgan_table(result: dict[str, Any]) -> str:
    """Markdown tables of ``run_seqgan_benchmark``'s result."""
    lines = [
        f"SeqGAN-v0, preset {result['preset']}, oracle {result['oracle']}, "
        f"device {result['device']}, seed {result['seed']}",
        "",
        "| generator | NLL-oracle | NLL-test | BLEU-4 | Self-BLEU-4 | wall s | paper NLL-oracle |",
        "|---|---|---|---|---|---|---|",
    ]
    paper = {"mle": "9.038", "seqgan_reinforce": "8.736", "seqgan_ppo": "-"}
    for name, row in result["rows"].items():
        oracle = "-"
        if row["nll_oracle"] is not None:
            oracle = f"{row['nll_oracle']:.3f} ± {row['nll_oracle_se']:.3f}"
        lines.append(
            f"| {name} | {oracle} | {row['nll_test']:.3f} | {row['bleu4']:.3f} | "
            f"{row['self_bleu4']:.3f} | {row['wall_s']:.0f} | {paper[name]} |"
        )
    if "coco" in result:
        lines += ["", format_coco_table(result["coco"])]
    t = result.get("throughput")
    if t is not None:
        lines += [
            "",
            f"Monte Carlo rewards (B={t['batch']}, N={t['n_rollouts']}, T={t['seq_len']}, "
            f"V={t['vocab_size']}): {t['sequences_scored_per_s']:,.0f} sequences completed and "
            f"scored per second ({t['env_steps_per_s']:,.0f} env steps/s; "
            f"{t['episode_seconds']:.2f} s per episode of {t['batch']} sequences)",
        ]
    return "\n".join(lines)
