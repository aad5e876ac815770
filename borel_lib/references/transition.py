"""Scripted reference agents on the transition domains, Wind and Escape-Room (Figure 4's reference lines).

The paper's Figure 4 compares BOReL with and without policy replaying; our domains are our own (see
:mod:`borel_lib.envs.point_robot`), so the levels a good agent reaches are computed here with
hand-written policies run on the evaluation tasks (:func:`borel_lib.pipeline.eval_tasks`), starting at the
origin as the evaluation does:

- **Escape-Room**, ``oracle``: knows the opening and walks straight out through its centre in every
  episode. ``wall_search``: the search §4 and Appendix F describe, not told the opening: episode 1
  walks to the wall at angle π (the left end of the upper half, where openings lie) and slides along
  the wall clockwise, pushing outwards, until a step gets out; episode 2 walks straight out at the
  angle where episode 1 escaped. Approximately Bayes-optimal for a uniform prior over [0, π]
  (the sweep covers the prior's support once, from one end).
- **Wind**, ``oracle``: knows w and steers s' onto the goal: a = clip((g − s − w) / 0.1).
  ``learn_wind``: not told w; its first step heads for the goal as if there were no wind, and from
  then on it uses the wind revealed by the previous step (one transition reveals w exactly, §4), as
  the oracle does.

Both are deterministic. :func:`reference_returns` returns per-episode returns in the tidy layout
(``references_transition_domains`` in the results folder; notebook 06 writes it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from borel_lib.envs.batched import make_batched_trial

REFERENCE_METHODS = {"escape_room": ("oracle", "wall_search"), "wind": ("oracle", "learn_wind")}
"""Reference agents per transition domain (module docstring)."""


def _unit(angle: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angle), np.sin(angle)], -1)


def escape_room_actions(method: str, state: np.ndarray, tasks: np.ndarray, memory: dict, episode: int) -> np.ndarray:
    """One step of an Escape-Room reference for ``N`` tasks (``state`` without the flag, ``(N, 2)``);
    ``memory['found']`` holds the escape angle episode 1 found (NaN until then)."""
    if method == "oracle":
        return _unit(tasks[:, 0])
    found = memory.setdefault("found", np.full(len(state), np.nan))
    r, ang = np.linalg.norm(state, axis=-1), np.arctan2(state[:, 1], state[:, 0])
    slide = 0.6 * _unit(ang) + 0.8 * np.stack([np.sin(ang), -np.cos(ang)], -1)  # outwards + clockwise
    search = np.where((r < 0.95)[:, None], np.array([-1.0, 0.0]), slide)
    return np.where(np.isfinite(found)[:, None], _unit(np.nan_to_num(found)), search)


def wind_actions(method: str, state: np.ndarray, tasks: np.ndarray, memory: dict, goal: np.ndarray) -> np.ndarray:
    """One step of a Wind reference: steer s + 0.1a + w onto the goal with the known (``oracle``) or
    last revealed (``learn_wind``; zero before the first step) wind."""
    w = tasks if method == "oracle" else memory.get("wind", np.zeros_like(tasks))
    return np.clip((goal - state - w) / 0.1, -1.0, 1.0)


def run_reference(domain: str, method: str, tasks: np.ndarray) -> np.ndarray:
    """Per-episode returns ``(N, k)`` of reference ``method`` on ``tasks`` from the origin."""
    if method not in REFERENCE_METHODS.get(domain, ()):
        raise ValueError(f"reference {method!r} for {domain!r}: allowed values: "
                         f"{', '.join(f'{d}: {m}' for d, ms in REFERENCE_METHODS.items() for m in ms)}")
    trial = make_batched_trial(domain, len(tasks))
    obs = trial.reset(tasks, seeds=range(len(tasks)))
    returns = np.zeros((len(tasks), trial.k))
    memory: dict = {}
    for t in range(trial.trial_length):
        s = obs[:, :-1].astype(np.float64)
        if domain == "escape_room":
            a = escape_room_actions(method, s, trial.tasks, memory, t // trial.H)
        else:
            a = wind_actions(method, s, trial.tasks, memory, trial.env.goal)
        out = trial.step(a.astype(np.float32))
        nxt = out.next_obs[:, :-1].astype(np.float64)
        if domain == "escape_room":  # remember where episode 1 first got beyond the wall
            found = memory["found"] if "found" in memory else np.full(len(tasks), np.nan)
            new = ~np.isfinite(found) & (np.linalg.norm(nxt, axis=-1) > trial.env.wall_radius)
            memory["found"] = np.where(new, np.arctan2(nxt[:, 1], nxt[:, 0]), found)
        else:  # the wind this step revealed (the next step of the same episode starts from nxt)
            memory["wind"] = nxt - s - 0.1 * np.clip(a, -1.0, 1.0)
        returns[:, t // trial.H] += out.reward
        obs = out.obs
    return returns


def reference_returns(tasks_by_domain: dict[str, np.ndarray], seed: int = 0) -> pd.DataFrame:
    """Tidy per-episode returns (mean over tasks) of every reference agent of the given domains."""
    rows = []
    for domain, tasks in tasks_by_domain.items():
        for method in REFERENCE_METHODS[domain]:
            ret = run_reference(domain, method, np.asarray(tasks, dtype=np.float64))
            for e in range(ret.shape[1]):
                rows.append({"domain": domain, "method": method, "variant": "scripted", "seed": seed,
                             "episode": e + 1, "metric": "return", "value": float(ret[:, e].mean())})
    return pd.DataFrame(rows)
