"""What a discriminator's density ratio could give a generator: the reweighted model's NLL.

A discriminator trained to optimum between real data and samples of p_ref has
r(x) = logit D(x) = log p_data(x) - log p_ref(x), so the reweighted model

    q(x) = p_ref(x) * exp(r(x)) / Z,    Z = E_{x ~ p_ref}[exp(r(x))],

is what the KL-regularised objective E_pi[r] - KL(pi || p_ref) is maximised by (beta = 1).
Its likelihood of held-out data is a ceiling for a policy trained on that reward: how much
the discriminator could give, beside how much the policy optimisation captured. Z is
estimated by importance sampling from p_ref, log Z ~ logsumexp(r(x_i)) - log n, with the
effective sample size of the weights exp(r(x_i)) saying how far to trust it (Deng et al.
2020 train residual energy-based models on the same identity).
"""

from __future__ import annotations

import math

import torch


def importance_log_z(log_ratio_samples: torch.Tensor) -> tuple[float, float]:
    """log Z estimated from r(x_i) of samples x_i ~ p_ref, and the weights' effective
    sample size (n for equal weights, 1 when one sample dominates)."""
    r = log_ratio_samples.double().flatten()
    log_z = float(torch.logsumexp(r, 0)) - math.log(len(r))
    weights = torch.softmax(r, 0)
    return log_z, float(1.0 / weights.pow(2).sum())


def reweighted_nll(
    ref_log_prob: torch.Tensor,
    log_ratio: torch.Tensor,
    lengths: torch.Tensor,
    log_z: float,
) -> float:
    """Mean per-token NLL of held-out sequences under q = p_ref * exp(r) / Z.

    ``ref_log_prob`` (B,) is log p_ref of each whole sequence, ``log_ratio`` (B,) its r,
    ``lengths`` (B,) its token count; per sequence -(log p_ref + r - log Z) / length, then
    the mean over sequences, as NLL-test is averaged.
    """
    per_sequence = -(ref_log_prob.double() + log_ratio.double() - log_z) / lengths.double()
    return float(per_sequence.mean())


def exact_log_z(ref_log_prob: torch.Tensor, log_ratio: torch.Tensor) -> float:
    """log Z = log sum_x p_ref(x) exp(r(x)) over every sequence x (tiny vocabularies)."""
    return float(torch.logsumexp(ref_log_prob.double() + log_ratio.double(), 0))
