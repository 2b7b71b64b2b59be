"""Encoders are picked by the observation space's class through one registry
(``advrl.agents.encoders``): a user's space gets a user's encoder, SeqGAN-v0's token prefixes
get the token LSTM, and an encoder shapes the policy above it only through its hooks."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from advrl.agents import check_spaces, get_algorithm, make_encoder, register_encoder
from advrl.agents import encoders as encoders_module
from advrl.agents.encoders import EncoderOptions, splits_over_threads
from advrl.agents.networks import ActorCritic
from advrl.agents.token_lstm import TokenLSTM, TokenPolicy
from advrl.core.errors import UserError
from advrl.core.spaces import TokenPrefix


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Each test registers into a copy of the registry, so its encoders end with it."""
    monkeypatch.setattr(encoders_module, "ENCODERS", dict(encoders_module.ENCODERS))


class Polar(spaces.Box):
    """(r, theta) observations: a Box that deserves an encoder of its own."""

    def __init__(self) -> None:
        low, high = np.array([0.0, -np.pi], np.float32), np.array([1.0, np.pi], np.float32)
        super().__init__(low, high, dtype=np.float32)


class ToCartesian(nn.Module):
    """(r, theta) -> (x, y)."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        r, theta = obs[:, 0], obs[:, 1]
        return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)


class Bits(spaces.MultiBinary):
    """A space no built-in encoder takes."""


def test_a_users_encoder_is_picked_for_its_space_class_over_the_base_classes():
    # Until registered, Polar is a Box like any other: flattened.
    assert isinstance(make_encoder(Polar())[0], nn.Flatten)

    @register_encoder(Polar)
    def cartesian(space: Polar, options: EncoderOptions) -> tuple[nn.Module, int]:
        return ToCartesian(), 2

    encoder, features = make_encoder(Polar())
    assert isinstance(encoder, ToCartesian) and features == 2
    assert isinstance(make_encoder(spaces.Box(0.0, 1.0, (2,)))[0], nn.Flatten)  # Box unchanged

    net = ActorCritic(Polar(), spaces.Discrete(3))
    assert isinstance(net.encoder, ToCartesian)
    assert net.actor[0].in_features == 2  # the heads read the encoder's features
    obs = torch.tensor([[1.0, 0.0], [0.5, np.pi / 2]])
    dist, value = net(obs)
    assert dist.logits.shape == (2, 3) and value.shape == (2,)
    assert isinstance(net.logits_module(), nn.Sequential)  # no hook: the plain policy module


def test_a_space_without_an_encoder_names_the_fix_until_one_is_registered():
    algo = get_algorithm("ppo")
    with pytest.raises(ValueError, match="register an encoder for its class"):
        make_encoder(Bits(4))
    with pytest.raises(UserError, match="register_encoder"):
        check_spaces(algo, Bits(4), spaces.Discrete(2), "bits-env")

    @register_encoder(Bits, splits_over_threads=True)
    def bits(space: Bits, options: EncoderOptions) -> tuple[nn.Module, int]:
        return nn.Flatten(), int(space.n)

    check_spaces(algo, Bits(4), spaces.Discrete(2), "bits-env")

    class ManyBits(Bits):
        """A subclass takes its base class's encoder, having none of its own."""

    net = ActorCritic(ManyBits(6), spaces.Discrete(2))
    assert net.actor[0].in_features == 6
    assert splits_over_threads(ManyBits(6))  # as the registration declares


def test_threads_are_declared_with_the_registration_not_probed():
    assert not splits_over_threads(spaces.Box(-1.0, 1.0, (4,)))
    assert splits_over_threads(spaces.Box(0, 255, (4, 84, 84), np.uint8))  # the Nature CNN
    assert splits_over_threads(TokenPrefix(vocab_size=10, length=5))
    assert not splits_over_threads(spaces.Discrete(5))
    assert not splits_over_threads(Bits(3))  # no encoder: nothing to split


class Rescaled(nn.Module):
    """An encoder with ActorCritic's hooks: it sets the actor head's initialisation and wraps
    the policy module."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()

    def init_policy(self, actor: nn.Module) -> None:
        for parameter in actor.parameters():
            nn.init.zeros_(parameter)

    def policy_module(self, torso: nn.Module, actor: nn.Module) -> nn.Module:
        return nn.Sequential(self, torso, actor, nn.Tanh())


def test_an_encoder_shapes_the_policy_only_through_its_hooks():
    class Scaled(spaces.Box):
        pass

    register_encoder(Scaled)(lambda space, options: (Rescaled(), 3))
    net = ActorCritic(Scaled(-1.0, 1.0, (3,)), spaces.Discrete(2))
    assert all(bool((p == 0).all()) for p in net.actor.parameters())  # init_policy ran
    assert not all(bool((p == 0).all()) for p in net.critic.parameters())  # the critic's own
    module = net.logits_module()
    assert isinstance(module[-1], nn.Tanh) and module[0] is net.encoder
    with pytest.raises(TypeError, match="encoder of whole sequences"):
        net.teacher_forced_logits(torch.zeros(1, 4, dtype=torch.long), start_id=0)


def test_seqgan_v0s_space_brings_the_token_lstm_and_its_policy():
    env = gym.make(
        "SeqGAN-v0", vocab_size=6, seq_len=5, n_train=200, n_test=50, reward_mode="final"
    )
    space = env.observation_space
    assert isinstance(space, TokenPrefix)
    net = ActorCritic(space, env.action_space, token_lstm=(8, 16))
    assert isinstance(net.encoder, TokenLSTM) and net.encoder.hidden_dim == 16
    assert isinstance(net.logits_module(), TokenPolicy)  # steps one token at a time
    # SeqGAN's N(0, 0.1) initialisation reached the LSTM and the actor head (not N(0, 1)
    # embeddings, nor an orthogonal output layer of gain 0.01).
    for module in (net.encoder.embedding, net.actor[-1]):
        assert 0.05 < float(module.weight.detach().std()) < 0.15
    logits = net.teacher_forced_logits(torch.zeros(3, 5, dtype=torch.long), start_id=1)
    assert logits.shape == (3, 5, 6)
    obs, _ = env.reset(seed=0)
    assert net.logits_module()(torch.as_tensor(obs)[None]).shape == (1, 6)


def test_the_token_prefix_space_is_one_class_wherever_it_is_imported_from():
    from advrl.envs.seqgan import TokenPrefix as FromTheEnv

    assert FromTheEnv is TokenPrefix
    space = TokenPrefix(vocab_size=7, length=4)
    assert (space.vocab_size, space.length, space.shape) == (7, 4, (6,))
