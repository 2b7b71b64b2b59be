"""AIRL's discriminator (Fu, Luo & Levine 2018, https://arxiv.org/abs/1710.11248): a GAN
discriminator whose optimum recovers a reward that transfers.

    f(s, a, s') = g(s[, a]) + gamma * (1 - terminal) * h(s') - h(s)
    D(s, a, s') = exp(f) / (exp(f) + pi(a | s)),   so   logit D = f - log pi(a | s)

g is the reward (state-only by default: the paper's disentangled reward, which transfers to
new dynamics), h a shaping potential. Trained with the usual binary cross-entropy (expert
transitions real, the agent's fake), the logit read as a reward is log D - log(1 - D) =
f - log pi: the learned reward plus an entropy bonus (advrl's plug-in reads it as -log(1 - D)
by default, see ``AIRLConfig.reward``). Frozen, g alone is the reward to train a fresh agent
on (``AIRLReward``), read the same way.

A row of input is ``transition_features``: the observation, the action, the next
observation, the terminal flag and log pi(a | s) under the current policy. Observations are
standardised with running statistics that move in training mode only (as batch norm's do):
each discriminator step adds its batches to them, scoring never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from advrl.core.checkpoint import save_checkpoint
from advrl.core.errors import UserError
from advrl.core.modules import flat_size, is_vector_space, mlp
from advrl.core.normalization import ObservationNormalizer
from advrl.gan.losses import gradient_penalty
from advrl.gan.reward_model import BaseRewardModel, RewardModel
from advrl.gan.transitions import action_features, action_size, feature_size


def transition_features(
    obs: np.ndarray,
    actions: np.ndarray,
    next_obs: np.ndarray,
    terminals: np.ndarray,
    log_probs: np.ndarray,
    action_space: spaces.Space,
) -> torch.Tensor:
    """Rows (B, 2 * obs_dim + action_dim + 2): obs, action, next obs, terminal, log pi."""

    def column(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1)

    return torch.cat(
        [
            torch.as_tensor(np.asarray(obs), dtype=torch.float32).flatten(1),
            action_features(actions, action_space),
            torch.as_tensor(np.asarray(next_obs), dtype=torch.float32).flatten(1),
            column(terminals),
            column(log_probs),
        ],
        dim=1,
    )


class AIRLDiscriminator(nn.Module):
    """logit = g(s[, a]) + gamma * (1 - terminal) * h(s') - h(s) - log pi(a | s), over
    ``transition_features`` rows; ``gamma`` is the agent's discount."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        gamma: float,
        hidden_sizes: tuple[int, ...] = (64, 64),
        state_only: bool = True,
    ) -> None:
        super().__init__()
        if not is_vector_space(observation_space):
            raise ValueError(
                f"AIRL takes vector observations (a float Box), not {observation_space}"
            )
        self.obs_dim, self.action_dim = flat_size(observation_space), action_size(action_space)
        self.gamma, self.state_only = gamma, state_only
        self.obs_norm = ObservationNormalizer((self.obs_dim,))
        g_inputs = self.obs_dim + (0 if state_only else self.action_dim)
        self.g = mlp(g_inputs, hidden_sizes, 1, activation=nn.ReLU)
        self.h = mlp(self.obs_dim, hidden_sizes, 1, activation=nn.ReLU)

    def split(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """obs, action, next obs, terminal, log pi of ``transition_features`` rows."""
        d, k = self.obs_dim, self.action_dim
        return (
            rows[:, :d],
            rows[:, d : d + k],
            rows[:, d + k : 2 * d + k],
            rows[:, 2 * d + k],
            rows[:, 2 * d + k + 1],
        )

    def reward_inputs(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """What g reads: the standardised observation (and the action unless state-only)."""
        inputs = self.obs_norm(obs)
        return inputs if self.state_only else torch.cat([inputs, actions], dim=1)

    def reward_of_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """g (B,) of ``reward_inputs`` rows."""
        return self.g(inputs).squeeze(1)

    def reward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """g(s[, a]) (B,): the learned reward, without shaping or entropy."""
        return self.reward_of_inputs(self.reward_inputs(obs, actions))

    def shaped(self, rows: torch.Tensor) -> torch.Tensor:
        """f(s, a, s') (B,): the reward plus the potential's shaping term."""
        obs, actions, next_obs, terminal, _ = self.split(rows)
        if self.training:
            self.obs_norm.update(torch.cat([obs, next_obs]))
        potential = self.h(self.obs_norm(obs)).squeeze(1)
        next_potential = self.h(self.obs_norm(next_obs)).squeeze(1)
        return self.reward(obs, actions) + self.gamma * (1 - terminal) * next_potential - potential

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """The logit of D, f - log pi (B,)."""
        return self.shaped(rows) - self.split(rows)[4]


class AIRLRewardModel(RewardModel):
    """A RewardModel over an ``AIRLDiscriminator`` whose gradient penalty (``gradient_penalty``
    > 0) constrains g alone, with respect to what g reads, at points between the expert's
    and the agent's states.

    WGAN-GP's penalty on the whole logit would also see its log pi column, whose gradient is
    exactly -1: pulling the norm to 1 would then pull g's and h's gradients to 0. On g alone,
    in standardised state units, it keeps the reward that transfers smooth: g changes by
    about one per standard deviation between the expert's states and the agent's, instead
    of falling by hundreds to thousands off the expert's states (as DAC, Kostrikov et al.
    2019, penalises GAIL's discriminator). On Hopper-v5 (one development seed, λ = 10) g
    became smooth, but the AIRL agent and a fresh agent on its g learned to stand, not hop.
    """

    discriminator: AIRLDiscriminator

    def _penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        d = self.discriminator
        real_obs, real_actions = d.split(real)[:2]
        fake_obs, fake_actions = d.split(fake)[:2]
        return gradient_penalty(
            d.reward_of_inputs,
            d.reward_inputs(real_obs, real_actions),
            d.reward_inputs(fake_obs, fake_actions),
            weight=self.gp_weight,
        )


class AIRLReward(nn.Module):
    """A trained AIRL discriminator's g over (observation, action) pair rows (the rows GAIL's
    discriminator takes): the reward a fresh agent is trained on (``--reward model:PATH``)."""

    def __init__(self, discriminator: AIRLDiscriminator) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        d = self.discriminator.obs_dim
        return self.discriminator.reward(pairs[:, :d], pairs[:, d:])


class AboveFloor(nn.Module):
    """A frozen reward read as g minus the lowest g it has scored: never negative, in the
    same order as g.

    A sharp discriminator's g is far below zero on every state a fresh agent visits (on
    Hopper-v5, -40 on the expert's states and -700 to -1,700 on falling ones), so read as it
    is, the reward pays an agent to end its episode; read as softplus(g), it is 0 on all of
    them and teaches nothing. Shifted by its floor, every step earns something and the
    expert's states earn most. The floor only falls, so it settles within the first rollouts
    (a fresh agent falls at once); it is a buffer, saved with a run and restored on resume.
    """

    floor: torch.Tensor

    def __init__(self, reward: nn.Module) -> None:
        super().__init__()
        self.reward = reward
        self.register_buffer("floor", torch.tensor(float("inf")))

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        g = self.reward(pairs)
        if g.numel():
            self.floor.copy_(torch.minimum(self.floor, g.detach().min()))
        return g - self.floor


class ExpertRank(nn.Module):
    """A frozen reward read as the share of the expert's states that g scores lower: in
    [0, 1], in the same order as g, never negative.

    Above its floor, g pays a fresh agent for staying up far more than for how it moves:
    on the development reward (seed 11, Hopper-v5), g is about -20 on the expert's states
    (median), -200 standing still and -500 to -1,100 falling, so standing earns nearly what
    hopping does, and fresh agents learned to stand (normalised 0.29-0.30). Ranked among the
    expert's states, standing earns a few hundredths a step and the expert's gait a half on
    average: the reward spreads out where the expert is and flattens where it is not. The
    expert's g values are a buffer, saved with a run.
    """

    expert_g: torch.Tensor

    def __init__(self, reward: nn.Module, expert_pairs: torch.Tensor) -> None:
        super().__init__()
        self.reward = reward
        with torch.no_grad():
            expert_g = reward(expert_pairs).flatten()
        self.register_buffer("expert_g", torch.sort(expert_g).values)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        g = self.reward(pairs)
        below = torch.searchsorted(self.expert_g, g.contiguous(), right=True)
        return below.to(g.dtype) / self.expert_g.numel()


FROZEN_READINGS = ("logit", "neg_log_one_minus_d", "above_floor", "expert_rank")
"""How a frozen AIRL reward may be read (``--reward model:PATH --reward-kwargs reward=...``):
g as it is, softplus(g), g above its floor (``AboveFloor``), or g's rank among the expert's
states (``ExpertRank``, which needs ``--demos``)."""
EXPERT_READINGS = ("expert_rank",)
"""The readings that score g against the demonstrations (``--demos FILE``)."""


def make_airl_reward_model(
    observation_space: spaces.Space,
    action_space: spaces.Space,
    gamma: float,
    hidden_sizes: tuple[int, ...] = (64, 64),
    state_only: bool = True,
    loss: str = "non_saturating",
    lr: float = 3e-4,
    reward: str = "logit",
    gradient_penalty: float | None = None,
) -> AIRLRewardModel:
    """An AIRL discriminator in a RewardModel; its reward reads the logit f - log pi
    (``logit``: as it is; ``neg_log_one_minus_d``: softplus of it, always positive).
    ``gradient_penalty`` weighs WGAN-GP's penalty on g (``AIRLRewardModel``); None takes the
    loss's own (none for the cross-entropy losses)."""
    discriminator = AIRLDiscriminator(
        observation_space, action_space, gamma, hidden_sizes, state_only
    )
    return AIRLRewardModel(
        discriminator, loss=loss, lr=lr, reward=reward, gradient_penalty=gradient_penalty
    )


def save_airl_reward_model(
    path: Path,
    model: BaseRewardModel,
    options: dict[str, Any],
    observation_space: spaces.Space,
    action_space: spaces.Space,
) -> Path:
    """Write a trained AIRL discriminator and what it reads, atomically."""
    discriminator = model.discriminator
    if not isinstance(discriminator, AIRLDiscriminator):
        raise TypeError(f"an AIRL reward model holds an AIRLDiscriminator, not {discriminator}")
    return save_checkpoint(
        path,
        {
            "kind": "airl",
            "reward_model": model.state_dict(),
            "config": dict(options),
            "gamma": discriminator.gamma,
            "features": feature_size(observation_space, action_space),
        },
    )


def airl_reward_from_state(
    state: dict[str, Any],
    path: str | Path,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    reading: str | None = None,
    expert_pairs: torch.Tensor | None = None,
) -> RewardModel:
    """The frozen reward g of a saved AIRL discriminator, reading (observation, action)
    pair rows like GAIL's (``--reward model:PATH``), read as ``reading`` (one of
    ``FROZEN_READINGS``; None: as the agent read the logit while it learned). The readings
    of ``EXPERT_READINGS`` take the demonstrations' pairs, ``expert_pairs``."""
    if state["features"] != feature_size(observation_space, action_space):
        raise UserError(
            f"the AIRL reward in {path} takes {state['features']} features, this env's "
            f"(obs, action) pairs have {feature_size(observation_space, action_space)}"
        )
    config = state["config"]
    trained = make_airl_reward_model(
        observation_space,
        action_space,
        state["gamma"],
        tuple(config["hidden_sizes"]),
        config["state_only"],
        config["loss"],
    )
    trained.load_state_dict(state["reward_model"])
    discriminator = trained.discriminator
    if not isinstance(discriminator, AIRLDiscriminator):
        raise TypeError("make_airl_reward_model builds an AIRLDiscriminator")
    # By default g is read as the agent read the logit while it learned: as it is, or
    # softplus(g).
    reading = reading or config.get("reward", "logit")
    if reading == "above_floor":
        return RewardModel(
            AboveFloor(AIRLReward(discriminator)), loss=config["loss"], reward="logit"
        )
    if reading == "expert_rank":
        if expert_pairs is None:
            raise UserError(f"reward={reading} ranks g among the expert's states: add --demos FILE")
        ranked = ExpertRank(AIRLReward(discriminator), expert_pairs)
        return RewardModel(ranked, loss=config["loss"], reward="logit")
    return RewardModel(AIRLReward(discriminator), loss=config["loss"], reward=reading)
