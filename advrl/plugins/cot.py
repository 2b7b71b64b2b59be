"""Cooperative Training on SeqGAN-v0 (CoT, Lu et al. 2019): the exact per-step expectation
over the vocabulary, ``--recipe-kwargs estimator=cot``.

A mediator M, a token LSTM of the generator's sizes, learns the mixture of the real
sequences and the generator's. The generator G minimises its divergence to M at every step
of its own samples, summed exactly over the vocabulary:

    L(G) = E_{x ~ G} (1/T) sum_t KL(G(. | x_<t) || M(. | x_<t)).

No next token is sampled for the gradient and no rollout is needed: only the prefixes
x_<t are sampled, and the gradient flows through G's probabilities of all V tokens. When M
is the mixture (P + G) / 2, following this gradient lowers the Jensen-Shannon divergence
between P and G (the paper's Theorem). Each iteration is one generator step on B of its
samples, then ``mediator_steps`` steps of maximum likelihood for M: half on B reals, half
on B fresh samples of G.

M starts as a copy of the generator (TextGAN-PyTorch's CoT starts both from scratch, with M
twice as wide). With a strong MLE generator as the starting point, a copy makes G's first
gradients zero rather than a pull towards an untrained M; M then moves towards the mixture,
and G follows it. The env's discriminator plays no part. Its metrics in the summary are
those of the untrained D.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from advrl.agents.bc import counted_tokens
from advrl.agents.token_lstm import TokenPolicy
from advrl.envs.seqgan import SequenceGame


class CooperativeTraining:
    """CoT's iteration over a SeqGAN-v0 game and the agent's token policy."""

    def __init__(
        self,
        game: SequenceGame,
        policy: TokenPolicy,
        seed: int,
        batch_size: int = 64,
        lr: float = 1e-4,
        mediator_lr: float = 1e-3,
        mediator_steps: int = 1,
        max_grad_norm: float = 5.0,
    ) -> None:
        self.game, self.policy = game, policy
        self.batch_size, self.mediator_steps = batch_size, mediator_steps
        self.max_grad_norm = max_grad_norm
        self.mediator = copy.deepcopy(policy).train()
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        self.mediator_optimizer = torch.optim.Adam(self.mediator.parameters(), lr=mediator_lr)
        self.rng = torch.Generator().manual_seed(seed)

    def sample(self, n: int) -> torch.Tensor:
        """``n`` sequences (n, T) of the generator, from this trainer's own noise."""
        game = self.game
        uniforms = torch.rand(n, game.length, generator=self.rng)
        with torch.no_grad():
            return game.complete(self.policy, game.empty_prefixes(n), uniforms)

    def log_probs(self, model: TokenPolicy, sequences: torch.Tensor) -> torch.Tensor:
        """log model(. | x_<t) (B, T, V) of every prefix of ``sequences``."""
        logits = model.teacher_forced_logits(sequences, self.game.start_id)
        return F.log_softmax(logits.float(), -1)

    def mean_per_token(self, values: torch.Tensor, sequences: torch.Tensor) -> torch.Tensor:
        """The mean of ``values`` (B, T) over the tokens a likelihood counts (all, or for
        text up to the first ``<eos>``)."""
        counted = counted_tokens(sequences, self.game.eos_id).float()
        return (values * counted).sum() / counted.sum().clamp_min(1.0)

    def iteration(self, progress: float) -> dict[str, float]:
        """One generator step, then ``mediator_steps`` mediator steps; their metrics.
        ``progress`` is unused: CoT has no schedule."""
        game, n = self.game, self.batch_size
        samples = self.sample(n).to(game.device)
        log_g = self.log_probs(self.policy, samples)
        with torch.no_grad():
            log_m = self.log_probs(self.mediator, samples)
        kl = (log_g.exp() * (log_g - log_m)).sum(-1)  # (B, T): exact over the vocabulary
        g_loss = self.mean_per_token(kl, samples)
        self.optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.optimizer.step()
        m_losses = []
        for _ in range(self.mediator_steps):
            real = game.real_batch(n).to(game.device)
            fake = self.sample(n).to(game.device)
            nll = [
                self.mean_per_token(
                    -self.log_probs(self.mediator, x).gather(2, x.unsqueeze(2)).squeeze(2), x
                )
                for x in (real, fake)
            ]
            m_loss = (nll[0] + nll[1]) / 2
            self.mediator_optimizer.zero_grad(set_to_none=True)
            m_loss.backward()
            nn.utils.clip_grad_norm_(self.mediator.parameters(), self.max_grad_norm)
            self.mediator_optimizer.step()
            m_losses.append(m_loss.item())
        metrics = {"losses/g_kl_to_mediator": g_loss.item(), "losses/g_grad_norm": float(grad_norm)}
        if m_losses:
            metrics["losses/mediator_nll"] = sum(m_losses) / len(m_losses)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """The mediator, both optimisers and the noise, for checkpoints (the generator is the
        agent's policy)."""
        return {
            "mediator": self.mediator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "mediator_optimizer": self.mediator_optimizer.state_dict(),
            "rng": self.rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mediator.load_state_dict(state["mediator"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.mediator_optimizer.load_state_dict(state["mediator_optimizer"])
        self.rng.set_state(state["rng"])
