"""Does an Ant collector's mean action make a gait? Distance to the goal and action variation over time.

Issue "MuJoCo end to end": the collecting agents' sampled actions reach the goal, their mean action does
not (``scripts/probe_ant_collectors.py``). This probe acts one saved collection policy in its own 16 tasks
for one episode (fixed start seeds), once with the mean action and once with SAC samples, and records
per mode: the mean distance of the torso to the goal at steps 1, 50, 100 and 199, its minimum, the steps
in the goal disc, the mean |a|, the mean over tasks and joints of each action's standard deviation over
time (small = a static posture, not a gait), the policy's mean standard deviation (pre-tanh) and the
fraction of tasks whose torso is upside down (its z axis pointing down) at step 199 and at any step.
Writes ``data/results/<profile>/probes/probe_ant_gait_<label>_iter<iteration>.csv``.
Usage: python scripts/probe_ant_gait.py --init-state uniform --iteration 200 [--set FIELD=VALUE ...]
(the ``--set`` overrides name the collection, as in probe_ant_collectors.py).
"""

from __future__ import annotations

import argparse
import shlex
import sys

import numpy as np
import pandas as pd
import torch

from borel_lib import cli
from borel_lib.cli import parse_overrides
from borel_lib.collect import CollectConfig, probe_collector
from borel_lib.collector import Collector
from borel_lib.config import ConfigError
from borel_lib.results import write_results

DOMAIN = "ant_semicircle"


@torch.no_grad()
def gait(col: Collector, mode: str, seeds: list[int]) -> dict[str, float]:
    """One episode per task with ``mode`` (``deterministic`` or ``policy``); the module docstring's metrics."""
    goals = np.asarray(col.tasks)
    obs = col.trial.reset(col.tasks, seeds=seeds)
    H = col.trial.H
    dist, acts, stds = np.zeros((H - 1, col.cfg.n_tasks)), [], []
    upright = np.zeros((H - 1, col.cfg.n_tasks))  # z component of the torso's z axis (1 upright, < 0 on its back)
    for t in range(H - 1):  # the last step of an episode returns the next episode's start
        x = col.agent_inputs(obs)
        stds.append(col.agent._dist(x[None] if col.cfg.shared_agent else x[:, None])[1].exp().mean().item())
        a = col.act(obs, mode)
        acts.append(a)
        obs = col.trial.step(a).obs
        dist[t] = np.linalg.norm(obs[:, :2] - goals, axis=1)
        qx, qy = obs[:, 4], obs[:, 5]  # qpos[3:7] is the torso quaternion (w, x, y, z)
        upright[t] = 1 - 2 * (qx * qx + qy * qy)
    acts = np.asarray(acts)
    out = {f"dist_step{t}": float(dist[t - 1].mean()) for t in (1, 50, 100, H - 1)}
    return {**out, "dist_min": float(dist.min(0).mean()), "in_goal_steps": float((dist <= col.env.goal_radius).sum(0).mean()),
            "abs_action": float(np.abs(acts).mean()), "action_temporal_sd": float(acts.std(0).mean()),
            "policy_sd": float(np.mean(stds)), "upside_down_step199": float((upright[-1] < 0).mean()),
            "upside_down_ever": float((upright < 0).any(0).mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    p.add_argument("--init-state", default="uniform", choices=("uniform", "exclude_semicircle", "fixed"))
    p.add_argument("--iteration", type=cli.non_negative_int, required=True, help="saved collection iteration to act")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="the collection's overrides")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:  # every --set value checked before any work
        overrides = parse_overrides(args.set, CollectConfig, "set")
        CollectConfig.for_domain(DOMAIN, args.profile, init_state=args.init_state, **overrides)
    except ConfigError as err:
        p.error(str(err))
    command = "python scripts/probe_ant_gait.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    col, suffix = probe_collector(DOMAIN, args.profile, {"init_state": args.init_state, **overrides}, command=command)
    cfg = col.cfg
    rows = []
    for mode in ("deterministic", "policy"):  # loading resets the sampling generators: the same noise for both
        col.load_policies(args.iteration, hint="collect first: python scripts/probe_ant_collectors.py "
                                               f"--init-state {args.init_state} --collect ...")
        for metric, v in gait(col, mode, [100 + i for i in range(cfg.n_tasks)]).items():
            rows.append({"domain": DOMAIN, "method": f"collector_{'sampled' if mode == 'policy' else mode}",
                         "variant": args.init_state + suffix, "seed": cfg.seed, "episode": 1, "metric": metric,
                         "value": v, "iteration": args.iteration})
    df = pd.DataFrame(rows)
    label = f"{args.init_state}{suffix}_iter{args.iteration}"
    out = write_results(df, f"probe_ant_gait_{label}", config={**vars(args), "collect": cfg.to_dict()},
                        profile=args.profile, command=command)
    print(df.pivot_table(index="metric", columns="method", values="value").round(2).to_string())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
