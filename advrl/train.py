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
from advrl.agents.networks import ActorCritic
from advrl.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    write_json_atomic,
)
from advrl.config import config_from_overrides
from advrl.envs.make import EnvFactory, env_run_name, make_env, make_vector_env, resolve_env
from advrl.envs.seqgan import SequenceGame
from advrl.errors import UserError
from advrl.evaluation import evaluate
from advrl.gan.gail import (
    GAILConfig,
    LearnedReward,
    load_demos,
    load_reward_model,
    make_reward_model,
)
from advrl.gan.seqgan import SeqGANRecipe
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
    reward: str = "env"
    """env (the env's own), gail (learned from --demos), or model:PATH (a frozen one)."""
    demos: Path | None = None
    """Expert demonstrations (record_demos.py) for reward=gail."""
    reward_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """GAIL options (advrl.gan.gail.GAILConfig); strings are typed by it."""
    vec: str = "auto"
    """Vector env kind: auto (native if the env has one, else sync), sync, async, native."""


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
    reward: str = "env"
    demos: Path | None = None
    gail: GAILConfig | None = None


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
        preset_steps = None
        run_dir = Path(settings.run_dir or run["run_dir"])
        if settings.run_dir is None and not run_dir.exists():
            run_dir = Path(settings.resume).resolve().parent.parent  # the run was moved
    else:
        if settings.env is None or settings.algo is None:
            raise UserError("--env and --algo are required (or --resume a checkpoint)")
        env, algo, seed = settings.env, settings.algo, settings.seed
        hp = dict(settings.hp)
        preset = find_preset(algo, env, str(hp.pop("preset", "default")))
        hp_base = preset.hp
        num_envs = settings.num_envs or preset.num_envs
        preset_steps = preset.total_steps
        run_dir = Path(
            settings.run_dir or f"runs/{env_run_name(env)}__{algo}__{seed}__{int(time.time())}"
        )
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(
                f"run dir {str(run_dir)!r} already holds files; pick another "
                "--run-dir, or --resume a checkpoint from it"
            )
    algo_cls = get_algorithm(algo)
    if checkpoint is None:
        factory = resolve_env(env, settings.env_kwargs)
        # The preset's env options (typed already) go under the user's.
        factory = dataclasses.replace(factory, kwargs={**preset.env_kwargs, **factory.kwargs})
    else:
        factory = resolve_env(env, env_kwargs)
    probe = make_env(factory, training=False)
    try:
        check_spaces(algo_cls, probe.observation_space, probe.action_space, env)
        is_seqgan = isinstance(getattr(probe.unwrapped, "game", None), SequenceGame)
        if checkpoint is None:
            # Settings the env itself asks for (SeqGAN-v0's discount), over the preset.
            fields = {f.name for f in dataclasses.fields(algo_cls.Config)}
            recommended = getattr(probe.unwrapped, "recommended_hp", {})
            hp_base = {**hp_base, **{k: v for k, v in recommended.items() if k in fields}}
    finally:
        probe.close()
    config = config_from_overrides(algo_cls.Config, hp_base, hp, f"--algo {algo}")
    reward, demos, gail = _plan_reward(settings, checkpoint, env)
    if reward.startswith("model:") and is_seqgan:
        # A SeqGAN-v0 discriminator is the env's own reward model: load it there, frozen.
        path = reward.removeprefix("model:")
        factory = dataclasses.replace(
            factory, kwargs={**factory.kwargs, "discriminator_path": path, "d_every": 0}
        )
        reward = "env"
    total_steps = settings.total_steps
    if total_steps is None:
        total_steps = (
            (preset_steps or DEFAULT_TOTAL_STEPS)
            if checkpoint is None
            else checkpoint["run"]["total_steps"]
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
        reward,
        demos,
        gail,
    )


def _plan_reward(
    settings: TrainSettings, checkpoint: dict[str, Any] | None, env: str
) -> tuple[str, Path | None, GAILConfig | None]:
    """Check --reward, --demos and --reward-kwargs; a resumed run keeps its own."""
    if checkpoint is not None:
        run = checkpoint["run"]
        reward = run.get("reward", "env")
        demos = Path(run["demos"]) if run.get("demos") else None
        base = run.get("gail") or {}
        base = {**base, "hidden_sizes": tuple(base.get("hidden_sizes", (64, 64)))}
    else:
        reward, demos, base = settings.reward, settings.demos, {}
    if reward not in ("env", "gail") and not reward.startswith("model:"):
        raise UserError(f"--reward must be env, gail or model:PATH, got {reward!r}")
    if reward == "gail" and demos is None:
        raise UserError("--reward gail needs --demos FILE (make one with record_demos.py)")
    if demos is not None and reward != "gail":
        raise UserError("--demos is only used with --reward gail")
    if reward.startswith("model:") and not Path(reward.removeprefix("model:")).is_file():
        raise UserError(f"reward model file not found: {reward.removeprefix('model:')}")
    if settings.reward_kwargs and reward != "gail":
        raise UserError("--reward-kwargs configure --reward gail only")
    gail = None
    if reward == "gail":
        gail = config_from_overrides(GAILConfig, base, settings.reward_kwargs, "--reward gail")
        load_demos(demos)  # a bad file fails here, before anything is written
    return reward, demos, gail


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


def _learned_reward(plan: _Plan, envs: Any) -> LearnedReward:
    """Wrap ``envs`` so the agent learns from GAIL's or a saved reward model's reward."""
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    if plan.reward == "gail":
        assert plan.gail is not None and plan.demos is not None
        model = make_reward_model(obs_space, act_space, plan.gail)
        return LearnedReward(envs, model, load_demos(plan.demos), plan.gail, seed=plan.seed)
    model = load_reward_model(plan.reward.removeprefix("model:"), obs_space, act_space)
    return LearnedReward(envs, model)


def _seqgan_recipe(envs: Any, agent: Any, device: torch.device) -> SeqGANRecipe | None:
    """SeqGAN's recipe when the env is SeqGAN-v0 and the agent has an actor-critic policy."""
    game = getattr(envs.unwrapped, "game", None)
    policy = getattr(agent, "policy", None)
    if not isinstance(game, SequenceGame) or not isinstance(policy, ActorCritic):
        return None
    return SeqGANRecipe(game, policy, device)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _SeqGANStages:
    """Runs the SeqGAN recipe's stages inside ``train`` and logs them to TensorBoard."""

    def __init__(self, recipe: SeqGANRecipe, logger: RunLogger, seed: int) -> None:
        self.recipe, self.logger, self.seed = recipe, logger, seed
        self.writer = logger.writer
        self.mle: dict[str, Any] = {}
        self.d_pretrain: dict[str, float] = {}
        self.last_eval_step = logger.global_step

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        for key, value in metrics.items():
            if isinstance(value, float):
                self.writer.add_scalar(f"seqgan/{key}", value, step)
        if "samples" in metrics:
            self.writer.add_text("seqgan/samples", "\n\n".join(metrics["samples"]), step)

    def pretrain(self) -> None:
        recipe, cfg = self.recipe, self.recipe.game.config
        step = self.logger.global_step
        untrained = recipe.evaluate(min(cfg.eval_samples, 1000))
        _say(f"seqgan: untrained generator  {_brief(untrained)}")

        def log_epoch(epoch: int, loss: float, val_nll: float | None) -> None:
            self.writer.add_scalar("seqgan/mle_loss", loss, epoch)
            if val_nll is not None:
                self.writer.add_scalar("seqgan/mle_val_nll", val_nll, epoch)
            if epoch % 5 == 0 or epoch == cfg.mle_epochs or val_nll is not None:
                val = "" if val_nll is None else f"  validation NLL {val_nll:.4f}"
                _say(f"seqgan: MLE epoch {epoch}/{cfg.mle_epochs}  loss {loss:.4f}{val}")

        start = time.perf_counter()
        losses = recipe.pretrain_mle(self.seed, log_epoch)
        mle_seconds = time.perf_counter() - start
        start = time.perf_counter()
        self.d_pretrain = recipe.pretrain_discriminator()
        d_seconds = time.perf_counter() - start
        _say(
            f"seqgan: discriminator pre-trained ({cfg.d_pretrain_rounds} rounds, "
            f"{d_seconds:.0f} s)  accuracy {self.d_pretrain.get('accuracy', float('nan')):.3f}"
        )
        recipe.d_logged = len(recipe.game.d_history)
        after_mle = recipe.evaluate(sweep=True)  # MLE's curve, to set the final one against
        self.log_metrics(after_mle, step)
        kept = f"epoch {recipe.best_epoch} of {len(losses)}"
        _say(f"seqgan: after MLE ({kept}, {mle_seconds:.0f} s)  {_brief(after_mle)}")
        self.mle = {
            "untrained": untrained,
            "after_mle": after_mle,
            "mle_losses": losses,
            "mle_val_nll": recipe.val_nll,
            "mle_best_epoch": recipe.best_epoch,
            "mle_seconds": mle_seconds,
            "discriminator_pretrain": self.d_pretrain,
        }

    def after_update(self, step: int) -> None:
        for phase in self.recipe.after_update():
            for key, value in phase.items():
                self.writer.add_scalar(f"discriminator/{key}", value, step)
        every = self.recipe.game.config.eval_every
        if every and step - self.last_eval_step >= every:
            self.last_eval_step = step
            metrics = self.recipe.evaluate(min(self.recipe.game.config.eval_samples, 2000))
            self.log_metrics(metrics, step)
            _say(f"seqgan: step {step:,}  {_brief(metrics)}")

    def finish(self, run_dir: Path) -> dict[str, Any]:
        """Final metrics with the temperature sweep; saves generator and discriminator."""
        recipe = self.recipe
        final = recipe.evaluate(sweep=True)
        self.log_metrics(final, self.logger.global_step)
        _say(f"seqgan: after adversarial training  {_brief(final)}")
        torch.save(recipe.policy.state_dict(), run_dir / "generator.pt")
        recipe.game.save_discriminator(run_dir / "discriminator.pt")
        history = recipe.game.d_history
        before = self.mle.get("after_mle", {})
        return {
            **{k: v for k, v in final.items() if k not in ("samples", "eval_seconds")},
            "nll_oracle_mle": before.get("nll_oracle"),
            "nll_test_mle": before.get("nll_test"),
            "temperature_sweep_mle": before.get("temperature_sweep"),
            "discriminator_accuracy": history[-1]["accuracy"] if history else None,
            "samples": final["samples"],
            "seqgan": {
                **self.mle,
                "after_adversarial": final,
                "discriminator_phases": len(history),
                "generator": str(run_dir / "generator.pt"),
                "discriminator": str(run_dir / "discriminator.pt"),
            },
        }


def _brief(metrics: dict[str, Any]) -> str:
    keys = ("nll_oracle", "nll_test", "bleu2", "self_bleu4", "mean_reward")
    return "  ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics)


def train(settings: TrainSettings) -> dict[str, Any]:
    """Run ``settings`` to the end and return the summary written to summary.json."""
    plan = _plan(settings)
    start_time = time.perf_counter()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir = plan.run_dir / "checkpoints"

    seed_everything(plan.seed)
    envs = make_vector_env(plan.factory, plan.num_envs, settings.vec)
    learned: LearnedReward | None = None
    if plan.reward != "env":
        learned = _learned_reward(plan, envs)
        envs = learned
    agent = plan.algo_cls(
        envs.single_observation_space, envs.single_action_space, plan.config, plan.device
    )
    recipe = _seqgan_recipe(envs, agent, plan.device)
    if plan.checkpoint is not None:
        agent.load_state_dict(plan.checkpoint["agent"])
        set_rng_state(plan.checkpoint["rng"])
        if recipe is not None:
            recipe.game.load_state_dict(plan.checkpoint["env_state"], recipe.generator)
        if learned is not None and plan.checkpoint.get("reward_model") is not None:
            learned.reward_model.load_state_dict(plan.checkpoint["reward_model"])

    run_meta = {
        "env": plan.env,
        "algo": plan.algo_cls.name,
        "seed": plan.seed,
        "num_envs": plan.num_envs,
        "env_kwargs": dict(plan.factory.kwargs),
        "run_dir": str(plan.run_dir),
        "total_steps": plan.total_steps,
        "advrl_version": advrl.__version__,
        "reward": plan.reward,
        "demos": str(plan.demos) if plan.demos else None,
        "gail": dataclasses.asdict(plan.gail) if plan.gail else None,
    }

    def save(name: str) -> Path:
        return save_checkpoint(
            checkpoint_dir / name,
            {
                "run": run_meta,
                "config": dataclasses.asdict(plan.config),
                "agent": agent.state_dict(),
                "rng": rng_state(),
                "env_state": recipe.game.state_dict() if recipe is not None else None,
                "reward_model": learned.reward_model.state_dict() if learned else None,
            },
        )

    last_saved = agent.global_step
    logged_phases = [0]

    def maybe_checkpoint(step: int) -> None:
        nonlocal last_saved
        every = settings.checkpoint_every
        if every and step // every > last_saved // every:
            save(f"step_{step:010d}.pt")
            last_saved = step

    def on_update(step: int) -> None:
        if recipe is not None:
            seqgan.after_update(step)
        if learned is not None:
            for phase in learned.history[logged_phases[0] :]:
                for key, value in phase.items():
                    logger.writer.add_scalar(f"discriminator/{key}", value, step)
            logged_phases[0] = len(learned.history)
        maybe_checkpoint(step)

    hparams = {**run_meta, **dataclasses.asdict(plan.config), "device": str(plan.device)}
    logger = RunLogger(
        plan.run_dir,
        plan.total_steps,
        agent.global_step,
        hparams,
        on_update=on_update,
        return_tag="charts/true_episodic_return" if learned else "charts/episodic_return",
    )
    seqgan = _SeqGANStages(recipe, logger, plan.seed) if recipe is not None else None
    if seqgan is not None and plan.checkpoint is None:
        seqgan.pretrain()
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
    seqgan_summary: dict[str, Any] = {}
    if seqgan is not None:
        # A generator is judged by its samples, under the discriminator it trained against.
        seqgan_summary = seqgan.finish(plan.run_dir)
        returns = np.array([seqgan_summary["mean_reward"]])
    elif settings.eval_episodes:
        returns = evaluate(
            agent,
            plan.factory,
            settings.eval_episodes,
            seed=plan.seed + 10_000,
            video_dir=video_dir,
        )
    else:
        returns = np.zeros(0)
    if learned is not None:
        path = learned.save(
            plan.run_dir / "reward_model.pt",
            envs.single_observation_space,
            envs.single_action_space,
        )
        history = learned.history
        seqgan_summary |= {
            "reward_model": str(path),
            "discriminator_phases": len(history),
            "discriminator_accuracy": history[-1].get("accuracy") if history else None,
        }
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
        **seqgan_summary,
    }
    write_json_atomic(plan.run_dir / "summary.json", summary)
    return summary
