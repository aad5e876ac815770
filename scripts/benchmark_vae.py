"""Belief VAE: full all-pairs decoding (the paper) vs decoding a random subset of K pairs per trial.

Three arms from the same initialisation, on the same stream of Semi-circle minibatches (reward
relabelling on, paper VAE sizes, 4 tasks x 8 trials of 2 x 60 steps per update):

- ``full``: every belief decodes every transition of its trial (the paper), ``--updates`` updates;
- ``subset, same updates``: K random (belief, transition) pairs per trial, the same updates;
- ``subset, same time``: K pairs, as many updates as fit in the wall-clock time ``full`` took.

Every arm is evaluated at ``--evals`` points on 32 held-out trials (trials of the dataset never used
for training, decoded with full decoding whatever the arm): the full reconstruction loss (lower is
better), the mean squared error of the reward predicted from the *end-of-trial* belief, and the arc
angle error of that belief (the angle on the semicircle where the decoder predicts the highest reward,
against the true goal's angle; about 1.05 rad is a uniform guess, 0 is perfect).

Uses the quick dataset if it exists (``python -m borel_lib.collect semicircle --profile quick``), else
the smoke one. One torch thread.
Usage: python scripts/benchmark_vae.py [--updates 150] [--k 1024] [--evals 5]; writes
data/benchmarks/vae_decoding.md and data/benchmarks/vae_decoding.csv (the curves).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.collect import run_collection
from borel_lib.envs import make_env
from borel_lib.paths import datasets_dir, repo_root
from borel_lib.relabel import sample_trials
from borel_lib.vae import BeliefVAE, VAEConfig, reward_map

_ARC = np.linspace(0.0, np.pi, 181)


def _evaluate(vae: BeliefVAE, cfg: VAEConfig, hold: dict[str, torch.Tensor], goal_angle: np.ndarray) -> dict:
    evaluator = BeliefVAE(3, 2, cfg.replace(decode_subset=None))
    evaluator.load_state_dict(vae.state_dict())
    with torch.no_grad():
        _, parts = evaluator.loss(hold["obs"], hold["actions"], hold["rewards"], hold["next_obs"],
                                  torch.Generator().manual_seed(2))
        mu, _ = vae.encoder(hold["actions"], hold["rewards"], hold["next_obs"])
        z_end = mu[:, -1:].expand(-1, hold["rewards"].shape[1], -1)
        pred = vae.reward_decoder(z_end, hold["obs"], hold["actions"], hold["next_obs"])
        end_mse = ((pred - hold["rewards"]) ** 2).mean().item()
        best = _ARC[reward_map(vae, mu[:, -1], np.stack([np.cos(_ARC), np.sin(_ARC)], -1)).argmax(-1)]
    return {"held_out_recon": parts["recon"].item(), "end_reward_mse": end_mse,
            "arc_error_rad": float(np.abs(best - goal_angle).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=150, help="updates of the full-decoding arm")
    parser.add_argument("--k", type=int, default=1024, help="decoded (belief, transition) pairs per trial")
    parser.add_argument("--evals", type=int, default=5, help="evaluation points per arm")
    args = parser.parse_args()
    if args.updates < 1 or args.k < 1 or args.evals < 1:
        parser.error("--updates, --k and --evals must be positive")
    torch.set_num_threads(1)
    profile = "quick" if (datasets_dir("quick") / "semicircle_uniform_seed0").is_dir() else "smoke"
    ds, _ = run_collection("semicircle", profile, progress=False)
    env = make_env("semicircle")
    cfg = VAEConfig.for_domain("semicircle", "paper").replace(tasks_per_batch=4)
    rng = np.random.default_rng(0)
    held = rng.choice(ds.n_tasks * ds.n_trials, size=min(32, ds.n_tasks * ds.n_trials // 2), replace=False)
    held_t, held_m = np.divmod(held, ds.n_trials)
    held_set = set(held.tolist())
    hb = sample_trials(ds.arrays, held_t, held_m, tasks=ds.tasks, episodes=2, horizon=60, mode="none", rng=rng)
    hold = {k: torch.as_tensor(getattr(hb, k)) for k in ("obs", "actions", "rewards", "next_obs")}
    tasks = np.asarray(ds.tasks)
    goal_angle = np.arctan2(tasks[held_t, 1], tasks[held_t, 0])

    def batch_stream():
        brng = np.random.default_rng(1)
        while True:
            ti = np.repeat(brng.choice(ds.n_tasks, 4, replace=False), 8)
            mi = brng.integers(0, ds.n_trials, ti.size)
            for j in np.flatnonzero([t * ds.n_trials + m in held_set for t, m in zip(ti, mi)]):
                while ti[j] * ds.n_trials + mi[j] in held_set:  # never train on a held-out trial
                    mi[j] = brng.integers(0, ds.n_trials)
            b = sample_trials(ds.arrays, ti, mi, tasks=ds.tasks, episodes=2, horizon=60, reward_fn=env.reward,
                              rng=brng)
            yield {k: torch.as_tensor(getattr(b, k)) for k in ("obs", "actions", "rewards", "next_obs")}

    torch.manual_seed(0)
    init = {k: v.clone() for k, v in BeliefVAE(3, 2, cfg).state_dict().items()}

    def run(name: str, k: int | None, updates: int | None, seconds: float | None) -> tuple[list[dict], float, int]:
        vae = BeliefVAE(3, 2, cfg.replace(decode_subset=k))
        vae.load_state_dict(init)
        gen = torch.Generator().manual_seed(1)
        stream = batch_stream()
        rows = [{"arm": name, "updates": 0, "seconds": 0.0, **_evaluate(vae, cfg, hold, goal_angle)}]
        train_sec, done = 0.0, 0
        if updates is not None:
            marks = set(np.linspace(0, updates, args.evals + 1).round().astype(int)[1:].tolist())
        else:
            time_marks = list(np.linspace(0, seconds, args.evals + 1)[1:])
        bar = tqdm(total=updates, desc=name, leave=False) if updates is not None else \
            tqdm(total=seconds, desc=name, leave=False, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s")
        while True:
            batch = next(stream)
            start = time.perf_counter()
            vae.train_step(batch, generator=gen)
            dt = time.perf_counter() - start
            train_sec += dt
            done += 1
            bar.update(1 if updates is not None else dt)
            if updates is not None:
                hit, finished = done in marks, done >= updates
            else:
                hit = bool(time_marks) and train_sec >= time_marks[0]
                while time_marks and train_sec >= time_marks[0]:
                    time_marks.pop(0)
                finished = not time_marks
            if hit or finished:
                rows.append({"arm": name, "updates": done, "seconds": train_sec,
                             **_evaluate(vae, cfg, hold, goal_angle)})
            if finished:
                bar.close()
                return rows, train_sec, done

    full_rows, full_sec, _ = run("full (paper)", None, args.updates, None)
    sub_rows, sub_sec, _ = run(f"subset K={args.k}, same updates", args.k, args.updates, None)
    eq_rows, _, eq_updates = run(f"subset K={args.k}, same time", args.k, None, full_sec)
    curves = pd.DataFrame(full_rows + sub_rows + eq_rows)
    out = repo_root() / "data" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    curves.to_csv(out / "vae_decoding.csv", index=False, float_format="%.6g")
    final = curves.groupby("arm", sort=False).tail(1)
    lines = [f"Semi-circle ({profile} data, reward relabelling), paper VAE sizes, 4 tasks x 8 trials x 120 steps "
             f"per update, same init and minibatch stream, one CPU thread. Full decoding: {args.updates} updates, "
             f"{full_sec / args.updates:.3f} s/update; subset K={args.k}: {sub_sec / args.updates:.3f} s/update "
             f"({full_sec / sub_sec:.1f}x faster), {eq_updates} updates in the same training time. Held-out: "
             f"{held.size} logged trials never trained on, always scored with full decoding. Arc error: a uniform guess is "
             f"about {math.pi / 3:.2f} rad. Curves: `vae_decoding.csv`.", "",
             "| decoding | updates | training s | held-out recon (full ELBO) | end-of-trial reward MSE "
             "| end-of-trial arc error (rad) |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.arm} | {r.updates} | {r.seconds:.0f} | {r.held_out_recon:.3f} | {r.end_reward_mse:.4f} | "
              f"{r.arc_error_rad:.3f} |" for r in final.itertuples()]
    start_row = curves.iloc[0]
    lines += [f"| (initialisation) | 0 | 0 | {start_row.held_out_recon:.3f} | {start_row.end_reward_mse:.4f} | "
              f"{start_row.arc_error_rad:.3f} |"]
    (out / "vae_decoding.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
