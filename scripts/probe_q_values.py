"""Offline-DQN diagnostic for the Gridworld BOReL runs: are the Q-values calibrated?

For every finished Gridworld run under ``data/checkpoints/<profile>/borel_gridworld_*/agent.pt`` (the
quick runs, and the longer ``--updates`` / ``--cql-alpha`` ones), loads the VAE and the DQN, relabels
the logged data with the belief and reports, on 20,000 random logged transitions:

- the mean Q of the logged action and the mean max over actions. No discounted return of a 60-step
  trial can exceed Σ_{t<60} γ^t = 45.3 (reward at most +1 per step, γ = 0.99), so a Q far above that
  is over-estimation: the max over actions the data never took, compounded by bootstrapping;
- the agreement of the greedy action with the logged one on the collecting agents' last 20 trials,
  episodes 3-4, off the goal (there the logged agents walk straight to a goal the belief knows) and
  at the goal (where the logged agents stay).

Usage: python scripts/probe_q_values.py [--profile quick]; writes data/benchmarks/q_probe_<profile>.md.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from borel_lib.collect import run_collection
from borel_lib.paths import repo_root
from borel_lib.pipeline import finished_runs, load_trained, relabel_states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset, _ = run_collection("gridworld", args.profile, progress=False)
    rows = []
    for spec in finished_runs(args.profile, "gridworld"):
        ck = spec.checkpoint_dir() / "agent.pt"
        if not ck.is_file():
            continue
        belief, agent = load_trained(spec, device="cpu")
        done = torch.load(ck, map_location="cpu", weights_only=False)["updates"]
        cfg = agent.cfg
        hs = relabel_states(belief, dataset, time_input=cfg.time_input, goal_terminal=cfg.goal_terminal)
        gamma = agent.cfg.gamma
        rng = np.random.default_rng(0)
        N, M, T = hs.rewards.shape
        idx = (rng.integers(0, N, 20_000), rng.integers(0, M, 20_000), rng.integers(0, T, 20_000))
        with torch.no_grad():
            q = agent.agent.q(torch.as_tensor(hs.obs[idx])[None])[0]
            a = torch.as_tensor(hs.actions[idx][:, 0]).long()
            q_data = q.gather(-1, a[:, None])[:, 0].mean().item()
            q_max = q.max(-1).values.mean().item()
            late = hs.obs[:, -20:, 30:].reshape(-1, hs.obs.shape[-1])  # episodes 3-4 of the last 20 trials
            greedy = agent.agent.q(torch.as_tensor(late)[None])[0].argmax(-1).numpy()
        logged = hs.actions[:, -20:, 30:, 0].reshape(-1)
        off_goal = hs.rewards[:, -20:, 30:].reshape(-1) < 0
        rows.append((spec.tag, spec.seed, done, q_data, q_max, (greedy == logged)[off_goal].mean(),
                     (greedy == logged)[~off_goal].mean()))
        print(rows[-1], flush=True)
    bound = sum(gamma**t for t in range(T)) if rows else float("nan")
    lines = [f"Gridworld ({args.profile}) offline DQN: Q on 20,000 random logged transitions (no return exceeds "
             f"{bound:.1f}), and agreement of the greedy action with the logged one on the last 20 trials per "
             "task, episodes 3-4.", "",
             "| run | seed | updates | mean Q(s, a_logged) | mean max_a Q(s, a) | "
             "agreement off the goal | agreement at the goal |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r} | {s} | {u:,} | {qd:.1f} | {qm:.1f} | {ag_off:.2f} | {ag_at:.2f} |"
              for r, s, u, qd, qm, ag_off, ag_at in rows]
    out = repo_root() / "data" / "benchmarks" / f"q_probe_{args.profile}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
