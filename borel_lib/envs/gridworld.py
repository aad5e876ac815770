"""Gridworld 5x5 (paper §6 domain 1; VariBAD's grid, authors' ``GridNavi-v2``).

All numbers are the authors' (see ``docs/differences.md``): a 5x5 grid, observation the
integer cell (x, y); actions 0 noop, 1 up (y+1), 2 right (x+1), 3 down (y-1), 4 left (x-1), clipped to
the grid; the goal is one of the 21 cells outside the 2x2 corner at (0, 0); reward on the *next* state,
+1 on the goal and -0.1 elsewhere; H = 15, k = 4 episodes per trial, and the paper's metric averages the
first 4 episodes. Initial states: ``fixed`` at (0, 0) (evaluation, and the default here) or ``uniform``
over the 25 cells except the goal (the authors' data-collection setting). There is no termination.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from borel_lib.envs.base import StateTaskEnv, check_init_state

MOVES = np.array([[0, 0], [0, 1], [1, 0], [0, -1], [-1, 0]], dtype=np.float32)
"""(dx, dy) of noop, up, right, down, left."""


class GridworldEnv(StateTaskEnv):
    """One episode of the 5x5 Gridworld with a goal cell as the task (see module docstring)."""

    horizon = 15
    episodes_per_trial = 4
    eval_episodes = 4
    task_dim = 2
    init_state_options = ("fixed", "uniform")
    varies = "reward"
    goal_reward = 1.0
    step_reward = -0.1

    def __init__(self, size: int = 5, init_state: str = "fixed", task: Any = None, render_mode: str | None = None):
        if isinstance(size, bool) or not isinstance(size, int) or size < 3:
            raise ValueError(f"GridworldEnv: size must be an integer >= 3; got {size!r}")
        self.size = size
        self.init_state = check_init_state("GridworldEnv", init_state, self.init_state_options)
        self.observation_space = spaces.Box(0.0, float(size - 1), shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(5)
        self.render_mode = render_mode
        self._state = np.zeros(2, dtype=np.float32)
        if task is not None:
            self.set_task(task)

    # ------------------------------------------------------------------------------- tasks
    def candidate_goals(self) -> np.ndarray:
        """The 21 possible goals (x, y), ordered by x then y (cells outside the 2x2 start corner)."""
        return np.array([(x, y) for x in range(self.size) for y in range(self.size) if not (x < 2 and y < 2)],
                        dtype=np.float64)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        goals = self.candidate_goals()
        return goals[rng.integers(0, len(goals), size=int(n))]

    def training_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` *distinct* goals when ``n <= 21`` (a random subset, in random order; ``n = 21`` is every
        candidate goal once); for larger ``n`` every goal appears ``n // 21`` or ``n // 21 + 1`` times.

        The authors drew each collection task with replacement (one seed per task), so their 21 tasks
        held only about 13 distinct goals while evaluation used all 21; a goal that is never a training
        task has no data, its prior mass in the learned belief is near zero, and the exact references
        (uniform prior over 21 cells) no longer describe the data."""
        goals = self.candidate_goals()
        n = int(n)
        reps = -(-n // len(goals))
        order = np.concatenate([rng.permutation(len(goals)) for _ in range(max(reps, 1))])[:n]
        return goals[order]

    def set_task(self, task: Any) -> None:
        super().set_task(task)
        if not any(np.array_equal(self._task, g) for g in self.candidate_goals()):
            bad, self._task = self._task, None
            raise ValueError(f"GridworldEnv.set_task: goal {bad.tolist()} is not one of the 21 candidate cells")

    # ------------------------------------------------------------------------ pure functions
    def transition(self, obs: np.ndarray, action: np.ndarray, task: np.ndarray | None = None) -> np.ndarray:
        """Deterministic moves clipped to the grid, vectorised over leading dimensions."""
        a = np.asarray(action).astype(np.int64).reshape(np.shape(obs)[:-1])
        return np.clip(np.asarray(obs, dtype=np.float32) + MOVES[a], 0, self.size - 1).astype(np.float32)

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        """+1 if the next cell is the goal, else -0.1 (authors' ``GridNavi-v2``)."""
        on_goal = np.all(np.asarray(next_obs) == np.asarray(task), axis=-1)
        return np.where(on_goal, self.goal_reward, self.step_reward)

    def is_success(self, next_obs, task) -> np.ndarray:
        return np.all(np.asarray(next_obs) == np.asarray(task), axis=-1)

    def sample_init_state(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        """A start cell: (0, 0) for ``fixed``; uniform over cells other than the goal for ``uniform``."""
        if self.init_state == "fixed":
            return np.zeros(2, dtype=np.float32)
        cells = np.array([(x, y) for x in range(self.size) for y in range(self.size)], dtype=np.float32)
        cells = cells[~np.all(cells == np.asarray(task, dtype=np.float32), axis=1)]
        return cells[rng.integers(0, len(cells))].copy()

    # -------------------------------------------------------------------------------- gym API
    def step(self, action):
        if not self.action_space.contains(np.int64(action) if np.ndim(action) == 0 else action):
            raise ValueError(f"GridworldEnv.step: action must be an integer in [0, 5); got {action!r}")
        prev = self._state
        self._state = self.transition(prev, np.asarray(action))
        r = float(self.reward(prev, action, self._state, self._task))
        return self._state.copy(), r, False, False, {"success": bool(self.is_success(self._state, self._task))}
