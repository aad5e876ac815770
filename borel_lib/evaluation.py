"""BOReL stage 4, evaluation on unseen tasks (paper §6; the authors' protocol).

:func:`evaluate` runs one k-episode trial per evaluation task from the fixed start, all tasks stepped
together, with the deterministic policy and the belief carried across episodes (it starts at the prior
and is never reset inside a trial). The hyper-states are built by the same function as in state
relabelling (:func:`borel_lib.state_relabel.hyper_state`), so a policy sees at test time exactly the
kind of vector it was trained on (a test replays logged trials through both and compares them).

:func:`search_metrics` (domains with an exact belief: Gridworld, Semi-circle) says whether a trial *searched*: the exact posterior
(:class:`~borel_lib.references.exact_belief.ExactBelief`) is run along the evaluated trajectory, whatever belief
the agent used, and gives per task: whether episode 1 found the goal, how much of the prior's support
episode 1 had ruled out when it found the goal (or by its end), the steps episode 2 took to reach the
goal against the goal-known oracle's, and whether episode 2 went straight there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from borel_lib.envs import make_env
from borel_lib.envs.batched import make_batched_trial
from borel_lib.state_relabel import hyper_state


@torch.no_grad()
def evaluate(belief, agent, domain: str, tasks: np.ndarray, seed: int = 0, time_input: bool = False,
             record: dict[str, Any] | None = None, init_state: str = "fixed",
             observe: Callable[[np.ndarray], np.ndarray] | None = None,
             columns: list[int] | None = None) -> pd.DataFrame:
    """Per-task, per-episode returns and success (goal reached in the episode) of ``agent`` (anything
    with ``act(hyper_obs) -> actions``) using ``belief`` (module docstring).

    Pass a dict as ``record`` to receive the trajectories: ``obs`` (the states acted in), ``hyper``
    (the hyper-states), ``next_obs``, ``actions``, ``rewards`` ``(n, T, ·)``, and ``belief`` ``(n, T + 1,
    dim)`` (the belief features after every prefix).

    ``observe`` maps the environment's flat states ``(n, ·)`` to what the belief and the agent see (Reacher-Image:
    :class:`borel_lib.image_features.ImageObserver` adds the features of the state's image, as
    :func:`borel_lib.image_features.feature_view` does for the stored data); success is scored on the states.
    ``columns``: the columns of those vectors the agent's hyper-state keeps (Reacher-Image from pixels:
    :func:`borel_lib.image_features.learnt_columns`, no joint angles), as state relabelling's; the belief
    sees them whole."""
    see = observe if observe is not None else (lambda states: states)
    n = len(tasks)
    trial = make_batched_trial(domain, n, init_state=init_state)  # point robots, Gridworld or MuJoCo
    env = trial.env
    obs = see(trial.reset(np.asarray(tasks), seeds=range(seed, seed + n)))
    state = belief.reset(n, tasks) if getattr(belief, "needs_task", False) else belief.reset(n)  # KnownGoal: the tasks
    k, H = trial.k, trial.H
    returns = np.zeros((n, k))
    success = np.zeros((n, k), dtype=bool)
    trace: dict[str, list] = {key: [] for key in ("obs", "hyper", "next_obs", "actions", "rewards")}
    trace["belief"] = [belief.features(state)]
    for t in range(trial.trial_length):
        hyper = hyper_state(obs, trace["belief"][-1], t if time_input else None, H, k, columns)
        a = agent.act(hyper)
        out = trial.step(a)
        e = t // H
        returns[:, e] += out.reward
        success[:, e] |= env.is_success(out.next_obs[:, :-1], trial.tasks)
        next_obs = see(out.next_obs)
        state = belief.step(state, a, out.reward, next_obs)
        trace["belief"].append(belief.features(state))
        for key, value in (("obs", obs), ("hyper", hyper), ("next_obs", next_obs), ("actions", a),
                           ("rewards", out.reward)):
            trace[key].append(np.asarray(value))
        obs = see(out.obs)
    if record is not None:
        record.update({key: np.stack(v, 1) for key, v in trace.items()})
    task = np.repeat(np.arange(n), k)
    episode = np.tile(np.arange(1, k + 1), n)
    return pd.concat([pd.DataFrame({"task": task, "episode": episode, "metric": "return", "value": returns.ravel()}),
                      pd.DataFrame({"task": task, "episode": episode, "metric": "success",
                                    "value": success.ravel().astype(float)})], ignore_index=True)


def oracle_steps(domain: str, tasks: np.ndarray) -> np.ndarray:
    """Steps the goal-known agent needs from the fixed start to reach each goal ``(n,)``: Manhattan
    distance on Gridworld; on the Semi-circle, full-speed steps (0.1 per axis) until within the goal
    radius."""
    tasks = np.asarray(tasks, np.float64)
    if domain == "gridworld":
        return np.abs(tasks).sum(-1).astype(int)
    env = make_env(domain)
    need = np.maximum(np.linalg.norm(tasks, axis=-1) - env.goal_radius, 0.0)
    # diagonal moves advance 0.1·√2 per step; the oracle moves along the straight line at full speed
    per_step = 0.1 / np.maximum(np.abs(tasks).max(-1) / np.linalg.norm(tasks, axis=-1), 1e-9)
    return np.ceil(need / per_step - 1e-9).astype(int)


def search_metrics(domain: str, tasks: np.ndarray, record: dict[str, np.ndarray], slack: int = 2) -> pd.DataFrame:
    """Per evaluation task (module docstring): ``found_ep1``, ``ruled_out_ep1`` (fraction of the prior's
    candidates ruled out when episode 1 first reached the goal, or at its end), ``steps_ep2`` (steps
    until episode 2 first reached the goal; H if never), ``direct_ep2`` (episode 2 reached it within the
    oracle's steps + ``slack``), and ``search_then_go`` (found in episode 1 and direct in episode 2)."""
    from borel_lib.references.exact_belief import ExactBelief

    env = make_env(domain)
    H = env.horizon
    exact = ExactBelief(domain)
    post = exact.posterior_trials(record["actions"], record["rewards"], record["next_obs"])  # (n, T + 1, C)
    hit = env.is_success(record["next_obs"][..., :-1], np.asarray(tasks)[:, None, :])  # (n, T)
    n = len(tasks)
    found = hit[:, :H].any(1)
    before = np.where(found, hit[:, :H].argmax(1), H)  # the belief just before the goal was first reached
    alive = post[np.arange(n), before] > 0
    ruled = 1.0 - alive.sum(-1) / exact.n_candidates
    steps2 = np.where(hit[:, H:2 * H].any(1), hit[:, H:2 * H].argmax(1) + 1, H)
    direct = steps2 <= oracle_steps(domain, tasks) + slack
    return pd.DataFrame({"task": np.arange(n), "found_ep1": found.astype(float), "ruled_out_ep1": ruled,
                         "steps_ep2": steps2.astype(float), "direct_ep2": direct.astype(float),
                         "search_then_go": (found & direct).astype(float)})
