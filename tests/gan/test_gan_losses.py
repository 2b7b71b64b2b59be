"""GAN losses against hand-computed values, WGAN-GP's penalty, and the minimax optimum."""

import math

import pytest
import torch
from torch import nn

from advrl.core.errors import UserError
from advrl.gan import GAN_LOSSES, RewardModel, clip_weights, get_loss, gradient_penalty

REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([-1.0, 0.5])


def softplus(a: float) -> float:
    return math.log(1 + math.exp(a))


# (discriminator loss, generator loss) on REAL and FAKE, written out from the formulas.
BCE_D = (softplus(-0.0) + softplus(-2.0)) / 2 + (softplus(-1.0) + softplus(0.5)) / 2
EXPECTED = {
    "minimax": (BCE_D, -(softplus(-1.0) + softplus(0.5)) / 2),
    "non_saturating": (BCE_D, (softplus(1.0) + softplus(-0.5)) / 2),
    # E f - E r = -0.25 - 1.0; -E f = 0.25
    "wgan": (-1.25, 0.25),
    "wgan_gp": (-1.25, 0.25),
    # ½((0-1)² + (2-1)²)/2 + ½((-1)² + 0.5²)/2 ; ½((-1-1)² + (0.5-1)²)/2
    "least_squares": (0.5 + 0.3125, 1.0625),
    # (relu(1) + relu(-1))/2 + (relu(0) + relu(1.5))/2 ; -E f
    "hinge": (0.5 + 0.75, 0.25),
    # pairs (0, -1) and (2, 0.5): r - f = 1, 1.5
    "rsgan": ((softplus(-1.0) + softplus(-1.5)) / 2, (softplus(1.0) + softplus(1.5)) / 2),
}


def test_registry_holds_the_seven_losses():
    assert set(GAN_LOSSES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_values_match_hand_computation(name):
    loss = GAN_LOSSES[name]
    d_expected, g_expected = EXPECTED[name]
    assert loss.discriminator(REAL, FAKE).item() == pytest.approx(d_expected, abs=1e-6)
    g_args = (FAKE, REAL) if loss.relativistic else (FAKE,)
    assert loss.generator(*g_args).item() == pytest.approx(g_expected, abs=1e-6)


def test_bce_values_in_numbers():
    # The same sums with the logs evaluated by hand, to 6 decimals.
    assert math.isclose(BCE_D, 0.410038 + 0.643669, abs_tol=1e-6)
    assert math.isclose(EXPECTED["non_saturating"][1], 0.893669, abs_tol=1e-6)


def test_minimax_generator_saturates_and_non_saturating_does_not():
    fake = torch.tensor([-8.0], requires_grad=True)  # D confidently rejects the fake
    GAN_LOSSES["minimax"].generator(fake).backward()
    assert abs(fake.grad.item()) < 1e-3  # -σ(f) -> 0
    fake.grad = None
    GAN_LOSSES["non_saturating"].generator(fake).backward()
    assert fake.grad.item() == pytest.approx(-1.0, abs=1e-3)  # -(1 - σ(f)) -> -1


def test_regularisers_are_attached_to_their_losses():
    assert GAN_LOSSES["wgan"].clip == 0.01
    assert GAN_LOSSES["wgan_gp"].gradient_penalty == 10.0
    assert all(GAN_LOSSES[n].gradient_penalty == 0 for n in EXPECTED if n != "wgan_gp")


def test_unknown_loss_is_a_user_error_with_suggestion():
    with pytest.raises(UserError, match="did you mean hinge"):
        get_loss("hinje")


@pytest.mark.parametrize("weight_norm", [3.0, 1.0])
def test_gradient_penalty_of_a_linear_critic(weight_norm):
    # D(x) = w·x + b has gradient w everywhere, so the penalty is 10 (|w| - 1)² exactly,
    # and its gradient with respect to w is 20 (|w| - 1) w / |w|.
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[2.0, -1.0, 2.0]]) * weight_norm / 3)
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    penalty = gradient_penalty(critic, real, fake, weight=10.0)
    assert penalty.item() == pytest.approx(10 * (weight_norm - 1) ** 2, abs=1e-4)
    penalty.backward()
    w = critic.weight.detach()
    expected = 20 * (weight_norm - 1) * w / weight_norm
    torch.testing.assert_close(critic.weight.grad, expected, atol=1e-4, rtol=1e-4)


def test_gradient_penalty_takes_the_norm_over_all_sample_dims():
    # D(x) = sum(x) over (2, 2) images: gradient of ones, norm 2 -> penalty 10 (2 - 1)².
    def critic(x):
        return x.sum(dim=(1, 2))

    penalty = gradient_penalty(critic, torch.randn(4, 2, 2), torch.randn(4, 2, 2))
    assert penalty.item() == pytest.approx(10.0, abs=1e-5)


def test_clip_weights():
    layer = nn.Linear(4, 4)
    with torch.no_grad():
        layer.weight.mul_(100)
    clip_weights(layer, 0.01)
    assert all(p.abs().max() <= 0.01 for p in layer.parameters())


def test_minimax_discriminator_approaches_the_optimum():
    # p_data = N(0, 1), p_g = N(0, 2²): D*(x) = p_data / (p_data + p_g) ranges from 0.67 at
    # 0 to 0.31 at ±2. A small MLP trained with the minimax loss must land on it.
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    mlp = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    model = RewardModel(mlp, loss="minimax", lr=3e-3)
    decay = torch.optim.lr_scheduler.LambdaLR(model.optimizer, lambda i: 1.0 if i < 400 else 0.1)
    for _ in range(600):
        model.update(torch.randn(512, 1, generator=g), 2 * torch.randn(512, 1, generator=g))
        decay.step()
    x = torch.linspace(-2, 2, 41).unsqueeze(1)
    p_data = torch.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    p_g = torch.exp(-(x**2) / 8) / (2 * math.sqrt(2 * math.pi))
    optimum = (p_data / (p_data + p_g)).squeeze(1)
    assert (optimum - 0.5).abs().max() > 0.15  # the target is far from a constant guess
    assert (model.prob_real(x) - optimum).abs().max() < 0.05


def test_a_relativistic_loss_refuses_unpaired_batches():
    with pytest.raises(ValueError, match="pairs each real with one fake"):
        GAN_LOSSES["rsgan"].discriminator(REAL, FAKE[:1])
