"""The image GAN family (``train_gan.py --gan NAME``): every variant trains on the digits and
beats its untrained generator; each one's own quantity behaves; image folders at 32, 64 and
128 px; the Fréchet distance and the code assignment by hand."""

import numpy as np
import pytest
import torch
from conftest import run_script
from PIL import Image

from advrl.gan.dcgan import DCGANConfig, GANSettings, train_gan
from advrl.gan.family import GAN_NAMES
from advrl.gan.image_networks import Generator, ImageAutoencoder
from advrl.gan.metrics import assignment_accuracy, frechet_distance

EPOCHS = 3


def train(tmp_path, name, epochs=EPOCHS, **options):
    """A seeded run of ``name`` on the digits; its summary and each epoch's metrics."""
    history: list[dict[str, float]] = []
    config = DCGANConfig(epochs=epochs, gan=name, base_channels=64, **options)
    settings = GANSettings(config=config, seed=1, device="cpu", run_dir=tmp_path / name,
                           sample_every=epochs)  # fmt: skip
    summary = train_gan(settings, on_epoch=lambda _, metrics: history.append(metrics))
    return summary, history


@pytest.mark.parametrize("name", GAN_NAMES)
def test_every_variant_moves_its_samples_towards_the_digits(tmp_path, name):
    """Measured (seed 1, 3 epochs): the Fréchet distance falls from 1,034 to 299-494."""
    summary, history = train(tmp_path, name)
    assert summary["frechet_distance"] < 0.6 * summary["initial"]["frechet_distance"]
    assert summary["hyperparameters"]["gan"] == name and len(history) == EPOCHS
    assert (tmp_path / name / "generated-images-0001.png").exists()


def test_acgan_generates_the_class_it_is_asked_for(tmp_path):
    """Its class head teaches the generator the labels: the feature classifier finds the
    asked class in 0.73 of its samples after 3 epochs (measured; untrained: chance, 0.1)."""
    summary, _ = train(tmp_path, "acgan")
    assert summary["label_accuracy"] > 0.5 > summary["initial"]["label_accuracy"]


def test_infogan_raises_its_mutual_information_bound(tmp_path):
    """log 10 - cross-entropy of Q's code predictions rises (0.03 -> 0.29 over 3 epochs)."""
    summary, history = train(tmp_path, "infogan")
    bounds = [metrics["mi_lower_bound"] for metrics in history]
    assert bounds[-1] > bounds[0] + 0.1 and bounds[-1] <= np.log(10)
    assert 0.0 <= summary["code_class_accuracy"] <= 1.0


def test_began_keeps_k_in_zero_one_and_logs_its_convergence_measure(tmp_path):
    summary, history = train(tmp_path, "began", began_lambda_k=0.01)
    assert all(0.0 <= metrics["k"] <= 1.0 for metrics in history)
    assert all(metrics["m_global"] > 0 for metrics in history)
    state = torch.load(summary["checkpoint"], weights_only=True)["reward_model"]
    assert state["kind"] == "began" and 0.0 <= state["k"] <= 1.0


@pytest.mark.parametrize("size", [32, 64, 128])
def test_a_folder_of_images_trains_at_32_64_and_128_pixels(tmp_path, size):
    """The DCGAN scales with the image: one up-sampling stage per doubling, 4 x 4 transposed
    convolutions of stride 2 with batch norm and ReLU, tanh at the end."""
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    generator = Generator(16, 3, size, 64, 0)
    ups = [m for m in generator.upsample if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(ups) == int(np.log2(size)) - 1 and all(m.kernel_size == (4, 4) for m in ups)
    assert ImageAutoencoder(3, size, 32)(torch.zeros(2, 3, size, size)).shape == (2, 3, size, size)
    config = DCGANConfig(epochs=1, batch_size=4, base_channels=16, latent_dim=8)
    settings = GANSettings(config=config, data=folder, channels=3, image_size=size,
                           device="cpu", run_dir=tmp_path / "run")  # fmt: skip
    summary = train_gan(settings)
    assert summary["image_shape"] == [3, size, size]


def test_the_frechet_distance_and_the_code_assignment_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Two Gaussians with the same covariance: the distance is the squared mean difference.
    assert frechet_distance(a, a + np.array([1.0, 2.0, 0.0])) == pytest.approx(5.0, rel=1e-6)
    # Codes (0, 0, 1, 1, 2) against classes (2, 2, 0, 1, 1): the best one-to-one map is
    # 0 -> 2, 1 -> 0 (or 1), 2 -> 1, right on 4 of 5.
    codes, classes = np.array([0, 0, 1, 1, 2]), np.array([2, 2, 0, 1, 1])
    assert assignment_accuracy(codes, classes, 3, 3) == pytest.approx(0.8)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gan", "ebgan", "--loss", "hinge"], "drop --loss"),
        (["--gan", "infogan", "--conditional"], "--conditional is the cgan variant"),
        (["--gan", "began", "--began-gamma", "0"], "began_gamma must be in (0, 1]"),
    ],
)
def test_bad_family_options_are_one_line_errors(args, message, tmp_path):
    result = run_script("train_gan.py", *args, "--epochs", "1", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "runs").exists()


def test_the_auxiliary_losses_by_hand():
    """AC-GAN: the cross-entropy of the class head; InfoGAN: the categorical code's
    cross-entropy plus half the squared error of the continuous codes' means, and the bound
    log K - cross-entropy."""
    import math

    from torch.nn import functional as F

    from advrl.gan.family import build_image_gan

    for name in ("acgan", "infogan"):
        config = DCGANConfig(gan=name, base_channels=16, latent_dim=4, info_codes=3)
        gan = build_image_gan(config, 1, 8, 10, torch.device("cpu"), torch.Generator())
        images = torch.randn(5, 1, 8, 8)
        out = gan.reward_model.discriminator.auxiliary(images)
        if name == "acgan":
            asked = torch.tensor([0, 1, 2, 3, 9])
            loss, metrics = gan._auxiliary_loss(images, asked, None)
            assert loss.item() == pytest.approx(F.cross_entropy(out, asked).item(), rel=1e-6)
            continue
        codes, continuous = torch.tensor([0, 1, 2, 0, 1]), torch.rand(5, 2) * 2 - 1
        loss, metrics = gan._auxiliary_loss(images, codes, continuous)
        ce = F.cross_entropy(out[:, :3], codes)
        squared = (out[:, 3:] - continuous).pow(2).sum(1).mean()
        assert loss.item() == pytest.approx((ce + 0.5 * squared).item(), rel=1e-6)
        assert metrics["mi_lower_bound"] == pytest.approx(math.log(3) - ce.item(), rel=1e-6)
