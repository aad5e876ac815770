"""Is the deterministic evaluation what hides a walking policy? A finished BOReL run, acted three ways.

Issue "MuJoCo end to end" (Table 1): on the quick Ant data the offline agent stands still even with the
exact belief, while the collection's own task-knowing agent scores well only when it *samples* its actions
(``scripts/probe_ant_collectors.py``: mean action -39 / -42 per episode, sampled +5.7 / -3.0, standing
still +8.3 / +4.2). The paper, the authors' code and :func:`borel_lib.evaluation.evaluate` act with the
deterministic action tanh(mean). This probe loads a finished run (the same arguments as ``python -m
borel_lib.pipeline``; nothing is trained) and evaluates it on the run's own evaluation tasks, starts and
belief, changing only how the action is chosen:

- ``deterministic``: tanh(mean), the run's own evaluation (its last row, recomputed);
- ``sampled``: a sample of the learnt SAC policy (seeded by the run's seed);
- ``zero_action``: a = 0, standing still, on the same tasks and starts (what the metric gives for nothing);
- ``select<N>`` (``--candidates N ...``, IQL runs only): the best of the deterministic action and N actions drawn from
  IQL's policy density by the run's critics (IDQL's selection, :meth:`borel_lib.iql.EnsembleIQL.select`; issue 28:
  does choosing among the data's own modes walk where their weighted mean stands?). Its draws are seeded as the
  pipeline's evaluations (:meth:`borel_lib.offline_rl.OfflineAgent.reset_selection`), so ``select<N>`` at a selection
  run's own N and ``--spread`` recomputes that run's last evaluation.

If the sampled policy walks to the goals where the deterministic one does not, the evaluation mode hides
what the learner has; if neither walks, the learnt policy itself does not. Also reports, per episode, the
steps spent in the goal region and (Ant) the largest torso displacement from the trial's start. Writes
``data/results/<profile>/probe_policy_mode_<run tag>.csv`` (tidy; column ``mode``) with its config.
Usage: python scripts/probe_policy_mode.py ant_semicircle --profile quick --init-state uniform --belief exact
"""

from __future__ import annotations

import shlex
import sys

import numpy as np
import pandas as pd
import torch

from borel_lib.config import ConfigError
from borel_lib.envs import make_env
from borel_lib.evaluation import evaluate
from borel_lib.offline_rl import SELECT_SEED_OFFSET
from borel_lib.pipeline import eval_tasks, load_trained
from borel_lib.pipeline_cli import build_parser, spec_from_args
from borel_lib.results import write_results

MODES = ("deterministic", "sampled", "zero_action")
"""How the action is chosen (module docstring), besides ``select<N>``."""
SELECT = "select"
"""Prefix of the IDQL-selection modes, ``select<N>`` (module docstring)."""


class ModeAgent:
    """``act(hyper_obs)`` of a trained continuous :class:`borel_lib.offline_rl.OfflineAgent` in one ``mode``."""

    def __init__(self, agent, mode: str, act_dim: int, seed: int = 0, spread: float = 1.0):
        selecting = mode.startswith(SELECT) and mode.removeprefix(SELECT).isdigit()
        if mode not in MODES and not selecting:
            raise ValueError(f"mode={mode!r}: allowed values are {', '.join(MODES)} and {SELECT}<N>")
        if agent.discrete:
            raise ValueError("probe_policy_mode: the domain's actions are discrete (DQN is greedy; nothing to sample)")
        if selecting and not hasattr(agent.agent, "select"):
            raise ValueError(f"mode={mode!r}: selection needs an IQL run (--rl algo=iql)")
        self.agent, self.mode, self.act_dim = agent, mode, act_dim
        self.candidates = int(mode.removeprefix(SELECT)) if selecting else 0
        # selection draws as the pipeline's evaluations do (OfflineAgent.reset_selection): the same candidates
        self.generators = [torch.Generator(device=agent.device).manual_seed(seed + SELECT_SEED_OFFSET)]
        self.spread = spread

    @torch.no_grad()
    def act(self, hyper_obs: np.ndarray) -> np.ndarray:
        if self.mode == "zero_action":
            return np.zeros((len(hyper_obs), self.act_dim), np.float32)
        if self.mode == "deterministic":
            return self.agent.act(hyper_obs)
        x = torch.as_tensor(hyper_obs, dtype=torch.float32, device=self.agent.device)[None]
        if self.candidates:
            return self.agent.agent.select(x, self.candidates, self.generators, self.spread)[0].cpu().numpy()
        return self.agent.agent.act(x, deterministic=False)[0].detach().cpu().numpy()


def episode_metrics(domain: str, tasks: np.ndarray, record: dict, k: int) -> pd.DataFrame:
    """Per task and episode: steps in the goal region and, on Ant, the largest torso displacement."""
    env = make_env(domain)
    next_obs = record["next_obs"][..., :-1]  # (n, T, d), the episode-end flag dropped
    n, T = next_obs.shape[:2]
    in_goal = env.is_success(next_obs.reshape(n * T, -1), np.repeat(tasks, T, axis=0)).reshape(n, T)
    rows = {"in_goal_steps": in_goal.reshape(n, k, T // k).sum(-1)}
    if domain == "ant_semicircle":
        xy = np.concatenate([record["obs"][:, :1, :2], next_obs[..., :2]], 1)  # (n, T + 1, 2)
        rows["max_displacement"] = np.linalg.norm(xy[:, 1:] - xy[:, :1], axis=-1).reshape(n, k, T // k).max(-1)
    out = []
    for metric, value in rows.items():
        out.append(pd.DataFrame({"task": np.repeat(np.arange(n), k), "episode": np.tile(np.arange(1, k + 1), n),
                                 "metric": metric, "value": value.ravel().astype(float)}))
    return pd.concat(out, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.prog = "python scripts/probe_policy_mode.py"
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--candidates", type=int, nargs="+", default=[],
                        help="also act by IDQL's selection among N candidates drawn from the policy (IQL runs only)")
    parser.add_argument("--spread", type=float, default=1.0,
                        help="scale of the candidates' σ (1 = the policy's own; with --candidates)")
    args = parser.parse_args(argv)
    if not 0 < args.spread < float("inf"):
        parser.error(f"--spread {args.spread}: must be a number > 0")
    if any(n < 1 for n in args.candidates):
        parser.error(f"--candidates {' '.join(map(str, args.candidates))}: every N must be >= 1")
    try:  # every input checked before any work
        spec = spec_from_args(args)
    except (ConfigError, ValueError) as err:
        parser.error(str(err))
    if spec.discrete:
        parser.error(f"{spec.domain}: discrete actions (DQN is greedy); this probe is for the SAC domains")
    if args.candidates and spec.rl_config().algo != "iql":
        parser.error("--candidates: IDQL's selection needs an IQL run (--rl algo=iql)")
    torch.set_num_threads(1)
    belief, agent = load_trained(spec)
    rl_cfg = spec.rl_config()
    tasks = eval_tasks(spec.domain, spec.seed, split=spec.eval_split)  # the run's own evaluation tasks
    act_dim = make_env(spec.domain).action_space.shape[-1]
    frames = []
    for mode in MODES + tuple(f"{SELECT}{n}" for n in args.candidates):
        record: dict = {}
        for g in agent.agent.generators:  # the SAC samples from its own seeded generators
            g.manual_seed(spec.seed)
        ev = evaluate(belief, ModeAgent(agent, mode, act_dim, spec.seed, args.spread), spec.domain, tasks, seed=spec.seed,
                      time_input=rl_cfg.time_input, record=record)
        k = int(ev.episode.max())
        both = pd.concat([ev, episode_metrics(spec.domain, tasks, record, k)], ignore_index=True)
        summary = both.groupby(["episode", "metric"])["value"].mean().reset_index()
        frames.append(summary.assign(mode=mode))
    df = pd.concat(frames, ignore_index=True)
    df = df.assign(domain=spec.domain, method=spec.method, variant=spec.init_state, seed=spec.seed)[
        ["domain", "method", "variant", "seed", "episode", "metric", "value", "mode"]]
    command = "python scripts/probe_policy_mode.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    name = (f"probe_policy_mode_{spec.tag}" + "".join(f"_{SELECT}{n}" for n in args.candidates)
            + (f"_spread{args.spread:g}" if args.spread != 1.0 else ""))
    path = write_results(df, name, config={"run": spec.tag, "rl": rl_cfg.to_dict(), "candidates": args.candidates,
                                 "spread": args.spread},
                         profile=spec.profile, command=command)
    print(df.pivot_table(index=["mode", "metric"], columns="episode", values="value").round(2).to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
