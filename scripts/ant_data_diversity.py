"""How diverse are Table 1's three Ant datasets? (issue "MuJoCo end to end")

Table 1's claim is that the data's diversity decides what BOReL can learn: from starts spread over the
plane (``uniform``) the logged trials cross the semi-circle in many places, which is the evidence a
searching policy needs; from starts outside the semi-circle's annulus (``exclude_semicircle``) or from
the origin (``fixed``) they cross it less. This script measures that on the collected datasets, per
variant, over the policy trials (the random warm-up trials left out):

- ``starts_on_arc``: share of episodes that start within the goal radius of the semi-circle (radius 1,
  upper half);
- ``arc_points_per_episode``: of 21 points evenly spaced along the semi-circle, how many goal discs
  (radius ``goal_radius``) an episode's torso passes through: how much of the arc one episode sweeps;
- ``sweeps_3_points``: share of episodes that pass through at least 3 of them;
- ``on_arc_share``: share of all logged states within the goal radius of the arc.

Writes ``data/results/<profile>/analysis/ant_data_diversity.csv`` (tidy; one row per variant and metric).
Usage: python scripts/ant_data_diversity.py [--profile quick]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from borel_lib.collect import CollectConfig, dataset_name
from borel_lib.datasets import load_dataset
from borel_lib.envs import make_env
from borel_lib.paths import datasets_dir
from borel_lib.results import write_results

DOMAIN = "ant_semicircle"
VARIANTS = ("uniform", "exclude_semicircle", "fixed")
ARC_POINTS = 21
"""Points along the semi-circle whose goal discs :func:`arc_sweep` counts."""


def arc_points(n: int = ARC_POINTS) -> np.ndarray:
    """``n`` points evenly spaced on the upper unit semi-circle (where Ant-Semi-circle's goals lie)."""
    angle = np.linspace(0.0, np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], -1)


def arc_sweep(xy: np.ndarray, radius: float, points: np.ndarray) -> np.ndarray:
    """For torso positions ``xy`` ``(E, T, 2)`` of E episodes: ``(E, len(points))``, whether each episode
    passes within ``radius`` of each point."""
    hit = np.zeros((xy.shape[0], len(points)), dtype=bool)
    for j, p in enumerate(points):  # 21 points: a loop over points keeps the memory at one (E, T) array
        hit[:, j] = (np.linalg.norm(xy - p, axis=-1) < radius).any(-1)
    return hit


def on_arc(xy: np.ndarray, radius: float) -> np.ndarray:
    """Whether positions ``(..., 2)`` are within ``radius`` of the upper unit semi-circle."""
    r = np.linalg.norm(xy, axis=-1)
    above = xy[..., 1] >= 0
    # distance to the arc: |r - 1| above the x axis, to the nearer end point (±1, 0) below it
    ends = np.minimum(np.linalg.norm(xy - np.array([1.0, 0.0]), axis=-1), np.linalg.norm(xy - np.array([-1.0, 0.0]), axis=-1))
    return np.where(above, np.abs(r - 1.0), ends) < radius


def diversity(obs: np.ndarray, next_obs: np.ndarray, horizon: int, radius: float) -> dict[str, float]:
    """The four measures of the module docstring for trials ``(N, M, T, dim)`` (x, y first) of episodes of
    ``horizon`` steps."""
    N, M, T = obs.shape[:3]
    start = np.asarray(obs[:, :, ::horizon, :2]).reshape(-1, 2)
    xy = np.asarray(next_obs[..., :2]).reshape(N * M * (T // horizon), horizon, 2)
    hit = arc_sweep(xy, radius, arc_points())
    return {"starts_on_arc": float(on_arc(start, radius).mean()),
            "arc_points_per_episode": float(hit.sum(-1).mean()),
            "sweeps_3_points": float((hit.sum(-1) >= 3).mean()),
            "on_arc_share": float(on_arc(xy, radius).mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    args = p.parse_args(argv)
    radius = float(make_env(DOMAIN).goal_radius)
    rows, configs = [], {}
    for variant in VARIANTS:
        cfg = CollectConfig.for_domain(DOMAIN, args.profile, init_state=variant)
        path = datasets_dir(args.profile) / dataset_name(cfg, args.profile)
        if not path.is_dir():
            p.error(f"{path} is missing: collect it with `python -m borel_lib.collect {DOMAIN} --profile "
                    f"{args.profile} --init-state {variant}`")
        ds = load_dataset(path, verify=False)
        policy = np.asarray(ds.arrays["iteration"])[0] >= 0  # the policy trials, not the random warm-up
        out = diversity(ds.obs[:, policy], ds.next_obs[:, policy], int(ds.manifest["horizon"]), radius)
        rows += [{"domain": DOMAIN, "method": "logged", "variant": variant, "seed": cfg.seed, "episode": 0,
                  "metric": k, "value": v} for k, v in out.items()]
        configs[variant] = cfg.to_dict()
    df = pd.DataFrame(rows)
    path = write_results(df, "ant_data_diversity", config={"datasets": configs, "arc_points": ARC_POINTS,
                                                             "goal_radius": radius},
                         profile=args.profile, command=f"python scripts/ant_data_diversity.py --profile {args.profile}")
    print(df.pivot_table(index="variant", columns="metric", values="value", sort=False).round(3).to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
