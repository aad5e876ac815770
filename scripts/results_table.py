"""Print the README's BOReL results table from the committed result CSVs.

Usage: python scripts/results_table.py [--profile quick]
The paper's metric: average return over the first episodes (Gridworld 4, Semi-circle 2), averaged over
the last 10 % of a run's evaluations, then mean ± standard error over seeds
(:func:`borel_lib.results.borel_runs`, :func:`borel_lib.results.summarise_runs`). Search columns come
from each run's last evaluation (:func:`borel_lib.evaluation.search_metrics`). The same table is shown by
``notebooks/08_figures_and_tables.ipynb`` (:func:`borel_lib.results.results_table_markdown`).
"""

from __future__ import annotations

import argparse

from borel_lib.results import results_table_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    args = parser.parse_args()
    print(results_table_markdown(args.profile))


if __name__ == "__main__":
    main()
