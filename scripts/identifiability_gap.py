"""Identifiability of every dataset with BOReL runs with and without its fix (issue 31; :mod:`borel_lib.ambiguity_gap`).

For each dataset of :data:`borel_lib.ambiguity_gap.DATASETS` (Gridworld, Semi-circle uniform and fixed start,
Semi-circle at the paper's collection length, Wind, Escape-Room), counts the task pairs failing Proposition 2 on the discretised data: on the whole logs (what
BOReL learns from) and on the last 20 trials of each log (the converged collectors), without the fix and with it
(reward relabelling; policy replaying's trials added). The figure ``fig_identifiability_gap`` puts these counts
against the fix's gap in the committed BOReL runs.

Writes ``data/results/<profile>/analysis/identifiability_gap.csv`` with its config. Quick: about 8 CPU-minutes
(Wind's and Escape-Room's whole logs take most of it).
Usage: python scripts/identifiability_gap.py [--profile quick] [--seed 0]
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from tqdm.auto import tqdm

from borel_lib import ambiguity_gap as ag
from borel_lib import cli

NAME = "identifiability_gap"


def _run(args) -> int:
    from borel_lib.collect import dataset_name
    from borel_lib.paths import datasets_dir
    from borel_lib.policy_replay import replay_dataset_name
    from borel_lib.results import write_results

    profile = args.profile
    missing = []
    for s in ag.DATASETS:  # every dataset, and policy replaying's trials where they are the fix, before any work
        cfg = s.collect_config(profile, args.seed)
        names = [dataset_name(cfg, profile)] + ([replay_dataset_name(cfg, profile)] if s.fix == "policy_replay" else [])
        missing += [n for n in names if not (datasets_dir(profile) / n).is_dir()]
    if missing:
        raise ValueError(f"datasets missing ({profile}): {', '.join(missing)}; make them first: python -m "
                         f"borel_lib.collect DOMAIN --profile {profile} --init-state INIT --seed {args.seed} [--iterations "
                         "I --updates-per-iter U: _it<I>_upi<U>] (and for "
                         "the _policy_replay ones: python -m borel_lib.pipeline DOMAIN --relabelling policy_replay)")
    command = f"python scripts/identifiability_gap.py --profile {profile}" + (
        f" --seed {args.seed}" if args.seed else "")
    tables = [ag.dataset_identifiability(s, profile, args.seed)
              for s in tqdm(ag.DATASETS, desc="identifiability", disable=args.no_progress)]
    config = {"datasets": [dataclasses.asdict(s) for s in ag.DATASETS], "late_trials": ag.LATE_TRIALS,
              "relabel_fraction": ag.RELABEL_FRACTION, "reward_grid": ag.REWARD_GRID,
              "transition_bounds": ag.TRANSITION_BOUNDS, "transition_cell": 0.1, "action_sectors": 8,
              "seed": args.seed}
    print(write_results(pd.concat(tables, ignore_index=True), NAME, config=config, profile=profile, command=command))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = cli.make_parser("python scripts/identifiability_gap.py", __doc__.splitlines()[0],
                             "  data/results/<profile>/analysis/identifiability_gap.csv and .config.json")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    cli.add_seed_argument(parser, default=0, help="seed of the datasets")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return cli.main(_run, parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
