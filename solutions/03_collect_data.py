"""Solutions to the exercises of notebook 03 (offline data: the training logs of N agents).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/03_collect_data.py`` (about 15 s the first time:
exercise 3 collects two smoke datasets under ``build/smoke/``; later runs load them).
"""

from __future__ import annotations

import numpy as np

from borel_lib import identifiability as idf
from borel_lib.collect import run_collection
from borel_lib.envs import make_env

N_TASKS = 6
"""Goals of the idealised datasets of exercises 1-2, evenly spread on the semicircle (discs disjoint)."""


def _goals() -> np.ndarray:
    angles = (np.arange(N_TASKS) + 0.5) / N_TASKS * np.pi
    return np.stack([np.cos(angles), np.sin(angles)], -1)


def converged_logs(starts: np.ndarray, goals: np.ndarray, points: int = 31) -> np.ndarray:
    """Positions ``(N, M * points, 2)`` of converged collectors: task i's agent walks in a straight line
    from each of its start states ``starts[i]`` ``(M, 2)`` to its own goal (what late training logs do)."""
    s = np.linspace(0.0, 1.0, points)[:, None]
    path = starts[:, :, None, :] * (1 - s) + goals[:, None, None, :] * s  # (N, M, points, 2)
    return path.reshape(len(goals), -1, 2)


def _failing(xy: np.ndarray, goals: np.ndarray, relabel: float = 0.0) -> int:
    mdps, visits = idf.discretised_reward_identifiability(xy, goals, radius=0.2)
    if relabel:
        visits = idf.reward_relabel_visits(visits, fraction=relabel, mdps=mdps)
    return len(idf.check_identifiability(mdps, visits).failing_pairs)


def _uniform_starts(m: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)  # the authors' collection rectangle
    return np.stack([rng.uniform(-1.5, 1.5, (N_TASKS, m)), rng.uniform(-0.5, 1.5, (N_TASKS, m))], -1)


def exercise_1() -> dict[str, int]:
    """Make the data fixed-start and count identifiable pairs: six converged Semi-circle collectors, their
    logs from the origin (fixed) or from 40 uniform starts each, through the notebook's discretised checker.

    Expected: fixed start, all 15 pairs fail Proposition 2 (each agent walks a straight line to its own
    goal and never enters another goal's disc: the logs are ambiguous); uniform starts, at most a couple
    of pairs fail (paths from everywhere cross other tasks' goal discs: data diversity does the work)."""
    goals = _goals()
    fixed = _failing(converged_logs(np.zeros((N_TASKS, 1, 2)), goals), goals)
    uniform = _failing(converged_logs(_uniform_starts(40), goals), goals)
    pairs = N_TASKS * (N_TASKS - 1) // 2
    assert fixed == pairs and uniform <= 2, (fixed, uniform)
    return {"pairs": pairs, "failing, fixed start": fixed, "failing, uniform starts": uniform}


def exercise_2() -> dict[str, int]:
    """Repair the fixed-start logs of exercise 1 with reward relabelling: half of each task's data borrowed
    from the other tasks and relabelled with this task's reward (``reward_relabel_visits(fraction=0.5)``).

    Expected: no pair fails any more: every task's data now contains the other agents' walks into their
    goal discs, which are identifying and visited by those tasks' own data too."""
    goals = _goals()
    logs = converged_logs(np.zeros((N_TASKS, 1, 2)), goals)
    out = {"failing, fixed start": _failing(logs, goals), "failing, fixed start + RR": _failing(logs, goals, 0.5)}
    assert out["failing, fixed start"] == N_TASKS * (N_TASKS - 1) // 2 and out["failing, fixed start + RR"] == 0
    return out


def exercise_3() -> dict[str, int]:
    """Collect the smoke Semi-circle logs with ``init_state="fixed"`` and with the default (``uniform``)
    and count the distinct start states of their episodes; recompute the stored rewards.

    Expected: fixed, every episode of every trial starts at the origin (1 distinct start); uniform,
    every episode starts somewhere else (as many distinct starts as episodes). In both, the arrays are
    task × trial × time with time = k·H, and ``env.reward`` on the stored transitions reproduces every
    stored reward exactly."""
    env = make_env("semicircle")
    H = env.horizon
    out = {}
    for init_state in ("fixed", "uniform"):
        ds, _ = run_collection("semicircle", "smoke", progress=False, init_state=init_state)
        N, M, T = ds.rewards.shape
        assert T == ds.manifest["episodes_per_trial"] * H
        obs, nxt = np.asarray(ds.obs), np.asarray(ds.next_obs)
        starts = obs[:, :, ::H, :2].reshape(-1, 2)
        out[f"{init_state}: episodes"] = len(starts)
        out[f"{init_state}: distinct starts"] = len(np.unique(starts, axis=0))
        recomputed = env.reward(obs[..., :2], np.asarray(ds.actions), nxt[..., :2], ds.tasks[:, None, None, :])
        assert np.array_equal(recomputed, np.asarray(ds.rewards))
    assert out["fixed: distinct starts"] == 1
    assert out["uniform: distinct starts"] == out["uniform: episodes"]
    return out


EXERCISES = (exercise_1, exercise_2, exercise_3)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
