"""Does the collectors' SAC learn a mean-action gait on the canonical task? Gymnasium's Ant-v5, forward.

Issue "Ant walks": before blaming a budget, calibrate the learner on the canonical environment with
published curves. This probe trains :class:`~borel_lib.agents.EnsembleSAC` online on Gymnasium's ``Ant-v5``
(forward velocity + healthy reward − control cost, 27-d observation without contact forces, episodes of at
most 1,000 steps ending when the torso leaves its healthy height) with the usual protocol:
``--random-steps`` uniform actions, then one update per environment step. Several seeds train at once as
independent members of one ensemble (one environment each; members share nothing but the batched matmuls).

``--sac authors`` is the authors' collecting SAC (α fixed at 0.2, 128×128, lr 3e-4, clamped log-std);
``--sac calibrated`` is :data:`borel_lib.agents.CALIBRATED_SAC` (CleanRL's settings); ``--set k=v`` changes
single fields. Every ``--eval-every`` steps it runs ``--eval-episodes`` episodes per seed with the mean
action and as many with sampled actions (fixed seeds) and records return, length, the mean forward velocity
of the torso (``x_velocity``, over the steps the episode lasted) and α. The published anchors (SAC on Ant
walks from about 60k-150k steps; README "Ant-Semi-circle") are what the mean action's speed is read against:
the semi-circle task needs about 0.1 units/s.

Writes ``data/results/<profile>/probes/gym_ant/probe_sac_gym_ant_<label>.csv`` (one row per evaluation, seed, mode, metric)
and checkpoints every evaluation under ``data/checkpoints/<profile>/probe_sac_gym_ant_<label>/``: a killed
run resumes there (same command).
Usage: python scripts/probe_sac_gym_ant.py --sac calibrated --seeds 0 1 --steps 150000
"""

from __future__ import annotations

import argparse
import pickle
import shlex
import sys

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.agents import CALIBRATED_SAC, EnsembleReplay, EnsembleSAC, SACConfig
from borel_lib.cli import parse_overrides
from borel_lib.config import ConfigError
from borel_lib.device import get_device
from borel_lib.io import atomic_path
from borel_lib.paths import checkpoints_dir
from borel_lib.results import write_results
from borel_lib.seeding import spawn_generators

PRESETS = {"authors": dict(hidden=(128, 128), alpha=0.2), "calibrated": CALIBRATED_SAC}


def make_ant() -> gym.Env:
    return gym.make("Ant-v5", include_cfrc_ext_in_observation=False, max_episode_steps=1000)


@torch.no_grad()
def evaluate(agent: EnsembleSAC, deterministic: bool, seeds: list[int]) -> dict[str, np.ndarray]:
    """Per member ``(E,)``: mean return, length and forward velocity (``info['x_velocity']`` averaged over
    the episode's steps) over one episode per evaluation seed; every member's episodes run in lockstep."""
    E = agent.E
    envs = [make_ant() for _ in range(E)]
    out = {k: np.zeros(E) for k in ("return", "length", "x_velocity")}
    for seed in seeds:
        obs = np.stack([env.reset(seed=seed)[0] for env in envs])
        ret, n, vx, alive = np.zeros(E), np.zeros(E), np.zeros(E), np.ones(E, bool)
        while alive.any():
            a = agent.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=deterministic).cpu().numpy()
            for i in np.flatnonzero(alive):
                obs[i], r, term, trunc, info = envs[i].step(a[i])
                ret[i], n[i], vx[i] = ret[i] + r, n[i] + 1, vx[i] + info["x_velocity"]
                alive[i] = not (term or trunc)
        out["return"] += ret / len(seeds)
        out["length"] += n / len(seeds)
        out["x_velocity"] += vx / n / len(seeds)
    return out


def _env_state(env: gym.Env) -> dict:
    """Everything a bit-exact resume needs: the whole ``MjData`` (pickled; Ant-v5's forward reward reads the
    torso position that the last ``mj_step`` left, not one recomputed from qpos), step count, reset RNG."""
    u = env.unwrapped
    return {"mjdata": pickle.dumps(u.data), "elapsed": env._elapsed_steps, "rng": u.np_random.bit_generator.state}


def _set_env_state(env: gym.Env, state: dict) -> np.ndarray:
    env.reset(seed=0)
    u = env.unwrapped
    u.data = pickle.loads(state["mjdata"])
    env._elapsed_steps = state["elapsed"]
    u.np_random.bit_generator.state = state["rng"]
    return u._get_obs()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sac", choices=sorted(PRESETS), default="calibrated", help="SAC settings (default: calibrated)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="SACConfig fields to change")
    parser.add_argument("--steps", type=cli.positive_int, default=150_000, help="environment steps (= updates after the random ones)")
    parser.add_argument("--random-steps", type=cli.positive_int, default=5_000)
    parser.add_argument("--eval-every", type=cli.positive_int, default=10_000)
    parser.add_argument("--eval-episodes", type=cli.positive_int, default=2)
    parser.add_argument("--seeds", type=cli.seed, nargs="+", default=[0, 1], help="one ensemble member (and env) per seed")
    parser.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"], help="results folder")
    cli.add_device_argument(parser)
    parser.add_argument("--stop-at", type=int, default=None, help=argparse.SUPPRESS)  # tests: a kill after a checkpoint
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # every --set value checked before any work
        overrides = {**PRESETS[args.sac], **parse_overrides(args.set, SACConfig, "set")}
        cfg = SACConfig(**{**overrides, "gamma": 0.99, "batch_size": 256})
    except ConfigError as err:
        parser.error(str(err))
    device = get_device(args.device)
    torch.set_num_threads(1)
    E = len(args.seeds)
    envs = [make_ant() for _ in args.seeds]
    rngs = [spawn_generators(s, 2)[0] for s in args.seeds]
    obs_dim, act_dim = envs[0].observation_space.shape[0], envs[0].action_space.shape[0]
    agent = EnsembleSAC(obs_dim, act_dim, args.seeds, cfg, device)
    replay = EnsembleReplay(E, args.steps, obs_dim, act_dim, device)
    extra = "".join(f"_{k}{'x'.join(map(str, v)) if isinstance(v, tuple) else v}"
                    for k, v in parse_overrides(args.set, SACConfig, "set").items())
    label = f"{args.sac}{extra}_steps{args.steps}_seeds{'-'.join(map(str, args.seeds))}"
    ckpt = checkpoints_dir(args.profile, create=False) / f"probe_sac_gym_ant_{label}" / "probe.pt"
    rows: list[dict] = []
    start = 1
    obs = np.stack([env.reset(seed=int(g.integers(2**31 - 1)))[0] for env, g in zip(envs, rngs)])
    if ckpt.is_file():
        # onto the CPU whatever device wrote it: the agent and the replay copy tensors to their device, and
        # torch.Generator states must stay CPU tensors (a checkpoint mapped to CUDA would fail in Generator.set_state)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        agent.load_full_state_dict(state["agent"])
        replay.load_state_dict(state["replay"])
        rows, start = state["rows"], state["step"] + 1
        for g, s in zip(rngs, state["rngs"]):
            g.bit_generator.state = s
        obs = np.stack([_set_env_state(env, s) for env, s in zip(envs, state["envs"])])
        print(f"resumed {ckpt} at step {state['step']}")
    eval_seeds = [10_000 + i for i in range(args.eval_episodes)]
    for step in tqdm(range(start, args.steps + 1), desc="SAC on Ant-v5", mininterval=10, initial=start - 1,
                     total=args.steps):
        if step <= args.random_steps:
            a = np.stack([g.uniform(-1, 1, act_dim) for g in rngs]).astype(np.float32)
        else:
            a = agent.act(torch.as_tensor(obs, dtype=torch.float32)).cpu().numpy()
        store = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "dones")}
        nxt = obs.copy()
        for i, env in enumerate(envs):
            o2, r, te, tr, _ = env.step(a[i])
            for k, v in zip(store, (obs[i], a[i], r, o2, float(te))):  # truncation is not an end of the MDP
                store[k].append(v)
            nxt[i] = env.reset(seed=int(rngs[i].integers(2**31 - 1)))[0] if (te or tr) else o2
        replay.add(**{k: torch.as_tensor(np.asarray(v, np.float32))[:, None] for k, v in store.items()})
        obs = nxt
        if step > args.random_steps:
            agent.update(replay.sample(256, agent.generators))
        if step % args.eval_every == 0 or step == args.steps:
            alpha = agent.alpha()[:, 0].cpu().numpy()
            for mode, det in (("mean_action", True), ("sampled", False)):
                for metric, values in evaluate(agent, det, eval_seeds).items():
                    for i, seed in enumerate(args.seeds):
                        rows.append({"domain": "gym_ant_v5", "method": f"sac_{args.sac}{extra}", "variant": mode,
                                     "seed": seed, "episode": 1, "metric": metric, "value": round(float(values[i]), 4),
                                     "steps": step})
            for i, seed in enumerate(args.seeds):
                rows.append({"domain": "gym_ant_v5", "method": f"sac_{args.sac}{extra}", "variant": "training",
                             "seed": seed, "episode": 1, "metric": "alpha", "value": round(float(alpha[i]), 5),
                             "steps": step})
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(ckpt) as tmp:
                torch.save({"agent": agent.full_state_dict(), "replay": replay.state_dict(), "rows": rows, "step": step,
                            "rngs": [g.bit_generator.state for g in rngs], "envs": [_env_state(e) for e in envs]}, tmp)
            speed = [r["value"] for r in rows if r["steps"] == step and r["metric"] == "x_velocity"
                     and r["variant"] == "mean_action"]
            tqdm.write(f"step {step}: mean-action x velocity {np.round(speed, 3).tolist()}, alpha {np.round(alpha, 4).tolist()}")
            if args.stop_at is not None and step >= args.stop_at:
                return 0
    table = pd.DataFrame(rows)
    print(table[table.variant != "training"].pivot_table(index=["steps", "seed"], columns=["variant", "metric"],
                                                          values="value").round(3).to_string())
    path = write_results(table, f"probe_sac_gym_ant_{label}", profile=args.profile,
                         command="python scripts/probe_sac_gym_ant.py " + shlex.join(argv or sys.argv[1:]),
                         config={"sac": cfg.to_dict(),
                                 **{k: v for k, v in vars(args).items() if k not in ("set", "device")},
                                 "set": args.set})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
