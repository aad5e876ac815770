"""Reference agents for the Semi-circle (Figure 3's comparison points, computed, not learnt).

- :func:`semicircle_oracle`: knows the goal; walks straight to it at full speed and stays.
- :func:`semicircle_search_then_go`: a scripted searcher (sweep the arc in episode 1, go straight to the
  found goal after it), the approximately Bayes-optimal line of Figure 3's Semi-circle panel.
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


def semicircle_search_then_go(tasks: np.ndarray, arc_step: float = 0.12,
                               record: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Per-episode returns ``(n, k)`` of a scripted search-then-go agent, the approximately Bayes-optimal
    reference: in episode 1 walk to (1, 0) and then counter-clockwise along the semicircle (targets
    ``arc_step`` radians apart) until the reward appears, and stay; from episode 2 walk straight to where
    the reward was found (or go on searching if it was not). The sweep covers the whole arc within one
    episode. ``record`` receives ``obs``, ``actions``, ``rewards``, ``next_obs`` ``(n, T, ·)``."""
    env = make_env("semicircle", init_state="fixed")
    tasks = np.asarray(tasks, dtype=np.float64)
    n = len(tasks)
    trial = BatchedTrial(env, n)
    obs = trial.reset(tasks, seeds=range(n))
    angle = np.zeros(n)
    found = np.full((n, 2), np.nan, np.float32)
    returns = np.zeros((n, trial.k))
    rec: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "next_obs": []}
    for t in range(trial.trial_length):
        pos = obs[:, :2]
        has = ~np.isnan(found[:, 0])
        arc = np.stack([np.cos(angle), np.sin(angle)], -1).astype(np.float32)
        advance = ~has & (np.linalg.norm(pos - arc, axis=-1) <= 0.05)
        angle = np.where(advance, np.minimum(angle + arc_step, np.pi), angle)
        target = np.stack([np.cos(angle), np.sin(angle)], -1).astype(np.float32)
        target = np.where(has[:, None], found if t >= trial.H else pos, target)
        a = _toward(pos, target)
        out = trial.step(a)
        returns[:, t // trial.H] += out.reward
        new = ~has & (out.reward > 0)
        found[new] = out.next_obs[new, :2]
        for key, v in (("obs", obs), ("actions", a), ("rewards", out.reward), ("next_obs", out.next_obs)):
            rec[key].append(np.asarray(v, np.float32))
        obs = out.obs
    if record is not None:
        record.update({key: np.stack(v, 1) for key, v in rec.items()})
    return returns


def semicircle_search_trial(goal: np.ndarray, arc_step: float = 0.12) -> dict[str, np.ndarray]:
    """One trial of :func:`semicircle_search_then_go` for ``goal`` (for inspecting beliefs): ``obs``,
    ``actions``, ``rewards``, ``next_obs`` (flagged) of shape ``(T, ·)``, as the encoder consumes them."""
    rec: dict[str, np.ndarray] = {}
    semicircle_search_then_go(np.asarray(goal, dtype=np.float64).reshape(1, 2), arc_step, record=rec)
    return {k: v[0] for k, v in rec.items()}


GRID_SWEEP = (1, 1, 1, 1, 2, 3, 3, 3, 3, 2, 1, 1, 1, 1, 2)
"""A 15-step serpentine from (0, 0): up column 0, right, down column 1, right, up column 2, right; it
visits 12 of the 21 candidate goal cells (actions: 1 up, 2 right, 3 down)."""


def gridworld_sweep_trials(goals: np.ndarray) -> dict[str, np.ndarray]:
    """Scripted Gridworld trials for inspecting beliefs: every episode follows :data:`GRID_SWEEP` from
    the fixed start whatever it finds, so for goals off the path the belief must rule cells out without
    ever seeing the reward. Returns ``obs``, ``actions`` (integers), ``rewards``, ``next_obs`` (flagged)
    of shape ``(n, T, ·)``."""
    env = make_env("gridworld", init_state="fixed")
    goals = np.asarray(goals, dtype=np.float64)
    trial = BatchedTrial(env, len(goals))
    obs = trial.reset(goals, seeds=range(len(goals)))
    rec: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "next_obs": []}
    for t in range(trial.trial_length):
        a = np.full(len(goals), GRID_SWEEP[t % trial.H], np.int64)
        out = trial.step(a)
        for key, v in (("obs", obs), ("actions", a[:, None]), ("rewards", out.reward), ("next_obs", out.next_obs)):
            rec[key].append(np.asarray(v, np.float32))
        obs = out.obs
    return {key: np.stack(v, 1) for key, v in rec.items()}
