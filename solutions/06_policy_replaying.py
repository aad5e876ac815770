"""Solutions to the exercises of notebook 06 (policy replaying on Wind and Escape-Room).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/06_policy_replaying.py`` (a few seconds).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from borel_lib import identifiability as idf
from borel_lib.envs import make_env
from borel_lib.envs.batched import make_batched_trial
from borel_lib.references.exact_belief import ExactBelief
from borel_lib.references.transition import escape_room_actions

N_TASKS = 6
OPENINGS = ((np.arange(N_TASKS) + 0.5) / N_TASKS * np.pi)[:, None]
"""Escape-Room openings of the exercises: evenly spread over [0, π]."""


def roll(domain: str, tasks: np.ndarray, act: Callable[[np.ndarray, int], np.ndarray], episodes: int | None = None,
         ) -> dict[str, np.ndarray]:
    """One trial per task of ``domain`` from the origin with actions ``act(states, t)`` (states without the
    flag, ``(N, 2)``; ``t`` the trial step): ``obs`` (without the flag), ``actions``, ``rewards``, ``next_obs`` (flagged), ``(N, T, ·)``."""
    trial = make_batched_trial(domain, len(tasks), episodes=episodes)
    obs = trial.reset(tasks, seeds=range(len(tasks)))
    rec: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "next_obs": []}
    for t in range(trial.trial_length):
        s = obs[:, :-1].astype(np.float64)
        a = act(s, t).astype(np.float32)
        out = trial.step(a)
        for key, value in (("obs", s), ("actions", a), ("rewards", out.reward), ("next_obs", out.next_obs)):
            rec[key].append(np.asarray(value, np.float32))
        obs = out.obs
    return {key: np.stack(v, 1) for key, v in rec.items()}


def exercise_1() -> dict[str, float]:
    """The exact posterior over Escape-Room's opening (at 1.3 rad) after one episode of three behaviours:
    standing still; walking straight at another task's opening (2.6 rad: a replayed policy); the own
    policy, which walks out through its opening.

    Expected: standing still never meets the wall, so the posterior stays the uniform prior (all 360
    candidate angles). The replayed walk is stopped by the wall: it rules out the openings that would
    have let it through (zero mass within π/16 of 2.6 rad) but leaves most candidates. The escape rules
    out every opening that would have blocked it: all the mass ends within π/16 of the true opening."""
    belief = ExactBelief("escape_room")
    task = np.array([[1.3]])
    behaviours = {"still": lambda s, t: np.zeros_like(s),
                  "replayed (2.6 rad)": lambda s, t: escape_room_actions("oracle", s, np.array([[2.6]]), {}, 0),
                  "own policy": lambda s, t: escape_room_actions("oracle", s, task, {}, 0)}
    out = {}
    for name, act in behaviours.items():
        rec = roll("escape_room", task, act, episodes=1)
        post = belief.posterior_trials(rec["actions"], rec["rewards"], rec["next_obs"])[0, -1]
        out[f"{name}: candidates left"] = int((post > 0).sum())
        out[f"{name}: mass near 1.3"] = float(post[np.abs(belief.angles - 1.3) <= np.pi / 16].sum())
        out[f"{name}: mass near 2.6"] = float(post[np.abs(belief.angles - 2.6) <= np.pi / 16].sum())
    assert out["still: candidates left"] == belief.n_candidates
    assert out["replayed (2.6 rad): mass near 2.6"] == 0 and out["replayed (2.6 rad): candidates left"] > belief.n_candidates / 2
    assert np.isclose(out["own policy: mass near 1.3"], 1.0)
    return out


def exercise_2() -> dict[str, int]:
    """One transition reveals the wind: the exact posterior of three Wind tasks along a random trial.

    Expected: after the first step of an episode it is still the prior (all 32 × 32 candidate cells:
    the belief uses only (a, r, s'), and the start state of an episode is not among them), after the
    second it is a single cell, the one that contains the true wind. Dense differences: every
    transition identifies."""
    env, belief = make_env("wind"), ExactBelief("wind")
    tasks = env.sample_tasks(3, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    rec = roll("wind", tasks, lambda s, t: rng.uniform(-1, 1, s.shape))
    post = belief.posterior_trials(rec["actions"], rec["rewards"], rec["next_obs"])
    left = (post > 0).sum(-1)  # (N, T + 1)
    assert np.all(left[:, :2] == belief.n_candidates) and np.all(left[:, 2:] == 1)
    found = belief.candidates[post[:, -1].argmax(-1)]
    assert np.all(np.abs(found - tasks) <= belief.cell / 2 + 1e-6)
    return {"candidates before": int(left[0, 0]), "after 1 transition": int(left[0, 1]),
            "after 2 transitions": int(left[0, 2])}


def exercise_3() -> dict[str, int]:
    """Make the own data of six Escape-Room tasks (each task's goal-known policy walking out of its own
    opening) and its policy-replay data (every task's policy run in every task), and run the notebook's
    discretised checker on both.

    Expected: the own data fails Proposition 2 for all 15 pairs (each agent crosses the wall only at its
    own opening, and no other task's data goes there); the replayed data passes for all 15, because in
    task i the replayed policy of task j is stopped exactly where task j's own policy escapes."""
    env = make_env("escape_room")
    own = roll("escape_room", OPENINGS, lambda s, t: escape_room_actions("oracle", s, OPENINGS, {}, 0), episodes=1)
    replayed = [roll("escape_room", OPENINGS, lambda s, t, j=j: escape_room_actions(
        "oracle", s, np.repeat(OPENINGS[j:j + 1], N_TASKS, 0), {}, 0), episodes=1) for j in range(N_TASKS)]
    data = {"own": (own["obs"], own["actions"]),
            "replay": (np.concatenate([r["obs"] for r in replayed], 1), np.concatenate([r["actions"] for r in replayed], 1))}
    reports = idf.discretised_transition_identifiability(env.transition, OPENINGS, data)
    out = {f"failing, {name}": len(rep.failing_pairs) for name, rep in reports.items()}
    assert out == {"failing, own": 15, "failing, replay": 0}
    return out


def exercise_4() -> dict[str, int]:
    """Dense against sparse differences: run one and the same random action sequence from the origin under
    six winds and under six Escape-Room openings, and run the checker on each.

    Expected: Wind passes Proposition 2 for all 15 pairs (every transition differs between two winds, and
    the shared first step from the origin overlaps); Escape-Room fails all 15 and has no identifying
    state-action at all in this data: a random walk stays well inside the room, and the rooms differ
    only at the wall. There, only data that reaches the wall (policy replaying) can identify the task."""
    actions = np.random.default_rng(1).uniform(-1, 1, size=(75, 2))
    tasks = {"wind": make_env("wind").sample_tasks(N_TASKS, np.random.default_rng(0)), "escape_room": OPENINGS}
    out = {}
    for domain, domain_tasks in tasks.items():
        rec = roll(domain, domain_tasks, lambda s, t: np.repeat(actions[t][None], len(s), 0), episodes=1)
        report = idf.discretised_transition_identifiability(make_env(domain).transition, domain_tasks,
                                                            {"random": (rec["obs"], rec["actions"])},
                                                            bounds=(-1.6, 1.6, -1.6, 1.9))["random"]
        out[f"{domain}: failing pairs"] = len(report.failing_pairs)
        out[f"{domain}: identifying state-actions"] = int(report.n_identifying.sum() // 2)
    assert out["wind: failing pairs"] == 0 and out["escape_room: failing pairs"] == 15
    assert out["escape_room: identifying state-actions"] == 0 < out["wind: identifying state-actions"]
    return out


EXERCISES = (exercise_1, exercise_2, exercise_3, exercise_4)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
