"""Offline meta-RL datasets on disk: one directory per dataset, readable by a stranger (paper §3.1).

Layout of ``<name>/``:

- ``manifest.json``: ``schema_version``, ``domain``, ``env_id``, ``tasks`` (one list of task
  parameters per task), ``n_tasks``, ``n_trials``, ``episodes_per_trial`` (k), ``horizon`` (H),
  ``trial_length`` (k·H), ``init_state``, ``collection_mode`` (``own_policy`` or ``policy_replay``),
  ``profile``, ``config`` (the resolved collection config), ``seed``, ``borel_lib_version``,
  ``created_by`` (the command), ``notes``, and ``arrays``: for each array its file, shape, dtype and
  sha256.
- one ``.npy`` file per array, laid out **task × trial × time × dim** so a whole trial (the VAE's unit)
  is contiguous: ``obs`` and ``next_obs`` ``(N, M, T, obs_dim)`` with the episode-end flag, ``actions``
  ``(N, M, T, act_dim)`` (Gridworld: the integer action as a float), ``rewards`` ``(N, M, T)``, and
  optional extras (``reward_goal``, ``reward_ctrl``, ``source_task`` ``(N, M)`` for policy replaying,
  ``iteration`` ``(N, M)`` — the collection iteration that produced each trial, and for image domains
  ``images`` ``(N, M, k·(H + 1), 64, 64, 3)`` uint8 — every frame of a trial once, :func:`frame_indices`).

Arrays are float32 (int32 for index arrays, uint8 for images) and memory-mapped on load, so a paper-scale Ant dataset
(80 tasks × 820k transitions, ~16 GB on disk) is usable within a few GB of RAM; the writer streams into
preallocated memory-mapped files too. A dataset is written into a hidden temporary directory and
renamed into place only when complete, so a crash never leaves a half-written dataset at its final
path; an interrupted writer can be reopened and continued (:meth:`DatasetWriter.open`).

Loading validates by default (:func:`load_dataset`), so a tampered or corrupted dataset fails with an
error naming the file and the field instead of training on wrong data:

- the manifest against the domain registry (:data:`borel_lib.envs.DOMAINS`): the domain is known,
  ``env_id``, ``horizon`` and ``episodes_per_trial`` are the environment's, ``trial_length`` is k·H,
  ``init_state`` and ``collection_mode`` are allowed values, ``n_tasks``/``n_trials`` are positive and
  consistent with ``tasks`` and every array's leading shape, each task vector has the domain's
  ``task_dim`` finite numbers, observation and action widths match the environment, array files are
  plain names inside the dataset folder (``validate=False`` skips these checks);
- every array's dtype (float32; int32 for ``iteration``/``source_task``; uint8 for ``images``) and shape
  (``images``: the environment's image shape), finite values;
- checksums (``verify=True``): each array file's sha256 and the manifest's own ``manifest_sha256``
  (a digest of every other manifest field, so edited task vectors are caught). Hashing reads every
  byte: about 1.5 s per GB from the page cache on one core of the project's 2-core machine (measured
  with :func:`borel_lib.io.file_sha256`, 2025), plus the disk read if the files are not cached; a paper-scale Ant
  dataset (~16 GB) therefore costs ~25 s or more. ``verify=False`` skips it for speed once a dataset is
  trusted. A manifest written before ``manifest_sha256`` existed is accepted without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from borel_lib import __version__
from borel_lib.io import describe_holder, file_lock, file_sha256, write_json

SCHEMA_VERSION = 1
"""Version of the on-disk format this code reads and writes."""

REQUIRED_ARRAYS = ("obs", "actions", "rewards", "next_obs")
"""Arrays every dataset has."""

MANIFEST_FIELDS = ("schema_version", "domain", "env_id", "tasks", "n_tasks", "n_trials", "episodes_per_trial",
                   "horizon", "trial_length", "init_state", "collection_mode", "profile", "config", "seed",
                   "borel_lib_version", "created_by", "notes", "arrays")
"""Fields every manifest has."""

OPTIONAL_ARRAYS = ("reward_goal", "reward_ctrl", "source_task", "iteration", "images")
"""Arrays a dataset may have besides the required ones."""

INDEX_ARRAYS = ("source_task", "iteration")
"""Per-trial index arrays: ``(n_tasks, n_trials)``, int32; every other array is float32 except :data:`IMAGE_ARRAYS`."""

IMAGE_ARRAYS = ("images",)
"""Image arrays, uint8: ``images`` ``(n_tasks, n_trials, k·(H + 1), height, width, 3)`` holds every frame of
a trial once (:func:`frame_indices`). Only domains with image observations (Reacher-Image) have it."""

IMAGE_NOTE = ("images: k*(H+1) frames per trial, per episode the start state's frame then every step's next "
              "state's; step t's obs frame is t + t // H, its next_obs frame t + t // H + 1; each frame is the "
              "image the environment shows for that stored state (rendered from obs/next_obs)")
"""What a dataset's manifest ``notes`` say about its ``images`` array."""


def array_dtype(name: str) -> str:
    """The dtype every dataset stores array ``name`` in: uint8 images, int32 index arrays, else float32."""
    return "uint8" if name in IMAGE_ARRAYS else "int32" if name in INDEX_ARRAYS else "float32"


def leading_shape(name: str, manifest: Mapping[str, Any]) -> tuple[int, ...]:
    """The leading dimensions array ``name`` must have: ``(n_tasks, n_trials)`` for index arrays,
    ``(n_tasks, n_trials, trial_length + episodes_per_trial)`` for images (k·(H + 1) frames), else
    ``(n_tasks, n_trials, trial_length)``."""
    N, M, T = manifest["n_tasks"], manifest["n_trials"], manifest["trial_length"]
    if name in INDEX_ARRAYS:
        return (N, M)
    return (N, M, T + manifest["episodes_per_trial"]) if name in IMAGE_ARRAYS else (N, M, T)


def frame_indices(trial_length: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into an ``images`` array's frame axis of every step's observation and next observation:
    ``(obs_frames, next_frames)``, each ``(trial_length,)``. Episode e's frames are ``e·(H + 1)`` (its start
    state) to ``e·(H + 1) + H``, so step t's observation is frame t + t // H and its next state frame
    t + t // H + 1 (``images[:, :, obs_frames]`` are the images of ``obs``)."""
    t = np.arange(int(trial_length))
    obs = t + t // int(horizon)
    return obs, obs + 1

COLLECTION_MODES = ("own_policy", "policy_replay")
"""How trials were collected: each task's own learning agent, or other tasks' saved policies (§4)."""


class DatasetError(ValueError):
    """A dataset on disk is missing, incomplete, corrupt or of an unknown version."""


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """sha256 of a manifest's canonical JSON without its ``manifest_sha256`` field."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _temp_dir(path: Path) -> Path:
    return path.parent / f".{path.name}.incomplete"


def temp_dir(path: str | os.PathLike[str]) -> Path:
    """The hidden folder ``.<name>.incomplete`` where the dataset ``path`` is written until finalised."""
    return _temp_dir(Path(path))


class DatasetLockedError(DatasetError):
    """Another process is writing the same dataset."""


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The dataset writer's lock file ``.<name>.lock`` beside dataset ``path`` (:func:`dataset_lock`)."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextlib.contextmanager
def dataset_lock(path: str | os.PathLike[str], owner: str = "") -> Iterator[Path]:
    """Hold the lock file ``.<name>.lock`` next to dataset ``path`` while writing it (a
    :func:`borel_lib.io.file_lock` of its own: no other lock uses this file).

    A second writer of the same dataset gets :class:`DatasetLockedError` naming the lock, the pid and host
    holding it and how to stop it. A lock left by a killed process is taken over (one line on stderr). The
    lock is removed on exit, also on error.
    """
    path = Path(path)
    lock = lock_path(path)

    def held(holder: dict[str, Any] | None) -> DatasetLockedError:
        stop = f"kill {holder['pid']}" if holder and holder.get("host") == socket.gethostname() else "stop it"
        return DatasetLockedError(f"{path}: {describe_holder(holder)} is writing this dataset (lock file {lock}); "
                                  f"wait for it to finish, or {stop}, then rerun")

    with file_lock(lock, purpose=owner or "dataset writer", wait=False, on_held=held):
        yield lock


class DatasetWriter:
    """Streams trials into a new dataset; :meth:`finalize` makes it visible atomically."""

    def __init__(self, path: str | os.PathLike[str], shapes: Mapping[str, tuple[int, ...]], manifest: Mapping[str, Any],
                 dtypes: Mapping[str, str] | None = None, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(f"{self.path} is a file, not a dataset folder; move or delete it, then rerun")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} already exists (pass overwrite=True to replace it)")
        missing = [a for a in REQUIRED_ARRAYS if a not in shapes]
        if missing:
            raise ValueError(f"DatasetWriter: shapes is missing required arrays {missing}")
        if manifest.get("collection_mode", "own_policy") not in COLLECTION_MODES:
            raise ValueError(f"collection_mode={manifest.get('collection_mode')!r}; allowed: {', '.join(COLLECTION_MODES)}")
        self.overwrite = overwrite
        self.tmp = _temp_dir(self.path)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        dtypes = dict(dtypes or {})
        self.shapes = {k: tuple(int(d) for d in v) for k, v in shapes.items()}
        self.dtypes = {k: dtypes.get(k, array_dtype(k)) for k in self.shapes}
        self.manifest = dict(manifest)
        write_json(self.tmp / "writer.json", {"shapes": self.shapes, "dtypes": self.dtypes, "manifest": self.manifest,
                                              "overwrite": overwrite})
        self.arrays = {k: np.lib.format.open_memmap(self.tmp / f"{k}.npy", mode="w+", dtype=self.dtypes[k],
                                                    shape=self.shapes[k]) for k in self.shapes}
        self.progress: dict[str, Any] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> DatasetWriter:
        """Reopen an interrupted writer of ``path`` (its temporary directory) to continue writing."""
        path = Path(path)
        tmp = _temp_dir(path)
        if not (tmp / "writer.json").is_file():
            raise DatasetError(f"{tmp}: no interrupted dataset writer to resume (the dataset {path} was finished or "
                               "removed after its checkpoint was saved)")
        state = json.loads((tmp / "writer.json").read_text())
        self = cls.__new__(cls)
        self.path, self.tmp, self.overwrite = path, tmp, state["overwrite"]
        self.shapes = {k: tuple(v) for k, v in state["shapes"].items()}
        self.dtypes, self.manifest = state["dtypes"], state["manifest"]
        self.arrays = {k: np.load(tmp / f"{k}.npy", mmap_mode="r+") for k in self.shapes}
        prog = tmp / "progress.json"
        self.progress = json.loads(prog.read_text()) if prog.is_file() else {}
        return self

    def write(self, tasks: Any = slice(None), trials: Any = slice(None), **arrays: np.ndarray) -> None:
        """Write ``arrays[name]`` into ``name[tasks, trials]``."""
        for name, value in arrays.items():
            if name not in self.arrays:
                raise ValueError(f"DatasetWriter.write: unknown array {name!r}; arrays: {', '.join(self.arrays)}")
            value = np.asarray(value)
            if not np.all(np.isfinite(value)):
                raise ValueError(f"DatasetWriter.write: array {name!r} has NaN or inf values")
            self.arrays[name][tasks, trials] = value

    def checkpoint(self, **progress: Any) -> None:
        """Flush the arrays and record ``progress`` (e.g. trials written) atomically."""
        for arr in self.arrays.values():
            arr.flush()
        self.progress = dict(progress)
        write_json(self.tmp / "progress.json", self.progress)

    def finalize(self) -> Path:
        """Checksum, write the manifest, and rename the dataset into place."""
        entries = {}
        for name, arr in self.arrays.items():
            arr.flush()
            entries[name] = {"file": f"{name}.npy", "shape": list(arr.shape), "dtype": str(arr.dtype),
                             "sha256": file_sha256(self.tmp / f"{name}.npy")}
        self.arrays = {}
        manifest = {"schema_version": SCHEMA_VERSION, "borel_lib_version": __version__, "notes": "",
                    "collection_mode": "own_policy", **self.manifest, "arrays": entries}
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise ValueError(f"DatasetWriter: manifest is missing fields {missing}")
        write_json(self.tmp / "manifest.json", manifest)  # then digest exactly what a reader will parse
        written = json.loads((self.tmp / "manifest.json").read_text(encoding="utf-8"))
        write_json(self.tmp / "manifest.json", {**written, "manifest_sha256": manifest_digest(written)})
        for extra in ("writer.json", "progress.json"):
            (self.tmp / extra).unlink(missing_ok=True)
        if self.path.exists():
            if not self.overwrite:
                raise FileExistsError(f"{self.path} appeared while writing; not overwriting it")
            if not self.path.is_dir():
                raise FileExistsError(f"{self.path} is a file, not a dataset folder; move or delete it, then rerun")
            old = self.path.parent / f".{self.path.name}.old"
            if old.is_dir():  # left by a crash between the two renames below (or a file of an older borel_lib)
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
            os.replace(self.path, old)
            try:
                os.replace(self.tmp, self.path)
            except BaseException:
                os.replace(old, self.path)  # the old dataset stays in place
                raise
            shutil.rmtree(old)
        else:
            os.replace(self.tmp, self.path)
        return self.path


@dataclass(frozen=True)
class OfflineDataset:
    """A validated dataset; arrays are memory-mapped (read lazily)."""

    path: Path
    """The dataset directory."""
    manifest: dict[str, Any]
    """The parsed ``manifest.json``."""
    arrays: dict[str, np.ndarray]
    """Arrays by name, task × trial × time × dim."""

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = object.__getattribute__(self, "arrays")
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def fingerprint(self) -> str:
        """Identity of the data: a digest of every array's sha256, the tasks and the collection config (not of
        the command that wrote it: a deterministic re-collection keeps its fingerprint). Training checkpoints
        store it, so a run never resumes onto data collected again with another protocol."""
        m = self.manifest
        body = {"arrays": {k: v.get("sha256") for k, v in m["arrays"].items()}, "tasks": m["tasks"],
                "config": m.get("config"), **({"view": m["view"]} if "view" in m else {})}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def tasks(self) -> np.ndarray:
        """Task parameters, ``(N, task_dim)``."""
        return np.asarray(self.manifest["tasks"], dtype=np.float64)

    @property
    def n_tasks(self) -> int:
        return int(self.manifest["n_tasks"])

    @property
    def n_trials(self) -> int:
        return int(self.manifest["n_trials"])

    @property
    def trial_length(self) -> int:
        return int(self.manifest["trial_length"])

    def last_trials(self, n: int) -> OfflineDataset:
        """A view of the last ``n`` trials of every task's log (the converged collectors' data, issue 31 (b)); its
        manifest says so (``view``), and so does its :attr:`fingerprint`: a checkpoint made on the whole logs is
        refused on it. Not for datasets with arrays of another leading shape (image frames)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.n_trials:
            raise DatasetError(f"{self.path}: last_trials={n!r} must be an integer in [1, {self.n_trials}] "
                               "(the dataset's trials per task)")
        lead = (self.n_tasks, self.n_trials)
        odd = sorted(k for k, v in self.arrays.items() if v.shape[:2] != lead)
        if odd:
            raise DatasetError(f"{self.path}: last_trials needs task x trial arrays; {', '.join(odd)} are not")
        manifest = {**self.manifest, "n_trials": n, "view": {"last_trials": n, "of": self.n_trials}}
        return OfflineDataset(self.path, manifest, {k: v[:, self.n_trials - n :] for k, v in self.arrays.items()})

    def one_hot_actions(self, n_actions: int) -> np.ndarray:
        """Integer-valued actions as one-hot ``(N, M, T, n_actions)`` (Gridworld)."""
        return np.eye(n_actions, dtype=np.float32)[self.arrays["actions"][..., 0].astype(np.int64)]


def _lead_names(name: str) -> str:
    """The names of :func:`leading_shape`'s dimensions, for error messages."""
    if name in INDEX_ARRAYS:
        return "(n_tasks, n_trials)"
    return "(n_tasks, n_trials, trial_length + episodes_per_trial)" if name in IMAGE_ARRAYS else \
        "(n_tasks, n_trials, trial_length)"


def _fail(where: Path, field: str, message: str) -> DatasetError:
    return DatasetError(f"{where}: field '{field}' {message}")


def _is_int(value: Any, minimum: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def validate_manifest(manifest: Mapping[str, Any], mpath: Path) -> None:
    """Check a manifest against the domain registry and itself; raise :class:`DatasetError` naming
    ``mpath`` and the field at fault (see the module docstring for the list of checks)."""
    from gymnasium import spaces

    from borel_lib.envs import DOMAINS, INIT_STATE_OPTIONS, make_env

    domain = manifest["domain"]
    if domain not in DOMAINS:
        raise _fail(mpath, "domain", f"is {domain!r}; allowed values: {', '.join(DOMAINS)}")
    info = DOMAINS[domain]
    env = make_env(domain)
    expected = {"env_id": info.env_id, "horizon": env.horizon, "episodes_per_trial": env.episodes_per_trial,
                "trial_length": env.horizon * env.episodes_per_trial}
    for field, value in expected.items():
        if manifest[field] != value:
            raise _fail(mpath, field, f"is {manifest[field]!r}, but domain {domain!r} has {value!r}")
    for field in ("n_tasks", "n_trials"):
        if not _is_int(manifest[field]):
            raise _fail(mpath, field, f"must be an integer >= 1; got {manifest[field]!r}")
    if manifest["init_state"] not in INIT_STATE_OPTIONS:
        raise _fail(mpath, "init_state", f"is {manifest['init_state']!r}; allowed values: {', '.join(INIT_STATE_OPTIONS)}")
    if manifest["collection_mode"] not in COLLECTION_MODES:
        raise _fail(mpath, "collection_mode", f"is {manifest['collection_mode']!r}; allowed values: "
                                              f"{', '.join(COLLECTION_MODES)}")
    tasks = manifest["tasks"]
    if not isinstance(tasks, list) or len(tasks) != manifest["n_tasks"]:
        n = len(tasks) if isinstance(tasks, list) else type(tasks).__name__
        raise _fail(mpath, "tasks", f"has {n} entries but n_tasks is {manifest['n_tasks']}")
    for i, task in enumerate(tasks):
        ok = isinstance(task, list) and len(task) == env.task_dim and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in task)
        if not ok:
            raise _fail(mpath, f"tasks[{i}]", f"must be {env.task_dim} finite numbers (task_dim of {domain!r}); "
                                              f"got {task!r}")
    entries = manifest["arrays"]
    if not isinstance(entries, dict):
        raise _fail(mpath, "arrays", "must map array names to {file, shape, dtype, sha256}")
    unknown = [a for a in entries if a not in REQUIRED_ARRAYS + OPTIONAL_ARRAYS]
    if unknown:
        raise _fail(mpath, "arrays", f"has unknown array(s) {unknown}; allowed: "
                                     f"{', '.join(REQUIRED_ARRAYS + OPTIONAL_ARRAYS)}")
    obs_space, act_space = env.observation_space, env.action_space
    widths, image_shape = {}, None
    if isinstance(obs_space, spaces.Dict) and "state" in obs_space.spaces:  # Reacher-Image: the state is stored
        obs_space, image_shape = obs_space["state"], list(obs_space["image"].shape)
    if isinstance(obs_space, spaces.Box):
        widths["obs"] = widths["next_obs"] = int(np.prod(obs_space.shape)) + 1  # + episode-end flag
    widths["actions"] = 1 if isinstance(act_space, spaces.Discrete) else int(np.prod(act_space.shape))
    for name, entry in entries.items():
        where = f"arrays.{name}"
        if not isinstance(entry, dict) or any(k not in entry for k in ("file", "shape", "dtype", "sha256")):
            raise _fail(mpath, where, "must have file, shape, dtype and sha256")
        file = entry["file"]
        if not isinstance(file, str) or file != Path(file).name or file in ("", ".", "..") or not file.endswith(".npy"):
            raise _fail(mpath, f"{where}.file", f"must be a plain .npy file name inside the dataset folder; got {file!r}")
        dtype = array_dtype(name)
        if entry["dtype"] != dtype:
            raise _fail(mpath, f"{where}.dtype", f"is {entry['dtype']!r}; array '{name}' must be {dtype}")
        shape = entry["shape"]
        lead = leading_shape(name, manifest)
        if not isinstance(shape, list) or tuple(shape[: len(lead)]) != lead:
            raise _fail(mpath, f"{where}.shape", f"is {shape!r}; its leading dimensions must be {_lead_names(name)} "
                                                 f"= {lead}")
        if name in IMAGE_ARRAYS:
            if image_shape is None or shape[3:] != image_shape:
                raise _fail(mpath, f"{where}.shape", f"is {shape!r}; domain {domain!r} " + (
                    f"has images of shape {tuple(image_shape)}" if image_shape else "has no image observations"))
            continue
        if name in widths and shape[3:] != [widths[name]]:
            raise _fail(mpath, f"{where}.shape", f"is {shape!r}; domain {domain!r} needs last dimension "
                                                 f"{widths[name]}")
        if name not in widths and len(shape) != len(lead):
            raise _fail(mpath, f"{where}.shape", f"is {shape!r}; expected {len(lead)} dimensions")


def load_dataset(path: str | os.PathLike[str], mmap: bool = True, validate: bool = True, verify: bool = True,
                 check_finite: bool = True) -> OfflineDataset:
    """Open a dataset and check it; raise :class:`DatasetError` naming the file and field at fault.

    ``validate`` checks the manifest against the domain registry, ``verify`` checks every sha256
    (about 1.5 s per GB, see the module docstring), ``check_finite`` scans float arrays for NaN/inf.
    Turn them off only for a dataset already checked once. Loading never writes anything.
    """
    path = Path(path)
    if not path.is_dir():
        hint = " (an interrupted write exists: DatasetWriter.open() resumes it)" if _temp_dir(path).exists() else ""
        raise DatasetError(f"{path}: dataset directory does not exist{hint}")
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise DatasetError(f"{mpath}: missing manifest")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{mpath}: not valid JSON ({err})") from err
    if not isinstance(manifest, dict):
        raise DatasetError(f"{mpath}: not a manifest (a JSON object is expected)")
    missing = [f for f in MANIFEST_FIELDS if f not in manifest]
    if missing:
        raise DatasetError(f"{mpath}: missing field(s) {missing}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise DatasetError(f"{mpath}: field 'schema_version' is {manifest['schema_version']!r}; this borel_lib "
                           f"reads version {SCHEMA_VERSION}")
    entries = manifest["arrays"]
    absent = [a for a in REQUIRED_ARRAYS if a not in entries]
    if absent:
        raise DatasetError(f"{mpath}: field 'arrays' lacks required arrays {absent}")
    N = manifest["n_tasks"]
    if not isinstance(manifest["tasks"], list) or len(manifest["tasks"]) != N:
        raise DatasetError(f"{mpath}: field 'tasks' has {len(manifest['tasks'])} entries but n_tasks is {N}")
    if validate:
        validate_manifest(manifest, mpath)
    if verify and "manifest_sha256" in manifest and manifest_digest(manifest) != manifest["manifest_sha256"]:
        raise DatasetError(f"{mpath}: field 'manifest_sha256' does not match the manifest's content (the manifest "
                           "was edited or corrupted; fields such as 'tasks' or 'config' no longer describe the data)")
    root = path.resolve()
    arrays = {}
    for name, entry in entries.items():
        file = path / entry["file"]
        if not file.resolve().is_relative_to(root):
            raise DatasetError(f"{mpath}: field 'arrays.{name}.file' ({entry['file']!r}) points outside the dataset "
                               f"folder {path}")
        if not file.is_file():
            raise DatasetError(f"{file}: array file of '{name}' is missing")
        try:
            arr = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise DatasetError(f"{file}: array '{name}' is truncated or corrupt ({err})") from err
        if list(arr.shape) != list(entry["shape"]):
            raise DatasetError(f"{file}: array '{name}' has shape {arr.shape}, manifest says {tuple(entry['shape'])}")
        if str(arr.dtype) != entry["dtype"]:
            raise DatasetError(f"{file}: array '{name}' has dtype {arr.dtype}, manifest says {entry['dtype']}")
        lead = leading_shape(name, manifest)
        if tuple(arr.shape[: len(lead)]) != lead:
            raise DatasetError(f"{file}: array '{name}' leading shape {arr.shape[:len(lead)]} != {_lead_names(name)} "
                               f"= {lead}")
        if verify and file_sha256(file) != entry["sha256"]:
            raise DatasetError(f"{file}: checksum of '{name}' does not match the manifest's arrays.{name}.sha256 "
                               "(the file was modified or corrupted)")
        if check_finite and arr.dtype.kind == "f":
            for i in range(arr.shape[0]):  # task by task: bounded memory on memmaps
                if not np.all(np.isfinite(arr[i])):
                    raise DatasetError(f"{file}: array '{name}' has NaN or inf values (task {i})")
        arrays[name] = arr
    return OfflineDataset(path=path, manifest=manifest, arrays=arrays)
