"""RewardModel: learning, reward modes, eval-mode scoring, persistence, normalisation."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from advrl.core.errors import UserError
from advrl.gan import GAN_LOSSES, RewardModel, SequenceCNN, SequenceCNNConfig


def toy_batches(g: torch.Generator, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two separable 2-D Gaussians: real around (+2, +2), fake around (-2, -2)."""
    return torch.randn(n, 2, generator=g) + 2, torch.randn(n, 2, generator=g) - 2


def mlp(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 1))


def test_update_learns_separable_data():
    g = torch.Generator().manual_seed(0)
    model = RewardModel(mlp(), loss="non_saturating", lr=1e-2)
    first = model.update(*toy_batches(g))
    for _ in range(50):
        last = model.update(*toy_batches(g))
    assert {"loss", "real_acc", "fake_acc", "accuracy", "real_prob", "fake_prob"} <= set(last)
    assert last["accuracy"] > 0.95
    assert last["loss"] < first["loss"]
    real, fake = toy_batches(g)
    assert model.prob_real(real).mean() > 0.9 > 0.1 > model.prob_real(fake).mean()


@pytest.mark.parametrize("loss", sorted(GAN_LOSSES))
def test_every_loss_trains_and_ranks_real_above_fake(loss):
    g = torch.Generator().manual_seed(0)
    model = RewardModel(mlp(), loss=loss, lr=1e-2)
    for _ in range(40):
        metrics = model.update(*toy_batches(g))
    real, fake = toy_batches(g)
    assert model.reward(real).mean() > model.reward(fake).mean()
    assert ("accuracy" in metrics) == (loss not in ("wgan", "wgan_gp"))
    assert ("gradient_penalty" in metrics) == (loss == "wgan_gp")
    if loss == "wgan":
        assert all(p.abs().max() <= 0.01 for p in model.discriminator.parameters())


def test_bce_reward_modes():
    x = torch.randn(8, 2)
    logits = RewardModel(mlp()).scores(x)
    expected = {
        "default": F.softplus(logits),  # -log(1 - D)
        "neg_log_one_minus_d": -torch.log1p(-torch.sigmoid(logits)),
        "log_d": torch.log(torch.sigmoid(logits)),
        "logit": logits,
        "prob": torch.sigmoid(logits),
    }
    for mode, value in expected.items():
        torch.testing.assert_close(RewardModel(mlp(), reward=mode).reward(x), value)
    torch.testing.assert_close(RewardModel(mlp()).prob_real(x), torch.sigmoid(logits))


def test_critic_reward_is_the_raw_value_and_has_no_probability():
    x = torch.randn(8, 2)
    model = RewardModel(mlp(), loss="wgan_gp")
    torch.testing.assert_close(model.reward(x), mlp()(x).squeeze(1))
    with pytest.raises(UserError, match="not a probability"):
        model.prob_real(x)
    with pytest.raises(UserError, match="does not exist for the hinge loss"):
        RewardModel(mlp(), loss="hinge", reward="log_d")
    with pytest.raises(UserError, match="did you mean"):
        RewardModel(mlp(), reward="log_dd")


def test_scoring_runs_in_eval_mode_and_restores_the_mode():
    model = RewardModel(mlp(dropout=0.5))
    x = torch.randn(32, 2)
    model.discriminator.train()
    first, second = model.reward(x), model.reward(x)
    torch.testing.assert_close(first, second)  # dropout off while scoring
    assert model.discriminator.training  # and back on afterwards
    assert not first.requires_grad
    assert not torch.equal(model.discriminator(x), model.discriminator(x))  # dropout is real


def test_state_dict_round_trip_restores_weights_and_optimiser():
    g = torch.Generator().manual_seed(0)
    model = RewardModel(mlp(), loss="hinge", lr=1e-2, normalize_inputs=True)
    for _ in range(3):
        model.update(*toy_batches(g))
    state = model.state_dict()

    torch.manual_seed(123)
    other = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 1))
    restored = RewardModel(other, loss="hinge", lr=1e-2, normalize_inputs=True)
    restored.load_state_dict(state)
    x = torch.randn(8, 2)
    torch.testing.assert_close(restored.reward(x), model.reward(x))
    assert restored.updates == 3
    batch = toy_batches(g)  # the same step on both must give the same result (Adam moments)
    assert restored.update(*batch) == pytest.approx(model.update(*batch))
    torch.testing.assert_close(restored.reward(x), model.reward(x))

    with pytest.raises(UserError, match="loss='hinge'"):
        RewardModel(mlp(), loss="wgan").load_state_dict(state)


def test_input_normalisation_tracks_running_statistics():
    g = torch.Generator().manual_seed(0)
    model = RewardModel(mlp(), normalize_inputs=True)
    for _ in range(5):
        real = torch.randn(64, 2, generator=g) * 3 + 10
        model.update(real, real + 0.1)
    assert model.normalizer.mean.tolist() == pytest.approx([10.05, 10.05], abs=0.5)
    assert model.normalizer.var.sqrt().tolist() == pytest.approx([3, 3], abs=0.5)
    with pytest.raises(UserError, match="token ids"):
        model.update(torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 2, dtype=torch.long))


def test_wgan_gp_on_token_sequences_interpolates_one_hot_inputs():
    torch.manual_seed(0)
    cnn = SequenceCNN(SequenceCNNConfig(vocab_size=12, filter_sizes=(1, 2), num_filters=(4, 4)))
    model = RewardModel(cnn, loss="wgan_gp")
    real, fake = torch.randint(0, 12, (8, 5)), torch.randint(0, 12, (6, 5))
    metrics = model.update(real, fake)
    assert metrics["gradient_penalty"] > 0
    with pytest.raises(UserError, match="vocab_size"):
        embed = nn.Sequential(nn.Embedding(12, 4), nn.Flatten(), nn.Linear(20, 1))
        RewardModel(embed, loss="wgan_gp").update(real, fake)


def test_generator_loss_is_differentiable_in_the_fake_batch():
    model = RewardModel(mlp())
    fake = torch.randn(4, 2, requires_grad=True)
    model.generator_loss(fake).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_a_relativistic_generator_loss_pairs_fakes_with_reals_and_reports_pair_accuracy():
    model = RewardModel(mlp(), loss="rsgan")
    real, fake = torch.randn(4, 2), torch.randn(4, 2, requires_grad=True)
    with pytest.raises(ValueError, match="pass real"):
        model.generator_loss(fake)
    loss = model.generator_loss(fake, real)
    with torch.no_grad():
        r, f = model.discriminator(real).squeeze(1), model.discriminator(fake).squeeze(1)
    assert loss.item() == pytest.approx(F.softplus(-(f - r)).mean().item(), abs=1e-6)
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    metrics = model.update(real, fake.detach())
    assert metrics["accuracy"] == pytest.approx((r > f).float().mean().item())
    assert metrics["real_prob"] == pytest.approx(torch.sigmoid(r - f).mean().item(), abs=1e-6)


def test_label_smoothing_is_cross_entropy_with_real_targets_one_minus_epsilon():
    real, fake = toy_batches(torch.Generator().manual_seed(0))
    model = RewardModel(mlp(), loss="minimax", lr=1e-2, label_smoothing=0.2)
    with torch.no_grad():
        real_out = model.discriminator(real).squeeze(1)
        fake_out = model.discriminator(fake).squeeze(1)
    expected = F.binary_cross_entropy_with_logits(
        real_out, torch.full_like(real_out, 0.8)
    ) + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
    assert model.update(real, fake)["loss"] == pytest.approx(expected.item(), rel=1e-5)
    # Smoothed, D stops growing its real logits near logit(0.8) instead of without bound.
    for _ in range(300):
        model.update(*toy_batches(torch.Generator().manual_seed(1)))
    assert model.prob_real(real).mean().item() == pytest.approx(0.8, abs=0.05)
    for bad in ({"loss": "wgan", "label_smoothing": 0.1}, {"label_smoothing": 0.5}):
        with pytest.raises(UserError, match="label_smoothing"):
            RewardModel(mlp(), **bad)
