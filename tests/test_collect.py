"""Batched data collection: protocol, exact rewards, resume equivalence, policy replaying."""

import numpy as np
import pytest
import torch

from borel_lib.collect import DENSE_COLLECTION, CollectConfig, collect
from borel_lib.collector import Collector
from borel_lib.config import ConfigError
from borel_lib.datasets import load_dataset
from borel_lib.envs import make_env
from borel_lib.policy_replay import collect_policy_replay


@pytest.mark.parametrize("domain", ["gridworld", "semicircle", "wind", "ant_semicircle", "cheetah_vel"])
def test_collected_data_follows_the_protocol_and_true_rewards(tmp_path, domain):
    cfg = CollectConfig.for_domain(domain, "smoke")
    ds, curves = collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    N, M, T = cfg.n_tasks, cfg.trials_per_task, ds.trial_length
    assert ds.obs.shape[:3] == (N, M, T)
    assert ds.arrays["iteration"][0].tolist() == [-1] * cfg.warmup_trials + sum(
        ([i] * cfg.trials_per_iter for i in range(cfg.iterations)), [])
    env = make_env(domain)
    r = env.reward(ds.obs[..., :-1], ds.actions, ds.next_obs[..., :-1], ds.tasks[:, None, None, :])
    # Cheetah's velocity is a difference of float32-stored positions divided by dt = 0.05: ~1e-5 off
    np.testing.assert_allclose(r, ds.rewards, atol=5e-5 if domain == "cheetah_vel" else 1e-6)
    H = T // ds.manifest["episodes_per_trial"]
    assert np.all(ds.next_obs[..., H - 1 :: H, -1] == 1) and ds.next_obs[..., -1].sum() == N * M * (T // H)
    assert set(curves.columns) >= {"domain", "method", "variant", "seed", "episode", "metric", "value", "task"}
    k = ds.manifest["episodes_per_trial"]
    if domain in DENSE_COLLECTION:  # rewards: sparse, post-step state, own goal; agents learnt the dense sum
        assert cfg.dense_collection and env.reward_mode == "sparse"
        dense = env.dense_reward(None, ds.actions, ds.next_obs[..., :-1], ds.tasks[:, None, None, :])
        np.testing.assert_allclose(ds.reward_goal + ds.reward_ctrl, dense, atol=1e-5)
        np.testing.assert_allclose(ds.reward_ctrl, env.ctrl_reward(ds.actions), atol=1e-6)
        col = Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke")
        np.testing.assert_allclose(col.training_rewards(ds.arrays), dense, atol=1e-5)
        assert set(curves.metric) == {"return", "dense_return", "success"}
        assert len(curves) == N * M * (2 * k + 1)
    else:
        assert len(curves) == N * M * (k + 1)


@pytest.mark.parametrize("domain, shared", [("semicircle", False), ("ant_semicircle", False), ("ant_semicircle", True)])
def test_killed_collection_resumes_to_the_same_dataset(tmp_path, domain, shared):
    per_task = {} if shared or domain != "ant_semicircle" else {"goal_relabel": 0.0}  # relabelling needs the goal input
    cfg = CollectConfig.for_domain(domain, "smoke", iterations=4, checkpoint_every=2, shared_agent=shared, **per_task)
    straight, _ = collect(cfg, tmp_path / "a", tmp_path / "ck_a", profile="smoke", progress=False)
    col = Collector(cfg, tmp_path / "b", tmp_path / "ck_b", profile="smoke")
    col.run(progress=False, stop_after=3)  # "killed" after iteration 3; last checkpoint at 2
    assert not (tmp_path / "b").exists()
    resumed = Collector(cfg, tmp_path / "b", tmp_path / "ck_b", profile="smoke").run(progress=False)
    b = load_dataset(resumed)
    for name in straight.arrays:
        np.testing.assert_array_equal(straight.arrays[name], b.arrays[name], err_msg=name)


@pytest.mark.parametrize("domain", ["ant_semicircle", "cheetah_vel"])
def test_shared_agent_sees_each_task_and_learns_from_every_task(tmp_path, domain):
    cfg = CollectConfig.for_domain(domain, "smoke", shared_agent=True)
    col = Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke")
    N, d = cfg.n_tasks, col.env.observation_space.shape[0] + 1
    assert col.agent.E == 1 and col.agent_obs_dim == d + col.tasks.shape[1]
    obs = np.random.default_rng(0).normal(size=(N, 3, d)).astype(np.float32)
    x = col.agent_inputs(obs).cpu().numpy()  # (1, N * 3, d + task_dim), task i's rows carry task i
    assert x.shape == (1, N * 3, col.agent_obs_dim)
    np.testing.assert_array_equal(x[0, :, :d], obs.reshape(N * 3, d))
    np.testing.assert_allclose(x[0, :, d:], np.repeat(col.tasks, 3, axis=0), rtol=1e-6)
    # the same observation in two tasks gets two different (deterministic) actions: the task is an input
    same = np.repeat(obs[:1, 0], N, axis=0)
    a = col.act(same, "deterministic")
    assert a.shape == (N, col.act_dim) and not np.allclose(a[0], a[1])
    ds = col.run(progress=False)
    assert col.replay.size == N * cfg.trials_per_task * col.trial.trial_length  # every task's transitions
    assert load_dataset(ds).obs.shape[-1] == d  # the dataset stores the env's observation only
    with pytest.raises(ConfigError, match="shared_agent=True needs a continuous domain"):
        CollectConfig.for_domain("gridworld", "smoke", shared_agent=True)
    with pytest.raises(ConfigError, match="policy replaying swaps per-task policies"):
        collect_policy_replay(cfg, sorted((tmp_path / "ck").glob("policies_iter*.pt"))[-1], tmp_path / "rep", 1,
                              profile="smoke")


def test_resume_refuses_a_different_config(tmp_path):
    cfg = CollectConfig.for_domain("gridworld", "smoke", iterations=4)
    Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke").run(progress=False, stop_after=1)
    with pytest.raises(ConfigError, match="different config"):
        Collector(cfg.replace(seed=5), tmp_path / "ds", tmp_path / "ck", profile="smoke").run(progress=False)


def _old_format(cfg: CollectConfig, lr: float, critic_lr: float | None) -> dict:
    """``cfg`` as a dataset manifest or checkpoint saved it before issue 29: one ``lr`` (the policy's and DQN's
    rate), ``critic_lr`` None = ``lr``, and no ``actor_lr``, ``tau``, ``td_loss`` or ``max_grad_norm``."""
    saved = {k: v for k, v in cfg.to_dict().items() if k not in ("actor_lr", "tau", "td_loss", "max_grad_norm")}
    return {**saved, "lr": lr, "critic_lr": critic_lr}


def test_a_config_saved_with_lr_and_critic_lr_none_upgrades_to_the_shared_sac_fields():
    quick = CollectConfig.for_domain("reacher_image", "quick")  # on disk: lr 3e-4, critic_lr null
    assert CollectConfig.upgrade(_old_format(quick, 3e-4, None)) == quick.to_dict()
    assert (quick.actor_lr, quick.critic_lr, quick.tau) == (3e-4, 3e-4, 0.005)
    ant = CollectConfig.for_domain("ant_semicircle", "quick")  # on disk: lr 3e-4, critic_lr 1e-3
    assert CollectConfig.upgrade(_old_format(ant, 3e-4, 1e-3)) == ant.to_dict()
    # the migration keeps the values: another old rate is another collection
    assert CollectConfig.upgrade(_old_format(quick, 1e-3, None)) != quick.to_dict()
    assert CollectConfig.upgrade(_old_format(ant, 3e-4, None)) != ant.to_dict()
    assert CollectConfig.upgrade(_old_format(quick, 1e-3, None)) == quick.replace(actor_lr=1e-3, critic_lr=1e-3).to_dict()
    # Gridworld's DQN learnt at lr alone (critic_lr was ignored): its rate is now critic_lr
    grid = CollectConfig.for_domain("gridworld", "smoke", critic_lr=1e-3, actor_lr=1e-3)
    assert CollectConfig.upgrade(_old_format(grid, 1e-3, 5e-4)) == grid.to_dict()
    assert CollectConfig.upgrade(None) is None
    with pytest.raises(ConfigError, match="lr is now actor_lr and critic_lr"):
        CollectConfig.for_domain("semicircle", "smoke", lr=1e-3)


def test_a_checkpoint_saved_in_the_old_format_resumes(tmp_path):
    """A collection checkpointed before issue 29 (``lr``, ``critic_lr=None``) resumes to the same dataset."""
    cfg = CollectConfig.for_domain("semicircle", "smoke")
    full = Collector(cfg, tmp_path / "full", tmp_path / "ck_full", profile="smoke")
    full.run(progress=False)
    col = Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke")
    col.run(progress=False, stop_after=1)
    path = tmp_path / "ck" / "collector.pt"
    state = torch.load(path, weights_only=False)
    state["config"] = _old_format(cfg, cfg.actor_lr, None)
    torch.save(state, path)
    Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke").run(progress=False)
    a, b = load_dataset(tmp_path / "full"), load_dataset(tmp_path / "ds")
    for name in a.arrays:
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name])
    state["config"] = _old_format(cfg, 1e-3, None)  # another rate: refused
    torch.save(state, path)
    with pytest.raises(ConfigError, match="different config"):
        Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke").run(progress=False, )


def test_the_agents_get_the_shared_sac_fields():
    from borel_lib.collector import agent_config

    ant = CollectConfig.for_domain("ant_semicircle", "quick")
    sac = agent_config(ant)
    assert (sac.hidden, sac.actor_lr, sac.critic_lr, sac.alpha_lr, sac.target_entropy, sac.log_std, sac.tau,
            sac.batch_size) == ((256, 256), 3e-4, 1e-3, 1e-3, -8.0, "tanh", 0.005, 256)
    dqn = agent_config(CollectConfig.for_domain("gridworld", "paper", critic_lr=1e-3, td_loss="huber"))
    assert (dqn.hidden, dqn.lr, dqn.gamma, dqn.tau, dqn.td_loss, dqn.batch_size) == ((16, 16), 1e-3, 0.99, 0.005,
                                                                                       "huber", 256)


def test_policy_replay_uses_other_tasks_policies_with_this_tasks_rewards(tmp_path):
    cfg = CollectConfig.for_domain("gridworld", "smoke")
    collect(cfg, tmp_path / "own", tmp_path / "ck", profile="smoke", progress=False)
    policies = sorted((tmp_path / "ck").glob("policies_iter*.pt"))[-1]
    path = collect_policy_replay(cfg, policies, tmp_path / "replay", n_trials=3, profile="smoke", progress=False)
    ds = load_dataset(path)
    src = ds.arrays["source_task"]
    assert ds.manifest["collection_mode"] == "policy_replay"
    assert np.all(src != np.arange(cfg.n_tasks)[:, None])
    env = make_env("gridworld")
    r = env.reward(ds.obs[..., :-1], ds.actions, ds.next_obs[..., :-1], ds.tasks[:, None, None, :])
    np.testing.assert_allclose(r, ds.rewards)
    # every action is the greedy action of the source task's saved Q network
    state = torch.load(policies, weights_only=False)["state_dict"]
    from borel_lib.agents import EnsembleMLP

    q = EnsembleMLP(cfg.n_tasks, 3, cfg.hidden, 5)
    q.load_state_dict(state)
    with torch.no_grad():
        for m in range(3):
            obs = torch.as_tensor(np.array(ds.obs[:, m]))
            greedy = q(obs).argmax(-1).numpy()  # (N, T): member j's action on task j's obs
            own = np.stack([q(obs[i : i + 1].expand(cfg.n_tasks, -1, -1)).argmax(-1).numpy()[src[i, m]]
                            for i in range(cfg.n_tasks)])
            np.testing.assert_array_equal(own, ds.actions[:, m, :, 0])
            assert greedy.shape == own.shape


def test_config_errors():
    with pytest.raises(ConfigError, match="domain='mars'.*allowed values.*'cheetah_vel', 'reacher_image'"):
        CollectConfig(domain="mars")
    for domain in ("gridworld", "semicircle", "wind", "escape_room", "ant_semicircle", "cheetah_vel", "reacher_image"):
        CollectConfig.for_domain(domain, "smoke")  # every batchable domain has a protocol per profile
    assert CollectConfig.for_domain("semicircle", "paper").updates_per_iter == 500
    ant = CollectConfig.for_domain("ant_semicircle", "paper")
    assert (ant.n_tasks, ant.trials_per_task, ant.updates_per_iter, ant.alpha, ant.init_state) == (
        80, 2050, 2000, 0.2, "exclude_semicircle")
    for variant in ("uniform", "exclude_semicircle", "fixed"):
        assert CollectConfig.for_domain("ant_semicircle", "quick", init_state=variant).init_state == variant


def _ant_smoke_with_shaping(tmp_path, **overrides):
    """A smoke Ant collection with a training-reward shaping override, its Collector and the goal indicator;
    checks that the dataset still stores the sparse reward."""
    cfg = CollectConfig.for_domain("ant_semicircle", "smoke", **overrides)
    ds, _ = collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    env = make_env("ant_semicircle")
    reached = env.is_success(ds.next_obs[..., :-1], ds.tasks[:, None, None, :])
    np.testing.assert_allclose(ds.rewards, reached + env.ctrl_reward(ds.actions), atol=1e-6)  # stored: sparse
    return ds, Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke"), reached


def test_goal_bonus_adds_the_goal_indicator_to_the_training_reward_only(tmp_path):
    ds, col, reached = _ant_smoke_with_shaping(tmp_path, goal_bonus=3.0)
    np.testing.assert_allclose(col.training_rewards(ds.arrays), ds.reward_goal + ds.reward_ctrl + 3.0 * reached,
                               atol=1e-5)
    # a goal reached somewhere, so the check can fail: place one next state on its task's goal
    arrays = {k: np.array(v) for k, v in ds.arrays.items()}
    arrays["next_obs"][0, 0, 0, :2] = ds.tasks[0]
    assert col.training_rewards(arrays)[0, 0, 0] == pytest.approx(
        arrays["reward_goal"][0, 0, 0] + arrays["reward_ctrl"][0, 0, 0] + 3.0, abs=1e-5)


def test_progress_bonus_adds_the_speed_towards_the_goal_to_the_training_reward_only(tmp_path):
    ds, col, _ = _ant_smoke_with_shaping(tmp_path, progress_bonus=2.0)
    arrays = {k: np.array(v) for k, v in ds.arrays.items()}
    # one transition by hand: the torso moves from 1.0 to 0.25 (L1) of its goal in one 0.05 s step
    g = ds.tasks[0]
    arrays["obs"][0, 0, 0, :2] = g + np.array([0.5, -0.5])
    arrays["next_obs"][0, 0, 0, :2] = g + np.array([0.25, 0.0])
    r = col.training_rewards(arrays)
    assert r[0, 0, 0] == pytest.approx(arrays["reward_goal"][0, 0, 0] + arrays["reward_ctrl"][0, 0, 0]
                                       + 2.0 * (1.0 - 0.25) / 0.05, abs=1e-4)
    # moving away costs as much
    arrays["obs"][0, 0, 0, :2], arrays["next_obs"][0, 0, 0, :2] = g + np.array([0.25, 0.0]), g + np.array([0.5, -0.5])
    assert col.training_rewards(arrays)[0, 0, 0] == pytest.approx(
        arrays["reward_goal"][0, 0, 0] + arrays["reward_ctrl"][0, 0, 0] - 2.0 * 0.75 / 0.05, abs=1e-4)
    with pytest.raises(ConfigError, match="progress_bonus=1.0 is defined for domain 'ant_semicircle' only"):
        CollectConfig.for_domain("wind", "smoke", progress_bonus=1.0)


def test_target_entropy_reaches_the_collecting_sac_and_parses_from_the_command_line(tmp_path):
    from borel_lib.cli import parse_overrides

    assert parse_overrides(["target_entropy=-8", "alpha=0.1"], CollectConfig, "set") == {"target_entropy": -8.0, "alpha": 0.1}
    assert parse_overrides(["target_entropy=none"], CollectConfig, "set") == {"target_entropy": None}
    with pytest.raises(ConfigError, match="not a valid none or a float"):
        parse_overrides(["target_entropy=high"], CollectConfig, "set")
    cfg = CollectConfig.for_domain("semicircle", "smoke", target_entropy=-2.0)
    col = Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke")
    assert col.agent.auto_alpha and col.agent.config.target_entropy == -2.0
    with pytest.raises(ConfigError, match="target_entropy=-1.0 tunes SAC's α; domain='gridworld'"):
        CollectConfig.for_domain("gridworld", "smoke", target_entropy=-1.0)


def test_goal_bonus_is_refused_where_agents_learn_the_stored_reward():
    with pytest.raises(ConfigError, match="goal_bonus=1.0 needs a dense-reward collection domain"):
        CollectConfig.for_domain("semicircle", "smoke", goal_bonus=1.0)
    with pytest.raises(ConfigError, match="goal_bonus"):
        CollectConfig.for_domain("ant_semicircle", "smoke", goal_bonus=-1.0)


@pytest.mark.parametrize("bonus", [{}, {"goal_bonus": 2.0, "progress_bonus": 0.5}])
def test_goal_relabelling_recomputes_the_training_reward_for_the_drawn_goal(tmp_path, bonus):
    cfg = CollectConfig.for_domain("ant_semicircle", "smoke", goal_relabel=1.0, **bonus)
    col = Collector(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke")
    col.trial.reset(col.tasks, seeds=col.env_seeds)
    rec = col.run_trial("random")
    n = rec["rewards"].size
    x = col.agent_inputs(rec["obs"]).reshape(1, n, -1)
    batch = {"obs": x, "actions": torch.as_tensor(rec["actions"]).reshape(1, n, -1),
             "rewards": torch.as_tensor(col.training_rewards(rec)).reshape(1, n),
             "next_obs": col.agent_inputs(rec["next_obs"]).reshape(1, n, -1), "dones": torch.zeros(1, n)}
    out = col.relabel_goals(batch)
    goal = out["obs"][0, :, -2:].numpy()
    np.testing.assert_array_equal(goal, out["next_obs"][0, :, -2:].numpy())
    assert {tuple(g) for g in np.round(goal, 5)} <= {tuple(t) for t in np.round(col.tasks.astype(np.float32), 5)}
    np.testing.assert_array_equal(out["obs"][0, :, :-2].numpy(), x[0, :, :-2].numpy())  # only the goal changes
    # the reference, in numpy from the env's pure reward functions, with the drawn goal per transition
    o, a, o2 = (rec[k].reshape(n, -1) for k in ("obs", "actions", "next_obs"))
    ref = col.env.dense_reward(o, a, o2, goal) + bonus.get("goal_bonus", 0) * col.env.is_success(o2, goal)
    l1 = lambda s: np.abs(s[:, :2] - goal).sum(-1)  # noqa: E731
    ref = ref + bonus.get("progress_bonus", 0) / col.env.dt * (l1(o) - l1(o2))
    np.testing.assert_allclose(out["rewards"][0].numpy(), ref, rtol=1e-5, atol=1e-5)


def test_goal_relabel_needs_the_shared_ant_agent():
    with pytest.raises(ConfigError, match="goal_relabel=0.5 needs domain 'ant_semicircle' with shared_agent=True"):
        CollectConfig.for_domain("ant_semicircle", "smoke", shared_agent=False)
    with pytest.raises(ConfigError, match="goal_relabel=1.5 must be a fraction"):
        CollectConfig.for_domain("ant_semicircle", "smoke", goal_relabel=1.5)


@pytest.mark.parametrize("domain", ["gridworld", "ant_semicircle"])
def test_extending_a_finished_collection_equals_collecting_longer(tmp_path, domain):
    short = CollectConfig.for_domain(domain, "smoke", iterations=2, checkpoint_every=1)
    long = short.replace(iterations=4)
    straight, _ = collect(long, tmp_path / "a", tmp_path / "ck_a", profile="smoke", progress=False)
    collect(short, tmp_path / "b", tmp_path / "ck_b", profile="smoke", progress=False)
    with pytest.raises(ConfigError, match="rerun with --extend"):
        Collector(long, tmp_path / "b", tmp_path / "ck_b", profile="smoke").run(progress=False)
    col = Collector(long, tmp_path / "b", tmp_path / "ck_b", profile="smoke")
    assert col.extendable() is not None
    col.extend(progress=False, stop_after=1)  # "killed" during the extension: the short dataset is still whole
    assert load_dataset(tmp_path / "b").n_trials == short.trials_per_task
    extended = load_dataset(Collector(long, tmp_path / "b", tmp_path / "ck_b", profile="smoke").run(progress=False))
    for name in straight.arrays:
        np.testing.assert_array_equal(straight.arrays[name], extended.arrays[name], err_msg=name)
    with pytest.raises(ConfigError, match="no finished collection"):  # nothing left to extend
        Collector(long.replace(iterations=3), tmp_path / "b", tmp_path / "ck_b", profile="smoke").extend(progress=False)


def test_a_collection_with_another_number_of_tasks_is_a_dataset_of_its_own():
    """Notebook 03's small fixed-start collection and the pipeline's default one must not share a folder."""
    from borel_lib.collect import CollectConfig, dataset_name

    default = CollectConfig.for_domain("semicircle", "quick", init_state="fixed")
    assert dataset_name(default, "quick") == "semicircle_fixed_seed0"
    small = CollectConfig.for_domain("semicircle", "quick", init_state="fixed", n_tasks=10, seed=2)
    assert dataset_name(small, "quick") == "semicircle_fixed_n10_seed2"
    # named at smoke, the quick config differs in tasks (smoke: 4), iterations (3) and updates per iteration (4)
    assert dataset_name(small, "smoke") == "semicircle_fixed_n10_it100_upi150_seed2"
    assert dataset_name(CollectConfig.for_domain("semicircle", "smoke", n_tasks=4), "smoke") == "semicircle_uniform_seed0"


def test_a_longer_collection_is_a_dataset_of_its_own_and_extends_from_the_longest_shorter_one(tmp_path, monkeypatch):
    """``--iterations`` / ``--updates-per-iter`` other than the profile's name a dataset beside the profile's
    (a paper-length collection must not replace it); :func:`extension_source` finds what ``--extend`` continues."""
    from borel_lib.collect import CollectConfig, dataset_name, extension_source, run_collection

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    base = CollectConfig.for_domain("semicircle", "quick")
    assert dataset_name(base.replace(iterations=300, updates_per_iter=500), "quick") == "semicircle_uniform_it300_upi500_seed0"
    assert dataset_name(base.replace(iterations=300), "quick") == "semicircle_uniform_it300_seed0"
    smoke = CollectConfig.for_domain("semicircle", "smoke")
    assert extension_source(smoke.replace(iterations=6), "smoke") is None  # nothing on disk yet
    run_collection("semicircle", "smoke", progress=False)
    run_collection("semicircle", "smoke", progress=False, iterations=4)
    run_collection("semicircle", "smoke", progress=False, iterations=2, updates_per_iter=2)  # another config
    cfg, name = extension_source(smoke.replace(iterations=6), "smoke")
    assert (cfg.iterations, name) == (4, "semicircle_uniform_it4_seed0")
    assert extension_source(smoke.replace(iterations=4), "smoke")[1] == "semicircle_uniform_seed0"
    assert extension_source(smoke.replace(iterations=3), "smoke") is None
    assert extension_source(smoke.replace(iterations=3, updates_per_iter=2), "smoke")[1] == "semicircle_uniform_it2_upi2_seed0"
