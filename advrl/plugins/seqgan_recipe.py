"""SeqGAN's recipe around any advrl policy-gradient agent on SeqGAN-v0 (Yu et al. 2017).

1. MLE pre-training: the agent's token policy learns the real sequences by teacher-forced
   cross-entropy, which is behaviour cloning on sequence data (``advrl.agents.bc``); or a
   saved generator is loaded instead (``generator_path``).
2. Discriminator pre-training: real sequences against samples of the MLE generator.
3. Adversarial training: the agent's own ``learn`` on the discriminator's reward, with the
   env training the discriminator on its schedule; after every agent update the env's
   delayed rollout policy moves towards the agent's.

Generation metrics (``SeqGANRecipe.evaluate``): NLL-oracle (oracle data only), NLL-test,
BLEU-2..5 against held-out data, Self-BLEU-4, mean discriminator reward, a temperature sweep
and a few samples as text. ``SeqGANRecipePlugin`` runs all of it inside ``advrl.train``.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from advrl.agents.bc import BCConfig, counted_tokens, fit_likelihood, sequence_nll, token_nll
from advrl.agents.networks import ActorCritic
from advrl.agents.rollout import OnPolicyAgent
from advrl.agents.token_lstm import TokenPolicy
from advrl.core.checkpoint import save_tensors_atomic
from advrl.core.errors import UserError
from advrl.core.hooks import LearnHooks
from advrl.envs.seqgan import MEMORISATION_KEYS, SeqGANVectorEnv, SequenceGame, StepwisePolicy
from advrl.gan.density_ratio import importance_log_z, reweighted_nll
from advrl.gan.frontier import frontier_gap, plot_frontier
from advrl.gan.losses import GAN_LOSSES
from advrl.gan.metrics import bleu, self_bleu, temperature_sweep
from advrl.gan.oracle import OracleLSTM
from advrl.plugins.base import DiscriminatorLog, Plugin, Run
from advrl.plugins.cot import CooperativeTraining
from advrl.plugins.relgan import GumbelGenerator

SWEEP_TEMPERATURES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
"""Temperatures of every sweep: dense below 1, where MLE's frontier trades diversity for quality."""
KL_REFERENCES = ("start", "refresh")
ESTIMATORS = ("score_function", "gumbel", "cot")
"""The generator's gradient estimators (``estimator``); ``docs/concepts/gradient-estimators.md``."""
GENERATOR_NAMES = {"gumbel": "RelGAN's Gumbel-softmax generator", "cot": "CoT's generator"}
BLEU_HYPOTHESES = 500
"""Generated sentences scored for BLEU and Self-BLEU (all held-out ones are references)."""


@dataclass
class SeqGANRecipeConfig:
    """Options of SeqGAN's recipe (``--recipe-kwargs``): MLE, D pre-training, evaluation."""

    mle_epochs: int = 20
    """Epochs of MLE pre-training of the agent's policy (paper: 120)."""
    mle_lr: float = 1e-2
    """Adam learning rate of MLE pre-training (SeqGAN: 1e-2)."""
    mle_batch_size: int = 64
    """Sequences per MLE step (SeqGAN: 64)."""
    mle_patience: int = 2
    """Early stopping: MLE ends after this many epochs without a better validation NLL and
    keeps the best epoch's weights; 0 trains all ``mle_epochs`` on all data (SeqGAN)."""
    mle_val_fraction: float = 0.1
    """Share of the training sequences held out of MLE as its validation set (patience > 0)."""
    mle_dropout: float = 0.0
    """Variational dropout of the token LSTM's inputs and outputs during MLE (SeqGAN: 0).
    Acting and every likelihood the metrics report never drop units."""
    d_pretrain_rounds: int = 20
    """Discriminator pre-training rounds after MLE (SeqGAN: 50, each of 3 epochs). 20 is
    where the held-out-vs-fresh AUC levels off on data seed 1
    (``advrl/benchmarks/seqgan_memorisation.py --schedule pretrain``); 6 left it near chance."""
    eval_samples: int = 10_000
    """Generated sequences scored for NLL-oracle (SeqGAN: 10,000)."""
    eval_every: int = 0
    """Env steps between evaluations during adversarial training; 0: start and end only."""
    kl_reference: str = "start"
    """With the agent's ``kl_coef`` > 0, what its KL anchor's reference is: start (the
    generator adversarial training starts from, the density ratio's p_ref) or refresh (the
    current policy after every discriminator phase: a trust-region GAN)."""
    estimator: str = "score_function"
    """How adversarial training moves the generator: score_function (the agent's own policy
    gradient on D's reward: SeqGAN's REINFORCE, PPO), gumbel (RelGAN's generator trained
    through D by Gumbel-softmax relaxation, ``advrl.plugins.relgan``) or cot (Cooperative
    Training: per-step KL to a mediator, exact over the vocabulary, ``advrl.plugins.cot``).
    With gumbel or cot the agent's algorithm only supplies the policy; env steps count the
    tokens of the generator's training samples."""
    adv_batch_size: int = 64
    """gumbel and cot: sequences per generator step (RelGAN, CoT: 64)."""
    adv_lr: float = 1e-4
    """gumbel and cot: the generator's Adam learning rate (RelGAN's adversarial one: 1e-4)."""
    gumbel_beta_max: float = 100.0
    """gumbel: the inverse temperature at the run's end; it rises as beta_max^(step / total)
    from 1 (RelGAN's exp schedule; RelGAN reports 100 and 1000)."""
    gumbel_d_steps: int = 5
    """gumbel: discriminator steps per generator step (RelGAN: 5)."""
    gumbel_loss: str = "rsgan"
    """gumbel: the GAN loss of D and the generator (RelGAN: rsgan, the relativistic one)."""
    cot_mediator_lr: float = 1e-3
    """cot: the mediator's Adam learning rate."""
    cot_mediator_steps: int = 1
    """cot: mediator steps per generator step (CoT: 1)."""
    generator_path: str | None = None
    """Start from a saved generator (``generator.pt`` of a run) instead of MLE pre-training:
    its token policy's weights are loaded into the agent's (the critic stays the agent's
    own). With the env's ``discriminator_path`` as well, adversarial training starts at
    once, so several agents can start from one generator and one discriminator."""

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = [
            f"{name} must be >= 0, got {getattr(self, name)}"
            for name in ("mle_epochs", "mle_patience", "d_pretrain_rounds", "eval_every")
            if getattr(self, name) < 0
        ]
        problems += [
            f"{name} must be >= 1, got {getattr(self, name)}"
            for name in ("mle_batch_size", "eval_samples")
            if getattr(self, name) < 1
        ]
        if self.mle_patience and not 0.0 < self.mle_val_fraction < 1.0:
            problems.append(f"mle_val_fraction must be in (0, 1), got {self.mle_val_fraction}")
        if self.kl_reference not in KL_REFERENCES:
            problems.append(
                f"kl_reference must be one of {KL_REFERENCES}, got {self.kl_reference!r}"
            )
        if self.mle_lr <= 0:
            problems.append(f"mle_lr must be > 0, got {self.mle_lr}")
        if self.generator_path is not None and not Path(self.generator_path).is_file():
            problems.append(f"generator_path {self.generator_path!r} is not a file")
        if not 0.0 <= self.mle_dropout < 1.0:
            problems.append(f"mle_dropout must be in [0, 1), got {self.mle_dropout}")
        if self.estimator not in ESTIMATORS:
            problems.append(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.gumbel_loss not in GAN_LOSSES:
            problems.append(
                f"gumbel_loss must be one of {tuple(GAN_LOSSES)}, got {self.gumbel_loss!r}"
            )
        problems += [
            f"{name} must be > 0, got {getattr(self, name)}"
            for name in ("adv_lr", "cot_mediator_lr", "adv_batch_size")
            if getattr(self, name) <= 0
        ]
        problems += [
            f"{name} must be >= 0, got {getattr(self, name)}"
            for name in ("gumbel_d_steps", "cot_mediator_steps")
            if getattr(self, name) < 0
        ]
        if self.gumbel_beta_max < 1.0:
            problems.append(f"gumbel_beta_max must be >= 1, got {self.gumbel_beta_max}")
        return problems

    def mle(self) -> BCConfig:
        """MLE as behaviour cloning's options (SeqGAN's generator clips gradients at 5)."""
        return BCConfig(
            epochs=self.mle_epochs,
            lr=self.mle_lr,
            batch_size=self.mle_batch_size,
            patience=self.mle_patience,
            val_fraction=self.mle_val_fraction,
            max_grad_norm=5.0,
        )


class Tempered(nn.Module):
    """A logits module with its logits divided by a temperature."""

    def __init__(self, module: nn.Module, temperature: float) -> None:
        super().__init__()
        self.module, self.temperature = module, temperature

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.module(obs) / self.temperature

    def start(self, obs: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        logits, state = cast(StepwisePolicy, self.module).start(obs)
        return logits / self.temperature, state

    def step(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        logits, state = cast(StepwisePolicy, self.module).step(tokens, state)
        return logits / self.temperature, state


class SeqGANRecipe:
    """Pre-training, the rollout-policy sync and the metrics of one SeqGAN-v0 run."""

    def __init__(
        self,
        game: SequenceGame,
        policy: ActorCritic,
        device: torch.device,
        config: SeqGANRecipeConfig | None = None,
    ) -> None:
        self.game, self.policy, self.device = game, policy, device
        self.config = config or SeqGANRecipeConfig()
        self.generator = policy.logits_module()
        self.validation = game.data.train[:0]
        """MLE's held-out validation sequences (set by ``pretrain_mle``)."""
        self.val_nll: list[float] = []
        """Validation NLL after each MLE epoch."""
        self.best_epoch = 0
        """The MLE epoch whose weights were kept."""

    # --- 1 and 2: pre-training ----------------------------------------------------------

    def pretrain_mle(self, seed: int, log: Any = None) -> list[float]:
        """Teacher-forced cross-entropy for up to ``mle_epochs``; the mean loss of each epoch.

        Behaviour cloning on the real sequences (``fit_likelihood``). With ``mle_patience``
        > 0 a seeded ``mle_val_fraction`` of them is held out and the best epoch is kept:
        MLE over-fits 10,000 oracle sequences within a few epochs, lowering NLL-oracle by
        sharpening the model while NLL-test rises, which no adversarial phase should be
        credited with undoing or blamed for.
        """
        game, dropout = self.game, self.config.mle_dropout

        def nll(sequences: torch.Tensor) -> torch.Tensor:
            return token_nll(self.policy, sequences, game.start_id, game.eos_id, dropout)

        data = game.data.train.to(self.device)
        fit = fit_likelihood(self.generator, nll, data, self.config.mle(), seed, log)
        self.validation, self.val_nll, self.best_epoch = fit.validation, fit.val_nll, fit.best_epoch
        return fit.losses

    def pretrain_discriminator(self) -> dict[str, float]:
        """``d_pretrain_rounds`` rounds against the (MLE) generator's samples; none when
        the env loaded a trained discriminator (``discriminator_path``).

        This first ``update_rollout_policy`` call also makes the rollout policy a copy of
        the pre-trained generator, as SeqGAN starts it.
        """
        self.game.update_rollout_policy(self.generator)
        if self.game.config.discriminator_path:
            return {}  # a loaded discriminator is trained already (and may be frozen)
        if self.config.estimator != "score_function":
            return {}  # RelGAN's D learns relaxed samples from the start; CoT has no D
        rounds = self.config.d_pretrain_rounds
        return self.game.train_discriminator(rounds) if rounds else {}

    def load_generator(self, path: str | Path) -> None:
        """Load the token policy's weights from ``path``, a saved policy (a run's
        ``generator.pt``); the agent's own critic is kept, as it is no part of the generator."""
        saved = torch.load(path, map_location=self.device, weights_only=True)
        # The generator shares the policy's parameters: find each one's name in the policy.
        names = {id(t): name for name, t in self.policy.state_dict(keep_vars=True).items()}
        own = self.generator.state_dict(keep_vars=True)
        try:
            self.generator.load_state_dict({key: saved[names[id(t)]] for key, t in own.items()})
        except (KeyError, RuntimeError) as exc:
            raise UserError(
                f"{path} holds no generator of this agent's sizes ({str(exc).splitlines()[0]}); "
                "use the token_lstm sizes and the env's vocabulary it was trained with"
            ) from None

    # --- 3: adversarial training --------------------------------------------------------

    def after_update(self) -> None:
        """Move the rollout policy towards the agent's (SeqGAN's delayed copy)."""
        self.game.update_rollout_policy(self.generator)

    # --- metrics ------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` sequences from the agent's policy (eval mode) at ``temperature``."""
        module = self.generator if temperature == 1.0 else Tempered(self.generator, temperature)
        return self.game.generate(module, n)

    @torch.no_grad()
    def nll_test(self, temperature: float = 1.0) -> float:
        """The generator's mean per-token NLL of the held-out sequences."""
        return self.nll_test_at((temperature,))[temperature]

    def nll_test_at(self, temperatures: Iterable[float]) -> dict[float, float]:
        """NLL-test at each temperature (one pass over the held-out set)."""
        return self.nll_at(self.game.data.test, temperatures)

    @torch.no_grad()
    def nll_at(
        self, sequences: torch.Tensor, temperatures: Iterable[float], batch_size: int = 500
    ) -> dict[float, float]:
        """The generator's mean per-token NLL of ``sequences`` at each temperature, from
        one pass over them (at V=5000 the logits cost as much as the loss, so a sweep
        shares them)."""
        sequences = sequences.to(self.device)
        totals = dict.fromkeys(temperatures, 0.0)
        for batch in sequences.split(batch_size):
            logits = self.policy.teacher_forced_logits(batch, self.game.start_id)
            for tau in totals:
                nll = sequence_nll(logits if tau == 1.0 else logits / tau, batch, self.game.eos_id)
                totals[tau] += float(nll.double().sum())
        return {tau: total / max(len(sequences), 1) for tau, total in totals.items()}

    @torch.no_grad()
    def sequence_log_probs(
        self, sequences: torch.Tensor, batch_size: int = 500
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x) of whole sequences under the generator, and their token counts (B,)."""
        log_probs, lengths = [], []
        for batch in sequences.to(self.device).split(batch_size):
            logits = self.policy.teacher_forced_logits(batch, self.game.start_id)
            counted = counted_tokens(batch, self.game.eos_id).sum(1)
            nll = sequence_nll(logits, batch, self.game.eos_id)
            log_probs.append(-(nll.double() * counted))
            lengths.append(counted)
        return torch.cat(log_probs), torch.cat(lengths)

    @torch.no_grad()
    def density_ratio_ceiling(self, n: int) -> dict[str, float]:
        """NLL-test of the reweighted model p_ref * exp(logit D) / Z, p_ref the generator
        now and Z estimated from ``n`` of its samples (``advrl.gan.density_ratio``): what
        a policy on D's logit reward with beta = 1 could reach if D were optimal."""
        scores = self.game.reward_model.scores
        log_z, ess = importance_log_z(scores(self.sample(n)))
        test = self.game.data.test
        log_p, lengths = self.sequence_log_probs(test)
        ceiling = reweighted_nll(log_p, scores(test).double(), lengths, log_z)
        return {
            "ceiling_nll_test": ceiling,
            "reference_nll_test": float((-log_p / lengths).mean()),
            "log_z": log_z,
            "effective_samples": ess,
            "samples": n,
        }

    @torch.no_grad()
    def nll_oracle(self, samples: torch.Tensor) -> dict[str, float]:
        """The oracle's mean per-token NLL of ``samples`` and its standard error."""
        per_sequence = self._oracle().nll(samples.to(self.game.device))
        se = per_sequence.std() / len(per_sequence) ** 0.5 if len(per_sequence) > 1 else 0.0
        return {"nll_oracle": per_sequence.mean().item(), "nll_oracle_se": float(se)}

    @torch.no_grad()
    def oracle_nll_of_test(self) -> float:
        """The oracle's NLL of its own held-out samples: the frontier's ideal point."""
        return self._oracle().nll(self.game.data.test.to(self.game.device)).mean().item()

    def _oracle(self) -> OracleLSTM:
        if self.game.oracle is None:
            raise ValueError("NLL-oracle needs a game with an oracle, not a text dataset")
        return self.game.oracle

    def evaluate(
        self, n_samples: int | None = None, sweep: bool = False, samples_path: Path | None = None
    ) -> dict[str, Any]:
        """Generation metrics of the agent's policy now; see the module docstring. The samples
        they are measured on go to ``samples_path`` when given (``write_samples``)."""
        start = time.perf_counter()
        n = n_samples or self.config.eval_samples
        curve = self.temperature_sweep(min(n, 2000)) if sweep else None
        at_one = [row["nll_test"] for row in curve or () if row["temperature"] == 1.0]
        samples = self.sample(n)
        if samples_path is not None:
            write_samples(samples_path, samples)
        metrics = self.metrics_of(samples, nll_test=at_one[0] if at_one else None)
        if curve is not None:
            metrics["temperature_sweep"] = curve
        metrics["eval_seconds"] = time.perf_counter() - start
        return metrics

    def metrics_of(
        self, samples: torch.Tensor, temperature: float = 1.0, nll_test: float | None = None
    ) -> dict[str, Any]:
        """The metrics of ``samples`` drawn at ``temperature`` (NLL-test is taken there,
        unless given)."""
        game = self.game
        if nll_test is None:
            nll_test = self.nll_test(temperature)
        metrics: dict[str, Any] = {"nll_test": nll_test}
        if game.oracle is not None:
            metrics |= self.nll_oracle(samples)
        metrics["mean_reward"] = float(game.score(samples[:2000]).mean())
        hypotheses = game.data.tokens(samples[:BLEU_HYPOTHESES])
        references = game.data.references()
        scores = bleu(hypotheses, references, n=(2, 3, 4, 5))
        metrics |= {f"bleu{order}": score for order, score in scores.items()}
        metrics["self_bleu4"] = self_bleu(hypotheses, n=4)
        metrics["samples"] = [game.data.decode(row) for row in samples[:5]]
        return metrics

    def temperature_sweep(
        self, n: int, temperatures: tuple[float, ...] = SWEEP_TEMPERATURES
    ) -> list[dict[str, float]]:
        """NLL-oracle (± SE, ``n`` samples; with an oracle), NLL-test, and BLEU-4 and
        Self-BLEU-4 of ``BLEU_HYPOTHESES`` of the samples at each temperature."""
        nll_test = self.nll_test_at(temperatures)

        def evaluate(samples: torch.Tensor, tau: float) -> dict[str, float]:
            row = {"nll_test": nll_test[tau]}
            if self.game.oracle is not None:
                row |= self.nll_oracle(samples)
            hypotheses = self.game.data.tokens(samples[:BLEU_HYPOTHESES])
            row["bleu4"] = bleu(hypotheses, self.game.data.references(), n=4)
            row["self_bleu4"] = self_bleu(hypotheses, n=4)
            return row

        return temperature_sweep(lambda tau: self.sample(n, tau), evaluate, temperatures)


def write_samples(path: Path, samples: torch.Tensor) -> Path:
    """Token ids (N, T) to a gzipped text file, one sequence a line, so that anyone can
    recompute a reported figure (NLL-oracle, BLEU) from the very samples behind it."""
    with gzip.open(path, "wt") as file:
        file.writelines(" ".join(map(str, row)) + "\n" for row in samples.tolist())
    return path


def read_samples(path: Path) -> torch.Tensor:
    """``write_samples``'s file back as token ids (N, T)."""
    with gzip.open(path, "rt") as file:
        return torch.tensor([[int(t) for t in line.split()] for line in file if line.strip()])


def seqgan_game(run: Run) -> SequenceGame:
    """The game of a SeqGAN-v0 run's envs."""
    return cast(SeqGANVectorEnv, run.envs.unwrapped).game


def policy_agent(run: Run) -> OnPolicyAgent:
    """The run's agent: a policy-gradient one (``assemble_plugins`` takes no other here)."""
    return cast(OnPolicyAgent, run.agent)


def memorisation_line(phase: dict[str, float]) -> str:
    """The discriminator's mean logits on its reals, held-out reals and fakes, in a line."""
    if "d_memorisation_gap" not in phase:
        return ""
    return (
        f"  logit: training reals {phase['d_train_real_logit']:+.2f}, held-out reals "
        f"{phase['d_heldout_real_logit']:+.2f}, fakes {phase['d_fake_logit']:+.2f}  "
        f"memorisation gap {phase['d_memorisation_gap']:.2f}"
    )


def brief(metrics: dict[str, Any]) -> str:
    """The headline generation metrics in one line."""
    keys = ("nll_oracle", "nll_test", "bleu2", "self_bleu4", "mean_reward")
    return "  ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics)


class SeqGANRecipePlugin(Plugin):
    """SeqGAN's recipe as a trainer plug-in: pre-training before learning, the rollout
    policy's sync and periodic metrics after each update, generation metrics as the run's
    evaluation, and the generator and discriminator saved beside the checkpoint."""

    name = "seqgan"

    def __init__(self, config: SeqGANRecipeConfig) -> None:
        self.config = config
        self.recipe: SeqGANRecipe | None = None
        self.trainer: GumbelGenerator | CooperativeTraining | None = None
        """The generator's own training loop (``estimator`` gumbel or cot), else None."""
        self.mle: dict[str, Any] = {}
        self.last_eval_step = 0
        self.phases_seen = 0

    @staticmethod
    def discriminator_log() -> DiscriminatorLog:
        """The discriminator's phases during adversarial training, as curves."""
        return DiscriminatorLog(lambda run: seqgan_game(run).d_history)

    def _recipe(self, run: Run) -> SeqGANRecipe:
        if self.recipe is None:
            policy = policy_agent(run).policy
            self.recipe = SeqGANRecipe(seqgan_game(run), policy, run.device, self.config)
            self.trainer = self._generator_trainer(self.recipe, run.seed)
        return self.recipe

    def _generator_trainer(
        self, recipe: SeqGANRecipe, seed: int
    ) -> GumbelGenerator | CooperativeTraining | None:
        """The estimator's own training loop; built with the recipe, before any state is
        loaded, because gumbel gives the game's discriminator its own loss."""
        cfg, game, generator = self.config, recipe.game, cast(TokenPolicy, recipe.generator)
        n, lr = cfg.adv_batch_size, cfg.adv_lr
        if cfg.estimator == "gumbel":
            return GumbelGenerator(game, generator, seed, n, lr, cfg.gumbel_beta_max,
                                   cfg.gumbel_d_steps, cfg.gumbel_loss)  # fmt: skip
        if cfg.estimator == "cot":
            return CooperativeTraining(game, generator, seed, n, lr, cfg.cot_mediator_lr,
                                       cfg.cot_mediator_steps)  # fmt: skip
        return None

    def _log(self, run: Run, metrics: dict[str, Any], step: int) -> None:
        run.logger.scalars(
            {k: v for k, v in metrics.items() if isinstance(v, float)}, "seqgan/", step
        )
        if "samples" in metrics:
            run.logger.text("seqgan/samples", "\n\n".join(metrics["samples"]), step)

    def load_state_dict(self, run: Run, state: dict[str, Any]) -> None:
        recipe = self._recipe(run)
        recipe.game.load_state_dict(state, recipe.generator)
        if self.trainer is not None:
            self.trainer.load_state_dict(state["generator_trainer"])

    def state_dict(self, run: Run) -> dict[str, Any]:
        state = self._recipe(run).game.state_dict()
        if self.trainer is not None:
            state["generator_trainer"] = self.trainer.state_dict()
        return state

    def before_learn(self, run: Run) -> None:
        recipe, cfg, say = self._recipe(run), self.config, run.logger.say
        self.last_eval_step = run.logger.global_step
        self.phases_seen = len(recipe.game.d_history)
        if run.resumed:
            return
        step = run.logger.global_step
        untrained: dict[str, Any] | None = None
        losses: list[float] = []
        mle_seconds = 0.0
        if cfg.generator_path is not None:
            recipe.load_generator(cfg.generator_path)
            say(f"seqgan: generator loaded from {cfg.generator_path}, no MLE")
        else:
            untrained, losses, mle_seconds = self._pretrain_generator(run)
        start = time.perf_counter()
        d_pretrain = recipe.pretrain_discriminator()
        d_seconds = time.perf_counter() - start
        loaded = recipe.game.config.discriminator_path
        if loaded:
            say(f"seqgan: discriminator loaded from {loaded}, no pre-training")
        elif self.trainer is not None:
            say(f"seqgan: estimator {cfg.estimator}: no discriminator pre-training")
        else:
            say(
                f"seqgan: discriminator pre-trained ({cfg.d_pretrain_rounds} rounds, "
                f"{d_seconds:.0f} s)  accuracy {d_pretrain.get('accuracy', float('nan')):.3f}"
                + memorisation_line(d_pretrain)
            )
        after_mle = recipe.evaluate(sweep=True)  # MLE's curve, to set the final one against
        self._log(run, after_mle, step)
        kept = "loaded" if cfg.generator_path else f"epoch {recipe.best_epoch} of {len(losses)}"
        say(f"seqgan: after MLE ({kept}, {mle_seconds:.0f} s)  {brief(after_mle)}")
        ceiling = {}
        if recipe.game.config.d_reward == "logit":
            ceiling = recipe.density_ratio_ceiling(cfg.eval_samples)
            say(
                f"seqgan: density-ratio ceiling  NLL-test {ceiling['ceiling_nll_test']:.3f} "
                f"(the generator's {ceiling['reference_nll_test']:.3f}), importance weights' "
                f"effective sample size {ceiling['effective_samples']:.0f} of {ceiling['samples']}"
            )
        self.mle = {
            "density_ratio_ceiling": ceiling,
            "untrained": untrained,
            "after_mle": after_mle,
            "mle_losses": losses,
            "mle_val_nll": recipe.val_nll,
            "mle_best_epoch": recipe.best_epoch,
            "mle_seconds": mle_seconds,
            "discriminator_pretrain": d_pretrain,
        }

    def _pretrain_generator(self, run: Run) -> tuple[dict[str, Any], list[float], float]:
        """MLE of the agent's policy: the untrained generator's metrics, each epoch's loss
        and the seconds it took."""
        recipe, cfg, say = self._recipe(run), self.config, run.logger.say
        untrained = recipe.evaluate(min(cfg.eval_samples, 1000))
        say(f"seqgan: untrained generator  {brief(untrained)}")

        def log_epoch(epoch: int, loss: float, val_nll: float | None) -> None:
            run.logger.scalars({"mle_loss": loss}, "seqgan/", epoch)
            if val_nll is not None:
                run.logger.scalars({"mle_val_nll": val_nll}, "seqgan/", epoch)
            if epoch % 5 == 0 or epoch == cfg.mle_epochs or val_nll is not None:
                val = "" if val_nll is None else f"  validation NLL {val_nll:.4f}"
                say(f"seqgan: MLE epoch {epoch}/{cfg.mle_epochs}  loss {loss:.4f}{val}")

        start = time.perf_counter()
        losses = recipe.pretrain_mle(run.seed, log_epoch)
        return untrained, losses, time.perf_counter() - start

    def learn(self, run: Run, hooks: LearnHooks) -> bool:
        """With ``estimator`` gumbel or cot, train the agent's policy by that estimator's
        iterations until the run's env steps (generated tokens) are done; False otherwise,
        and the agent learns by its own policy gradient."""
        self._recipe(run)
        trainer, agent = self.trainer, run.agent
        if trainer is None:
            return False
        tokens = self.config.adv_batch_size * seqgan_game(run).length
        while agent.global_step < run.total_steps and not hooks.stop_requested:
            metrics = trainer.iteration(progress=agent.global_step / run.total_steps)
            agent.global_step += tokens
            run.logger.on_step(tokens, [])
            run.logger.on_update(metrics)
            hooks.after_update(agent.global_step)
        return True

    def after_update(self, run: Run, step: int) -> None:
        recipe = self._recipe(run)
        if self.trainer is None:
            recipe.after_update()  # only a policy gradient's rollouts use the delayed copy
        phases = len(recipe.game.d_history)
        agent = policy_agent(run)
        anchor = agent.kl_anchor
        if self.config.kl_reference == "refresh" and anchor and phases > self.phases_seen:
            agent.anchor_to()  # the reference moves to the policy D was just trained on
            if agent.kl_anchor is not None:
                agent.kl_anchor.coef = anchor.coef
        self.phases_seen = phases
        every = self.config.eval_every
        if every and step - self.last_eval_step >= every:
            self.last_eval_step = step
            metrics = recipe.evaluate(min(self.config.eval_samples, 2000))
            self._log(run, metrics, step)
            run.logger.say(f"seqgan: step {step:,}  {brief(metrics)}")

    def _frontier(self, run: Run, before: dict[str, Any], final: dict[str, Any]) -> dict[str, Any]:
        """Where the final generator lies against MLE's temperature curve, with a figure of
        each (also in TensorBoard): ``frontier_gap`` in NLL-oracle at equal NLL-test
        (``frontier.png``, oracle runs) and ``bleu4_gap`` in BLEU-4 (``frontier_bleu.png``,
        every run; the one frontier real text has), with MLE's BLEU-4 and Self-BLEU-4 at the
        same NLL-test (``frontier_self_bleu.png``). Nothing without MLE's curve."""
        recipe, say = self._recipe(run), run.logger.say
        if "temperature_sweep" not in before:
            return {}
        mle_curve = before["temperature_sweep"]
        name = GENERATOR_NAMES.get(self.config.estimator, f"{run.agent.name} on D's reward")
        curves = {"MLE": mle_curve, name: final["temperature_sweep"]}
        result: dict[str, Any] = {}
        note = " (outside MLE's NLL-test range: nearest end used)"
        if recipe.game.oracle is not None:
            found = frontier_gap(mle_curve, final)
            path = run.run_dir / "frontier.png"
            figure = plot_frontier(curves, recipe.oracle_nll_of_test(), path)
            run.logger.figure("seqgan/frontier", figure)
            say(
                f"seqgan: frontier gap {found.gap:+.3f} ± {found.se:.3f} nats of NLL-oracle "
                f"at the same NLL-test (negative: beyond MLE's temperature curve)"
                + ("" if found.in_range else note)
            )
            result |= {"frontier_gap": found.gap, "frontier_gap_se": found.se,
                       "frontier_gap_in_range": found.in_range, "frontier": str(path)}  # fmt: skip
        if all("bleu4" in row for row in mle_curve) and "bleu4" in final:
            found = frontier_gap(mle_curve, final, quality="bleu4")
            repetition = frontier_gap(mle_curve, final, quality="self_bleu4")
            for quality, name in (("bleu4", "frontier_bleu"), ("self_bleu4", "frontier_self_bleu")):
                path = run.run_dir / f"{name}.png"
                title = f"SeqGAN-v0: {quality.replace('_', '-')} against NLL-test"
                figure = plot_frontier(curves, None, path, title, quality)
                run.logger.figure(f"seqgan/{name}", figure)
            say(
                f"seqgan: BLEU-4 gap {found.gap:+.4f} at the same NLL-test (positive: beyond "
                f"MLE's temperature curve); Self-BLEU-4 {final['self_bleu4']:.4f} against "
                f"MLE's {final['self_bleu4'] - repetition.gap:.4f} there"
                + ("" if found.in_range else note)
            )
            result |= {
                "bleu4_gap": found.gap,
                "bleu4_gap_in_range": found.in_range,
                "bleu4_mle_matched": final["bleu4"] - found.gap,
                "self_bleu4_mle_matched": final["self_bleu4"] - repetition.gap,
                "frontier_bleu": str(run.run_dir / "frontier_bleu.png"),
                "frontier_self_bleu": str(run.run_dir / "frontier_self_bleu.png"),
            }
        return result

    def evaluate(self, run: Run) -> dict[str, Any]:
        """A generator is judged by its samples, under the discriminator it trained against:
        the final metrics with MLE's beside them; generator.pt and discriminator.pt saved."""
        recipe = self._recipe(run)
        final = recipe.evaluate(sweep=True, samples_path=run.run_dir / "samples.txt.gz")
        self._log(run, final, run.logger.global_step)
        run.logger.say(f"seqgan: after adversarial training  {brief(final)}")
        save_tensors_atomic(run.run_dir / "generator.pt", recipe.policy.state_dict())
        recipe.game.save_discriminator(run.run_dir / "discriminator.pt")
        history = recipe.game.d_history
        before = self.mle.get("after_mle", {})
        memorised = recipe.game.memorisation()  # D as the run ends, on the same three sets
        run.logger.say("seqgan: discriminator at the end" + memorisation_line(memorised))
        frontier = self._frontier(run, before, final)
        pretrained = self.mle.get("discriminator_pretrain", {})
        return {
            **{k: v for k, v in final.items() if k not in ("samples", "eval_seconds")},
            **{key: memorised.get(key) for key in MEMORISATION_KEYS},
            **{f"{key}_pretrain": pretrained.get(key) for key in MEMORISATION_KEYS},
            **frontier,
            "nll_oracle_mle": before.get("nll_oracle"),
            "nll_test_mle": before.get("nll_test"),
            "temperature_sweep_mle": before.get("temperature_sweep"),
            "discriminator_accuracy": history[-1]["accuracy"] if history else None,
            "density_ratio_ceiling": self.mle.get("density_ratio_ceiling") or None,
            "kl_coef_final": getattr(getattr(run.agent, "kl_anchor", None), "coef", None),
            "samples": final["samples"],
            "samples_file": str(run.run_dir / "samples.txt.gz"),
            "seqgan": {
                **self.mle,
                "after_adversarial": final,
                "discriminator_phases": len(history),
                "generator": str(run.run_dir / "generator.pt"),
                "discriminator": str(run.run_dir / "discriminator.pt"),
            },
        }
