"""Policy replaying on the transition domains (paper §4 Proposition 3, §6, Figure 4): replayed trials,
the Escape-Room wall, policy-replay mixing, identifiability of discretised data."""

import numpy as np
import pytest
import torch

from borel_lib import identifiability as idf
from borel_lib.collect import CollectConfig, collect
from borel_lib.collector import Collector
from borel_lib.datasets import load_dataset
from borel_lib.envs import make_env
from borel_lib.envs.batched import BatchedTrial
from borel_lib.policy_replay import _replay_trial_randomness, collect_policy_replay, policy_files
from borel_lib.relabel import sample_trials
from borel_lib.results import result_path  # noqa: E402

DOMAINS = ("wind", "escape_room")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Smoke own-policy and policy-replay datasets of both transition domains."""
    out = {}
    for domain in DOMAINS:
        root = tmp_path_factory.mktemp(domain)
        cfg = CollectConfig.for_domain(domain, "smoke")
        own, _ = collect(cfg, root / "own", root / "ck", profile="smoke", progress=False)
        files = policy_files(cfg, root / "ck")
        replay = load_dataset(collect_policy_replay(cfg, files, root / "replay", n_trials=3, profile="smoke",
                                                    progress=False))
        out[domain] = (cfg, root, own, replay)
    return out


def assert_consistent(env, obs, actions, rewards, next_obs, tasks):
    """Every transition ``(obs, action) -> next_obs`` and reward is the env's under ``tasks``."""
    s, s2 = obs[..., :-1], next_obs[..., :-1]
    np.testing.assert_array_equal(env.transition(s, actions, tasks), s2)
    np.testing.assert_array_equal(env.reward(s, actions, s2, tasks), rewards)


@pytest.mark.parametrize("domain", DOMAINS)
def test_replayed_trials_use_another_tasks_policy_in_this_tasks_dynamics(data, domain):
    cfg, root, own, replay = data[domain]
    env = make_env(domain)
    N = cfg.n_tasks
    src = replay.arrays["source_task"]
    assert replay.manifest["collection_mode"] == "policy_replay"
    assert np.all(src != np.arange(N)[:, None]), "a task replayed its own policy"
    assert np.all(replay.arrays["iteration"] == cfg.iterations), "not the final policies"
    # this task's dynamics and rewards, at every step
    assert_consistent(env, replay.obs, replay.actions, replay.rewards, replay.next_obs, replay.tasks[:, None, None, :])
    # the actions are exactly those of the source task's saved actor (same noise draws)
    col = Collector(cfg, root / "unused", root / "ck_check", profile="smoke")
    state = torch.load(policy_files(cfg, root / "ck")[0], weights_only=False)["state_dict"]
    for m in range(replay.n_trials):
        s, _, torch_seeds, _ = _replay_trial_randomness(1, m, N)
        np.testing.assert_array_equal(s, src[:, m])
        col.agent.actor.load_state_dict({k: v[torch.as_tensor(s)] for k, v in state.items()})
        for g, seed in zip(col.agent.generators, torch_seeds):
            g.manual_seed(int(seed))
        acts = np.stack([col.act(np.array(replay.obs[:, m, t]), "policy") for t in range(replay.trial_length)], 1)
        np.testing.assert_array_equal(acts, replay.actions[:, m])


def test_killed_policy_replay_resumes_to_the_same_dataset(data):
    cfg, root, _, replay = data["escape_room"]
    files = policy_files(cfg, root / "ck")
    partial = collect_policy_replay(cfg, files, root / "replay2", n_trials=3, profile="smoke", progress=False,
                                    checkpoint_every=1, stop_after=2)
    assert not partial.exists(), "an unfinished dataset must not appear at its final path"
    resumed = load_dataset(collect_policy_replay(cfg, files, root / "replay2", n_trials=3, profile="smoke",
                                                 progress=False, checkpoint_every=1))
    for name in replay.arrays:
        np.testing.assert_array_equal(replay.arrays[name], resumed.arrays[name], err_msg=name)


def test_escape_room_wall_stops_every_crossing_outside_the_opening(data):
    env = make_env("escape_room")
    rng = np.random.default_rng(0)
    n = 200_000
    tasks = env.sample_tasks(n, rng)
    r0 = rng.uniform(0.85, 1.15, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    s = np.stack([r0 * np.cos(phi), r0 * np.sin(phi)], -1).astype(np.float32)
    a = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    free = s + np.float32(0.1) * a
    nxt = env.transition(s, a, tasks)
    rs, rf, rn = (np.linalg.norm(x.astype(np.float64), axis=-1) for x in (s, free, nxt))
    # where the free segment crosses the circle, and whether that point is in the opening
    d = (free - s).astype(np.float64)
    aa, bb, cc = (d * d).sum(-1), 2 * (s * d).sum(-1), rs**2 - 1
    root = np.sqrt(np.maximum(bb * bb - 4 * aa * cc, 0))
    lam = np.where(rs < 1, (-bb + root) / (2 * aa), (-bb - root) / (2 * aa))
    cross = s + lam[:, None] * d
    in_opening = env.in_opening(np.arctan2(cross[:, 1], cross[:, 0]), tasks)
    out_blocked = (rs < 1) & (rf >= 1) & ~in_opening
    in_blocked = (rs >= 1) & (rf < 1) & ~in_opening
    assert out_blocked.sum() > 1000 and in_blocked.sum() > 1000
    assert np.all(rn[out_blocked] < 1), "a step left the room outside the opening"
    assert np.all(rn[in_blocked] >= 1), "a step entered the room outside the opening"
    through = (rs < 1) & (rf >= 1) & in_opening
    np.testing.assert_allclose(nxt[through], free[through], atol=1e-6)  # the opening lets it out freely
    # and in every collected transition (own and replayed): no crossing of the wall outside the opening
    _, _, own, replay = data["escape_room"]
    for ds in (own, replay):
        o, no = np.asarray(ds.obs[..., :2]), np.asarray(ds.next_obs[..., :2])
        ro, rno = np.linalg.norm(o, axis=-1), np.linalg.norm(no, axis=-1)
        left = (ro < 1) & (rno >= 1)
        theta = np.broadcast_to(ds.tasks[:, None, None, :], o.shape[:-1] + (1,))
        assert np.all(env.in_opening(np.arctan2(no[..., 1], no[..., 0])[left], theta[left])) or not left.any()


@pytest.mark.parametrize("domain", DOMAINS)
def test_policy_replay_mixing_keeps_each_trial_consistent_with_its_task(data, domain):
    cfg, _, own, replay = data[domain]
    env = make_env(domain)
    k, H = own.manifest["episodes_per_trial"], own.manifest["horizon"]
    rng = np.random.default_rng(0)
    ti = np.repeat(np.arange(cfg.n_tasks), 6)
    mi = rng.integers(0, own.n_trials, ti.size)
    batch = sample_trials(own.arrays, ti, mi, tasks=own.tasks, episodes=k, horizon=H, mode="policy_replay",
                          replay=replay.arrays, rng=rng, varies=env.varies)
    assert_consistent(env, batch.obs, batch.actions, batch.rewards, batch.next_obs, own.tasks[ti][:, None, :])
    assert np.all(batch.source_task[:, : k // 2] != ti[:, None]), "the first k/2 episodes come from other policies"
    assert np.all(batch.source_task[:, k // 2 :] == ti[:, None])
    # the replayed half is a trial of the replay dataset of the same task; the rest is untouched
    for b in range(ti.size):
        hits = np.all(replay.next_obs[ti[b], :, :H] == batch.next_obs[b, :H], axis=(1, 2))
        assert hits.any()
    np.testing.assert_array_equal(batch.next_obs[:, H:], own.next_obs[ti, mi][:, H:])
    if domain == "wind":  # control: the same mix taken from another task's *own* data breaks consistency
        other = (ti + 1) % cfg.n_tasks
        moved = env.transition(np.array(own.obs[other, 0, :, :-1]), np.array(own.actions[other, 0]),
                               own.tasks[ti][:, None, :])
        assert not np.array_equal(moved, np.array(own.next_obs[other, 0, :, :-1]))


def test_policy_replay_mode_errors(data):
    _, _, own, replay = data["wind"]
    args = dict(tasks=own.tasks, episodes=2, horizon=75, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs replay="):
        sample_trials(own.arrays, [0], [0], mode="policy_replay", **args)
    with pytest.raises(ValueError, match="only used by mode='policy_replay'"):
        sample_trials(own.arrays, [0], [0], mode="none", replay=replay.arrays, **args)
    bad = {k: v for k, v in replay.arrays.items() if k != "source_task"}
    with pytest.raises(ValueError, match="missing"):
        sample_trials(own.arrays, [0], [0], mode="policy_replay", replay=bad, **args)
    _, _, esc_own, esc_replay = data["escape_room"]
    from borel_lib.relabel import replay_arrays

    with pytest.raises(ValueError, match="field 'domain'"):
        replay_arrays(own, esc_replay)
    with pytest.raises(ValueError, match="collection_mode"):
        replay_arrays(own, own)
    assert set(replay_arrays(esc_own, esc_replay)) >= {"obs", "source_task"}


def test_batched_replay_trial_matches_env_step():
    """The batched trial that replay uses steps exactly like the single env (the dynamics replay relies on)."""
    env = make_env("escape_room", init_state="uniform")
    tasks = env.sample_tasks(3, np.random.default_rng(1))
    trial = BatchedTrial(env, 3)
    obs = trial.reset(tasks, seeds=[1, 2, 3])
    rng = np.random.default_rng(2)
    for _ in range(20):
        a = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
        out = trial.step(a)
        for i in range(3):
            single = make_env("escape_room", task=tasks[i])
            single._state = obs[i, :2].copy()
            nxt, r, *_ = single.step(a[i])
            np.testing.assert_array_equal(nxt, out.next_obs[i, :2])
            assert r == out.reward[i]
        obs = out.obs


def test_transition_identifiability_separates_wind_from_escape_room():
    # Wind: every transition identifies, so two tasks visiting one common cell overlap
    wind = make_env("wind")
    w = np.array([[0.05, 0.0], [-0.05, 0.0]])
    obs = np.zeros((2, 4, 2), np.float32)
    act = np.ones((2, 4, 2), np.float32)
    rep = idf.discretised_transition_identifiability(wind.transition, w, {"own": (obs, act)})["own"]
    assert rep.sufficient_condition_holds
    # Escape-Room: each collector walks straight out of its own opening; the walks share only the centre,
    # where nothing identifies; replaying each policy in the other task hits the other task's wall
    esc = make_env("escape_room")
    thetas = np.array([[np.pi / 4], [3 * np.pi / 4]])
    own_obs, own_act, rep_obs, rep_act = [], [], [], []
    for i, th in enumerate(thetas[:, 0]):
        d = np.array([np.cos(th), np.sin(th)], np.float32)
        for traj_obs, traj_act, task in ((own_obs, own_act, thetas[i]), (rep_obs, rep_act, thetas[1 - i])):
            s = np.zeros(2, np.float32)
            o = []
            for _ in range(15):
                o.append(s)
                s = esc.transition(s, d, task)
            traj_obs.append(np.stack(o))
            traj_act.append(np.tile(d, (15, 1)))
    # replay data of task i: the other task's policy run in task i
    rep_obs, rep_act = rep_obs[::-1], rep_act[::-1]
    own = (np.stack(own_obs), np.stack(own_act))
    replay = (np.concatenate([own[0], np.stack(rep_obs)], 1), np.concatenate([own[1], np.stack(rep_act)], 1))
    reports = idf.discretised_transition_identifiability(esc.transition, thetas, {"own": own, "replay": replay})
    assert not reports["own"].sufficient_condition_holds
    assert reports["replay"].sufficient_condition_holds


def test_uniform_collection_starts_lie_in_their_regions():
    rng = np.random.default_rng(0)
    wind = make_env("wind", init_state="uniform")
    s = np.stack([wind.sample_init_state(rng, None) for _ in range(2000)])
    (x0, x1), (y0, y1) = wind.start_box
    assert s[:, 0].min() >= x0 and s[:, 0].max() <= x1 and s[:, 1].min() >= y0 and s[:, 1].max() <= y1
    assert s[:, 1].max() > 1.0 and s[:, 1].min() < 0.0, "the band covers the origin and the goal"
    room = make_env("escape_room", init_state="uniform")
    r = np.linalg.norm(np.stack([room.sample_init_state(rng, None) for _ in range(2000)]), axis=-1)
    assert r.max() < 1.0 and 0.6 < np.mean(r < np.sqrt(0.5)) * 2 < 1.4, "uniform by area inside the room"
    assert np.all(make_env("wind").sample_init_state(rng, None) == 0), "evaluation still starts at the origin"


# ------------------------------------------------------------------ BOReL with policy replaying
def test_vae_training_mixes_replayed_trials(data, monkeypatch):
    """``train_vae(..., 'policy_replay', replay=...)`` trains on trials whose first k/2 episodes are this
    task's replayed trials (another task's policy), with the next-state decoder on."""
    from borel_lib import belief as belief_mod
    from borel_lib.vae import VAEConfig

    cfg, _, own, replay = data["escape_room"]
    seen = []
    real = belief_mod.sample_trials

    def spy(*args, **kwargs):
        batch = real(*args, **kwargs)
        seen.append(batch)
        return batch

    monkeypatch.setattr(belief_mod, "sample_trials", spy)
    vae_cfg = VAEConfig.for_domain("escape_room", "smoke")
    assert vae_cfg.state_decoder
    vae, log = belief_mod.train_vae(own, vae_cfg, "policy_replay", progress=False, replay=replay)
    assert vae.state_decoder is not None and np.isfinite(log.loss).all()
    H = own.manifest["horizon"]
    assert seen
    for batch in seen:
        assert np.all(batch.source_task[:, 0] != batch.task_index) and np.all(batch.source_task[:, 1] == batch.task_index)
        for b, i in enumerate(batch.task_index):  # the first episode is one of task i's replayed trials
            assert np.all(replay.next_obs[i, :, :H] == batch.next_obs[b, :H], axis=(1, 2)).any()
    with pytest.raises(ValueError, match="needs replay=.*--policy-replay"):
        belief_mod.train_vae(own, vae_cfg, "policy_replay", progress=False)
    with pytest.raises(ValueError, match="policy_replay' only"):
        belief_mod.train_vae(own, vae_cfg, "none", progress=False, replay=replay)


def test_state_relabelling_mixed_copies_use_replayed_trials(data):
    from borel_lib.belief import VAEBelief, train_vae
    from borel_lib.state_relabel import relabel_states
    from borel_lib.vae import VAEConfig

    _, _, own, replay = data["wind"]
    vae, _ = train_vae(own, VAEConfig.for_domain("wind", "smoke"), "policy_replay", progress=False, replay=replay)
    hs = relabel_states(VAEBelief(vae), own, mixed_copies=1, replay=replay)
    N, M, T = own.rewards.shape
    H = own.manifest["horizon"]
    assert hs.obs.shape[1] == 2 * M
    np.testing.assert_array_equal(hs.rewards[:, :M], own.rewards)
    for i in range(N):
        for m in range(M, 2 * M):  # a copy's first episode is a replayed trial of the same task
            assert np.all(replay.actions[i, :, :H] == hs.actions[i, m, :H], axis=(1, 2)).any()
    with pytest.raises(ValueError, match="reward relabelling applies only"):
        relabel_states(VAEBelief(vae), own, mixed_copies=1)


def test_run_spec_transition_domains():
    from borel_lib.config import ConfigError
    from borel_lib.offline_rl import OfflineRLConfig
    from borel_lib.pipeline import RunSpec

    with pytest.raises(ConfigError, match="differ in transitions: use --relabelling policy_replay or none"):
        RunSpec("wind", "quick")
    with pytest.raises(ConfigError, match="cheetah_vel has no exact belief.*semicircle, wind, escape_room"):
        RunSpec("cheetah_vel", "quick", belief="exact", relabelling="none")
    assert RunSpec("escape_room", "quick", belief="exact").method == "borel_exact"
    spec = RunSpec("escape_room", "quick", relabelling="policy_replay", seed=2)
    assert (spec.tag, spec.method) == ("escape_room_uniform_policy_replay_seed2", "borel_pr")
    assert RunSpec("wind", "quick", relabelling="none").method == "borel_no_rr"
    semi = OfflineRLConfig.for_domain("semicircle", "paper")
    for domain in DOMAINS:  # the point-robot family's offline settings
        assert OfflineRLConfig.for_domain(domain, "paper") == semi


@pytest.mark.parametrize("domain", DOMAINS)
def test_borel_cli_policy_replay_end_to_end_smoke(tmp_path, monkeypatch, capsys, domain):
    """``python -m borel_lib.pipeline DOMAIN --profile smoke --relabelling policy_replay``: a clear error
    naming the collect command until the policy-replay dataset exists, then collection -> VAE with the
    state decoder and replay mixing -> state relabelling -> offline RL -> evaluation, CSVs in the smoke
    build folder; the paper's metric is episode 1 on Wind, episodes 1-2 on Escape-Room."""
    import json

    import pandas as pd

    from borel_lib.collect import main as collect_main
    from borel_lib.pipeline import main as borel_main
    from borel_lib.results import borel_runs

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    argv = [domain, "--profile", "smoke", "--relabelling", "policy_replay", "--no-progress"]
    assert borel_main(argv) == 2
    err = capsys.readouterr().err
    assert f"python -m borel_lib.collect {domain} --profile smoke --policy-replay" in err
    assert not (tmp_path / "build" / "smoke" / "datasets" / f"{domain}_uniform_seed0").exists(), "nothing collected"
    assert collect_main([domain, "--profile", "smoke", "--policy-replay", "--no-progress"]) == 0
    assert borel_main(argv) == 0
    results = tmp_path / "build" / "smoke" / "results"
    tag = f"{domain}_uniform_policy_replay_seed0"
    df = pd.read_csv(result_path(f"borel_{tag}", "smoke", results))
    assert set(df.method) == {"borel_pr"} and set(df.variant) == {"uniform"} and set(df.episode) == {1, 2}
    config = json.loads((result_path(f"borel_{tag}", "smoke", results, kind="config")).read_text())
    assert config["values"]["vae"]["state_decoder"] is True
    assert config["command"] == f"python -m borel_lib.pipeline {domain} --profile smoke --belief vae --relabelling policy_replay --seed 0"
    final = pd.read_csv(result_path(f"borel_{tag}_final", "smoke", results))
    assert set(final.metric) == {"return", "success"} and final.task.nunique() == 20
    assert (result_path(f"vae_{tag}", "smoke", results)).is_file() and (result_path(f"borel_{tag}_traj", "smoke", results)).is_file()
    assert set(pd.read_csv(result_path(f"vae_{tag}", "smoke", results)).method) == {"borel_pr"}
    row = borel_runs("smoke", results).iloc[0]
    k = make_env(domain).eval_episodes
    assert row.metric == pytest.approx(row.ep1 if k == 1 else (row.ep1 + row.ep2) / 2)
    # the exact-belief line: only the RL part runs; the trajectories carry the exact posterior's support
    assert borel_main([domain, "--profile", "smoke", "--belief", "exact", "--no-progress"]) == 0
    traj = pd.read_csv(result_path(f"borel_{domain}_uniform_exact_seed0_traj", "smoke", results))
    support = traj[traj.metric == "support"].value
    assert len(support) and support.between(0, 1).all() and support.max() == 1.0
