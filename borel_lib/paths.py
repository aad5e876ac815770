"""Paths anchored at the repository root.

papermill and nbval start kernels in different working directories, so nothing in the library may
depend on the current directory. Every location is derived from :func:`repo_root`.

Layout: committed quick-profile figures in ``figures/``, paper-profile figures in ``figures/paper/``,
committed result tables in ``data/results/<profile>/``; everything the ``smoke`` profile writes goes
under the gitignored ``build/smoke/`` so CI never touches committed outputs.
"""

from __future__ import annotations

import os
from pathlib import Path

from borel_lib.config import resolve_profile

ROOT_ENV_VAR = "BOREL_ROOT"


def repo_root() -> Path:
    """The repository root: ``$BOREL_ROOT`` if set, else the folder holding ``pyproject.toml`` above
    this package (an editable install), else the current directory (an installed wheel)."""
    env = os.environ.get(ROOT_ENV_VAR)
    if env:
        root = Path(env).expanduser().resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"{ROOT_ENV_VAR}={env!r} is not a directory")
        return root
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "borel_lib").is_dir():
            return candidate
    return Path.cwd().resolve()


def build_dir() -> Path:
    """Gitignored scratch space: executed notebooks, smoke outputs, benchmark logs."""
    return repo_root() / "build"


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir(profile: str | None = None) -> Path:
    """Where a profile's figures go: ``figures/`` (quick), ``figures/paper/`` (paper),
    ``build/smoke/figures/`` (smoke, never committed)."""
    profile = resolve_profile(profile)
    if profile == "smoke":
        return _ensure(build_dir() / "smoke" / "figures")
    if profile == "paper":
        return _ensure(repo_root() / "figures" / "paper")
    return _ensure(repo_root() / "figures")


def results_dir(profile: str | None = None, create: bool = True) -> Path:
    """Where a profile's small tidy result tables go: ``data/results/<profile>/`` for quick and
    paper (committed), ``build/smoke/results/`` for smoke. ``create=False`` only names the folder (a reader
    or a listing must not leave an empty one; writers create their files' folders)."""
    profile = resolve_profile(profile)
    path = build_dir() / "smoke" / "results" if profile == "smoke" else repo_root() / "data" / "results" / profile
    return _ensure(path) if create else path


def datasets_dir(profile: str | None = None, create: bool = False) -> Path:
    """Where offline datasets go (never committed): ``data/datasets/<profile>/`` or
    ``build/smoke/datasets/``. Only named by default: the writers create it (the dataset writer and the
    locks, :func:`borel_lib.io.file_lock`, which removes the folders it made if the run fails), so a failed
    run leaves no empty folder; ``create=True`` makes it."""
    profile = resolve_profile(profile)
    path = build_dir() / "smoke" / "datasets" if profile == "smoke" else repo_root() / "data" / "datasets" / profile
    return _ensure(path) if create else path


def checkpoints_dir(profile: str | None = None, create: bool = False) -> Path:
    """Where training checkpoints go (never committed), so killed runs can resume. Only named by default
    (a command that may still be rejected must not leave an empty one; checkpoints are written with
    :func:`borel_lib.io.atomic_path`, which creates their folder); ``create=True`` makes it."""
    profile = resolve_profile(profile)
    path = build_dir() / "smoke" / "checkpoints" if profile == "smoke" else repo_root() / "data" / "checkpoints" / profile
    return _ensure(path) if create else path


def benchmarks_dir() -> Path:
    """Where the committed benchmark tables of ``scripts/benchmark_*.py`` go: ``data/benchmarks/``."""
    return _ensure(repo_root() / "data" / "benchmarks")
