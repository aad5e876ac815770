"""Do the Half-Cheetah-Vel collectors track their target velocity? (issue "MuJoCo end to end")

Reads a finished Half-Cheetah-Vel collection and reports, per block of collection iterations, the mean
absolute velocity error |v_x - v*| of the logged trials over the second half of every episode (after the
cheetah has had 100 steps to reach its speed), per task and averaged. For scale: standing still has the
error |v*| (about 1.5 on average for v* ~ U[0, 3]), written as the method ``standing_still``.
Writes ``data/results/<profile>/analysis/cheetah_tracking.csv`` (tidy; columns ``task``, ``iterations``).
Usage: python scripts/cheetah_tracking.py [--profile quick] [--block 20]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from borel_lib import cli
from borel_lib.collect import CollectConfig, dataset_name
from borel_lib.datasets import load_dataset
from borel_lib.envs import make_env
from borel_lib.paths import datasets_dir
from borel_lib.results import write_results

DOMAIN = "cheetah_vel"


def tracking_errors(obs: np.ndarray, next_obs: np.ndarray, targets: np.ndarray, horizon: int) -> np.ndarray:
    """Mean |v_x - v*| over the second half of every episode: ``(N, M)`` for observation arrays
    ``(N, M, T, dim)`` (with or without the trailing episode flag; memory-mapped arrays are read only in
    the velocity column) and targets ``(N,)``."""
    env = make_env(DOMAIN)
    v = env.forward_velocity(obs, next_obs)  # (N, M, T)
    err = np.abs(v - targets[:, None, None])
    N, M, T = err.shape
    return err.reshape(N, M, T // horizon, horizon)[..., horizon // 2:].mean(axis=(-1, -2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    p.add_argument("--block", type=cli.positive_int, default=20, help="collection iterations per row")
    args = p.parse_args(argv)
    cfg = CollectConfig.for_domain(DOMAIN, args.profile)
    ds = load_dataset(datasets_dir(args.profile) / dataset_name(cfg, args.profile), verify=False)
    H = ds.manifest["horizon"]
    targets = ds.tasks[:, 0]
    err = tracking_errors(ds.obs, ds.next_obs, targets, H)
    it = np.asarray(ds.arrays["iteration"])[0]
    rows = []
    base = {"domain": DOMAIN, "variant": cfg.init_state, "seed": cfg.seed, "episode": 0, "metric": "velocity_error"}
    blocks = [("warm-up", it == -1)] + [
        (f"{lo}-{min(lo + args.block, int(it.max()) + 1) - 1}", (it >= lo) & (it < lo + args.block))
        for lo in range(0, int(it.max()) + 1, args.block)]
    for label, sel in blocks:
        if not sel.any():
            continue
        rows += [{**base, "method": "collector", "task": i, "iterations": label, "value": float(err[i, sel].mean())}
                 for i in range(ds.n_tasks)]
    rows += [{**base, "method": "standing_still", "task": i, "iterations": "-", "value": float(abs(targets[i]))}
             for i in range(ds.n_tasks)]
    df = pd.DataFrame(rows)
    path = write_results(df, "cheetah_tracking", config={**vars(args), "collect": cfg.to_dict()}, profile=args.profile,
                         command=f"python scripts/cheetah_tracking.py --profile {args.profile} --block {args.block}")
    summary = df.groupby(["method", "iterations"], sort=False).value.agg(["mean", "min", "max"]).round(3)
    print(summary.to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
