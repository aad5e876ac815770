"""Dataset format: round trip, atomic writes, resume, and a clear error for every corruption."""

import json

import numpy as np
import pytest

from borel_lib.datasets import DatasetError, DatasetWriter, load_dataset

N, M, T = 3, 4, 120  # Semi-circle: k = 2 episodes of H = 60 steps


def _manifest():
    return {"domain": "semicircle", "env_id": "borel/SemiCircle-v0", "tasks": [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]],
            "n_tasks": N, "n_trials": M, "episodes_per_trial": 2, "horizon": 60, "trial_length": T,
            "init_state": "uniform", "collection_mode": "own_policy", "profile": "smoke", "config": {"x": 1},
            "seed": 0, "created_by": "pytest"}


def _shapes():
    return {"obs": (N, M, T, 3), "actions": (N, M, T, 2), "rewards": (N, M, T), "next_obs": (N, M, T, 3),
            "iteration": (N, M)}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    data = {k: rng.normal(size=s).astype(np.float32) for k, s in _shapes().items()}
    data["iteration"] = rng.integers(-1, 10, size=(N, M)).astype(np.int32)
    return data


def _write(path, data=None, **kw):
    data = data or _data()
    w = DatasetWriter(path, _shapes(), _manifest(), **kw)
    for m in range(M):  # stream trial by trial, as a collector does
        w.write(trials=m, **{k: v[:, m] for k, v in data.items()})
    return w.finalize()


def test_round_trip_memmapped(tmp_path):
    data = _data()
    path = _write(tmp_path / "ds", data)
    ds = load_dataset(path)
    for k, v in data.items():
        np.testing.assert_array_equal(ds.arrays[k], v)
        assert isinstance(ds.arrays[k], np.memmap)
    assert ds.n_tasks == N and ds.trial_length == T and ds.tasks.shape == (N, 2)
    assert ds.manifest["arrays"]["obs"]["dtype"] == "float32"
    assert ds.obs is ds.arrays["obs"]
    assert not (tmp_path / ".ds.incomplete").exists()


def test_fingerprint_names_the_data_not_the_command(tmp_path):
    a = load_dataset(_write(tmp_path / "a"))
    same = load_dataset(_write(tmp_path / "b"))  # the same arrays written again
    other = load_dataset(_write(tmp_path / "c", _data(seed=1)))
    assert a.fingerprint == same.fingerprint != other.fingerprint
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["created_by"] = "another command"
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    assert load_dataset(tmp_path / "b", verify=False).fingerprint == a.fingerprint


def test_crash_leaves_no_dataset_and_resume_gives_identical_bytes(tmp_path):
    data = _data()
    straight = _write(tmp_path / "a", data)
    w = DatasetWriter(tmp_path / "b", _shapes(), _manifest())
    w.write(trials=slice(0, 2), **{k: v[:, :2] for k, v in data.items()})
    w.checkpoint(trials_written=2)
    del w  # "killed"
    with pytest.raises(DatasetError, match="does not exist.*resumes it"):
        load_dataset(tmp_path / "b")
    w = DatasetWriter.open(tmp_path / "b")
    assert w.progress == {"trials_written": 2}
    w.write(trials=slice(2, M), **{k: v[:, 2:] for k, v in data.items()})
    resumed = w.finalize()
    for k in _shapes():
        assert (straight / f"{k}.npy").read_bytes() == (resumed / f"{k}.npy").read_bytes()


def test_refuses_to_overwrite_unless_asked(tmp_path):
    _write(tmp_path / "ds")
    with pytest.raises(FileExistsError):
        _write(tmp_path / "ds")
    _write(tmp_path / "ds", _data(1), overwrite=True)
    np.testing.assert_array_equal(load_dataset(tmp_path / "ds").obs, _data(1)["obs"])


def test_writer_rejects_nan_and_unknown_arrays(tmp_path):
    w = DatasetWriter(tmp_path / "ds", _shapes(), _manifest())
    with pytest.raises(ValueError, match="NaN"):
        w.write(trials=0, rewards=np.full((N, T), np.nan))
    with pytest.raises(ValueError, match="unknown array 'reward'"):
        w.write(trials=0, reward=np.zeros((N, T)))


def _corrupt(path, how):
    if how == "missing_file":
        (path / "rewards.npy").unlink()
        return "rewards.npy.*missing"
    if how == "truncated":
        raw = (path / "obs.npy").read_bytes()
        (path / "obs.npy").write_bytes(raw[: len(raw) // 2])
        return "obs.npy.*truncated or corrupt"
    if how == "dtype":
        np.save(path / "actions.npy", np.zeros((N, M, T, 2), dtype=np.float64))
        return "actions.npy.*dtype float64"
    if how == "shape":
        np.save(path / "next_obs.npy", np.zeros((N, M, T, 4), dtype=np.float32))
        return "next_obs.npy.*shape"
    if how == "nan":
        arr = np.load(path / "rewards.npy")
        arr[1, 2, 3] = np.nan
        np.save(path / "rewards.npy", arr)
        return "rewards.npy.*NaN.*task 1"
    if how == "rewards_all_one":  # a tampered array with a valid header: only the checksum sees it
        arr = np.lib.format.open_memmap(path / "rewards.npy", mode="r+")
        arr[:] = 1.0
        arr.flush()
        del arr
        return "rewards.npy: checksum of 'rewards'"
    if how == "symlink_outside":
        outside = path.parent / "elsewhere.npy"
        np.save(outside, np.load(path / "rewards.npy"))
        (path / "rewards.npy").unlink()
        (path / "rewards.npy").symlink_to(outside)
        return "points outside the dataset folder"
    if how == "checksum":
        arr = np.load(path / "obs.npy")
        arr[0, 0, 0, 0] += 1
        np.save(path / "obs.npy", arr)
        return "obs.npy.*checksum"
    manifest = json.loads((path / "manifest.json").read_text())
    if how == "schema":
        manifest["schema_version"] = 99
        msg = "schema_version.*99"
    elif how == "missing_field":
        del manifest["horizon"]
        msg = r"missing field\(s\) \['horizon'\]"
    elif how == "tasks":
        manifest["tasks"] = manifest["tasks"][:2]
        msg = "'tasks' has 2 entries"
    elif how == "domain":
        manifest["domain"] = "gridworld"
        msg = "field 'env_id' is 'borel/SemiCircle-v0', but domain 'gridworld' has 'borel/Gridworld-v0'"
    elif how == "unknown_domain":
        manifest["domain"] = "mars"
        msg = "field 'domain' is 'mars'; allowed values: gridworld"
    elif how == "horizon":
        manifest["horizon"] = 30
        msg = "field 'horizon' is 30, but domain 'semicircle' has 60"
    elif how == "task_dim":
        manifest["tasks"][1] = [0.5]
        msg = r"field 'tasks\[1\]' must be 2 finite numbers"
    elif how == "task_value":  # same shape, edited goal: the manifest's own checksum catches it
        manifest["tasks"][1] = [0.0, -1.0]
        msg = "manifest_sha256"
    elif how == "outside_path":
        manifest["arrays"]["rewards"]["file"] = "../other/rewards.npy"
        msg = r"arrays.rewards.file.*plain .npy file name"
    elif how == "manifest_dtype":
        manifest["arrays"]["rewards"]["dtype"] = "float64"
        msg = r"arrays.rewards.dtype.*must be float32"
    (path / "manifest.json").write_text(json.dumps(manifest))
    return msg


def _snapshot(root):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


CORRUPTIONS = ["missing_file", "truncated", "dtype", "shape", "nan", "checksum", "schema", "missing_field", "tasks",
               "domain", "unknown_domain", "horizon", "task_dim", "task_value", "outside_path", "manifest_dtype",
               "rewards_all_one", "symlink_outside"]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_every_corruption_is_named_and_nothing_is_written(tmp_path, how):
    path = _write(tmp_path / "ds")
    pattern = _corrupt(path, how)
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetError, match=pattern):
        load_dataset(path, verify=how != "nan")  # NaN written into a file also breaks its checksum
    assert _snapshot(tmp_path) == before


def test_opt_outs_skip_registry_and_checksums(tmp_path):
    path = _write(tmp_path / "ds")
    _corrupt(path, "rewards_all_one")
    assert float(load_dataset(path, verify=False).rewards.min()) == 1.0
    _corrupt(path, "horizon")
    load_dataset(path, validate=False, verify=False)


def test_missing_manifest_and_directory(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    path = _write(tmp_path / "ds")
    (path / "manifest.json").unlink()
    with pytest.raises(DatasetError, match="manifest.json: missing manifest"):
        load_dataset(path)


def test_one_hot_actions(tmp_path):
    shapes = {**_shapes(), "actions": (N, M, T, 1)}
    w = DatasetWriter(tmp_path / "g", shapes, _manifest())
    acts = np.random.default_rng(0).integers(0, 5, (N, M, T, 1)).astype(np.float32)
    w.write(actions=acts)
    ds = load_dataset(w.finalize(), validate=False)  # a Semi-circle manifest with integer actions
    oh = ds.one_hot_actions(5)
    assert oh.shape == (N, M, T, 5)
    np.testing.assert_array_equal(oh.argmax(-1), acts[..., 0])
