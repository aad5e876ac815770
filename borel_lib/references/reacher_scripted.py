"""A scripted reference for Reacher-Image (paper §6 domain 5; ours): the arm told the target goes straight to it.

The goal-known oracle of Reacher-Image, computed, not learnt: the upper reference line of what a learner can
score, as :func:`borel_lib.references.scripted.semicircle_oracle` is for the Semi-circle. It reads the *true*
state (joint angles and velocities, no image) and the true target, so it is no learner and no baseline.

The controller (:class:`IKReacher`): inverse kinematics of the two-link arm (links 0.1 and 0.11 m,
:data:`~borel_lib.envs.reacher_image.LINK_LENGTHS`) gives the two joint-angle pairs that put the fingertip on the
target (elbow up or down); it takes the one nearer the current angles and applies the joint-space PD torque
``a = clip(kp · (q* − q) − kd · q̇, −1, 1)`` (angle errors wrapped to (−π, π]). The targets lie at radius 0.15,
inside the reach [0.01, 0.21], so both solutions exist. Gains ``kp`` 1, ``kd`` 0.1: the best mean return of a
4 x 3 grid (kp 0.5, 1, 2, 5; kd 0.05, 0.1, 0.3) on the 20 validation tasks of seed 0 (:mod:`borel_lib.tasks`),
about −1.2 per episode with success 1.0 in both episodes; the same choice on the test tasks (−1.05).

It runs through the very function that evaluates BOReL (:func:`borel_lib.evaluation.evaluate`: the fixed start,
one k = 2 trial of H = 50 per task, the environment's reward and success), with the true target as its "belief"
(:class:`~borel_lib.references.ant_scripted.KnownGoal`): the hyper-state is [s, flag, target].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from borel_lib.envs.reacher_image import LINK_LENGTHS
from borel_lib.references.ant_scripted import KnownGoal


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped to (−π, π]."""
    return np.angle(np.exp(1j * np.asarray(angle, np.float64)))


def target_angles(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both inverse-kinematics solutions ``(2, n, 2)`` (elbow +, elbow −) of fingertip targets ``(n, 2)``, as
    joint angles (q1, q2); a target out of reach gives the nearest straight-arm pose."""
    x, y = np.asarray(target, np.float64)[..., 0], np.asarray(target, np.float64)[..., 1]
    l1, l2 = LINK_LENGTHS
    cos_q2 = np.clip((x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2), -1.0, 1.0)
    out = []
    for sign in (1.0, -1.0):
        q2 = sign * np.arccos(cos_q2)
        q1 = np.arctan2(y, x) - np.arctan2(l2 * np.sin(q2), l1 + l2 * np.cos(q2))
        out.append(np.stack([q1, q2], -1))
    return out[0], out[1]


class IKReacher:
    """The goal-known controller (module docstring): acts on hyper-states [state (6), flag, target (2)]."""

    def __init__(self, kp: float = 1.0, kd: float = 0.1):
        if not (kp > 0 and kd >= 0):
            raise ValueError(f"IKReacher: kp={kp} must be > 0 and kd={kd} >= 0")
        self.kp, self.kd = kp, kd

    def act(self, hyper: np.ndarray) -> np.ndarray:
        h = np.asarray(hyper, np.float64)
        q = np.arctan2(h[:, 2:4], h[:, 0:2])  # (q1, q2) from [cos q1, cos q2, sin q1, sin q2]
        errors = [_wrap(goal - q) for goal in target_angles(h[:, -2:])]
        nearer = np.abs(errors[0]).sum(-1, keepdims=True) <= np.abs(errors[1]).sum(-1, keepdims=True)
        error = np.where(nearer, errors[0], errors[1])
        return np.clip(self.kp * error - self.kd * h[:, 4:6], -1.0, 1.0).astype(np.float32)


def reacher_oracle(tasks: np.ndarray, seed: int = 0, kp: float = 1.0, kd: float = 0.1) -> pd.DataFrame:
    """Per-task, per-episode ``return`` and ``success`` of the goal-known arm on ``tasks`` (targets ``(n, 2)``),
    through :func:`borel_lib.evaluation.evaluate` (module docstring; ``seed``: the evaluation's start seeds)."""
    from borel_lib.evaluation import evaluate

    tasks = np.asarray(tasks)
    return evaluate(KnownGoal(tasks), IKReacher(kp, kd), "reacher_image", tasks, seed=seed)
