"""Why the exact belief scores below the learnt one on Reacher-Image: its features on targets no training task shares.

On Reacher-Image (issue 32) BOReL with the exact posterior scores below BOReL with the learnt VAE belief, so the
exact belief is no ceiling there. The exact belief's features (:class:`borel_lib.references.exact_belief.ExactBelief`)
are the posterior mass in 20 sectors of 4.5° of the quarter circle; the dense reward pins the target within a few
steps, so after that the features are nearly one-hot in the target's sector. The quick data have 16 training
targets, so they occupy at most 16 sectors: an evaluation target in a sector no training target occupies gives the
offline policy a one-hot input it never saw. The VAE's 5-d latent is continuous and can interpolate.

This script splits each finished Reacher-Image run's final evaluation (its ``_final`` table: one row per evaluation
target) by whether the target's sector holds a training target (``covered``) and by its angular distance to the
nearest training target (``near``: within ``--near`` degrees). If the exact belief's deficit is the one-hot features,
it is confined to the uncovered targets and the learnt beliefs score alike on both groups.

Writes ``data/results/<profile>/analysis/reacher_image/exact_belief_coverage_reacher_image.csv`` (tidy: method, variant
``fixed``, seed, episode 0 = the mean of the paper's two episodes, metrics ``return_covered``,
``return_uncovered``, ``return_near``, ``return_far`` and the group sizes ``n_covered`` / ``n_near``) with its config.
It reads committed tables and recomputes the training targets from the collection's config; no training.
Usage: python scripts/reacher_exact_coverage.py [--profile quick] [--near 2.0]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd

from borel_lib import cli
from borel_lib.collector import collection_tasks
from borel_lib.pipeline import finished_runs
from borel_lib.references.exact_belief import ExactBelief
from borel_lib.results import read_results, read_results_config, write_results

DOMAIN = "reacher_image"


def sector_of(xy: np.ndarray, n_bins: int) -> np.ndarray:
    """The exact belief's sector index of targets ``(n, 2)`` on the quarter circle (angles in [0, π/2))."""
    angles = np.arctan2(xy[:, 1], xy[:, 0])
    return np.clip((angles / (np.pi / 2) * n_bins).astype(int), 0, n_bins - 1)


def coverage_rows(final: pd.DataFrame, train: np.ndarray, n_bins: int, near_deg: float) -> list[dict]:
    """Per (method, seed): the paper's metric (mean of episodes 1 and 2) on covered / uncovered and near / far
    evaluation targets, and the group sizes."""
    ret = final[final.metric == "return"]
    per_task = ret.groupby(["method", "seed", "task", "task_x", "task_y"], as_index=False).value.mean()
    xy = per_task[["task_x", "task_y"]].to_numpy()
    covered = np.isin(sector_of(xy, n_bins), np.unique(sector_of(train, n_bins)))
    train_ang = np.arctan2(train[:, 1], train[:, 0])
    gap = np.degrees(np.abs(np.arctan2(xy[:, 1], xy[:, 0])[:, None] - train_ang[None]).min(1))
    per_task = per_task.assign(covered=covered, near=gap <= near_deg)
    rows = []
    for (method, seed), g in per_task.groupby(["method", "seed"]):
        values = {"return_covered": g.value[g.covered].mean(), "return_uncovered": g.value[~g.covered].mean(),
                  "return_near": g.value[g.near].mean(), "return_far": g.value[~g.near].mean(),
                  "n_covered": float(g.covered.sum()), "n_near": float(g.near.sum())}
        rows += [{"domain": DOMAIN, "method": method, "variant": "fixed", "seed": int(seed), "episode": 0,
                  "metric": k, "value": float(v)} for k, v in values.items() if np.isfinite(v)]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"), help="whose runs to read")
    p.add_argument("--near", type=cli.non_negative_float, default=2.0,
                   help="a target is 'near' when a training target lies within this many degrees")
    args = p.parse_args(argv)
    command = "python scripts/reacher_exact_coverage.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    runs = [s for s in finished_runs(args.profile, DOMAIN) if s.eval_split == "test"]
    if not runs:
        raise SystemExit(f"error: no finished {DOMAIN} runs in profile {args.profile!r} "
                         f"(python -m borel_lib.pipeline {DOMAIN} --profile {args.profile} first)")
    n_bins = ExactBelief(DOMAIN).dim
    rows, collections = [], set()
    for spec in runs:
        name = f"borel_{spec.tag}_final"
        data_cfg = read_results_config(f"borel_{spec.tag}", args.profile)["values"]["dataset"]
        # the fields collection_tasks reads (the saved config may hold fields of older versions)
        train = collection_tasks(SimpleNamespace(**{k: data_cfg[k] for k in ("seed", "domain", "init_state", "n_tasks")}))
        collections.add(data_cfg["seed"])
        rows += coverage_rows(read_results(name, args.profile), np.asarray(train)[:, :2], n_bins, args.near)
    df = pd.DataFrame(rows)
    config = {**vars(args), "domain": DOMAIN, "n_bins": n_bins, "runs": [f"borel_{s.tag}" for s in runs],
              "collection_seeds": sorted(collections),
              "training_targets": "borel_lib.collector.collection_tasks of each run's dataset config"}
    path = write_results(df, "exact_belief_coverage_reacher_image", config=config, profile=args.profile, command=command)
    summary = df.pivot_table(index="method", columns="metric", values="value", aggfunc="mean")
    print(summary.round(2).to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
