"""The same learner online: is offline data coverage what holds exact-belief BOReL back (Gridworld, Semi-circle)?

Issue "BOReL that learns to search": with the exact posterior as its belief, the quick offline DQN
peaks near 8.8 per episode between 50k and 90k updates and falls back to about 7.9 (target 8.4; the
Bayes-optimal value is 9.30); what it loses is episode 2 after a failed episode-1 sweep. Two causes fit:
the offline data rarely visits those hyper-states (coverage), or the learner itself (network, γ, target
updates, greedy churn) cannot hold the Bayes-optimal policy. This probe keeps *everything* of the quick
exact-belief run (:class:`borel_lib.pipeline.RunSpec` ``gridworld --belief exact``: hyper-states, time input,
goal-terminal targets, the DQN, its optimiser, batch shape and update count, the evaluation) and changes one
thing, where the training transitions come from:

- ``--data online``: only trials the learner collects itself in the BAMDP (every
  ``--collect-every`` updates, one ε-greedy trial per goal, the belief the exact posterior along it;
  ε from 1 to ``--eps-final`` over the first half of the updates); the same learner online.
- ``--data offline+online``: the run's offline hyper-states plus those online trials, each minibatch
  element drawn from the online trials with probability ``--online-fraction``: the offline learner
  shown the hyper-states its own policy reaches.

If the online learner holds ≥ 8.4 where the offline one falls back, the offline data's coverage is the
limit; if it also peaks and falls, the learner is.

``--domain semicircle`` asks the same of the Semi-circle's exact-belief SAC (issue 31: it reaches about 20 per
episode offline where the scripted search-then-go scores 46): the quick ``semicircle --belief exact`` run's
learner, one trial per *training* goal of the collection (the 40 goals the offline data was logged on) every
``--collect-every`` updates, started where evaluation starts; exploration is SAC's own sampled action, replaced by
a uniform random action with probability ε (1 → ``--eps-final`` over the first half; the warm-up trials are
uniform random). ``--domain escape_room`` does the same for Escape-Room's exact-belief SAC (issue 31: 16.6 offline
against 37.4 for the scripted wall search), on its collection's openings.

Writes ``data/results/<profile>/probes/probe_online_exact_<data>_seed<seed>.csv`` (Gridworld; the others:
``probes/<domain>/probe_online_exact_<domain>_<data>_seed<seed>.csv``; tidy, like a BOReL run's table, column
``updates``) with its config. Usage: python scripts/probe_online_exact.py --data online [--domain semicircle|escape_room]
[--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.belief import make_belief
from borel_lib.envs.batched import make_batched_trial
from borel_lib.evaluation import evaluate
from borel_lib.offline_rl import OfflineAgent
from borel_lib.pipeline import RunSpec, collection, eval_tasks
from borel_lib.results import write_results
from borel_lib.seeding import seed_everything
from borel_lib.state_relabel import HyperStates, hyper_state, relabel_states

DOMAINS = ("gridworld", "semicircle", "escape_room")
"""Domains of the probe: Gridworld (offline DQN), the Semi-circle and Escape-Room (offline SAC)."""


@torch.no_grad()
def rollout(agent: OfflineAgent, belief, tasks: np.ndarray, eps: float, rng: np.random.Generator,
            time_input: bool, goal_terminal: bool, domain: str = "gridworld") -> dict[str, np.ndarray]:
    """One exploring trial per task in the BAMDP (module docstring), stored as state relabelling stores a
    logged trial."""
    n = len(tasks)
    trial = make_batched_trial(domain, n, init_state="fixed")
    env = trial.env
    obs = trial.reset(tasks, seeds=rng.integers(0, 2**31, n).tolist())
    state = belief.reset(n)
    feats = belief.features(state)
    k, H = trial.k, trial.H
    out_obs, out_next, acts, rews, dones = [], [], [], [], []
    for t in range(trial.trial_length):
        hyper = hyper_state(obs, feats, t if time_input else None, H, k)
        explore = rng.random(n) < eps
        if agent.discrete:
            a = np.where(explore, rng.integers(0, 5, n), agent.act(hyper))
        else:  # SAC's own sampled action, or a uniform one with probability eps
            a = np.where(explore[:, None], rng.uniform(-1, 1, (n, 2)),
                         agent.act(hyper, deterministic=False)).astype(np.float32)
        out = trial.step(a)
        state = belief.step(state, a, out.reward, out.next_obs)
        feats = belief.features(state)
        last = t == trial.trial_length - 1
        nxt = out.next_obs if last else out.obs
        out_obs.append(hyper)
        out_next.append(hyper_state(nxt, feats, t + 1 if time_input else None, H, k))
        acts.append(np.asarray(a, np.float32).reshape(n, -1))
        rews.append(np.asarray(out.reward, np.float32))
        d = np.full(n, float(last), np.float32)
        if goal_terminal:
            d = np.maximum(d, env.is_success(out.next_obs[:, :-1], tasks).astype(np.float32))
        dones.append(d)
        obs = out.obs
    return {"obs": np.stack(out_obs, 1), "actions": np.stack(acts, 1), "rewards": np.stack(rews, 1),
            "next_obs": np.stack(out_next, 1), "dones": np.stack(dones, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", choices=("online", "offline+online"), required=True)
    p.add_argument("--domain", choices=DOMAINS, default="gridworld")
    p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    p.add_argument("--seed", type=cli.seed, default=0)
    p.add_argument("--collect-every", type=cli.positive_int, default=250, help="updates between online trials (one per goal)")
    p.add_argument("--warmup-trials", type=cli.non_negative_int, default=20, help="random trials per goal before learning (online)")
    p.add_argument("--eps-final", type=float, default=0.05)
    p.add_argument("--online-fraction", type=float, default=0.5, help="offline+online: share of online samples")
    args = p.parse_args()
    for name in ("eps_final", "online_fraction"):  # fractions, checked before any work
        if not 0 <= getattr(args, name) <= 1:
            p.error(f"--{name.replace('_', '-')} {getattr(args, name)} must be a fraction in [0, 1]")
    torch.set_num_threads(1)
    seed_everything(args.seed)
    domain, discrete = args.domain, args.domain == "gridworld"
    spec = RunSpec(domain, profile=args.profile, belief="exact", seed=args.seed)
    cfg = spec.rl_config()
    belief = make_belief("exact", domain=domain)
    goals = eval_tasks(domain, args.seed)  # Gridworld: the 21 goals, training and evaluation tasks alike
    rng = np.random.default_rng(args.seed + 777)
    offline = None
    dataset = collection(spec) if args.data == "offline+online" or not discrete else None
    train_goals = goals if discrete else np.asarray(dataset.tasks)  # point robots: the collection's tasks
    if args.data == "offline+online":
        offline = relabel_states(belief, dataset, time_input=cfg.time_input, goal_terminal=cfg.goal_terminal,
                                 mixed_copies=cfg.mixed_copies, seed=spec.seed)
    d = hyper_state(np.zeros((1, 3), np.float32), belief.features(belief.reset(1)),
                    0 if cfg.time_input else None, 1, 1).shape[-1]
    agent = OfflineAgent(d, 5 if discrete else 2, discrete, cfg, spec.seed)
    online: list[dict[str, np.ndarray]] = []

    def collect(eps: float, trials: int = 1) -> None:
        for _ in range(trials):
            online.append(rollout(agent, belief, train_goals, eps, rng, cfg.time_input, cfg.goal_terminal, domain))

    def buffer() -> HyperStates:
        arrays = {key: np.stack([o[key] for o in online], 1) for key in online[0]}  # (21, M, T, ·)
        return HyperStates(**arrays)

    collect(1.0, args.warmup_trials if offline is None else 1)
    buf = buffer()
    rows = []
    bar = tqdm(total=cfg.updates, desc=f"probe {domain} {args.data}")
    for done in range(1, cfg.updates + 1):
        agent.anneal(done - 1)
        if offline is not None and rng.random() >= args.online_fraction:
            batch = agent.sample(offline)
        else:
            batch = agent.sample(buf)
        agent.update(batch)
        if done % args.collect_every == 0:
            eps = max(args.eps_final, 1.0 - done / (cfg.updates / 2) * (1.0 - args.eps_final))
            collect(eps)
            buf = buffer()
        if done % cfg.eval_every == 0:
            ev = evaluate(belief, agent, domain, goals, seed=spec.seed, time_input=cfg.time_input)
            summary = ev.groupby(["episode", "metric"])["value"].mean().reset_index()
            rows += [{"domain": domain, "method": f"borel_exact_probe_{args.data}", "variant": "fixed",
                      "seed": args.seed, "episode": int(r.episode), "metric": r.metric, "value": float(r.value),
                      "updates": done} for r in summary.itertuples()]
            ret = summary[summary.metric == "return"]["value"].mean()
            bar.set_postfix(paper_metric=f"{ret:.2f}", online_trials=len(online))
        bar.update()
    bar.close()
    df = pd.DataFrame(rows)
    config = {"run": dataclasses.asdict(spec), "offline_rl": cfg.to_dict(), "probe": vars(args)}
    data_tag = args.data.replace('+', '_')
    name = f"probe_online_exact_{data_tag}_seed{args.seed}" if discrete else \
        f"probe_online_exact_{domain}_{data_tag}_seed{args.seed}"
    dom = "" if discrete else f" --domain {domain}"
    write_results(df, name, config=config, profile=args.profile,
                  command=f"python scripts/probe_online_exact.py --data {args.data}{dom} --seed {args.seed}")
    ret = df[df.metric == "return"].groupby("updates")["value"].mean()
    last = ret.iloc[-max(1, len(ret) // 10):].mean()
    print(f"{args.data}: last 10% {last:.2f}, peak {ret.max():.2f}, second half {ret.iloc[len(ret) // 2:].mean():.2f}")


if __name__ == "__main__":
    main()
