"""The goal-known "belief": the task itself in place of a belief, a reference for the offline learner.

BOReL's agent acts on hyper-states [s, b]: the belief b must say where the goal is. :class:`KnownGoal` puts
the true task vector (Ant-Semi-circle: the goal's x, y) where b goes, so an offline learner trained on
[s, g] solves an ordinary goal-conditioned problem from the same logged data, rewards and evaluation. If it
cannot reach a known goal, neither the learnt belief nor the search is what stops BOReL; if it can, they are
(issue 28's decisive experiment: ``scripts/probe_ant_goal_known.py``). Not a Bayes-adaptive agent: it never
needs to search, so it bounds what BOReL could score from above (the collectors' own policy, given the goal,
is the other such bound, :mod:`borel_lib.references.ant_scripted`).

It has the belief interface of :mod:`borel_lib.belief` with one difference, flagged by ``needs_task``: state
relabelling (:func:`borel_lib.state_relabel.relabel_states`) passes each logged trial's task to
:meth:`KnownGoal.trials`, and evaluation (:func:`borel_lib.evaluation.evaluate`) passes the evaluation tasks to
:meth:`KnownGoal.reset`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KnownGoal"]


class KnownGoal:
    """Features = the task vector ``(dim,)``, the same after every prefix of a trial (module docstring)."""

    needs_task = True

    def __init__(self, dim: int = 2):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"KnownGoal: dim={dim!r} must be a positive integer (the task vector's length)")
        self.dim = dim

    def _task(self, task, n: int | None = None) -> np.ndarray:
        task = np.asarray(task, np.float32)
        if task.shape[-1] != self.dim or (n is not None and task.shape != (n, self.dim)):
            want = f"({n}, {self.dim})" if n is not None else f"(..., {self.dim})"
            raise ValueError(f"KnownGoal: task has shape {task.shape}, expected {want}")
        return task

    def trials(self, actions, rewards, next_obs, task) -> np.ndarray:
        """``(M, T + 1, dim)``: ``task`` (one trial's or ``(M, dim)``) after every prefix of the ``M`` trials."""
        M, T = np.asarray(rewards).shape[:2]
        task = self._task(task)
        return np.ascontiguousarray(np.broadcast_to(task.reshape(-1, 1, self.dim), (M, T + 1, self.dim)))

    def reset(self, n: int, tasks) -> np.ndarray:
        """The state of ``n`` evaluation trials: their tasks ``(n, dim)``."""
        return self._task(tasks, n).copy()

    def step(self, state, actions, rewards, next_obs) -> np.ndarray:
        return state

    def features(self, state) -> np.ndarray:
        return state
