"""Print the README's BOReL results table from the committed result CSVs.

Usage: python scripts/results_table.py [--profile quick]
The paper's metric: average return over the first episodes (Gridworld 4, Semi-circle 2), averaged over
the last 10 % of a run's evaluations, then mean ± standard error over seeds
(:func:`borel_lib.results.borel_runs`, :func:`borel_lib.results.summarise_runs`). Search columns come
from each run's last evaluation (:func:`borel_lib.evaluation.search_metrics`).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from borel_lib.paths import results_dir
from borel_lib.results import borel_runs, summarise_runs

N_METRIC = {"gridworld": 4, "semicircle": 2}


def _pm(row: pd.Series, col: str) -> str:
    if col not in row or pd.isna(row[col]):
        return "—"
    se = row.get(f"{col}_se", np.nan)
    return f"{row[col]:.2f}" + (f" ± {se:.2f}" if row["seeds"] > 1 and not pd.isna(se) else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()
    runs = borel_runs(args.profile)
    print("| domain | run | seeds | updates | paper's metric | episode 1 | episode 2 | success | found in ep. 1 "
          "| search then go |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    if len(runs):
        for _, r in summarise_runs(runs).iterrows():
            print(f"| {r.domain} | {r.config} | {r.seeds} | {int(r.updates):,} | {_pm(r, 'metric')} | {_pm(r, 'ep1')} | "
                  f"{_pm(r, 'ep2')} | {_pm(r, 'success')} | {_pm(r, 'found_ep1')} | {_pm(r, 'search_then_go')} |")
    ref = results_dir(args.profile) / "references_semicircle_gridworld.csv"
    if ref.is_file():
        ref_df = pd.read_csv(ref)
        for (domain, method), g in ref_df.groupby(["domain", "method"]):
            v = g.sort_values("episode").value.to_numpy()[: N_METRIC[domain]]
            print(f"| {domain} | {method} (reference) | — | — | {v.mean():.2f} | {v[0]:.2f} | {v[1]:.2f} | — | — | — |")


if __name__ == "__main__":
    main()
