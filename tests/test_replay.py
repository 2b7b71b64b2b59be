"""Replay buffers: the frame-sharing buffer returns exactly what naive storage returns."""

from collections import deque

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from advrl.agents.replay import FrameStackReplayBuffer, ReplayBuffer
from advrl.core.errors import UserError

CPU = torch.device("cpu")


class NaiveFrameStacks:
    """Envs whose observations are Gymnasium FrameStackObservation stacks, stored naively.

    Frames come from a tiny alphabet so that equal frames (Pong's still screens) are common.
    Episodes end when the test says so, by termination or truncation; with same-step
    autoreset the transition's next observation is the final one and the env resets.
    """

    def __init__(self, num_envs, stack, padding, frame_shape, seed):
        self.rng = np.random.default_rng(seed)
        self.stack, self.padding, self.frame_shape = stack, padding, frame_shape
        self.queues = [self._reset() for _ in range(num_envs)]

    def _frame(self):
        return self.rng.integers(0, 3, size=self.frame_shape, dtype=np.uint8)

    def _reset(self):
        first = self._frame()
        pad = first if self.padding == "reset" else np.zeros_like(first)
        return deque([pad] * (self.stack - 1) + [first], maxlen=self.stack)

    def obs(self):
        return np.stack([np.stack(q) for q in self.queues])

    def step(self, ends):
        """Advance every env; ``ends[e]`` is '', 'terminated' or 'truncated'."""
        for q in self.queues:
            q.append(self._frame())
        real_next = self.obs()
        for e, end in enumerate(ends):
            if end:
                self.queues[e] = self._reset()
        return real_next


def check_against_naive(buffer, naive):
    """Every transition the buffer can sample equals the naive record of it."""
    env, slot = np.divmod(np.arange(buffer.capacity), buffer.slots)
    index = np.flatnonzero(buffer._valid(env, slot))
    assert len(buffer) == len(index)
    if len(index) == 0:
        return
    batch = buffer.get(index)
    for row, i in enumerate(index):
        obs, action, next_obs, terminated, reward = naive[int(i)]
        assert np.array_equal(batch.observations[row].numpy(), obs)
        assert np.array_equal(batch.next_observations[row].numpy(), next_obs)
        assert batch.actions[row].item() == action
        assert batch.terminated[row].item() == float(terminated)
        assert batch.rewards[row].item() == np.float32(reward)


@settings(max_examples=200, deadline=None)
@given(
    num_envs=st.integers(1, 3),
    stack=st.integers(1, 4),
    padding=st.sampled_from(["reset", "zero"]),
    slots=st.integers(6, 30),
    steps=st.integers(1, 90),
    end_probability=st.sampled_from([0.0, 0.05, 0.3, 0.8]),
    seed=st.integers(0, 2**16),
)
def test_frame_buffer_matches_naive_storage(
    num_envs, stack, padding, slots, steps, end_probability, seed
):
    """Randomised episode lengths, both paddings, wrap-around many times over."""
    rng = np.random.default_rng(seed)
    envs = NaiveFrameStacks(num_envs, stack, padding, (2,), seed)
    space = gym.spaces.Box(0, 255, (stack, 2), np.uint8)
    buffer = FrameStackReplayBuffer(
        slots * num_envs, space, gym.spaces.Discrete(5), num_envs, CPU, rng
    )
    naive = {}
    obs = envs.obs()
    for step in range(steps):
        draw = rng.random(num_envs)
        ends = [
            ""
            if d >= end_probability
            else ("terminated" if d < end_probability / 2 else "truncated")
            for d in draw
        ]
        actions = rng.integers(5, size=num_envs)
        rewards = rng.normal(size=num_envs)
        terminated = np.array([e == "terminated" for e in ends])
        truncated = np.array([e == "truncated" for e in ends])
        real_next = envs.step(ends)
        index = buffer.add(obs, real_next, actions, rewards, terminated, truncated)
        for e, i in enumerate(index):
            naive[int(i)] = (obs[e], actions[e], real_next[e], terminated[e], rewards[e])
        # The newest transition of every env can always be sampled.
        assert buffer._valid(*np.divmod(index, buffer.slots)).all()
        obs = envs.obs()
        if step % 7 == 0 or step == steps - 1:
            check_against_naive(buffer, naive)
    sampled = buffer.sample_indices(64)
    assert buffer._valid(*np.divmod(sampled, buffer.slots)).all()
    if steps * (stack + 1) < slots:  # never wrapped: every transition is still there
        assert len(buffer) == steps * num_envs


def test_steady_state_holds_all_but_k_transitions_per_env():
    """Without episode ends, a full ring of S slots per env samples S - k transitions."""
    envs = NaiveFrameStacks(2, 4, "reset", (3, 3), seed=0)
    space = gym.spaces.Box(0, 255, (4, 3, 3), np.uint8)
    rng = np.random.default_rng(0)
    buffer = FrameStackReplayBuffer(40, space, gym.spaces.Discrete(3), 2, CPU, rng)
    obs = envs.obs()
    never = np.zeros(2, bool)
    for _ in range(100):
        next_obs = envs.step(["", ""])
        buffer.add(obs, next_obs, np.zeros(2, int), np.zeros(2), never, never)
        obs = envs.obs()
    assert len(buffer) == 2 * (20 - 4)


def test_frame_buffer_with_gymnasium_frame_stacks_and_autoreset():
    """The real thing: FrameStackObservation, TimeLimit, same-step autoreset, final_obs."""

    class Flicker(gym.Env):
        observation_space = gym.spaces.Box(0, 255, (6, 6), np.uint8)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self._frame(), {}

        def step(self, action):
            terminated = bool(self.np_random.random() < 0.1)
            return self._frame(), 1.0, terminated, False, {}

        def _frame(self):
            return self.np_random.integers(0, 2, (6, 6), dtype=np.uint8)

    for padding in ("reset", "zero"):

        def make(padding=padding):
            env = gym.wrappers.TimeLimit(Flicker(), max_episode_steps=7)
            return gym.wrappers.FrameStackObservation(env, 4, padding_type=padding)

        envs = gym.vector.SyncVectorEnv(
            [make, make, make], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
        )
        rng = np.random.default_rng(1)
        space = envs.single_observation_space
        buffer = FrameStackReplayBuffer(60, space, envs.single_action_space, 3, CPU, rng)
        naive = {}
        ends = {"terminated": 0, "truncated": 0}
        obs, _ = envs.reset(seed=3)
        for _ in range(200):
            actions = rng.integers(2, size=3)
            next_obs, rewards, terminated, truncated, infos = envs.step(actions)
            real_next = next_obs.copy()
            for i in np.flatnonzero(infos.get("_final_obs", np.zeros(3, bool))):
                real_next[i] = infos["final_obs"][i]
            index = buffer.add(obs, real_next, actions, rewards, terminated, truncated)
            for e, i in enumerate(index):
                naive[int(i)] = (obs[e], actions[e], real_next[e], terminated[e], rewards[e])
            obs = next_obs
            ends["terminated"] += terminated.sum()
            ends["truncated"] += (truncated & ~terminated).sum()
        assert min(ends.values()) > 5
        check_against_naive(buffer, naive)
        assert len(buffer) > 30  # 20 slots per env, episodes of at most 7 steps


def test_plain_buffer_stores_and_samples_transitions():
    rng = np.random.default_rng(0)
    space = gym.spaces.Box(-1, 1, (3,), np.float32)
    buffer = ReplayBuffer(5, space, 2, CPU, rng)
    for t in range(4):
        obs = np.full((2, 3), t, np.float32) + np.array([[0], [0.5]], np.float32)
        index = buffer.add(obs, obs + 1, np.array([t, t + 1]), np.array([t, -t]), [0, 1], [1, 0])
    assert len(buffer) == 5 and buffer.nbytes == 5 * (2 * 3 * 4 + 8 + 4 + 4)
    batch = buffer.get(index)  # the last vector step
    assert torch.equal(batch.observations, torch.tensor([[3.0] * 3, [3.5] * 3]))
    assert torch.equal(batch.next_observations, batch.observations + 1)
    assert batch.actions.tolist() == [3, 4] and batch.rewards.tolist() == [3.0, -3.0]
    assert batch.terminated.tolist() == [0.0, 1.0]  # truncation is stored as not terminated
    assert buffer.sample(16).observations.shape == (16, 3)


def test_discrete_observations_are_stored_as_integers():
    buffer = ReplayBuffer(8, gym.spaces.Discrete(12), 1, CPU, np.random.default_rng(0))
    buffer.add(np.array([3]), np.array([4]), np.array([1]), np.array([0.5]), [0], [0])
    batch = buffer.sample(2)
    assert batch.observations.dtype == torch.int64 and batch.observations.tolist() == [3, 3]


def sb3_optimized_bytes_per_transition(obs_space, action_space, capacity=1000):
    from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer

    sb3 = SB3ReplayBuffer(
        capacity,
        obs_space,
        action_space,
        "cpu",
        optimize_memory_usage=True,
        handle_timeout_termination=False,
    )
    arrays = (sb3.observations, sb3.actions, sb3.rewards, sb3.dones, sb3.timeouts)
    return sum(a.nbytes for a in arrays) / capacity


def test_atari_buffer_takes_a_quarter_of_sb3s_optimized_buffer():
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    actions = gym.spaces.Discrete(18)
    buffer = FrameStackReplayBuffer(1000, space, actions, 1, CPU, np.random.default_rng(0))
    ours = buffer.nbytes / buffer.capacity
    assert ours == 84 * 84 + 1 + 4
    assert ours * 1_000_000 <= 7.5e9  # a 1M-transition Atari buffer in at most 7.5 GB
    assert ours <= sb3_optimized_bytes_per_transition(space, actions) / 4


def test_a_buffer_larger_than_free_memory_is_refused_before_allocating(monkeypatch):
    psutil = pytest.importorskip("psutil")

    class Memory:
        available = 2 * 10**9

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory)
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    with pytest.raises(UserError) as error:
        FrameStackReplayBuffer(
            1_000_000, space, gym.spaces.Discrete(6), 1, CPU, np.random.default_rng(0)
        )
    message = str(error.value)
    for fragment in ("1,000,000 transitions", "7.06 GB", "2.00 GB", "--hp buffer_size=254000"):
        assert fragment in message
    with pytest.raises(UserError, match="buffer_size="):
        ReplayBuffer(10**9, gym.spaces.Box(-1, 1, (4,)), 1, CPU, np.random.default_rng(0))


def test_frame_buffer_refuses_observations_that_are_not_rolling_stacks():
    space = gym.spaces.Box(0, 255, (3, 2), np.uint8)
    buffer = FrameStackReplayBuffer(
        20, space, gym.spaces.Discrete(2), 1, CPU, np.random.default_rng(0)
    )
    obs = np.arange(6, dtype=np.uint8).reshape(1, 3, 2)
    with pytest.raises(UserError, match="frame_stack_buffer=false"):
        buffer.add(obs, obs + 1, np.array([0]), np.array([0.0]), [False], [False])
