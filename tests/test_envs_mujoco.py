"""MuJoCo domains: Ant-Semi-circle, Half-Cheetah-Vel, Reacher-Image (paper §6 domains 3-5)."""

import numpy as np
import pytest

from borel_lib.envs import make_env, make_trial
from borel_lib.envs.ant import AntSemiCircleEnv
from borel_lib.envs.base import BAMDPTrial
from borel_lib.envs.cheetah import HalfCheetahVelEnv
from borel_lib.envs.reacher_image import fingertip


def test_ant_observation_exposes_torso_xy_and_no_contact_forces():
    env = make_env("ant_semicircle", init_state="uniform")
    obs, _ = env.reset(seed=0, options={"task": [0.0, 1.0]})
    assert obs.shape == (29,)
    np.testing.assert_allclose(obs[:2], env.data.body("torso").xpos[:2])
    np.testing.assert_allclose(obs[:2], env.data.qpos[:2])


def test_ant_init_state_regions():
    for option in ("uniform", "exclude_semicircle", "fixed"):
        env = make_env("ant_semicircle", init_state=option)
        env.reset(seed=1, options={"task": [1.0, 0.0]})
        xy = np.stack([env.reset()[0][:2] for _ in range(300)])
        r = np.linalg.norm(xy, axis=1)
        if option == "fixed":
            assert np.all(xy == 0)
            continue
        assert xy[:, 0].min() >= -1.5 and xy[:, 0].max() <= 1.5 and xy[:, 1].min() >= -0.5 and xy[:, 1].max() <= 1.5
        in_annulus = (r >= 0.8) & (r <= 1.2)
        assert in_annulus.any() if option == "uniform" else not in_annulus.any()


def test_ant_dense_collection_relabels_to_the_sparse_reward():
    """Data collected under the dense reward, relabelled with the sparse function (post-step torso,
    the task's own goal), equals what the sparse env returns on the same transitions."""
    rng = np.random.default_rng(0)
    dense = make_env("ant_semicircle", reward_mode="dense", init_state="uniform")
    sparse = make_env("ant_semicircle", reward_mode="sparse", init_state="uniform")
    goal = np.array([np.cos(0.7), np.sin(0.7)])
    o_d, _ = dense.reset(seed=3, options={"task": goal})
    o_s, _ = sparse.reset(seed=3, options={"task": goal})
    np.testing.assert_array_equal(o_d, o_s)
    hits = 0
    for _ in range(300):
        a = rng.uniform(-1, 1, 8)
        n_d, r_d, _, _, info_d = dense.step(a)
        n_s, r_s, _, _, info_s = sparse.step(a)
        np.testing.assert_array_equal(n_d, n_s)
        assert np.isclose(AntSemiCircleEnv.sparse_reward(o_d, a, n_d, goal), r_s)
        assert np.isclose(AntSemiCircleEnv.dense_reward(o_d, a, n_d, goal), r_d)
        assert np.isclose(info_d["reward_goal"] + info_d["reward_ctrl"], r_d)
        hits += info_s["success"]
        o_d = n_d
    # start on the goal to make sure the indicator fires at all
    sparse.reset(seed=0)
    sparse.set_task(goal)
    qpos = sparse.init_qpos.copy()
    qpos[:2] = goal
    sparse.set_state(qpos, sparse.init_qvel)
    _, r, *_ = sparse.step(np.zeros(8))
    assert r == pytest.approx(1.0)


def test_cheetah_velocity_reward_is_a_function_of_the_transition():
    env = make_env("cheetah_vel")
    obs, _ = env.reset(seed=0, options={"task": [1.5]})
    rng = np.random.default_rng(0)
    vels = []
    for _ in range(100):
        a = rng.uniform(-1, 1, 6)
        nxt, r, _, _, info = env.step(a)
        v = (nxt[17] - obs[17]) / env.dt
        assert np.isclose(info["forward_velocity"], v)
        assert np.isclose(r, -abs(v - 1.5) - 0.05 * np.sum(a * a))
        np.testing.assert_allclose(nxt[17:], env.data.body("torso").xipos)
        vels.append(v)
        obs = nxt
    assert np.std(vels) > 0


def test_cheetah_task_range():
    env = make_env("cheetah_vel")
    tasks = env.sample_tasks(2000, np.random.default_rng(0))
    assert tasks.min() >= 0 and tasks.max() <= 3 and tasks.max() > 2.9


def test_reacher_forward_kinematics_matches_mujoco():
    env = make_env("reacher_image")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs, *_ = env.step(rng.uniform(-1, 1, 2))
        np.testing.assert_allclose(fingertip(obs["state"]), env.data.body("fingertip").xpos[:2], atol=1e-5)


def test_reacher_image_shows_arm_never_target():
    env = make_env("reacher_image")
    t1, t2 = env.sample_tasks(2, np.random.default_rng(0))
    o1, _ = env.reset(seed=5, options={"task": t1})
    o2, _ = env.reset(seed=5, options={"task": t2})
    np.testing.assert_array_equal(o1["image"], o2["image"])  # same arm, different targets
    background = env.rasteriser.background
    assert (o1["image"] != background).any(axis=-1).sum() > 50
    moved = o1
    for _ in range(10):
        moved, *_ = env.step(np.array([1.0, -1.0]))
    assert not np.array_equal(moved["image"], o1["image"])
    assert o1["image"].dtype == np.uint8 and o1["image"].shape == (64, 64, 3)


def test_reacher_targets_on_quarter_circle():
    env = make_env("reacher_image")
    t = env.sample_tasks(500, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 0.15)
    assert t.min() >= 0


def test_mujoco_bad_inputs():
    with pytest.raises(ValueError, match="reward_mode='medium'.*allowed values: sparse, dense"):
        make_env("ant_semicircle", reward_mode="medium")
    with pytest.raises(ValueError, match="init_state='uniform'.*allowed values: fixed"):
        make_env("cheetah_vel", init_state="uniform")
    env = make_env("ant_semicircle")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be 8"):
        env.step(np.zeros(3))


def test_trials_run_headless():
    for name in ("ant_semicircle", "cheetah_vel", "reacher_image"):
        trial = make_trial(name, episodes=2)
        trial.reset(seed=0)
        for _ in range(3):
            trial.step(trial.action_space.sample())


@pytest.mark.parametrize(("name", "kwargs"), [("ant_semicircle", {"init_state": "exclude_semicircle",
                                                                  "reward_mode": "dense"}),
                                              ("cheetah_vel", {})])
def test_batched_mujoco_equals_single_env_stepping(name, kwargs):
    """N MjData of one model in lockstep = N single envs with the same seeds and actions, bit for bit,
    across the episode boundary (fresh reset states from each task's own generator)."""
    from borel_lib.envs.batched import BatchedMujocoTrial, make_batched_trial

    n, H = 3, 6
    env = make_env(name, **kwargs)
    tasks = env.sample_tasks(n, np.random.default_rng(0))
    seeds = [11, 12, 13]
    batched = make_batched_trial(name, n, **kwargs)
    assert isinstance(batched, BatchedMujocoTrial)
    batched.H = H  # a short horizon keeps the test fast and still crosses an episode boundary
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1.1, 1.1, size=(2 * H, n, env.action_space.shape[0])).astype(np.float32)
    first = batched.reset(tasks, seeds=seeds)
    outs = [batched.step(actions[t]) for t in range(2 * H)]
    assert outs[-1].trial_done and outs[H - 1].episode_end
    for i in range(n):
        single = BAMDPTrial(make_env(name, **kwargs), horizon=H)
        obs, _ = single.reset(seed=seeds[i], options={"task": tasks[i]})
        np.testing.assert_array_equal(obs, first[i])
        for t in range(2 * H):
            obs, r, _, _, info = single.step(actions[t, i])
            np.testing.assert_array_equal(obs, outs[t].obs[i])
            np.testing.assert_array_equal(info.get("episode_final_obs", obs), outs[t].next_obs[i])
            assert np.float32(r) == outs[t].reward[i]
            if name == "ant_semicircle":
                assert np.float32(info["reward_ctrl"]) == outs[t].info["reward_ctrl"][i]
                np.testing.assert_allclose(outs[t].info["reward_goal"][i], info["reward_goal"], atol=1e-6)


def test_batched_ant_reward_components_and_post_step_sparse_reward():
    """Ant collection: reward_goal + reward_ctrl = the dense reward; the sparse (evaluation) reward
    uses the post-step torso xy and each task's own goal."""
    from borel_lib.envs.batched import make_batched_trial

    n, steps = 2, 30
    far = np.array([[5.0, 5.0], [5.0, 5.0]])
    rng = np.random.default_rng(2)
    actions = rng.uniform(-1, 1, size=(steps, n, 8))
    trial = make_batched_trial("ant_semicircle", n, init_state="fixed", reward_mode="dense")
    trial.reset(far, seeds=[0, 0])
    xy = [trial.step(a).next_obs[:, :2] for a in actions]
    pre, post = xy[-2][0], xy[-1][0]
    assert np.linalg.norm(post - pre) > 0.01, "the torso must move in the last step"
    # goal 0.19 beyond the post-step position, away from the pre-step one: inside the radius only post-step
    goal = post + 0.19 * (post - pre) / np.linalg.norm(post - pre)
    tasks = np.stack([goal, far[1]])
    trial.reset(tasks, seeds=[0, 0])
    for a in actions:
        out = trial.step(a)
    dense = AntSemiCircleEnv.dense_reward(None, actions[-1], out.next_obs[:, :-1], tasks)
    np.testing.assert_allclose(out.info["reward_goal"] + out.info["reward_ctrl"], out.reward, atol=1e-6)
    np.testing.assert_allclose(out.reward, dense, atol=1e-5)
    sparse = AntSemiCircleEnv.sparse_reward(None, actions[-1], out.next_obs[:, :-1], tasks)
    ctrl = AntSemiCircleEnv.ctrl_reward(actions[-1])
    np.testing.assert_allclose(sparse - ctrl, [1.0, 0.0])  # task 0 reached its own goal, task 1 not
    pre_step = AntSemiCircleEnv.sparse_reward(None, actions[-1], np.stack([pre, pre]), tasks)
    np.testing.assert_allclose(pre_step - ctrl, [0.0, 0.0])  # the pre-step position would miss it


def test_cheetah_model_equals_gymnasium_compiled_with_settotalmass():
    """Our run-time mass scaling gives the model Gymnasium's XML compiles to (bit for bit), without the
    deprecation warning."""
    import mujoco

    env = HalfCheetahVelEnv()
    reference = mujoco.MjModel.from_xml_path(env.fullpath)  # the deprecated compile-time scaling
    for field in ("body_mass", "body_inertia", "body_invweight0", "dof_invweight0", "actuator_acc0", "body_subtreemass"):
        np.testing.assert_array_equal(getattr(env.model, field), getattr(reference, field), err_msg=field)
    d1, d2 = mujoco.MjData(env.model), mujoco.MjData(reference)
    rng = np.random.default_rng(0)
    for _ in range(300):
        d1.ctrl[:] = d2.ctrl[:] = rng.uniform(-1, 1, env.model.nu)
        mujoco.mj_step(env.model, d1)
        mujoco.mj_step(reference, d2)
    np.testing.assert_array_equal(d1.qpos, d2.qpos)
