"""Does the Gridworld data visit the hyper-states the exact-belief agent needs? (issue 31; :mod:`borel_lib.coverage`)

The quick exact-belief BOReL agent on Gridworld scores 7.92 offline, and the same learner trained online on its
own trials 8.92 (``scripts/probe_online_exact.py``); the Bayes-optimal value is 9.30. What the offline agent loses
is episode 2 after a failed episode-1 sweep. This script counts, for every hyper-state (cell, candidate goals
left) that an agent acts in, how many logged transitions leave it once the data is relabelled with the exact
posterior, and groups the counts by phase: searching in episode 1, still searching after a failed sweep
(episodes 2+), goal known. Agents: the Bayes-optimal one (from the committed search path of notebook 01's
reference) and the finished exact-belief BOReL runs (their evaluated trials, the ``_traj`` tables of the last
evaluation).

Writes ``data/results/<profile>/analysis/gridworld/coverage_gridworld.csv`` (tidy: ``method`` bayes_optimal or
the run's method, ``seed``, ``metric`` = ``<phase>_<statistic>``: steps, distinct, unvisited, under10, median).
Usage: python scripts/gridworld_coverage.py [--profile quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from borel_lib import cli
from borel_lib.config import resolve_profile
from borel_lib.coverage import (
    bayes_optimal_hyper_states,
    coverage_summary,
    data_visit_counts,
    trajectory_hyper_states,
)
from borel_lib.pipeline import RunSpec, collection
from borel_lib.results import read_results, result_path, write_results

NAME = "coverage_gridworld"
SEARCH_TABLE = "gridworld_exact_search"
"""Notebook 01's table of the Bayes-optimal agent's search path."""


def _tidy(summary: pd.DataFrame, method: str, seed: int) -> pd.DataFrame:
    long = summary.melt(id_vars="phase", var_name="stat")
    return pd.DataFrame({"domain": "gridworld", "method": method, "variant": "uniform", "seed": seed, "episode": 0,
                         "metric": long["phase"] + "_" + long["stat"], "value": long["value"].astype(float)})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    p.add_argument("--seeds", type=cli.seed, nargs="+", default=[0, 1, 2], help="seeds of the exact-belief runs")
    args = p.parse_args(argv)
    profile = resolve_profile(args.profile)
    specs = [RunSpec("gridworld", profile, belief="exact", seed=s) for s in args.seeds]
    needed = [SEARCH_TABLE] + [f"borel_{s.tag}_traj" for s in specs]
    missing = [n for n in needed if not result_path(n, profile).is_file()]
    if missing:  # before any work
        p.error(f"missing result tables ({profile}): {', '.join(missing)}; make them first (notebook 01 for "
                f"{SEARCH_TABLE}, python -m borel_lib.pipeline gridworld --profile {profile} --belief exact --seed S)")
    counts = data_visit_counts(collection(specs[0]))
    search = read_results(SEARCH_TABLE, profile)
    search = search[search.method == "bayes_optimal"].pivot_table(index="t", columns="metric", values="value")
    frames = [_tidy(coverage_summary(bayes_optimal_hyper_states(search[["x", "y"]].to_numpy().astype(np.int64)),
                                     counts), "bayes_optimal", 0)]
    for spec in specs:
        traj = read_results(f"borel_{spec.tag}_traj", profile)
        frames.append(_tidy(coverage_summary(trajectory_hyper_states(traj), counts), spec.method, spec.seed))
    frames.append(pd.DataFrame({"domain": "gridworld", "method": "data", "variant": "uniform", "seed": 0, "episode": 0,
                                "metric": ["distinct_hyper_states", "transitions"],
                                "value": [float(len(counts)), float(counts.sum())]}))
    df = pd.concat(frames, ignore_index=True)
    seeds = " ".join(map(str, args.seeds))
    write_results(df, NAME, config={"profile": profile, "seeds": list(args.seeds), "runs": [s.tag for s in specs]},
                  profile=profile, command=f"python scripts/gridworld_coverage.py --profile {profile} --seeds {seeds}")
    wide = df[df.method != "data"].pivot_table(index=["method", "seed"], columns="metric", values="value")
    print(wide.round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
