"""Reward relabelling: borrowed transitions carry the current task's true rewards."""

import numpy as np
import pytest

from borel_lib.relabel import sample_trials


def goal_reward(obs, action, next_obs, task):
    """Sparse goal reward on the next state (the Semi-circle form), vectorised."""
    return (np.linalg.norm(next_obs[..., :2] - task[..., :2], axis=-1) <= 0.2).astype(np.float32)


def make_data(rng, n_tasks=4, n_trials=5, k=2, H=6):
    T = k * H
    tasks = rng.uniform(-1, 1, size=(n_tasks, 2))
    obs = rng.uniform(-1, 1, size=(n_tasks, n_trials, T, 3)).astype(np.float32)
    obs[..., 2] = 0.0
    next_obs = obs + rng.normal(0, 0.1, size=obs.shape).astype(np.float32)
    next_obs[..., 2] = 0.0
    next_obs[:, :, H - 1 :: H, 2] = 1.0  # episode-end flags
    # put some next states on each task's goal so rewards are not all zero
    next_obs[np.arange(n_tasks), 0, 3, :2] = tasks
    actions = rng.uniform(-1, 1, size=(n_tasks, n_trials, T, 2)).astype(np.float32)
    rewards = goal_reward(obs[..., :2], actions, next_obs[..., :2], tasks[:, None, None, :])
    arrays = {"obs": obs, "actions": actions, "rewards": rewards, "next_obs": next_obs}
    return arrays, tasks


@pytest.mark.parametrize("k", [2, 4])
def test_relabelled_rewards_are_current_task_rewards_of_borrowed_transitions(k):
    rng = np.random.default_rng(0)
    H = 6
    arrays, tasks = make_data(rng, k=k, H=H)
    ti = np.repeat(np.arange(4), 25)
    mi = rng.integers(0, 5, size=ti.size)
    batch = sample_trials(arrays, ti, mi, tasks=tasks, episodes=k, horizon=H, reward_fn=goal_reward,
                          rng=np.random.default_rng(1))
    assert batch.obs.shape == (100, k * H, 3) and batch.rewards.shape == (100, k * H)
    half = k // 2
    assert np.all(batch.source_task[:, :half] != ti[:, None]), "borrowed episodes must come from other tasks"
    assert np.all(batch.source_task[:, half:] == ti[:, None])
    # borrowed part: transitions exist in the source task's data, rewards are the current task's
    for b in range(ti.size):
        for e in range(half):
            sl = slice(e * H, (e + 1) * H)
            src = batch.source_task[b, e]
            matches = np.all(arrays["next_obs"][src][:, sl] == batch.next_obs[b, sl], axis=(1, 2))
            assert matches.any(), "borrowed episode not found in the source task's trials"
            expected = goal_reward(None, None, batch.next_obs[b, sl, :2], tasks[ti[b]])
            np.testing.assert_array_equal(batch.rewards[b, sl], expected)
    # own part untouched
    own = slice(half * H, k * H)
    np.testing.assert_array_equal(batch.next_obs[:, own], arrays["next_obs"][ti, mi][:, own])
    np.testing.assert_array_equal(batch.rewards[:, own], arrays["rewards"][ti, mi][:, own])
    # the flag layout survives (final steps of every episode)
    assert np.all(batch.next_obs[:, H - 1 :: H, 2] == 1.0)


def test_borrow_all_replaces_every_episode_from_any_task():
    """borrow='all': every episode borrowed, sources uniform over all tasks (own included), rewards the trial's."""
    rng = np.random.default_rng(0)
    H, k = 6, 4
    arrays, tasks = make_data(rng, k=k, H=H)
    ti = np.repeat(np.arange(4), 200)
    batch = sample_trials(arrays, ti, rng.integers(0, 5, ti.size), tasks=tasks, episodes=k, horizon=H,
                          reward_fn=goal_reward, rng=np.random.default_rng(1), borrow="all")
    own = batch.source_task == ti[:, None]
    assert 0.15 < own.mean() < 0.35  # 1 in 4 tasks is the trial's own
    for b in range(0, ti.size, 7):
        for e in range(k):
            sl = slice(e * H, (e + 1) * H)
            matches = np.all(arrays["next_obs"][batch.source_task[b, e]][:, sl] == batch.next_obs[b, sl], axis=(1, 2))
            assert matches.any()
            np.testing.assert_array_equal(batch.rewards[b, sl], goal_reward(None, None, batch.next_obs[b, sl, :2],
                                                                            tasks[ti[b]]))
    with pytest.raises(ValueError, match="borrow='most' is not allowed; allowed values: half, all"):
        sample_trials(arrays, ti, ti, tasks=tasks, episodes=k, horizon=H, reward_fn=goal_reward,
                      rng=np.random.default_rng(1), borrow="most")


def test_mode_none_returns_original_trials():
    rng = np.random.default_rng(0)
    arrays, tasks = make_data(rng)
    ti, mi = np.array([2, 0, 3]), np.array([4, 1, 0])
    batch = sample_trials(arrays, ti, mi, tasks=tasks, episodes=2, horizon=6, mode="none", rng=rng)
    for name in ("obs", "actions", "rewards", "next_obs"):
        np.testing.assert_array_equal(getattr(batch, name), arrays[name][ti, mi])


def test_relabelling_is_seeded():
    arrays, tasks = make_data(np.random.default_rng(0))
    args = dict(tasks=tasks, episodes=2, horizon=6, reward_fn=goal_reward)
    a = sample_trials(arrays, np.arange(4), np.zeros(4, int), rng=np.random.default_rng(5), **args)
    b = sample_trials(arrays, np.arange(4), np.zeros(4, int), rng=np.random.default_rng(5), **args)
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.source_task, b.source_task)


def test_relabelling_errors():
    arrays, tasks = make_data(np.random.default_rng(0))
    args = dict(tasks=tasks, episodes=2, horizon=6, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="allowed values: none, reward_relabelling"):
        sample_trials(arrays, [0], [0], mode="rr", **args)
    with pytest.raises(ValueError, match="differ in transition"):
        sample_trials(arrays, [0], [0], reward_fn=goal_reward, varies="transition", **args)
    with pytest.raises(ValueError, match="needs reward_fn"):
        sample_trials(arrays, [0], [0], **args)
    with pytest.raises(ValueError, match="trial length"):
        sample_trials(arrays, [0], [0], mode="none", **{**args, "horizon": 5})
