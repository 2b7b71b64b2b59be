"""REINFORCE's policy term with and without the learned baseline (SeqGAN uses none)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from advrl.agents.reinforce import Reinforce, ReinforceConfig


class ConstantBandit(gym.Env):
    """One step, two arms, arm i paying ``payoffs[i]``: here 1 whichever arm is pulled."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)
    payoffs = (1.0, 1.0)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: int):
        return np.zeros(1, np.float32), self.payoffs[action], True, False, {}


class Recorder:
    """The two logger calls an agent makes; keeps each update's metrics."""

    def __init__(self) -> None:
        self.updates: list[dict[str, float]] = []

    def on_step(self, steps: int, episodes: list) -> None:
        pass

    def on_update(self, metrics: dict[str, float]) -> None:
        self.updates.append(dict(metrics))


@pytest.mark.parametrize("baseline", [True, False])
def test_policy_term_uses_the_return_minus_the_baseline_or_the_plain_return(baseline):
    envs = gym.vector.SyncVectorEnv(  # advrl's agents step same-step autoreset envs
        [ConstantBandit for _ in range(4)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    config = ReinforceConfig(
        lr=1e-6, gamma=0.0, n_steps=8, baseline=baseline, normalize_advantage=False, hidden_sizes=()
    )
    agent = Reinforce(envs.single_observation_space, envs.single_action_space, config, "cpu")
    with torch.no_grad():  # V(s) = 0.9 everywhere; the policy starts near uniform
        agent.policy.critic[-1].weight.zero_()
        agent.policy.critic[-1].bias.fill_(0.9)
    recorder = Recorder()
    agent.learn(envs, total_steps=32, logger=recorder, seed=0)
    # Every return is 1 and log pi(a) is about log(1/2): the plain estimator's loss is
    # -mean(log pi * 1) = 0.69; with the baseline it is -mean(log pi * (1 - 0.9)) = 0.069.
    expected = np.log(2) * (0.1 if baseline else 1.0)
    assert recorder.updates[0]["losses/policy_loss"] == pytest.approx(expected, rel=0.02)


def test_a_next_step_autoreset_env_is_refused_with_the_fix():
    from advrl.core.errors import UserError

    envs = gym.vector.SyncVectorEnv([ConstantBandit])  # Gymnasium's default: next step
    agent = Reinforce(
        envs.single_observation_space, envs.single_action_space, ReinforceConfig(), "cpu"
    )
    with pytest.raises(UserError, match="SAME_STEP"):
        agent.learn(envs, total_steps=8, logger=Recorder(), seed=0)
