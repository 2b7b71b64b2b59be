"""Gradient estimators measured against the exact gradient
(``python scripts/benchmark.py --suite estimators``).

First the lecture's toy (``advrl.gan.estimators``): the score-function estimator of
d/dtheta E[z^2], z ~ N(theta, 1), with and without a baseline, against the path derivative
(reparameterisation), each one's variance sampled beside its closed form, against theta and
against the number of samples averaged: ``benchmarks/estimators/toy.json`` and ``toy.png``.

Then the lab (``Lab``): SeqGAN-v0's generator (the token LSTM policy) on a vocabulary small
enough to enumerate (V = 8, T = 4: 4,096 sequences) and a fixed CNN discriminator, so that
the exact gradient of the generator's objective J = E_x[r(x)] is a sum over every sequence.
Each estimator in ``ESTIMATORS`` is measured against it (``lab_rows``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.nn import functional as F

from advrl.agents.networks import ActorCritic
from advrl.agents.token_lstm import TokenPolicy
from advrl.benchmarks import RESULTS
from advrl.core.checkpoint import write_json_atomic
from advrl.core.spaces import TokenPrefix
from advrl.gan.discriminators import SequenceCNN, SequenceCNNConfig
from advrl.gan.estimators import TOY_ESTIMATORS, toy_estimates, toy_gradient, toy_variance
from advrl.gan.oracle import OracleLSTM

OUT = RESULTS / "estimators"
THETAS = tuple(float(t) for t in np.linspace(-3.0, 3.0, 13))
SAMPLES = (1, 4, 16, 64, 256)
REPEATS = 20_000
"""Independent estimates per point, from which each variance is sampled."""


def toy_study(out: Path = OUT, repeats: int = REPEATS, seed: int = 0) -> dict[str, Any]:
    """Each estimator's sampled mean and variance beside the closed forms, over ``THETAS``
    (one sample per estimate) and over ``SAMPLES`` (at theta = 1); toy.json and toy.png."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    points = [(theta, 1) for theta in THETAS] + [(1.0, n) for n in SAMPLES if n != 1]
    for estimator in TOY_ESTIMATORS:
        for theta, n in points:
            estimates = toy_estimates(estimator, theta, n, repeats, generator)
            rows.append(
                {
                    "estimator": estimator,
                    "theta": theta,
                    "samples": n,
                    "true_gradient": toy_gradient(theta),
                    "mean": estimates.mean().item(),
                    "variance": estimates.var().item(),
                    "variance_closed_form": toy_variance(estimator, theta, n),
                }
            )
    result = {"repeats": repeats, "seed": seed, "rows": rows}
    write_json_atomic(out / "toy.json", result)
    plot_toy(rows, out / "toy.png")
    return result


def plot_toy(rows: list[dict[str, Any]], path: Path) -> None:
    """Variance against theta (one sample) and against samples (theta = 1), log scale:
    sampled points on their closed-form lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_theta, by_samples) = plt.subplots(1, 2, figsize=(10, 4))
    for index, estimator in enumerate(TOY_ESTIMATORS):
        color = f"C{index}"
        mine = [r for r in rows if r["estimator"] == estimator]
        single = sorted((r for r in mine if r["samples"] == 1), key=lambda r: r["theta"])
        thetas = np.linspace(min(THETAS), max(THETAS), 200)
        by_theta.plot(thetas, [toy_variance(estimator, t) for t in thetas], color=color,
                      label=estimator.replace("_", " "))  # fmt: skip
        by_theta.plot([r["theta"] for r in single], [r["variance"] for r in single], "o",
                      color=color, markersize=4)  # fmt: skip
        at_one = sorted((r for r in mine if r["theta"] == 1.0), key=lambda r: r["samples"])
        counts = [r["samples"] for r in at_one]
        by_samples.plot(counts, [toy_variance(estimator, 1.0, n) for n in counts], color=color)
        by_samples.plot(counts, [r["variance"] for r in at_one], "o", color=color, markersize=4)
    by_theta.set(yscale="log", xlabel="theta", ylabel="variance of one-sample estimate",
                 title="d/dtheta E[z^2], z ~ N(theta, 1)")  # fmt: skip
    by_samples.set(xscale="log", yscale="log", xlabel="samples averaged",
                   ylabel="variance (theta = 1)",
                   title="lines: closed form; dots: sampled")  # fmt: skip
    by_theta.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


# --- the exact-gradient lab ---------------------------------------------------------------


@dataclass
class Lab:
    """A generator and a fixed discriminator over every sequence of a tiny vocabulary."""

    generator: ActorCritic
    """SeqGAN-v0's generator: the token LSTM and its linear head (``hidden_sizes=()``)."""
    discriminator: SequenceCNN
    vocab_size: int
    length: int
    reward: str
    """How r(x) reads D: ``prob`` (SeqGAN's D(x)) or ``logit``."""
    start_id: int = 0

    @property
    def policy(self) -> TokenPolicy:
        module = self.generator.logits_module()
        assert isinstance(module, TokenPolicy)
        return module

    @property
    def parameters(self) -> list[nn.Parameter]:
        return list(self.generator.encoder.parameters()) + list(self.generator.actor.parameters())

    def score(self, sequences: torch.Tensor) -> torch.Tensor:
        """r(x) (B,) of token ids (B, T) or token distributions (B, T, V)."""
        logits = self.discriminator(sequences)
        return torch.sigmoid(logits) if self.reward == "prob" else logits

    def log_probs(self, sequences: torch.Tensor) -> torch.Tensor:
        """log p(x_t | x_<t) (B, T) of whole sequences, with gradients."""
        logits = self.generator.teacher_forced_logits(sequences, self.start_id)
        return F.log_softmax(logits, -1).gather(2, sequences.long().unsqueeze(2)).squeeze(2)

    def all_sequences(self) -> torch.Tensor:
        """Every sequence (V^T, T), in lexicographic order."""
        grid = itertools.product(range(self.vocab_size), repeat=self.length)
        return torch.tensor(list(grid), dtype=torch.long)

    def exact_gradient(self) -> torch.Tensor:
        """dJ/dtheta, J = sum over every x of p(x) r(x), flattened over the parameters."""
        every = self.all_sequences()
        with torch.no_grad():
            rewards = self.score(every)
        objective = (self.log_probs(every).sum(1).exp() * rewards).sum()
        return flat_grad(objective, self.parameters)

    def prefix_values(self) -> list[torch.Tensor]:
        """Q(x_1..x_k) = E[r(x) | x_1..x_k] for k = 1..T, each of shape (V,) * k, exact."""
        every = self.all_sequences()
        with torch.no_grad():
            p = self.log_probs(every).sum(1).exp().view((self.vocab_size,) * self.length)
            joint = p * self.score(every).view_as(p)
        values = []
        for k in range(1, self.length + 1):
            trailing = tuple(range(k, self.length))
            mass = p.sum(trailing) if trailing else p
            values.append((joint.sum(trailing) if trailing else joint) / mass)
        return values

    @torch.no_grad()
    def sample(self, n: int, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` sequences (n, T) from the generator, continuing ``prefix`` (n, k) if given."""
        fixed = prefix if prefix is not None else torch.zeros(n, 0, dtype=torch.long)
        obs = torch.zeros(n, self.length + 2, dtype=torch.long)
        obs[:, 1] = self.start_id
        obs[:, 0] = fixed.shape[1]
        obs[:, 2 : 2 + fixed.shape[1]] = fixed
        logits, state = self.policy.start(obs)
        tokens = [fixed]
        for _ in range(self.length - fixed.shape[1]):
            token = torch.distributions.Categorical(logits=logits).sample()
            tokens.append(token.unsqueeze(1))
            logits, state = self.policy.step(token, state)
        return torch.cat(tokens, dim=1)


def flat_grad(objective: torch.Tensor, parameters: list[nn.Parameter]) -> torch.Tensor:
    """The gradient of a scalar with respect to ``parameters``, as one flat vector."""
    grads = torch.autograd.grad(objective, parameters, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).flatten()
            for g, p in zip(grads, parameters, strict=True)
        ]
    )


def make_lab(
    vocab_size: int = 8, length: int = 4, seed: int = 0, reward: str = "prob", d_steps: int = 200
) -> Lab:
    """The generator after SeqGAN's initialisation and a discriminator trained for
    ``d_steps`` Adam steps to tell a random oracle LSTM's sequences from the generator's
    (so that r has structure worth following), then frozen in eval mode."""
    torch.manual_seed(seed)
    space = TokenPrefix(vocab_size, length)
    generator = ActorCritic(
        space, spaces.Discrete(vocab_size), hidden_sizes=(), token_lstm=(16, 16)
    )
    config = SequenceCNNConfig(vocab_size, 16, (1, 2, 3), (16, 16, 16), dropout=0.0)
    lab = Lab(generator, SequenceCNN(config), vocab_size, length, reward)
    oracle = OracleLSTM.random(vocab_size, 16, 16, seed=seed)
    optimizer = torch.optim.Adam(lab.discriminator.parameters(), lr=1e-3)
    for _ in range(d_steps):
        real, fake = oracle.sample(64, length), lab.sample(64)
        logits = lab.discriminator(torch.cat([real, fake]))
        labels = torch.cat([torch.ones(64), torch.zeros(64)])
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    lab.discriminator.eval().requires_grad_(False)
    return lab


# Each estimator: (lab, batch size, prefix values) -> one flat gradient estimate.
Estimator = Callable[[Lab, int, list[torch.Tensor]], torch.Tensor]


def reinforce(lab: Lab, batch: int, values: list[torch.Tensor]) -> torch.Tensor:
    """The score function, no baseline: mean of r(x) grad log p(x)."""
    x = lab.sample(batch)
    rewards = lab.score(x)
    return flat_grad((rewards * lab.log_probs(x).sum(1)).mean(), lab.parameters)


def reinforce_baseline(lab: Lab, batch: int, values: list[torch.Tensor]) -> torch.Tensor:
    """The score function with the batch mean of the other samples as each one's baseline
    (leave-one-out, so it stays unbiased); one sample has no others, and no baseline."""
    x = lab.sample(batch)
    rewards = lab.score(x)
    if batch > 1:
        rewards = rewards - (rewards.sum() - rewards) / (batch - 1)
    return flat_grad((rewards * lab.log_probs(x).sum(1)).mean(), lab.parameters)


def seqgan_rollouts(
    lab: Lab, batch: int, values: list[torch.Tensor], n_rollouts: int = 16
) -> torch.Tensor:
    """SeqGAN's per-token reward: Q(x_1..x_t) as the mean score of ``n_rollouts`` sampled
    completions (the whole sequence's score at t = T), weighting grad log p(x_t | x_<t)."""
    x = lab.sample(batch)
    q = rollout_values(lab, x, n_rollouts)
    return flat_grad((q * lab.log_probs(x)).sum(1).mean(), lab.parameters)


def rollout_values(lab: Lab, x: torch.Tensor, n_rollouts: int = 16) -> torch.Tensor:
    """SeqGAN's Q estimates (B, T): each prefix x_1..x_t's mean score over ``n_rollouts``
    sampled completions, and at t = T the whole sequence's score."""
    batch = len(x)
    q = torch.empty(batch, lab.length)
    for t in range(1, lab.length):
        prefixes = x[:, :t].repeat_interleave(n_rollouts, 0)
        q[:, t - 1] = lab.score(lab.sample(len(prefixes), prefixes)).view(batch, n_rollouts).mean(1)
    q[:, -1] = lab.score(x)
    return q


def ppo_first_epoch(lab: Lab, batch: int, values: list[torch.Tensor]) -> torch.Tensor:
    """PPO's surrogate gradient in its first epoch (ratio 1) on SeqGAN-v0's per-token
    rewards (discount 0, Monte Carlo rollouts), with the advantages standardised over the
    batch as PPO does: biased by that standardisation (and scaled by 1 / std)."""
    x = lab.sample(batch)
    q = rollout_values(lab, x)
    advantages = (q - q.mean()) / (q.std() + 1e-8) if q.numel() > 1 else q
    return flat_grad((advantages * lab.log_probs(x)).mean(), lab.parameters)


def exact_expectation(lab: Lab, batch: int, values: list[torch.Tensor]) -> torch.Tensor:
    """The exact expectation over the next token given each sampled prefix (CoT's per-step
    sum): sum_t sum_v grad p(v | x_<t) Q(x_<t, v), with Q exact; only prefixes are sampled."""
    x = lab.sample(batch)
    logits = lab.generator.teacher_forced_logits(x, lab.start_id)  # (B, T, V)
    probs = logits.softmax(-1)
    total = torch.zeros(())
    for t in range(lab.length):
        q = values[t][tuple(x[:, :t].T)] if t else values[0].expand(batch, -1)  # (B, V)
        total = total + (probs[:, t] * q).sum(1).mean()
    return flat_grad(total, lab.parameters)


def gumbel_softmax(tau: float, straight_through: bool) -> Estimator:
    """The reparameterised relaxation: each token y_t = softmax((logits + G) / tau), fed to
    the next step and to D as a distribution over tokens; with ``straight_through`` the
    forward pass uses the one-hot argmax and the gradient the soft sample's. Biased."""

    def estimate(lab: Lab, batch: int, values: list[torch.Tensor]) -> torch.Tensor:
        obs = torch.zeros(batch, lab.length + 2, dtype=torch.long)
        obs[:, 1] = lab.start_id
        logits, state = lab.policy.start(obs)
        tokens = []
        for _ in range(lab.length):
            y = F.gumbel_softmax(logits, tau=tau, hard=straight_through)
            tokens.append(y)
            logits, state = lab.policy.step(y, state)
        return flat_grad(lab.score(torch.stack(tokens, 1)).mean(), lab.parameters)

    return estimate


ESTIMATORS: dict[str, tuple[Estimator, bool]] = {
    "reinforce": (reinforce, True),
    "reinforce_baseline": (reinforce_baseline, True),
    "seqgan_rollouts": (seqgan_rollouts, True),
    "ppo_first_epoch": (ppo_first_epoch, False),
    "exact_expectation": (exact_expectation, True),
    **{
        f"gumbel_{'st' if st else 'soft'}_{tau:g}": (gumbel_softmax(tau, st), False)
        for st in (False, True)
        for tau in (0.1, 0.5, 1.0, 2.0)
    },
}
"""name -> (estimator, whether it is unbiased for dJ/dtheta)."""
LAB_BATCHES = (1, 4, 16, 64, 256)


def measure(
    lab: Lab, name: str, batch: int, repeats: int, exact: torch.Tensor, values: list[torch.Tensor]
) -> dict[str, Any]:
    """One estimator at one batch size against the exact gradient: the cosine and relative
    error of its mean over ``repeats`` estimates, its variance (the mean squared distance of
    an estimate from that mean, over the exact gradient's squared norm), and its cost."""
    estimator, unbiased = ESTIMATORS[name]
    start = time.perf_counter()
    estimates = torch.stack([estimator(lab, batch, values) for _ in range(repeats)])
    ms = (time.perf_counter() - start) * 1000 / repeats
    mean = estimates.mean(0)
    norm2 = exact.pow(2).sum()
    return {
        "estimator": name,
        "batch": batch,
        "cosine": float(F.cosine_similarity(mean, exact, dim=0)),
        "relative_error": float((mean - exact).norm() / exact.norm()),
        "variance": float((estimates - mean).pow(2).sum(1).mean() / norm2),
        "ms": ms,
        "unbiased": unbiased,
        "repeats": repeats,
    }


def lab_study(
    out: Path = OUT, repeats: int = 100, seed: int = 0, batches: tuple[int, ...] = LAB_BATCHES
) -> dict[str, Any]:
    """Every estimator at every batch size against the lab's exact gradient: lab.json
    (``{"rows": [{"estimator", "batch", "cosine", "relative_error", "variance", "ms",
    "unbiased"}]}``) and lab.png."""
    lab = make_lab(seed=seed)
    exact, values = lab.exact_gradient(), lab.prefix_values()
    torch.manual_seed(seed)
    rows = [
        measure(lab, name, batch, repeats, exact, values)
        for name in ESTIMATORS
        for batch in batches
    ]
    result = {
        "vocab_size": lab.vocab_size,
        "length": lab.length,
        "sequences": lab.vocab_size**lab.length,
        "parameters": int(exact.numel()),
        "reward": lab.reward,
        "repeats": repeats,
        "seed": seed,
        "rows": rows,
    }
    write_json_atomic(out / "lab.json", result)
    plot_lab(rows, out / "lab.png")
    return result


def plot_lab(rows: list[dict[str, Any]], path: Path) -> None:
    """Variance and relative error of the mean against batch size, one line per estimator
    (dashed: biased)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    names = list(dict.fromkeys(row["estimator"] for row in rows))
    for index, name in enumerate(names):
        mine = sorted((r for r in rows if r["estimator"] == name), key=lambda r: r["batch"])
        style = "-" if mine[0]["unbiased"] else "--"
        batches = [r["batch"] for r in mine]
        color = f"C{index % 10}"
        left.plot(batches, [r["variance"] for r in mine], style, color=color, label=name)
        right.plot(batches, [r["relative_error"] for r in mine], style, color=color)
    left.set(xscale="log", yscale="log", xlabel="batch (sequences per estimate)",
             ylabel="variance / |exact gradient|^2", title="noise")  # fmt: skip
    right.set(xscale="log", yscale="log", xlabel="batch (sequences per estimate)",
              ylabel="|mean - exact| / |exact|",
              title="error of the mean over repeats")  # fmt: skip
    left.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
