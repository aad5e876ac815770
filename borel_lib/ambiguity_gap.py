"""The paper's theory as one plot: how ambiguous a dataset is against how much its fix helps (§4, Prop. 2-3).

Section 4 predicts that MDP ambiguity hurts where the data's identifying states do not overlap, and that reward
relabelling (reward-varying tasks) or policy replaying (transition-varying tasks) repairs it. This module measures
both sides on the datasets the pipeline learns from:

- **identifiability** (:func:`dataset_identifiability`): the number of task pairs failing Proposition 2 in a
  dataset, on the whole logs (what BOReL learns from) and on each log's last ``late_trials`` trials (the
  converged collectors the paper's argument is about), without and with the fix. The tabular checker runs on the
  discretised data, as in notebooks 03 and 06 (:func:`borel_lib.identifiability.discretised_reward_identifiability`,
  :func:`~borel_lib.identifiability.discretised_transition_identifiability`): a coarse proxy (a shared cell is not
  a shared continuous state).
- **the gap** (:func:`fix_gap`): BOReL with the fix minus BOReL without it, on the paper's metric (mean of the
  last 10 % of evaluations per seed), as the interquartile-mean difference with its bootstrap 95 % interval
  (:func:`borel_lib.stats.compare`), from the committed runs.

``scripts/identifiability_gap.py`` writes the identifiability table; the figure
(:func:`borel_lib.figures.ambiguity.identifiability_gap`) reads it and computes the gaps from the runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from borel_lib import identifiability as idf


@dataclass(frozen=True)
class GapDataset:
    """One dataset of the plot: its domain, initial-state variant and the fix BOReL applies to it."""

    domain: str
    """Domain (``gridworld``, ``semicircle``, ``wind``, ``escape_room``)."""
    init_state: str
    """The collection's initial-state variant (the dataset's name part)."""
    fix: str
    """``reward_relabelling`` (tasks differ in rewards) or ``policy_replay`` (tasks differ in transitions)."""
    collection: tuple[tuple[str, int], ...] = ()
    """Collection-length overrides (:data:`borel_lib.collect.LENGTH_FIELDS`) of a collection longer than the
    profile's (its runs: ``python -m borel_lib.pipeline --collection ...``); empty: the profile's."""

    @property
    def key(self) -> str:
        """The dataset's name part (``uniform``, ``uniform_it300_upi500``): the ``variant`` of its rows."""
        from borel_lib.collect import length_parts

        return "_".join([self.init_state, *length_parts(self.collection)])

    def collect_config(self, profile: str, seed: int = 0):
        """The :class:`~borel_lib.collect.CollectConfig` of the dataset."""
        from borel_lib.collect import CollectConfig

        return CollectConfig.for_domain(self.domain, profile, init_state=self.init_state, seed=seed, **dict(self.collection))


DATASETS: tuple[GapDataset, ...] = (
    GapDataset("gridworld", "uniform", "reward_relabelling"),
    GapDataset("semicircle", "uniform", "reward_relabelling"),
    GapDataset("semicircle", "fixed", "reward_relabelling"),
    GapDataset("semicircle", "uniform", "reward_relabelling", (("iterations", 300), ("updates_per_iter", 500))),
    GapDataset("wind", "uniform", "policy_replay"),
    GapDataset("escape_room", "uniform", "policy_replay"),
)
"""Every dataset with BOReL runs with and without its fix (the quick profile's): the profiles' collections and the
Semi-circle collection at the paper's per-agent length (300 iterations × 2 trials × 500 updates, issue 31 a)."""

REWARD_GRID: dict[str, dict[str, Any]] = {
    "gridworld": {"bounds": (-0.5, 4.5, -0.5, 4.5), "cell": 1.0, "radius": 0.5},  # one cell per grid state
    "semicircle": {"bounds": (-1.6, 1.6, -0.6, 1.6), "cell": 0.1, "radius": 0.2},  # notebook 03's
}
"""Discretisation of the reward-varying domains: bounds (x0, x1, y0, y1), cell side, goal radius (Gridworld: the
goal cell only; Semi-circle: the environment's goal radius 0.2)."""

TRANSITION_BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "wind": (-1.6, 1.6, -1.3, 1.9), "escape_room": (-1.5, 1.5, -1.5, 1.5)}
"""Bounds of the transition-varying domains' grids (notebook 06's), cells of 0.1 and 8 action sectors."""

LATE_TRIALS = 20
"""Trials at the end of each log taken as the converged collector's data (notebooks 03 and 06 use 20)."""

RELABEL_FRACTION = 0.5
"""Share of relabelled transitions in reward relabelling's visit counts (notebook 03's)."""


def _late(n_trials: int, late_trials: int) -> slice:
    return slice(max(n_trials - late_trials, 0), n_trials)


def reward_counts(next_xy_by_part: dict[str, np.ndarray], goals: np.ndarray, domain: str) -> list[dict[str, Any]]:
    """Pairs failing Proposition 2 for a reward-varying domain: per data part (e.g. ``whole``, ``late``;
    ``(N, n_points, 2)`` visited positions per task), without the fix (``own``) and with reward relabelling
    (``fixed``). Rows ``part``, ``data``, ``failing``."""
    rows = []
    for part, xy in next_xy_by_part.items():
        mdps, own = idf.discretised_reward_identifiability(xy, goals, **REWARD_GRID[domain])
        for data, visits in (("own", own), ("fixed", idf.reward_relabel_visits(own, RELABEL_FRACTION, mdps))):
            rows.append({"part": part, "data": data, "failing": len(idf.check_identifiability(mdps, visits).failing_pairs)})
    return rows


def transition_counts(transition, tasks: np.ndarray, own_by_part: dict[str, tuple[np.ndarray, np.ndarray]],
                      replay: tuple[np.ndarray, np.ndarray], domain: str) -> list[dict[str, Any]]:
    """Pairs failing Proposition 2 for a transition-varying domain: per part of the own logs
    (``(obs, actions)``, each ``(N, n_points, 2)``), without the fix (``own``) and with the replayed trials added
    (``fixed``, policy replaying's training data). Rows ``part``, ``data``, ``failing``."""
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for part, (obs, act) in own_by_part.items():
        data[f"{part}|own"] = (obs, act)
        data[f"{part}|fixed"] = (np.concatenate([obs, replay[0]], 1), np.concatenate([act, replay[1]], 1))
    reports = idf.discretised_transition_identifiability(transition, tasks, data, bounds=TRANSITION_BOUNDS[domain])
    return [{"part": name.split("|")[0], "data": name.split("|")[1], "failing": len(r.failing_pairs)}
            for name, r in reports.items()]


def dataset_identifiability(spec: GapDataset, profile: str, seed: int = 0, late_trials: int = LATE_TRIALS,
                            stride: int = 1) -> pd.DataFrame:
    """The identifiability rows of one dataset (:func:`borel_lib.collect.dataset_name` of ``profile``; policy
    replaying's trials from its ``_policy_replay`` companion): metric ``pairs_failing_prop2`` per part (``whole``
    logs / ``late`` trials) and data (``own`` / ``fixed``), with ``tasks`` and ``of_pairs``. ``stride`` keeps
    every stride-th trial of the whole logs (1: all). A clear error naming the command when a dataset is missing."""
    from borel_lib.collect import collect_command, dataset_name
    from borel_lib.datasets import load_dataset
    from borel_lib.envs import make_env
    from borel_lib.paths import datasets_dir
    from borel_lib.policy_replay import replay_dataset_name

    cfg = spec.collect_config(profile, seed)
    path = datasets_dir(profile) / dataset_name(cfg, profile)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no dataset; collect it first: " + collect_command(
            spec.domain, profile, {"init_state": spec.init_state, "seed": seed, **dict(spec.collection)}))
    ds = load_dataset(path)
    N = ds.n_tasks
    parts = {"whole": slice(0, ds.n_trials, stride), "late": _late(ds.n_trials, late_trials)}
    if spec.fix == "reward_relabelling":
        xy = {p: np.asarray(ds.next_obs[:, sl, :, :2]).reshape(N, -1, 2) for p, sl in parts.items()}
        rows = reward_counts(xy, np.asarray(ds.tasks), spec.domain)
    else:
        rpath = datasets_dir(profile) / replay_dataset_name(cfg, profile)
        if not rpath.is_dir():
            raise FileNotFoundError(f"{rpath}: no policy-replay data; make it with python -m borel_lib.pipeline "
                                    f"{spec.domain} --profile {profile} --relabelling policy_replay --seed {seed}")
        rep = load_dataset(rpath)
        own = {p: (np.asarray(ds.obs[:, sl, :, :2]).reshape(N, -1, 2), np.asarray(ds.actions[:, sl]).reshape(N, -1, 2))
               for p, sl in parts.items()}
        replay = (np.asarray(rep.obs[..., :2]).reshape(N, -1, 2), np.asarray(rep.actions).reshape(N, -1, 2))
        rows = transition_counts(make_env(spec.domain).transition, np.asarray(ds.tasks), own, replay, spec.domain)
    return pd.DataFrame([{"domain": spec.domain, "method": "discretised_checker", "variant": spec.key,
                          "seed": seed, "episode": 0, "metric": "pairs_failing_prop2", "value": r["failing"],
                          "part": r["part"], "data": r["data"], "fix": spec.fix, "tasks": N,
                          "of_pairs": N * (N - 1) // 2} for r in rows])


def fix_gap(runs: pd.DataFrame, spec: GapDataset, profile: str) -> dict[str, Any] | None:
    """BOReL with ``spec.fix`` against BOReL without it on ``spec``'s data (default settings, test tasks), from
    :func:`borel_lib.results.borel_runs` rows: :func:`borel_lib.stats.compare`'s numbers (seeds, IQMs, the
    difference's 95 % interval, the verdict on "fix > none"), or None if either side has no run."""
    from borel_lib.pipeline import RunSpec
    from borel_lib.results import run_config
    from borel_lib.stats import compare

    def config(relabelling: str) -> str:
        return run_config(pd.Series([RunSpec(spec.domain, profile, relabelling=relabelling, init_state=spec.init_state,
                                             collection=spec.collection).tag])).iloc[0]

    if not len(runs):
        return None
    cfgs = run_config(runs.run)
    a = runs[cfgs == config(spec.fix)].sort_values("seed").metric.to_numpy()
    b = runs[cfgs == config("none")].sort_values("seed").metric.to_numpy()
    if not (len(a) and len(b)):
        return None
    return compare(a, b)
