"""Print the README's results table (or, with --orderings, the verdicts on the paper's orderings) from the
committed result CSVs.

Usage: python scripts/results_table.py [--profile quick] [--orderings]
Every method is reported alike (:func:`borel_lib.results.borel_runs`, :func:`borel_lib.results.baseline_runs`):
the paper's metric, average return over the first episodes (Gridworld 4, Semi-circle 2, Wind 1, the others 2),
averaged over the last 10 % of a run's evaluations; over seeds its interquartile mean with a percentile-bootstrap
95 % interval and its mean ± standard error (:func:`borel_lib.results.summarise_runs`, :mod:`borel_lib.stats`);
the best evaluation over training beside it as a secondary column. Search columns come from each run's last
evaluation (:func:`borel_lib.evaluation.search_metrics`). ``--orderings`` prints the verdict on each ordering
the paper claims that the tables can test (:func:`borel_lib.results.paper_orderings`). The same tables are shown
by ``notebooks/08_figures_and_tables.ipynb`` (:func:`borel_lib.results.results_table_markdown`,
:func:`borel_lib.results.orderings_markdown`).
"""

from __future__ import annotations

import argparse

from borel_lib.results import orderings_markdown, results_table_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--orderings", action="store_true",
                        help="print the verdicts on the paper's claimed orderings instead of the results table")
    args = parser.parse_args()
    print(orderings_markdown(args.profile) if args.orderings else results_table_markdown(args.profile))


if __name__ == "__main__":
    main()
