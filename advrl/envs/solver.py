"""Exact value iteration for envs exposing a Gymnasium toy_text-style transition model `P`.

Used as ground truth: learning tests compare agents against the optimal values and policy.
"""

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

ARROWS = "↑→↓←"  # actions 0..3: up, right, down, left (GridWorld, CliffWalking)


@dataclass(frozen=True)
class Solution:
    """Optimal values and a greedy policy of a finite MDP."""

    values: np.ndarray
    """(n_states,) optimal state values V*."""
    q_values: np.ndarray
    """(n_states, n_actions) optimal action values Q*."""
    policy: np.ndarray
    """(n_states,) greedy action (lowest index on ties); -1 on absorbing (terminal) states."""
    iterations: int
    """Number of Bellman sweeps until the largest value change fell below `tol`."""


def _dense_model(env: gym.Env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense arrays from `env.unwrapped.P`.

    Returns `continue_prob` (S, A, S): probability of reaching s' without terminating (so
    terminal transitions contribute no future value), `expected_reward` (S, A), and
    `absorbing` (S,): states whose every action is a reward-0 self-loop.
    """
    base = env.unwrapped
    if not hasattr(base, "P"):
        raise TypeError(f"{type(base).__name__} has no toy_text-style transition model `P`")
    if not isinstance(base.observation_space, gym.spaces.Discrete) or not isinstance(
        base.action_space, gym.spaces.Discrete
    ):
        raise TypeError("value_iteration needs Discrete observation and action spaces")
    n_states, n_actions = int(base.observation_space.n), int(base.action_space.n)
    continue_prob = np.zeros((n_states, n_actions, n_states))
    expected_reward = np.zeros((n_states, n_actions))
    absorbing = np.ones(n_states, dtype=bool)
    for s in range(n_states):
        for a in range(n_actions):
            for prob, next_state, reward, terminated in base.P[s][a]:
                expected_reward[s, a] += prob * reward
                if not terminated:
                    continue_prob[s, a, next_state] += prob
                if prob > 0 and (next_state != s or reward != 0):
                    absorbing[s] = False
    return continue_prob, expected_reward, absorbing


def value_iteration(
    env: gym.Env, gamma: float = 1.0, tol: float = 1e-10, max_iterations: int = 100_000
) -> Solution:
    """Solve `env` exactly by value iteration on its transition model `env.unwrapped.P`.

    Works for advrl's GridWorld and Gymnasium's FrozenLake, CliffWalking and Taxi. `gamma == 1`
    is fine when every policy the sweep meets ends episodes (e.g. GridWorld with a negative
    step reward); otherwise the values diverge and a ValueError suggests `gamma < 1`.
    Actions whose Q-values lie within `10 * tol` of the best count as ties, broken towards
    the lowest action index so the policy is deterministic despite rounding.
    """
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if tol <= 0.0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    continue_prob, expected_reward, absorbing = _dense_model(env)

    values = np.zeros(continue_prob.shape[0])
    iterations, delta = 0, np.inf
    while iterations < max_iterations and not delta < tol:
        q_values = expected_reward + gamma * continue_prob @ values  # (S, A)
        new_values = q_values.max(axis=1)
        delta = float(np.max(np.abs(new_values - values)))
        values = new_values
        iterations += 1
        if not np.isfinite(delta):  # overflow: only divergence gets here
            break
    if not delta < tol:
        raise ValueError(
            f"value iteration did not converge in {iterations} iterations "
            f"(last change {delta:.3g}); some states may never reach a terminal state, "
            f"try gamma < 1 (got gamma={gamma})"
        )

    q_values = expected_reward + gamma * continue_prob @ values
    near_best = q_values >= q_values.max(axis=1, keepdims=True) - 10 * tol
    policy = np.where(absorbing, -1, np.argmax(near_best, axis=1))
    return Solution(values=values, q_values=q_values, policy=policy, iterations=iterations)


def _layout_rows(env: Any) -> tuple[str, ...]:
    """The map's rows: advrl GridWorld's `layout`, or FrozenLake's byte-string `desc`."""
    if hasattr(env, "layout"):
        return tuple(env.layout)
    if hasattr(env, "desc"):
        return tuple(b"".join(row).decode() for row in env.desc)
    raise TypeError(f"{type(env).__name__} has no `layout` or `desc` to draw arrows on")


def policy_arrows(env: gym.Env, policy: np.ndarray) -> list[str]:
    """Draw a grid policy as rows of arrows, e.g. `["→→→+", "↑#↑-", "↑←←←"]`.

    Actions 0..3 become ↑→↓←; walls, terminal squares and states whose policy is -1 show
    their layout character.
    """
    base = env.unwrapped
    rows = _layout_rows(base)
    n_cols = len(rows[0])
    fixed = getattr(base, "wall_states", frozenset()) | getattr(
        base, "terminal_states", frozenset()
    )
    policy = np.asarray(policy)
    lines = []
    for r, row in enumerate(rows):
        chars = []
        for c, char in enumerate(row):
            state = r * n_cols + c
            action = int(policy[state])
            chars.append(char if action < 0 or state in fixed else ARROWS[action])
        lines.append("".join(chars))
    return lines
