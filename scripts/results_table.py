"""Print the README's BOReL results table from the committed result CSVs (quick profile).

Usage: python scripts/results_table.py [--profile quick]
The paper's metric: average return over the first episodes (Gridworld 4, Semi-circle 2), at the end of
training, mean ± standard error over seeds.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from borel_lib.paths import results_dir

N_METRIC = {"gridworld": 4, "semicircle": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()
    folder = results_dir(args.profile)
    rows = []
    for path in sorted(folder.glob("borel_*_seed*.csv")):
        df = pd.read_csv(path)
        domain = df.domain.iloc[0]
        last = df[(df.updates == df.updates.max()) & (df.metric == "return") & (df.episode <= N_METRIC[domain])]
        succ = df[(df.updates == df.updates.max()) & (df.metric == "success") & (df.episode <= N_METRIC[domain])]
        per_ep = last.sort_values("episode").value.to_numpy()
        rows.append({"domain": domain, "method": df.method.iloc[0], "updates": int(df.updates.max()),
                     "seed": int(df.seed.iloc[0]), "metric": per_ep.mean(), "ep1": per_ep[0], "ep2": per_ep[1],
                     "success": succ.value.mean()})
    runs = pd.DataFrame(rows)
    print("| domain | method | offline RL updates | seeds | paper's metric (mean ± s.e.) | episode 1 | episode 2 | success |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (domain, method, updates), g in runs.groupby(["domain", "method", "updates"]):
        sem = f" ± {g.metric.std(ddof=1) / np.sqrt(len(g)):.2f}" if len(g) > 1 else " (one seed)"
        print(f"| {domain} | {method} | {updates:,} | {len(g)} | {g.metric.mean():.2f}{sem} | "
              f"{g.ep1.mean():.2f} | {g.ep2.mean():.2f} | {g.success.mean():.2f} |")
    ref = folder / "references_semicircle_gridworld.csv"
    if ref.is_file():
        r = pd.read_csv(ref)
        for (domain, method), g in r.groupby(["domain", "method"]):
            v = g.sort_values("episode").value.to_numpy()[: N_METRIC[domain]]
            print(f"| {domain} | {method} (reference) | — | — | {v.mean():.2f} | {v[0]:.2f} | {v[1]:.2f} | — |")


if __name__ == "__main__":
    main()
