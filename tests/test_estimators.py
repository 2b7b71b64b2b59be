"""The lecture's toy, d/dtheta E[z^2] with z ~ N(theta, 1): each estimator's mean is the true
gradient 2 theta and its variance the closed form (advrl.gan.estimators)."""

import pytest
import torch

from advrl.gan.estimators import TOY_ESTIMATORS, toy_estimates, toy_gradient, toy_variance


@pytest.mark.parametrize("estimator", TOY_ESTIMATORS)
@pytest.mark.parametrize(("theta", "n"), [(0.0, 1), (1.0, 1), (2.0, 4), (-1.5, 16)])
def test_toy_estimators_are_unbiased_with_their_closed_form_variance(estimator, theta, n):
    repeats = 200_000
    generator = torch.Generator().manual_seed(0)
    estimates = toy_estimates(estimator, theta, n, repeats, generator)
    variance = toy_variance(estimator, theta, n)
    standard_error = (variance / repeats) ** 0.5
    assert abs(estimates.mean().item() - toy_gradient(theta)) < 4 * standard_error
    # The sample variance of heavy-tailed estimates (z^3 terms) converges slowly: 5%.
    assert estimates.var().item() == pytest.approx(variance, rel=0.05)


def test_the_orderings_the_lecture_draws():
    for theta in (0.0, 0.5, 1.0, 3.0):
        score, baseline, reparam = (toy_variance(e, theta) for e in TOY_ESTIMATORS)
        assert reparam < baseline < score  # the path derivative wins everywhere
    # The score function's variance grows as theta^4; the path derivative's stays at 4.
    assert toy_variance("score_function", 10.0) / toy_variance("score_function", 1.0) > 300
    assert toy_variance("reparameterisation", 10.0) == toy_variance("reparameterisation", 0.0)


def test_an_unknown_estimator_is_named():
    with pytest.raises(ValueError, match="unknown estimator 'gumbel'"):
        toy_variance("gumbel", 1.0)
