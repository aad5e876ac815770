"""Half-Cheetah-Vel (paper §6 domain 4; the authors' ``HalfCheetahVel-v0``; originally MAML's).

Gymnasium's v5 HalfCheetah model, frame_skip 5 (dt 0.05), H = 200, k = 2, never terminates.
Observation (authors' layout, 20 dims): qpos[1:] (8), qvel (9), torso centre of mass x, y, z (3).
Task = target velocity v* ~ U[0, 3] (the authors' code; their docstring says [0, 2]).

Reward −|v_x − v*| − 0.05‖a‖², where v_x is the forward velocity *of the transition actually taken*:
``(com_x(s') − com_x(s)) / dt`` from the torso centre-of-mass x in the observation, so that the pure
``reward(obs, action, next_obs, task)`` reproduces ``step`` exactly and relabelling needs no
simulator (the authors' relabel replayed the simulator from the wrong state, one step off — not
copied). The authors measured the root joint's x; the torso COM differs from it by the body's pitch
rotation of a fixed offset, a negligible difference for a velocity target.

Reset noise is Gymnasium's standard U(±0.1) on qpos and 0.1·N(0, 1) on qvel; that is the only
initial-state option (``fixed`` here means "the standard noisy reset around the fixed pose").
``is_success``: the instantaneous root x velocity (qvel[0], ``obs[..., 8]``) within 0.1 of v*.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from borel_lib.envs._mujoco import MujocoTaskEnv


class HalfCheetahVelEnv(MujocoTaskEnv):
    """HalfCheetah that must run at an unknown target velocity (see module docstring)."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 20}
    horizon = 200
    episodes_per_trial = 2
    eval_episodes = 2
    task_dim = 1
    init_state_options = ("fixed",)
    varies = "reward"
    max_velocity = 3.0
    ctrl_cost_weight = 0.05
    reset_noise_scale = 0.1
    COM_X = 17
    """Index of the torso centre-of-mass x in the observation."""

    def __init__(self, init_state: str = "fixed", task: Any = None, render_mode: str | None = None):
        obs_space = spaces.Box(-np.inf, np.inf, shape=(20,), dtype=np.float64)
        super().__init__("half_cheetah.xml", 5, obs_space, init_state, task, render_mode)
        self._torso = self.model.body("torso").id

    TOTAL_MASS = 14.0
    """Gymnasium's half_cheetah.xml compiles with ``settotalmass="14"``."""

    def _initialize_simulation(self):
        """Gymnasium's model compiled *without* its deprecated ``settotalmass`` attribute (MuJoCo warns
        about it on every load, also into a ``MUJOCO_LOG.TXT`` in the working directory), then scaled to
        the same total mass at run time: ``mj_setTotalmass`` + ``mj_setConst`` give the same model bit for
        bit (masses, inertias, derived constants and 2,000 simulated steps compared equal; a test keeps it so)."""
        xml = Path(self.fullpath).read_text(encoding="utf-8")
        attr = f' settotalmass="{self.TOTAL_MASS:g}"'
        if attr not in xml:
            raise RuntimeError(f"{self.fullpath}: expected the attribute{attr}; Gymnasium's model has changed")
        model = mujoco.MjModel.from_xml_string(xml.replace(attr, ""))
        data = mujoco.MjData(model)
        mujoco.mj_setTotalmass(model, self.TOTAL_MASS)
        mujoco.mj_setConst(model, data)
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, self.max_velocity, size=(int(n), 1))

    def forward_velocity(self, obs, next_obs) -> np.ndarray:
        return (np.asarray(next_obs)[..., self.COM_X] - np.asarray(obs)[..., self.COM_X]) / self.dt

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        """−|v_x − v*| − 0.05‖a‖² with v_x from the torso COM displacement of this transition."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        v = self.forward_velocity(obs, next_obs)
        return -np.abs(v - np.asarray(task)[..., 0]) - self.ctrl_cost_weight * np.sum(a * a, axis=-1)

    def is_success(self, next_obs, task) -> np.ndarray:
        return np.abs(np.asarray(next_obs)[..., 8] - np.asarray(task)[..., 0]) < 0.1

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos.flat[1:], self.data.qvel.flat,
                               self.data.xipos[self._torso]]).astype(np.float64)

    def reset_model(self) -> np.ndarray:
        c = self.reset_noise_scale
        qpos = self.init_qpos + self.np_random.uniform(-c, c, size=self.model.nq)
        qvel = self.init_qvel + c * self.np_random.standard_normal(self.model.nv)
        self.set_state(qpos, qvel)
        return self._get_obs()

    def _step_info(self, obs, action, next_obs, reward) -> dict[str, float]:
        return {"forward_velocity": float(self.forward_velocity(obs, next_obs))}
