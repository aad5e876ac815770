"""How well each finished quick BOReL run's belief VAE identifies the task on the logged data.

For every ``data/checkpoints/<profile>/vae_<domain>_uniform_<relabelling>_seed<S>/vae.pt`` (Gridworld and
Semi-circle, their uniform-start data), loads the VAE and reports :func:`borel_lib.pipeline.belief_identification` on the last 20
trials per task: Gridworld, the fraction of trials whose most likely goal cell is the goal (chance
1/21); Semi-circle, the mean angle error in radians of the highest-reward arc point (a uniform guess
about 1.05). Columns: the prior (t=0), after episode 1, at the end of the trial.
Usage: python scripts/probe_beliefs.py [--profile quick]; writes data/benchmarks/belief_probe_<profile>.md.
"""

from __future__ import annotations

import argparse
import re

import torch

from borel_lib.collect import run_collection
from borel_lib.envs import make_env
from borel_lib.paths import checkpoints_dir, repo_root
from borel_lib.pipeline import belief_identification, train_vae
from borel_lib.vae import VAEConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = ["| domain | relabelling | seed | VAE epochs | metric | prior | after episode 1 | end of trial |",
             "|---|---|---:|---:|---|---:|---:|---:|"]
    for ck in sorted(checkpoints_dir(args.profile).glob("vae_*_seed*/vae.pt")):
        m = re.fullmatch(r"vae_(gridworld|semicircle)_uniform_(reward_relabelling|none)_seed(\d+)", ck.parent.name)
        if m is None:
            continue
        domain, mode, seed = m.group(1), m.group(2), int(m.group(3))
        n_actions = 5 if domain == "gridworld" else None
        cfg = VAEConfig.for_domain(domain, args.profile)
        done = torch.load(ck, map_location="cpu", weights_only=False)["epoch"]
        if done < cfg.epochs:  # never train here: the run may be writing this checkpoint right now
            print(f"skipping {ck.parent.name}: VAE at epoch {done} of {cfg.epochs} (run unfinished)")
            continue
        dataset, _ = run_collection(domain, args.profile, progress=False)
        vae, log = train_vae(dataset, cfg, mode, seed=seed, checkpoint=ck, progress=False, n_actions=n_actions)
        env = make_env(domain)
        t1, tend = env.horizon, env.horizon * env.episodes_per_trial
        res = belief_identification(vae, dataset, times=(0, t1, tend), n_actions=n_actions)
        metric = "goal cell right (fraction)" if domain == "gridworld" else "arc angle error (rad)"
        lines.append(f"| {domain} | {mode} | {seed} | {int(log.epoch.max())} | {metric} | {res[0]:.3f} | "
                     f"{res[t1]:.3f} | {res[tend]:.3f} |")
        print(lines[-1], flush=True)
    out = repo_root() / "data" / "benchmarks" / f"belief_probe_{args.profile}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(__doc__.split("\n\n")[1].replace("\n", " ") + "\n\n" + "\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
