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
  ``iteration`` ``(N, M)`` — the collection iteration that produced each trial).

Arrays are float32 (int32 for index arrays) and memory-mapped on load, so a paper-scale Ant dataset
(80 tasks × 820k transitions, ~16 GB on disk) is usable within a few GB of RAM; the writer streams into
preallocated memory-mapped files too. A dataset is written into a hidden temporary directory and
renamed into place only when complete, so a crash never leaves a half-written dataset at its final
path; an interrupted writer can be reopened and continued (:meth:`DatasetWriter.open`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from borel_lib import __version__
from borel_lib.io import write_json

SCHEMA_VERSION = 1
"""Version of the on-disk format this code reads and writes."""

REQUIRED_ARRAYS = ("obs", "actions", "rewards", "next_obs")
"""Arrays every dataset has."""

MANIFEST_FIELDS = ("schema_version", "domain", "env_id", "tasks", "n_tasks", "n_trials", "episodes_per_trial",
                   "horizon", "trial_length", "init_state", "collection_mode", "profile", "config", "seed",
                   "borel_lib_version", "created_by", "notes", "arrays")
"""Fields every manifest has."""

COLLECTION_MODES = ("own_policy", "policy_replay")
"""How trials were collected: each task's own learning agent, or other tasks' saved policies (§4)."""


class DatasetError(ValueError):
    """A dataset on disk is missing, incomplete, corrupt or of an unknown version."""


def _sha256(path: Path, chunk: int = 1 << 24) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _temp_dir(path: Path) -> Path:
    return path.parent / f".{path.name}.incomplete"


class DatasetWriter:
    """Streams trials into a new dataset; :meth:`finalize` makes it visible atomically."""

    def __init__(self, path: str | os.PathLike[str], shapes: Mapping[str, tuple[int, ...]], manifest: Mapping[str, Any],
                 dtypes: Mapping[str, str] | None = None, overwrite: bool = False):
        self.path = Path(path)
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
        self.dtypes = {k: dtypes.get(k, "float32") for k in self.shapes}
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
            raise DatasetError(f"{tmp}: no interrupted dataset writer to resume")
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
                             "sha256": _sha256(self.tmp / f"{name}.npy")}
        self.arrays = {}
        manifest = {"schema_version": SCHEMA_VERSION, "borel_lib_version": __version__, "notes": "",
                    "collection_mode": "own_policy", **self.manifest, "arrays": entries}
        missing = [f for f in MANIFEST_FIELDS if f not in manifest]
        if missing:
            raise ValueError(f"DatasetWriter: manifest is missing fields {missing}")
        write_json(self.tmp / "manifest.json", manifest)
        for extra in ("writer.json", "progress.json"):
            (self.tmp / extra).unlink(missing_ok=True)
        if self.path.exists():
            if not self.overwrite:
                raise FileExistsError(f"{self.path} appeared while writing; not overwriting it")
            old = self.path.parent / f".{self.path.name}.old"
            os.replace(self.path, old)
            os.replace(self.tmp, self.path)
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

    def one_hot_actions(self, n_actions: int) -> np.ndarray:
        """Integer-valued actions as one-hot ``(N, M, T, n_actions)`` (Gridworld)."""
        return np.eye(n_actions, dtype=np.float32)[self.arrays["actions"][..., 0].astype(np.int64)]


def load_dataset(path: str | os.PathLike[str], mmap: bool = True, verify_checksums: bool = False,
                 check_finite: bool = True) -> OfflineDataset:
    """Open and validate a dataset; raise :class:`DatasetError` naming the file and field at fault."""
    path = Path(path)
    if not path.is_dir():
        hint = " (an interrupted write exists: DatasetWriter.open() resumes it)" if _temp_dir(path).exists() else ""
        raise DatasetError(f"{path}: dataset directory does not exist{hint}")
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise DatasetError(f"{mpath}: missing manifest")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{mpath}: not valid JSON ({err})") from err
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
    N, M, T = manifest["n_tasks"], manifest["n_trials"], manifest["trial_length"]
    if len(manifest["tasks"]) != N:
        raise DatasetError(f"{mpath}: field 'tasks' has {len(manifest['tasks'])} entries but n_tasks is {N}")
    arrays = {}
    for name, entry in entries.items():
        file = path / entry["file"]
        if not file.is_file():
            raise DatasetError(f"{file}: array file of '{name}' is missing")
        try:
            arr = np.load(file, mmap_mode="r" if mmap else None)
        except (ValueError, OSError, EOFError) as err:
            raise DatasetError(f"{file}: array '{name}' is truncated or corrupt ({err})") from err
        if list(arr.shape) != list(entry["shape"]):
            raise DatasetError(f"{file}: array '{name}' has shape {arr.shape}, manifest says {tuple(entry['shape'])}")
        if str(arr.dtype) != entry["dtype"]:
            raise DatasetError(f"{file}: array '{name}' has dtype {arr.dtype}, manifest says {entry['dtype']}")
        lead = (N, M, T) if name not in ("source_task", "iteration") else (N, M)
        if tuple(arr.shape[: len(lead)]) != lead:
            raise DatasetError(f"{file}: array '{name}' leading shape {arr.shape[:len(lead)]} != (n_tasks, n_trials"
                               f"{', trial_length' if len(lead) == 3 else ''}) = {lead}")
        if verify_checksums and _sha256(file) != entry["sha256"]:
            raise DatasetError(f"{file}: checksum of '{name}' does not match the manifest (corrupt file)")
        if check_finite and arr.dtype.kind == "f":
            for i in range(arr.shape[0]):  # task by task: bounded memory on memmaps
                if not np.all(np.isfinite(arr[i])):
                    raise DatasetError(f"{file}: array '{name}' has NaN or inf values (task {i})")
        arrays[name] = arr
    return OfflineDataset(path=path, manifest=manifest, arrays=arrays)
