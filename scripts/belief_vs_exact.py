"""How close each trained belief VAE is to the exact posterior (issue "BOReL that learns to search").

For every finished VAE of the profile (``data/checkpoints/<profile>/vae_<domain>_<relabelling>_seed<S>``)
the VAE's goal distribution implied by its reward decoder is compared with the exact posterior
(:func:`borel_lib.borel.belief_vs_exact`, :func:`borel_lib.belief.belief_tv`: total variation, 0 = identical, 1 = disjoint) after every step of
three kinds of trials:

- ``scripted_search``: trials that search without being told where to go (Gridworld: a serpentine
  sweep, :func:`borel_lib.baselines.gridworld_sweep_trials`, for each of the 21 goals; Semi-circle: the
  search-then-go script, :func:`borel_lib.baselines.semicircle_search_then_go`, for the 20 evaluation
  goals). These are the beliefs exploration needs: cells or arc segments ruled out, goal not yet found.
- ``logged_late``: the last 5 logged trials of every task (goal-reaching; training data).
- ``logged_early``: the first 5 logged trials of every task (random warm-up; training data).

Writes ``data/results/<profile>/belief_vs_exact.csv`` (tidy; column ``t`` = transitions seen; metric
``tv``, mean over trials) with its config. Usage: python scripts/belief_vs_exact.py [--profile quick]
"""

from __future__ import annotations

import argparse
import re

import pandas as pd
import torch

from borel_lib.borel import RunSpec, belief_vs_exact
from borel_lib.paths import checkpoints_dir
from borel_lib.results import write_results
from borel_lib.vae import VAEConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()
    torch.set_num_threads(1)
    frames = []
    for ck in sorted(checkpoints_dir(args.profile).glob("vae_*_seed*/vae.pt")):
        m = re.fullmatch(r"vae_(gridworld|semicircle)_(reward_relabelling|none)_seed(\d+)", ck.parent.name)
        if m is None:
            continue
        domain, mode, seed = m.group(1), m.group(2), int(m.group(3))
        cfg = VAEConfig.for_domain(domain, args.profile)
        if torch.load(ck, map_location="cpu", weights_only=False)["epoch"] < cfg.epochs:
            print(f"skipping {ck.parent.name}: unfinished (a run may be writing it)")
            continue
        df = belief_vs_exact(RunSpec(domain, args.profile, "vae", mode, seed), device="cpu")
        for kind, g in df.groupby("variant"):
            print(f"{ck.parent.name} {kind}: mean TV {g.value.mean():.3f}")
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    write_results(df, "belief_vs_exact", config={"vae": {d: VAEConfig.for_domain(d, args.profile).to_dict()
                                                         for d in ("gridworld", "semicircle")}},
                  profile=args.profile, command=f"python scripts/belief_vs_exact.py --profile {args.profile}")


if __name__ == "__main__":
    main()
