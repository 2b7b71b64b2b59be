"""Energy-based discriminators (EBGAN, BEGAN, the loss-sensitive GAN) against hand-computed
values, with an optimiser of learning rate 0 so that every energy stays known."""

import math

import pytest
import torch
from torch import nn

from advrl.core.errors import UserError
from advrl.gan.energy import EnergyModel, VectorAutoencoder, pulling_away

REAL = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
FAKE = torch.tensor([[1.0, 1.0], [3.0, 0.0]])


class Projection(nn.Module):
    """An autoencoder onto the first axis: encode x -> x[0], decode c -> (c, 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x[:, :1]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return torch.cat([code, torch.zeros_like(code)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def frozen(kind: str, module: nn.Module | None = None, **options) -> EnergyModel:
    """A model whose optimiser never moves the weights (lr 0)."""
    module = module or Projection()
    sgd = lambda params: torch.optim.SGD(params, lr=0.0)  # noqa: E731
    return EnergyModel(module, kind, optimizer=sgd, **options)


# Projection's reconstruction error is (0, -x2): squared energies mean(x2²)/2, absolute ones
# mean |x2| / 2. REAL: 0 and 2 (squared), 0 and 1 (absolute); FAKE: 0.5 and 0, 0.5 and 0.


def test_ebgan_pushes_fakes_to_the_margin_and_pulls_their_codes_apart():
    model = frozen("ebgan", margin=1.0, pt_weight=0.1)
    metrics = model.update(REAL, FAKE)
    # E(real) = (0 + 2) / 2 = 1; relu(1 - E(fake)) = (0.5 + 1) / 2 = 0.75
    assert metrics["loss"] == pytest.approx(1.0 + 0.75)
    assert (metrics["real_energy"], metrics["fake_energy"]) == pytest.approx((1.0, 0.25))
    # codes of FAKE: (1,) and (3,): the same direction, so PT = 1
    assert model.generator_loss(FAKE).item() == pytest.approx(0.25 + 0.1 * 1.0)
    assert model.scores(REAL).tolist() == pytest.approx([0.0, -2.0])
    assert model.reward(REAL).tolist() == pytest.approx([1.0, math.exp(-2.0)])


def test_the_pulling_away_term_is_the_mean_squared_cosine_of_distinct_codes():
    assert pulling_away(torch.eye(3)).item() == pytest.approx(0.0)
    assert pulling_away(torch.tensor([[1.0, 0.0], [2.0, 0.0]])).item() == pytest.approx(1.0)
    # cos((1, 0), (1, 1)) = 1/sqrt(2): squared 1/2, over the 2 ordered pairs
    assert pulling_away(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).item() == pytest.approx(0.5)


def test_began_balances_with_k_and_reports_the_convergence_measure():
    model = frozen("began", gamma=0.5, lambda_k=0.1)
    metrics = model.update(REAL, FAKE)  # L(real) = 0.5, L(fake) = 0.25, k = 0 for this step
    assert metrics["loss"] == pytest.approx(0.5)
    balance = 0.5 * 0.5 - 0.25  # γ L(x) - L(G(z)) = 0
    assert metrics["k"] == pytest.approx(0.1 * balance)
    assert metrics["m_global"] == pytest.approx(0.5 + abs(balance))
    model.update(REAL, FAKE * 0)  # L(fake) = 0: the balance is 0.25, k rises by 0.025
    assert model.k == pytest.approx(0.025)
    assert model.generator_loss(FAKE).item() == pytest.approx(0.25)


def test_began_keeps_k_in_zero_one():
    model = frozen("began", lambda_k=10.0)
    model.update(REAL, FAKE * 0)  # balance +0.25: k would be 2.5
    assert model.k == 1.0
    model.update(REAL * 0, FAKE * 10)  # balance -2.5: k would be far below 0
    assert model.k == 0.0


def test_the_loss_sensitive_gan_demands_a_margin_of_the_pairs_distance():
    linear = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -1.0]]))
    model = frozen("lsgan_ls", linear, ls_weight=1.0, lipschitz=0.5)
    metrics = model.update(REAL, FAKE)
    softplus = torch.nn.functional.softplus
    e_real = softplus(torch.tensor([1.0, -2.0]))  # w·x of REAL
    e_fake = softplus(torch.tensor([0.0, 3.0]))
    delta = torch.tensor([0.5, 2.5])  # mean |x - G(z)| of each pair
    hinge = torch.relu(delta + e_real - e_fake).mean()
    # ∇_x softplus(w·x) = σ(w·x) w, and ||w||² = 2
    penalty = (torch.sigmoid(torch.tensor([1.0, -2.0])) ** 2 * 2).mean()
    assert metrics["lipschitz_penalty"] == pytest.approx(penalty.item(), rel=1e-5)
    expected = e_real.mean() + hinge + 0.5 * penalty
    assert metrics["loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert model.generator_loss(FAKE).item() == pytest.approx(e_fake.mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="pairs each real with one fake"):
        model.update(REAL, FAKE[:1])


def test_an_energy_model_learns_to_score_reals_above_fakes_and_resumes():
    torch.manual_seed(0)
    real = torch.randn(256, 4) * 0.1 + 1.0
    fake = torch.randn(256, 4)

    def network(kind: str) -> nn.Module:
        if kind == "lsgan_ls":
            return nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
        return VectorAutoencoder(4, (32,), code_dim=2)

    for kind in ("ebgan", "began", "lsgan_ls"):
        model = EnergyModel(network(kind), kind, lr=1e-2, normalize_inputs=True)
        before = model.scores(real).mean() - model.scores(fake).mean()
        for _ in range(200):
            model.update(real[torch.randint(256, (64,))], fake[torch.randint(256, (64,))])
        after = model.scores(real).mean() - model.scores(fake).mean()
        assert after > max(before, 0.0), kind
        twin = EnergyModel(network(kind), kind, normalize_inputs=True)  # other weights
        twin.load_state_dict(model.state_dict())
        assert torch.equal(twin.scores(fake), model.scores(fake)) and twin.k == model.k


def test_bad_kinds_and_modules_are_refused():
    with pytest.raises(UserError, match="unknown energy discriminator 'ebgn'"):
        EnergyModel(Projection(), "ebgn")
    with pytest.raises(UserError, match="autoencoder"):
        EnergyModel(nn.Linear(2, 1), "began")
    with pytest.raises(UserError, match="reward 'prob' does not exist"):
        EnergyModel(Projection(), "ebgan", reward="prob")
    saved = frozen("ebgan").state_dict()
    with pytest.raises(UserError, match="saved as 'ebgan'"):
        frozen("began").load_state_dict(saved)


def test_gail_builds_each_energy_discriminator_and_refuses_what_it_cannot_read():
    from gymnasium import spaces

    from advrl.gan.transitions import make_transition_reward_model

    vector, actions = spaces.Box(-1, 1, (4,)), spaces.Discrete(2)
    for kind in ("ebgan", "began", "lsgan_ls"):
        model = make_transition_reward_model(vector, actions, (16,), discriminator=kind)
        assert isinstance(model, EnergyModel) and model.kind == kind
        assert model.reward_mode == "exp" and model.normalizer is not None
    with pytest.raises(UserError, match="discriminator must be one of"):
        make_transition_reward_model(vector, actions, discriminator="ebgn")
    frames = spaces.Box(0, 255, (4, 84, 84), dtype="uint8")
    with pytest.raises(UserError, match="takes vector observations"):
        make_transition_reward_model(frames, actions, discriminator="began")
