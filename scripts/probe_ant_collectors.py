"""Is the quick Ant data worth imitating? The collecting agents themselves under the paper's metric.

Issue "MuJoCo end to end" (Table 1): at the quick budget BOReL on Ant-Semi-circle ends near -1 per
episode with the torso within 0.3 of its start, with the learnt belief and with the exact one. Before
blaming the offline learner, this probe asks what the data can teach. It scores, under the sparse
evaluation reward 1[‖xy(s') - g‖ <= 0.2] - 0.1‖a‖² (the paper's metric), three behaviours on the
collection's own 16 tasks:

- ``collector_deterministic`` / ``collector_sampled``: each task's saved collection policy (an *oracle*
  for the data's behaviour: it knows its own goal) acting in its own task, mean action or SAC sample,
  for the saved iterations given (three trials of two episodes per task, start states from fixed seeds);
- ``logged``: the trials stored in the dataset over its last ``--last`` iterations (what offline RL sees);
- ``zero_action``: standing still (a = 0), the behaviour the offline learners converged to.

If the task-knowing collectors score below standing still, the data holds no behaviour that pays under the
metric, and no offline learner on it should be expected to walk to the goal; a longer offline budget then
tests nothing. Writes ``data/results/<profile>/probes/probe_ant_collectors_<init_state>_<protocol>.csv`` (tidy:
episode 1/2, metrics ``return``, ``in_goal_steps``, ``ctrl``, ``reached`` averaged over tasks and trials, and
``tasks_reached`` (tasks reaching the goal disc in at least half their trials: the issue's gate); column
``iteration``); ``<protocol>`` is ``shared`` for a ``shared_agent`` collection and ``pertask`` for one agent
per task (the first quick protocol, whose committed tables keep that name), with ``_calibrated`` appended when
the collectors' SAC tunes α (the calibrated SAC of the quick protocol now), so a re-collection with another
protocol never overwrites the evidence for the earlier one.
``--set FIELD=VALUE`` (repeatable) scores a collection made with other settings than the profile's protocol
(e.g. ``--set alpha=0.05``); such a collection lives in its own folders (``<dataset>_<field><value>...``)
and ``--collect`` runs (or resumes) it first, so a protocol change is measured on the same footing.
Usage: python scripts/probe_ant_collectors.py --init-state uniform [--iterations 100 150 200]
[--set alpha=0.05 --set n_tasks=8 --set iterations=100 --collect]
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
from borel_lib.cli import parse_overrides
from borel_lib.collect import CollectConfig, probe_collector
from borel_lib.collector import Collector
from borel_lib.config import ConfigError
from borel_lib.datasets import load_dataset
from borel_lib.results import write_results

DOMAIN = "ant_semicircle"


def summarise(rewards: np.ndarray, ctrl: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-episode values over tasks and trials; ``rewards``/``ctrl`` are ``(tasks, trials, T)`` with T = k
    episodes: the means of the sparse return, the steps in the goal disc and the control cost; ``reached``,
    the share of (task, trial) episodes that enter the goal disc at all; ``tasks_reached``, the number of
    tasks whose episodes enter it in at least half their trials (the issue's gate: >= 12 of 16 in episode 1)."""
    ep = lambda x: x.reshape(*x.shape[:2], k, x.shape[-1] // k)  # noqa: E731
    in_goal = ep((rewards - ctrl) > 0.5)
    reached = in_goal.any(-1)  # (tasks, trials, k)
    return {"return": ep(rewards).sum(-1).mean((0, 1)), "in_goal_steps": in_goal.sum(-1).mean((0, 1)),
            "ctrl": ep(ctrl).sum(-1).mean((0, 1)), "reached": reached.mean((0, 1)),
            "tasks_reached": (reached.mean(1) >= 0.5).sum(0).astype(float)}


@torch.no_grad()
def rollout(col: Collector, mode: str, seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """One trial per task with the collection's agents (``deterministic``, ``sampled``) or a = 0 (``zero``)."""
    n, T = col.cfg.n_tasks, col.trial.trial_length
    obs = col.trial.reset(col.tasks, seeds=seeds)
    rewards, ctrl = np.zeros((n, T)), np.zeros((n, T))
    for t in range(T):
        a = np.zeros((n, col.act_dim), np.float32) if mode == "zero" else col.act(
            obs, "deterministic" if mode == "deterministic" else "policy")
        out = col.trial.step(a)
        rewards[:, t] = col.env.sparse_reward(obs[:, :-1], a, out.next_obs[:, :-1], col.tasks)
        ctrl[:, t] = col.env.ctrl_reward(a)
        obs = out.obs
    return rewards, ctrl


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                   help="the collection's profile (smoke: the tests)")
    p.add_argument("--init-state", default="uniform", choices=("uniform", "exclude_semicircle", "fixed"))
    p.add_argument("--iterations", type=cli.non_negative_int, nargs="+", default=[100, 150, 200],
                   help="saved collection iterations whose policies to score (multiples of checkpoint_every)")
    p.add_argument("--trials", type=cli.positive_int, default=3, help="trials per task and policy")
    p.add_argument("--last", type=cli.positive_int, default=20, help="logged trials: the dataset's last iterations")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="collection config override (a collection of its own, see --collect)")
    p.add_argument("--collect", action="store_true", help="run (or resume) the overridden collection first")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    profile = args.profile
    try:  # every --set value checked before any work
        overrides = parse_overrides(args.set, CollectConfig, "set")
        CollectConfig.for_domain(DOMAIN, args.profile, init_state=args.init_state, **overrides)
    except ConfigError as err:
        p.error(str(err))
    col, suffix = probe_collector(DOMAIN, profile, {"init_state": args.init_state, **overrides},
                                  command="python scripts/probe_ant_collectors.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    cfg = col.cfg
    protocol = ("shared" if cfg.shared_agent else "pertask") + ("_calibrated" if cfg.target_entropy is not None else "")
    label = f"{args.init_state}_{protocol}" + "".join(f"_{k}{v}" for k, v in overrides.items() if k != "shared_agent")
    if args.collect:
        col.run()
    data = load_dataset(col.dataset_path, verify=False)
    k = col.trial.k
    rows = []

    def add(method: str, iteration: int, summary: dict[str, np.ndarray]) -> None:
        for metric, per_ep in summary.items():
            for e, v in enumerate(per_ep, start=1):
                rows.append({"domain": DOMAIN, "method": method, "variant": label, "seed": cfg.seed,
                             "episode": e, "metric": metric, "value": float(v), "iteration": iteration})

    it = np.asarray(data.arrays["iteration"])
    last = it[0] >= cfg.iterations - args.last
    add("logged", cfg.iterations, summarise(np.asarray(data.arrays["rewards"][:, last]),
                                            np.asarray(data.arrays["reward_ctrl"][:, last]), k))
    seeds = [[10_000 * (r + 1) + i for i in range(cfg.n_tasks)] for r in range(args.trials)]
    runs = [("zero_action", "zero", None)] + [(f"collector_{m}", m, i) for i in args.iterations
                                              for m in ("deterministic", "sampled")]
    for method, mode, iteration in tqdm(runs, desc="probe ant collectors"):
        if iteration is not None:
            col.load_policies(iteration, hint=f"run python -m borel_lib.collect {DOMAIN} --profile {profile} "
                                              f"--init-state {args.init_state}")
        out = [rollout(col, mode, s) for s in seeds]
        add(method, -1 if iteration is None else iteration,
            summarise(np.stack([o[0] for o in out], 1), np.stack([o[1] for o in out], 1), k))
    df = pd.DataFrame(rows)
    command = "python scripts/probe_ant_collectors.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    path = write_results(df, f"probe_ant_collectors_{label}", config={**vars(args), "collect": cfg.to_dict()},
                         profile=profile, command=command)
    ret = df[df.metric == "return"].pivot_table(index=["method", "iteration"], columns="episode", values="value")
    print(ret.round(1).to_string())
    gate = df[df.metric == "tasks_reached"].pivot_table(index=["method", "iteration"], columns="episode", values="value")
    print(f"tasks (of {cfg.n_tasks}) whose episodes reach the goal disc in at least half the trials:")
    print(gate.to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
