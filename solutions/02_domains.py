"""Solutions to the exercises of notebook 02 (the seven domains).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/02_domains.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np

from borel_lib.envs import make_env, make_trial
from borel_lib.envs.batched import make_batched_trial
from borel_lib.envs.rollout import rollout_trial
from borel_lib.references.scripted import semicircle_search_trial


def exercise_1() -> dict[str, int]:
    """Relabel a Semi-circle trial: recompute its rewards with ``env.reward`` for its own goal, then for
    another goal.

    Expected: for its own goal the recomputed rewards equal the logged ones exactly (the premise of
    reward relabelling: ``reward(obs, action, next_obs, task)`` is the function ``step`` uses). For
    another goal they differ exactly at the steps whose next state lies within the goal radius of one
    of the two goals but not of both."""
    env = make_env("semicircle")
    goal, other = np.array([np.cos(2.0), np.sin(2.0)]), np.array([np.cos(0.5), np.sin(0.5)])
    trial = semicircle_search_trial(goal)  # sweeps the arc in episode 1: passes near both goals
    obs, actions, nxt = trial["obs"][:, :-1], trial["actions"], trial["next_obs"][:, :-1]
    own = env.reward(obs, actions, nxt, goal)
    assert np.array_equal(own, trial["rewards"])
    relabelled = env.reward(obs, actions, nxt, other)
    changed = relabelled != own
    assert np.array_equal(changed, env.is_success(nxt, goal) ^ env.is_success(nxt, other))
    assert changed.any(), "the sweep passes the other goal, so some rewards must change"
    return {"steps": len(own), "rewards changed by relabelling": int(changed.sum())}


def exercise_2() -> dict[str, list[int]]:
    """The episode-end flag of a BAMDP trial: roll a Gridworld trial (k = 4 episodes of H = 15 steps) with
    the action "up" and look at the last column of ``obs`` and ``next_obs``.

    Expected: the flag of ``next_obs`` is 1 exactly at steps H − 1, 2H − 1, 3H − 1, 4H − 1 (each episode's
    last step) and the flag of every ``obs`` is 0; after each episode end the next state is the start
    cell (0, 0) again, while the belief (in later notebooks) is kept across the whole trial."""
    trial = make_trial("gridworld")
    rec = rollout_trial(trial, np.array([4.0, 4.0]), lambda obs, rng: np.int64(1), seed=0)
    H, k = trial.env.horizon, trial.env.episodes_per_trial
    flagged = np.flatnonzero(rec["next_obs"][:, -1] == 1).tolist()
    assert flagged == [e * H + H - 1 for e in range(k)]
    assert np.all(rec["obs"][:, -1] == 0)
    starts = rec["obs"][[e * H for e in range(k)], :2]
    assert np.array_equal(starts, np.zeros((k, 2)))
    assert rec["next_obs"][H - 1, 1] == 4.0, "walking up for 15 steps reaches the top row"
    return {"flagged steps": flagged}


def exercise_3() -> dict[str, float]:
    """Batched stepping is the same environment: run 4 Wind tasks with the same random actions through
    ``make_batched_trial`` and through 4 single ``make_trial`` envs.

    Expected: every observation, next observation and reward is identical (bit for bit), because both
    call the same pure ``transition`` and ``reward`` functions. (Collection relies on this.)"""
    n = 4
    env = make_env("wind")
    rng = np.random.default_rng(0)
    tasks = env.sample_tasks(n, rng)
    seeds = list(range(n))
    batched = make_batched_trial("wind", n)
    first = batched.reset(tasks, seeds=seeds)
    actions = rng.uniform(-1, 1, size=(batched.trial_length, n, 2)).astype(np.float32)
    steps = [batched.step(a) for a in actions]
    for i in range(n):
        single = make_trial("wind")
        obs, _ = single.reset(seed=seeds[i], options={"task": tasks[i]})
        assert np.array_equal(obs, first[i])
        for t, out in enumerate(steps):
            obs, reward, _, _, info = single.step(actions[t, i])
            assert np.array_equal(obs, out.obs[i]) and reward == out.reward[i]
            assert np.array_equal(info.get("episode_final_obs", obs), out.next_obs[i])
    return {"transitions compared": float(n * batched.trial_length)}


def exercise_4() -> dict[str, float]:
    """Reacher-Image hides its task: replay the same 20 random actions under three different targets.

    Expected: the images are identical at every step (only the arm is drawn), while the rewards
    differ (they depend on the distance to the unseen target): the agent can learn the target only
    from rewards, which is what the belief is for."""
    env = make_env("reacher_image")
    targets = env.sample_tasks(3, np.random.default_rng(0))
    actions = np.random.default_rng(1).uniform(-1, 1, size=(20, 2)).astype(np.float32)
    images, rewards = [], []
    for target in targets:
        obs, _ = env.reset(seed=3, options={"task": target})
        frames, rs = [obs["image"]], []
        for a in actions:
            obs, r, *_ = env.step(a)
            frames.append(obs["image"])
            rs.append(r)
        images.append(np.stack(frames))
        rewards.append(np.array(rs))
    assert all(np.array_equal(images[0], im) for im in images[1:])
    assert not np.allclose(rewards[0], rewards[1]) and not np.allclose(rewards[0], rewards[2])
    return {"largest reward difference": float(np.abs(rewards[0] - rewards[1]).max())}


EXERCISES = (exercise_1, exercise_2, exercise_3, exercise_4)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
