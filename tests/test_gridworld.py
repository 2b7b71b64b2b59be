"""GridWorldEnv dynamics, layouts, rendering and env checkers; value_iteration ground truth."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from advrl.envs.gridworld import AGENT_COLOR, CELL_PX, DOWN, LEFT, RIGHT, UP, GridWorldEnv
from advrl.envs.solver import policy_arrows, value_iteration

# Classic map, state = row * 4 + col with row 0 on top:
#   0  1  2  3(+)
#   4  5# 6  7(-)
#   8S 9 10 11
START, WALL, GOAL, PIT = 8, 5, 3, 7

# The registered GridWorld-v0, without depending on advrl's registry.
SPEC = EnvSpec(
    id="GridWorldTest-v0",
    entry_point="advrl.envs.gridworld:GridWorldEnv",
    max_episode_steps=100,
)


def rollout(env: GridWorldEnv, actions: list[int]) -> list[tuple]:
    return [env.step(a) for a in actions]


# --- dynamics -------------------------------------------------------------------------------


def test_classic_layout_attributes():
    env = GridWorldEnv()
    assert env.layout == ("...+", ".#.-", "S...")
    assert env.shape == (3, 4)
    assert env.start_state == START
    assert env.wall_states == frozenset({WALL})
    assert env.terminal_states == frozenset({GOAL, PIT})
    assert env.observation_space == gym.spaces.Discrete(12)
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.reset(seed=0) == (START, {"prob": 1.0})


def test_deterministic_moves_bumps_and_goal():
    env = GridWorldEnv()
    env.reset(seed=0)
    steps = rollout(env, [DOWN, LEFT, UP, RIGHT, UP, RIGHT, RIGHT, RIGHT])
    # Off-grid bumps, a move, a wall bump, then along the top row into the goal.
    assert [s[0] for s in steps] == [START, START, 4, 4, 0, 1, 2, GOAL]
    assert all(s[1] == pytest.approx(-0.04) and not s[2] for s in steps[:-1])
    assert steps[-1][1:4] == (1.0, True, False)
    assert all(s[3] is False and s[4] == {"prob": 1.0} for s in steps)


def test_pit_and_custom_rewards():
    env = GridWorldEnv(step_reward=-1.0, goal_reward=10.0, pit_reward=-5.0)
    env.reset(seed=0)
    steps = rollout(env, [RIGHT, UP, RIGHT, UP, RIGHT])  # (2,1); wall bump; (2,2); (1,2); pit
    assert [s[0] for s in steps] == [9, 9, 10, 6, PIT]
    assert [s[1] for s in steps] == [-1.0, -1.0, -1.0, -1.0, -5.0]
    assert [s[2] for s in steps] == [False, False, False, False, True]


def test_terminal_and_wall_entries_are_self_loops():
    env = GridWorldEnv(slip=0.2)
    for a in range(4):
        assert env.P[GOAL][a] == [(1.0, GOAL, 0.0, True)]
        assert env.P[PIT][a] == [(1.0, PIT, 0.0, True)]
        assert env.P[WALL][a] == [(1.0, WALL, 0.0, False)]


def test_time_limit_from_registration_spec():
    env = gym.make(SPEC)
    env.reset(seed=0)
    for t in range(1, 101):
        _, _, terminated, truncated, _ = env.step(DOWN)
        assert not terminated
        assert truncated == (t == 100)


def test_same_seed_same_trajectory():
    def trajectory(seed: int) -> list[int]:
        env = GridWorldEnv(slip=0.5)
        env.reset(seed=seed)
        return [env.step(UP)[0] for _ in range(30)]

    assert trajectory(3) == trajectory(3)


# --- slip -----------------------------------------------------------------------------------


def test_slip_probabilities():
    env = GridWorldEnv(slip=0.2)
    # From (1,2) going up: 0.8 up, 0.1 right into the pit, 0.1 left into the wall (stay).
    outcomes = {next_state: (prob, reward, term) for prob, next_state, reward, term in env.P[6][UP]}
    assert outcomes == {
        2: (pytest.approx(0.8), pytest.approx(-0.04), False),
        PIT: (pytest.approx(0.1), -1.0, True),
        6: (pytest.approx(0.1), pytest.approx(-0.04), False),
    }
    # From (1,0) going up: the wall (right) and the edge (left) both leave it in place: merged.
    outcomes = {next_state: prob for prob, next_state, *_ in env.P[4][UP]}
    assert outcomes == {0: pytest.approx(0.8), 4: pytest.approx(0.2)}


@pytest.mark.parametrize("slip", [0.0, 0.2, 0.7, 1.0])
def test_probabilities_sum_to_one(slip: float):
    env = GridWorldEnv(slip=slip)
    for s in env.P:
        for a in env.P[s]:
            next_states = [t[1] for t in env.P[s][a]]
            assert sum(t[0] for t in env.P[s][a]) == pytest.approx(1.0)
            assert len(next_states) == len(set(next_states))


def test_slip_empirical_frequencies():
    # Start in the open middle row so all three outcomes are distinct squares.
    env = GridWorldEnv(layout="...../..S../....+", slip=0.2)
    expected = {next_state: prob for prob, next_state, *_ in env.P[env.start_state][UP]}
    assert expected == {2: 0.8, 8: pytest.approx(0.1), 6: pytest.approx(0.1)}
    counts = dict.fromkeys(expected, 0)
    env.reset(seed=123)
    n = 20_000
    for _ in range(n):
        env.reset()
        obs, _, _, _, info = env.step(UP)
        counts[obs] += 1
        assert info["prob"] == pytest.approx(expected[obs])
    for next_state, prob in expected.items():
        assert counts[next_state] / n == pytest.approx(prob, abs=0.01)


# --- layouts and arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    ["S..+/.#.-", "\n    S..+\n    .#.-\n", " S..+ / .#.- ", ["S..+", ".#.-"], ("S..+", ".#.-")],
)
def test_custom_layouts(layout):
    env = GridWorldEnv(layout=layout)
    assert env.layout == ("S..+", ".#.-")
    assert env.shape == (2, 4)
    assert env.observation_space.n == 8
    assert env.start_state == 0
    assert env.wall_states == frozenset({5})
    assert env.terminal_states == frozenset({3, 7})


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("S..+/.#", "same length"),
        ("S..+/.x.-", "unknown character 'x'"),
        ("...+/.#.-", "exactly one start"),
        ("S.S+/.#.-", "exactly one start"),
        ("S.../.#..", "terminal"),
        (" / ", "empty"),
    ],
)
def test_bad_layouts_raise(layout: str, message: str):
    with pytest.raises(ValueError, match=message):
        GridWorldEnv(layout=layout)


@pytest.mark.parametrize(
    "kwargs", [{"slip": -0.1}, {"slip": 1.5}, {"render_mode": "human"}, {"render_mode": "rgb"}]
)
def test_bad_arguments_raise(kwargs: dict):
    with pytest.raises(ValueError):
        GridWorldEnv(**kwargs)


# --- rendering ------------------------------------------------------------------------------


def test_render_ansi():
    env = GridWorldEnv(render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "...+\n.#.-\nA...\n"
    env.step(UP)
    assert env.render().splitlines() == ["...+", "A#.-", "...."]


def test_render_rgb_array_agent_moves():
    env = GridWorldEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (3 * CELL_PX, 4 * CELL_PX, 3)
    assert frame.dtype == np.uint8

    def centre(row: int, col: int) -> tuple[int, int]:
        return row * CELL_PX + CELL_PX // 2, col * CELL_PX + CELL_PX // 2

    assert tuple(frame[centre(2, 0)]) == AGENT_COLOR
    env.step(UP)
    frame = env.render()
    assert tuple(frame[centre(2, 0)]) != AGENT_COLOR
    assert tuple(frame[centre(1, 0)]) == AGENT_COLOR
    # Goal, pit and wall are coloured differently from each other and from empty squares.
    colours = {tuple(frame[centre(*rc)]) for rc in [(0, 3), (1, 3), (1, 1), (0, 0)]}
    assert len(colours) == 4


def test_render_rgb_array_even_dimensions_for_odd_grid():
    env = GridWorldEnv(layout="S.+/.#./..-", render_mode="rgb_array")
    env.reset(seed=0)
    height, width, _ = env.render().shape
    assert (height, width) == (3 * CELL_PX, 3 * CELL_PX)
    assert height % 2 == 0 and width % 2 == 0


# --- env checkers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"layout": "S..+/.#.-", "slip": 0.3, "step_reward": -0.1},
        {"render_mode": "ansi"},
        {"render_mode": "rgb_array", "slip": 0.2},
    ],
)
def test_env_checkers_pass_without_warnings(kwargs: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(SPEC, disable_env_checker=True, **kwargs)
        gym_check_env(env.unwrapped, skip_render_check=False)
        sb3_check_env(env)


# --- solver ---------------------------------------------------------------------------------


def test_value_iteration_deterministic_classic():
    env = GridWorldEnv()
    solution = value_iteration(env, gamma=1.0)
    assert solution.values[START] == pytest.approx(4 * -0.04 + 1.0)
    np.testing.assert_allclose(solution.values, solution.q_values.max(axis=1))
    assert solution.values[[GOAL, PIT, WALL]].tolist() == [0.0, 0.0, 0.0]
    assert solution.policy[[GOAL, PIT, WALL]].tolist() == [-1, -1, -1]
    # Up and right tie at the start (both 5 moves); ties go to the lowest index.
    assert solution.q_values[START, UP] == pytest.approx(solution.q_values[START, RIGHT])
    assert solution.policy[START] == UP


@pytest.mark.parametrize(
    ("step_reward", "arrows"),
    [
        (-0.04, ["→→→+", "↑#↑-", "↑←←←"]),  # AIMA Fig 17.2(a)
        (-2.0, ["→→→+", "↑#→-", "→→→↑"]),  # AIMA Fig 17.2(b), R(s) < -1.6284
        (-0.3, ["→→→+", "↑#↑-", "↑→↑←"]),  # AIMA Fig 17.2(b), -0.4278 < R(s) < -0.0850
        (-0.01, ["→→→+", "↑#←-", "↑←←↓"]),  # AIMA Fig 17.2(b), -0.0221 < R(s) < 0
    ],
)
def test_value_iteration_textbook_policies(step_reward: float, arrows: list[str]):
    env = GridWorldEnv(slip=0.2, step_reward=step_reward)
    assert policy_arrows(env, value_iteration(env, gamma=1.0).policy) == arrows


def test_value_iteration_textbook_utilities():
    # AIMA Fig 17.3 (R(s) = -0.04, gamma = 1), keyed by the book's (x, y), (1, 1) bottom left.
    utilities = {
        (1, 3): 0.812, (2, 3): 0.868, (3, 3): 0.918,
        (1, 2): 0.762, (3, 2): 0.660,
        (1, 1): 0.705, (2, 1): 0.655, (3, 1): 0.611, (4, 1): 0.388,
    }  # fmt: skip
    env = GridWorldEnv(slip=0.2, step_reward=-0.04)
    values = value_iteration(env, gamma=1.0).values
    for (x, y), utility in utilities.items():
        state = (3 - y) * 4 + (x - 1)
        # Our reward arrives on entering a square, so V(s) = U(s) - R(s) off the terminals.
        assert values[state] == pytest.approx(utility + 0.04, abs=1e-3), (x, y)


def test_value_iteration_frozen_lake():
    env = gym.make("FrozenLake-v1", is_slippery=False)
    solution = value_iteration(env, gamma=0.9)
    # The shortest path to the goal takes 6 steps and only the last is rewarded (+1).
    assert solution.values[0] == pytest.approx(0.9**5, abs=1e-12)
    arrows = policy_arrows(env, solution.policy)
    assert arrows[1][1] == "H" and arrows[3][3] == "G"


def test_value_iteration_cliff_walking():
    env = gym.make("CliffWalking-v1")
    solution = value_iteration(env, gamma=1.0)
    assert solution.values[36] == pytest.approx(-13.0)  # up, 11 x right, down
    assert solution.policy[36] == UP


def test_value_iteration_raises_when_not_converging():
    env = GridWorldEnv(layout="S#+")  # the start can never reach a terminal square
    with pytest.raises(ValueError, match="gamma < 1"):
        value_iteration(env, gamma=1.0, max_iterations=1_000)
    assert value_iteration(env, gamma=0.9).values[0] == pytest.approx(-0.04 / 0.1)


@pytest.mark.parametrize("gamma", [0.0, -0.5, 1.5])
def test_value_iteration_rejects_bad_gamma(gamma: float):
    with pytest.raises(ValueError, match="gamma"):
        value_iteration(GridWorldEnv(), gamma=gamma)
