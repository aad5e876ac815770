"""Belief VAE: full all-pairs decoding (the paper) vs decoding a random subset of K pairs per trial.

Trains two VAEs from the same initialisation on the same Semi-circle minibatches (with reward
relabelling) for the same number of updates and reports seconds per update and belief quality: the
full-decoding reconstruction loss on held-out trials (lower is better), and the error of the reward
predicted from the belief at the *end* of each held-out trial (how well the belief has identified
the task). Uses the quick dataset if it exists, else collects the smoke one.
Usage: python scripts/benchmark_vae.py [--updates 40] [--k 1024]; writes data/benchmarks/vae_decoding.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from borel_lib.collect import run_collection
from borel_lib.envs import make_env
from borel_lib.paths import datasets_dir, repo_root
from borel_lib.relabel import sample_trials
from borel_lib.vae import BeliefVAE, VAEConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=40)
    parser.add_argument("--k", type=int, default=1024, help="decoded (belief, transition) pairs per trial")
    args = parser.parse_args()
    torch.set_num_threads(1)
    profile = "quick" if (datasets_dir("quick") / "semicircle_uniform_seed0").is_dir() else "smoke"
    ds, _ = run_collection("semicircle", profile, progress=False)
    env = make_env("semicircle")
    cfg = VAEConfig.for_domain("semicircle", "paper").replace(tasks_per_batch=4)
    rng = np.random.default_rng(0)
    held = rng.choice(ds.n_tasks * ds.n_trials, size=32, replace=False)
    held_t, held_m = np.divmod(held, ds.n_trials)
    hb = sample_trials(ds.arrays, held_t, held_m, tasks=ds.tasks, episodes=2, horizon=60, mode="none", rng=rng)
    hold = {k: torch.as_tensor(getattr(hb, k)) for k in ("obs", "actions", "rewards", "next_obs")}
    batches = []
    for _ in range(args.updates):
        ti = np.repeat(rng.choice(ds.n_tasks, 4, replace=False), 8)
        mi = rng.integers(0, ds.n_trials, ti.size)
        b = sample_trials(ds.arrays, ti, mi, tasks=ds.tasks, episodes=2, horizon=60, reward_fn=env.reward, rng=rng)
        batches.append({k: torch.as_tensor(getattr(b, k)) for k in ("obs", "actions", "rewards", "next_obs")})
    rows = []
    torch.manual_seed(0)
    full = BeliefVAE(3, 2, cfg)
    init = {k: v.clone() for k, v in full.state_dict().items()}
    for name, k in (("full (paper)", None), (f"subset K={args.k}", args.k)):
        vae = BeliefVAE(3, 2, cfg.replace(decode_subset=k))
        vae.load_state_dict(init)
        gen = torch.Generator().manual_seed(1)
        start = time.perf_counter()
        for b in batches:
            vae.train_step(b, generator=gen)
        sec = (time.perf_counter() - start) / len(batches)
        evaluator = BeliefVAE(3, 2, cfg)
        evaluator.load_state_dict(vae.state_dict())
        with torch.no_grad():
            _, parts = evaluator.loss(hold["obs"], hold["actions"], hold["rewards"], hold["next_obs"], torch.Generator().manual_seed(2))
            mu, _ = vae.encoder(hold["actions"], hold["rewards"], hold["next_obs"])
            z_end = mu[:, -1:].expand(-1, hold["rewards"].shape[1], -1)
            pred = vae.reward_decoder(z_end, hold["obs"], hold["actions"], hold["next_obs"])
            end_err = ((pred - hold["rewards"]) ** 2).mean().item()
        rows.append((name, sec, parts["recon"].item(), end_err))
        print(f"{name:>16}: {sec:.3f} s/update, held-out full recon {parts['recon'].item():.3f}, "
              f"end-of-trial reward MSE {end_err:.4f}", flush=True)
    lines = [f"Semi-circle ({profile} data), paper VAE sizes, 32 trials x 120 steps per update, {args.updates} "
             "updates from the same init, one CPU thread.", "",
             "| decoding | s / update | held-out recon (full ELBO) | end-of-trial reward MSE |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {s:.3f} | {r:.3f} | {e:.4f} |" for n, s, r, e in rows]
    out = repo_root() / "data" / "benchmarks" / "vae_decoding.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
