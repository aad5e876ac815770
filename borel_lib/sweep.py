"""Sweeps: named grids of :func:`borel_lib.pipeline.run_borel` runs (or of the baselines' runs) on a submitit
executor (paper §6, Table 1 and Figure 3 need many seeds and variants; the baselines' tuning needs a few settings).

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
- ``smoke``: two tiny Semi-circle cells (with/without relabelling), for tests and CI;
- ``tune_smoke``: two tiny Semi-circle cells that differ in one offline-RL setting (γ), the pattern of a
  tuning grid, for tests and CI;
- ``tune_pearl_semicircle``, ``tune_mbml_semicircle``: PEARL and MBML (*baseline cells*: ``{"baseline": "pearl"
  or "mbml", "domain", "seed", "settings"[, "init_state"]}``, run by :func:`borel_lib.baselines.pearl.run_pearl` /
  :func:`borel_lib.baselines.mbml.run_mbml` with ``settings`` as their ``--pearl`` / ``--mbml`` settings, which name
  the run) at their quick settings and with one of width, learning rate and update budget changed
  (:data:`PEARL_TUNING`, :data:`MBML_TUNING`), on the validation tasks: the baselines' tuning with a budget like
  BOReL's (issue "fair comparisons"); ``tune_pearl_smoke``, ``tune_mbml_smoke``: two tiny such cells each, for
  tests. A grid runs the cells of one method, and a baseline grid's name holds ``pearl_`` or ``mbml_`` (its
  merged table is keyed by the baseline's iterations).

**Which evaluation tasks** (:mod:`borel_lib.tasks`). The paper-figure grids make reported results, so their
cells are scored on the ``test`` tasks; grids named ``tune_*`` choose settings, so theirs default to the
``validation`` tasks (an independent draw from the same prior), whose runs, merged table and job folder all
carry ``_validation`` in their names and never touch the test runs. ``--eval-split`` makes another choice
explicit (and enters the sweep's command); Gridworld has no validation tasks (its 21 goals are all training
tasks) and a Gridworld cell on ``validation`` is refused before anything runs.

Every cell runs as one submitit job (:class:`CellJob`, :mod:`borel_lib.sweep_jobs`). Cells that train on the
same dataset collect it once: the first takes a lock file of its own beside the dataset and the others wait
for it (:func:`collect_once`); cells sharing a belief VAE
(e.g. one variant's BOReL and BOReL + CQL cells of a seed) train it once the same way
(:func:`borel_lib.pipeline.run_borel`). Jobs are resumable: ``run_borel`` checkpoints its
VAE and agent, and :class:`CellJob` is ``submitit.helpers.Checkpointable``, so a Slurm job that hits its
time limit or is pre-empted is requeued and continues from the last checkpoint. A cell whose result CSV
(``data/results/<profile>/borel/<domain>/<configuration>/borel_<tag>.csv``) exists and validates
(:func:`borel_lib.results.read_table_file`) is not run again, so relaunching the same command after a kill
(or after some Slurm jobs failed) runs only what is missing or truncated. When every cell is done
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
resubmitted). Job scripts and logs go to ``build/sweeps/<profile>/<grid>/``. One sweep of a grid runs at a
time (a second is refused with a one-line error naming the first). Stopping a sweep (Ctrl-C, ``kill``, even
``kill -9``) stops its local jobs; a failed cell is reported on one line with its cause and the command that
reruns the sweep.

A ``table1`` cell names its collection's ``init_state`` (:attr:`borel_lib.pipeline.RunSpec.init_state`;
cells sharing a variant share one dataset) and runs with the authors' Ant offline settings
(:data:`borel_lib.offline_rl.RL_DOMAIN`). Cells are checked before anything is submitted.
"""

from __future__ import annotations

import dataclasses
import itertools
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from borel_lib.config import ConfigError, check_choice, resolve_profile
from borel_lib.sweep_jobs import (  # noqa: F401 - CellJob, collect_once, make_executor: this module's API too
    EXECUTORS,
    CellJob,
    collect_once,
    job_environment,
    make_executor,
    run_jobs,
    still_queued,
)
from borel_lib.tasks import DEFAULT_SPLIT, SPLITS, check_split, split_suffix

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
    # a tuning grid (tune_*: scored on the validation tasks by default): one setting, two values
    "tune_smoke": lambda: [{"domain": "semicircle", "seed": 0, "rl": {"gamma": gamma}} for gamma in (0.9, 0.95)],
    # PEARL's tuning on the Semi-circle (issue "fair comparisons"): its quick settings and one change at a time
    "tune_pearl_semicircle": lambda: [{"baseline": "pearl", "domain": "semicircle", "seed": 0, "settings": s}
                                      for s in PEARL_TUNING],
    "tune_pearl_smoke": lambda: [{"baseline": "pearl", "domain": "semicircle", "seed": 0, "settings": s}
                                 for s in ({}, {"lr": 1e-3})],
    "tune_mbml_semicircle": lambda: [{"baseline": "mbml", "domain": "semicircle", "seed": 0, "settings": s}
                                     for s in MBML_TUNING],
    "tune_mbml_smoke": lambda: [{"baseline": "mbml", "domain": "semicircle", "seed": 0, "settings": s}
                                for s in ({}, {"lr": 1e-3})],
}
"""Named grids: a function returning the cells (keyword dicts of :class:`borel_lib.pipeline.RunSpec` fields
without ``profile`` and ``eval_split``; ``rl`` as a dict of offline-RL overrides; or baseline cells,
:data:`BASELINE_KEYS`). Grids named ``tune_*``
(:data:`TUNING_PREFIX`) are for choosing settings (:func:`default_split`)."""

PEARL_TUNING: tuple[dict[str, Any], ...] = ({}, {"hidden": (300, 300, 300)}, {"lr": 1e-3}, {"train_steps_per_iter": 1000})
"""The cells of ``tune_pearl_semicircle`` (``--pearl`` settings on top of the profile's): the quick settings, the
official width of π, Q and V (3 × 300), a higher learning rate, and five times the updates: the width, learning
rate and update budget issue "fair comparisons" asks a baseline to be tuned on, one at a time (BOReL's quick
settings had about as many validation runs)."""

MBML_TUNING: tuple[dict[str, Any], ...] = (
    {}, {k: (128, 128) for k in ("bcq_actor_hidden", "bcq_critic_hidden", "bcq_vae_hidden")}, {"lr": 1e-3},
    {"bcq_iterations": 30_000, "distill_steps": 30_000})
"""The cells of ``tune_mbml_semicircle`` (``--mbml`` settings): the quick settings, the BCQ teachers twice as wide
(the official 400-300 / 750-750 would be about 40× the quick CPU cost with 40 tasks), a higher learning rate, and
three times the BCQ and distillation steps."""

GRID_PROFILES: dict[str, tuple[str, ...]] = {"tune_pearl_semicircle": ("smoke", "quick"),
                                             "tune_mbml_semicircle": ("smoke", "quick")}
"""Grids that only make sense on some profiles (the baselines' tuning grids change the quick settings)."""

BASELINES = ("pearl", "mbml")
"""Baselines a cell can run instead of BOReL (key ``baseline``): :func:`borel_lib.baselines.pearl.run_pearl`,
:func:`borel_lib.baselines.mbml.run_mbml`."""

BASELINE_KEYS = {"pearl": frozenset({"baseline", "domain", "seed", "eval_split", "settings"}),
                 "mbml": frozenset({"baseline", "domain", "seed", "eval_split", "settings", "init_state"})}
"""The keys of a baseline cell (``settings``: a dict of the baseline's ``--pearl`` / ``--mbml`` settings, which name
the run; ``init_state``: MBML's dataset variant)."""


def _baseline_module(cell: dict[str, Any]):
    from borel_lib.baselines import mbml, pearl

    check_choice(cell["baseline"], "cell baseline", BASELINES)
    return {"pearl": pearl, "mbml": mbml}[cell["baseline"]]

TUNING_PREFIX = "tune_"
"""Grids whose name starts so choose settings: their cells default to the validation tasks."""


def default_split(grid: str) -> str:
    """The evaluation split of ``grid``'s cells unless ``--eval-split`` says otherwise: ``validation`` for a tuning
    grid (``tune_*``), ``test`` for the grids that make the reported figures and tables."""
    check_choice(grid, "grid", tuple(GRIDS))
    return "validation" if grid.startswith(TUNING_PREFIX) else DEFAULT_SPLIT


def grid_split(grid: str, eval_split: str | None = None) -> str:
    """``eval_split`` (checked) if given, else :func:`default_split`."""
    return default_split(grid) if eval_split is None else check_split(eval_split)


def grid_cells(grid: str, eval_split: str | None = None) -> list[dict[str, Any]]:
    """The cells of a named grid (clear error listing the grids for an unknown name), on ``eval_split``
    (default: :func:`default_split`); a cell names its split only when it is not ``test``, so the cells of the
    reported grids are what they always were."""
    split = grid_split(grid, eval_split)
    cells = GRIDS[grid]()
    return cells if split == DEFAULT_SPLIT else [{**cell, "eval_split": split} for cell in cells]


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
    """The :class:`borel_lib.pipeline.RunSpec` of a BOReL ``cell`` (validated)."""
    from borel_lib.pipeline import RunSpec

    if "baseline" in cell:
        raise ConfigError(f"cell {cell}: a {cell['baseline']} cell has no BOReL RunSpec")
    rl, vae = cell.get("rl", {}), cell.get("vae", {})
    return RunSpec(profile=profile, **{**cell, "rl": tuple(dict(rl).items()), "vae": tuple(dict(vae).items())})


def baseline_settings(cell: dict[str, Any], profile: str = "quick") -> tuple[tuple, tuple]:
    """``(given, named)`` settings of a baseline cell (the baseline's ``named_settings``: checked, those equal to the
    profile's dropped; ``named`` those in the run's name)."""
    return _baseline_module(cell).named_settings(cell["domain"], profile, dict(cell.get("settings", {})).items())


def result_name(cell: dict[str, Any], profile: str = "quick") -> str:
    """The result-table stem the cell's run writes: ``borel_<tag>`` (``run_borel``), or the baseline's run name
    (``pearl_<domain>[_<settings>][_validation]_seed<S>``, ``mbml_<domain>_<variant>[...]``: their ``run_tag``)."""
    if "baseline" in cell:
        _, named = baseline_settings(cell, profile)
        split = cell.get("eval_split", DEFAULT_SPLIT)
        if cell["baseline"] == "mbml":
            return _baseline_module(cell).run_tag(cell["domain"], cell["seed"], cell.get("init_state"), profile, split,
                                                  settings=named)
        return _baseline_module(cell).run_tag(cell["domain"], cell["seed"], eval_split=split, settings=named)
    return "borel_" + cell_spec(cell, profile).tag


def check_cells(cells: list[dict[str, Any]], grid: str = "cells", profile: str = "quick") -> None:
    """Raise :class:`ConfigError` if a cell has a key a run does not take, or two cells would write the
    same result file (they would overwrite each other), or the grid mixes methods, or its name does not say which
    baseline its cells run (``pearl_``/``mbml_``; BOReL grids hold neither), or the profile is not one of
    :data:`GRID_PROFILES`'."""
    kinds = {cell.get("baseline", "borel") for cell in cells}
    named = {b for b in BASELINES if f"{b}_" in grid}
    if len(kinds) > 1 or (grid != "cells" and kinds and named != kinds - {"borel"}):
        raise ConfigError(f"grid {grid!r}: a grid runs the cells of one method (BOReL, PEARL or MBML), and a grid's name "
                          f"holds 'pearl_' or 'mbml_' exactly when its cells are that baseline's (its merged table is "
                          f"then read by iteration); methods here: {', '.join(sorted(kinds))}")
    if grid in GRID_PROFILES and profile not in GRID_PROFILES[grid]:
        raise ConfigError(f"grid {grid!r} is for the profiles {', '.join(GRID_PROFILES[grid])} (its settings are "
                          f"changes from the quick ones), not {profile!r}")
    for i, cell in enumerate(cells):
        if "baseline" in cell:
            module = _baseline_module(cell)
            allowed, what = BASELINE_KEYS[cell["baseline"]], f"a {cell['baseline']} cell"
        else:
            allowed, what = _allowed(), "a BOReL run"
        unknown = sorted(set(cell) - allowed)
        if unknown:
            raise ConfigError(f"grid {grid!r} cell {i} {cell}: {what} does not take {unknown}; it takes: "
                              f"{', '.join(sorted(allowed))}")
        if "baseline" in cell:
            check_choice(cell.get("domain"), "cell domain", module.DOMAINS)
            baseline_settings(cell, profile)  # unknown or bad settings: one ConfigError
            if "init_state" in cell:
                from borel_lib.pipeline import resolve_init_state

                resolve_init_state(cell["domain"], profile, cell["init_state"])
    names: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = result_name(cell, profile)
        if name in names:
            raise ConfigError(f"grid {grid!r}: cells {names[name]} and {i} would both write {name}.csv "
                              f"(the run's result name does not distinguish {cells[names[name]]} from {cell})")
        names[name] = i


def _status(cell: dict[str, Any], profile: str) -> str:
    """``done`` (the cell's result table is there and valid: :func:`borel_lib.results.read_table_file`),
    ``todo`` (no table) or ``redo`` (a table that does not validate, e.g. truncated: the cell runs again)."""
    from borel_lib.results import read_table_file, result_path

    path = result_path(result_name(cell, profile), profile)
    if not path.is_file():
        return "todo"
    try:
        read_table_file(path)
    except ValueError:
        return "redo"
    return "done"


def _done(cell: dict[str, Any], profile: str) -> bool:
    return _status(cell, profile) == "done"


def launch(grid: str, profile: str | None = None, executor: str = "local", max_parallel: int = 2,
           wait: bool | None = None, poll_seconds: float = 2.0, seeds: Sequence[int] | None = None,
           eval_split: str | None = None, **executor_options: Any) -> list[int]:
    """Submit the grid's unfinished cells (those of ``seeds`` only, if given; on ``eval_split``, default the
    grid's, :func:`grid_cells`); return the indices of the cells submitted.

    A cell is done when its result table validates (:func:`borel_lib.results.read_table_file`): a missing or
    truncated table runs again. ``local`` keeps at most ``max_parallel`` jobs running and waits for all;
    ``debug`` runs them in this process; ``slurm`` submits one array and returns unless ``wait``. Failed cells
    raise a one-line :class:`borel_lib.cli.CommandError` after the others have finished, naming each cell's
    cause and the command that reruns the sweep (:func:`borel_lib.sweep_jobs.run_jobs`)."""
    from borel_lib.cli import CommandError

    profile = resolve_profile(profile)
    cells = grid_cells(grid, eval_split)
    check_cells(cells, grid, profile)
    check_choice(executor, "executor", EXECUTORS)
    check_executor(executor, grid, profile, seeds, eval_split)
    folder = sweep_folder(grid, profile, eval_split)
    pending = [i for i in selected_cells(grid, seeds) if not _done(cells[i], profile)]
    if executor == "slurm":
        pending = [i for i in pending if i not in still_queued(folder, pending)]
    if not pending:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    command = sweep_command(grid, profile, seeds, executor, eval_split)
    with job_environment(watch=executor == "local"):
        errors = run_jobs(cells, pending, profile, executor, folder, max_parallel, wait, poll_seconds,
                          command=command, **executor_options)
    if errors:
        causes: dict[str, list[str]] = {}  # cells failing for the same cause are named together
        for cell, cause, _ in errors:
            causes.setdefault(cause, []).append(cell)
        fix = ("fix the cause, then rerun" if all(user for *_, user in errors)
               else "rerun to retry once the cause is fixed")
        kept = " the other cells' results are kept;" if len(errors) < len(pending) else ""
        raise CommandError(f"sweep {grid!r} ({profile}): {len(errors)} of {len(pending)} cell(s) failed: "
                           + " | ".join(f"{', '.join(names)}: {cause}" for cause, names in causes.items())
                           + f".{kept} {fix}: {command}")
    return pending


def sweep_name(grid: str, eval_split: str | None = None) -> str:
    """The grid's name with its split when that is not ``test`` (``tune_smoke_validation``): the stem of its
    merged table (``sweep_<name>.csv``) and of its job folder, so a validation sweep never meets a test one."""
    return grid + split_suffix(grid_split(grid, eval_split))


def sweep_folder(grid: str, profile: str, eval_split: str | None = None) -> Path:
    """Where a sweep's job scripts, logs and lock go: ``build/sweeps/<profile>/<grid>[_validation]/``."""
    from borel_lib.paths import build_dir

    return build_dir() / "sweeps" / profile / sweep_name(grid, eval_split)


def sweep_command(grid: str, profile: str, seeds: Sequence[int] | None = None, executor: str = "local",
                  eval_split: str | None = None) -> str:
    """The ``python -m borel_lib.sweep`` command that runs (or resumes) this sweep (``--eval-split`` only when it
    is not the grid's default, :func:`default_split`)."""
    split = grid_split(grid, eval_split)
    return (f"python -m borel_lib.sweep {grid} --profile {profile}"
            + ("" if seeds is None else " --seeds " + " ".join(map(str, seeds)))
            + ("" if split == default_split(grid) else f" --eval-split {split}")
            + ("" if executor == "local" else f" --executor {executor}"))


def check_executor(executor: str, grid: str, profile: str, seeds: Sequence[int] | None = None,
                   eval_split: str | None = None) -> None:
    """A one-line :class:`ConfigError` if ``executor`` cannot run here (``slurm`` without Slurm's commands),
    before anything is written."""
    import shutil

    if executor == "slurm":
        missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
        if missing:
            raise ConfigError(f"--executor slurm: no Slurm on this machine ({' and '.join(missing)} not found on "
                              f"PATH); run the command on a Slurm login node, or run here with: "
                              f"{sweep_command(grid, profile, seeds, eval_split=eval_split)} --executor local")


# ------------------------------------------------------------------------------------- merge
def merge(grid: str, profile: str | None = None, command: str = "", seeds: Sequence[int] | None = None,
          eval_split: str | None = None) -> Path:
    """Concatenate the cells' result tables (those of ``seeds`` only, if given) into ``sweep_<name>.csv``
    (:func:`sweep_name`: ``_validation`` when on that split, which its config then names too; tidy, plus column
    ``cell``, the index in the whole grid); a clear error lists the cells whose results are missing."""
    from borel_lib.results import read_results, write_results

    profile = resolve_profile(profile)
    cells = grid_cells(grid, eval_split)
    chosen = selected_cells(grid, seeds)
    rerun = sweep_command(grid, profile, seeds, eval_split=eval_split)
    status = {i: _status(cells[i], profile) for i in chosen}
    missing = [f"{i} {cells[i]} ({result_name(cells[i], profile)}.csv"
               + (", which does not validate)" if status[i] == "redo" else ")") for i in chosen if status[i] != "done"]
    if missing:
        raise FileNotFoundError(f"sweep {grid!r} ({profile}): {len(missing)} cell(s) have no results yet: "
                                + "; ".join(missing) + f". Run: {rerun}")
    frames = []
    for i in chosen:
        cell = cells[i]
        df = read_results(result_name(cell, profile), profile)
        if "init_state" in cell and "baseline" not in cell and not (df["variant"] == cell["init_state"]).all():
            raise ValueError(f"{result_name(cell, profile)}.csv: variant {sorted(df['variant'].unique())} but cell {i} asked "
                             f"for init_state={cell['init_state']!r}")
        frames.append(df.assign(cell=i))
    merged = pd.concat(frames, ignore_index=True)
    split = grid_split(grid, eval_split)
    config = {"grid": grid, "cells": cells, "merged_cells": chosen,
              **({} if split == DEFAULT_SPLIT else {"eval_split": split})}  # test sweeps' configs: as before
    return write_results(merged, f"sweep_{sweep_name(grid, eval_split)}", config=config, profile=profile,
                         command=command or rerun)


def command_on_test_tasks(cell: dict[str, Any], profile: str) -> str:
    """The command that runs ``cell``'s setting on the test tasks (what a tuning grid's choice is reported by)."""
    cell = {k: v for k, v in cell.items() if k != "eval_split"}
    if "baseline" not in cell:
        return cell_spec(cell, profile).command
    from borel_lib.baselines.common import baseline_command, setting_flags

    given, _ = baseline_settings(cell, profile)
    flags = (f" --init-state {cell['init_state']}" if cell.get("init_state") else "") + setting_flags(cell["baseline"], given)
    return baseline_command(cell["baseline"], cell["domain"], profile, cell["seed"], {}, flags)


def rank_settings(grid: str, profile: str | None = None, eval_split: str | None = None) -> pd.DataFrame:
    """A grid's settings ranked by the primary metric on its tasks (a ``tune_*`` grid's: the validation tasks), the
    rule of docs/tuning.md: one row per setting (the cells that differ only by seed), best first, with ``setting``
    (the cell without its seed), ``seeds``, ``metric`` (mean over seeds of the paper's metric over the last 10 % of
    evaluations, :func:`borel_lib.results.evaluation_summary`, the number every table reports), ``best`` and
    ``success`` (means over seeds), ``run`` (seed 0's result name, else the first seed's) and ``rank``; the chosen
    setting is rank 1 and runs on the test tasks by ``test_command`` (:func:`command_on_test_tasks`). Every cell must be done (a clear error
    names the ones that are not and the command that runs them)."""
    import json

    from borel_lib.envs import make_env
    from borel_lib.results import evaluation_summary, read_results

    profile = resolve_profile(profile)
    cells = grid_cells(grid, eval_split)
    todo = [f"{i} {result_name(c, profile)}" for i, c in enumerate(cells) if _status(c, profile) != "done"]
    if todo:
        raise FileNotFoundError(f"sweep {grid!r} ({profile}): {len(todo)} cell(s) not done yet ({'; '.join(todo)}); "
                                f"run: {sweep_command(grid, profile, eval_split=eval_split)}")
    rows = []
    for cell in cells:
        df = read_results(result_name(cell, profile), profile)
        step = "iteration" if "baseline" in cell else "updates"
        summary = evaluation_summary(df, step, make_env(cell["domain"]).eval_episodes)
        setting = {k: v for k, v in cell.items() if k != "seed"}
        rows.append({"setting": json.dumps(setting, sort_keys=True, default=list), "seed": cell["seed"],
                     "run": result_name(cell, profile), "test_command": command_on_test_tasks(cell, profile),
                     **{k: summary[k] for k in ("metric", "best", "success")}})
    runs = pd.DataFrame(rows)
    ranked = (runs.sort_values("seed").groupby("setting", sort=False)
              .agg(seeds=("seed", "size"), metric=("metric", "mean"), best=("best", "mean"),
                   success=("success", "mean"), run=("run", "first"), test_command=("test_command", "first"))
              .reset_index().sort_values("metric", ascending=False, kind="stable").reset_index(drop=True))
    return ranked.assign(rank=range(1, len(ranked) + 1))


def tuned_config(grid: str, profile: str | None = None) -> str | None:
    """The run configuration (result name without ``_seed<S>``) of a finished tuning grid's chosen setting
    (:func:`rank_settings`' rank 1) on the test tasks, e.g. ``pearl_semicircle_h300x300x300``: what the figures
    and orderings compare as the tuned baseline; ``None`` while a cell is not done or for a profile without the grid."""
    import re

    try:
        chosen = rank_settings(grid, profile).run.iloc[0]
    except (FileNotFoundError, ConfigError):
        return None
    profile = resolve_profile(profile)
    cell = next(c for c in grid_cells(grid) if result_name(c, profile) == chosen)
    test_cell = {k: v for k, v in cell.items() if k != "eval_split"}
    return re.sub(r"_seed\d+$", "", result_name(test_cell, profile))


def run_sweep(grid: str, profile: str | None = None, executor: str = "local", max_parallel: int = 2,
              wait: bool | None = None, seeds: Sequence[int] | None = None, eval_split: str | None = None,
              **executor_options: Any) -> Path | None:
    """Launch the unfinished cells (of ``seeds`` only, if given; on ``eval_split``, default the grid's) and, once
    all are done, merge them;
    returns the merged CSV's path, or ``None`` while Slurm jobs are still out. One sweep of a grid and profile
    runs at a time: a second gets a one-line :class:`ConfigError` naming the first (its lock file
    ``build/sweeps/<profile>/<grid>[_validation]/.sweep.lock``)."""
    from borel_lib.io import describe_holder, file_lock

    profile = resolve_profile(profile)
    wait = executor != "slurm" if wait is None else wait
    check_choice(executor, "executor", EXECUTORS)
    check_executor(executor, grid, profile, seeds, eval_split)

    def held(holder: dict[str, Any] | None) -> ConfigError:
        stop = f"kill {holder['pid']}" if holder and holder.get("host") == socket.gethostname() else "stop it"
        return ConfigError(f"sweep {grid!r} ({profile}) is already running: {describe_holder(holder)}; wait for it "
                           f"to finish, or {stop} (its jobs stop with it) and rerun: "
                           f"{sweep_command(grid, profile, seeds, executor, eval_split)}")

    with file_lock(sweep_folder(grid, profile, eval_split) / ".sweep.lock", purpose=f"sweep {grid} --profile {profile}",
                   wait=False, on_held=held):
        launch(grid, profile, executor, max_parallel, wait=wait, seeds=seeds, eval_split=eval_split, **executor_options)
        cells = grid_cells(grid, eval_split)
        if not all(_done(cells[i], profile) for i in selected_cells(grid, seeds)):
            print(f"sweep {grid!r}: jobs submitted; run the same command again when they have finished to merge")
            return None
        return merge(grid, profile, seeds=seeds, eval_split=eval_split)


def build_parser():
    """The ``python -m borel_lib.sweep`` command line (see :mod:`borel_lib.cli`)."""
    from borel_lib import cli

    parser = cli.make_command_parser(
        "python -m borel_lib.sweep",
        "Run a named grid of BOReL (or PEARL, or MBML) runs on a submitit executor and merge their results (resumable: rerun "
        "to continue).",
        outputs="  merged table: data/results/<profile>/sweeps/[<domain>/]sweep_<grid>.csv and .config.json (each cell's "
                "own table where its run writes it)\n"
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
    parser.add_argument("--choose", action="store_true",
                        help="print the grid's settings ranked by the paper's metric on its tasks (tune_* grids: "
                             "validation), the chosen one first with the command that runs it on the test tasks")
    parser.add_argument("--seeds", type=cli.non_negative_int, nargs="+", default=None,
                        help="run and merge only the cells of these seeds (default: all of the grid's)")
    parser.add_argument("--eval-split", default=None, choices=SPLITS,
                        help="evaluation tasks of every cell (default: validation for tune_* grids, which choose "
                             "settings; test for the paper's grids, which are reported); validation runs and merged "
                             "tables carry _validation in their names")
    return parser


def _run_cli(args) -> int:
    profile = resolve_profile(args.profile)
    chosen = selected_cells(args.grid, args.seeds)  # an unknown seed stops here, before any work
    if args.list:
        cells = grid_cells(args.grid, args.eval_split)
        for i in chosen:
            print(f"{i:3d} {_status(cells[i], profile)} {result_name(cells[i], profile)} {cells[i]}")
        return 0
    if args.choose:
        ranked = rank_settings(args.grid, profile, args.eval_split)
        for row in ranked.itertuples():
            print(f"{row.rank:2d}  metric {row.metric:8.2f}  best {row.best:8.2f}  success {row.success:.2f}  "
                  f"seeds {row.seeds}  {row.run}")
        print(f"chosen: {ranked.run.iloc[0]}; on the test tasks: {ranked.test_command.iloc[0]}")
        return 0
    options = {"partition": args.partition, "time_min": args.time_min, "cpus_per_task": args.cpus_per_task,
               "gpus_per_node": args.gpus_per_node, "mem_gb": args.mem_gb}
    path = run_sweep(args.grid, profile, args.executor, args.max_parallel, wait=args.wait or None, seeds=args.seeds,
                     eval_split=args.eval_split, **options)
    if path is not None:
        from borel_lib.results import read_table_file

        print(f"{path}: {len(read_table_file(path))} rows")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.sweep``; returns the exit code (2 on a user error)."""
    from borel_lib import cli

    return cli.main(_run_cli, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
