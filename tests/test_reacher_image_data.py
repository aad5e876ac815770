"""Reacher-Image data (issue 32): batched stepping, the collected dataset's images, resume, and the exact
posterior over the target angle against brute force."""

import json

import numpy as np
import pytest

from borel_lib.collect import CollectConfig, collect, dataset_name, main
from borel_lib.collector import Collector
from borel_lib.datasets import DatasetError, DatasetWriter, frame_indices, load_dataset
from borel_lib.envs import make_env, make_trial
from borel_lib.envs.batched import make_batched_trial
from borel_lib.policy_replay import collect_policy_replay
from borel_lib.references.exact_belief import ExactBelief

IMAGE = (64, 64, 3)


def test_batched_trial_equals_single_envs_and_never_shows_the_target():
    """N tasks stepped together give each single env's states, rewards and (rendered) images; two tasks with
    the same start seed and actions move the arm identically, so their images are equal and only their
    rewards differ."""
    env = make_env("reacher_image")
    tasks = env.sample_tasks(2, np.random.default_rng(1))
    assert np.linalg.norm(tasks[0] - tasks[1]) > 0.01
    batched = make_batched_trial("reacher_image", 2)
    obs = batched.reset(tasks, seeds=[7, 7])
    assert obs.shape == (2, 7) and obs.dtype == np.float32
    singles = []
    for task in tasks:
        trial = make_trial("reacher_image")
        o, _ = trial.reset(seed=7, options={"task": task})
        singles.append(trial)
        np.testing.assert_array_equal(o["state"], obs[0, :6])
        np.testing.assert_array_equal(o["image"], env.images(obs[0]))
    actions = np.random.default_rng(0).uniform(-1, 1, (batched.trial_length, 2))
    for t in range(batched.trial_length):
        out = batched.step(np.repeat(actions[t : t + 1], 2, axis=0))
        np.testing.assert_array_equal(out.next_obs[0], out.next_obs[1])  # the target does not move the arm
        assert out.reward[0] != out.reward[1]
        images = env.images(out.next_obs)
        np.testing.assert_array_equal(images[0], images[1])  # ... nor show in the image
        for i, trial in enumerate(singles):
            o, r, *_, info = trial.step(actions[t])
            final = info.get("episode_final_obs", o)
            np.testing.assert_array_equal(final["state"], out.next_obs[i, :6])
            np.testing.assert_array_equal(final["image"], images[i])
            assert np.float32(r) == out.reward[i]


def test_collection_stores_uint8_images_of_the_stored_states(tmp_path):
    cfg = CollectConfig.for_domain("reacher_image", "smoke")
    ds, curves = collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    N, M, T, k, H = cfg.n_tasks, cfg.trials_per_task, ds.trial_length, 2, 50
    assert (T, ds.manifest["episodes_per_trial"], ds.manifest["horizon"]) == (k * H, k, H)
    shapes = {"obs": (N, M, T, 7), "next_obs": (N, M, T, 7), "actions": (N, M, T, 2), "rewards": (N, M, T),
              "iteration": (N, M), "images": (N, M, T + k) + IMAGE}
    assert {name: a.shape for name, a in ds.arrays.items()} == shapes
    assert ds.images.dtype == np.uint8 and isinstance(ds.images, np.memmap)
    assert ds.manifest["arrays"]["images"]["dtype"] == "uint8" and "images: k*(H+1) frames" in ds.manifest["notes"]
    env = make_env("reacher_image")
    obs_frames, next_frames = frame_indices(T, H)
    assert obs_frames[[0, H - 1, H, T - 1]].tolist() == [0, H - 1, H + 1, T]
    np.testing.assert_array_equal(ds.images[:, :, obs_frames], env.images(ds.obs))
    np.testing.assert_array_equal(ds.images[:, :, next_frames], env.images(ds.next_obs))
    assert not np.array_equal(ds.images[:, :, 0], ds.images[:, :, 1])  # the arm moves
    r = env.reward(ds.obs, ds.actions, ds.next_obs, ds.tasks[:, None, None, :])
    np.testing.assert_allclose(r, ds.rewards, atol=1e-6)  # the dense reward, computed from the stored state
    assert set(curves.metric) == {"return", "success"}
    # the size on disk is what docs/datasets.md's formula says: 68 bytes per transition, 12,288 per frame
    size = sum(f.stat().st_size for f in ds.path.glob("*.npy"))
    assert abs(size - N * M * (T * 68 + (T + k) * 12288 + 8)) < 1024 * 6
    # policy replaying writes images too
    policies = sorted((tmp_path / "ck").glob("policies_iter*.pt"))[-1]
    rep = load_dataset(collect_policy_replay(cfg, policies, tmp_path / "rep", 2, profile="smoke", progress=False))
    assert rep.images.shape == (N, 2, T + k) + IMAGE
    np.testing.assert_array_equal(rep.images[:, :, next_frames], env.images(rep.next_obs))


def _rewrite_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    manifest.pop("manifest_sha256", None)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_image_arrays_are_validated(tmp_path):
    cfg = CollectConfig.for_domain("reacher_image", "smoke")
    collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    _rewrite_manifest(tmp_path / "ds", lambda m: m["arrays"]["images"].update(dtype="float32"))
    with pytest.raises(DatasetError, match="arrays.images.dtype' is 'float32'; array 'images' must be uint8"):
        load_dataset(tmp_path / "ds")
    _rewrite_manifest(tmp_path / "ds", lambda m: m["arrays"]["images"].update(dtype="uint8", shape=[2, 3, 100, 64, 64, 3]))
    with pytest.raises(DatasetError, match="leading dimensions must be .*trial_length \\+ episodes_per_trial"):
        load_dataset(tmp_path / "ds")
    _rewrite_manifest(tmp_path / "ds", lambda m: m["arrays"]["images"].update(shape=[2, 3, 102, 32, 32, 3]))
    with pytest.raises(DatasetError, match="has images of shape \\(64, 64, 3\\)"):
        load_dataset(tmp_path / "ds")
    # a domain without image observations cannot carry an images array
    shapes = {"obs": (1, 1, 120, 3), "next_obs": (1, 1, 120, 3), "actions": (1, 1, 120, 2), "rewards": (1, 1, 120),
              "images": (1, 1, 122) + IMAGE}
    manifest = {"domain": "semicircle", "env_id": "borel/SemiCircle-v0", "tasks": [[1.0, 0.0]], "n_tasks": 1,
                "n_trials": 1, "episodes_per_trial": 2, "horizon": 60, "trial_length": 120, "init_state": "uniform",
                "profile": "smoke", "config": {}, "seed": 0, "created_by": ""}
    DatasetWriter(tmp_path / "point", shapes, manifest).finalize()
    with pytest.raises(DatasetError, match="domain 'semicircle' has no image observations"):
        load_dataset(tmp_path / "point")


def test_killed_collection_resumes_from_the_command_line_to_the_same_dataset(tmp_path, monkeypatch):
    from borel_lib.paths import checkpoints_dir, datasets_dir

    cfg = CollectConfig.for_domain("reacher_image", "smoke", iterations=3)
    straight, _ = collect(cfg, tmp_path / "a", tmp_path / "ck_a", profile="smoke", progress=False)
    (tmp_path / "root").mkdir()
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path / "root"))
    name = dataset_name(cfg, "smoke")
    path = datasets_dir("smoke") / name
    Collector(cfg, path, checkpoints_dir("smoke") / name, profile="smoke").run(progress=False, stop_after=2)
    assert not path.exists()  # "killed" after iteration 2 (last checkpoint: 2)
    assert main(["reacher_image", "--profile", "smoke", "--iterations", "3", "--no-progress"]) == 0
    resumed = load_dataset(path)
    assert set(resumed.arrays) == set(straight.arrays)
    for key in straight.arrays:
        np.testing.assert_array_equal(straight.arrays[key], resumed.arrays[key], err_msg=key)


def test_exact_posterior_equals_brute_force_over_simulated_targets():
    """The belief's posterior after every prefix of a random trial equals brute force: for every candidate
    angle, the trial is simulated again with the target there (the arm's motion does not depend on it) and the
    candidate kept while every simulated reward is within the tolerance of the observed one."""
    eb = ExactBelief("reacher_image", n_candidates=40, n_bins=10)
    assert eb.candidates.shape == (40, 2) and eb.pool.shape == (40, 10)
    np.testing.assert_allclose(np.linalg.norm(eb.candidates, axis=1), 0.15, rtol=1e-6)
    assert eb.atol == pytest.approx(0.15 * np.pi / 2 / 40 / 2 + 1e-5)
    true = 0.15 * np.array([np.cos(0.7), np.sin(0.7)])  # between two grid angles
    trial = make_trial("reacher_image")
    rng = np.random.default_rng(3)
    actions = rng.uniform(-1, 1, (trial.trial_length, 2)).astype(np.float32)
    nxt, rew = [], []
    trial.reset(seed=11, options={"task": true})
    for a in actions:
        o, r, *_, info = trial.step(a)
        final = info.get("episode_final_obs", o)
        nxt.append(np.append(final["state"], final["episode_end"]))
        rew.append(r)
    nxt, rew = np.array(nxt, np.float32), np.array(rew, np.float32)
    post = eb.posterior_trials(actions[None], rew[None], nxt[None])[0]
    alive = np.ones((trial.trial_length + 1, eb.n_candidates), bool)
    for c, cand in enumerate(eb.candidates):
        brute = make_trial("reacher_image")
        brute.reset(seed=11, options={"task": cand.astype(np.float64)})
        for t, a in enumerate(actions):
            _, r, *_ = brute.step(a)
            alive[t + 1, c] = alive[t, c] and abs(r - rew[t]) <= eb.atol
    np.testing.assert_allclose(post, alive / alive.sum(1, keepdims=True), atol=1e-7)
    nearest = np.abs(eb.angles - 0.7).argmin()
    assert alive[-1, nearest] and alive[-1].sum() <= 2  # the random trial pins the angle to the grid
    assert alive[1].sum() < eb.n_candidates  # one reward already rules candidates out
    state = eb.reset(1)
    for t in range(trial.trial_length):  # online updates agree
        state = eb.step(state, actions[t : t + 1], rew[t : t + 1], nxt[t : t + 1])
    np.testing.assert_allclose(eb.posterior(state)[0], post[-1])
    np.testing.assert_allclose(eb.features(state)[0].sum(), 1.0, atol=1e-6)


def test_exact_posterior_on_a_collected_dataset_keeps_the_true_angle(tmp_path):
    ds, _ = collect(CollectConfig.for_domain("reacher_image", "smoke"), tmp_path / "ds", tmp_path / "ck",
                    profile="smoke", progress=False)
    eb = ExactBelief("reacher_image")
    truth = np.arctan2(ds.tasks[:, 1], ds.tasks[:, 0])
    for i in range(ds.n_tasks):
        post = eb.posterior_trials(ds.actions[i], ds.rewards[i], ds.next_obs[i])  # (M, T + 1, C)
        assert np.all(post[:, -1, np.abs(eb.angles - truth[i]).argmin()] > 0)
        mean = (post[:, -1] * eb.angles).sum(-1)
        np.testing.assert_allclose(mean, truth[i], atol=0.01)
