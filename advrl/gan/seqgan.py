"""SeqGAN's recipe around any advrl policy-gradient agent on SeqGAN-v0 (Yu et al. 2017).

1. MLE pre-training: the agent's token policy learns the real sequences by teacher-forced
   cross-entropy (behaviour cloning on the data).
2. Discriminator pre-training: real sequences against samples of the MLE generator.
3. Adversarial training: the agent's own ``learn`` on the discriminator's reward, with the
   env training the discriminator on its schedule; after every agent update
   ``after_update`` moves the env's delayed rollout policy towards the agent's.

Generation metrics (``evaluate``): NLL-oracle (oracle data only), NLL-test, BLEU-2..5
against held-out data, Self-BLEU-4, mean discriminator reward, a temperature sweep and a few
samples as text. ``train.py`` calls these when the env is SeqGAN-v0.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from advrl.agents.networks import ActorCritic
from advrl.envs.seqgan import SequenceGame
from advrl.gan import metrics as gan_metrics
from advrl.gan.metrics import bleu, nll_oracle, self_bleu

SWEEP_TEMPERATURES = (0.5, 0.75, 1.0, 1.25, 1.5)
BLEU_HYPOTHESES = 500
"""Generated sentences scored for BLEU and Self-BLEU (all held-out ones are references)."""


class Tempered(nn.Module):
    """A logits module with its logits divided by a temperature."""

    def __init__(self, module: nn.Module, temperature: float) -> None:
        super().__init__()
        self.module, self.temperature = module, temperature

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.module(obs) / self.temperature

    def teacher_forced_logits(self, sequences: torch.Tensor, start_id: int) -> torch.Tensor:
        return self.module.teacher_forced_logits(sequences, start_id) / self.temperature


def token_nll(
    policy: ActorCritic | Tempered, sequences: torch.Tensor, start_id: int, eos_id: int | None
) -> torch.Tensor:
    """Each sequence's mean per-token NLL (B,) under ``policy``, with gradients.

    For text, the tokens after the first ``<eos>`` (padding the env never generates) are
    left out; oracle sequences count all T tokens.
    """
    logits = policy.teacher_forced_logits(sequences, start_id)  # (B, T, V)
    # Flattened rows: cross_entropy on a (B, V, T) transpose is several times slower on CPU.
    nll = F.cross_entropy(logits.flatten(0, 1), sequences.flatten(), reduction="none")
    nll = nll.view_as(sequences)  # (B, T)
    if eos_id is None:
        return nll.mean(1)
    is_eos = (sequences == eos_id).long()
    before_end = (is_eos.cumsum(1) - is_eos) == 0  # up to and including the first <eos>
    return (nll * before_end).sum(1) / before_end.sum(1).clamp_min(1)


class SeqGANRecipe:
    """Pre-training, the rollout-policy sync and the metrics of one SeqGAN-v0 run."""

    def __init__(self, game: SequenceGame, policy: ActorCritic, device: torch.device) -> None:
        self.game, self.policy, self.device = game, policy, device
        self.generator = policy.logits_module()
        self.d_logged = 0
        self.validation = game.data.train[:0]
        """MLE's held-out validation sequences (set by ``pretrain_mle``)."""
        self.val_nll: list[float] = []
        """Validation NLL after each MLE epoch."""
        self.best_epoch = 0
        """The MLE epoch whose weights were kept."""

    # --- 1 and 2: pre-training ----------------------------------------------------------

    def pretrain_mle(self, seed: int, log: Any = None) -> list[float]:
        """Teacher-forced cross-entropy for up to ``mle_epochs``; the mean loss of each epoch.

        With ``mle_patience`` > 0 a seeded ``mle_val_fraction`` of the training sequences is
        held out; training stops once the validation NLL has not improved for that many
        epochs and the best epoch's weights are kept (``val_nll``, ``best_epoch``). MLE
        over-fits 10,000 oracle sequences within a few epochs: later epochs lower training
        NLL and NLL-oracle but raise NLL-test, making the generator over-confident, which
        no adversarial phase should be credited with undoing or blamed for.
        """
        cfg = self.game.config
        data = self.game.data.train.to(self.device)
        rng = torch.Generator().manual_seed(seed)
        self.validation = data[:0]
        if cfg.mle_patience:
            order = torch.randperm(len(data), generator=rng).to(self.device)
            n_val = max(1, round(len(data) * cfg.mle_val_fraction))
            self.validation, data = data[order[:n_val]], data[order[n_val:]]
        params = list(self.generator.parameters())
        optimizer = torch.optim.Adam(params, lr=cfg.mle_lr)
        losses: list[float] = []
        self.val_nll, self.best_epoch = [], 0
        best_state = None
        self.policy.train()
        for epoch in range(1, cfg.mle_epochs + 1):
            total, batches = 0.0, 0
            for idx in torch.randperm(len(data), generator=rng).split(cfg.mle_batch_size):
                loss = token_nll(
                    self.policy, data[idx.to(self.device)], self.game.start_id, self.game.eos_id
                ).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, 5.0)  # SeqGAN's generator clips at 5
                optimizer.step()
                total += loss.item()
                batches += 1
            losses.append(total / max(batches, 1))
            if cfg.mle_patience:
                self.val_nll.append(self._mean_nll(self.validation))
                if self.val_nll[-1] < min(self.val_nll[:-1], default=float("inf")):
                    self.best_epoch = epoch
                    best_state = copy.deepcopy(self.generator.state_dict())
            else:
                self.best_epoch = epoch
            if log is not None:
                log(epoch, losses[-1], self.val_nll[-1] if self.val_nll else None)
            if cfg.mle_patience and epoch - self.best_epoch >= cfg.mle_patience:
                break
        if best_state is not None:
            self.generator.load_state_dict(best_state)
        return losses

    def pretrain_discriminator(self) -> dict[str, float]:
        """``d_pretrain_rounds`` rounds against the (MLE) generator's samples; none when
        the env loaded a trained discriminator (``discriminator_path``).

        This first ``update_rollout_policy`` call also makes the rollout policy a copy of
        the pre-trained generator, as SeqGAN starts it.
        """
        self.game.update_rollout_policy(self.generator)
        if self.game.config.discriminator_path:
            return {}  # a loaded discriminator is trained already (and may be frozen)
        rounds = self.game.config.d_pretrain_rounds
        return self.game.train_discriminator(rounds) if rounds else {}

    # --- 3: adversarial training --------------------------------------------------------

    def after_update(self) -> list[dict[str, float]]:
        """Move the rollout policy towards the agent's; the new discriminator phases' metrics."""
        self.game.update_rollout_policy(self.generator)
        new = self.game.d_history[self.d_logged :]
        self.d_logged = len(self.game.d_history)
        return new

    # --- metrics ------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` sequences from the agent's policy (eval mode) at ``temperature``."""
        module = self.generator if temperature == 1.0 else Tempered(self.generator, temperature)
        return self.game.generate(module, n)

    @torch.no_grad()
    def nll_test(self, temperature: float = 1.0) -> float:
        """The generator's mean per-token NLL of the held-out sequences."""
        return self._mean_nll(self.game.data.test.to(self.device), temperature)

    def _mean_nll(self, sequences: torch.Tensor, temperature: float = 1.0) -> float:
        tempered = Tempered(self.policy, temperature)
        start_id, eos_id = self.game.start_id, self.game.eos_id
        return gan_metrics.nll_test(
            lambda batch: token_nll(tempered, batch, start_id, eos_id), sequences
        )

    def evaluate(self, n_samples: int | None = None, sweep: bool = False) -> dict[str, Any]:
        """Generation metrics of the agent's policy now; see the module docstring."""
        start = time.perf_counter()
        game = self.game
        n = n_samples or game.config.eval_samples
        samples = self.sample(n)
        metrics: dict[str, Any] = {"nll_test": self.nll_test()}
        if game.oracle is not None:
            per_sequence = game.oracle.nll(samples.to(game.device))
            metrics["nll_oracle"] = per_sequence.mean().item()
            metrics["nll_oracle_se"] = (per_sequence.std() / len(per_sequence) ** 0.5).item()
        metrics["mean_reward"] = float(game.score(samples[:2000]).mean())
        hypotheses = game.data.tokens(samples[:BLEU_HYPOTHESES])
        references = game.data.references()
        scores = bleu(hypotheses, references, n=(2, 3, 4, 5))
        metrics |= {f"bleu{order}": score for order, score in scores.items()}
        metrics["self_bleu4"] = self_bleu(hypotheses, n=4)
        metrics["samples"] = [game.data.decode(row) for row in samples[:5]]
        if sweep:
            metrics["temperature_sweep"] = self.temperature_sweep(min(n, 2000))
        metrics["eval_seconds"] = time.perf_counter() - start
        return metrics

    def temperature_sweep(self, n: int) -> list[dict[str, float]]:
        """NLL-oracle and NLL-test at each of ``SWEEP_TEMPERATURES`` (same temperature both)."""

        def evaluate(samples: torch.Tensor, tau: float) -> dict[str, float]:
            row = {"nll_test": self.nll_test(tau)}
            if self.game.oracle is not None:
                row["nll_oracle"] = nll_oracle(self.game.oracle, samples.to(self.game.device))
            return row

        return gan_metrics.temperature_sweep(
            lambda tau: self.sample(n, tau), evaluate, SWEEP_TEMPERATURES
        )
