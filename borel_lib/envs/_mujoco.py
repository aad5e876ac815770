"""Shared base of the MuJoCo task families (official ``mujoco`` bindings via Gymnasium's MujocoEnv)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from borel_lib.envs.base import TaskEnv, check_init_state


class MujocoTaskEnv(MujocoEnv, TaskEnv):
    """A :class:`TaskEnv` on one of Gymnasium's v5 MuJoCo models (no mujoco-py).

    The constructor checks ``init_state``, loads the model and sets ``task`` if given. ``reset`` seeds,
    applies ``options={"task": ...}`` (or samples a task on the first reset), resets the simulator and calls
    :meth:`reset_model`. :meth:`step` applies the clipped action, scores the transition with the pure
    :meth:`reward` (so relabelling reproduces it exactly) and never terminates (H is the time limit).
    Subclasses implement ``reset_model``, ``_get_obs``, ``reward`` and ``is_success``, and may add entries
    to a step's ``info`` (:meth:`_step_info`).
    """

    def __init__(self, model_file: str, frame_skip: int, observation_space: spaces.Space, init_state: str,
                 task: Any = None, render_mode: str | None = None):
        self.init_state = check_init_state(type(self).__name__, init_state, self.init_state_options)
        MujocoEnv.__init__(self, model_file, frame_skip, observation_space=observation_space, render_mode=render_mode)
        if task is not None:
            self.set_task(task)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        gym.Env.reset(self, seed=seed)
        self._task_on_reset(options)
        mujoco.mj_resetData(self.model, self.data)
        obs = self._last_obs = self.reset_model()
        return obs, {}

    def step(self, action):
        a = self._check_action(action)
        obs = self._obs_before_step()
        self._simulate(a)
        next_obs = self._last_obs = self._get_obs()
        r = float(self.reward(obs, a, next_obs, self._task))
        info = {**self._step_info(obs, a, next_obs, r), "success": bool(self.is_success(next_obs, self._task))}
        return next_obs, r, False, False, info

    def _obs_before_step(self) -> Any:
        """The observation a step starts from: read from the simulator again (its state may have been set since
        the last step)."""
        return self._get_obs()

    def _step_info(self, obs: Any, action: np.ndarray, next_obs: Any, reward: float) -> dict[str, Any]:
        """Entries of a step's ``info`` besides ``success`` (none by default)."""
        return {}

    def _simulate(self, action: np.ndarray) -> None:
        """Apply ``action`` for ``frame_skip`` steps and refresh kinematics so that body positions
        (``xpos``/``xipos``) describe the *post-step* state."""
        self.do_simulation(action, self.frame_skip)
        mujoco.mj_kinematics(self.model, self.data)

    def _check_action(self, action: Any) -> np.ndarray:
        """``action`` as float64, checked to be one finite number per actuator, clipped to [-1, 1]."""
        a = np.asarray(action, dtype=np.float64)
        dim = self.model.nu
        if a.shape != (dim,) or not np.all(np.isfinite(a)):
            raise ValueError(f"{type(self).__name__}.step: action must be {dim} finite numbers; got shape {a.shape}")
        return np.clip(a, -1.0, 1.0)
