"""The small tables that figures draw, made from datasets and trained models (the training side).

:mod:`borel_lib.figures` reads only tables. Whatever a figure shows that is not already a metric
table (a few logged trajectories, a coverage histogram, the reward a VAE predicts over the plane) is
reduced here to a tidy table small enough to commit at quick scale, and written by the notebook that
trains with :func:`borel_lib.results.write_results`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from borel_lib.datasets import OfflineDataset


def _tidy(rows: list[tuple], extra: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["domain", "method", "variant", "seed", "episode", "metric", "value", *extra])


def collection_trajectories(ds: OfflineDataset, n_tasks: int = 8) -> pd.DataFrame:
    """Figure 1 (left): positions of the first ``n_tasks`` tasks' logged trials early (the first trial
    after the random warm-up) and late (the last trial), with each task's goal (columns ``task``,
    ``task_x``, ``task_y``, ``t``; variants ``early`` / ``late``; metrics ``x``, ``y``)."""
    it = ds.arrays["iteration"][0]
    trials = {"early": int(np.argmax(it >= 0)), "late": ds.n_trials - 1}
    domain, seed = ds.manifest["domain"], int(ds.manifest["seed"])
    rows = []
    for variant, trial in trials.items():
        for i in range(min(n_tasks, ds.n_tasks)):
            xy = np.asarray(ds.next_obs[i, trial, :, :2])
            gx, gy = (float(v) for v in ds.tasks[i][:2])
            for t, (x, y) in enumerate(xy):
                rows.append((domain, "logged", variant, seed, 0, "x", float(x), i, gx, gy, t))
                rows.append((domain, "logged", variant, seed, 0, "y", float(y), i, gx, gy, t))
    return _tidy(rows, ["task", "task_x", "task_y", "t"])


def coverage_table(datasets: dict[str, OfflineDataset], bins: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """Supplementary Figure 11 idea: a 2-D histogram (``bins`` = x and y edges) of the positions every
    dataset visits, one variant per dataset (initial-state distribution); non-empty bins only (columns
    ``ix``, ``iy``), plus ``n_tasks`` and ``n_states`` rows (``ix = iy = -1``)."""
    rows = []
    for variant, ds in datasets.items():
        xy = np.asarray(ds.next_obs[..., :2]).reshape(-1, 2)
        counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins)
        domain, seed = ds.manifest["domain"], int(ds.manifest["seed"])
        rows.append((domain, "logged", variant, seed, 0, "n_tasks", ds.n_tasks, -1, -1))
        rows.append((domain, "logged", variant, seed, 0, "n_states", xy.shape[0], -1, -1))
        for ix, iy in zip(*np.nonzero(counts)):
            rows.append((domain, "logged", variant, seed, 0, "count", int(counts[ix, iy]), int(ix), int(iy)))
    return _tidy(rows, ["ix", "iy"])


def belief_maps_table(vaes: dict, seed: int = 0) -> pd.DataFrame:
    """Supplementary Figure 7 idea: for each trained Semi-circle VAE (keyed by relabelling mode), the
    decoder's predicted reward at every point of :data:`borel_lib.figures.beliefs.BELIEF_MAP_GRID` from the
    belief mean at the steps :data:`~borel_lib.figures.beliefs.BELIEF_MAP_STEPS` of the scripted search of
    :func:`borel_lib.references.scripted.semicircle_search_trial` (columns ``t``, ``point``: the flat grid index)."""
    import torch

    from borel_lib.figures.beliefs import BELIEF_MAP_GOAL_ANGLE, BELIEF_MAP_GRID, BELIEF_MAP_STEPS
    from borel_lib.references.scripted import semicircle_search_trial
    from borel_lib.vae import reward_map

    goal = np.array([np.cos(BELIEF_MAP_GOAL_ANGLE), np.sin(BELIEF_MAP_GOAL_ANGLE)])
    trial = semicircle_search_trial(goal)
    xs, ys = np.meshgrid(*BELIEF_MAP_GRID)
    points = np.stack([xs.ravel(), ys.ravel()], -1)
    steps = list(BELIEF_MAP_STEPS)
    frames = []
    for mode, vae in vaes.items():
        device = vae.encoder.mu.weight.device
        with torch.no_grad():
            mu, _ = vae.encoder(*(torch.as_tensor(trial[k], device=device)[None] for k in ("actions", "rewards", "next_obs")))
        maps = reward_map(vae, mu[0, steps], points)
        method = "borel_rr" if mode != "none" else "borel_no_rr"
        frames.append(pd.DataFrame({"domain": "semicircle", "method": method, "variant": mode, "seed": seed,
                                    "episode": [1 if t < 60 else 2 for t in steps for _ in range(len(points))],
                                    "metric": "predicted_reward", "value": np.asarray(maps, dtype=np.float64).ravel(),
                                    "t": np.repeat(steps, len(points)), "point": np.tile(np.arange(len(points)), len(steps))}))
    return pd.concat(frames, ignore_index=True)
