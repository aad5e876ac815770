"""Does the collectors' SAC learn a mean-action gait on the canonical task? Gymnasium's Ant-v5, forward.

Issue "MuJoCo end to end": on Ant-Semi-circle the collecting SAC walks only when it samples; its mean
action settles into a static posture (``scripts/probe_ant_gait.py``). This probe swaps the task, not the
learner: the same :class:`~borel_lib.agents.EnsembleSAC` (one member, the quick Ant collectors'
128×128 networks, γ 0.99, fixed α, batch 256) trains online on Gymnasium's ``Ant-v5`` (forward
velocity + healthy reward − control cost, 27-d observation without contact forces, episodes of at most
1,000 steps ending when the torso leaves its healthy height), the usual protocol: ``--random-steps``
uniform actions, then one update per environment step. Every ``--eval-every`` steps it runs
``--eval-episodes`` episodes with the mean action and as many with sampled actions (fixed seeds) and
records their return, length and mean forward velocity of the torso. If the mean action walks here
(forward velocity near the sampled one), the learner is sound and the Ant-Semi-circle failure lies in
that task's reward, observation or budget; if not, in the learner.
Writes ``data/results/<profile>/probe_sac_gym_ant_<label>.csv`` (one row per evaluation, mode, metric).
Usage: python scripts/probe_sac_gym_ant.py --steps 60000 [--alpha 0.2] [--target-entropy -8] [--seed 0]
"""

from __future__ import annotations

import argparse
import shlex
import sys

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.agents import EnsembleReplay, EnsembleSAC, SACConfig
from borel_lib.results import write_results
from borel_lib.seeding import spawn_generators


def make_ant() -> gym.Env:
    return gym.make("Ant-v5", include_cfrc_ext_in_observation=False, max_episode_steps=1000)


@torch.no_grad()
def evaluate(agent: EnsembleSAC, deterministic: bool, seeds: list[int]) -> dict[str, float]:
    """Mean return, length and forward velocity (x_velocity of ``info``) over one episode per seed."""
    env = make_ant()
    returns, lengths, speeds = [], [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        ret, vx, done, n = 0.0, [], False, 0
        while not done:
            a = agent.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=deterministic)[0]
            obs, r, term, trunc, info = env.step(a.cpu().numpy())
            ret, n, done = ret + float(r), n + 1, term or trunc
            vx.append(float(info["x_velocity"]))
        returns.append(ret), lengths.append(n), speeds.append(float(np.mean(vx)))
    return {"return": float(np.mean(returns)), "length": float(np.mean(lengths)), "x_velocity": float(np.mean(speeds))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="environment steps (= updates after the random ones)")
    parser.add_argument("--random-steps", type=int, default=5_000)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=0.2, help="SAC's fixed entropy weight (the collectors': 0.2)")
    parser.add_argument("--target-entropy", type=float, default=None,
                        help="automatic entropy tuning towards this entropy from --alpha (default: α fixed)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"], help="results folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    env_rng, _ = spawn_generators(args.seed, 2)
    env = make_ant()
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = EnsembleSAC(obs_dim, act_dim, [args.seed], SACConfig(hidden=tuple(args.hidden), gamma=0.99, alpha=args.alpha,
                                                                 target_entropy=args.target_entropy, batch_size=256), "cpu")
    replay = EnsembleReplay(1, args.steps, obs_dim, act_dim, torch.device("cpu"))
    obs, _ = env.reset(seed=int(env_rng.integers(2**31 - 1)))
    eval_seeds = [10_000 + i for i in range(args.eval_episodes)]
    rows: list[dict] = []
    tuned = "" if args.target_entropy is None else f"_target{args.target_entropy:g}"
    method = f"sac_alpha{args.alpha:g}{tuned}"
    for step in tqdm(range(1, args.steps + 1), desc="SAC on Ant-v5", mininterval=5):
        if step <= args.random_steps:
            a = env_rng.uniform(-1, 1, act_dim).astype(np.float32)
        else:
            a = agent.act(torch.as_tensor(obs, dtype=torch.float32)[None])[0].cpu().numpy()
        nxt, r, term, trunc, _ = env.step(a)
        replay.add(obs=torch.as_tensor(obs)[None, None], actions=torch.as_tensor(a)[None, None],
                   rewards=torch.tensor([[r]]), next_obs=torch.as_tensor(nxt)[None, None],
                   dones=torch.tensor([[float(term)]]))  # truncation is not an end of the MDP
        obs = nxt
        if term or trunc:
            obs, _ = env.reset(seed=int(env_rng.integers(2**31 - 1)))
        if step > args.random_steps:
            agent.update(replay.sample(256, agent.generators))
        if step % args.eval_every == 0:
            for mode, det in (("mean_action", True), ("sampled", False)):
                for metric, value in evaluate(agent, det, eval_seeds).items():
                    rows.append({"domain": "gym_ant_v5", "method": method, "variant": mode,
                                 "seed": args.seed, "episode": 1, "metric": metric, "value": round(value, 3),
                                 "steps": step})
    table = pd.DataFrame(rows)
    print(table.pivot_table(index=["steps"], columns=["variant", "metric"], values="value").round(2).to_string())
    label = f"alpha{args.alpha:g}{tuned}_h{'x'.join(map(str, args.hidden))}_steps{args.steps}_seed{args.seed}"
    path = write_results(table, f"probe_sac_gym_ant_{label}", profile=args.profile,
                         command="python scripts/probe_sac_gym_ant.py " + shlex.join(argv or sys.argv[1:]),
                         config=vars(args))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
