"""Replay buffers for off-policy agents (DQN): plain storage, and frame sharing for Atari.

Both store what a vector env produced, one transition per env per ``add``, and sample
uniform minibatches as a ``ReplayBatch``. ``next_observations`` is always the true next
observation: at an episode end, the last observation of the episode (Gymnasium's
``final_obs``), never the reset observation that replaced it, so that a time-limit
truncation can bootstrap from it.

- ``ReplayBuffer`` keeps every observation and next observation as given. Right for vectors
  and small observations.
- ``FrameStackReplayBuffer`` is for stacks of k frames (Atari's (4, 84, 84) uint8) whose
  next observation is the observation shifted by one new frame. It stores each frame once
  and rebuilds both stacks at sample time, so a 1,000,000-transition Atari buffer takes
  7.06 GB where Stable-Baselines3 allocates 28.2 GB with ``optimize_memory_usage`` and
  56.5 GB without (SB3 #968, CleanRL #453: "Unable to allocate 26.3 GiB").

Both refuse, before allocating, a capacity that does not fit in free memory (with psutil
installed) and report their size in ``nbytes``. Sampling is vectorised index arithmetic.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

from advrl.core.errors import UserError


class ReplayBatch(NamedTuple):
    """A minibatch of transitions, as tensors on the agent's device."""

    observations: torch.Tensor
    """(B, *obs_shape), the dtype the env gives (uint8 frames stay uint8)."""
    actions: torch.Tensor
    """(B,) long."""
    next_observations: torch.Tensor
    """(B, *obs_shape): the observation after the action (``final_obs`` at episode ends)."""
    terminated: torch.Tensor
    """(B,) float, 1.0 where the episode terminated: no value beyond it. Truncation is 0."""
    rewards: torch.Tensor
    """(B,) float."""


def check_memory(nbytes: int, capacity: int, bytes_per_transition: float) -> None:
    """Refuse a buffer that cannot fit in free memory, with the fix; skipped without psutil.

    NumPy's zeroed arrays are mapped lazily, so an oversized buffer would otherwise start
    fine and fail hours later, once it fills.
    """
    try:
        import psutil
    except ImportError:
        return
    free = psutil.virtual_memory().available
    if nbytes > free:
        fits = int(0.9 * free / bytes_per_transition) // 1000 * 1000
        raise UserError(
            f"a replay buffer of {capacity:,} transitions needs {nbytes / 1e9:.2f} GB but only "
            f"{free / 1e9:.2f} GB of memory is free; lower it, e.g. --hp buffer_size={fits}"
        )


def _obs_layout(space: gym.Space) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype to store one observation of ``space`` with."""
    if isinstance(space, gym.spaces.Discrete):
        return (), np.dtype(np.int64)
    dtype = np.dtype(space.dtype)
    if space.shape is None:
        raise ValueError(f"{space} has no shape to store")
    return tuple(space.shape), (np.dtype(np.float32) if dtype == np.float64 else dtype)


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(array).to(device, non_blocking=True)


class ReplayBuffer:
    """A ring of ``capacity`` transitions, observations and next observations stored as is."""

    def __init__(
        self,
        capacity: int,
        observation_space: gym.Space,
        num_envs: int,
        device: torch.device,
        rng: np.random.Generator,
    ) -> None:
        self.capacity, self.num_envs, self.device, self.rng = capacity, num_envs, device, rng
        shape, dtype = _obs_layout(observation_space)
        per_transition = 2 * int(np.prod(shape)) * dtype.itemsize + 8 + 4 + 4
        check_memory(capacity * per_transition, capacity, per_transition)
        self.observations = np.zeros((capacity, *shape), dtype)
        self.next_observations = np.zeros((capacity, *shape), dtype)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.pos, self.size = 0, 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays."""
        arrays = (self.observations, self.next_observations, self.actions, self.rewards)
        return sum(a.nbytes for a in arrays) + self.terminated.nbytes

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> np.ndarray:
        """Store one vector step (one transition per env); returns their indices.

        ``next_obs`` must hold the true next observations (``final_obs`` where an episode
        ended). ``truncated`` is accepted for symmetry with the frame buffer: a truncated
        transition is stored as not terminated, so it bootstraps.
        """
        index = (self.pos + np.arange(len(actions))) % self.capacity
        self.observations[index] = obs
        self.next_observations[index] = next_obs
        self.actions[index] = actions
        self.rewards[index] = rewards
        self.terminated[index] = terminated
        self.pos = int(index[-1] + 1) % self.capacity
        self.size = min(self.size + len(actions), self.capacity)
        return index

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """``batch_size`` indices of stored transitions, uniformly with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self.rng.integers(self.size, size=batch_size)

    def get(self, index: np.ndarray) -> ReplayBatch:
        """The transitions at ``index`` as a batch of tensors."""
        d = self.device
        return ReplayBatch(
            _to_tensor(self.observations[index], d),
            _to_tensor(self.actions[index], d),
            _to_tensor(self.next_observations[index], d),
            _to_tensor(self.terminated[index], d),
            _to_tensor(self.rewards[index], d),
        )

    def sample(self, batch_size: int) -> ReplayBatch:
        """A uniform minibatch of stored transitions."""
        return self.get(self.sample_indices(batch_size))


class FrameStackReplayBuffer:
    """Replay for stacked frames that stores each frame once and rebuilds stacks on sampling.

    Each env has a ring of ``capacity // num_envs`` slots. Slot i holds one frame, the
    reward of the action taken after it, and in ``actions[e, i]`` either that action or a
    code saying that no action follows the frame:

    ======================  =============================================================
    ``actions[e, i]``       slot i is
    ======================  =============================================================
    an action (< n)         the newest frame of an observation; its transition's next
                            observation ends at slot i + 1
    ``PENDING``             an env's newest frame, its action not known yet, or padding
    ``TERMINATED``          the last frame of an episode that terminated
    ``TRUNCATED``           the last frame of an episode cut short (or never written)
    ======================  =============================================================

    An episode writes its first observation's distinct frames, then one frame per step, so
    the transition at slot i has the observation in slots i-k+1 .. i and the next one in
    i-k+2 .. i+1. A slot that follows an episode's last frame starts an episode, and frames
    before it in a stack repeat it: what Gymnasium's ``FrameStackObservation`` does with its
    default padding (the reset frame, repeated). Other paddings (zeros) come back exactly
    too: a first observation's leading equal frames are stored from the last of them on.

    Memory: 7,056 + 1 + 4 = 7,061 bytes per slot for 84x84 frames and up to 253 actions,
    against 28,244 per transition in SB3's buffer with ``optimize_memory_usage`` and 56,468
    without. Each episode's last frame (and any distinct padding frame) takes a slot of its
    own, so the buffer holds ``capacity`` minus one transition per episode in it. The k - 1
    oldest transitions of a full ring, whose stacks reach past the oldest slot, and each
    env's newest frame are never sampled.
    """

    def __init__(
        self,
        capacity: int,
        observation_space: gym.spaces.Box,
        action_space: gym.spaces.Discrete,
        num_envs: int,
        device: torch.device,
        rng: np.random.Generator,
    ) -> None:
        self.stack, *frame_shape = observation_space.shape
        self.slots = max(capacity // num_envs, self.stack + 2)
        self.num_envs, self.device, self.rng = num_envs, device, rng
        n_actions = int(action_space.n)
        code_dtype = np.dtype(np.uint8 if n_actions <= 253 else np.int64)
        top = np.iinfo(code_dtype).max
        self.PENDING, self.TERMINATED, self.TRUNCATED = top, top - 1, top - 2
        per_slot = int(np.prod(frame_shape)) + code_dtype.itemsize + 4
        total_slots = self.slots * num_envs
        check_memory(total_slots * per_slot, total_slots, per_slot)
        self.frames = np.zeros((num_envs, self.slots, *frame_shape), np.uint8)
        self.actions = np.full((num_envs, self.slots), self.TRUNCATED, code_dtype)
        self.rewards = np.zeros((num_envs, self.slots), np.float32)
        self.pos = np.zeros(num_envs, np.int64)
        """Each env's next slot to write."""
        self.count = np.zeros(num_envs, np.int64)
        """Slots each env has written, up to ``slots``."""
        self.open = np.zeros(num_envs, bool)
        """Whether each env's newest frame ends the observation its next ``add`` starts from."""
        self.added = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays (frames, actions and rewards)."""
        return self.frames.nbytes + self.actions.nbytes + self.rewards.nbytes

    @property
    def capacity(self) -> int:
        return self.slots * self.num_envs

    def __len__(self) -> int:
        """Transitions that can be sampled (a scan over all slots: not for hot loops)."""
        env, slot = np.divmod(np.arange(self.capacity), self.slots)
        return int(self._valid(env, slot).sum())

    def _write(self, envs: np.ndarray, frames: np.ndarray, codes: np.ndarray | int) -> None:
        """Write one frame per env in ``envs`` at each env's next slot, and advance."""
        self.frames[envs, self.pos[envs]] = frames
        self.actions[envs, self.pos[envs]] = codes
        self.pos[envs] = (self.pos[envs] + 1) % self.slots
        self.count[envs] = np.minimum(self.count[envs] + 1, self.slots)

    def _start_episode(self, env: int, obs: np.ndarray) -> None:
        """Write the frames of an episode's first observation (leading repeats once)."""
        last = (self.pos[env] - 1) % self.slots
        if self.actions[env, last] == self.PENDING:  # a stream cut without an episode end
            self.actions[env, last] = self.TRUNCATED
        first = 0
        while first + 1 < self.stack and np.array_equal(obs[first + 1], obs[0]):
            first += 1
        for frame in obs[first:]:
            self._write(np.array([env]), frame[None], self.PENDING)

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> np.ndarray:
        """Store one vector step, one transition per env, in order; returns their indices.

        ``obs[e]`` must be env e's previous ``next_obs`` unless its last transition ended an
        episode; ``next_obs`` must hold the true next observations (``final_obs`` at ends).
        """
        envs = np.arange(self.num_envs)
        if not np.array_equal(next_obs[:, :-1], obs[:, 1:]):
            raise UserError(
                "the observations are not rolling frame stacks (each next observation the "
                "observation shifted by one new frame), which the frame-sharing replay "
                "buffer needs; use --hp frame_stack_buffer=false"
            )
        newest = self.frames[envs, (self.pos - 1) % self.slots]
        continues = self.open & np.all(newest == obs[:, -1], axis=tuple(range(1, obs.ndim - 1)))
        for env in np.flatnonzero(~continues):
            self._start_episode(int(env), obs[env])
        slot = (self.pos - 1) % self.slots
        self.actions[envs, slot] = actions
        self.rewards[envs, slot] = rewards
        ends = np.where(terminated, self.TERMINATED, self.TRUNCATED)
        self._write(envs, next_obs[:, -1], np.where(terminated | truncated, ends, self.PENDING))
        self.open = ~(terminated | truncated)
        self.added += self.num_envs
        return envs * self.slots + slot

    def _valid(self, env: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """Which (env, slot) pairs hold a transition whose frames are all still stored."""
        is_action = self.actions[env, slot] < self.TRUNCATED
        full = self.count[env] == self.slots
        age = (slot - self.pos[env]) % self.slots  # 0 for the oldest slot of a full ring
        return is_action & (~full | (age >= self.stack - 1))

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """``batch_size`` indices of transitions, uniformly with replacement.

        Draws slots uniformly among written ones and redraws those that hold no sampleable
        transition (episode ends, padding): rejection sampling keeps it uniform.
        """
        if self.added == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        ends = np.cumsum(self.count)
        oldest = (self.pos - self.count) % self.slots
        chosen: list[np.ndarray] = []
        missing = batch_size
        while missing > 0:
            draw = self.rng.integers(ends[-1], size=missing + missing // 8 + 4)
            env = np.searchsorted(ends, draw, side="right")
            slot = (oldest[env] + draw - (ends[env] - self.count[env])) % self.slots
            keep = self._valid(env, slot)
            chosen.append((env * self.slots + slot)[keep][:missing])
            missing -= len(chosen[-1])
        return np.concatenate(chosen)

    def get(self, index: np.ndarray) -> ReplayBatch:
        """Rebuild the transitions at ``index``: both stacks, honouring episode starts."""
        env, slot = np.divmod(index, self.slots)
        k = self.stack
        offsets = np.arange(-k + 1, 2)  # observation: slots i-k+1..i; next: i-k+2..i+1
        window = (slot[:, None] + offsets) % self.slots  # (B, k + 1)
        before = self.actions[env[:, None], (window - 1) % self.slots]
        starts = (before == self.TERMINATED) | (before == self.TRUNCATED)
        # Frames before the latest episode start in the window repeat the start frame.
        latest_start = np.where(starts, offsets, -k).max(axis=1, keepdims=True)
        window = (slot[:, None] + np.maximum(offsets, latest_start)) % self.slots
        frames = _to_tensor(self.frames[env[:, None], window], self.device)  # (B, k+1, ...)
        next_code = self.actions[env, (slot + 1) % self.slots]
        d = self.device
        return ReplayBatch(
            frames[:, :-1],
            _to_tensor(self.actions[env, slot].astype(np.int64), d),
            frames[:, 1:],
            _to_tensor((next_code == self.TERMINATED).astype(np.float32), d),
            _to_tensor(self.rewards[env, slot], d),
        )

    def sample(self, batch_size: int) -> ReplayBatch:
        """A uniform minibatch, its frame stacks rebuilt."""
        return self.get(self.sample_indices(batch_size))
