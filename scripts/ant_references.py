"""Table 1's reference rows on Ant-Semi-circle: oracle, search-then-go and standing still, scored as BOReL is.

Issue 28: beside BOReL's Ant numbers, Table 1 needs what is known without offline learning. Each collection's
shared goal-conditioned SAC (the quick protocol; its policy saved at ``--iteration``, default the collection's
last) is the walker of the references of :mod:`borel_lib.references.ant_scripted`: ``oracle`` (the walker given
the true goal), ``search_then_go`` (given waypoints along the arc until the reward appears, then the exact
posterior's goal) and ``standing_still`` (a = 0). Each is evaluated with :func:`borel_lib.evaluation.evaluate` on
``borel_lib.pipeline.eval_tasks("ant_semicircle", seed, --n-tasks)`` for every ``--seeds`` value (fresh goals,
the fixed start, k = 2 episodes of H = 200, the sparse reward), once per collection (``--variants``).

The waypoint spacing is chosen on the collections' own *training* tasks, never on the evaluation tasks: every
``--arc-steps`` value is scored there (one trial per training task, reset seeds 0..), and the one with the best
paper metric (mean return over episodes 1-2), averaged over the variants, is used for the evaluation.

Writes ``data/results/<profile>/analysis/ant_semicircle/references_ant_semicircle.csv`` (tidy: per method,
variant = the collection's initial-state variant, seed, episode, metrics ``return`` and ``success`` averaged
over the evaluation tasks as in BOReL's tables; column ``iteration`` = the walker's collection iteration) and
``data/results/<profile>/probes/ant_semicircle/probe_ant_semicircle_reference_spacing.csv`` (the spacing
measurements; column ``arc_step``). Usage: python scripts/ant_references.py [--profile quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import shlex
import sys

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.config import ConfigError
from borel_lib.pipeline import eval_tasks
from borel_lib.references.ant_scripted import GOTO, METHODS, evaluate_reference, load_walker
from borel_lib.results import write_results

DOMAIN = "ant_semicircle"
VARIANTS = ("uniform", "exclude_semicircle", "fixed")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = cli.non_negative_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def per_episode(ev: pd.DataFrame) -> pd.DataFrame:
    """``evaluate``'s per-task rows → the mean over tasks per (episode, metric), as BOReL's tables hold them."""
    return ev.groupby(["episode", "metric"], as_index=False)["value"].mean()


def paper_metric(ev: pd.DataFrame) -> float:
    """The paper's metric of one evaluation: the mean return over its episodes (k = 2)."""
    return float(ev[ev.metric == "return"]["value"].mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                   help="the collections' profile (smoke: the tests)")
    p.add_argument("--seeds", type=cli.seed, nargs="+", default=[0, 1, 2],
                   help="evaluation seeds (eval_tasks(domain, seed) and the reset seeds, as BOReL's runs)")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                   help="the collections (initial-state variants) whose walkers to use")
    p.add_argument("--iteration", type=cli.non_negative_int, default=None,
                   help="the collection iteration whose saved policy walks (default: the collection's last)")
    p.add_argument("--n-tasks", type=cli.positive_int, default=20, help="evaluation tasks per seed (BOReL: 20)")
    p.add_argument("--arc-steps", type=positive_float, nargs="+", default=[0.3, 0.4, 0.5],
                   help="waypoint spacings (radians) to measure on the training tasks; the best is used")
    p.add_argument("--advance-radius", type=positive_float, default=0.3,
                   help="the next waypoint once the torso is this close to the current one")
    p.add_argument("--patience", type=cli.positive_int, default=20,
                   help="... or after this many steps aimed at it")
    p.add_argument("--goto", choices=GOTO, default="posterior",
                   help="where search-then-go aims once the goal was found")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    command = "python scripts/ant_references.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    search = dict(advance_radius=args.advance_radius, patience=args.patience, goto=args.goto)

    walkers = {}
    for variant in args.variants:
        try:
            walkers[variant] = load_walker(args.profile, variant, args.iteration, command=command)
        except ConfigError as err:
            p.error(str(err))

    jobs = len(args.variants) * (len(args.arc_steps) + len(args.seeds) * len(METHODS))
    bar = tqdm(total=jobs, desc="Ant references", disable=args.no_progress)
    spacing_rows, scores = [], {}
    for variant, (col, walker, iteration) in walkers.items():
        for arc_step in args.arc_steps:  # the collection's own training tasks, never the evaluation tasks
            ev = evaluate_reference("search_then_go", DOMAIN, col.tasks, walker, 0, col.act_dim, arc_step=arc_step,
                                    **search)
            scores.setdefault(arc_step, []).append(paper_metric(ev))
            spacing_rows += [{"domain": DOMAIN, "method": "search_then_go", "variant": variant, "seed": 0,
                              "episode": int(r.episode), "metric": r.metric, "value": float(r.value),
                              "arc_step": arc_step, "iteration": iteration} for r in per_episode(ev).itertuples()]
            bar.update()
    arc_step = max(args.arc_steps, key=lambda s: np.mean(scores[s]))

    rows = []
    for variant, (col, walker, iteration) in walkers.items():
        for seed in args.seeds:
            tasks = eval_tasks(DOMAIN, seed, args.n_tasks)
            for method in METHODS:
                ev = evaluate_reference(method, DOMAIN, tasks, walker, seed, col.act_dim, arc_step=arc_step, **search)
                rows += [{"domain": DOMAIN, "method": method, "variant": variant, "seed": seed,
                          "episode": int(r.episode), "metric": r.metric, "value": float(r.value),
                          "iteration": iteration} for r in per_episode(ev).itertuples()]
                bar.update()
    bar.close()

    config = {**vars(args), "arc_step": arc_step, "domain": DOMAIN,
              "eval_tasks": f"borel_lib.pipeline.eval_tasks('{DOMAIN}', seed, {args.n_tasks})",
              "walker": "each collection's shared SAC (mean action) saved at 'iteration' (column), given [s, target]",
              "spacing_scores": {str(s): float(np.mean(v)) for s, v in scores.items()}}
    spacing_path = write_results(pd.DataFrame(spacing_rows), "probe_ant_semicircle_reference_spacing",
                                 config=config, profile=args.profile, command=command)
    df = pd.DataFrame(rows)
    path = write_results(df, "references_ant_semicircle", config=config, profile=args.profile, command=command)

    print(f"waypoint spacing on the training tasks (paper metric, mean over {', '.join(args.variants)}): "
          + ", ".join(f"{s:g}: {np.mean(v):.1f}" for s, v in scores.items()) + f" -> arc_step {arc_step:g}")
    summary = df.assign(column=df.metric + ", ep " + df.episode.astype(str)).pivot_table(
        index=["variant", "method"], columns="column", values="value", aggfunc="mean")
    summary.insert(0, "paper metric", df[df.metric == "return"].groupby(["variant", "method"])["value"].mean())
    print(f"mean over seeds {args.seeds} ({args.n_tasks} evaluation tasks each):")
    print(summary.round(2).to_string())
    print(f"wrote {path}\nwrote {spacing_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
