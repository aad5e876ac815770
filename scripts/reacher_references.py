"""Figure 3's Reacher-Image references: the goal-known arm and standing still, scored as BOReL is.

Issue 32: beside BOReL's Reacher-Image bars, Figure 3's panel needs what is known without learning. Two
references, neither a learner (:mod:`borel_lib.references.reacher_scripted`, :mod:`borel_lib.references.ant_scripted`):

- ``oracle``: the goal-known controller :class:`~borel_lib.references.reacher_scripted.IKReacher` (inverse
  kinematics and a joint-space PD torque on the *true* state, given the true target; gains ``--kp``/``--kd``,
  chosen on the validation tasks, see its module): the ceiling of what an agent that must infer the target
  from rewards and images can score;
- ``standing_still``: a = 0 (the arm stays near its fixed start, paying the distance to the target at every
  step, no control cost): the floor an agent must beat to have learnt anything.

Each is run through :func:`borel_lib.evaluation.evaluate`, the function that evaluates BOReL, on the same
tasks and with the same reset seeds as BOReL's run of each ``--seeds`` value:
``borel_lib.tasks.eval_tasks("reacher_image", seed, --n-tasks)`` (the ``test`` split; BOReL: 20 tasks),
the fixed start, one trial of k = 2 episodes of H = 50 per task, the environment's dense reward and success
(fingertip within 0.02 of the target).

Writes ``data/results/<profile>/analysis/reacher_image/references_reacher_image.csv`` (tidy: per method,
variant ``fixed`` = the start, seed, episode, metrics ``return`` and ``success`` averaged over the evaluation
tasks as in BOReL's tables) with its config. It runs in seconds on a CPU (no training, no dataset).
Usage: python scripts/reacher_references.py [--profile quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import shlex
import sys

import pandas as pd

from borel_lib import cli
from borel_lib.envs import make_env
from borel_lib.evaluation import evaluate
from borel_lib.references.ant_scripted import NoTarget, StandStill
from borel_lib.references.reacher_scripted import reacher_oracle
from borel_lib.results import write_results
from borel_lib.tasks import eval_tasks

DOMAIN = "reacher_image"
METHODS: tuple[str, ...] = ("oracle", "standing_still")
"""The references this script scores (module docstring)."""


def per_episode(ev: pd.DataFrame) -> pd.DataFrame:
    """``evaluate``'s per-task rows → the mean over tasks per (episode, metric), as BOReL's tables hold them."""
    return ev.groupby(["episode", "metric"], as_index=False)["value"].mean()


def evaluate_method(method: str, seed: int, n_tasks: int, kp: float, kd: float) -> pd.DataFrame:
    """Per-task, per-episode ``return`` and ``success`` of reference ``method`` on seed ``seed``'s evaluation tasks."""
    tasks = eval_tasks(DOMAIN, seed, n_tasks)
    if method == "oracle":
        return reacher_oracle(tasks, seed=seed, kp=kp, kd=kd)
    if method == "standing_still":
        act_dim = make_env(DOMAIN).action_space.shape[0]
        return evaluate(NoTarget(len(tasks)), StandStill(act_dim), DOMAIN, tasks, seed=seed)
    raise ValueError(f"method={method!r}: allowed values are {', '.join(map(repr, METHODS))}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                   help="where the table goes (the references do not depend on it; smoke: the tests)")
    p.add_argument("--seeds", type=cli.seed, nargs="+", default=[0, 1, 2],
                   help="evaluation seeds (eval_tasks(domain, seed) and the reset seeds, as BOReL's runs)")
    p.add_argument("--n-tasks", type=cli.positive_int, default=20, help="evaluation tasks per seed (BOReL: 20)")
    p.add_argument("--kp", type=cli.non_negative_float, default=1.0, help="the goal-known arm's proportional gain (> 0)")
    p.add_argument("--kd", type=cli.non_negative_float, default=0.1, help="the goal-known arm's derivative gain")
    args = p.parse_args(argv)
    if args.kp <= 0:
        p.error(f"--kp {args.kp}: must be > 0")
    command = "python scripts/reacher_references.py " + shlex.join(sys.argv[1:] if argv is None else argv)

    rows = []
    for seed in args.seeds:
        for method in METHODS:
            ev = evaluate_method(method, seed, args.n_tasks, args.kp, args.kd)
            rows += [{"domain": DOMAIN, "method": method, "variant": "fixed", "seed": seed, "episode": int(r.episode),
                      "metric": r.metric, "value": float(r.value)} for r in per_episode(ev).itertuples()]
    df = pd.DataFrame(rows)
    config = {**vars(args), "domain": DOMAIN, "methods": list(METHODS),
              "eval_tasks": f"borel_lib.tasks.eval_tasks('{DOMAIN}', seed, {args.n_tasks}) (test split)",
              "oracle": "borel_lib.references.reacher_scripted.IKReacher(kp, kd) on the true state, given the target",
              "standing_still": "a = 0 (borel_lib.references.ant_scripted.StandStill)"}
    path = write_results(df, "references_reacher_image", config=config, profile=args.profile, command=command)

    summary = df.assign(column=df.metric + ", ep " + df.episode.astype(str)).pivot_table(
        index="method", columns="column", values="value", aggfunc="mean")
    summary.insert(0, "paper metric", df[df.metric == "return"].groupby("method")["value"].mean())
    print(f"mean over seeds {args.seeds} ({args.n_tasks} evaluation tasks each):")
    print(summary.round(3).to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
