"""Can our offline learner learn a walking Ant from good data at all? Offline SAC on Gymnasium's Ant-v5.

Issue 28 "Ant walks": on the Ant-Semi-circle data offline BOReL's SAC (plain, CQL, TD3+BC through
``bc_weight``) never makes the Ant walk, even with the exact belief. Before blaming the budget or the belief,
this probe calibrates the offline learner on the canonical environment, where the data is known to hold a gait.

**Data.** The replay buffer of ``scripts/probe_sac_gym_ant.py --sac calibrated --seeds 0 1 --steps 150000``
(150k transitions per seed: 5k uniform actions, then the online :class:`~borel_lib.agents.EnsembleSAC` with
:data:`~borel_lib.agents.CALIBRATED_SAC` learning to walk, its mean action at 0.38 / 0.78 units/s by the end):
everything a learner met on its way from random to walking, like D4RL's "medium-replay" datasets (the replay
buffer of a SAC trained until it reached a medium score; Fu et al., 2020). Each ``--seeds`` seed's buffer trains
its own ensemble member (members share nothing but batched matmuls); the dataset's average return over its
complete episodes (episode ends found where an observation does not follow its predecessor) is reported beside
the behaviour agent's last and best mean-action evaluations from its committed table.

**Protocol.** No environment interaction while learning: :meth:`EnsembleSAC.update` on uniform minibatches of
``--batch-size`` transitions for ``--updates`` updates per learner variant. ``update`` takes one ``cql_alpha`` /
``bc_weight`` for all members, so the variants cannot share an ensemble: each is its own agent, from the same
initial networks, and they take their updates in turn (equal progress however early a run is stopped):

- ``plain``: SAC as offline BOReL runs it by default;
- ``cql``: + ``cql_alpha`` x CQL(H) (Kumar et al., 2020; their Gym-MuJoCo weight is 5) with ``--cql-samples``
  uniform and policy actions per state (2 = offline BOReL's quick Ant setting, :mod:`borel_lib.offline_rl`);
- ``td3bc``: + TD3+BC's behaviour cloning (Fujimoto & Gu, 2021) through ``bc_weight``. TD3+BC minimises
  ``-λ Q + mean_{batch, dims}(π(s) - a)²`` with ``λ = α / mean|Q|``, α = 2.5; ours adds
  ``bc_weight · mean|Q| · mean_batch ‖tanh μ(s) - a‖²`` (summed over the action's dimensions) to the SAC
  actor's loss. Dividing TD3+BC's loss by λ gives ``bc_weight = 1 / (α · act_dim)``: 1 / (2.5 · 8) = 0.05 on
  Ant, the default (the ``0.4`` quoted in :meth:`EnsembleSAC.update` is ``1/α``, right only for one action
  dimension). Unlike TD3+BC, the policy keeps SAC's entropy term and the states are not normalised.

Every ``--eval-every`` updates (and at the end) the mean action runs ``--eval-episodes`` episodes of Ant-v5 with
the online probe's evaluation (its ``evaluate``, same seeds 10000, 10001, ...): return, length and the torso's
forward velocity averaged over the steps the episode lasted; beside them, Q(s, a) of the logged actions and
Q(s, tanh μ(s)) of the mean action on 1,024 fixed dataset states (offline over-estimation shows here) and the
training losses averaged over the interval.

**The published bar.** Offline RL methods on D4RL's medium-replay locomotion data recover at least the
behaviour data's average return (CQL and TD3+BC on hopper/walker2d/halfcheetah-medium-replay score above the
dataset's mean return; Kumar et al. 2020, Fujimoto & Gu 2021); the walking target is the online agent's mean
action at 150k steps (0.2 units/s is the issue's gait bar; the semi-circle task needs about 0.1). On Ant the
return bar is weak: this buffer's episodes mostly end in falls, while a mean action that only stands (an
untrained policy's) collects the healthy reward for 1,000 steps, about 980 to 990; read the speed.

Writes ``data/results/<profile>/probes/gym_ant/probe_offline_gym_ant_<label>.csv`` (rows: the dataset's
summary at ``updates`` 0, then per variant, evaluation, seed and metric) and checkpoints every evaluation
under ``data/checkpoints/<profile>/probe_offline_gym_ant_<label>_every<K>_seeds<S>/``: a killed run resumes (same
command), and so does one given a larger ``--updates`` (the budget is not in the checkpoint's name).
Usage: python scripts/probe_offline_gym_ant.py --seeds 0 --updates 25000 --eval-every 2500
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.agents import CALIBRATED_SAC, EnsembleReplay, EnsembleSAC, SACConfig
from borel_lib.cli import parse_overrides
from borel_lib.device import get_device
from borel_lib.io import atomic_path
from borel_lib.offline_rl import OfflineRLConfig
from borel_lib.paths import checkpoints_dir, repo_root
from borel_lib.results import read_results, result_path, write_results


def _online_probe():
    """``scripts/probe_sac_gym_ant.py`` as a module: its environment and evaluation are the reference."""
    path = Path(__file__).with_name("probe_sac_gym_ant.py")
    spec = importlib.util.spec_from_file_location("probe_sac_gym_ant", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


online = _online_probe()

BEHAVIOUR_RUN = "probe_sac_gym_ant_calibrated_steps150000_seeds0-1"
"""The online run whose replay buffer is the dataset (its checkpoint folder and results table share the name)."""
BEHAVIOUR_COMMAND = "python scripts/probe_sac_gym_ant.py --sac calibrated --seeds 0 1 --steps 150000 --eval-every 10000"
VARIANTS = ("plain", "cql", "td3bc")
PRESETS = {
    # the behaviour agent's own SAC (actor lr 3e-4), with its γ
    "calibrated": {**CALIBRATED_SAC, "gamma": 0.99},
    # offline BOReL's Ant-Semi-circle learner at quick (the authors': actor lr 3e-5, α fixed at 0.2, clamped log-std)
    "offline_ant": OfflineRLConfig.for_domain("ant_semicircle", "quick").sac_hyperparameters(),
}
EVAL_METRICS = ("return", "length", "x_velocity")
"""What the online probe's ``evaluate`` measures per member (rows of variant ``mean_action``)."""
X_VELOCITY_OBS = 13
"""Ant-v5's observation (x, y excluded) holds qpos[2:] (13 values), then qvel: index 13 is the torso's x velocity."""
Q_STATES = 1024


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = cli.non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser("probe_offline_gym_ant.py", __doc__.splitlines()[0],
                             "data/results/<profile>/probes/gym_ant/probe_offline_gym_ant_<label>.csv (+ .config.json)")
    parser.add_argument("--dataset", type=Path, default=None,
                        help=f"probe.pt with the replay buffers (default: data/checkpoints/quick/{BEHAVIOUR_RUN}/probe.pt)")
    parser.add_argument("--seeds", type=cli.seed, nargs="+", default=[0], help="the dataset's seeds, one learner each")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="offline learners, in turn")
    parser.add_argument("--sac", choices=sorted(PRESETS), default="calibrated", help="SAC settings")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="SACConfig fields to change")
    parser.add_argument("--updates", type=cli.positive_int, default=25_000, help="gradient updates per variant")
    parser.add_argument("--eval-every", type=cli.positive_int, default=2_500)
    parser.add_argument("--eval-episodes", type=cli.positive_int, default=3)
    parser.add_argument("--batch-size", type=cli.positive_int, default=256)
    parser.add_argument("--cql-alpha", type=positive_float, default=5.0, help="CQL(H) weight of the cql variant")
    parser.add_argument("--cql-samples", type=cli.positive_int, default=2, help="uniform and policy actions per state")
    parser.add_argument("--bc-weight", type=positive_float, default=0.05,
                        help="bc_weight of the td3bc variant (TD3+BC's alpha = 2.5 on Ant: docstring)")
    parser.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"], help="results folder")
    cli.add_device_argument(parser)
    parser.add_argument("--stop-at", type=int, default=None, help=argparse.SUPPRESS)  # tests: a kill after a checkpoint
    return parser


# ------------------------------------------------------------------------------------------- data
def load_dataset(path: Path, seeds: list[int]) -> dict[str, torch.Tensor]:
    """The replay buffers of ``seeds`` from an online probe checkpoint, oldest transition first:
    fields ``(E, N, ...)`` as :class:`EnsembleReplay` stores them."""
    if not path.is_file():
        raise FileNotFoundError(f"no dataset at {path}: make it with `{BEHAVIOUR_COMMAND}` (or pass --dataset)")
    state = torch.load(path, weights_only=False, map_location="cpu")
    if not isinstance(state, dict) or "replay" not in state or "agent" not in state:
        raise ValueError(f"{path}: not a checkpoint of scripts/probe_sac_gym_ant.py (no replay buffer); "
                         f"make one with `{BEHAVIOUR_COMMAND}`")
    have = [int(s) for s in state["agent"]["seeds"]]
    missing = [s for s in seeds if s not in have]
    if missing:
        raise ValueError(f"--seeds {missing}: {path} holds the replay buffers of seeds {have} only")
    replay = state["replay"]
    size, ptr = int(replay["size"]), int(replay["ptr"])
    rows = [have.index(s) for s in seeds]
    # a full ring buffer (ptr not at its end) holds its oldest transition at ptr
    shift = -ptr if ptr not in (0, size) else 0
    return {k: torch.roll(v[rows, :size].float(), shift, dims=1) for k, v in replay["data"].items()}


def episode_returns(data: dict[str, torch.Tensor]) -> list[dict[str, np.ndarray]]:
    """Per member: returns and lengths of the dataset's complete episodes. An episode ends where the MDP
    terminated or the next stored observation is not this transition's next one (a time limit's reset); the
    tail after the last end (cut off when the run stopped) is left out."""
    out = []
    for i in range(data["rewards"].shape[0]):
        rew = data["rewards"][i].numpy().astype(np.float64)
        brk = (data["next_obs"][i, :-1] != data["obs"][i, 1:]).any(-1).numpy()
        ends = np.flatnonzero(np.append(brk, False) | (data["dones"][i].numpy() > 0))
        starts = np.concatenate([[0], ends[:-1] + 1])
        cum = np.concatenate([[0.0], np.cumsum(rew)])
        out.append({"return": cum[ends + 1] - cum[starts], "length": ends - starts + 1})
    return out


def dataset_rows(data: dict[str, torch.Tensor], seeds: list[int]) -> list[dict]:
    rows = []
    for seed, ep, vx in zip(seeds, episode_returns(data), data["obs"][..., X_VELOCITY_OBS].mean(1).tolist()):
        for metric, value in (("episode_return", ep["return"].mean()), ("episode_return_max", ep["return"].max()),
                              ("episode_length", ep["length"].mean()), ("episodes", len(ep["return"])),
                              ("transitions", int(data["rewards"].shape[1])), ("obs_x_velocity", vx)):
            rows.append({"domain": "gym_ant_v5", "method": "dataset", "variant": "dataset", "seed": seed, "episode": 1,
                         "metric": metric, "value": round(float(value), 4), "updates": 0})
    return rows


def behaviour_summary(seeds: list[int], profile: str) -> dict[str, dict] | None:
    """The behaviour agent's mean action at its last evaluation and its fastest one, per seed, from the
    committed online table (None when that table is not there, e.g. in a scratch root)."""
    for p in dict.fromkeys([profile, "quick"]):
        if result_path(BEHAVIOUR_RUN, p).is_file():
            t = read_results(BEHAVIOUR_RUN, p)
            break
    else:
        return None
    t = t[t.variant == "mean_action"].pivot_table(index=["seed", "steps"], columns="metric", values="value")
    out = {}
    for seed in seeds:
        if seed in t.index.get_level_values(0):
            s = t.loc[seed]
            best = s.x_velocity.idxmax()
            out[str(seed)] = {"final_steps": int(s.index.max()),
                              **{f"final_{k}": float(v) for k, v in s.iloc[-1].items()},
                              "best_x_velocity": float(s.x_velocity.max()), "best_x_velocity_steps": int(best),
                              "best_x_velocity_return": float(s.loc[best, "return"])}
    return out


# ------------------------------------------------------------------------------------------- learner
@torch.no_grad()
def q_diagnostics(agent: EnsembleSAC, obs: torch.Tensor, actions: torch.Tensor) -> dict[str, np.ndarray]:
    """Per member ``(E,)``: the mean of min(Q1, Q2) at the logged actions and at the policy's mean action
    (member i's twin critics are members i and E + i of ``agent.critic``)."""
    obs, actions = obs.to(agent.device), actions.to(agent.device)
    out = {}
    for name, a in (("q_data", actions), ("q_policy", agent.act(obs, deterministic=True))):
        x = torch.cat([obs, a], -1)
        q = agent.critic(torch.cat([x, x]))[..., 0]
        out[name] = torch.minimum(q[: agent.E], q[agent.E:]).mean(-1).cpu().numpy()
    return out


def update_kwargs(variant: str, args: argparse.Namespace) -> dict:
    return {"plain": {}, "cql": {"cql_alpha": args.cql_alpha, "cql_samples": args.cql_samples},
            "td3bc": {"bc_weight": args.bc_weight}}[variant]


def label_of(args: argparse.Namespace, overrides: dict) -> str:
    """The settings in a name: SAC preset and changes, variants with their weights, batch size."""
    extra = "".join(f"_{k}{'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in overrides.items())
    names = {"plain": "plain", "cql": f"cql{args.cql_alpha:g}s{args.cql_samples}", "td3bc": f"td3bc{args.bc_weight:g}"}
    return f"{args.sac}{extra}_{'-'.join(names[v] for v in args.variants)}_b{args.batch_size}"


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    overrides = parse_overrides(args.set, SACConfig, "set")  # every --set value checked before any work
    cfg = SACConfig(**{**PRESETS[args.sac], **overrides, "batch_size": args.batch_size})
    if len(set(args.seeds)) != len(args.seeds) or len(set(args.variants)) != len(args.variants):
        raise ValueError(f"--seeds {args.seeds} / --variants {args.variants}: each may be given once")
    device = get_device(args.device)
    torch.set_num_threads(1)
    dataset = args.dataset or checkpoints_dir("quick") / BEHAVIOUR_RUN / "probe.pt"
    data = load_dataset(dataset, args.seeds)
    E, N = data["rewards"].shape
    obs_dim, act_dim = data["obs"].shape[-1], data["actions"].shape[-1]
    replay = EnsembleReplay(E, N, obs_dim, act_dim, device)
    replay.load_state_dict({"data": data, "size": N, "ptr": 0})
    probe_idx = torch.as_tensor(np.random.default_rng(0).integers(0, N, Q_STATES))
    q_obs, q_act = data["obs"][:, probe_idx], data["actions"][:, probe_idx]
    behaviour = behaviour_summary(args.seeds, args.profile)
    summary = dataset_rows(data, args.seeds)
    for r in summary:
        if r["metric"] in ("episode_return", "episode_length", "episodes", "obs_x_velocity"):
            print(f"dataset seed {r['seed']}: {r['metric']} {r['value']}")
    print(f"behaviour agent (mean action, {BEHAVIOUR_RUN}): {behaviour}")

    # the variants learn side by side, one update each in turn, from the same initial networks; the checkpoint's
    # name holds no budget, so a later run with a larger --updates continues it
    label, seeds = label_of(args, overrides), "-".join(map(str, args.seeds))
    name = f"probe_offline_gym_ant_{label}_updates{args.updates}_seeds{seeds}"
    ckpt = checkpoints_dir(args.profile) / f"probe_offline_gym_ant_{label}_every{args.eval_every}_seeds{seeds}" / "probe.pt"
    agents = {v: EnsembleSAC(obs_dim, act_dim, args.seeds, cfg, device) for v in args.variants}
    kwargs = {v: update_kwargs(v, args) for v in args.variants}
    rows, start = list(summary), 0
    if ckpt.is_file():
        # onto the CPU whatever device wrote it: the agents copy weights to their device, and torch.Generator
        # states must stay CPU tensors (a checkpoint mapped to CUDA would fail in Generator.set_state)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state["updates"] > args.updates:
            raise ValueError(f"--updates {args.updates}: the checkpoint {ckpt} is already at update {state['updates']} "
                             "(ask for at least that many, or delete it)")
        rows, start = state["rows"], state["updates"]
        for v, agent in agents.items():
            agent.load_full_state_dict(state["agents"][v])
        print(f"resumed {ckpt} at update {start}")
    eval_seeds = [10_000 + i for i in range(args.eval_episodes)]
    acc: dict[str, dict[str, torch.Tensor]] = {v: {} for v in args.variants}
    last = start
    bar = tqdm(range(start + 1, args.updates + 1), desc=f"offline SAC x{len(agents)} on Ant-v5 data", mininterval=10,
               initial=start, total=args.updates)
    for u in bar:
        for v, agent in agents.items():
            for k, val in agent.update(replay.sample(args.batch_size, agent.generators), **kwargs[v]).items():
                acc[v][k] = acc[v].get(k, 0) + val
        if u % args.eval_every and u != args.updates:
            continue
        shown = {}
        for v, agent in agents.items():
            diag = {k: (t / (u - last)).cpu().numpy() for k, t in acc[v].items()}  # means since the last evaluation
            bad = [k for k, val in diag.items() if not np.isfinite(val).all()]
            if bad:
                raise FloatingPointError(f"variant {v}: training loss {bad} is not finite at update {u}")
            metrics = {**online.evaluate(agent, True, eval_seeds), **q_diagnostics(agent, q_obs, q_act), **diag}
            for metric, values in metrics.items():
                for i, seed in enumerate(args.seeds):
                    rows.append({"domain": "gym_ant_v5", "method": f"offline_sac_{v}",
                                 "variant": "mean_action" if metric in EVAL_METRICS else "training",
                                 "seed": seed, "episode": 1, "metric": metric, "value": round(float(values[i]), 5),
                                 "updates": u})
            shown[v] = {k: [round(float(x), 2) for x in metrics[k]] for k in ("x_velocity", "return", "q_policy")}
        acc, last = {v: {} for v in args.variants}, u
        with atomic_path(ckpt) as tmp:
            torch.save({"rows": rows, "updates": u, "agents": {v: a.full_state_dict() for v, a in agents.items()}}, tmp)
        tqdm.write(f"update {u}, mean action: {shown}")
        if args.stop_at is not None and u >= args.stop_at:
            return 0
    bar.close()
    table = pd.DataFrame(rows)
    ev = table[table.variant == "mean_action"]
    print(ev.pivot_table(index=["method", "updates", "seed"], columns="metric", values="value").round(3).to_string())
    argv = sys.argv[1:] if argv is None else argv
    where = dataset.resolve()
    where = where.relative_to(repo_root()) if where.is_relative_to(repo_root()) else where
    path = write_results(table, name, profile=args.profile,
                         command="python scripts/probe_offline_gym_ant.py " + shlex.join(argv),
                         config={"sac": cfg.to_dict(), "dataset": str(where), "behaviour_run": BEHAVIOUR_RUN,
                                 "behaviour_mean_action": behaviour,
                                 **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                                    if k not in ("dataset", "debug", "stop_at", "device")}})
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.main(lambda args: run(args, argv), build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
