"""The on-policy scaffold: a third algorithm is its ``update`` alone, and the loop around it
(rollout, advantages, learning rate, logging, hooks) is ``OnPolicyAgent.learn``'s."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest
import torch
from test_reinforce import ConstantBandit, Recorder
from torch import Tensor

from advrl.agents.rollout import OnPolicyAgent, RolloutBuffer
from advrl.core.hooks import LearnHooks


class TwoArmBandit(ConstantBandit):
    """One step, two arms: arm 1 pays 1, arm 0 pays nothing."""

    payoffs = (0.0, 1.0)


@dataclass
class VanillaPGConfig:
    """Only what the scaffold reads; without gae_lambda its advantages are returns minus V."""

    lr: float = 0.05
    gamma: float = 0.0
    """One-step episodes: the return is the reward."""
    n_steps: int = 4
    max_grad_norm: float = 1.0
    hidden_sizes: tuple[int, ...] = ()
    """Linear heads."""
    anneal_lr: bool = False


class VanillaPG(OnPolicyAgent):
    """The plain score-function gradient, no baseline: the whole algorithm is ``update``."""

    name = "vanilla_pg"
    Config = VanillaPGConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rollouts: list[tuple[Tensor, Tensor, Tensor]] = []

    def update(
        self, buffer: RolloutBuffer, advantages: Tensor, returns: Tensor, kl_advantages: Tensor
    ) -> dict[str, float]:
        self.rollouts.append((buffer.actions.clone(), buffer.rewards.clone(), returns.clone()))
        dist, _ = self.policy(buffer.obs.flatten(0, 1))
        loss = -(dist.log_prob(buffer.actions.flatten(0, 1)) * returns.flatten()).mean()
        self.gradient_step(loss)
        return {"losses/policy_loss": loss.item()}


def bandits(num_envs: int) -> gym.vector.VectorEnv:
    return gym.vector.SyncVectorEnv(
        [TwoArmBandit] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )


def make_agent(envs: gym.vector.VectorEnv, **config) -> VanillaPG:
    spaces = (envs.single_observation_space, envs.single_action_space)
    return VanillaPG(*spaces, VanillaPGConfig(**config), torch.device("cpu"))


def test_a_subclass_with_only_an_update_learns_the_better_arm():
    torch.manual_seed(0)
    envs = bandits(8)
    agent = make_agent(envs)
    recorder = Recorder()
    agent.learn(envs, total_steps=1600, logger=recorder, seed=0)
    assert agent.global_step == 1600
    assert len(agent.rollouts) == len(recorder.updates) == 1600 // (4 * 8)
    assert list(recorder.updates[0]) == ["losses/policy_loss", "charts/learning_rate"]
    assert agent.act(np.zeros((1, 1), np.float32)).tolist() == [1]
    with torch.no_grad():
        dist, _ = agent.policy(torch.zeros(1, 1))
    assert dist.probs[0, 1] > 0.95


class StopAfter(LearnHooks):
    """Ask to stop after ``updates`` updates; remember the steps ``after_update`` saw."""

    def __init__(self, updates: int) -> None:
        self.updates, self.steps = updates, []

    def after_update(self, step: int) -> None:
        self.steps.append(step)
        self.stop_requested = len(self.steps) >= self.updates


def test_the_scaffold_fills_the_buffer_anneals_and_stops_at_the_next_boundary():
    envs = bandits(2)
    agent = make_agent(envs, n_steps=3, anneal_lr=True)
    recorder, hooks = Recorder(), StopAfter(2)
    agent.learn(envs, total_steps=60, logger=recorder, seed=0, hooks=hooks)
    # Two updates of 3 steps x 2 envs, then learn returns though 60 steps were asked for.
    assert hooks.steps == [6, 12] and agent.global_step == 12
    assert len(agent.rollouts) == 2
    for actions, rewards, returns in agent.rollouts:
        assert actions.shape == rewards.shape == (3, 2)
        # arm 1 pays 1 and every episode is one step long: the return is the reward
        assert torch.equal(rewards, actions.float())
        assert torch.allclose(returns, rewards)
    learning_rates = [update["charts/learning_rate"] for update in recorder.updates]
    assert learning_rates == pytest.approx([0.05, 0.05 * (1 - 6 / 60)])
