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


def semicircle_search_trial(goal: np.ndarray, arc_step: float = 0.12) -> dict[str, np.ndarray]:
    """A scripted Bayes-optimal-looking trial (for inspecting beliefs): in episode 1 walk to (1, 0) and
    then along the semicircle until the reward appears, and stay; in episode 2 walk straight to where the
    reward was found. Returns ``obs``, ``actions``, ``rewards``, ``next_obs`` (flagged) of shape
    ``(T, ·)``, as the encoder consumes them."""
    env = make_env("semicircle", init_state="fixed")
    trial = BatchedTrial(env, 1)
    goal = np.asarray(goal, dtype=np.float64).reshape(1, 2)
    obs = trial.reset(goal, seeds=[0])
    rec: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "next_obs": []}
    angle, found = 0.0, None
    for t in range(trial.trial_length):
        pos = obs[0, :2]
        if t >= trial.H and found is not None:
            target = found
        elif found is not None:
            target = pos
        elif np.linalg.norm(pos - np.array([np.cos(angle), np.sin(angle)])) > 0.05:
            target = np.array([np.cos(angle), np.sin(angle)])
        else:
            angle = min(angle + arc_step, np.pi)
            target = np.array([np.cos(angle), np.sin(angle)])
        a = _toward(pos[None], np.asarray(target, np.float32)[None])
        out = trial.step(a)
        if out.reward[0] > 0 and found is None:
            found = out.next_obs[0, :2].copy()
        for k, v in (("obs", obs[0]), ("actions", a[0]), ("rewards", out.reward[0]), ("next_obs", out.next_obs[0])):
            rec[k].append(v)
        obs = out.obs
    return {k: np.stack(v).astype(np.float32) for k, v in rec.items()}
