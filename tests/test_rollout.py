"""Unit tests on small tensors: GAE, truncation bootstrapping, policy heads, encoders."""

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from advrl.agents.networks import ActorCritic, make_encoder
from advrl.agents.rollout import bootstrap_truncated, compute_gae


def test_gae_hand_computed_single_env():
    # gamma 0.5; the episode ends after t=1 (no value flows back across it).
    rewards = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    values = torch.tensor([[0.5], [1.0], [1.5], [2.0]])
    ends = torch.tensor([[0.0], [1.0], [0.0], [0.0]])
    last = torch.tensor([4.0])
    adv, ret = compute_gae(rewards, values, ends, last, gamma=0.5, gae_lambda=1.0)
    # lambda = 1: Monte Carlo reward-to-go, bootstrapped with V=4 after the rollout:
    # G3 = 4 + .5*4 = 6, G2 = 3 + .5*6 = 6, G1 = 2 (episode end), G0 = 1 + .5*2 = 2.
    assert ret.flatten().tolist() == pytest.approx([2.0, 2.0, 6.0, 6.0])
    assert adv.flatten().tolist() == pytest.approx([1.5, 1.0, 4.5, 4.0])
    # lambda = 0.5: deltas are [1, 1, 2.5, 4]; A2 = 2.5 + .25*4, A0 = 1 + .25*1.
    adv, _ = compute_gae(rewards, values, ends, last, gamma=0.5, gae_lambda=0.5)
    assert adv.flatten().tolist() == pytest.approx([1.25, 1.0, 3.5, 4.0])


def test_gae_in_numpy_is_torch_arithmetic_bit_for_bit():
    # compute_gae loops in numpy for speed; the numbers must be the float32 torch loop's.
    generator = torch.Generator().manual_seed(0)
    rewards, values = (
        torch.randn(64, 3, generator=generator),
        torch.randn(64, 3, generator=generator),
    )
    ends = (torch.rand(64, 3, generator=generator) < 0.1).float()
    last = torch.randn(3, generator=generator)
    gamma, lam = 0.999, 0.95
    expected = torch.zeros_like(rewards)
    running = torch.zeros(3)
    for t in reversed(range(64)):
        next_values = last if t == 63 else values[t + 1]
        not_end = 1.0 - ends[t]
        delta = rewards[t] + gamma * next_values * not_end - values[t]
        running = delta + gamma * lam * not_end * running
        expected[t] = running
    adv, ret = compute_gae(rewards, values, ends, last, gamma, lam)
    assert adv.dtype == torch.float32
    assert torch.equal(adv, expected)
    assert torch.equal(ret, expected + values)


class _ConstantValue:
    """Stands in for a policy whose V(s) is 10 * s."""

    def value(self, obs):
        return 10.0 * obs.reshape(-1)


def test_truncation_bootstraps_and_termination_does_not():
    reward = np.array([1.0, 1.0, 1.0])
    terminated = np.array([True, False, True])
    truncated = np.array([False, True, True])  # env 2 is both: terminal wins
    final_obs = np.empty(3, dtype=object)  # as Gymnasium's vector envs build it
    final_obs[:] = [np.array([0.3]), np.array([0.7]), np.array([0.9])]
    infos = {"final_obs": final_obs, "_final_obs": terminated | truncated}
    out = bootstrap_truncated(
        reward, terminated, truncated, infos, _ConstantValue(), 0.9, torch.device("cpu")
    )
    assert out.tolist() == pytest.approx([1.0, 1.0 + 0.9 * 7.0, 1.0])
    assert reward.tolist() == [1.0, 1.0, 1.0]  # the input is not modified


def test_gae_with_a_truncated_and_a_terminated_episode():
    # Two envs, gamma 0.9, lambda 1. Env 0 terminates after t=0; env 1 is cut by a time
    # limit after t=0 with V(final_obs) = 5, which bootstrap_truncated folds into the reward.
    gamma = 0.9
    rewards = torch.tensor([[1.0, 1.0 + gamma * 5.0], [2.0, 2.0]])
    values = torch.zeros(2, 2)
    ends = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    last = torch.tensor([3.0, 3.0])
    _, ret = compute_gae(rewards, values, ends, last, gamma=gamma, gae_lambda=1.0)
    assert ret[0].tolist() == pytest.approx([1.0, 1.0 + gamma * 5.0])  # no flow across the end
    assert ret[1].tolist() == pytest.approx([2.0 + gamma * 3.0] * 2)


def test_gaussian_log_prob_and_entropy():
    torch.manual_seed(0)
    obs_space = spaces.Box(-1, 1, shape=(3,), dtype=np.float32)
    act_space = spaces.Box(-2, 2, shape=(2,), dtype=np.float32)
    policy = ActorCritic(obs_space, act_space, hidden_sizes=(8,), log_std_init=math.log(0.5))
    obs = torch.randn(4, 3)
    dist = policy.distribution(obs)
    mean = policy.actor(obs)
    action = torch.tensor([[0.1, -0.3]] * 4)
    sigma = 0.5
    expected = (
        -((action - mean) ** 2) / (2 * sigma**2) - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    ).sum(-1)
    assert torch.allclose(dist.log_prob(action), expected, atol=1e-6)
    expected_entropy = 2 * (0.5 * math.log(2 * math.pi * math.e * sigma**2))
    assert torch.allclose(dist.entropy(), torch.full((4,), expected_entropy), atol=1e-6)
    assert torch.equal(policy.act(obs, deterministic=True), mean)
    clipped = policy.env_action(torch.tensor([[5.0, -5.0]]))
    assert clipped.tolist() == [[2.0, -2.0]]


def test_categorical_head_greedy_and_log_prob():
    policy = ActorCritic(spaces.Discrete(5), spaces.Discrete(3), hidden_sizes=(8,))
    obs = torch.tensor([0, 4])
    dist = policy.distribution(obs)
    assert dist.probs.shape == (2, 3)
    assert torch.equal(policy.act(obs, deterministic=True), dist.probs.argmax(-1))
    assert policy.value(obs).shape == (2,)


@pytest.mark.parametrize(
    ("space", "features"),
    [
        (spaces.Discrete(7), 7),
        (spaces.Box(-1, 1, shape=(2, 3), dtype=np.float32), 6),
        (spaces.Box(0, 255, shape=(4, 84, 84), dtype=np.uint8), 512),
    ],
)
def test_encoder_picked_from_observation_space(space, features):
    encoder, size = make_encoder(space)
    assert size == features
    sample = torch.as_tensor(np.stack([space.sample(), space.sample()]))
    assert encoder(sample).shape == (2, features)
