"""Reference agents for the Semi-circle (Figure 3's comparison points, computed, not learnt).

- :func:`semicircle_oracle`: knows the goal; walks straight to it at full speed and stays.
- :func:`semicircle_thompson`: posterior sampling, the behaviour of PEARL-like agents that the paper
  contrasts with BOReL. At the start of each episode it samples a goal from its posterior and walks
  straight to it, then stays there for the rest of the episode, with no re-planning inside the episode.
  The posterior is exact up to the discretisation of the arc into ``n_angles`` candidate goals: a
  candidate is ruled out when a visited state within 0.2 of it gave no reward, and a rewarded state
  keeps only the candidates within 0.2 of it.

Both run in the batched Semi-circle (same dynamics and rewards as the env) from the fixed start, one
trial of k = 2 episodes per task, and return per-task per-episode returns ``(n_tasks, k)``.
"""

from __future__ import annotations

import numpy as np

from borel_lib.envs import make_env
from borel_lib.envs.batched import BatchedTrial


def _toward(state: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The action that moves from ``state`` to ``target`` as fast as the action box allows (one step of
    at most 0.1 per axis); exactly onto the target when it is within reach."""
    d = (target - state) / 0.1
    scale = np.maximum(np.abs(d).max(-1, keepdims=True), 1.0)
    return (d / scale).astype(np.float32)


def semicircle_oracle(tasks: np.ndarray) -> np.ndarray:
    """Per-episode returns of the goal-known agent, ``(n, k)``."""
    env = make_env("semicircle", init_state="fixed")
    trial = BatchedTrial(env, len(tasks))
    obs = trial.reset(tasks, seeds=range(len(tasks)))
    returns = np.zeros((len(tasks), trial.k))
    for t in range(trial.trial_length):
        out = trial.step(_toward(obs[:, :2], tasks.astype(np.float32)))
        returns[:, t // trial.H] += out.reward
        obs = out.obs
    return returns


def semicircle_thompson(tasks: np.ndarray, rng: np.random.Generator, n_angles: int = 1000) -> np.ndarray:
    """Per-episode returns of per-episode posterior sampling, ``(n, k)`` (see module docstring)."""
    env = make_env("semicircle", init_state="fixed")
    n = len(tasks)
    trial = BatchedTrial(env, n)
    angles = (np.arange(n_angles) + 0.5) / n_angles * np.pi
    cands = np.stack([np.cos(angles), np.sin(angles)], -1).astype(np.float32)  # (A, 2)
    alive = np.ones((n, n_angles), dtype=bool)
    obs = trial.reset(tasks, seeds=range(n))
    returns = np.zeros((n, trial.k))
    radius = np.float32(env.goal_radius)
    target = np.zeros((n, 2), np.float32)
    for t in range(trial.trial_length):
        if t % trial.H == 0:  # episode start: sample a goal from the posterior
            p = alive / alive.sum(1, keepdims=True)
            idx = np.array([rng.choice(n_angles, p=row) for row in p])
            target = cands[idx]
        out = trial.step(_toward(obs[:, :2], target))
        returns[:, t // trial.H] += out.reward
        pos = out.next_obs[:, :2]
        near = np.linalg.norm(cands[None] - pos[:, None], axis=-1) <= radius  # (n, A)
        got = out.reward > 0
        alive = np.where(got[:, None], alive & near, alive & ~near)
        obs = out.obs
    return returns
