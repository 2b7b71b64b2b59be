"""RelGAN's generator training on SeqGAN-v0 (Nie et al. 2019): the reparameterised gradient
estimator for discrete tokens, ``--recipe-kwargs estimator=gumbel``.

The agent's token policy is trained through the discriminator itself, not by a policy
gradient. Each iteration:

1. **One generator step.** B sequences are drawn by the Gumbel-max trick: token
   y_t = argmax(o_t + g_t), with o_t the logits and g_t Gumbel noise, an exact sample of the
   policy. Each token is also relaxed to ỹ_t = softmax(β (o_t + g_t)), a point of the simplex
   that D scores as a mixture of token embeddings. The generator minimises the loss's
   generator side on the relaxed sequences (RelGAN's relativistic loss pairs them with B
   reals). The gradient reaches the logits through ỹ. The LSTM is fed the hard tokens, as
   RelGAN does, so no gradient flows through the inputs.
2. **``d_steps`` discriminator steps**, each on B reals against B fresh relaxed samples.

β, the inverse temperature, rises as β_max^(n / N) over the run's N iterations (RelGAN's
"exp" schedule). Early samples are soft, so gradients have low variance and high bias
(``advrl.benchmarks.estimators`` measures both). Late samples are almost one-hot.

The discriminator is the env's own network, trained by the one reward-model core
(``RewardModel``) with this option's loss (``gumbel_loss``, RelGAN's ``rsgan`` by default).
It sees relaxed fakes and one-hot reals from the start, so the recipe does not pre-train it
on token ids. Token noise (``d_token_noise``) is not applied: it exists for token ids only,
and noising the reals alone would hand D a feature to separate them by.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from advrl.agents.token_lstm import TokenPolicy
from advrl.core.stats import mean_metrics
from advrl.envs.seqgan import D_METRICS, SequenceGame
from advrl.gan.losses import get_loss
from advrl.gan.reward_model import RewardModel

PHASE_ITERATIONS = 100
"""Iterations per discriminator phase recorded in the game's history (and logged)."""


class GumbelGenerator:
    """RelGAN's iteration over a SeqGAN-v0 game and the agent's token policy."""

    def __init__(
        self,
        game: SequenceGame,
        policy: TokenPolicy,
        seed: int,
        batch_size: int = 64,
        lr: float = 1e-4,
        beta_max: float = 100.0,
        d_steps: int = 5,
        loss: str = "rsgan",
        max_grad_norm: float = 5.0,
    ) -> None:
        self.game, self.policy = game, policy
        self.batch_size, self.beta_max, self.d_steps = batch_size, beta_max, d_steps
        self.max_grad_norm = max_grad_norm
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        cfg, bce = game.config, get_loss(loss).is_bce
        # The env's discriminator, under this loss: the game's reward model from here on.
        game.reward_model = RewardModel(
            game.discriminator,
            loss=loss,
            reward=cfg.d_reward if bce else "default",
            optimizer=functools.partial(
                torch.optim.AdamW, lr=cfg.d_lr, weight_decay=cfg.d_weight_decay
            ),
            label_smoothing=cfg.d_label_smoothing if bce else 0.0,
        )
        self.rng = torch.Generator(device=game.device).manual_seed(seed)
        self.iterations = 0
        self.phase: list[dict[str, float]] = []
        """D's step metrics since the last phase was recorded in ``game.d_history``."""

    def beta(self, progress: float) -> float:
        """The inverse temperature at ``progress`` (0 to 1) through the run: β_max^progress."""
        return float(self.beta_max ** min(max(progress, 0.0), 1.0))

    def relaxed_sample(self, n: int, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` sequences: hard tokens (n, T) and their relaxations (n, T, V), differentiable
        in the policy's parameters. After ``<eos>`` both are ``<pad>``, one-hot."""
        game = self.game
        logits, state = self.policy.start(game.empty_prefixes(n).to(game.device))
        finished = torch.zeros(n, dtype=torch.bool, device=game.device)
        pad = F.one_hot(torch.tensor(game.pad_id, device=game.device), game.vocab_size).float()
        tokens, relaxed = [], []
        for t in range(game.length):
            uniform = torch.rand(logits.shape, generator=self.rng, device=game.device)
            perturbed = logits.float() - torch.log(-torch.log(uniform.clamp_min(1e-20)))
            token = perturbed.argmax(-1)
            soft = torch.softmax(beta * perturbed, -1)
            if game.eos_id is not None:
                token = token.masked_fill(finished, game.pad_id)
                soft = torch.where(finished[:, None], pad, soft)
                finished = finished | (token == game.eos_id)
            tokens.append(token)
            relaxed.append(soft)
            if t + 1 < game.length:
                logits, state = self.policy.step(token, state)
        return torch.stack(tokens, 1), torch.stack(relaxed, 1)

    def iteration(self, progress: float) -> dict[str, float]:
        """One generator step, then ``d_steps`` discriminator steps; their metrics."""
        game, model, n = self.game, self.game.reward_model, self.batch_size
        beta = self.beta(progress)
        game.discriminator.eval()  # D scores deterministically for the generator's step
        _, relaxed = self.relaxed_sample(n, beta)
        g_loss = model.generator_loss(relaxed, game.real_batch(n))
        self.optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.optimizer.step()
        d_metrics: list[dict[str, float]] = []
        for _ in range(self.d_steps):
            with torch.no_grad():
                _, fake = self.relaxed_sample(n, beta)
            d_metrics.append(model.update(game.real_batch(n), fake))
        self.iterations += 1
        self.phase += [{key: m[key] for key in D_METRICS} for m in d_metrics]
        if self.iterations % PHASE_ITERATIONS == 0 and self.phase:
            # A "phase" of D every PHASE_ITERATIONS iterations, as SeqGAN-v0's are logged,
            # with D measured on held-out reals and on hard samples of the generator.
            game.d_history.append(mean_metrics(self.phase) | game.memorisation())
            self.phase = []
        metrics = {"losses/g_loss": g_loss.item(), "losses/g_grad_norm": float(grad_norm),
                   "charts/gumbel_beta": beta}  # fmt: skip
        for key in ("loss", "accuracy") if d_metrics else ():
            metrics[f"losses/d_{key}"] = sum(m[key] for m in d_metrics) / len(d_metrics)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """The generator's optimiser, the noise and the count, for checkpoints (the policy is
        the agent's, D the game's)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.get_state(),
            "iterations": self.iterations,
            "phase": self.phase,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.set_state(state["rng"])
        self.iterations, self.phase = state["iterations"], state["phase"]
