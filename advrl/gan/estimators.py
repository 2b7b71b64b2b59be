"""Gradient estimators of an expectation, on the lecture's toy: d/dtheta E[z^2], z ~ N(theta, 1).

The true gradient is 2 theta. Each estimator averages ``n`` per-sample estimates, with
z = theta + eps, eps ~ N(0, 1):

- ``score_function`` (REINFORCE): f(z) d/dtheta log N(z; theta, 1) = z^2 (z - theta).
  Unbiased; per-sample variance theta^4 + 14 theta^2 + 15.
- ``score_function_baseline``: (f(z) - b)(z - theta) with b = E[f] = theta^2 + 1, the best
  constant; unbiased (the score has mean zero); variance 8 theta^2 + 10.
- ``reparameterisation`` (the path derivative): d/dtheta f(theta + eps) = 2 (theta + eps).
  Unbiased; variance 4, whatever theta.

Variances of an n-sample average are these divided by n (``toy_variance``). The closed
forms come from the moments of the standard normal (E eps^2 = 1, E eps^4 = 3,
E eps^6 = 15, odd moments 0); ``tests/test_estimators.py`` checks them by sampling.
"""

from __future__ import annotations

import torch

TOY_ESTIMATORS = ("score_function", "score_function_baseline", "reparameterisation")


def toy_gradient(theta: float) -> float:
    """d/dtheta E[z^2] for z ~ N(theta, 1): 2 theta."""
    return 2.0 * theta


def toy_variance(estimator: str, theta: float, n: int = 1) -> float:
    """The variance of ``estimator``'s n-sample average, in closed form."""
    per_sample = {
        "score_function": theta**4 + 14 * theta**2 + 15,
        "score_function_baseline": 8 * theta**2 + 10,
        "reparameterisation": 4.0,
    }
    return per_sample[_known(estimator)] / n


def toy_estimates(
    estimator: str, theta: float, n: int, repeats: int, generator: torch.Generator
) -> torch.Tensor:
    """``repeats`` independent estimates (each an average over ``n`` samples) of
    d/dtheta E[z^2], computed with autograd as a user of each estimator would."""
    _known(estimator)
    parameter = torch.full((repeats, 1), float(theta), dtype=torch.float64, requires_grad=True)
    eps = torch.randn(repeats, n, dtype=torch.float64, generator=generator)
    if estimator == "reparameterisation":
        z = parameter + eps  # the sample as a differentiable function of theta
        surrogate = z.pow(2).mean(1)
    else:
        z = (parameter + eps).detach()  # a sample: no gradient flows through it
        log_prob = -0.5 * (z - parameter).pow(2)  # log N(z; theta, 1) up to a constant
        reward = z.pow(2)
        if estimator == "score_function_baseline":
            reward = reward - (float(theta) ** 2 + 1)
        surrogate = (reward * log_prob).mean(1)
    (gradient,) = torch.autograd.grad(surrogate.sum(), parameter)
    return gradient.squeeze(1)


def _known(estimator: str) -> str:
    if estimator not in TOY_ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; one of {', '.join(TOY_ESTIMATORS)}")
    return estimator
