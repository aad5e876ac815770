"""The jobs of a sweep (:mod:`borel_lib.sweep`): one submitit job per cell, how they run, stop and fail.

- :class:`CellJob` runs one cell (:func:`collect_once`, then :func:`borel_lib.pipeline.run_borel`); a failure
  becomes a :class:`CellError` whose one line names the cause, which :func:`run_jobs` reports per cell (a user
  error's message names its fix; any other error points to the job's log, which keeps the traceback).
- :func:`collect_once`: cells sharing a dataset collect it once, under a lock file of its own
  (``.<dataset>.collect-once.lock``, never the dataset writer's ``.<dataset>.lock``).
- Stopping: a signal (SIGINT, SIGTERM, SIGHUP) to the sweep stops its local jobs and ends it with a one-line
  message naming the command that resumes it; a sweep killed with SIGKILL, which no handler sees, is noticed by
  its local jobs themselves (:func:`_watch_sweep`), so no job outlives its sweep. Slurm jobs keep running: the
  message names the ``scancel`` command.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from submitit.helpers import Checkpointable

from borel_lib.config import check_choice, check_positive

EXECUTORS: tuple[str, ...] = ("local", "slurm", "debug")
"""submitit executors: subprocesses here, a Slurm cluster, or in-process (debugging)."""


class CellError(Exception):
    """A cell's run failed: ``"<module>.<Type>: <message on one line>"`` of the error it raised, the line
    :func:`run_jobs` reports (the job's log keeps the whole traceback)."""


SWEEP_PID_VAR = "BOREL_SWEEP_PID"
"""Set in the environment of a ``local`` sweep's jobs: the sweep's pid, watched by :func:`_watch_sweep`."""


class CellJob(Checkpointable):
    """One cell as a submitit job: ``run_borel(**cell, profile=profile)`` (a ``baseline`` cell: ``run_pearl`` or ``run_mbml``);
    returns the result CSV path.

    ``Checkpointable``: on a Slurm timeout or pre-emption submitit requeues the same call, and
    ``run_borel`` resumes from its own checkpoints. A failure is re-raised as a :class:`CellError` naming
    its cause on one line. A job of a ``local`` sweep stops when its sweep is gone (:func:`_watch_sweep`).
    """

    def __call__(self, cell: dict[str, Any], profile: str) -> str:
        _watch_sweep()  # first: the imports below take seconds
        import torch

        from borel_lib.pipeline import run_borel
        from borel_lib.results import result_path
        from borel_lib.sweep import cell_spec, result_name

        torch.set_num_threads(int(os.environ.get("SLURM_CPUS_PER_TASK", "1")))
        try:
            if "baseline" in cell:  # PEARL learns online; an MBML cell collects its dataset once, as BOReL cells do
                from borel_lib.baselines.mbml import run_mbml
                from borel_lib.baselines.pearl import run_pearl
                from borel_lib.sweep import baseline_settings
                from borel_lib.tasks import DEFAULT_SPLIT

                given, _ = baseline_settings(cell, profile)
                split = cell.get("eval_split", DEFAULT_SPLIT)
                if cell["baseline"] == "mbml":
                    collect_once(cell, profile)
                    run_mbml(cell["domain"], profile, cell["seed"], progress=False, init_state=cell.get("init_state"),
                             eval_split=split, settings=given)
                else:
                    run_pearl(cell["domain"], profile, cell["seed"], progress=False, eval_split=split, settings=given)
            else:
                collect_once(cell, profile)
                run_borel(cell_spec(cell, profile), progress=False)
        except Exception as err:  # noqa: BLE001 - reported by the sweep with its cause
            kind = type(err)
            raise CellError(f"{kind.__module__}.{kind.__qualname__}: {' '.join(str(err).split())}") from err
        return str(result_path(result_name(cell, profile), profile))


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (``/proc/<pid>/stat`` field 22), or None if it is gone or unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started is None or _start_time(pid) == started  # not a new process that reuses the pid


def _watch_sweep(period: float = 1.0, grace: float = 30.0) -> None:
    """In a job of a ``local`` sweep (``$BOREL_SWEEP_PID``): a daemon thread that stops this job when the sweep
    is gone, even killed with SIGKILL, which no handler sees: a ``KeyboardInterrupt`` in the main thread (locks
    released, checkpoints kept), then exit after ``grace`` seconds. No job outlives its sweep."""
    import _thread
    import threading

    pid = int(os.environ.get(SWEEP_PID_VAR) or 0)
    if pid <= 0 or pid == os.getpid():  # the debug executor runs the job in the sweep's own process
        return
    started = _start_time(pid)

    def watch() -> None:
        while _alive(pid, started):
            time.sleep(period)
        print(f"the sweep that started this job (pid {pid}) is gone: stopping the job", file=sys.stderr, flush=True)
        _thread.interrupt_main()
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="watch-sweep", daemon=True).start()


def collect_once(cell: dict[str, Any], profile: str) -> None:
    """Collect (or find cached) the dataset ``cell`` trains on (BOReL's, or an MBML cell's), and its policy-replay
    dataset for a ``policy_replay`` cell, while holding the lock file ``.<dataset>.collect-once.lock``, so that concurrent
    cells sharing a dataset collect it once instead of racing on its files. That lock is of its own: the
    dataset writer's lock (:func:`borel_lib.datasets.dataset_lock`) is another file, and a cell that finds
    another process (e.g. a ``python -m borel_lib.collect`` by hand) writing the dataset waits for it."""
    from borel_lib.collect import CollectConfig, dataset_name, run_collection
    from borel_lib.datasets import lock_path
    from borel_lib.io import file_lock
    from borel_lib.paths import datasets_dir
    from borel_lib.policy_replay import run_policy_replay
    from borel_lib.sweep import cell_spec

    if "baseline" in cell:  # MBML's cells: the dataset of their init_state, no policy replay
        from borel_lib.pipeline import dataset_overrides

        spec, overrides = None, dataset_overrides(cell["domain"], profile, cell.get("init_state"))
    else:
        spec = cell_spec(cell, profile)
        overrides = spec.collect_overrides
    name = dataset_name(CollectConfig.for_domain(cell["domain"], profile, **overrides), profile)
    with file_lock(datasets_dir(profile) / f".{name}.collect-once.lock", purpose=f"sweep cell collecting {name}"):
        with file_lock(lock_path(datasets_dir(profile) / name), purpose=f"sweep cell waiting for {name}"):
            pass  # another writer of the dataset has finished (or there was none)
        run_collection(cell["domain"], profile, progress=False, **overrides)
        if spec is not None and spec.belief == "vae" and spec.relabelling == "policy_replay":
            run_policy_replay(cell["domain"], profile, progress=False, **overrides)


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
def job_environment(watch: bool = False) -> Iterator[None]:
    """While submitting: make job processes import this very ``borel_lib`` and write under the same
    repository root, with one math thread each unless told otherwise, and (``watch``: local jobs) stop when
    this sweep is gone (:data:`SWEEP_PID_VAR`, :func:`_watch_sweep`); restore ``os.environ`` after."""
    from borel_lib.paths import ROOT_ENV_VAR, repo_root

    saved = dict(os.environ)
    os.environ.pop(SWEEP_PID_VAR, None)
    if watch:  # never for Slurm: its jobs run on other machines, where this pid means nothing
        os.environ[SWEEP_PID_VAR] = str(os.getpid())
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


def still_queued(folder: Path, pending: list[int]) -> set[int]:
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


class _Stopped(BaseException):
    """SIGINT, SIGTERM or SIGHUP reached the sweep while its jobs ran (:func:`_stop_on_signals`)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Gate:
    """Holds back a stopping signal while a job is being submitted (:meth:`held`), so that every job started
    is in the list of jobs to stop; the signal is raised as soon as the submission is over."""

    def __init__(self) -> None:
        self.holding = False
        self.pending: int | None = None

    def stop(self, signum: int, frame: Any) -> None:
        if self.holding:
            self.pending = signum
        else:
            raise _Stopped(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending is not None:
            raise _Stopped(self.pending)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[_Gate]:
    """While the jobs run: SIGINT, SIGTERM and SIGHUP raise :class:`_Stopped` in this (main) thread (held back
    during a submission: :class:`_Gate`), so the sweep stops its jobs before it ends."""
    import signal
    import threading

    gate = _Gate()
    if threading.current_thread() is not threading.main_thread():
        yield gate
        return
    saved = {sig: signal.signal(sig, gate.stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield gate
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def run_jobs(cells: list[dict[str, Any]], pending: list[int], profile: str, executor: str, folder: Path,
             max_parallel: int, wait: bool | None, poll_seconds: float, command: str = "",
             **executor_options: Any) -> list[tuple[str, str, bool]]:
    """Submit the ``pending`` cells (see :func:`borel_lib.sweep.launch`); return the failed cells'
    ``(cell, cause, user_error)`` (:func:`_outcome`).

    A signal (SIGINT, SIGTERM, SIGHUP) stops the local jobs still running and ends the sweep with a
    :class:`borel_lib.cli.CommandError` naming the command that resumes it; Slurm jobs keep running and the
    message says how to cancel them."""
    import signal

    from borel_lib.cli import CommandError
    from borel_lib.io import write_json

    ex = make_executor(executor, folder, max_parallel=max_parallel, name=f"borel_{folder.name}", **executor_options)
    fn = CellJob()
    errors: list[tuple[str, str, bool] | None] = []
    running: list[tuple[int, Any]] = []
    queue = list(pending)
    try:
        with _stop_on_signals() as gate:
            if executor == "slurm":
                with gate.held():  # recorded before a signal can stop the sweep: a rerun does not submit them twice
                    jobs = ex.map_array(fn, [cells[i] for i in pending], [profile] * len(pending))
                    running = list(zip(pending, jobs))
                    record = folder / "jobs.json"
                    known = json.loads(record.read_text()) if record.is_file() else {}
                    write_json(record, {**known, **{str(i): job.job_id for i, job in zip(pending, jobs)}})
                queue = []
                for i, job in zip(pending, jobs):
                    print(f"cell {i} {cells[i]}: slurm job {job.job_id}")
                if wait:
                    errors = [_outcome(job, i, cells[i]) for i, job in zip(pending, jobs)]
                running = []
            while queue or running:
                while queue and len(running) < max_parallel:
                    i = queue.pop(0)
                    with gate.held():
                        running.append((i, ex.submit(fn, cells[i], profile)))
                if executor == "local":
                    time.sleep(poll_seconds)
                for i, job in list(running):
                    try:
                        finished, err = job.done(), None
                    except Exception as raised:  # noqa: BLE001 - debug: the job ran in done() and raised
                        finished, err = True, raised
                    if finished:
                        running.remove((i, job))
                        errors.append(_outcome(job, i, cells[i], err))
    except _Stopped as stopped:
        name = signal.Signals(stopped.signum).name
        if executor == "slurm":
            ids = " ".join(str(job.job_id) for _, job in running)
            raise CommandError(f"sweep stopped by {name}: its Slurm jobs keep running; cancel them with: scancel {ids}; "
                               f"or rerun when they have finished to merge: {command}", 128 + stopped.signum) from None
        _cancel([job for _, job in running])
        cells_stopped = ", ".join(str(i) for i, _ in running) or "none"
        raise CommandError(f"sweep stopped by {name}: its running cell(s) ({cells_stopped}) were stopped and "
                           f"{len(queue)} not started; their checkpoints are kept; resume with: {command}",
                           128 + stopped.signum) from None
    return [e for e in errors if e]


def _children(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid`` (from ``/proc``; empty where there is none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _cancel(jobs: list[Any], timeout: float = 20.0) -> None:
    """Stop local jobs and wait until they have ended: SIGINT to each job's task (a ``KeyboardInterrupt``
    there: its locks are released, its traceback goes to its own log), whose submitit controller then ends
    by itself; a controller that has not started its task yet is killed (it holds nothing; a task it starts
    regardless stops by itself when the sweep is gone, :func:`_watch_sweep`)."""
    import signal

    for job in jobs:
        process = getattr(job, "_process", None)
        if process is None:
            with contextlib.suppress(Exception):
                job.cancel()
            continue
        tasks = _children(process.pid)
        for task in tasks:
            with contextlib.suppress(OSError):
                os.kill(task, signal.SIGINT)
        if not tasks:
            with contextlib.suppress(OSError):
                process.kill()
    deadline = time.time() + timeout
    for job in jobs:
        process = getattr(job, "_process", None)
        if process is None:
            continue
        try:
            process.wait(max(0.1, deadline - time.time()))
        except Exception:  # noqa: BLE001 - still running after the timeout: kill it and its task
            for task in _children(process.pid):
                with contextlib.suppress(OSError):
                    os.kill(task, signal.SIGKILL)
            process.kill()


def _is_user_error(type_name: str) -> bool:
    """Whether the exception class ``module.Type`` is a user error (:data:`borel_lib.cli.USER_ERRORS`)."""
    import importlib

    from borel_lib.cli import USER_ERRORS

    module, _, name = type_name.rpartition(".")
    try:
        kind = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(kind, type) and issubclass(kind, USER_ERRORS)


def _outcome(job: Any, i: int, cell: dict[str, Any],
             err: BaseException | None = None) -> tuple[str, str, bool] | None:
    """None if the job succeeded, else ``(cell, cause, user_error)``: the cell, the error its run raised on one
    line (:class:`CellError`) and, unless it is a user error (whose message names its fix), the job's log."""
    if err is None:
        try:
            job.result()
            return None
        except Exception as raised:  # noqa: BLE001 - reported with the cell
            err = raised
    log = getattr(getattr(job, "paths", None), "stderr", "?")
    if isinstance(err, CellError):  # the debug executor re-raises the job's own error
        cause = str(err)
    else:
        marker = f"{CellError.__module__}.{CellError.__qualname__}: "
        lines = [line for line in str(err).splitlines() if line.startswith(marker)]
        cause = lines[-1][len(marker):] if lines else ""
    if not cause:  # no CellError: the job died (killed, out of memory or time) or submitit failed
        return (f"cell {i} {cell}", "its job ended without a result (killed, out of memory or out of time?): "
                f"{' '.join(str(err).split())[:300]} (log: {log})", False)
    user = _is_user_error(cause.split(":", 1)[0])
    return f"cell {i} {cell}", cause + ("" if user else f" (traceback in its log: {log})"), user
