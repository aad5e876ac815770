"""Reacher-Image: the learnt belief over the target angle against the exact one (issue 32; beyond the paper).

For every belief VAE a finished Reacher-Image run of the profile used (``data/checkpoints/<profile>/vae_<vae tag>``,
read only), :func:`borel_lib.reacher_belief.angle_belief_tables` rolls out one k = 2 trial on each of the run's
first ``--tasks`` fresh test-split targets (:func:`borel_lib.tasks.eval_tasks`) and records after every step the
VAE's belief over the target angle (45 sectors of the quarter circle, read through its reward decoder), the exact
posterior on the same sectors, and their total variation.

Why these trials: they must be the same for every VAE, so no VAE's own agent drives them. The goal-known arm
controller (:mod:`borel_lib.references.reacher_scripted`, which reads the true state, never a VAE) follows either
a sweep of the quarter circle that is the same for every target (``sweep``: only the rewards tell the target, the
information the exact posterior uses; the clean comparison) or the true target (``goal_known``: the oracle's
trials, whose path itself points at the target, a cue the exact posterior ignores).

Writes ``data/results/<profile>/belief/reacher_image/belief_reacher_image_angle_traj.csv.gz`` (per VAE, trial kind,
task and step: ``tv``, ``angle_error``, ``angle_error_exact``, ``p_target``) and ``..._angle_bins_traj.csv.gz``
(both beliefs per sector, first 3 tasks) with their config. Quick: about 1 CPU-minute per VAE on one thread.
Usage: python scripts/reacher_belief.py [--profile quick] [--tasks 20]
"""

from __future__ import annotations

import torch

from borel_lib import cli
from borel_lib.pipeline import finished_runs
from borel_lib.reacher_belief import write_angle_belief_tables


def _run(args) -> int:
    torch.set_num_threads(1)  # the machine's cores are shared with training
    command = f"python scripts/reacher_belief.py --profile {args.profile}" + (
        f" --tasks {args.tasks}" if args.tasks != 20 else "")
    for path in write_angle_belief_tables(finished_runs(args.profile, "reacher_image"), args.profile, command,
                                          n_tasks=args.tasks):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = cli.make_parser("python scripts/reacher_belief.py", __doc__.splitlines()[0],
                             "  data/results/<profile>/belief/reacher_image/belief_reacher_image_angle[_bins]_traj.csv.gz")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--tasks", type=cli.positive_int, default=20,
                        help="test targets per VAE (BOReL is scored on 20)")
    return cli.main(_run, parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
