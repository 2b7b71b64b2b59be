"""Gradient estimators against the truth: on the lecture's toy, d/dtheta E[z^2] with
z ~ N(theta, 1), each estimator's mean is 2 theta and its variance the closed form
(advrl.gan.estimators); on the enumerable lab (advrl.benchmarks.estimators), the unbiased
ones converge to the exact gradient and the relaxations' bias shows."""

import pytest
import torch

from advrl.benchmarks.estimators import ESTIMATORS, make_lab
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


# --- the exact-gradient lab (advrl.benchmarks.estimators) -------------------------------


@pytest.fixture(scope="module")
def lab():
    lab = make_lab(seed=0, d_steps=100)
    return lab, lab.exact_gradient(), lab.prefix_values()


def test_prefix_values_are_the_conditional_expectations_of_the_reward(lab):
    lab, _, values = lab
    every = lab.all_sequences()
    with torch.no_grad():
        p = lab.log_probs(every).sum(1).exp()
        r = lab.score(every)
    assert p.sum().item() == pytest.approx(1.0, abs=1e-5)  # the enumeration is complete
    whole = values[-1].flatten()
    torch.testing.assert_close(whole, r, rtol=1e-4, atol=1e-5)
    first = every[:, 0] == 3
    expected = (p[first] * r[first]).sum() / p[first].sum()
    assert values[0][3].item() == pytest.approx(expected.item(), rel=1e-4)


@pytest.mark.parametrize("name", [n for n, (_, unbiased) in ESTIMATORS.items() if unbiased])
def test_unbiased_estimators_converge_to_the_exact_gradient_within_their_error(lab, name):
    lab, exact, values = lab
    torch.manual_seed(1)
    repeats = 300
    estimates = torch.stack([ESTIMATORS[name][0](lab, 8, values) for _ in range(repeats)])
    mean = estimates.mean(0)
    # For an unbiased estimator E||mean - exact||^2 is the trace of its covariance / repeats;
    # over 2,440 parameters that sum concentrates, so twice it is a safe bound.
    expected = (estimates - mean).pow(2).sum(1).mean() / repeats
    assert (mean - exact).pow(2).sum() < 2 * expected


def test_a_relaxation_is_biased_where_its_temperature_is_high(lab):
    lab, exact, values = lab
    torch.manual_seed(2)
    repeats = 200
    estimates = torch.stack(
        [ESTIMATORS["gumbel_soft_2"][0](lab, 16, values) for _ in range(repeats)]
    )
    mean = estimates.mean(0)
    noise = (estimates - mean).pow(2).sum(1).mean() / repeats
    assert (mean - exact).pow(2).sum() > 10 * noise  # far beyond what sampling explains


def test_the_exact_per_step_expectation_has_the_least_variance_of_the_unbiased(lab):
    lab, _, values = lab
    torch.manual_seed(3)

    def variance(name: str) -> float:
        estimates = torch.stack([ESTIMATORS[name][0](lab, 4, values) for _ in range(100)])
        return (estimates - estimates.mean(0)).pow(2).sum(1).mean().item()

    exact_sum = variance("exact_expectation")
    assert exact_sum < variance("reinforce_baseline") < variance("reinforce")


def test_too_few_lab_repeats_is_a_one_line_error(capsys):
    from advrl.cli.benchmark import benchmark_main

    assert benchmark_main(["--suite", "estimators", "--repeats", "1"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --repeats must be at least 2 (a variance needs two estimates), got 1"
    ]
