"""Sweeps: named grids of :func:`borel_lib.pipeline.run_borel` runs on a submitit executor (paper §6,
Table 1 and Figure 3 need many seeds and variants).

A *grid* is a named list of *cells*; a cell is the keyword dict of one run's
:class:`borel_lib.pipeline.RunSpec` without its profile (``domain``, ``belief``, ``relabelling``, ``seed``,
``features``, ``rl`` and ``vae``, dicts of offline-RL and belief-VAE overrides). The grids:

- ``table1``: Ant-Semi-circle × the three initial-state variants of collection (``uniform``,
  ``exclude_semicircle``, ``fixed``) × CQL α ∈ {0, 2} × seeds 0–2 (Table 1; the authors' α_CQL = 2);
- ``fig3_gridworld``, ``fig3_semicircle``: BOReL with/without reward relabelling and the exact-belief
  oracle × seeds 0–2 (Figure 3);
- ``fig3_cheetah``: Half-Cheetah-Vel with/without reward relabelling × seeds 0–2 (Figure 3's panel);
- ``fig3_ant``: Ant-Semi-circle on the uniform data with/without reward relabelling × seeds 0–2 (Figure 3's
  panel; its relabelling cells are ``table1``'s uniform BOReL cells, the same runs: a run holds a lock
  in its checkpoint folder, so two sweeps sharing a cell take turns and the second finds it done);
- ``smoke``: two tiny Semi-circle cells (with/without relabelling), for tests and CI.

Every cell runs as one submitit job (:class:`CellJob`). Cells that train on the same dataset collect it
once: the first takes a lock file beside the dataset and the others wait for it; cells sharing a belief VAE
(e.g. one variant's BOReL and BOReL + CQL cells of a seed) train it once the same way
(:func:`borel_lib.pipeline.run_borel`). Jobs are resumable: ``run_borel`` checkpoints its
VAE and agent, and :class:`CellJob` is ``submitit.helpers.Checkpointable``, so a Slurm job that hits its
time limit or is pre-empted is requeued and continues from the last checkpoint. A cell whose result CSV
(``data/results/<profile>/borel/<domain>/<configuration>/borel_<tag>.csv``) already exists is not run again, so relaunching the same
command after a kill (or after some Slurm jobs failed) runs only what is missing. When every cell is done
the cells' CSVs are merged into one tidy table ``sweep_<grid>.csv`` (a ``cell`` column says which cell
each row came from) with the grid's cells in ``sweep_<grid>.config.json``.

Commands::

    python -m borel_lib.sweep smoke --profile smoke --executor local           # two cells, seconds
    python -m borel_lib.sweep fig3_semicircle --profile quick --executor local --max-parallel 2
    python -m borel_lib.sweep table1 --profile paper --executor slurm \\
        --partition gpu --time-min 4320 --gpus-per-node 1 --cpus-per-task 4 --max-parallel 18

``--executor local`` runs the jobs as subprocesses of this machine, at most ``--max-parallel`` at a time,
and waits; ``debug`` runs them one by one inside this process (for debugging with pdb); ``slurm``
submits a job array (``--max-parallel`` = the array's parallelism) and returns at once — run the same
command again when the jobs have finished to merge (cells still queued or running are not
resubmitted). Job scripts and logs go to ``build/sweeps/<profile>/<grid>/``.

A ``table1`` cell names its collection's ``init_state`` (:attr:`borel_lib.pipeline.RunSpec.init_state`;
cells sharing a variant share one dataset) and runs with the authors' Ant offline settings
(:data:`borel_lib.offline_rl.RL_DOMAIN`). Cells are checked before anything is submitted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from submitit.helpers import Checkpointable

from borel_lib.config import ConfigError, check_choice, check_positive, resolve_profile

EXECUTORS: tuple[str, ...] = ("local", "slurm", "debug")
"""submitit executors: subprocesses here, a Slurm cluster, or in-process (debugging)."""

SEEDS: tuple[int, ...] = (0, 1, 2)
"""Seeds of the paper-figure grids (the ± of Table 1 and the bands of Figure 3)."""


def _product(**axes: tuple[Any, ...]) -> list[dict[str, Any]]:
    """All combinations of ``axes`` as keyword dicts, the last axis varying fastest."""
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*axes.values())]


def _fig3(domain: str, seeds: tuple[int, ...] = SEEDS) -> list[dict[str, Any]]:
    """BOReL with and without reward relabelling and the exact-belief oracle, per seed (Figure 3)."""
    return (_product(domain=(domain,), belief=("vae",), relabelling=("reward_relabelling", "none"), seed=seeds)
            + _product(domain=(domain,), belief=("exact",), seed=seeds))


GRIDS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "table1": lambda: [{**{k: v for k, v in c.items() if k != "cql_alpha"}, "rl": {"cql_alpha": c["cql_alpha"]}}
                       for c in _product(
        domain=("ant_semicircle",), init_state=("uniform", "exclude_semicircle", "fixed"), cql_alpha=(0.0, 2.0),
        relabelling=("reward_relabelling",), seed=SEEDS)],
    "fig3_gridworld": lambda: _fig3("gridworld"),
    "fig3_semicircle": lambda: _fig3("semicircle"),
    # Half-Cheetah-Vel has no computed posterior (its velocities are continuous): BOReL with / without RR only
    "fig3_cheetah": lambda: _product(domain=("cheetah_vel",), belief=("vae",),
                                     relabelling=("reward_relabelling", "none"), seed=SEEDS),
    # Ant-Semi-circle on the uniform-start data: the RR cells are Table 1's uniform BOReL cells (same runs)
    "fig3_ant": lambda: _product(domain=("ant_semicircle",), init_state=("uniform",),
                                 relabelling=("reward_relabelling", "none"), seed=SEEDS),
    "smoke": lambda: _product(domain=("semicircle",), relabelling=("reward_relabelling", "none"), seed=(0,)),
}
"""Named grids: a function returning the cells (keyword dicts of :class:`borel_lib.pipeline.RunSpec` fields
without ``profile``; ``rl`` as a dict of offline-RL overrides)."""


def grid_cells(grid: str) -> list[dict[str, Any]]:
    """The cells of a named grid (clear error listing the grids for an unknown name)."""
    check_choice(grid, "grid", tuple(GRIDS))
    return GRIDS[grid]()


def selected_cells(grid: str, seeds: Sequence[int] | None = None) -> list[int]:
    """Indices (in :func:`grid_cells`) of the grid's cells with one of ``seeds`` (all cells if ``None``):
    a laptop can run two of Table 1's three seeds and add the third later. An unknown seed is a
    :class:`ConfigError` naming the grid's seeds."""
    cells = grid_cells(grid)
    if seeds is None:
        return list(range(len(cells)))
    wanted, have = set(seeds), sorted({c["seed"] for c in cells})
    unknown = sorted(wanted - set(have))
    if unknown:
        raise ConfigError(f"--seeds {' '.join(map(str, seeds))}: grid {grid!r} has no seed {unknown}; "
                          f"its seeds: {', '.join(map(str, have))}")
    return [i for i, c in enumerate(cells) if c["seed"] in wanted]


# ------------------------------------------------------------------------------------- cells
def _allowed() -> set[str]:
    from borel_lib.pipeline import RunSpec

    return {f.name for f in dataclasses.fields(RunSpec)} - {"profile"}


def cell_spec(cell: dict[str, Any], profile: str = "quick"):
    """The :class:`borel_lib.pipeline.RunSpec` of ``cell`` (validated)."""
    from borel_lib.pipeline import RunSpec

    rl, vae = cell.get("rl", {}), cell.get("vae", {})
    return RunSpec(profile=profile, **{**cell, "rl": tuple(dict(rl).items()), "vae": tuple(dict(vae).items())})


def result_name(cell: dict[str, Any], profile: str = "quick") -> str:
    """The result-table stem ``run_borel`` writes for ``cell`` (``borel_<tag>``)."""
    return "borel_" + cell_spec(cell, profile).tag


def check_cells(cells: list[dict[str, Any]], grid: str = "cells", profile: str = "quick") -> None:
    """Raise :class:`ConfigError` if a cell has a key a run does not take, or two cells would write the
    same result file (they would overwrite each other)."""
    allowed = _allowed()
    for i, cell in enumerate(cells):
        unknown = sorted(set(cell) - allowed)
        if unknown:
            raise ConfigError(f"grid {grid!r} cell {i} {cell}: a BOReL run does not take {unknown}; it takes: "
                              f"{', '.join(sorted(allowed))}")
    names: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = result_name(cell, profile)
        if name in names:
            raise ConfigError(f"grid {grid!r}: cells {names[name]} and {i} would both write {name}.csv "
                              f"(run_borel's result name does not distinguish {cells[names[name]]} from {cell})")
        names[name] = i


class CellJob(Checkpointable):
    """One cell as a submitit job: ``run_borel(**cell, profile=profile)``; returns the result CSV path.

    ``Checkpointable``: on a Slurm timeout or pre-emption submitit requeues the same call, and
    ``run_borel`` resumes from its own checkpoints.
    """

    def __call__(self, cell: dict[str, Any], profile: str) -> str:
        import torch

        from borel_lib.pipeline import run_borel
        from borel_lib.results import result_path

        torch.set_num_threads(int(os.environ.get("SLURM_CPUS_PER_TASK", "1")))
        collect_once(cell, profile)
        run_borel(cell_spec(cell, profile), progress=False)
        return str(result_path(result_name(cell, profile), profile))


def collect_once(cell: dict[str, Any], profile: str) -> None:
    """Collect (or find cached) the dataset ``cell`` trains on, and its policy-replay dataset for a
    ``policy_replay`` cell, while holding a lock file, so that concurrent cells sharing a dataset
    collect it once instead of racing on its files."""
    from borel_lib.collect import CollectConfig, dataset_name, run_collection
    from borel_lib.io import file_lock
    from borel_lib.paths import datasets_dir
    from borel_lib.policy_replay import run_policy_replay

    spec = cell_spec(cell, profile)
    overrides = spec.collect_overrides
    name = dataset_name(CollectConfig.for_domain(cell["domain"], profile, **overrides))
    with file_lock(datasets_dir(profile) / f".{name}.lock"):
        run_collection(cell["domain"], profile, progress=False, **overrides)
        if spec.belief == "vae" and spec.relabelling == "policy_replay":
            run_policy_replay(cell["domain"], profile, progress=False, **overrides)


def _done(cell: dict[str, Any], profile: str) -> bool:
    from borel_lib.results import result_path

    return result_path(result_name(cell, profile), profile).is_file()


# --------------------------------------------------------------------------------- executors
def make_executor(kind: str, folder: str | os.PathLike[str], *, max_parallel: int = 2,
                  partition: str | None = None, time_min: int = 24 * 60, cpus_per_task: int = 1,
                  gpus_per_node: int = 0, mem_gb: float | None = None, name: str = "borel"):
    """A submitit executor of ``kind`` (local, slurm or debug) writing scripts and logs to ``folder``."""
    import submitit

    check_choice(kind, "executor", EXECUTORS)
    check_positive(max_parallel, "max_parallel")
    executor = submitit.AutoExecutor(folder=str(folder), cluster=kind)
    params: dict[str, Any] = {"name": name, "timeout_min": time_min, "cpus_per_task": cpus_per_task}
    if kind == "slurm":
        params.update(slurm_array_parallelism=max_parallel, gpus_per_node=gpus_per_node)
        if partition:
            params["slurm_partition"] = partition
        if mem_gb:
            params["mem_gb"] = mem_gb
    executor.update_parameters(**params)
    return executor


@contextlib.contextmanager
def _job_environment() -> Iterator[None]:
    """While submitting: make job processes import this very ``borel_lib`` and write under the same
    repository root, with one math thread each unless told otherwise; restore ``os.environ`` after."""
    from borel_lib.paths import ROOT_ENV_VAR, repo_root

    saved = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    if package_parent not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = package_parent + (os.pathsep + path if path else "")
    os.environ.setdefault(ROOT_ENV_VAR, str(repo_root()))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _still_queued(folder: Path, pending: list[int]) -> set[int]:
    """Cells (indices) whose recorded Slurm job is still queued or running."""
    record = folder / "jobs.json"
    if not record.is_file():
        return set()
    import submitit

    jobs = json.loads(record.read_text())
    alive = set()
    for i in pending:
        job_id = jobs.get(str(i))
        if job_id is None:
            continue
        try:
            state = submitit.SlurmJob(folder=folder, job_id=job_id).state
        except Exception:  # noqa: BLE001 - no sacct here: treat as gone
            continue
        if state.split()[0] in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED"):
            alive.add(i)
    return alive


def launch(grid: str, profile: str | None = None, executor: str = "local", max_parallel: int = 2,
           wait: bool | None = None, poll_seconds: float = 2.0, seeds: Sequence[int] | None = None,
           **executor_options: Any) -> list[int]:
    """Submit the grid's unfinished cells (those of ``seeds`` only, if given); return the indices of the
    cells submitted.

    ``local`` keeps at most ``max_parallel`` jobs running and waits for all; ``debug`` runs them in this
    process; ``slurm`` submits one array and returns unless ``wait``. A failed job raises after the
    others have finished (its error and log path are in the message)."""
    from borel_lib.paths import build_dir

    profile = resolve_profile(profile)
    cells = grid_cells(grid)
    check_cells(cells, grid, profile)
    check_choice(executor, "executor", EXECUTORS)
    folder = build_dir() / "sweeps" / profile / grid
    folder.mkdir(parents=True, exist_ok=True)
    pending = [i for i in selected_cells(grid, seeds) if not _done(cells[i], profile)]
    if executor == "slurm":
        pending = [i for i in pending if i not in _still_queued(folder, pending)]
    if not pending:
        return []
    with _job_environment():
        errors = _run_jobs(cells, pending, profile, executor, folder, max_parallel, wait, poll_seconds,
                           **executor_options)
    if errors:
        raise RuntimeError(f"sweep {grid!r}: {len(errors)} cell(s) failed (rerun the command to retry):\n"
                           + "\n".join(errors))
    return pending


def _run_jobs(cells: list[dict[str, Any]], pending: list[int], profile: str, executor: str, folder: Path,
              max_parallel: int, wait: bool | None, poll_seconds: float, **executor_options: Any) -> list[str]:
    """Submit the ``pending`` cells (see :func:`launch`); return the failed cells' error lines."""
    from borel_lib.io import write_json

    ex = make_executor(executor, folder, max_parallel=max_parallel, name=f"borel_{folder.name}", **executor_options)
    fn = CellJob()
    errors: list[str] = []
    if executor == "slurm":
        jobs = ex.map_array(fn, [cells[i] for i in pending], [profile] * len(pending))
        record = folder / "jobs.json"
        known = json.loads(record.read_text()) if record.is_file() else {}
        write_json(record, {**known, **{str(i): job.job_id for i, job in zip(pending, jobs)}})
        for i, job in zip(pending, jobs):
            print(f"cell {i} {cells[i]}: slurm job {job.job_id}")
        if wait:
            errors = [_outcome(job, i, cells[i]) for i, job in zip(pending, jobs)]
    else:
        running: list[tuple[int, Any]] = []
        queue = list(pending)
        while queue or running:
            while queue and len(running) < max_parallel:
                i = queue.pop(0)
                running.append((i, ex.submit(fn, cells[i], profile)))
            if executor == "local":
                time.sleep(poll_seconds)
            finished = [(i, job) for i, job in running if job.done()]
            for i, job in finished:
                running.remove((i, job))
                errors.append(_outcome(job, i, cells[i]))
    return [e for e in errors if e]


def _outcome(job: Any, i: int, cell: dict[str, Any]) -> str:
    """'' if the job succeeded, else a one-paragraph error naming the cell and its log."""
    try:
        job.result()
        return ""
    except Exception as err:  # noqa: BLE001 - reported with the cell
        lines = str(err).strip().splitlines()
        return f"cell {i} {cell}: {lines[-1] if lines else type(err).__name__} (logs: {job.paths.stderr})"


# ------------------------------------------------------------------------------------- merge
def merge(grid: str, profile: str | None = None, command: str = "", seeds: Sequence[int] | None = None) -> Path:
    """Concatenate the cells' result tables (those of ``seeds`` only, if given) into ``sweep_<grid>.csv``
    (tidy, plus column ``cell``, the index in the whole grid); a clear error lists the cells whose results
    are missing."""
    from borel_lib.results import read_results, write_results

    profile = resolve_profile(profile)
    cells = grid_cells(grid)
    chosen = selected_cells(grid, seeds)
    flag = "" if seeds is None else " --seeds " + " ".join(map(str, seeds))
    missing = [f"{i} {cells[i]} ({result_name(cells[i], profile)}.csv)" for i in chosen if not _done(cells[i], profile)]
    if missing:
        raise FileNotFoundError(f"sweep {grid!r} ({profile}): {len(missing)} cell(s) have no results yet: "
                                + "; ".join(missing) + f". Run: python -m borel_lib.sweep {grid} --profile {profile}{flag}")
    frames = []
    for i in chosen:
        cell = cells[i]
        df = read_results(result_name(cell, profile), profile)
        if "init_state" in cell and not (df["variant"] == cell["init_state"]).all():
            raise ValueError(f"{result_name(cell, profile)}.csv: variant {sorted(df['variant'].unique())} but cell {i} asked "
                             f"for init_state={cell['init_state']!r}")
        frames.append(df.assign(cell=i))
    merged = pd.concat(frames, ignore_index=True)
    command = command or f"python -m borel_lib.sweep {grid} --profile {profile}{flag}"
    return write_results(merged, f"sweep_{grid}", config={"grid": grid, "cells": cells, "merged_cells": chosen},
                         profile=profile, command=command)


def run_sweep(grid: str, profile: str | None = None, executor: str = "local", max_parallel: int = 2,
              wait: bool | None = None, seeds: Sequence[int] | None = None, **executor_options: Any) -> Path | None:
    """Launch the unfinished cells (of ``seeds`` only, if given) and, once all are done, merge them;
    returns the merged CSV's path, or ``None`` while Slurm jobs are still out."""
    profile = resolve_profile(profile)
    wait = executor != "slurm" if wait is None else wait
    launch(grid, profile, executor, max_parallel, wait=wait, seeds=seeds, **executor_options)
    cells = grid_cells(grid)
    if not all(_done(cells[i], profile) for i in selected_cells(grid, seeds)):
        print(f"sweep {grid!r}: jobs submitted; run the same command again when they have finished to merge")
        return None
    return merge(grid, profile, seeds=seeds)


def build_parser():
    """The ``python -m borel_lib.sweep`` command line (see :mod:`borel_lib.cli`)."""
    from borel_lib import cli

    parser = cli.make_command_parser(
        "python -m borel_lib.sweep",
        "Run a named grid of BOReL runs on a submitit executor and merge their results (resumable: rerun to "
        "continue).",
        outputs="  merged table: data/results/<profile>/sweeps/sweep_<grid>.csv and .config.json (one borel_<run>.csv per "
                "cell beside it)\n"
                "  job scripts and logs: build/sweeps/<profile>/<grid>/\n"
                "  (profile smoke: results under build/smoke/)",
        subject="grid", choices=GRIDS, subject_help="the grid to run")
    parser.add_argument("--executor", default="local", choices=EXECUTORS,
                        help="local: subprocesses here; slurm: a job array; debug: in this process")
    parser.add_argument("--max-parallel", type=cli.positive_int, default=2,
                        help="jobs running at once (slurm: array parallelism)")
    parser.add_argument("--partition", default=None, help="slurm partition (default: the cluster's)")
    parser.add_argument("--time-min", type=cli.positive_int, default=24 * 60,
                        help="time limit per job in minutes (requeued after)")
    parser.add_argument("--cpus-per-task", type=cli.positive_int, default=1, help="CPUs per job")
    parser.add_argument("--gpus-per-node", type=cli.non_negative_int, default=0, help="slurm only")
    parser.add_argument("--mem-gb", type=cli.non_negative_float, default=None,
                        help="slurm only (default: the cluster's)")
    parser.add_argument("--wait", action="store_true", help="slurm: wait for the jobs and merge")
    parser.add_argument("--list", action="store_true", help="print the grid's cells and whether each is done")
    parser.add_argument("--seeds", type=cli.non_negative_int, nargs="+", default=None,
                        help="run and merge only the cells of these seeds (default: all of the grid's)")
    return parser


def _run_cli(args) -> int:
    profile = resolve_profile(args.profile)
    chosen = selected_cells(args.grid, args.seeds)  # an unknown seed stops here, before any work
    if args.list:
        cells = grid_cells(args.grid)
        for i in chosen:
            print(f"{i:3d} {'done' if _done(cells[i], profile) else 'todo'} {result_name(cells[i], profile)} {cells[i]}")
        return 0
    options = {"partition": args.partition, "time_min": args.time_min, "cpus_per_task": args.cpus_per_task,
               "gpus_per_node": args.gpus_per_node, "mem_gb": args.mem_gb}
    path = run_sweep(args.grid, profile, args.executor, args.max_parallel, wait=args.wait or None, seeds=args.seeds,
                     **options)
    if path is not None:
        print(f"{path}: {len(pd.read_csv(path))} rows")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.sweep``; returns the exit code (2 on a user error)."""
    from borel_lib import cli

    return cli.main(_run_cli, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
