"""Behaviour cloning: fit a policy to demonstrations by maximum likelihood.

One mechanism for two uses (DESIGN.md: MLE pre-training is behaviour cloning): on an env's
(observation, action) demonstrations it is BC, minimising -log pi(a | s); on SeqGAN-v0's real
sequences it is SeqGAN's MLE, each token's cross-entropy given its prefix, computed for all
T prefixes of a sequence in one teacher-forced pass. Both go through ``fit_likelihood``:

    for epoch in 1..epochs:   (Adam, minibatches, gradient clipping)
        loss = mean(nll(rows))
    keep the epoch whose held-out NLL was lowest; stop after ``patience`` epochs without one.

A seeded ``val_fraction`` of the rows is held out for that choice; ``patience=0`` trains all
epochs on all rows, as the SeqGAN paper does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from advrl.agents.networks import ActorCritic
from advrl.core.stats import batched_mean

EpochLog = Callable[[int, float, "float | None"], None]
"""``log(epoch, mean training loss, validation NLL or None)`` after every epoch."""


@dataclass
class BCConfig:
    """Options of behaviour cloning (``--pretrain bc``, set with ``--pretrain-kwargs``)."""

    epochs: int = 50
    """Passes over the demonstrations (the most; early stopping may end sooner)."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 64
    """Demonstration rows per step."""
    patience: int = 5
    """Stop after this many epochs without a better held-out NLL and keep the best epoch's
    weights; 0 trains every epoch on all rows."""
    val_fraction: float = 0.1
    """Share of the rows held out to choose the epoch (with patience > 0)."""
    max_grad_norm: float = 5.0
    """Clip the global gradient norm to this value."""

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        if self.epochs < 0 or self.patience < 0:
            problems.append("epochs and patience must be >= 0")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0 or self.max_grad_norm <= 0:
            problems.append("lr and max_grad_norm must be > 0")
        if self.patience and not 0.0 < self.val_fraction < 1.0:
            problems.append(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        return problems


@dataclass
class LikelihoodFit:
    """What ``fit_likelihood`` did: per-epoch losses, held-out NLLs and the epoch kept."""

    validation: torch.Tensor
    """The held-out rows (empty with patience 0)."""
    losses: list[float] = field(default_factory=list)
    val_nll: list[float] = field(default_factory=list)
    best_epoch: int = 0


def fit_likelihood(
    module: nn.Module,
    nll: Callable[[torch.Tensor], torch.Tensor],
    rows: torch.Tensor,
    config: BCConfig,
    seed: int,
    log: EpochLog | None = None,
) -> LikelihoodFit:
    """Minimise the mean of ``nll(batch)`` (one NLL per row, with gradients) over ``rows``
    by Adam on ``module``'s parameters; ``module`` ends with the best epoch's weights."""
    rng = torch.Generator().manual_seed(seed)
    fit = LikelihoodFit(validation=rows[:0])
    if config.patience:
        order = torch.randperm(len(rows), generator=rng).to(rows.device)
        n_val = max(1, round(len(rows) * config.val_fraction))
        fit.validation, rows = rows[order[:n_val]], rows[order[n_val:]]
    params = list(module.parameters())
    optimizer = torch.optim.Adam(params, lr=config.lr)
    best_state = None
    module.train()
    for epoch in range(1, config.epochs + 1):
        total, batches = 0.0, 0
        for idx in torch.randperm(len(rows), generator=rng).split(config.batch_size):
            loss = nll(rows[idx.to(rows.device)]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            total += loss.item()
            batches += 1
        fit.losses.append(total / max(batches, 1))
        if config.patience:
            module.eval()  # no dropout on held-out rows
            fit.val_nll.append(batched_mean(nll, fit.validation))
            module.train()
            if fit.val_nll[-1] < min(fit.val_nll[:-1], default=float("inf")):
                fit.best_epoch = epoch
                best_state = copy.deepcopy(module.state_dict())
        else:
            fit.best_epoch = epoch
        if log is not None:
            log(epoch, fit.losses[-1], fit.val_nll[-1] if fit.val_nll else None)
        if config.patience and epoch - fit.best_epoch >= config.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return fit


def action_nll(
    policy: ActorCritic, obs: torch.Tensor, actions: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Behaviour cloning's NLL: rows are indices into (obs, actions); -log pi(a | s) each."""

    def nll(rows: torch.Tensor) -> torch.Tensor:
        return -policy.distribution(obs[rows]).log_prob(actions[rows])

    return nll


def token_nll(
    policy: ActorCritic,
    sequences: torch.Tensor,
    start_id: int,
    eos_id: int | None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Each sequence's mean per-token NLL (B,) under ``policy``, with gradients.

    ``policy`` has ``teacher_forced_logits(sequences, start_id, dropout)`` (SeqGAN-v0's
    token policy; ``dropout`` acts in training mode only). For text, the tokens after the
    first ``<eos>`` (padding the env never generates) are left out; oracle sequences count
    all T tokens.
    """
    logits = policy.teacher_forced_logits(sequences, start_id, dropout)  # (B, T, V)
    return sequence_nll(logits, sequences, eos_id)


def sequence_nll(logits: torch.Tensor, sequences: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """Each sequence's mean per-token NLL (B,) given its teacher-forced ``logits`` (B, T, V);
    for text, up to and including the first ``<eos>``."""
    # Flattened rows: cross_entropy on a (B, V, T) transpose is several times slower on CPU.
    nll = F.cross_entropy(logits.flatten(0, 1), sequences.flatten(), reduction="none")
    nll = nll.view_as(sequences)  # (B, T)
    if eos_id is None:
        return nll.mean(1)
    counted = counted_tokens(sequences, eos_id)
    return (nll * counted).sum(1) / counted.sum(1).clamp_min(1)


def counted_tokens(sequences: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """Which tokens (B, T) a sequence's likelihood counts: all of them, or for text up to
    and including the first ``<eos>``."""
    if eos_id is None:
        return torch.ones_like(sequences, dtype=torch.bool)
    is_eos = (sequences == eos_id).long()
    return (is_eos.cumsum(1) - is_eos) == 0
