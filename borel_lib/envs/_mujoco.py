"""Shared base of the MuJoCo task families (official ``mujoco`` bindings via Gymnasium's MujocoEnv)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from borel_lib.envs.base import TaskEnv


class MujocoTaskEnv(MujocoEnv, TaskEnv):
    """A :class:`TaskEnv` on one of Gymnasium's v5 MuJoCo models (no mujoco-py).

    ``reset`` seeds, applies ``options={"task": ...}`` (or samples a task on the first reset), resets
    the simulator and calls :meth:`reset_model`. Subclasses implement ``reset_model`` and ``_get_obs``.
    """

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        gym.Env.reset(self, seed=seed)
        self._task_on_reset(options)
        mujoco.mj_resetData(self.model, self.data)
        obs = self.reset_model()
        return obs, {}

    def _simulate(self, action: np.ndarray) -> None:
        """Apply ``action`` for ``frame_skip`` steps and refresh kinematics so that body positions
        (``xpos``/``xipos``) describe the *post-step* state."""
        self.do_simulation(action, self.frame_skip)
        mujoco.mj_kinematics(self.model, self.data)

    @staticmethod
    def _check_action(name: str, action: Any, dim: int) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (dim,) or not np.all(np.isfinite(a)):
            raise ValueError(f"{name}.step: action must be {dim} finite numbers; got shape {a.shape}")
        return np.clip(a, -1.0, 1.0)
