"""The 2-D point-robot family: Semi-circle, Wind and Escape-Room (paper §6 domains 2, 6, 7).

Shared by all three: the state is the position (x, y) on the plane; the policy's action is in
``[-1, 1]^2`` (clipped) and the physical step is ``0.1 * a``, i.e. the authors' action box
``[-0.1, 0.1]^2`` with their wrapper's rescaling built in, so datasets store the policy's action.
Everything is float32, and ``step`` calls the same pure vectorised ``transition`` and ``reward`` that
relabelling and the batched envs use, so they agree bit for bit.

- **Semi-circle** (rewards vary, sparse): the authors' ``PointRobotSparse-v0``. Goal at angle
  θ ~ U[0, π] on the unit upper semicircle; reward 1 if ‖s' − g‖ ≤ 0.2 else 0 (the value ``step``
  returns; the authors' relabelling function returned −distance instead, a bug not copied); H = 60,
  k = 2. Initial states: ``fixed`` (origin; evaluation and our default — the authors' evaluation
  accidentally started uniformly in the rectangle, ``docs/differences.md``), ``uniform`` over x ∈ [−1.5, 1.5],
  y ∈ [−0.5, 1.5] (the authors' collection setting), ``exclude_semicircle`` (the same rectangle with
  the annulus 0.8 ≤ ‖s‖ ≤ 1.2 rejection-resampled).
- **Wind** (transitions vary, dense differences; *our* definition, since the paper gives one sentence
  and defers to an appendix we do not have; values from a later public benchmark, not confirmed to be
  the paper's): task = wind w ~ U[−0.08, 0.08]²; s' = s + 0.1a + w; fixed goal (0, 1), reward 1 if
  ‖s' − g‖ ≤ 0.03; H = 75, k = 2, metric on episode 1 only; start at the origin. ``reward_mode="dense"``
  (data collection only, as Ant's) adds the shaping term −‖s' − g‖. Collection may start ``uniform`` over the band
  [−0.25, 0.25] × [−0.2, 1.2] from the origin to the goal (*our* choice; see :class:`WindEnv`).
- **Escape-Room** (transitions vary, sparse differences; *our* numbers): a circular wall of radius 1
  around the origin with one opening, an arc of width π/8 centred at θ ~ U[0, π]. A step whose segment
  crosses the wall outside the opening is stopped at the wall: moving out, s' is projected back to
  radius 1 − 1e-3 along its own direction; moving in from outside, to radius 1 + 1e-3 (the wall blocks
  from both sides); a step that would cut through the wall twice (both ends outside, segment dipping
  inside) is blocked and the robot stays. Reward (task-independent) 1 for every step with ‖s'‖ ≥ 1.2;
  H = 60, k = 2; start at the origin. Collection may start ``uniform`` over the room's disc (*our*
  choice; see :class:`EscapeRoomEnv`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from borel_lib.envs.base import StateTaskEnv, check_init_state, check_reward_mode

STEP_SCALE = np.float32(0.1)
"""Physical step per unit action (the authors' action box is [-0.1, 0.1]^2)."""

START_RECTANGLE = ((-1.5, 1.5), (-0.5, 1.5))
"""x and y ranges of the ``uniform`` start states of Semi-circle and Ant-Semi-circle (authors')."""
START_ANNULUS = (0.8, 1.2)
"""Radii of the annulus ``exclude_semicircle`` rejects: the semicircle ± the goal radius (authors')."""


SEMICIRCLE_RADIUS = 1.0
"""Radius of the goals' semicircle around the origin (the fixed start) in Semi-circle and Ant-Semi-circle."""


def semicircle_goals(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` goals at angles θ ~ U[0, π] on the unit upper semicircle, shape ``(n, 2)``."""
    theta = rng.uniform(0.0, np.pi, size=int(n))
    return SEMICIRCLE_RADIUS * np.stack([np.cos(theta), np.sin(theta)], axis=-1)


def semicircle_start(rng: np.random.Generator, init_state: str) -> np.ndarray:
    """A start position (float64) for ``fixed`` (the origin), ``uniform`` (the rectangle) or
    ``exclude_semicircle`` (the rectangle minus the annulus, by rejection)."""
    if init_state == "fixed":
        return np.zeros(2)
    (x0, x1), (y0, y1) = START_RECTANGLE
    while True:
        s = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        if init_state == "uniform" or not (START_ANNULUS[0] <= np.linalg.norm(s) <= START_ANNULUS[1]):
            return s


class SemiCircleTask:
    """The Semi-circle task family, declared once for :class:`SemiCircleEnv` and
    :class:`~borel_lib.envs.ant.AntSemiCircleEnv` (paper §6 domains 2 and 3): a goal at angle θ ~ U[0, π] on
    the unit upper semicircle, reached within :attr:`goal_radius`; k = 2 episodes, both scored; initial states
    ``fixed`` (the origin), ``uniform`` (:data:`START_RECTANGLE`) or ``exclude_semicircle`` (the rectangle minus
    :attr:`annulus`, :func:`semicircle_start`). A mixin listed first among an env's bases, so that these values
    override :class:`~borel_lib.envs.base.TaskEnv`'s defaults; each env keeps its own horizon, rewards and
    success test."""

    episodes_per_trial = 2
    eval_episodes = 2
    task_dim = 2
    init_state_options = ("fixed", "uniform", "exclude_semicircle")
    varies = "reward"
    goal_radius = 0.2
    annulus = START_ANNULUS

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return semicircle_goals(n, rng)


class PointRobotEnv(StateTaskEnv):
    """Base of the point-robot family: float32 position, action in [-1, 1]^2 scaled by 0.1."""

    def __init__(self, init_state: str = "fixed", task: Any = None, render_mode: str | None = None):
        self.init_state = check_init_state(type(self).__name__, init_state, self.init_state_options)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.render_mode = render_mode
        self._state = np.zeros(2, dtype=np.float32)
        if task is not None:
            self.set_task(task)

    # ------------------------------------------------------------------------ pure functions
    def transition(self, obs: np.ndarray, action: np.ndarray, task: np.ndarray) -> np.ndarray:
        """s' = s + 0.1 * clip(a, -1, 1), vectorised over leading dimensions."""
        a = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        return (np.asarray(obs, dtype=np.float32) + STEP_SCALE * a).astype(np.float32)

    def sample_init_state(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        """The start state: the origin unless a domain supports other options."""
        return np.zeros(2, dtype=np.float32)

    # -------------------------------------------------------------------------------- gym API
    def step(self, action):
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (2,) or not np.all(np.isfinite(a)):
            raise ValueError(f"{type(self).__name__}.step: action must be 2 finite numbers; got {action!r}")
        prev = self._state
        self._state = self.transition(prev, a, self._task)
        r = float(self.reward(prev, a, self._state, self._task))
        return self._state.copy(), r, False, False, {"success": bool(self.is_success(self._state, self._task))}


class SemiCircleEnv(SemiCircleTask, PointRobotEnv):
    """Semi-circle: find a sparse goal somewhere on the unit upper semicircle (see module docstring)."""

    horizon = 60

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        """1 if ‖s' − g‖ ≤ 0.2 else 0 (post-step position)."""
        return self.is_success(next_obs, task).astype(np.float32)

    def is_success(self, next_obs, task) -> np.ndarray:
        d = np.asarray(next_obs, dtype=np.float32) - np.asarray(task, dtype=np.float32)
        return np.sqrt(np.sum(d * d, axis=-1)) <= np.float32(self.goal_radius)

    def sample_init_state(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        return semicircle_start(rng, self.init_state).astype(np.float32)


class WindEnv(PointRobotEnv):
    """Wind: reach a fixed goal under an unknown constant wind (our definition; module docstring).

    Initial states: ``fixed`` (the origin; evaluation and the default) or ``uniform`` over the band
    ``[-0.25, 0.25] x [-0.2, 1.2]`` around the segment from the origin to the goal (data collection,
    the paper's "uniform over a large region" of §6, whose region for Wind is not given). The band is
    our choice, by measurement: the goal disc (radius 0.03) is tiny, and with random actions only 13%
    of tasks ever reach it in 20 warm-up trials from the square ``[-0.4, 0.4]^2`` (a first quick
    collection learnt nothing in 5 iterations), against 81% in 50 warm-up trials from the band. Every
    start can still reach the goal within H in the worst wind: the action box beats the strongest wind
    component (0.08) by 0.02 per step, and the farthest start is 1.2 / 0.02 = 60 < 75 steps away.
    Wherever the data starts, every Wind transition reveals the wind (§4), so the band does not
    change the identifiability question.
    """

    horizon = 75
    episodes_per_trial = 2
    eval_episodes = 1
    task_dim = 2
    init_state_options = ("fixed", "uniform")
    start_box = ((-0.25, 0.25), (-0.2, 1.2))
    varies = "transition"
    goal = np.array([0.0, 1.0], dtype=np.float32)
    goal_radius = 0.03
    max_wind = 0.08

    def __init__(self, reward_mode: str = "sparse", init_state: str = "fixed", task: Any = None,
                 render_mode: str | None = None):
        self.reward_mode = check_reward_mode("WindEnv", reward_mode)
        super().__init__(init_state=init_state, task=task, render_mode=render_mode)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.max_wind, self.max_wind, size=(int(n), 2))

    def sample_init_state(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        """The origin (``fixed``) or a uniform point of the band :attr:`start_box` (``uniform``)."""
        if self.init_state == "fixed":
            return np.zeros(2, dtype=np.float32)
        (x0, x1), (y0, y1) = self.start_box
        return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)], dtype=np.float32)

    def transition(self, obs, action, task) -> np.ndarray:
        """s' = s + 0.1 * clip(a) + w."""
        return (super().transition(obs, action, task) + np.asarray(task, dtype=np.float32)).astype(np.float32)

    @classmethod
    def sparse_reward(cls, obs, action, next_obs, task) -> np.ndarray:
        """1 if ‖s' − (0, 1)‖ ≤ 0.03 else 0 (task-independent)

        The evaluation reward, stored in every Wind dataset."""
        return cls.is_success(next_obs, task).astype(np.float32)

    @classmethod
    def dense_reward(cls, obs, action, next_obs, task) -> np.ndarray:
        """1[‖s' − (0, 1)‖ ≤ 0.03] − ‖s' − (0, 1)‖ (data collection only)

        The sparse reward plus a distance shaping term. The goal is the same for every task, so this
        reward carries no information about the wind that the transitions do not. Measured on the quick
        protocol: the distance term alone (−‖s' − g‖) taught 28 of 40 agents to reach the goal disc (0.74
        success over iterations 50-59); the agents of strong winds hovered 0.05-0.1 from the goal, where
        −‖s' − g‖ barely differs from its value inside the 0.03 disc. The sparse term rewards the disc."""
        dist = cls.goal_distance(next_obs)
        return (dist <= np.float32(cls.goal_radius)).astype(np.float32) - dist

    @staticmethod
    def ctrl_reward(action: np.ndarray) -> np.ndarray:
        """Wind's rewards have no control cost: zeros (the ``reward_ctrl`` term of a dense collection)."""
        return np.zeros(np.shape(action)[:-1], dtype=np.float32)

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        """The sparse reward, or the dense one with ``reward_mode="dense"``."""
        fn = self.sparse_reward if self.reward_mode == "sparse" else self.dense_reward
        return fn(obs, action, next_obs, task)

    @classmethod
    def goal_distance(cls, next_obs) -> np.ndarray:
        """‖s' − (0, 1)‖ in float32."""
        d = np.asarray(next_obs, dtype=np.float32) - cls.goal
        return np.sqrt(np.sum(d * d, axis=-1))

    @classmethod
    def is_success(cls, next_obs, task) -> np.ndarray:
        return cls.goal_distance(next_obs) <= np.float32(cls.goal_radius)


class EscapeRoomEnv(PointRobotEnv):
    """Escape-Room: leave a circular room whose only opening is somewhere on the upper half (ours).

    Initial states: ``fixed`` (the origin; evaluation and the default) or ``uniform`` over the room,
    the open disc of radius 1 (data collection, the paper's "uniform over a large region" of §6, whose
    region for Escape-Room is not given). The room is our choice: a start outside it would already be
    escaped (nothing to learn), and from any point inside a collector that knows its opening still
    walks straight to it without touching the wall elsewhere, so the ambiguity §4 predicts remains.
    """

    horizon = 60
    episodes_per_trial = 2
    eval_episodes = 2
    task_dim = 1
    init_state_options = ("fixed", "uniform")
    varies = "transition"
    wall_radius = 1.0
    opening_width = np.pi / 8
    escape_radius = 1.2
    margin = 1e-3

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, np.pi, size=(int(n), 1))

    def sample_init_state(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        """The origin (``fixed``) or a point drawn uniformly (by area) from the room (``uniform``)."""
        if self.init_state == "fixed":
            return np.zeros(2, dtype=np.float32)
        r = (self.wall_radius - self.margin) * np.sqrt(rng.uniform())
        phi = rng.uniform(-np.pi, np.pi)
        return np.array([r * np.cos(phi), r * np.sin(phi)], dtype=np.float32)

    def in_opening(self, angle: np.ndarray, task: np.ndarray) -> np.ndarray:
        """Whether points at polar ``angle`` lie in the opening of ``task`` (angle θ, width π/8)."""
        theta = np.asarray(task, dtype=np.float64)[..., 0]
        diff = np.angle(np.exp(1j * (np.asarray(angle, dtype=np.float64) - theta)))
        return np.abs(diff) <= self.opening_width / 2

    def wall_contact(self, obs, action) -> np.ndarray:
        """Whether the free motion s + 0.1a meets the wall (moving out, moving in, or cutting through it):
        the only steps whose outcome depends on the opening, i.e. the identifying transitions (§4)."""
        s = np.asarray(obs, dtype=np.float32)
        p = PointRobotEnv.transition(self, obs, action, None)
        out_move, in_move, through = self._wall_crossings(s.astype(np.float64), p.astype(np.float64))[:3]
        return out_move | in_move | through

    def _wall_crossings(self, s64: np.ndarray, p64: np.ndarray):
        """Geometry of the segment s -> p against the wall circle: the masks ``out_move``, ``in_move``,
        ``through`` and the segment parameters ``lam_lo``, ``lam_hi`` of its two crossings."""
        R = self.wall_radius
        rs, rp = np.linalg.norm(s64, axis=-1), np.linalg.norm(p64, axis=-1)
        d = p64 - s64
        # roots of |s + lam d|^2 = R^2
        a = np.sum(d * d, axis=-1)
        b = 2 * np.sum(s64 * d, axis=-1)
        c = rs**2 - R**2
        disc = np.maximum(b * b - 4 * a * c, 0.0)
        safe_a = np.where(a > 0, a, 1.0)
        lam_hi = (-b + np.sqrt(disc)) / (2 * safe_a)
        lam_lo = (-b - np.sqrt(disc)) / (2 * safe_a)
        out_move = (rs < R) & (rp >= R)
        in_move = (rs >= R) & (rp < R)
        # closest approach for outside->outside steps that may cut through the disc
        lam_star = np.clip(-np.sum(s64 * d, axis=-1) / safe_a, 0.0, 1.0)
        closest = np.linalg.norm(s64 + lam_star[..., None] * d, axis=-1)
        through = (rs >= R) & (rp >= R) & (closest < R) & (a > 0)
        return out_move, in_move, through, lam_lo, lam_hi

    def transition(self, obs, action, task) -> np.ndarray:
        """Free motion, stopped at the wall outside the opening (module docstring)."""
        s = np.asarray(obs, dtype=np.float32)
        p = super().transition(obs, action, task)
        s64, p64 = s.astype(np.float64), p.astype(np.float64)
        R = self.wall_radius
        rp = np.linalg.norm(p64, axis=-1)
        d = p64 - s64
        out_move, in_move, through, lam_lo, lam_hi = self._wall_crossings(s64, p64)
        lam = np.where(out_move, lam_hi, lam_lo)
        cross = s64 + lam[..., None] * d
        ok = self.in_opening(np.arctan2(cross[..., 1], cross[..., 0]), task)
        cross_hi = s64 + lam_hi[..., None] * d
        ok_through = ok & self.in_opening(np.arctan2(cross_hi[..., 1], cross_hi[..., 0]), task)
        unit = p64 / np.maximum(rp, 1e-12)[..., None]
        result = p64.copy()
        result = np.where((out_move & ~ok)[..., None], (R - self.margin) * unit, result)
        result = np.where((in_move & ~ok)[..., None], (R + self.margin) * unit, result)
        result = np.where((through & ~ok_through)[..., None], s64, result)
        return result.astype(np.float32)

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        """1 for a step ending at ‖s'‖ ≥ 1.2 (escaped), else 0 (task-independent)."""
        return self.is_success(next_obs, task).astype(np.float32)

    def is_success(self, next_obs, task) -> np.ndarray:
        s = np.asarray(next_obs, dtype=np.float32)
        return np.sqrt(np.sum(s * s, axis=-1)) >= np.float32(self.escape_radius)
