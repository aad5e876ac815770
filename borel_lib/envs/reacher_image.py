"""Reacher-Image (paper §6 domain 5; *our* definition, ``docs/differences.md``).

The paper says only "2-link robot reaching an unseen target located somewhere on a quarter circle,
with image observations and dense rewards". Our numbers: Gymnasium's v5 Reacher model (two links of
0.1 and 0.11 m to the fingertip, frame_skip 2, dt 0.02), action in [-1, 1]^2; task = target at angle
~ U[0, π/2] on the radius-0.15 quarter circle; H = 50, k = 2.

Observation, a ``Dict``:

- ``"image"``: 64x64 RGB (uint8) top-down view of the **arm only**, drawn by a small numpy
  rasteriser from the joint angles (fast, headless, no OpenGL). The target is never drawn: if it
  were, the task would be observed and there would be nothing to infer.
- ``"state"``: proprioception [cos q1, cos q2, sin q1, sin q2, q̇1, q̇2] (float32). It does not
  reveal the task, and it lets the pure reward compute the fingertip by forward kinematics.

Reward (dense, task-dependent): −‖fingertip(s') − target‖ − 0.1‖a‖². The model's own target body
(two slide joints, no collisions) is parked at the task's target so MuJoCo renders agree; it has no
effect on the arm's physics. ``is_success``: fingertip within 0.02 of the target. ``reward`` and
``is_success`` take the ``Dict`` observation or the bare state array (:func:`proprioception`), so they
score a dataset's stored states too.

Batched collection (:class:`~borel_lib.envs.batched.BatchedMujocoTrial`) steps the proprioceptive states
only (:meth:`ReacherImageEnv.state_obs`) and renders each trial's images at once afterwards
(:meth:`ReacherImageEnv.images`): the image is a function of the state alone, so this is the same image
``step`` returns, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from borel_lib.envs._mujoco import MujocoTaskEnv

LINK_LENGTHS = (0.1, 0.11)
"""Shoulder-to-elbow and elbow-to-fingertip lengths of the v5 Reacher model (m)."""
IMAGE_SIZE = 64
"""Side of the square observation image in pixels."""
VIEW_HALF_WIDTH = 0.24
"""The image spans [-0.24, 0.24] m in x and y (reach is 0.21 m)."""


def fingertip(state: np.ndarray) -> np.ndarray:
    """Planar forward kinematics from ``state`` = [cos q1, cos q2, sin q1, sin q2, ...] -> (x, y)."""
    s = np.asarray(state, dtype=np.float64)
    c1, c2, s1, s2 = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    c12 = c1 * c2 - s1 * s2
    s12 = s1 * c2 + c1 * s2
    l1, l2 = LINK_LENGTHS
    return np.stack([l1 * c1 + l2 * c12, l1 * s1 + l2 * s12], axis=-1)


def proprioception(obs: Any) -> np.ndarray:
    """The proprioceptive state of an observation: ``obs["state"]`` of the ``Dict`` observation, or ``obs``
    itself when it is already the state array (as datasets store it, with or without the episode-end flag):
    the pure reward reads only its first four entries."""
    return np.asarray(obs["state"] if isinstance(obs, Mapping) else obs)


class ArmRasteriser:
    """Draws the two-link arm (links as thick segments, joints as discs) into 64x64 RGB images."""

    background = np.array([245, 245, 240], dtype=np.uint8)
    colors = (np.array([30, 100, 160], np.uint8), np.array([20, 150, 130], np.uint8))
    joint_color = np.array([40, 40, 40], np.uint8)

    def __init__(self, size: int = IMAGE_SIZE, half_width: float = VIEW_HALF_WIDTH, thickness: float = 0.012):
        centres = ((np.arange(size) + 0.5) / size * 2 * half_width - half_width).astype(np.float32)
        x, y = np.meshgrid(centres, centres[::-1])  # row 0 is the top of the image (max y)
        self.px, self.py = x.ravel(), y.ravel()
        self.size = size
        self.thickness = thickness

    def _near_segment(self, ax, ay, bx, by, radius: float) -> np.ndarray:
        """Pixels within ``radius`` of segments a->b; inputs ``(B, 1)``, output ``(B, size*size)``."""
        dx, dy = bx - ax, by - ay
        qx, qy = self.px - ax, self.py - ay
        t = np.clip((qx * dx + qy * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        ex, ey = qx - t * dx, qy - t * dy
        return ex * ex + ey * ey <= radius * radius

    def render(self, state: np.ndarray) -> np.ndarray:
        """Images ``(..., 64, 64, 3)`` for states ``(..., >=4)``."""
        s = np.asarray(state, dtype=np.float32)
        lead = s.shape[:-1]
        s = s.reshape(-1, s.shape[-1])
        tip = fingertip(s).astype(np.float32)
        ex, ey = LINK_LENGTHS[0] * s[:, 0:1], LINK_LENGTHS[0] * s[:, 2:3]
        tx, ty = tip[:, 0:1], tip[:, 1:2]
        zero = np.zeros_like(ex)
        img = np.empty((len(s), self.px.size, 3), dtype=np.uint8)
        img[:] = self.background
        img[self._near_segment(zero, zero, ex, ey, self.thickness)] = self.colors[0]
        img[self._near_segment(ex, ey, tx, ty, self.thickness)] = self.colors[1]
        joint_r = 1.4 * self.thickness
        img[self._near_segment(zero, zero, zero, zero, joint_r)] = self.joint_color
        img[self._near_segment(ex, ey, ex, ey, joint_r)] = self.joint_color
        return img.reshape(lead + (self.size, self.size, 3))


class ReacherImageEnv(MujocoTaskEnv):
    """Two-link reacher with an unseen target on a quarter circle, image observations (ours)."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 50}
    horizon = 50
    episodes_per_trial = 2
    eval_episodes = 2
    task_dim = 2
    init_state_options = ("fixed",)
    varies = "reward"
    target_radius = 0.15
    ctrl_cost_weight = 0.1
    success_distance = 0.02

    def __init__(self, init_state: str = "fixed", task: Any = None, render_mode: str | None = None):
        obs_space = spaces.Dict({
            "image": spaces.Box(0, 255, shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8),
            "state": spaces.Box(-np.inf, np.inf, shape=(6,), dtype=np.float32),
        })
        super().__init__("reacher.xml", 2, obs_space, init_state, task, render_mode)
        self.rasteriser = ArmRasteriser()

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        angle = rng.uniform(0.0, np.pi / 2, size=int(n))
        return self.target_radius * np.stack([np.cos(angle), np.sin(angle)], axis=-1)

    def reward(self, obs, action, next_obs, task) -> np.ndarray:
        """−‖fingertip(s') − target‖ − 0.1‖a‖² (fingertip by forward kinematics of ``state``)."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        d = fingertip(proprioception(next_obs)) - np.asarray(task)[..., :2]
        return -np.sqrt(np.sum(d * d, axis=-1)) - self.ctrl_cost_weight * np.sum(a * a, axis=-1)

    def is_success(self, next_obs, task) -> np.ndarray:
        d = fingertip(proprioception(next_obs)) - np.asarray(task)[..., :2]
        return np.sqrt(np.sum(d * d, axis=-1)) <= self.success_distance

    def state_obs(self) -> np.ndarray:
        """The proprioceptive state of the current simulator state, float32 ``(6,)`` (no image: batched
        collection steps the states and renders the images of a whole trial at once, :meth:`images`)."""
        q, qd = self.data.qpos.flat[:2], self.data.qvel.flat[:2]
        return np.concatenate([np.cos(q), np.sin(q), qd]).astype(np.float32)

    def images(self, state: np.ndarray) -> np.ndarray:
        """The observation images ``(..., 64, 64, 3)`` uint8 of states ``(..., >= 4)`` (a stored state with its
        episode-end flag works too): exactly the ``"image"`` that :meth:`step` returns for that state."""
        return self.rasteriser.render(state)

    def _get_obs(self) -> dict[str, np.ndarray]:
        state = self.state_obs()
        return {"image": self.rasteriser.render(state), "state": state}

    def reset_model(self) -> dict[str, np.ndarray]:
        qpos = self.init_qpos.copy()
        qpos[:2] += self.np_random.uniform(-0.1, 0.1, size=2)
        qpos[2:4] = self._task  # park the model's target at the task (no effect on the arm)
        qvel = self.init_qvel.copy()
        qvel[:2] += self.np_random.uniform(-0.005, 0.005, size=2)
        qvel[2:] = 0.0
        self.set_state(qpos, qvel)
        return self._get_obs()

    def _obs_before_step(self) -> dict[str, np.ndarray]:
        return self._last_obs  # the last step's (or reset's) observation: rasterising it again would cost a frame
