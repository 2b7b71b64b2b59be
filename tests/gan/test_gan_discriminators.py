"""SeqGAN's CNN discriminator: shapes, short sequences, soft inputs, and learning."""

import pytest
import torch

from advrl.gan import RewardModel, SequenceCNN, SequenceCNNConfig


@pytest.mark.parametrize("config", [SequenceCNNConfig.small(), SequenceCNNConfig.paper()])
def test_shapes(config):
    torch.manual_seed(0)
    model = SequenceCNN(config)
    assert model(torch.randint(0, 5000, (4, 20))).shape == (4,)
    assert model.features(torch.randint(0, 5000, (4, 20))).shape == (4, config.num_features)


def test_paper_config_is_the_papers():
    config = SequenceCNNConfig.paper()
    assert config.embed_dim == 64 and config.dropout == 0.25
    assert config.filter_sizes == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    assert config.num_features == 1720
    assert 100 <= SequenceCNNConfig.small().num_features <= 300


@pytest.mark.parametrize("length", [1, 3, 19])
def test_sequences_shorter_than_the_widest_filter(length):
    torch.manual_seed(0)
    model = SequenceCNN(SequenceCNNConfig.paper(vocab_size=30)).eval()
    x = torch.randint(0, 30, (2, length))
    assert model(x).shape == (2,)
    assert torch.isfinite(model(x)).all()


def test_one_hot_input_equals_token_input():
    torch.manual_seed(0)
    model = SequenceCNN(SequenceCNNConfig(vocab_size=11)).eval()
    x = torch.randint(0, 11, (3, 7))
    one_hot = torch.nn.functional.one_hot(x, 11).float()
    torch.testing.assert_close(model(one_hot), model(x))
    with pytest.raises(ValueError, match="V=11"):
        model(torch.rand(3, 7, 5))


def test_invalid_config():
    with pytest.raises(ValueError, match="same length"):
        SequenceCNNConfig(filter_sizes=(1, 2), num_filters=(3,))
    with pytest.raises(ValueError, match="dropout"):
        SequenceCNNConfig(dropout=1.0)


def test_learns_to_separate_two_token_distributions():
    # Real sequences use tokens 0-9, fake ones 10-19: one unigram filter is enough.
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = RewardModel(SequenceCNN(SequenceCNNConfig.small(vocab_size=20)), lr=1e-3)

    def batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randint(0, 10, (n, 12), generator=g), torch.randint(
            10, 20, (n, 12), generator=g
        )

    for _ in range(30):
        metrics = model.update(*batch())
    assert metrics["accuracy"] > 0.95
    real, fake = batch(200)
    assert (model.prob_real(real) > 0.5).float().mean() > 0.95
    assert (model.prob_real(fake) < 0.5).float().mean() > 0.95
