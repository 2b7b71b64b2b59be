"""GAN parts shared by the suite: losses, reward models, discriminators, the SeqGAN oracle,
sequence data and generation metrics.

A discriminator is a learned reward model (DESIGN.md): ``RewardModel`` wraps any
discriminator module with a GAN loss from ``GAN_LOSSES`` and an optimiser; ``EnergyModel``
wraps an energy-based one (EBGAN, BEGAN, the loss-sensitive GAN). Both share
``BaseRewardModel``.
"""

from advrl.gan.data import SequenceData, oracle_data, text_data
from advrl.gan.discriminators import Highway, SequenceCNN, SequenceCNNConfig
from advrl.gan.energy import ENERGY_KINDS, EnergyModel
from advrl.gan.losses import GAN_LOSSES, GANLoss, clip_weights, get_loss, gradient_penalty
from advrl.gan.metrics import bleu, nll_oracle, nll_test, self_bleu, temperature_sweep
from advrl.gan.oracle import OracleLSTM, sample_from_logits
from advrl.gan.reward_model import BaseRewardModel, RewardModel

__all__ = [
    "ENERGY_KINDS",
    "GAN_LOSSES",
    "BaseRewardModel",
    "EnergyModel",
    "GANLoss",
    "Highway",
    "OracleLSTM",
    "RewardModel",
    "SequenceCNN",
    "SequenceCNNConfig",
    "SequenceData",
    "bleu",
    "clip_weights",
    "get_loss",
    "gradient_penalty",
    "nll_oracle",
    "nll_test",
    "oracle_data",
    "sample_from_logits",
    "self_bleu",
    "temperature_sweep",
    "text_data",
]
