"""Discriminators over (observation, action) pairs: GAIL's learned reward for any env.

An MLP over the flattened observation (standardised with running statistics) and the
action (one-hot for ``Discrete``), or for image observations the Nature CNN on the frames
with the action joined to its features, inside a ``RewardModel``. ``save`` and ``load``
keep what the model takes as input beside its weights, so a frozen reward model refuses an
env whose pairs it cannot read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from advrl.core.checkpoint import load_checkpoint, save_checkpoint
from advrl.core.errors import UserError, did_you_mean
from advrl.core.modules import NatureCNN, flat_size, is_image_space, mlp
from advrl.gan.energy import ENERGY_KINDS, EnergyModel, VectorAutoencoder
from advrl.gan.reward_model import BaseRewardModel, RewardModel


def action_features(actions: np.ndarray, action_space: spaces.Space) -> torch.Tensor:
    """Actions as float rows: one-hot for ``Discrete``, flattened for ``Box``."""
    if isinstance(action_space, spaces.Discrete):
        indices = torch.as_tensor(np.asarray(actions), dtype=torch.long).reshape(-1)
        return nn.functional.one_hot(indices, int(action_space.n)).float()
    return torch.as_tensor(np.asarray(actions), dtype=torch.float32).flatten(1)


def action_size(action_space: spaces.Space) -> int:
    """Numbers per ``action_features`` row."""
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    return flat_size(action_space)


def pair_features(obs: np.ndarray, actions: np.ndarray, action_space: spaces.Space) -> torch.Tensor:
    """(observation, action) pairs as float vectors (B, obs_dim + action_dim)."""
    obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32).flatten(1)
    return torch.cat([obs_t, action_features(actions, action_space)], dim=1)


def feature_size(observation_space: spaces.Space, action_space: spaces.Space) -> int:
    """Features per ``pair_features`` row for these spaces."""
    return flat_size(observation_space) + action_size(action_space)


class ImagePairDiscriminator(nn.Module):
    """D over (image observation, action) pairs: the Nature CNN on the frames, then an MLP
    on its features and the action. Takes ``pair_features`` rows (pixels, then action)."""

    def __init__(
        self, observation_space: spaces.Box, action_dim: int, hidden_sizes: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.shape = tuple(observation_space.shape)
        self.obs_dim = int(np.prod(self.shape))
        self.cnn = NatureCNN(self.shape[0], self.shape)
        self.head = mlp(512 + action_dim, hidden_sizes, 1)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        frames = pairs[:, : self.obs_dim].reshape(-1, *self.shape)  # raw 0..255 values
        return self.head(torch.cat([self.cnn(frames), pairs[:, self.obs_dim :]], dim=1))


DISCRIMINATORS = ("classifier", *ENERGY_KINDS)
"""Kinds of transition discriminator: a classifier trained with a GAN loss, or an energy
model (``advrl.gan.energy``: EBGAN, BEGAN, the loss-sensitive GAN)."""


def make_transition_reward_model(
    observation_space: spaces.Space,
    action_space: spaces.Space,
    hidden_sizes: tuple[int, ...] = (64, 64),
    loss: str = "non_saturating",
    lr: float = 3e-4,
    reward: str = "default",
    discriminator: str = "classifier",
) -> BaseRewardModel:
    """A transition discriminator: by default an MLP classifier over standardised vector
    observations and the action (the Nature CNN for image observations) in a RewardModel
    with ``loss``; or an energy model of ``discriminator``'s kind over the same standardised
    pairs, an MLP autoencoder (ebgan, began) or an MLP learned loss (lsgan_ls)."""
    if discriminator != "classifier":
        if discriminator not in DISCRIMINATORS:
            raise UserError(
                f"discriminator must be one of {', '.join(DISCRIMINATORS)}, got "
                f"{discriminator!r}{did_you_mean(discriminator, DISCRIMINATORS)}"
            )
        if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1):
            raise UserError(
                f"the {discriminator} discriminator takes vector observations; got "
                f"{observation_space}: use discriminator=classifier"
            )
        features = feature_size(observation_space, action_space)
        module: nn.Module = (
            mlp(features, hidden_sizes, 1)
            if discriminator == "lsgan_ls"
            else VectorAutoencoder(features, hidden_sizes)
        )
        return EnergyModel(module, discriminator, lr=lr, reward=reward, normalize_inputs=True)
    if is_image_space(observation_space):
        action_dim = feature_size(observation_space, action_space) - flat_size(observation_space)
        net: nn.Module = ImagePairDiscriminator(observation_space, action_dim, hidden_sizes)
        normalize = False  # the CNN scales pixels itself
    elif isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1:
        net = mlp(feature_size(observation_space, action_space), hidden_sizes, 1)
        normalize = True
    else:
        raise UserError(
            f"the GAIL discriminator takes vector or image (C, H, W) observations; got "
            f"{observation_space}"
        )
    return RewardModel(net, loss=loss, lr=lr, reward=reward, normalize_inputs=normalize)


MODEL_OPTIONS = ("hidden_sizes", "loss", "lr", "reward", "discriminator")
"""The options a saved transition reward model is rebuilt from."""


def save_transition_reward_model(
    path: Path,
    model: BaseRewardModel,
    options: dict[str, Any],
    observation_space: spaces.Space,
    action_space: spaces.Space,
) -> Path:
    """Write the reward model and what it takes as input, atomically."""
    return save_checkpoint(
        path,
        {
            "kind": "transition",
            "reward_model": model.state_dict(),
            "config": dict(options),
            "features": feature_size(observation_space, action_space),
        },
    )


def load_transition_reward_model(
    path: str | Path, observation_space: spaces.Space, action_space: spaces.Space
) -> BaseRewardModel:
    """A frozen transition reward model saved by a GAIL run (``reward_model.pt``)."""
    return transition_reward_from_state(
        load_checkpoint(Path(path)), path, observation_space, action_space
    )


def transition_reward_from_state(
    state: dict[str, Any],
    path: str | Path,
    observation_space: spaces.Space,
    action_space: spaces.Space,
) -> BaseRewardModel:
    """The reward model in a loaded ``reward_model.pt`` of a GAIL run (``path`` names it in
    errors)."""
    if state.get("kind") != "transition":
        raise UserError(
            f"{path} is not a transition reward model (reward_model.pt of a --reward gail "
            "or airl run); for a SeqGAN-v0 discriminator use it on SeqGAN-v0 with "
            "--reward model:PATH or --env-kwargs discriminator_path=PATH d_every=0"
        )
    if state["features"] != feature_size(observation_space, action_space):
        raise UserError(
            f"the reward model in {path} takes {state['features']} features, this env's "
            f"(obs, action) pairs have {feature_size(observation_space, action_space)}"
        )
    options = {key: state["config"][key] for key in MODEL_OPTIONS if key in state["config"]}
    if "hidden_sizes" in options:
        options["hidden_sizes"] = tuple(options["hidden_sizes"])
    model = make_transition_reward_model(observation_space, action_space, **options)
    model.load_state_dict(state["reward_model"])
    return model
