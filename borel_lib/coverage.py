"""Hyper-state coverage of offline data: does the data visit the hyper-states a policy needs? (Gridworld; ours.)

BOReL's offline learner (paper §3.2) learns Q(s, b, a) from logged trials relabelled with a belief b. Where the
exact posterior is the belief, a hyper-state on Gridworld is discrete: the agent's cell s and the set of
candidate goals the posterior still allows (the posterior is uniform on it). So "how often does the data
visit the hyper-states this policy reaches?" has an exact answer, which is what this module counts:

- :func:`data_visit_counts` relabels every logged trial with the exact posterior and counts the
  transitions that leave each hyper-state (the state and the belief *before* the step, as the learner's
  Q(s, b, a) sees them);
- :func:`bayes_optimal_hyper_states` lists the hyper-states the Bayes-optimal agent passes through for every
  goal, from its search path (:func:`borel_lib.references.exact_gridworld.bayes_optimal_returns`): it follows
  the path until it steps on the goal, stays there, and walks the shortest path to it in later episodes;
- :func:`trajectory_hyper_states` does the same for evaluated trials (a run's ``_traj`` table);
- :func:`coverage_summary` groups the counts by *phase*: ``search_ep1`` (goal not yet found, episode 1),
  ``search_after_failed_sweep`` (goal not yet found, episodes 2+), ``goal_known`` (one candidate left).

Issue 31 names the cause of the exact-belief learner's gap to Bayes-optimal on Gridworld by elimination
(the same learner online scores 8.92 where it scores 7.92 offline): the logs rarely pass through the
hyper-states after a failed sweep. This module measures it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from borel_lib.envs.gridworld import GridworldEnv
from borel_lib.references.exact_belief import ExactBelief

PHASES = ("search_ep1", "search_after_failed_sweep", "goal_known")
"""Phases of a trial by the belief before the step (module docstring)."""


def hyper_state_keys(cells: np.ndarray, support: np.ndarray, size: int = 5) -> np.ndarray:
    """One int64 key per hyper-state: the cell ``(…, 2)`` (x, y integers) and the candidate set ``(…, C)``
    (booleans) as ``(x·size + y)·2^C + Σ_c support_c·2^c``."""
    cells = np.asarray(cells).astype(np.int64)
    support = np.asarray(support, bool)
    bits = (support.astype(np.int64) << np.arange(support.shape[-1], dtype=np.int64)).sum(-1)
    return (cells[..., 0] * size + cells[..., 1]) << support.shape[-1] | bits


def _phase(support: np.ndarray, episode: np.ndarray) -> np.ndarray:
    n = support.sum(-1)
    return np.where(n == 1, "goal_known", np.where(episode == 1, "search_ep1", "search_after_failed_sweep"))


def data_visit_counts(dataset, chunk: int = 2048) -> pd.Series:
    """Transitions of the logged trials per hyper-state key (:func:`hyper_state_keys`), the exact posterior
    before each step as the belief. ``dataset``: Gridworld trials with ``obs``, ``actions``, ``rewards``,
    ``next_obs`` ``(…, T, ·)``."""
    exact = ExactBelief("gridworld")
    obs = np.asarray(dataset.obs).reshape(-1, *dataset.obs.shape[-2:])
    nxt = np.asarray(dataset.next_obs).reshape(-1, *dataset.next_obs.shape[-2:])
    rew = np.asarray(dataset.rewards).reshape(-1, dataset.rewards.shape[-1])
    act = np.asarray(dataset.actions).reshape(-1, *dataset.actions.shape[-2:])
    keys = []
    for i in range(0, len(obs), chunk):
        post = exact.posterior_trials(act[i : i + chunk], rew[i : i + chunk], nxt[i : i + chunk])[:, :-1]
        keys.append(hyper_state_keys(np.rint(obs[i : i + chunk, :, :2]), post > 0).ravel())
    return pd.Series(np.concatenate(keys)).value_counts()


def bayes_optimal_hyper_states(search_path: np.ndarray, horizon: int = 15, episodes: int = 4) -> pd.DataFrame:
    """The hyper-states the Bayes-optimal agent acts in, per goal: one row per goal and step (``goal``, ``t``,
    ``episode``, ``x``, ``y`` the cell before the step, ``next_x``, ``next_y`` and ``reward`` of the step, ``key``,
    ``phase``). ``search_path``: its positions at
    steps 0..kH along the not-found branch (``ExactResult.search_path``), the start (0, 0) at every episode's
    first step; once it steps on the goal it stays in the episode and walks the shortest path (x first, then y,
    as the reference does) in later episodes."""
    exact = ExactBelief("gridworld")
    goals = exact.candidates.astype(np.int64)
    rows = []
    for g, goal in enumerate(goals):
        ruled_out = np.zeros(len(goals), bool)
        found = False
        pos = np.zeros(2, np.int64)
        for t in range(horizon * episodes):
            e = t // horizon
            if t % horizon == 0:
                pos = np.zeros(2, np.int64)
            support = np.eye(len(goals), dtype=bool)[g] if found else ~ruled_out
            if found:  # the goal is known: stay on it, or walk x first, then y, towards it
                step = np.sign(goal - pos)
                nxt = pos + (np.array([step[0], 0]) if step[0] else np.array([0, step[1]]))
            else:
                nxt = np.asarray(search_path[t + 1], np.int64)
            hit = (goals == nxt).all(-1)
            rows.append((g, t, e + 1, int(pos[0]), int(pos[1]), int(nxt[0]), int(nxt[1]),
                         GridworldEnv.goal_reward if hit[g] else GridworldEnv.step_reward, support))
            found = found or bool(hit[g])
            ruled_out |= hit & (not found)
            pos = nxt
    df = pd.DataFrame(rows, columns=["goal", "t", "episode", "x", "y", "next_x", "next_y", "reward", "support"])
    support = np.stack(df.pop("support").to_numpy())
    df["key"] = hyper_state_keys(df[["x", "y"]].to_numpy(), support)
    df["phase"] = _phase(support, df["episode"].to_numpy())
    return df


def trajectory_hyper_states(traj: pd.DataFrame, horizon: int = 15) -> pd.DataFrame:
    """The hyper-states of evaluated trials (a BOReL run's ``_traj`` table: per ``task`` and step ``t`` the
    next cell ``x``, ``y`` and the ``reward``), the exact posterior replayed along them; the same columns as
    :func:`bayes_optimal_hyper_states` without ``next_x``, ``next_y``, ``reward`` (``goal`` is the run's task index)."""
    exact = ExactBelief("gridworld")
    wide = traj.pivot_table(index=["task", "t"], columns="metric", values="value").sort_index()
    tasks = wide.index.get_level_values("task").unique()
    T = len(wide) // len(tasks)
    nxt_xy = np.rint(wide[["x", "y"]].to_numpy().reshape(len(tasks), T, 2))
    rew = wide["reward"].to_numpy().reshape(len(tasks), T).astype(np.float32)
    nxt = np.concatenate([nxt_xy, np.zeros((len(tasks), T, 1))], -1).astype(np.float32)
    post = exact.posterior_trials(np.zeros((len(tasks), T, 1), np.float32), rew, nxt)[:, :-1]
    cells = np.concatenate([np.zeros((len(tasks), 1, 2)), nxt_xy[:, :-1]], 1)
    t = np.arange(T)
    cells[:, t % horizon == 0] = 0  # every episode starts at (0, 0)
    episode = np.broadcast_to(t // horizon + 1, (len(tasks), T))
    df = pd.DataFrame({"goal": np.repeat(np.asarray(tasks), T), "t": np.tile(t, len(tasks)),
                       "episode": episode.ravel(), "x": cells[..., 0].ravel().astype(int),
                       "y": cells[..., 1].ravel().astype(int)})
    df["key"] = hyper_state_keys(cells, post > 0).ravel()
    df["phase"] = _phase((post > 0).reshape(-1, post.shape[-1]), df["episode"].to_numpy())
    return df


def coverage_summary(states: pd.DataFrame, counts: pd.Series) -> pd.DataFrame:
    """Per phase (:data:`PHASES`): ``steps`` (rows of ``states``), ``distinct`` hyper-states, the share of
    steps whose hyper-state the data never leaves (``unvisited``) or leaves fewer than 10 times (``under10``),
    and the ``median`` data visits per step."""
    visits = counts.reindex(states["key"].to_numpy()).fillna(0).to_numpy()
    out = []
    for phase in PHASES:
        m = (states["phase"] == phase).to_numpy()
        v = visits[m]
        out.append({"phase": phase, "steps": int(m.sum()), "distinct": int(states.loc[m, "key"].nunique()),
                    "unvisited": float((v == 0).mean()) if m.any() else np.nan,
                    "under10": float((v < 10).mean()) if m.any() else np.nan,
                    "median": float(np.median(v)) if m.any() else np.nan})
    return pd.DataFrame(out)


def coverage_view(table: pd.DataFrame) -> pd.DataFrame:
    """The tidy ``coverage_gridworld`` table (``scripts/gridworld_coverage.py``) for reading: one row per agent
    and seed, per phase the median data visits and the share of steps in hyper-states the data never visits."""
    df = table[table.method != "data"]
    wide = df.pivot_table(index=["method", "seed"], columns="metric", values="value")
    cols = {f"{p}_{s}": f"{p.replace('_', ' ')}: {'median visits' if s == 'median' else 'unvisited'}"
            for p in PHASES for s in ("median", "unvisited")}
    return wide[list(cols)].rename(columns=cols)
