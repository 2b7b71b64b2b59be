"""The 4x3 gridworld of Russell & Norvig (AIMA ch. 17), with ASCII layouts and optional slip."""

import re
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
# (d_row, d_col) per action; row 0 is the top row of the ASCII map.
MOVES = {UP: (-1, 0), RIGHT: (0, 1), DOWN: (1, 0), LEFT: (0, -1)}

CLASSIC_LAYOUT = ("...+", ".#.-", "S...")
LAYOUT_CHARS = ".#S+-"

CELL_PX = 64
COLORS = {
    ".": (235, 235, 235),
    "S": (250, 240, 190),  # a faint tint so the start square is visible without the agent
    "#": (80, 80, 80),
    "+": (40, 170, 70),
    "-": (200, 50, 50),
}
GRID_COLOR = (30, 30, 30)
AGENT_COLOR = (40, 90, 220)


def parse_layout(layout: str | Sequence[str] | None) -> tuple[str, ...]:
    """Parse an ASCII map into equal-length rows, raising ValueError naming what is wrong.

    A string may separate rows by newlines or by ``/`` (so it fits on a command line); a
    sequence gives one row per item. Whitespace around rows is stripped and blank rows dropped.
    """
    if layout is None:
        return CLASSIC_LAYOUT
    if isinstance(layout, str):
        raw_rows: Sequence[str] = re.split(r"[\n/]", layout)
    elif isinstance(layout, Sequence) and all(isinstance(row, str) for row in layout):
        raw_rows = layout
    else:
        raise TypeError(f"layout must be a string or a sequence of row strings, got {layout!r}")
    rows = tuple(row.strip() for row in raw_rows if row.strip())
    if not rows:
        raise ValueError("layout is empty")
    lengths = [len(row) for row in rows]
    if len(set(lengths)) != 1:
        raise ValueError(f"layout rows must all have the same length, got lengths {lengths}")
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            if char not in LAYOUT_CHARS:
                raise ValueError(
                    f"layout has unknown character {char!r} at row {r}, column {c}; "
                    f"allowed characters are {', '.join(repr(ch) for ch in LAYOUT_CHARS)}"
                )
    n_starts = sum(row.count("S") for row in rows)
    if n_starts != 1:
        raise ValueError(f"layout needs exactly one start square 'S', found {n_starts}")
    if not any("+" in row or "-" in row for row in rows):
        raise ValueError("layout needs at least one terminal square ('+' or '-')")
    return rows


class GridWorldEnv(gym.Env):
    """
    The 4x3 gridworld of Russell & Norvig's AIMA (ch. 17) and the Berkeley CS188 lectures.

    ## Description
    The agent walks on a grid drawn in ASCII, by default (top row first):

    ```
    ...+
    .#.-
    S...
    ```

    `.` is an empty square, `#` a wall, `S` the start, `+` a terminal square worth
    `goal_reward` and `-` a terminal square worth `pit_reward`. Moving into a wall or off
    the grid leaves the agent where it is. With `slip > 0` the agent moves perpendicular to
    the intended direction with total probability `slip`, split equally between the two
    perpendicular directions (`slip=0.2` is the textbook's 0.8/0.1/0.1 model).

    The full transition model is exposed Gymnasium toy_text style as `P[state][action]`, a
    list of `(probability, next_state, reward, terminated)` with identical outcomes merged,
    so exact solvers (`advrl.envs.solver.value_iteration`) give ground truth for learners.
    Terminal squares are absorbing (self-loop with probability 1, reward 0, terminated);
    walls, which the agent can never occupy, are inert self-loops (reward 0, not terminated).

    ## Action Space
    `Discrete(4)`, in Gymnasium CliffWalking's order:

    - 0: Move up
    - 1: Move right
    - 2: Move down
    - 3: Move left

    ## Observation Space
    `Discrete(rows * cols)`: the agent's square as `row * cols + col`, with row 0 the top row
    of the ASCII map (the default start is `2 * 4 + 0 = 8`). Wall squares are part of the
    space but never observed. Observations are returned as Python `int`s.

    ## Starting State
    The episode starts on the `S` square (`start_state`).

    ## Reward
    Entering a terminal square gives its value (`goal_reward` or `pit_reward`); every other
    transition gives `step_reward`. AIMA instead puts a reward `R(s)` on states; with
    `R = step_reward` its utilities and our values are related by
    `V(s) = (U(s) - R) / gamma` on non-terminal squares, so the optimal policies are the
    textbook's. With the classic deterministic map and `step_reward=-0.04` the optimal return
    from the start is `4 * -0.04 + 1 = 0.84`.

    ## Episode End
    The episode terminates when the agent enters a terminal square. The env has no time limit
    of its own; the registered `GridWorld-v0` truncates after 100 steps.

    ## Information
    `reset()` and `step()` return `{"prob": p}`, the probability of the sampled transition
    (1.0 for `reset()`).

    ## Arguments
    ```python
    import gymnasium as gym
    import advrl

    gym.make("GridWorld-v0", slip=0.2, step_reward=-0.04)
    gym.make("GridWorld-v0", layout="S..+/.#.-")  # rows separated by "/" or newlines
    ```

    - `render_mode`: `None`, `"ansi"` (a text grid, `A` marks the agent) or `"rgb_array"`
      (a uint8 image with 64-pixel cells).
    - `layout`: the ASCII map as one string with rows separated by newlines or `/`; from
      Python a list or tuple of row strings also works. `None` is the classic 4x3 map.
    - `step_reward`: reward for every transition that does not enter a terminal square.
    - `slip`: total probability in [0, 1] of moving perpendicular to the intended direction.
    - `goal_reward`: value of `+` squares.
    - `pit_reward`: value of `-` squares.

    ## Version History
    - v0: Initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        layout: str | None = None,
        step_reward: float = -0.04,
        slip: float = 0.0,
        goal_reward: float = 1.0,
        pit_reward: float = -1.0,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be in [0, 1], got {slip}")
        self.render_mode = render_mode
        self.layout = parse_layout(layout)
        self.shape = (len(self.layout), len(self.layout[0]))
        self.step_reward = float(step_reward)
        self.slip = float(slip)
        self.goal_reward = float(goal_reward)
        self.pit_reward = float(pit_reward)

        n_rows, n_cols = self.shape
        cells = [(r, c, char) for r, row in enumerate(self.layout) for c, char in enumerate(row)]
        self.start_state = next(r * n_cols + c for r, c, char in cells if char == "S")
        self.wall_states = frozenset(r * n_cols + c for r, c, char in cells if char == "#")
        self._terminal_reward = {
            r * n_cols + c: self.goal_reward if char == "+" else self.pit_reward
            for r, c, char in cells
            if char in "+-"
        }
        self.terminal_states = frozenset(self._terminal_reward)

        self.observation_space = spaces.Discrete(n_rows * n_cols)
        self.action_space = spaces.Discrete(len(MOVES))
        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {
            s: {a: self._transitions(s, a) for a in MOVES} for s in range(n_rows * n_cols)
        }

        self._state = self.start_state
        self._background = self._draw_background()

    def _move(self, state: int, action: int) -> int:
        """The square reached by a deterministic move; walls and edges block it."""
        n_rows, n_cols = self.shape
        d_row, d_col = MOVES[action]
        row, col = divmod(state, n_cols)
        row, col = row + d_row, col + d_col
        if not (0 <= row < n_rows and 0 <= col < n_cols):
            return state
        target = row * n_cols + col
        return state if target in self.wall_states else target

    def _transitions(self, state: int, action: int) -> list[tuple[float, int, float, bool]]:
        """Outcomes of taking `action` in `state`, identical next states merged."""
        if state in self.terminal_states:
            return [(1.0, state, 0.0, True)]
        if state in self.wall_states:
            return [(1.0, state, 0.0, False)]
        intended_and_slips = [
            (action, 1.0 - self.slip),
            ((action + 1) % 4, self.slip / 2),
            ((action + 3) % 4, self.slip / 2),
        ]
        merged: dict[int, float] = {}
        for direction, prob in intended_and_slips:
            if prob > 0.0:
                next_state = self._move(state, direction)
                merged[next_state] = merged.get(next_state, 0.0) + prob
        return [
            (
                prob,
                next_state,
                self._terminal_reward.get(next_state, self.step_reward),
                next_state in self.terminal_states,
            )
            for next_state, prob in merged.items()
        ]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self._state = self.start_state
        return int(self._state), {"prob": 1.0}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        outcomes = self.P[self._state][int(action)]
        cumulative = np.cumsum([prob for prob, *_ in outcomes])
        # min() guards against the cumulative sum rounding to just below 1.
        index = min(
            int(np.searchsorted(cumulative, self.np_random.random(), side="right")),
            len(outcomes) - 1,
        )
        prob, next_state, reward, terminated = outcomes[index]
        self._state = next_state
        return int(next_state), float(reward), bool(terminated), False, {"prob": float(prob)}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                "You are calling render method without specifying any render mode. "
                'Pass render_mode="ansi" or "rgb_array" when creating the env.'
            )
            return None
        if self.render_mode == "ansi":
            return self._render_text()
        return self._render_rgb()

    def _render_text(self) -> str:
        n_cols = self.shape[1]
        lines = []
        for r, row in enumerate(self.layout):
            chars = ["A" if r * n_cols + c == self._state else char for c, char in enumerate(row)]
            lines.append("".join(chars).replace("S", "."))
        return "\n".join(lines) + "\n"

    def _draw_background(self) -> np.ndarray:
        """The static part of the rgb frame: coloured squares and grid lines."""
        n_rows, n_cols = self.shape
        image = np.zeros((n_rows * CELL_PX, n_cols * CELL_PX, 3), dtype=np.uint8)  # (H, W, 3)
        for r, row in enumerate(self.layout):
            for c, char in enumerate(row):
                image[r * CELL_PX : (r + 1) * CELL_PX, c * CELL_PX : (c + 1) * CELL_PX] = COLORS[
                    char
                ]
        # One pixel on each side of every cell edge: 2-pixel lines inside, 1 on the border.
        for start in (0, CELL_PX - 1):
            image[start::CELL_PX, :] = GRID_COLOR
            image[:, start::CELL_PX] = GRID_COLOR
        return image

    def _render_rgb(self) -> np.ndarray:
        frame = self._background.copy()
        row, col = divmod(self._state, self.shape[1])
        yy, xx = np.mgrid[0:CELL_PX, 0:CELL_PX]
        centre = (CELL_PX - 1) / 2
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= (0.3 * CELL_PX) ** 2
        cell = frame[row * CELL_PX : (row + 1) * CELL_PX, col * CELL_PX : (col + 1) * CELL_PX]
        cell[disc] = AGENT_COLOR
        return frame
