"""Ant-Semi-circle (paper §6 domain 3; the authors' ``AntSemiCircle[Sparse]-v0``).

Gymnasium's v5 Ant model (``ant.xml``: motor gear 150 and ctrlrange [-1, 1] as in the authors'
model), frame_skip 5 (dt 0.05), H = 200, k = 2. Observation = the full qpos (15: torso x, y, z,
quaternion, 8 joint angles) + qvel (14) = 29, so the torso x, y (``obs[..., :2]``) are exposed and no
contact forces are included (v5's default 105-d observation has them; the paper's Ant does not).
The robot never terminates (the authors' env returns done=False). Task = goal at angle θ ~ U[0, π] on
the unit upper semicircle.

Rewards, both pure and vectorised, always on the *post-step* torso position and the task's *own*
goal (the authors' sparse relabel used the pre-step position and a random goal — not copied):

- ``sparse`` (evaluation; the default): 1[‖xy(s') − g‖₂ ≤ 0.2] − 0.1‖a‖²;
- ``dense`` (data collection, relabelled to sparse afterwards): −‖xy(s') − g‖₁ − 0.1‖a‖².

``info`` carries the components ``reward_goal`` and ``reward_ctrl`` of the active mode.
Initial states (authors' §2.4): ``fixed`` (origin; evaluation and our default), ``uniform`` (torso
x, y uniform in [−1.5, 1.5] × [−0.5, 1.5]), ``exclude_semicircle`` (the same, rejection-resampling the
annulus 0.8 ≤ ‖xy‖ ≤ 1.2); the rest of the pose and the velocities are the model defaults, no noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from borel_lib.envs._mujoco import MujocoTaskEnv
from borel_lib.envs.base import REWARD_MODES, check_reward_mode
from borel_lib.envs.point_robot import SemiCircleTask, semicircle_start

__all__ = ["REWARD_MODES", "AntSemiCircleEnv"]


class AntSemiCircleEnv(SemiCircleTask, MujocoTaskEnv):
    """Ant that must find a sparse goal on the semicircle (see module docstring; the task family is
    :class:`~borel_lib.envs.point_robot.SemiCircleTask`)."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 20}
    horizon = 200
    ctrl_cost_weight = 0.1

    def __init__(self, reward_mode: str = "sparse", init_state: str = "fixed", task: Any = None,
                 render_mode: str | None = None):
        self.reward_mode = check_reward_mode("AntSemiCircleEnv", reward_mode)
        obs_space = spaces.Box(-np.inf, np.inf, shape=(29,), dtype=np.float64)
        super().__init__("ant.xml", 5, obs_space, init_state, task, render_mode)

    # ------------------------------------------------------------------------ pure functions
    @classmethod
    def ctrl_reward(cls, action: np.ndarray) -> np.ndarray:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return -cls.ctrl_cost_weight * np.sum(a * a, axis=-1)

    @classmethod
    def sparse_reward(cls, obs, action, next_obs, task) -> np.ndarray:
        """1[‖xy(s') − g‖₂ ≤ 0.2] − 0.1‖a‖² on the post-step torso position."""
        d = np.asarray(next_obs)[..., :2] - np.asarray(task)[..., :2]
        goal = (np.sqrt(np.sum(d * d, axis=-1)) <= cls.goal_radius).astype(np.float64)
        return goal + cls.ctrl_reward(action)

    @classmethod
    def dense_reward(cls, obs, action, next_obs, task) -> np.ndarray:
        """−‖xy(s') − g‖₁ − 0.1‖a‖² (data collection)."""
        d = np.asarray(next_obs)[..., :2] - np.asarray(task)[..., :2]
        return -np.sum(np.abs(d), axis=-1) + cls.ctrl_reward(action)

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        fn = self.sparse_reward if self.reward_mode == "sparse" else self.dense_reward
        return fn(obs, action, next_obs, task)

    def is_success(self, next_obs, task) -> np.ndarray:
        d = np.asarray(next_obs)[..., :2] - np.asarray(task)[..., :2]
        return np.sqrt(np.sum(d * d, axis=-1)) <= self.goal_radius

    # --------------------------------------------------------------------------- simulation
    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos.flat, self.data.qvel.flat]).astype(np.float64)

    def reset_model(self) -> np.ndarray:
        qpos = self.init_qpos.copy()
        qpos[:2] = semicircle_start(self.np_random, self.init_state)
        self.set_state(qpos, self.init_qvel.copy())
        return self._get_obs()

    def _step_info(self, obs, action, next_obs, reward) -> dict[str, float]:
        ctrl = float(self.ctrl_reward(action))
        return {"reward_goal": reward - ctrl, "reward_ctrl": ctrl}
