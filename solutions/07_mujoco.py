"""Solutions to the exercises of notebook 07 (MuJoCo: Ant-Semi-circle and Half-Cheetah-Vel).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/07_mujoco.py`` (a few seconds; MuJoCo only, no
training).
"""

from __future__ import annotations

import numpy as np

from borel_lib.envs import make_env, make_trial
from borel_lib.envs.rollout import random_policy, rollout_trial
from borel_lib.references.exact_belief import ExactBelief


def exercise_1() -> dict[str, int]:
    """Dense rewards identify: roll one random Half-Cheetah-Vel trial for target velocity 1.0 and recompute
    every reward for target 1.0 and for target 2.0.

    Expected: target 1.0 reproduces the logged rewards exactly, and the two targets' rewards differ at
    every single transition (−|v − 1| ≠ −|v − 2| unless v = 1.5 exactly). Every visited state-action is
    identifying, so any two tasks' data that overlap at all satisfy Proposition 2: reward relabelling
    should matter little here (§4, Figure 3's Half-Cheetah-Vel panel)."""
    trial, env = make_trial("cheetah_vel"), make_env("cheetah_vel")
    rec = rollout_trial(trial, np.array([1.0]), random_policy(trial), seed=0)
    obs, actions, nxt = rec["obs"][:, :-1], rec["actions"], rec["next_obs"][:, :-1]
    assert np.array_equal(env.reward(obs, actions, nxt, np.array([1.0])), rec["rewards"])
    differ = env.reward(obs, actions, nxt, np.array([1.0])) != env.reward(obs, actions, nxt, np.array([2.0]))
    assert differ.all()
    return {"transitions": len(differ), "identifying": int(differ.sum())}


def exercise_2() -> dict[str, int]:
    """Sparse against dense Ant rewards (the authors' trick: the collectors learn from the dense reward,
    the dataset stores the sparse one). Roll an Ant trial from the fixed start with a random policy and
    one with zero actions; recompute both rewards for two goals on the arc (0.5 and 2.5 rad).

    Expected: the sparse rewards of the two goals differ exactly at the steps that end within 0.2 of one
    goal but not the other (so the standing Ant's never differ, and its exact posterior over the goal is
    still the uniform prior at the end of the trial); the dense rewards differ at every step of both
    trials. Sparse data is identifiable only where the agents went near the goals."""
    trial, env = make_trial("ant_semicircle"), make_env("ant_semicircle")
    goals = np.stack([np.cos([0.5, 2.5]), np.sin([0.5, 2.5])], -1)
    policies = {"random": random_policy(trial), "standing": lambda obs, rng: np.zeros(8, np.float32)}
    out = {}
    for name, policy in policies.items():
        rec = rollout_trial(trial, goals[0], policy, seed=0)
        obs, actions, nxt = rec["obs"][:, :-1], rec["actions"], rec["next_obs"][:, :-1]
        sparse = [env.sparse_reward(obs, actions, nxt, g) for g in goals]
        dense = [env.dense_reward(obs, actions, nxt, g) for g in goals]
        sparse_differ = sparse[0] != sparse[1]
        assert np.array_equal(sparse_differ, env.is_success(nxt, goals[0]) ^ env.is_success(nxt, goals[1]))
        assert np.all(dense[0] != dense[1])
        out[f"{name}: sparse rewards differ"] = int(sparse_differ.sum())
        out[f"{name}: dense rewards differ"] = int((dense[0] != dense[1]).sum())
        if name == "standing":
            post = ExactBelief("ant_semicircle").posterior_trials(actions[None], rec["rewards"][None], rec["next_obs"][None])
            out["standing: candidate goals left"] = int((post[0, -1] > 0).sum())
    assert out["standing: sparse rewards differ"] == 0 and out["standing: candidate goals left"] == 360
    return out


def exercise_3() -> dict[str, int]:
    """Table 1's knob, the collection's initial states: reset the Ant 50 times with ``init_state`` fixed,
    uniform and exclude_semicircle, and look at the torso's start positions.

    Expected: fixed, one start (the origin, where evaluation starts too); uniform, 50 different starts in
    the rectangle, some of them on the goals' annulus (0.8 ≤ ‖xy‖ ≤ 1.2); exclude_semicircle, 50 different
    starts and none on the annulus. That is all that separates Table 1's three datasets."""
    out = {}
    for init_state in ("fixed", "uniform", "exclude_semicircle"):
        env = make_env("ant_semicircle", init_state=init_state)
        env.reset(seed=0)
        xy = np.stack([env.reset()[0][:2] for _ in range(50)])
        r = np.linalg.norm(xy, axis=-1)
        out[f"{init_state}: distinct starts"] = len(np.unique(xy, axis=0))
        out[f"{init_state}: on the annulus"] = int(((r >= 0.8) & (r <= 1.2)).sum())
    assert out["fixed: distinct starts"] == 1 and out["fixed: on the annulus"] == 0
    assert out["uniform: distinct starts"] == 50 and out["uniform: on the annulus"] > 0
    assert out["exclude_semicircle: distinct starts"] == 50 and out["exclude_semicircle: on the annulus"] == 0
    return out


EXERCISES = (exercise_1, exercise_2, exercise_3)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
