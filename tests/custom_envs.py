"""Tiny user-style envs for the plug-in tests: importing this module registers Corridor-v0.

The CLI reaches them as ``custom_envs:Corridor`` (class), ``custom_envs:make_corridor``
(factory) and ``custom_envs:Corridor-v0`` (Gymnasium's module:id form).
"""

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):
    """Walk right along a corridor of ``length`` squares; reaching the end pays +1.

    Observation: the position as a one-element float vector. Actions: 0 left, 1 right.
    Every step costs ``step_cost``; episodes are cut after ``4 * length`` steps.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, length: int = 5, step_cost: float = 0.01, render_mode: str | None = None):
        if length < 2:
            raise ValueError(f"length must be >= 2, got {length}")
        self.length, self.step_cost, self.render_mode = length, step_cost, render_mode
        self.observation_space = spaces.Box(0.0, float(length), shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.position, self.steps = 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        self.steps += 1
        terminated = self.position >= self.length - 1
        reward = 1.0 if terminated else -self.step_cost
        truncated = not terminated and self.steps >= 4 * self.length
        return np.array([self.position], dtype=np.float32), reward, terminated, truncated, {}

    def render(self):
        frame = np.zeros((16, 16 * self.length, 3), dtype=np.uint8)
        frame[:, 16 * self.position : 16 * (self.position + 1)] = 255
        return frame


def make_corridor(length: int = 5) -> gym.Env:
    """A factory function, the other plug-in form."""
    return Corridor(length=length)


class MultiButton(gym.Env):
    """An env with a MultiDiscrete action space, which no advrl agent handles yet."""

    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.MultiDiscrete([2, 3])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(2, dtype=np.float32), 0.0, True, False, {}


if "Corridor-v0" not in gym.registry:
    gym.register(id="Corridor-v0", entry_point=Corridor)


class NoRenderer(Corridor):
    """A Corridor whose renderer is missing, as a classic-control env without pygame."""

    def render(self):
        raise gym.error.DependencyNotInstalled(
            'pygame is not installed, run `pip install "gymnasium[classic-control]"`'
        )


class FlakyCorridor(Corridor):
    """A Corridor whose first reset raises, for the sweep's retry tests.

    ``fail="once"``: the first reset in any process raises, and creates ``marker`` so that a
    retried trial succeeds; ``fail="always"``: every reset raises; ``"never"``: a Corridor.
    """

    def __init__(self, fail: str = "never", marker: str = "", length: int = 5):
        super().__init__(length=length)
        self.fail, self.marker = fail, marker

    def reset(self, *, seed=None, options=None):
        if self.fail == "always":
            raise RuntimeError("FlakyCorridor fails at every reset")
        if self.fail == "once" and not os.path.exists(self.marker):
            open(self.marker, "x").close()
            raise RuntimeError("FlakyCorridor fails at its first reset")
        return super().reset(seed=seed, options=options)
