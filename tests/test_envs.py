"""Domains (paper §6): Gymnasium API, pure reward == step reward, seeding, trials, batched == single."""

import importlib.util
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from borel_lib.envs import DOMAINS, BAMDPTrial, make_env, make_trial
from borel_lib.envs.batched import BATCHABLE, make_batched_trial


def _available(name):
    module = DOMAINS[name].entry_point.split(":")[0]
    return importlib.util.find_spec(module) is not None


ALL = [pytest.param(n, marks=pytest.mark.skipif(not _available(n), reason=f"{n} not implemented yet"))
       for n in DOMAINS]


def _random_action(env, rng):
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        return int(rng.integers(space.n))
    return rng.uniform(space.low, space.high).astype(np.float32)


def _drift(name, task):
    """A direction towards the rewarding region of a point-robot task (None for other domains)."""
    if name == "semicircle":
        return 0.4 * np.asarray(task, dtype=np.float32)
    if name == "escape_room":
        return 0.8 * np.array([np.cos(task[0]), np.sin(task[0])], dtype=np.float32)
    if name == "wind":
        return np.array([0.0, 0.2], dtype=np.float32) - 5 * np.asarray(task, dtype=np.float32)
    return None


@pytest.mark.parametrize("name", ALL)
def test_check_env(name):
    env = gym.make(DOMAINS[name].env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("name", ALL)
def test_trial_passes_check_env(name):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version.*")
        check_env(make_trial(name), skip_render_check=True)


@pytest.mark.parametrize("name", ALL)
def test_pure_reward_equals_step_reward(name):
    """Relabelling depends on this: the pure reward reproduces every reward step() returned."""
    rng = np.random.default_rng(0)
    trial = make_trial(name)
    env = trial.unwrapped
    obs_l, act_l, next_l, rew_l, task_l = [], [], [], [], []
    n_steps = 0
    target = 600 if name in ("ant_semicircle", "cheetah_vel", "reacher_image") else 3000
    seed = 0
    while n_steps < target:
        task = env.sample_tasks(1, rng)[0]
        obs, _ = trial.reset(seed=seed, options={"task": task})
        seed += 1
        done = False
        # point robots: half the trials drift towards where the reward is, so rewards vary
        drift = _drift(name, task) if seed % 2 else None
        while not done:
            a = _random_action(trial, rng)
            if drift is not None:
                a = np.clip(0.5 * a + drift, -1, 1).astype(np.float32)
            nxt, r, term, trunc, info = trial.step(a)
            true_next = info.get("episode_final_obs", nxt)
            obs_l.append(obs), act_l.append(a), next_l.append(true_next), rew_l.append(r), task_l.append(task)
            obs, done, n_steps = nxt, term or trunc, n_steps + 1
    if isinstance(obs_l[0], dict):
        stack = lambda xs: {k: np.stack([x[k] for x in xs]) for k in xs[0]}  # noqa: E731
    else:
        stack = np.stack
    pure = trial.reward(stack(obs_l), np.stack(act_l) if not np.isscalar(act_l[0]) else np.array(act_l),
                        stack(next_l), np.stack(task_l))
    np.testing.assert_allclose(pure, np.array(rew_l), rtol=0, atol=1e-5)
    if name in ("gridworld", "semicircle", "wind", "escape_room"):
        assert np.any(np.array(rew_l) != np.array(rew_l)[0]), "rewards never varied: test is vacuous"


@pytest.mark.parametrize("name", ALL)
def test_seeded_tasks_and_resets_repeat(name):
    env = make_env(name)
    t1 = env.sample_tasks(5, np.random.default_rng(3))
    t2 = env.sample_tasks(5, np.random.default_rng(3))
    np.testing.assert_array_equal(t1, t2)
    assert t1.shape == (5, env.task_dim)
    runs = []
    for _ in range(2):
        trial = make_trial(name)
        obs, _ = trial.reset(seed=11, options={"task": t1[0]})
        rng = np.random.default_rng(5)
        traj = [obs]
        for _ in range(5):
            traj.append(trial.step(_random_action(trial, rng))[0])
        runs.append(traj)
    for a, b in zip(*runs):
        if isinstance(a, dict):
            for k in a:
                np.testing.assert_array_equal(a[k], b[k])
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", [n for n in BATCHABLE])
def test_trial_layout(name):
    trial = make_trial(name)
    H, k = trial.H, trial.k
    obs, info = trial.reset(seed=0)
    assert obs[-1] == 0.0 and obs.shape == trial.observation_space.shape
    rng = np.random.default_rng(0)
    flags, boundaries = [], []
    for step in range(H * k):
        obs, r, term, trunc, info = trial.step(_random_action(trial, rng))
        if info.get("episode_end"):
            boundaries.append(step)
            assert info["episode_final_obs"][-1] == 1.0
        flags.append(obs[-1])
        assert trunc == (step == H * k - 1) and not term
    assert boundaries == [H * (e + 1) - 1 for e in range(k)]
    # after an inner boundary the agent sees a fresh start state with flag 0
    assert all(flags[b] == 0.0 for b in boundaries[:-1]) and flags[-1] == 1.0


def test_fresh_start_state_after_boundary_with_uniform_init():
    trial = make_trial("semicircle", init_state="uniform")
    trial.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(trial.H - 1):
        trial.step(_random_action(trial, rng))
    obs, _, _, _, info = trial.step(np.zeros(2, np.float32))
    assert not np.allclose(obs[:2], info["episode_final_obs"][:2]), "episode 2 must start from a reset state"


@pytest.mark.parametrize("name", BATCHABLE)
@pytest.mark.parametrize("init_state", ["fixed", "uniform", "exclude_semicircle"])
def test_batched_equals_single(name, init_state):
    env = make_env(name)
    if init_state not in env.init_state_options:
        pytest.skip(f"{name} has no {init_state} option")
    n = 6
    rng = np.random.default_rng(1)
    tasks = env.sample_tasks(n, rng)
    seeds = list(range(100, 100 + n))
    batched = make_batched_trial(name, n, init_state=init_state)
    obs_b = [batched.reset(tasks, seeds=seeds)]
    T = batched.trial_length
    if name == "gridworld":
        actions = rng.integers(0, 5, size=(T, n))
    else:
        actions = rng.uniform(-1.2, 1.2, size=(T, n, 2)).astype(np.float32)
    rew_b, next_b = [], []
    for t in range(T):
        out = batched.step(actions[t])
        obs_b.append(out.obs), rew_b.append(out.reward), next_b.append(out.next_obs)
    assert out.trial_done
    for i in range(n):
        single = make_trial(name, init_state=init_state)
        obs, _ = single.reset(seed=seeds[i], options={"task": tasks[i]})
        np.testing.assert_array_equal(obs, obs_b[0][i])
        for t in range(T):
            obs, r, _, _, info = single.step(actions[t, i])
            np.testing.assert_array_equal(obs, obs_b[t + 1][i])
            np.testing.assert_array_equal(info.get("episode_final_obs", obs), next_b[t][i])
            assert r == rew_b[t][i]


def test_semicircle_init_state_regions():
    rng_states = {}
    for option in ("uniform", "exclude_semicircle", "fixed"):
        env = make_env("semicircle", init_state=option)
        env.reset(seed=0)
        rng_states[option] = np.stack([env.reset()[0] for _ in range(2000)])
    u, ex, fx = rng_states["uniform"], rng_states["exclude_semicircle"], rng_states["fixed"]
    for s in (u, ex):
        assert s[:, 0].min() >= -1.5 and s[:, 0].max() <= 1.5 and s[:, 1].min() >= -0.5 and s[:, 1].max() <= 1.5
    r_u, r_ex = np.linalg.norm(u, axis=1), np.linalg.norm(ex, axis=1)
    assert np.any((r_u >= 0.8) & (r_u <= 1.2)), "uniform must cover the annulus"
    assert not np.any((r_ex >= 0.8) & (r_ex <= 1.2)), "exclude_semicircle must avoid the annulus"
    assert np.all(fx == 0)


def test_gridworld_init_and_goals():
    env = make_env("gridworld", init_state="uniform")
    env.reset(seed=0, options={"task": [4, 4]})
    starts = np.stack([env.reset()[0] for _ in range(500)])
    assert not np.any(np.all(starts == [4, 4], axis=1)) and len(np.unique(starts, axis=0)) == 24
    goals = env.candidate_goals()
    assert len(goals) == 21 and not any((g < 2).all() for g in goals)
    with pytest.raises(ValueError, match="not one of the 21"):
        env.set_task([0, 1])


def test_escape_room_wall_blocks_everywhere_but_the_opening():
    env = make_env("escape_room")
    theta = np.pi / 3
    task = np.array([theta])
    half = env.opening_width / 2
    for phi in np.linspace(-np.pi, np.pi, 721):
        start = 0.95 * np.array([np.cos(phi), np.sin(phi)], dtype=np.float32)
        action = np.array([np.cos(phi), np.sin(phi)], dtype=np.float32)  # radially out, step 0.1
        nxt = env.transition(start, action, task)
        inside = np.abs(np.angle(np.exp(1j * (phi - theta)))) <= half - 1e-3
        outside = np.abs(np.angle(np.exp(1j * (phi - theta)))) >= half + 1e-3
        r = np.linalg.norm(nxt)
        if inside:
            assert r > 1.0, f"blocked inside the opening at angle {phi:.3f}"
        if outside:
            assert r < 1.0, f"walked through the wall at angle {phi:.3f}"
    # walking out through the opening and on to escape gives reward
    env.reset(seed=0, options={"task": task})
    total = 0.0
    for _ in range(20):
        _, r, *_ = env.step(np.array([np.cos(theta), np.sin(theta)], dtype=np.float32))
        total += r
    assert total > 0
    # from outside, the wall blocks coming back in away from the opening
    s = np.array([1.02 * np.cos(-np.pi / 2), 1.02 * np.sin(-np.pi / 2)], dtype=np.float32)
    assert np.linalg.norm(env.transition(s, -s / np.linalg.norm(s), task)) > 1.0


def test_wind_transition_and_reward():
    env = make_env("wind")
    w = np.array([0.05, -0.02])
    nxt = env.transition(np.zeros(2, np.float32), np.array([1.0, 0.5], np.float32), w)
    np.testing.assert_allclose(nxt, [0.15, 0.03], atol=1e-6)
    assert env.reward(None, None, np.array([0.0, 0.98]), w) == 1.0
    assert env.reward(None, None, np.array([0.0, 0.96]), w) == 0.0


@pytest.mark.parametrize("name", ["gridworld", "semicircle"])
def test_bad_inputs_give_clear_errors(name):
    with pytest.raises(ValueError, match="init_state='middle'.*allowed values"):
        make_env(name, init_state="middle")
    env = make_env(name)
    with pytest.raises(ValueError, match="set_task"):
        env.set_task([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="unknown domain"):
        make_env("pointmass")
    with pytest.raises(ValueError, match="unknown domain"):
        make_batched_trial("pointmass", 2)


def test_trial_wrapper_rejects_non_task_env():
    with pytest.raises(TypeError, match="TaskEnv"):
        BAMDPTrial(gym.make("CartPole-v1"))


def test_gridworld_training_tasks_are_distinct():
    env = make_env("gridworld")
    goals = env.candidate_goals()
    tasks = env.training_tasks(21, np.random.default_rng(0))
    assert len({tuple(t) for t in tasks}) == 21
    assert {tuple(t) for t in tasks} == {tuple(g) for g in goals}
    few = env.training_tasks(4, np.random.default_rng(1))
    assert len({tuple(t) for t in few}) == 4
    many = env.training_tasks(50, np.random.default_rng(2))
    counts = np.unique(many, axis=0, return_counts=True)[1]
    assert len(counts) == 21 and counts.min() >= 2 and counts.max() <= 3


def test_collection_tasks_gridworld_quick_are_the_21_goals():
    from borel_lib.collect import CollectConfig
    from borel_lib.collector import collection_tasks

    for profile in ("quick", "paper"):
        tasks = collection_tasks(CollectConfig.for_domain("gridworld", profile))
        assert len({tuple(t) for t in tasks}) == 21


def test_wind_dense_reward_mode_is_for_collection_only():
    """Wind collects on the sparse reward − ‖s' − g‖ (same goal for every task) and stores the sparse
    reward; a bad mode is named with the allowed values."""
    sparse, dense = make_env("wind"), make_env("wind", reward_mode="dense")
    rng = np.random.default_rng(0)
    s2 = rng.uniform(-0.1, 1.1, size=(50, 2)).astype(np.float32)
    s2[0] = sparse.goal + 0.01  # inside the goal disc
    tasks = sparse.sample_tasks(50, rng)
    np.testing.assert_allclose(dense.reward(None, None, s2, tasks),
                               sparse.reward(None, None, s2, tasks) - np.linalg.norm(s2 - sparse.goal, axis=-1),
                               rtol=1e-6)
    np.testing.assert_array_equal(sparse.reward(None, None, s2, tasks), sparse.sparse_reward(None, None, s2, tasks))
    assert sparse.reward(None, None, s2, tasks)[0] == 1 and sparse.reward_mode == "sparse"
    with pytest.raises(ValueError, match="reward_mode='medium'.*allowed values: sparse, dense"):
        make_env("wind", reward_mode="medium")
