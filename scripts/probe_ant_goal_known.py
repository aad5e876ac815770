"""Given the goal, does our offline learner reach it from the Ant-Semi-circle data? (issue 28's decisive experiment)

Offline BOReL on Ant-Semi-circle reaches few goals, even with the exact belief. The canonical-task calibration
(``scripts/probe_offline_gym_ant.py``) showed the same offline SAC learns a gait from Ant-v5 data that holds one,
so the learner itself is not the limit. Left: the task (reach one of many goals, a sparse reward, a gait shared
across goals in the data) and the belief / search. This probe removes the belief and the search: the offline
learner sees [s, g, time] with the true goal g (:class:`borel_lib.references.known_goal.KnownGoal` in place of the
belief; state relabelling and evaluation as BOReL's), on the same logged data, and must walk to g.

**Variants** (each its own :class:`~borel_lib.offline_rl.OfflineAgent`, from the same seed, updated in turn):

- ``sparse``: the stored rewards, BOReL's (1 inside the goal disc − 0.1‖a‖²);
- ``dense``: the collectors' reward recomputed on the same transitions (−‖xy(s') − g‖₁ − 0.1‖a‖²), which the
  collecting agents learnt their gait from.

``--rl algo=iql`` swaps the offline SAC for implicit Q-learning (:mod:`borel_lib.iql`; the calibrated SAC's
entropy settings are then dropped): does an in-sample learner, which never values an action the data did not
take, stop in the disc where SAC walks on?

If ``sparse`` walks to its goals, BOReL's failure lies in the belief or the search; if only ``dense`` does, the
sparse reward is too little signal for the offline learner at this budget; if neither does, the data (a gait
shared across goals, not one per goal) is.

**The belief instead of the goal, on fewer tasks' data** (``--belief exact --keep-tasks I ...``): the learner sees
BOReL's exact-belief hyper-states (the posterior's mean read-out, ``--belief exact --features mean`` of the
pipeline) instead of the goal, trained only on the trials of the kept training tasks and evaluated on their
goals. With every task kept this is BOReL's exact-belief run, whose IQL stands at the prior belief; with one task
kept the logged actions at the prior are walks to one goal only. If the learner then walks, what stops it on the
full data is that the prior hyper-state's logged actions go to goals in every direction (several behaviours,
one input); if it still stands, it is not.

**Evaluation** as BOReL's (:func:`borel_lib.evaluation.evaluate`): the 20 test-split goals of ``--seed`` from the
fixed start, one 2-episode trial each, the deterministic policy; per episode the sparse return (the paper's
metric averages episodes 1 and 2), success (the goal disc reached), the closest approach to the goal and the
torso's farthest distance from the start. Beside them the collectors' walker given the goal scores +46.7 on the
uniform data and standing still 0 (``scripts/ant_references.py``).

Writes ``data/results/<profile>/probes/ant_semicircle/probe_ant_semicircle_goal_known_<init state>_<rl overrides>_seed<S>.csv``
(rows per variant, evaluation (``updates``), episode and metric) with its config; checkpoints every evaluation
under ``data/checkpoints/<profile>/<the same name>_every<K>/``: a killed run resumes (the same command), a larger
``--updates`` continues it. Quick: the learner's quick settings with the collectors' calibrated SAC
(:data:`CALIBRATED_RL`), 20k updates per variant, about 40 min of one core for both.
Usage: python scripts/probe_ant_goal_known.py [--init-state uniform] [--seed 0] [--updates 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.belief import make_belief
from borel_lib.config import resolve_profile
from borel_lib.device import get_device
from borel_lib.envs import make_env
from borel_lib.evaluation import evaluate
from borel_lib.io import atomic_path
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig
from borel_lib.paths import checkpoints_dir
from borel_lib.references.known_goal import KnownGoal
from borel_lib.results import write_results
from borel_lib.state_relabel import HyperStates, relabel_states
from borel_lib.tasks import eval_tasks

DOMAIN = "ant_semicircle"
VARIANTS = ("sparse", "dense")
CALIBRATED_RL = {"actor_lr": 3e-4, "critic_lr": 1e-3, "alpha_lr": 1e-3, "target_entropy": -8.0, "log_std": "tanh"}
"""The collectors' calibrated SAC (:data:`borel_lib.agents.CALIBRATED_SAC`) as offline-RL overrides: the setting
the committed exact-belief Ant runs use (``--rl actor_lr=3e-4 --rl critic_lr=1e-3 ...``)."""


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser("python scripts/probe_ant_goal_known.py", __doc__.splitlines()[0],
                             "  data/results/<profile>/probes/ant_semicircle/probe_ant_semicircle_goal_known_<label>_seed<S>.csv"
                             " (+ .config.json)")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--init-state", default="uniform", choices=("uniform", "exclude_semicircle", "fixed"),
                        help="which collection's data")
    cli.add_seed_argument(parser, default=0, help="seed of the networks and the evaluation goals")
    cli.add_device_argument(parser)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="rewards, in turn")
    parser.add_argument("--belief", default="goal", choices=BELIEFS,
                        help="what the learner sees beside the state: the true goal, or the exact posterior's mean read-out")
    parser.add_argument("--keep-tasks", nargs="+", type=cli.non_negative_int, default=None, metavar="I",
                        help="train only on these training tasks' trials and evaluate on their goals (default: all, "
                             "and the 20 test goals)")
    parser.add_argument("--updates", type=cli.positive_int, default=None,
                        help="updates per variant (default: the profile's offline-RL updates)")
    parser.add_argument("--eval-every", type=cli.positive_int, default=None,
                        help="updates between evaluations (default: the profile's)")
    parser.add_argument("--rl", action="append", default=[], metavar="FIELD=VALUE",
                        help="OfflineRLConfig overrides on top of the calibrated SAC (repeatable)")
    parser.add_argument("--stop-at", type=int, default=None, help=argparse.SUPPRESS)  # tests: a kill after a checkpoint
    return parser


BELIEFS = ("goal", "exact")
"""What the learner sees beside the state: the true goal (:class:`KnownGoal`) or the exact posterior's mean
read-out (``make_belief("exact", features="mean")``, BOReL's ``--belief exact --features mean``)."""


def probe_belief(kind: str, dataset):
    """The belief of ``--belief``: :class:`KnownGoal` (``goal``) or the exact posterior's mean read-out."""
    if kind == "goal":
        return KnownGoal(dataset.tasks.shape[-1])
    return make_belief("exact", domain=DOMAIN, features="mean")


def known_goal_data(dataset, rl_cfg: OfflineRLConfig, variants: list[str], belief=None,
                    keep: list[int] | None = None) -> dict[str, HyperStates]:
    """The logged trials as [s, g, time] hyper-states (or [s, b, time] with another ``belief``), relabelled once,
    with each of ``variants``' rewards (the variants share the hyper-state arrays and differ only in ``rewards``);
    ``keep``: only these training tasks' trials (a trial's hyper-states depend on that trial alone)."""
    belief = KnownGoal(dataset.tasks.shape[-1]) if belief is None else belief
    hs = relabel_states(belief, dataset, time_input=rl_cfg.time_input)
    out = {}
    for variant in variants:
        rewards = hs.rewards
        if variant == "dense":
            tasks = np.asarray(dataset.tasks)[:, None, None, :]
            rewards = make_env(DOMAIN).dense_reward(np.asarray(dataset.obs), np.asarray(dataset.actions),
                                                    np.asarray(dataset.next_obs), tasks).astype(np.float32)
        out[variant] = dataclasses.replace(hs, rewards=rewards)
    if keep is not None:
        out = {v: HyperStates(**{f.name: getattr(h, f.name)[keep] for f in dataclasses.fields(h)})
               for v, h in out.items()}
    return out


def trial_metrics(record: dict[str, np.ndarray], tasks: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Per task and episode ``(n, k)``: the closest approach to the goal and the farthest distance from the start."""
    xy = record["next_obs"][..., :2]
    n, T = xy.shape[:2]
    dist = np.linalg.norm(xy - tasks[:, None, :2], axis=-1).reshape(n, T // horizon, horizon)
    far = np.linalg.norm(xy, axis=-1).reshape(n, T // horizon, horizon)
    return {"closest_to_goal": dist.min(-1), "farthest_from_start": far.max(-1)}


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    from borel_lib.collect import run_collection

    profile = resolve_profile(args.profile)
    rl_overrides = cli.parse_overrides(args.rl, OfflineRLConfig, "rl")  # checked before any work
    base = dict(CALIBRATED_RL)
    if rl_overrides.get("algo") == "iql" and rl_overrides.get("iql_extraction", "awr") == "awr":
        # IQL's weighted regression has no entropy term: SAC's automatic-α settings do not apply
        base.pop("target_entropy"), base.pop("alpha_lr")
    overrides = {**base, **rl_overrides}
    if args.updates is not None:
        overrides["updates"] = args.updates
    if args.eval_every is not None:
        overrides["eval_every"] = args.eval_every
    cfg = OfflineRLConfig.for_domain(DOMAIN, profile, **overrides)
    device = get_device(args.device)
    torch.set_num_threads(1)
    extra = "".join(f"_{k}{v}" for k, v in rl_overrides.items())
    if args.belief != "goal":
        extra += f"_{args.belief}_mean"
    if args.keep_tasks is not None:
        extra += "_tasks" + "-".join(map(str, args.keep_tasks))
    kind = "goal_known" if args.belief == "goal" else f"{args.belief}_mean"
    name = f"probe_ant_semicircle_goal_known_{args.init_state}{extra}_seed{args.seed}"
    ckpt = checkpoints_dir(profile) / f"{name}_every{cfg.eval_every}" / "probe.pt"
    dataset = run_collection(DOMAIN, profile, init_state=args.init_state)[0]
    n_tasks = len(dataset.tasks)
    if args.keep_tasks is not None and max(args.keep_tasks) >= n_tasks:
        raise ValueError(f"--keep-tasks {max(args.keep_tasks)}: the {args.init_state} data has training tasks 0..{n_tasks - 1}")
    env = make_env(DOMAIN)
    if args.keep_tasks is None:
        tasks = eval_tasks(DOMAIN, args.seed)
    else:  # the kept tasks' own goals, each evaluated on as many trials as the default's 20
        kept = np.asarray(dataset.tasks)[args.keep_tasks]
        tasks = np.repeat(kept, -(-20 // len(kept)), axis=0)[:20]
    belief = probe_belief(args.belief, dataset)
    data = known_goal_data(dataset, cfg, list(args.variants), belief, args.keep_tasks)
    obs_dim = next(iter(data.values())).obs.shape[-1]
    agents = {v: OfflineAgent(obs_dim, dataset.actions.shape[-1], False, cfg, args.seed, device) for v in args.variants}
    rows, done = [], 0
    if ckpt.is_file():
        # onto the CPU whatever device wrote it: the agents copy weights to their device, and torch.Generator
        # states must stay CPU tensors (a checkpoint mapped to CUDA would fail in Generator.set_state)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state["updates"] > cfg.updates or state["variants"] != list(args.variants):
            raise ValueError(f"{ckpt}: a run at update {state['updates']} with variants {state['variants']}; ask for "
                             "at least that many updates and the same variants, or delete it")
        rows, done = state["rows"], state["updates"]
        for v, agent in agents.items():
            agent.load_state_dict(state["agents"][v])
        print(f"resumed {ckpt} at update {done}")
    bar = tqdm(total=cfg.updates, initial=done, desc=f"{kind.replace('_', '-')} offline {cfg.algo.upper()} x{len(agents)}", mininterval=10)
    while done < cfg.updates:
        for _ in range(min(cfg.eval_every, cfg.updates - done)):
            for v, agent in agents.items():
                agent.anneal(done)
                agent.update(agent.sample(data[v]))
            done += 1
            bar.update()
        shown = {}
        for v, agent in agents.items():
            record: dict = {}
            ev = evaluate(belief, agent, DOMAIN, tasks, seed=args.seed, time_input=cfg.time_input, record=record)
            per = ev.groupby(["episode", "metric"]).value.mean()
            extra_metrics = {m: v_.mean(0) for m, v_ in trial_metrics(record, tasks, env.horizon).items()}
            for (episode, metric), value in per.items():
                rows.append({"domain": DOMAIN, "method": f"{kind}_{v}", "variant": args.init_state,
                             "seed": args.seed, "episode": int(episode), "metric": metric, "value": float(value),
                             "updates": done})
            for metric, values in extra_metrics.items():
                rows += [{"domain": DOMAIN, "method": f"{kind}_{v}", "variant": args.init_state, "seed": args.seed,
                          "episode": e + 1, "metric": metric, "value": float(x), "updates": done}
                         for e, x in enumerate(values)]
            shown[v] = f"return {per.xs('return', level='metric').mean():.1f}, success " \
                       f"{per.xs('success', level='metric').round(2).tolist()}"
        with atomic_path(ckpt) as tmp:
            torch.save({"rows": rows, "updates": done, "variants": list(args.variants),
                        "agents": {v: a.state_dict() for v, a in agents.items()}}, tmp)
        tqdm.write(f"update {done}: {shown}")
        if args.stop_at is not None and done >= args.stop_at:
            return 0
    bar.close()
    argv = sys.argv[1:] if argv is None else argv
    table = pd.DataFrame(rows)
    path = write_results(table, name, profile=profile, command="python scripts/probe_ant_goal_known.py " + shlex.join(argv),
                         config={"offline_rl": cfg.to_dict(), "init_state": args.init_state, "seed": args.seed,
                                 "variants": list(args.variants), "dataset": dataset.manifest["config"],
                                 "belief": args.belief, "keep_tasks": args.keep_tasks,
                                 "eval_split": "test" if args.keep_tasks is None else "kept training tasks",
                                 "n_eval_tasks": len(tasks)})
    last = table[table.updates == done].pivot_table(index=["method", "episode"], columns="metric", values="value")
    print(last.round(3).to_string())
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.main(lambda args: run(args, argv), build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
