"""How close each trained belief VAE is to the exact posterior (issue "BOReL that learns to search").

For every finished VAE of the profile (``data/checkpoints/<profile>/vae_<domain>_<relabelling>_seed<S>``)
the VAE's goal distribution implied by its reward decoder is compared with the exact posterior
(:func:`borel_lib.belief.belief_tv`: total variation, 0 = identical, 1 = disjoint) after every step of
three kinds of trials:

- ``scripted_search``: trials that search without being told where to go (Gridworld: a serpentine
  sweep, :func:`borel_lib.baselines.gridworld_sweep_trials`, for each of the 21 goals; Semi-circle: the
  search-then-go script, :func:`borel_lib.baselines.semicircle_search_then_go`, for the 20 evaluation
  goals). These are the beliefs exploration needs: cells or arc segments ruled out, goal not yet found.
- ``logged_late``: the last 20 logged trials of every task (goal-reaching; training data).
- ``logged_early``: the first 20 logged trials of every task (random warm-up; training data).

Writes ``data/results/<profile>/belief_vs_exact.csv`` (tidy; column ``t`` = transitions seen; metric
``tv``, mean over trials) with its config. Usage: python scripts/belief_vs_exact.py [--profile quick]
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import pandas as pd
import torch

from borel_lib.baselines import gridworld_sweep_trials, semicircle_search_then_go
from borel_lib.belief import VAEBelief, belief_tv, train_vae
from borel_lib.borel import eval_tasks
from borel_lib.collect import run_collection
from borel_lib.exact_belief import ExactBelief
from borel_lib.paths import checkpoints_dir
from borel_lib.results import write_results
from borel_lib.vae import VAEConfig


def trials_for(domain: str, dataset) -> dict[str, dict[str, np.ndarray]]:
    if domain == "gridworld":
        scripted = gridworld_sweep_trials(ExactBelief("gridworld").env.candidate_goals())
    else:
        scripted = {}
        semicircle_search_then_go(eval_tasks("semicircle", 0), record=scripted)
    M = dataset.n_trials
    out = {"scripted_search": scripted}
    for name, sl in (("logged_late", slice(M - 20, M)), ("logged_early", slice(0, 20))):
        out[name] = {k: np.asarray(getattr(dataset, k)[:, sl]).reshape(-1, *getattr(dataset, k).shape[2:])
                     for k in ("actions", "rewards", "next_obs")}
    return out


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
        n_actions = 5 if domain == "gridworld" else None
        dataset, _ = run_collection(domain, args.profile, progress=False)
        vae, _ = train_vae(dataset, cfg, mode, seed=seed, checkpoint=ck, progress=False, n_actions=n_actions)
        belief, exact = VAEBelief(vae, n_actions), ExactBelief(domain)
        for kind, tr in trials_for(domain, dataset).items():
            tv = belief_tv(belief, exact, tr["actions"], tr["rewards"], tr["next_obs"]).mean(0)
            frames.append(pd.DataFrame({"domain": domain, "method": "vae_rr" if mode != "none" else "vae_no_rr",
                                        "variant": kind, "seed": seed, "episode": 0, "metric": "tv", "value": tv,
                                        "t": np.arange(len(tv))}))
            print(f"{ck.parent.name} {kind}: mean TV {tv.mean():.3f} (episode 1 {tv[: exact.env.horizon + 1].mean():.3f})")
    df = pd.concat(frames, ignore_index=True)
    write_results(df, "belief_vs_exact", config={"vae": {d: VAEConfig.for_domain(d, args.profile).to_dict()
                                                         for d in ("gridworld", "semicircle")}},
                  profile=args.profile, command=f"python scripts/belief_vs_exact.py --profile {args.profile}")


if __name__ == "__main__":
    main()
