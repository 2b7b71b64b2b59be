"""SeqGAN-v0: generating a token sequence as a Gymnasium environment (Yu et al. 2017).

An episode writes one sequence of T tokens from a vocabulary of V, one token per step
(``Discrete(V)`` actions). The observation is the prefix so far, a ``TokenPrefix``
(``advrl.core.spaces``; int64, length T + 2): ``[t, start, x_1, ..., x_t, pad, ...]``, so
a policy reads the length, the start token and the tokens from one array. The episode ends
after T tokens, or at ``<eos>`` for text.

The reward is a discriminator's probability that the sequence is real (a ``RewardModel``
with a ``SequenceCNN``). ``reward_mode``:

- ``final``: 0 until the last step, then D(sequence).
- ``rollout`` (SeqGAN's Monte Carlo search): after token t < T, the mean D of
  ``n_rollouts`` completions of the prefix sampled by the rollout policy (the estimate of
  Q(prefix, x_t)); after the last token, D(sequence). A discount of 0 makes each step's
  return exactly SeqGAN's Q, which is what advrl's SeqGAN presets use.

The rollout policy follows the agent with a delay: ``update_rollout_policy(module)`` copies
the agent's policy module the first time and afterwards blends it in, beta <- rate * beta +
(1 - rate) * theta (SeqGAN's rate 0.8); advrl's trainer calls it after every update. Users
of other libraries call it themselves, or pass any function from observations to next-token
logits to ``set_rollout_policy``, or use ``final``. Until then, completions are uniform.

The discriminator keeps learning: every ``d_every`` finished sequences it trains
``d_rounds`` rounds of ``d_epochs`` epochs, real sequences against ``d_negatives`` fresh
samples of the agent's policy (the module last given to ``update_rollout_policy``), or
against the sequences the agent finished most recently when no module was given.

All of this runs on whole batches in torch (``SequenceGame``): ``SeqGANVectorEnv`` (the
``vector_entry_point``) steps B sequences at once and scores the B * N completions of a
step in one pass, on CPU or CUDA. Each env draws its completions' randomness from its own
generator (seeded ``seed + i`` like Gymnasium's vector envs), so env i of a vector env and
a single env with seed ``seed + i`` see the same rewards, and batch size changes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from torch import nn

from advrl.core.capabilities import EnvCapabilities
from advrl.core.checkpoint import load_checkpoint, save_checkpoint
from advrl.core.device import resolve_device
from advrl.core.errors import UserError, did_you_mean
from advrl.core.spaces import TokenPrefix
from advrl.core.stats import mean_metrics
from advrl.gan.data import SequenceData, oracle_data, text_data
from advrl.gan.discriminators import SequenceCNN, SequenceCNNConfig
from advrl.gan.oracle import OracleLSTM, sample_from_logits
from advrl.gan.reward_model import RewardModel

REWARD_MODES = ("final", "rollout")
D_REWARDS = ("prob", "logit")
"""How D's output becomes the reward: D = P(real) (SeqGAN), or its logit log D / (1 - D),
the density ratio log p_data / p_gen of an optimal discriminator."""
D_METRICS = ("loss", "accuracy", "real_acc", "fake_acc", "real_prob", "fake_prob")
"""The discriminator metrics a phase reports (means over its last round)."""
MEMORISATION_KEYS = (
    "d_train_real_logit",
    "d_heldout_real_logit",
    "d_fake_logit",
    "d_memorisation_gap",
    "d_train_real_called_real",
    "d_heldout_real_called_real",
    "d_fake_called_real",
    "d_calibration_error",
)
"""What ``SequenceGame.memorisation`` reports: mean logits, the gap, "called real" rates,
and D's calibration on held-out reals against fresh fakes."""
CALIBRATION_BINS = 10
SCORE_CHUNK = 4096
"""Rows per discriminator pass when scoring completions (bounds peak memory)."""


@dataclass
class SeqGANConfig:
    """Options of SeqGAN-v0 (``--env-kwargs``); the defaults are a CPU-sized SeqGAN."""

    reward_mode: str = "rollout"
    """final (D of the finished sequence only) or rollout (Monte Carlo search every step)."""
    n_rollouts: int = 16
    """N, completions per step in rollout mode (SeqGAN: 16)."""
    vocab_size: int = 5000
    """V of the synthetic oracle (text takes its vocabulary from the file)."""
    seq_len: int | None = None
    """T: 20 for the oracle when unset; for text, unset (or 0) picks the shortest T that
    fits 95% of the training sentences with their ``<eos>``."""
    oracle_seed: int = 0
    """Seed of the synthetic oracle's N(0, 1) weights."""
    oracle_params: str | None = None
    """An .npz of oracle weights (the paper's: ../shared/benchmarks/seqgan_oracle)."""
    dataset: str | None = None
    """A text file, one sentence a line, instead of the oracle."""
    test_dataset: str | None = None
    """With ``dataset``: a held-out text file (COCO's test.txt, say); unset, a seeded 10%
    of ``dataset`` is held out."""
    n_train: int = 10_000
    """Real training sequences drawn from the oracle."""
    n_test: int = 5_000
    """Held-out real sequences (oracle), for NLL-test."""
    data_seed: int = 0
    """Seed of the oracle's samples and of the text's held-out split."""
    discriminator: str = "small"
    """small (widths 1-5, 250 filters: CPU) or paper (widths 1-10, 15, 20, 1720 filters)."""
    discriminator_path: str | None = None
    """Start from a saved discriminator (``discriminator.pt`` of a run)."""
    gan_loss: str = "minimax"
    """minimax (SeqGAN) or non_saturating; D is a probability either way."""
    d_reward: str = "prob"
    """The reward read from D: prob, D = P(real) in [0, 1] (SeqGAN), or logit,
    log D / (1 - D): for a discriminator trained to optimum against samples of p_ref, the
    log density ratio log p_data(x) / p_ref(x) (issue 14's density-ratio reward)."""
    d_lr: float = 1e-3
    """Adam learning rate of the discriminator (SeqGAN: 1e-4, with far more steps)."""
    d_every: int = 128
    """Finished sequences between discriminator phases; 0 freezes the discriminator."""
    d_rounds: int = 1
    """Rounds of fresh negatives per phase (SeqGAN: 5)."""
    d_epochs: int = 3
    """Epochs over each round's real and fake sequences (SeqGAN: 3)."""
    d_negatives: int = 1024
    """Fake (and as many real) sequences per round (SeqGAN: 10,000)."""
    d_batch_size: int = 64
    """Discriminator minibatch size (of real and of fake sequences each)."""
    d_weight_decay: float = 0.0
    """Decoupled weight decay of the discriminator (AdamW's), a remedy for memorisation
    (the paper's L2 0.2 acts on its output layer only)."""
    d_dropout: float | None = None
    """Drop probability before D's output layer; None keeps the architecture's (0.25)."""
    d_label_smoothing: float = 0.0
    """One-sided label smoothing: D's real targets are 1 - this (fakes stay 0)."""
    d_token_noise: float = 0.5
    """Augmentation against memorisation: this share of the tokens of every real and fake
    sequence D trains on is replaced by tokens drawn from the same batch, so no training
    sequence is ever seen twice as it is; D is measured and rewards on clean sequences.
    0.5 was chosen on held-out reals (README, "Does the discriminator generalise?")."""
    d_patience: int = 0
    """Early stopping of every discriminator phase: it ends after this many epochs without
    a lower validation loss (validation reals against fresh samples of the live policy, or
    without one the latest finished sequences) and keeps the best weights, the phase's
    starting ones included; 0 trains every epoch."""
    d_holdout: float = 0.1
    """Share of the real training sequences kept out of discriminator training (a split
    seeded by ``data_seed``): half validates ``d_patience``'s early stopping, and on the
    other half every phase measures whether D learnt "real" or memorised its own reals
    (``d_memorisation_gap``). MLE still trains on all of them."""
    d_fresh_reals: bool = False
    """Oracle data only: every round draws new real sequences from the oracle (unlimited
    real data), the upper bound of the memorisation diagnosis, not a benchmark setting."""
    rollout_update_rate: float = 0.8
    """beta <- rate * beta + (1 - rate) * theta at each update_rollout_policy call."""
    init_seed: int = 0
    """Seed of the discriminator's initial weights and of its fresh negatives."""
    device: str = "auto"
    """Where the discriminator and completions run: auto, cpu or cuda."""

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        if self.reward_mode not in REWARD_MODES:
            problems.append(f"reward_mode must be one of {REWARD_MODES}, got {self.reward_mode!r}")
        if self.discriminator not in ("small", "paper"):
            problems.append(f"discriminator must be small or paper, got {self.discriminator!r}")
        if self.d_reward not in D_REWARDS:
            problems.append(f"d_reward must be one of {D_REWARDS}, got {self.d_reward!r}")
        if self.gan_loss not in ("minimax", "non_saturating"):
            problems.append(
                f"gan_loss must be minimax or non_saturating (D must be a probability), "
                f"got {self.gan_loss!r}"
            )
        for name in ("n_rollouts", "vocab_size", "n_train", "n_test", "d_rounds", "d_epochs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("d_negatives", "d_batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_every < 0:
            problems.append(f"d_every must be >= 0, got {self.d_every}")
        if self.seq_len is not None and self.seq_len < 1 and self.dataset is None:
            problems.append(f"seq_len must be >= 1, got {self.seq_len}")
        if self.d_weight_decay < 0:
            problems.append(f"d_weight_decay must be >= 0, got {self.d_weight_decay}")
        if self.d_dropout is not None and not 0.0 <= self.d_dropout < 1.0:
            problems.append(f"d_dropout must be in [0, 1), got {self.d_dropout}")
        if not 0.0 <= self.d_label_smoothing < 0.5:
            problems.append(f"d_label_smoothing must be in [0, 0.5), got {self.d_label_smoothing}")
        if not 0.0 <= self.d_token_noise < 1.0:
            problems.append(f"d_token_noise must be in [0, 1), got {self.d_token_noise}")
        if self.d_patience < 0:
            problems.append(f"d_patience must be >= 0, got {self.d_patience}")
        if self.d_patience and self.d_holdout == 0:
            problems.append("d_patience needs validation reals: set d_holdout > 0")
        if not 0.0 <= self.d_holdout < 1.0:
            problems.append(f"d_holdout must be in [0, 1), got {self.d_holdout}")
        if self.d_fresh_reals and self.dataset is not None:
            problems.append("d_fresh_reals needs the oracle; a dataset has no more reals to draw")
        if not 0.0 <= self.rollout_update_rate <= 1.0:
            problems.append(
                f"rollout_update_rate must be in [0, 1], got {self.rollout_update_rate}"
            )
        if self.d_lr <= 0:
            problems.append(f"d_lr must be > 0, got {self.d_lr}")
        if self.test_dataset is not None and self.dataset is None:
            problems.append("test_dataset needs dataset (the training text)")
        if self.dataset is not None and self.oracle_params is not None:
            problems.append("give dataset or oracle_params, not both")
        return problems


@runtime_checkable
class StepwisePolicy(Protocol):
    """A next-token policy that can also be stepped one token at a time (O(T) sampling),
    as ``advrl.agents.token_lstm.TokenPolicy``; any other callable is read in whole. The
    state is a tuple of tensors with the batch in dimension 1, as an LSTM's (h, c)."""

    def __call__(self, obs: torch.Tensor) -> torch.Tensor: ...

    def start(self, obs: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits (B, V) after each prefix, and the recurrent state there."""
        ...

    def step(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Feed one token per row: the next logits and the new state."""
        ...


class UniformPolicy:
    """Next-token logits of the uniform distribution: the rollout policy before any is set."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(obs), self.vocab_size, device=obs.device)


class SequenceGame:
    """What every SeqGAN-v0 env of one run shares: the data, the oracle, the discriminator,
    the rollout policy, and the batched completion and scoring of sequences."""

    def __init__(self, config: SeqGANConfig) -> None:
        problems = config.validate()
        if problems:
            raise UserError(f"invalid SeqGAN-v0 options: {'; '.join(problems)}")
        self.config = config
        self.device = resolve_device(config.device, flag="SeqGAN-v0 option device")
        self.oracle, self.data = _load_data(
            config.dataset,
            config.test_dataset,
            config.oracle_params,
            config.vocab_size,
            config.seq_len,
            config.oracle_seed,
            config.n_train,
            config.n_test,
            config.data_seed,
            str(self.device),
        )
        self.length, self.vocab_size = self.data.length, self.data.vocab_size
        self.start_id, self.eos_id = self.data.start_id, self.data.eos_id
        self.pad_id = self.data.pad_id or 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.init_seed)
            cnn_config = (
                SequenceCNNConfig.paper(self.vocab_size)
                if config.discriminator == "paper"
                else SequenceCNNConfig.small(self.vocab_size)
            )
            if config.d_dropout is not None:
                cnn_config.dropout = config.d_dropout
            self.discriminator = SequenceCNN(cnn_config).to(self.device)
            """D, the reward model's discriminator."""
            self.reward_model = RewardModel(
                self.discriminator,
                loss=config.gan_loss,
                reward=config.d_reward,
                optimizer=functools.partial(
                    torch.optim.AdamW, lr=config.d_lr, weight_decay=config.d_weight_decay
                ),
                label_smoothing=config.d_label_smoothing,
            )
        if config.discriminator_path:
            self.load_discriminator(config.discriminator_path)
        self.d_rng = torch.Generator().manual_seed(config.init_seed + 1)
        # D's reals and the reals it never sees, to measure memorisation on.
        split = torch.Generator().manual_seed(config.data_seed + 1)
        order = torch.randperm(len(self.data.train), generator=split)
        n_heldout = round(len(order) * config.d_holdout)
        heldout = self.data.train[order[:n_heldout]]
        self.d_train = self.data.train[order[n_heldout:]]
        self.d_val, self.d_heldout = heldout[: n_heldout // 2], heldout[n_heldout // 2 :]
        """Validation reals (early stopping) and measurement reals, both unseen by D."""
        if config.d_patience and len(self.d_val) == 0:
            raise UserError(
                f"d_patience needs validation reals, but d_holdout={config.d_holdout} of "
                f"{len(self.data.train)} training sequences leaves none; raise d_holdout"
            )
        self.fresh_rng = torch.Generator(device=self.device).manual_seed(config.data_seed + 2)
        self.rollout_policy: Callable[[torch.Tensor], torch.Tensor] = UniformPolicy(self.vocab_size)
        self.live_policy: nn.Module | None = None
        self.recent = torch.zeros(0, self.length, dtype=torch.long)
        """The latest finished sequences (at most ``d_negatives``), negatives without a policy."""
        self.finished_since_phase = 0
        self.d_history: list[dict[str, float]] = []
        """Metrics of every discriminator phase, in order (the trainer logs them)."""

    # --- observations -------------------------------------------------------------------

    def empty_prefixes(self, n: int) -> torch.Tensor:
        """Observations (n, T + 2) of sequences not started yet."""
        obs = torch.full((n, self.length + 2), self.pad_id, dtype=torch.long)
        obs[:, 0] = 0
        obs[:, 1] = self.start_id
        return obs

    def ends(self, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Whether each sequence is finished after its latest token."""
        done = lengths >= self.length
        if self.eos_id is not None:
            done |= tokens == self.eos_id
        return done

    # --- rollout policy -----------------------------------------------------------------

    def set_rollout_policy(self, policy: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Use ``policy`` (observations (B, T+2) int64 tensor -> logits (B, V)) as it is."""
        self.rollout_policy = policy

    @torch.no_grad()
    def update_rollout_policy(self, module: nn.Module, rate: float | None = None) -> None:
        """Follow ``module`` with a delay: copy it the first time, then blend its weights in.

        beta <- rate * beta + (1 - rate) * theta (``rate`` defaults to the env's
        ``rollout_update_rate``). ``module`` maps observations to next-token logits; it
        also becomes the source of the discriminator's fresh negatives.
        """
        rate = self.config.rollout_update_rate if rate is None else rate
        self.live_policy = module
        if not isinstance(self.rollout_policy, nn.Module):
            self.rollout_policy = copy.deepcopy(module).to(self.device).eval()
            return
        for delayed, live in zip(
            self.rollout_policy.parameters(), module.parameters(), strict=True
        ):
            delayed.mul_(rate).add_(live.detach().to(delayed.device), alpha=1.0 - rate)

    # --- completion and scoring ---------------------------------------------------------

    @torch.no_grad()
    def complete(
        self,
        policy: Callable[[torch.Tensor], torch.Tensor],
        obs: torch.Tensor,
        uniforms: torch.Tensor,
        copies: int = 1,
    ) -> torch.Tensor:
        """Finish the prefixes ``obs`` (R, T+2), each ``copies`` times, with ``policy``;
        the sequences (R * copies, T), copies of a prefix next to each other.

        Token s of output row r is drawn by inverse CDF from ``uniforms[r, s]``, so a row's
        completion depends only on its own prefix and uniforms. Prefixes are never changed;
        after ``<eos>`` the rest stays ``<pad>``. A ``StepwisePolicy`` (advrl's token
        policies) reads each prefix once and then steps one token at a time, O(T); any
        other function of observations is called on the whole prefix at every token, O(T²).
        """
        obs = obs.to(self.device)
        uniforms = uniforms.to(self.device)
        lengths = obs[:, 0].clone()
        finished = lengths >= self.length
        if self.eos_id is not None:
            last = obs.gather(1, (lengths + 1).unsqueeze(1)).squeeze(1)
            finished |= (lengths > 0) & (last == self.eos_id)
        if isinstance(policy, StepwisePolicy):
            return self._complete_stepwise(policy, obs, uniforms, copies, lengths, finished)
        obs = obs.repeat_interleave(copies, dim=0)
        lengths, finished = lengths.repeat_interleave(copies), finished.repeat_interleave(copies)
        start = int(lengths.min()) if len(obs) else self.length
        for s in range(start, self.length):
            rows = torch.nonzero((lengths == s) & ~finished).squeeze(1)
            if rows.numel() == 0:
                continue
            logits = policy(obs[rows]).float()
            tokens = sample_from_logits(logits.clone(), uniforms[rows, s])
            obs[rows, 2 + s] = tokens
            lengths[rows] = s + 1
            obs[rows, 0] = s + 1
            if self.eos_id is not None:
                finished[rows] |= tokens == self.eos_id
        return obs[:, 2:]

    def _complete_stepwise(
        self,
        policy: StepwisePolicy,
        obs: torch.Tensor,
        uniforms: torch.Tensor,
        copies: int,
        lengths: torch.Tensor,
        finished: torch.Tensor,
    ) -> torch.Tensor:
        """``complete`` for a ``StepwisePolicy``: each prefix read once, its LSTM state
        copied ``copies`` times, then one token per step for every open row."""
        sequences = obs[:, 2:].repeat_interleave(copies, dim=0)  # (R * copies, T)
        prefixes = torch.nonzero(~finished).squeeze(1)  # each open prefix once
        if prefixes.numel() == 0:
            return sequences
        lengths = lengths.repeat_interleave(copies)
        rows = (prefixes[:, None] * copies + torch.arange(copies, device=obs.device)).flatten()
        logits, state = policy.start(obs[prefixes])  # then branch each state ``copies`` times
        logits = logits.repeat_interleave(copies, dim=0)
        state = tuple(x.repeat_interleave(copies, dim=1) for x in state)
        while rows.numel():
            position = lengths[rows]
            tokens = sample_from_logits(logits.float(), uniforms[rows, position])
            sequences[rows, position] = tokens
            lengths[rows] = position + 1
            still_open = lengths[rows] < self.length
            if self.eos_id is not None:
                still_open &= tokens != self.eos_id
            if not still_open.all():
                rows, tokens = rows[still_open], tokens[still_open]
                state = tuple(x[:, still_open] for x in state)
            if rows.numel():
                logits, state = policy.step(tokens, state)
        return sequences

    @torch.no_grad()
    def score(self, sequences: torch.Tensor) -> torch.Tensor:
        """D(x) = P(real) of each sequence (R,), in chunks, on the game's device."""
        sequences = sequences.to(self.device)
        if len(sequences) == 0:
            return torch.zeros(0, device=self.device)
        return torch.cat(
            [self.reward_model.reward(chunk) for chunk in sequences.split(SCORE_CHUNK)]
        )

    def draw_uniforms(self, rng: np.random.Generator) -> np.ndarray:
        """One env's randomness for one step's completions: (N, T) uniforms."""
        return rng.random((self.config.n_rollouts, self.length), dtype=np.float32)

    def step_rewards(
        self, obs: torch.Tensor, done: torch.Tensor, uniforms: torch.Tensor | None
    ) -> torch.Tensor:
        """Rewards (B,) after a step: D of finished sequences, and in rollout mode the
        mean D of N completions (``uniforms`` (B, N, T)) of every unfinished prefix."""
        rewards = torch.zeros(len(obs), device=self.device)
        done = done.to(self.device)
        if done.any():
            rewards[done] = self.score(obs[done.cpu(), 2:])
        open_rows = torch.nonzero(~done).squeeze(1)
        if self.config.reward_mode == "rollout" and open_rows.numel():
            if uniforms is None:
                raise ValueError("rollout rewards need the step's uniforms (B, N, T)")
            n = self.config.n_rollouts
            u = uniforms[open_rows.cpu()].reshape(-1, self.length)  # (R * N, T)
            completions = self.complete(self.rollout_policy, obs[open_rows.cpu()], u, copies=n)
            rewards[open_rows] = self.score(completions).view(-1, n).mean(1)
        return rewards

    # --- the discriminator --------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self, policy: Callable[[torch.Tensor], torch.Tensor], n: int, batch_size: int = 1024
    ) -> torch.Tensor:
        """``n`` whole sequences (n, T) sampled from ``policy`` with the game's own RNG.

        A module policy samples in eval mode (dropout off), and gets its mode back after.
        """
        was_training = isinstance(policy, nn.Module) and policy.training
        if isinstance(policy, nn.Module):
            policy.eval()
        out = []
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            u = torch.rand(rows, self.length, generator=self.d_rng)
            out.append(self.complete(policy, self.empty_prefixes(rows), u).cpu())
        if was_training and isinstance(policy, nn.Module):
            policy.train()
        return torch.cat(out) if out else torch.zeros(0, self.length, dtype=torch.long)

    def record(self, sequences: torch.Tensor) -> None:
        """Note finished sequences; run a discriminator phase every ``d_every`` of them."""
        self.recent = torch.cat([self.recent, sequences.cpu()])[-self.config.d_negatives :]
        self.finished_since_phase += len(sequences)
        if self.config.d_every and self.finished_since_phase >= self.config.d_every:
            self.finished_since_phase = 0
            self.train_discriminator()

    def train_discriminator(self, rounds: int | None = None) -> dict[str, float]:
        """``rounds`` (default ``d_rounds``) of fresh negatives, ``d_epochs`` epochs each.

        Negatives are samples of the live policy when one was given, else the sequences
        the agent finished most recently. With ``d_patience`` the phase may end early and
        ends on its best weights. Returns the mean metrics of the last round trained.
        """
        cfg = self.config
        steps: list[dict[str, float]] = []
        stopper = _EarlyStopping(self) if cfg.d_patience else None
        stopped = False
        for _ in range(cfg.d_rounds if rounds is None else rounds):
            if stopped:
                break
            steps = []  # report the last round: the discriminator as it ends
            fake = self.negatives(cfg.d_negatives)
            if len(fake) == 0:
                break
            real = self.real_batch(len(fake))
            for _ in range(cfg.d_epochs):
                order = torch.randperm(len(fake), generator=self.d_rng)
                for idx in order.split(cfg.d_batch_size):
                    metrics = self.reward_model.update(
                        self.augment(real[idx]), self.augment(fake[idx])
                    )
                    steps.append({key: metrics[key] for key in D_METRICS})
                stopped = stopper is not None and stopper.should_stop()
                if stopped:
                    break
        if stopper is not None:
            stopper.restore_best()
        summary = mean_metrics(steps)
        if steps:
            summary |= self.memorisation()
            self.d_history.append(summary)
        return summary

    def negatives(self, n: int) -> torch.Tensor:
        """``n`` fresh samples of the live policy, or the latest finished sequences."""
        return self.generate(self.live_policy, n) if self.live_policy else self.recent[:n]

    def augment(self, batch: torch.Tensor) -> torch.Tensor:
        """``batch`` with a ``d_token_noise`` share of its tokens (not ``<pad>``) replaced
        by tokens drawn from its own tokens; the batch itself when the option is 0."""
        p = self.config.d_token_noise
        if p == 0.0:
            return batch
        real_token = (
            batch != self.pad_id
            if self.data.pad_id is not None
            else torch.ones_like(batch, dtype=torch.bool)
        )
        pool = batch[real_token]
        replace = (torch.rand(batch.shape, generator=self.d_rng) < p) & real_token
        out = batch.clone()
        out[replace] = pool[torch.randint(len(pool), (int(replace.sum()),), generator=self.d_rng)]
        return out

    def real_batch(self, n: int) -> torch.Tensor:
        """``n`` real sequences for a round: drawn from D's share of the training data, or
        fresh from the oracle with ``d_fresh_reals``."""
        if self.config.d_fresh_reals:
            if self.oracle is None:  # refused by SeqGANConfig.validate
                raise UserError(
                    "d_fresh_reals needs the oracle; a dataset has no more reals to draw"
                )
            return self.oracle.sample(n, self.length, generator=self.fresh_rng).cpu()
        return self.d_train[torch.randint(len(self.d_train), (n,), generator=self.d_rng)]

    @torch.no_grad()
    def memorisation(self) -> dict[str, float]:
        """D's mean logit and "called real" rate on its training reals, on held-out reals
        and on fresh samples of the live policy (or the latest finished sequences), and the
        memorisation gap: training-real minus held-out-real mean logit. Empty without a
        held-out share."""
        n = len(self.d_heldout)
        if n == 0:
            return {}
        fake = self.negatives(n)
        groups = {"train_real": self.d_train[:n], "heldout_real": self.d_heldout, "fake": fake}
        result: dict[str, float] = {}
        logits: dict[str, torch.Tensor] = {}
        for name, sequences in groups.items():
            if len(sequences):
                logits[name] = self.reward_model.scores(sequences).float()
                result[f"d_{name}_logit"] = logits[name].mean().item()
                result[f"d_{name}_called_real"] = (logits[name] > 0).float().mean().item()
        result["d_memorisation_gap"] = result["d_train_real_logit"] - result["d_heldout_real_logit"]
        if "fake" in logits:
            result["d_calibration_error"] = calibration_error(
                logits["heldout_real"], logits["fake"]
            )
        return result

    def state_dict(self) -> dict[str, Any]:
        """The learned state (discriminator, rollout policy, counters), for checkpoints."""
        rollout = self.rollout_policy
        return {
            "reward_model": self.reward_model.state_dict(),
            "rollout_policy": rollout.state_dict() if isinstance(rollout, nn.Module) else None,
            "finished_since_phase": self.finished_since_phase,
            "d_rng": self.d_rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any], policy: nn.Module | None = None) -> None:
        """Restore ``state_dict()``; ``policy`` (the agent's) rebuilds the rollout copy."""
        self.reward_model.load_state_dict(state["reward_model"])
        if state["rollout_policy"] is not None and policy is not None:
            self.rollout_policy = copy.deepcopy(policy).to(self.device).eval()
            self.rollout_policy.load_state_dict(state["rollout_policy"])
            self.live_policy = policy
        self.finished_since_phase = state["finished_since_phase"]
        self.d_rng.set_state(state["d_rng"])

    def save_discriminator(self, path: Path) -> Path:
        """Write the discriminator (weights, optimiser, sizes) atomically to ``path``."""
        state = {
            "reward_model": self.reward_model.state_dict(),
            "cnn_config": dataclasses.asdict(self.discriminator.config),
        }
        return save_checkpoint(path, state)

    def load_discriminator(self, path: str | Path) -> None:
        """Load ``save_discriminator``'s file; sizes must match this env's."""
        state = load_checkpoint(Path(path))
        if "reward_model" not in state or "cnn_config" not in state:
            raise UserError(f"{path} is not a SeqGAN-v0 discriminator file (discriminator.pt)")
        # Sizes only: dropout changes no weight, so d_dropout may differ from the saved one.
        mine = dataclasses.asdict(self.discriminator.config)
        saved = {k: tuple(v) if isinstance(v, list) else v for k, v in state["cnn_config"].items()}
        mine.pop("dropout")
        saved.pop("dropout", None)
        if saved != mine:
            raise UserError(
                f"the discriminator in {path} has sizes {saved}, this env needs {mine}; "
                "use the same discriminator, vocabulary and data options it was trained with"
            )
        self.reward_model.load_state_dict(state["reward_model"])


class _EarlyStopping:
    """Early stopping of one discriminator phase on the game's validation reals against
    fresh samples of the live policy (drawn once per phase, never trained on)."""

    def __init__(self, game: SequenceGame) -> None:
        self.model, self.patience = game.reward_model, game.config.d_patience
        self.real = game.d_val
        self.fake = game.negatives(len(self.real))
        self.active = len(self.fake) > 0  # no sequences yet: nothing to validate against
        self.best_loss = self.loss() if self.active else float("inf")
        self.best_state, self.waited = self.model.state_dict(), 0

    @torch.no_grad()
    def loss(self) -> float:
        """D's cross-entropy on the validation pairs (eval mode)."""
        real, fake = self.model.scores(self.real), self.model.scores(self.fake)
        return self.model.loss.discriminator(real.float(), fake.float()).item()

    def should_stop(self) -> bool:
        """After an epoch: note the loss, keep the weights if best; True once patience ran out."""
        if not self.active:
            return False
        loss = self.loss()
        if loss < self.best_loss:
            self.best_loss, self.best_state, self.waited = loss, self.model.state_dict(), 0
        else:
            self.waited += 1
        return self.waited >= self.patience

    def restore_best(self) -> None:
        if self.active:
            self.model.load_state_dict(self.best_state)


ORACLE_SEQ_LEN = 20
"""SeqGAN's T for the synthetic oracle."""
TEXT_MAX_CUT = 0.05
"""The share of training sentences a text T may cut before a run warns."""


@functools.lru_cache(maxsize=4)
def calibration_error(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """Expected calibration error of D = sigmoid(logit) on reals (label 1) and fakes
    (label 0), over equal-width bins of D: how far "D = 0.8" is from "80% of these are
    real", the property a density-ratio reward relies on."""
    probs = torch.sigmoid(torch.cat([real_logits, fake_logits]))
    labels = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
    bins = (probs * CALIBRATION_BINS).long().clamp_max(CALIBRATION_BINS - 1)
    error = 0.0
    for b in range(CALIBRATION_BINS):
        members = bins == b
        if members.any():
            error += float(
                members.float().mean() * (probs[members].mean() - labels[members].mean()).abs()
            )
    return error


def _load_data(
    dataset: str | None,
    test_dataset: str | None,
    oracle_params: str | None,
    vocab_size: int,
    seq_len: int | None,
    oracle_seed: int,
    n_train: int,
    n_test: int,
    data_seed: int,
    device: str,
) -> tuple[OracleLSTM | None, SequenceData]:
    """The oracle and the real sequences; cached, as every env of a run needs the same
    (read-only) ones and drawing 15,000 oracle samples takes seconds."""
    if dataset is not None:
        data = text_data(dataset, seq_len or None, test_path=test_dataset, seed=data_seed)
        cut, fit = data.stats["train_cut"], data.stats["p95_length"]
        if cut > TEXT_MAX_CUT:
            print(
                f"SeqGAN-v0 warning: seq_len={data.length} cuts {cut:.0%} of the training "
                f"sentences of {dataset} short; seq_len={fit} fits 95% (or leave it unset)",
                file=sys.stderr,
                flush=True,
            )
        return None, data
    seq_len = seq_len or ORACLE_SEQ_LEN
    oracle = (
        OracleLSTM.from_npz(oracle_params)
        if oracle_params
        else OracleLSTM.random(vocab=vocab_size, seed=oracle_seed)
    ).to(device)
    return oracle, oracle_data(oracle, n_train, n_test, seq_len, seed=data_seed)


def _config(config: SeqGANConfig | None, options: dict[str, Any]) -> SeqGANConfig:
    fields = {f.name for f in dataclasses.fields(SeqGANConfig)}
    unknown = sorted(set(options) - fields)
    moved = [name for name in unknown if name in SeqGANEnv.options_elsewhere]
    if moved:
        raise UserError(
            f"SeqGAN-v0 takes no option {moved[0]!r}: {SeqGANEnv.options_elsewhere[moved[0]]}"
        )
    if unknown:
        raise UserError(
            f"SeqGAN-v0 takes no option {unknown[0]!r}{did_you_mean(unknown[0], fields)}; "
            f"its options: {', '.join(sorted(fields))}"
        )
    return dataclasses.replace(config or SeqGANConfig(), **options)


RECIPE_OPTIONS = (
    "mle_epochs",
    "mle_lr",
    "mle_batch_size",
    "mle_patience",
    "mle_val_fraction",
    "mle_dropout",
    "d_pretrain_rounds",
    "eval_samples",
    "eval_every",
    "kl_reference",
)
"""Options of SeqGAN's training recipe, not of the env (advrl.plugins.seqgan_recipe)."""
CAPABILITIES = EnvCapabilities(recipe="seqgan", learned_reward=True, generator=True)
"""What SeqGAN-v0 declares to advrl's tools (``metadata["advrl"]``): it brings SeqGAN's
recipe (``advrl.plugins``), its reward is a discriminator's score, and its agent is a
generator, judged by generation metrics."""


class SeqGANEnv(gym.Env):
    """
    Generating one token sequence as an episode: SeqGAN (Yu et al. 2017) as a Gymnasium env.

    ## Description
    The agent writes a sequence of T tokens from a vocabulary of V, one token per step. The
    real data is an embedded synthetic oracle (SeqGAN's setup: a randomly initialised LSTM,
    V=5000, T=20, 10,000 training and 5,000 held-out samples drawn offline), the paper's own
    oracle (`oracle_params`), or a text file (`dataset`, one sentence a line). A
    discriminator (a CNN over token sequences, a `RewardModel`) scores sequences as real or
    generated and keeps learning, real sequences against the agent's, every `d_every`
    finished sequences. Completions and scoring run on whole batches in torch (see
    `SeqGANVectorEnv`, the `vector_entry_point`, for B sequences at once).

    ## Action Space
    `Discrete(V)`: the next token's id.

    ## Observation Space
    `TokenPrefix(V, T)`, a `MultiDiscrete` of length T + 2: `[t, start, x_1, ..., x_t, pad,
    ...]`, the prefix written so far with its length first, so a policy reads all of it from
    one int64 array (advrl's agents give it SeqGAN's token LSTM).

    ## Starting State
    The empty prefix `[0, start, pad, ...]`.

    ## Reward
    The discriminator's probability D(x) that the sequence is real. `reward_mode="final"`:
    0 until the last token, then D(sequence). `reward_mode="rollout"` (SeqGAN's Monte Carlo
    search): after token t < T, the mean D of `n_rollouts` completions of the prefix drawn by
    the delayed rollout policy, an estimate of Q(prefix, x_t); after the last token,
    D(sequence). `recommended_hp` asks for discount 0 in rollout mode (each step's return is
    then SeqGAN's Q) and 1 in final mode.

    ## Episode End
    The episode terminates after T tokens, or at `<eos>` for text. No time limit.

    ## Information
    `reset()` and `step()` return `{}`; the vector env puts finished prefixes in
    `info["final_obs"]` (same-step autoreset).

    ## Arguments
    ```python
    import gymnasium as gym
    import advrl

    env = gym.make("SeqGAN-v0", reward_mode="final", vocab_size=500, seq_len=10)
    envs = gym.make_vec("SeqGAN-v0", num_envs=64, n_rollouts=16)  # batched, native
    ```

    Every field of `SeqGANConfig` is a keyword option: the data (`vocab_size`, `seq_len`,
    `oracle_seed`, `oracle_params`, `dataset`, `n_train`, `n_test`, `data_seed`), the
    reward (`reward_mode`, `n_rollouts`, `gan_loss`), the discriminator (`discriminator`
    small or paper, `discriminator_path`, `d_lr`, `init_seed`) and its schedule (`d_every`,
    `d_rounds`, `d_epochs`, `d_negatives`, `d_batch_size`), the rollout policy's delay
    (`rollout_update_rate`) and `device`. Training the agent around the env (MLE
    pre-training, discriminator pre-training, evaluation) is SeqGAN's recipe, a trainer
    plug-in with options of its own (`--recipe-kwargs`), which the env asks for in its
    metadata (`metadata["advrl"]`, `CAPABILITIES`); `update_rollout_policy` and
    `set_rollout_policy` are the hooks for users of other libraries.

    ## Version History
    - v0: Initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4, "advrl": CAPABILITIES}
    options = SeqGANConfig
    """The dataclass whose fields are this env's keyword options (read by advrl's CLI)."""
    options_elsewhere = {
        name: f"it configures SeqGAN's recipe, not the env: use --recipe-kwargs {name}=..."
        for name in RECIPE_OPTIONS
    }
    """Options users look for here that live elsewhere, with where (read by advrl's CLI)."""
    action_space: spaces.Discrete

    def __init__(
        self,
        render_mode: str | None = None,
        config: SeqGANConfig | None = None,
        game: SequenceGame | None = None,
        **options: Any,
    ) -> None:
        self.game = game or SequenceGame(_config(config, options))
        self.render_mode = render_mode
        self.observation_space = TokenPrefix(self.game.vocab_size, self.game.length)
        self.action_space = spaces.Discrete(self.game.vocab_size)
        self._obs = self.game.empty_prefixes(1)[0].numpy()

    @staticmethod
    def frozen_reward_kwargs(path: str) -> dict[str, Any]:
        """The options that make a saved discriminator this env's fixed reward model
        (``--reward model:PATH`` on SeqGAN-v0)."""
        return {"discriminator_path": path, "d_every": 0}

    @property
    def recommended_hp(self) -> dict[str, Any]:
        """Agent settings this env needs (advrl's trainer applies them before --hp):
        discount 0 in rollout mode, so each step's return is SeqGAN's Q estimate itself;
        1 in final mode, so every token gets credit for the final score."""
        return {"gamma": 0.0 if self.game.config.reward_mode == "rollout" else 1.0}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._obs = self.game.empty_prefixes(1)[0].numpy()
        return self._obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not a token id in [0, {self.action_space.n})")
        obs, rewards, done = _advance(
            self.game, self._obs[None], np.array([action]), [self.np_random]
        )
        self._obs = obs[0]
        return self._obs.copy(), float(rewards[0]), bool(done[0]), False, {}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        t = int(self._obs[0])
        return self.game.data.decode(self._obs[2 : 2 + t].tolist()) + "\n"

    # The documented hooks, for users of other libraries (reach them via env.unwrapped).
    def update_rollout_policy(self, module: nn.Module, rate: float | None = None) -> None:
        """See ``SequenceGame.update_rollout_policy``."""
        self.game.update_rollout_policy(module, rate)

    def set_rollout_policy(self, policy: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """See ``SequenceGame.set_rollout_policy``."""
        self.game.set_rollout_policy(policy)


def _advance(
    game: SequenceGame,
    obs: np.ndarray,
    actions: np.ndarray,
    rngs: list[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Append ``actions`` to the prefixes ``obs`` (B, T+2); new obs, rewards and ends."""
    obs = obs.copy()
    rows = np.arange(len(obs))
    lengths = obs[:, 0]
    obs[rows, 2 + lengths] = actions
    obs[:, 0] = lengths + 1
    done = game.ends(np.asarray(actions), obs[:, 0])
    uniforms = None
    if game.config.reward_mode == "rollout":
        # Only unfinished sequences draw, so each env's stream depends on its own steps.
        blank = np.zeros((game.config.n_rollouts, game.length), np.float32)
        pairs = zip(rngs, done, strict=True)
        draws = [blank if end else game.draw_uniforms(rng) for rng, end in pairs]
        uniforms = torch.from_numpy(np.stack(draws))
    tensor_obs = torch.from_numpy(obs)
    rewards = game.step_rewards(tensor_obs, torch.from_numpy(done), uniforms)
    if done.any():
        game.record(tensor_obs[torch.from_numpy(done), 2:])
    return obs, rewards.cpu().numpy().astype(np.float64), done


class SeqGANVectorEnv(gym.vector.VectorEnv):
    """B sequences stepped together on one ``SequenceGame`` (Gymnasium's native vector env).

    Finished sequences restart in the same step (``AutoresetMode.SAME_STEP``): the returned
    observation is the new empty prefix, the finished one is in ``info["final_obs"]``.
    """

    metadata = {
        "render_modes": [],
        "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
        "advrl": CAPABILITIES,
    }
    options = SeqGANConfig
    options_elsewhere = SeqGANEnv.options_elsewhere

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        config: SeqGANConfig | None = None,
        game: SequenceGame | None = None,
        **options: Any,
    ) -> None:
        if render_mode is not None:
            raise UserError("SeqGAN-v0's vector env does not render; use the single env")
        self.game = game or SequenceGame(_config(config, options))
        self.num_envs = num_envs
        self.render_mode = None
        self.single_observation_space = TokenPrefix(self.game.vocab_size, self.game.length)
        self.single_action_space = spaces.Discrete(self.game.vocab_size)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._obs = self.game.empty_prefixes(num_envs).numpy()

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            seeds = seed if isinstance(seed, list) else [seed + i for i in range(self.num_envs)]
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self._obs = self.game.empty_prefixes(self.num_envs).numpy()
        return self._obs.copy(), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        if actions.min() < 0 or actions.max() >= self.game.vocab_size:
            raise ValueError(f"actions must be token ids in [0, {self.game.vocab_size})")
        obs, rewards, done = _advance(self.game, self._obs, actions, self._rngs)
        infos: dict[str, Any] = {}
        if done.any():
            final = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(done):
                final[i] = obs[i].copy()
            infos = {"final_obs": final, "_final_obs": done.copy()}
            obs[done] = self.game.empty_prefixes(int(done.sum())).numpy()
        self._obs = obs
        truncated = np.zeros(self.num_envs, dtype=bool)
        return obs.copy(), rewards, done.copy(), truncated, infos

    def update_rollout_policy(self, module: nn.Module, rate: float | None = None) -> None:
        """See ``SequenceGame.update_rollout_policy``."""
        self.game.update_rollout_policy(module, rate)

    def set_rollout_policy(self, policy: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """See ``SequenceGame.set_rollout_policy``."""
        self.game.set_rollout_policy(policy)
