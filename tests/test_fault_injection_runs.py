"""Fault injection on running commands (issue 35, "Trust, round two"): locks, errors, provenance and leftovers.

Every case runs in a fresh repository root (``$BOREL_ROOT``) at the smoke profile: real command lines, in
this process or as subprocesses, two at once for the lock cases, stopped with signals at chosen points.

- **Locks**: one lock file per purpose (:func:`borel_lib.io.file_lock`): a sweep cell arriving while a
  collection runs waits for it and never touches the collection's lock; a lock of a dead process is taken
  over with one line; one sweep of a grid at a time; stopping a sweep (SIGTERM, even SIGKILL) stops its jobs;
  a truncated cell table is not "done"; a second PEARL or MBML run of the same seed waits for the first.
- **Errors**: a failed sweep cell, ``--executor slurm`` without Slurm, a broken dataset met by ``pipeline``
  or ``mbml``: one line naming the cause and the command that fixes it, and that command does.
- **Provenance**: rerunning PEARL or online VariBAD with other settings never rewrites the first run's table
  under them; a table and its config are one pair (killed between the two writes: refused, never misread).
- **Leftovers**: a failed run, a malformed Minari id, ``collect --restart`` over a file leave nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from borel_lib import collect, io, minari_export, pipeline, sweep, sweep_jobs
from borel_lib.baselines import mbml, pearl
from borel_lib.datasets import load_dataset, lock_path

REPO = Path(__file__).resolve().parents[1]
SMOKE_DATASET = Path("build/smoke/datasets/semicircle_uniform_seed0")
"""The smoke Semi-circle dataset, relative to the repository root (what the smoke sweep's cells train on)."""


# ------------------------------------------------------------------------------------------------ helpers
@pytest.fixture()
def root(tmp_path, monkeypatch) -> Path:
    """An empty repository root for this process and its subprocesses; no profile from the environment."""
    path = tmp_path / "root"
    path.mkdir()
    monkeypatch.setenv("BOREL_ROOT", str(path))
    monkeypatch.delenv("BOREL_PROFILE", raising=False)
    return path


def _env(root: Path) -> dict[str, str]:
    env = {**os.environ, "BOREL_ROOT": str(root), "OMP_NUM_THREADS": "1"}
    env.pop("BOREL_PROFILE", None)
    return env


def _spawn(root: Path, code: str, log: Path) -> subprocess.Popen:
    """``python -c code`` in ``root``, stdout and stderr to ``log`` (a file: never a full pipe)."""
    return subprocess.Popen([sys.executable, "-c", code], cwd=root, env=_env(root), stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)


def _wait_for(condition: Callable[[], object], timeout: float, what: str | Callable[[], str]) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what if isinstance(what, str) else what()}")
        time.sleep(0.1)


def _processes_of(root: Path) -> list[str]:
    """The command lines of the live processes run under this repository root (from ``/proc``)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"BOREL_ROOT={root}".encode() in environ.read_bytes().split(b"\0"):
                cmdline = (environ.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if cmdline and state != "Z":
                    found.append(cmdline)
        except OSError:
            continue
    return found


def _jobs_of(root: Path) -> list[str]:
    return [c for c in _processes_of(root) if "submitit" in c]


def _one_error_line(err: str) -> str:
    """The single non-empty line of ``err``: ``error: ...``, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    """A tiny Semi-circle dataset (one learning iteration), made once for the cases that only read one."""
    from borel_lib.collect import CollectConfig

    base = tmp_path_factory.mktemp("dataset")
    cfg = CollectConfig.for_domain("semicircle", "smoke", iterations=1, updates_per_iter=1)
    collect.collect(cfg, base / "ds", base / "ck", profile="smoke", progress=False)
    return base / "ds"


SLOW_COLLECT = """
import sys, time
from borel_lib import collector
record = collector.Collector._record
def slow(self, *args, **kwargs):
    time.sleep({delay})
    return record(self, *args, **kwargs)
collector.Collector._record = slow  # a slow collection: {delay} s more per trial
from borel_lib.collect import main
sys.exit(main(["semicircle", "--profile", "smoke", "--no-progress"]))
"""


# ------------------------------------------------------------------------------------------------ locks
def test_a_sweep_cell_arriving_mid_collection_waits_and_never_touches_its_lock(root, tmp_path):
    """A collection runs (process A); a sweep cell of the same dataset arrives (process B): B waits for A on
    its own lock file, A's lock keeps naming A, both end well and the dataset is whole and was collected once.
    (Before issue 35 the cell opened A's lock file with "w", erasing its pid, and collected into the same
    ``.incomplete``.)"""
    go = tmp_path / "go"
    cell = {"domain": "semicircle", "relabelling": "none", "seed": 0}
    b = _spawn(root, f"import pathlib, sys, time\nfrom borel_lib.sweep import collect_once\n"
                     "import borel_lib.collect, borel_lib.pipeline, borel_lib.policy_replay  # imported before 'go'\n"
                     f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.02)\n"
                     f"collect_once({cell!r}, 'smoke')\nprint('cell done', flush=True)", tmp_path / "b.log")
    a = _spawn(root, SLOW_COLLECT.format(delay=0.8), tmp_path / "a.log")
    lock = lock_path(root / SMOKE_DATASET)
    try:
        _wait_for(lambda: (io.lock_holder(lock) or {}).get("pid") == a.pid, 60, "the collection's lock")
        go.touch()
        _wait_for(lambda: "waiting for the lock" in (tmp_path / "b.log").read_text(), 20,
                  lambda: f"the cell to wait: {(tmp_path / 'b.log').read_text()}")
        holder = io.lock_holder(lock)
        assert holder is not None and holder["pid"] == a.pid and "borel_lib.collect" in holder["purpose"]
        assert a.wait(120) == 0, (tmp_path / "a.log").read_text()
        assert b.wait(120) == 0, (tmp_path / "b.log").read_text()
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
    assert "Traceback" not in (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    load_dataset(root / SMOKE_DATASET)  # whole, checksums included
    assert sorted(os.listdir(root / SMOKE_DATASET.parent)) == ["semicircle_uniform_seed0"]  # no lock, no .incomplete


def test_a_lock_names_its_holder_and_a_dead_holders_lock_is_taken_over(tmp_path, capsys):
    """Two processes: while a live process holds a lock, a non-waiting taker gets one line naming its pid and
    the holder's file is left as it was; once the holder is killed (SIGKILL: no cleanup), the lock is taken
    over with a one-line note, and removed on release. An old-style dataset lock (``"<pid> <owner>"``, no
    flock) of a live process is respected too."""
    lock = tmp_path / "sub" / ".x.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom borel_lib.io import file_lock\n"
                               f"with file_lock({str(lock)!r}, purpose='test holder'):\n"
                               "    print('held', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        content = lock.read_bytes()
        with pytest.raises(io.LockedError, match=rf"pid {holder.pid} on .* \(test holder\).*kill {holder.pid}"):
            with io.file_lock(lock, wait=False):
                pass
        assert lock.read_bytes() == content  # never truncated by the other taker
    finally:
        holder.kill()
        holder.wait()
    capsys.readouterr()
    with io.file_lock(lock, purpose="second", wait=False):
        assert io.lock_holder(lock)["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"taking over the lock {lock} left by pid {holder.pid}" in err
    assert not lock.exists()  # removed on release

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        lock.write_text(f"{sleeper.pid} borel_lib.collect semicircle\n")  # a writer of an older borel_lib
        with pytest.raises(io.LockedError, match=f"pid {sleeper.pid}"):
            with io.file_lock(lock, wait=False):
                pass
        assert lock.read_text() == f"{sleeper.pid} borel_lib.collect semicircle\n"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_killed_collection_leaves_a_lock_the_next_run_takes_over(root, tmp_path, capsys):
    """SIGKILL a collection mid-run: the next ``collect`` takes its lock over with a one-line note, resumes and
    finishes a whole dataset."""
    a = _spawn(root, SLOW_COLLECT.format(delay=0.5), tmp_path / "a.log")
    lock = lock_path(root / SMOKE_DATASET)
    try:
        _wait_for(lambda: (io.lock_holder(lock) or {}).get("pid") == a.pid, 60, "the collection's lock")
        time.sleep(1.0)
    finally:
        a.send_signal(signal.SIGKILL)
        a.wait()
    assert lock.exists()  # SIGKILL: nobody removed it
    assert collect.main(["semicircle", "--profile", "smoke", "--no-progress"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "taking over the lock" in line]
    assert len(notes) == 1 and f"left by pid {a.pid}" in notes[0]
    load_dataset(root / SMOKE_DATASET)
    assert not lock.exists()


BUSY_BASELINE = """
import os, sys, time
import borel_lib.collect
from borel_lib.baselines import {module}
def work(*args, **kwargs):  # the run's work (PEARL: training; MBML: from its collection on) takes long
    print("working", os.getpid(), flush=True)
    time.sleep(120)
{target} = work
sys.exit({module}.main(["semicircle", "--profile", "smoke", "--no-progress"]))
"""


@pytest.mark.parametrize("module", ["pearl", "mbml"])
def test_a_second_baseline_run_of_the_same_seed_waits_for_the_first(root, tmp_path, module):
    """Two processes given the same PEARL (MBML) run: the second says once which process holds the run (its pid)
    and waits, doing nothing, while the first works; SIGKILL on the first: the second takes the run over with a
    one-line note and goes on. (Before issue 35 both trained at once on one checkpoint and one table.)"""
    target = {"pearl": "pearl.PEARLTrainer.train", "mbml": "borel_lib.collect.run_collection"}[module]
    tag = {"pearl": pearl.run_tag("semicircle", 0), "mbml": mbml.run_tag("semicircle", 0, None, "smoke")}[module]
    code = BUSY_BASELINE.format(module=module, target=target)
    lock = root / "build" / "smoke" / "checkpoints" / f".{tag}.run.lock"
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = _spawn(root, code, a_log)
    b = None
    try:
        _wait_for(lambda: "working" in a_log.read_text() or a.poll() is not None, 60, "the first run to work")
        assert (io.lock_holder(lock) or {}).get("pid") == a.pid, f"no run lock {lock}: {a_log.read_text()}"
        b = _spawn(root, code, b_log)
        _wait_for(lambda: "waiting for the lock" in b_log.read_text() or b.poll() is not None, 60,
                  lambda: f"the second run to wait: {b_log.read_text()}")
        waiting = [line for line in b_log.read_text().splitlines() if "waiting for the lock" in line]
        assert len(waiting) == 1 and f"pid {a.pid} on " in waiting[0] and f"run {tag})" in waiting[0], waiting
        time.sleep(1.0)
        assert "working" not in b_log.read_text() and b.poll() is None  # it waits: no work beside the first
        a.send_signal(signal.SIGKILL)
        a.wait()
        _wait_for(lambda: "working" in b_log.read_text(), 60, lambda: f"the second run to go on: {b_log.read_text()}")
        assert f"taking over the lock {lock} left by pid {a.pid}" in b_log.read_text()
        assert (io.lock_holder(lock) or {}).get("pid") == b.pid
    finally:
        for p in (a, b):
            if p is not None:
                p.kill()
                p.wait()


def _start_sweep(root: Path, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "borel_lib.sweep", "smoke", "--profile", "smoke"], cwd=root,
                            env=_env(root), stdout=open(log, "w"), stderr=subprocess.STDOUT)
    _wait_for(lambda: len(_jobs_of(root)) >= 2 or proc.poll() is not None, 60, "the sweep's jobs")
    assert proc.poll() is None, log.read_text()
    return proc


def test_one_sweep_of_a_grid_at_a_time_and_sigterm_stops_its_jobs(root, tmp_path, capsys):
    """While a sweep runs, a second of the same grid is refused in one line naming the first; SIGTERM on the
    first stops its jobs (no process left) and ends it with one line naming the command that resumes it."""
    log = tmp_path / "sweep.log"
    first = _start_sweep(root, log)
    try:
        assert sweep.main(["smoke", "--profile", "smoke"]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"already running: pid {first.pid}" in line and f"kill {first.pid}" in line
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 128 + signal.SIGTERM
    finally:
        first.kill()
        first.wait()
    line = _one_error_line(log.read_text())
    assert "stopped by SIGTERM" in line and line.endswith("resume with: python -m borel_lib.sweep smoke --profile smoke")
    _wait_for(lambda: not _processes_of(root), 20, lambda: f"the sweep's jobs to end: {_processes_of(root)}")
    assert not list(root.rglob("*.lock"))  # every lock released


def test_a_sweep_killed_with_sigkill_leaves_no_job_running(root, tmp_path):
    """SIGKILL, which no handler sees: the jobs notice their sweep is gone and stop (before issue 35 they ran on
    to the end of their cells)."""
    first = _start_sweep(root, tmp_path / "sweep.log")
    first.send_signal(signal.SIGKILL)
    first.wait()
    _wait_for(lambda: not _processes_of(root), 15, "the killed sweep's jobs to stop")
    logs = " ".join(p.read_text() for p in (root / "build" / "sweeps").rglob("*_log.err"))
    assert f"the sweep that started this job (pid {first.pid}) is gone" in logs


def _cell_table(cell: dict, value: float) -> pd.DataFrame:
    """A valid BOReL run table for ``cell`` (two evaluations), standing in for a trained cell."""
    method = "borel_rr" if cell["relabelling"] == "reward_relabelling" else "borel_no_rr"
    return pd.DataFrame([{"domain": "semicircle", "method": method, "variant": "uniform", "seed": 0, "episode": e,
                          "metric": m, "value": value, "updates": u}
                         for u in (5, 10) for e in (1, 2) for m in ("return", "success")])


def test_a_truncated_cell_table_is_not_done_and_its_cell_runs_again(root, monkeypatch, capsys):
    """A cell whose table was cut short is listed as ``redo``, runs again, and only then is merged."""
    from borel_lib.results import result_path, write_results

    cells = sweep.grid_cells("smoke")
    for cell in cells:
        write_results(_cell_table(cell, 1.0), sweep.result_name(cell, "smoke"), config=None, profile="smoke",
                      command="test")
    table = result_path(sweep.result_name(cells[1], "smoke"), "smoke")
    table.write_bytes(table.read_bytes()[:-25])  # a write cut short
    assert sweep.main(["smoke", "--profile", "smoke", "--list"]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["done", "redo"]
    with pytest.raises(FileNotFoundError, match="which does not validate"):
        sweep.merge("smoke", "smoke")
    ran = []

    def fake_run(self, cell, profile):  # the cell's run, without the training
        ran.append(cells.index(cell))
        write_results(_cell_table(cell, 2.0), sweep.result_name(cell, profile), config=None, profile=profile,
                      command="test")
        return str(result_path(sweep.result_name(cell, profile), profile))

    monkeypatch.setattr(sweep_jobs.CellJob, "__call__", fake_run)
    assert sweep.launch("smoke", "smoke", executor="debug") == [1] and ran == [1]
    merged = pd.read_csv(sweep.merge("smoke", "smoke"))
    assert set(merged.cell) == {0, 1} and set(merged[merged.cell == 1].value) == {2.0}


# ------------------------------------------------------------------------------------------------ errors
def test_a_failed_cell_names_its_cause_and_the_fix(root):
    """A sweep whose cells meet a broken dataset: one line naming each cell's cause (the dataset error and
    the collect command that fixes it) and the sweep command to rerun, not "rerun the command to retry"."""
    (root / SMOKE_DATASET).mkdir(parents=True)
    (root / SMOKE_DATASET / "manifest.json").write_text("garbage")
    proc = subprocess.run([sys.executable, "-m", "borel_lib.sweep", "smoke", "--profile", "smoke"], cwd=root,
                          env=_env(root), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "2 of 2 cell(s) failed" in line and line.count("borel_lib.datasets.DatasetError") == 1, line
    assert "manifest.json: not valid JSON" in line
    assert "collect this dataset again with: python -m borel_lib.collect semicircle --profile smoke --restart" in line
    assert line.endswith("fix the cause, then rerun: python -m borel_lib.sweep smoke --profile smoke")
    assert "rerun the command to retry" not in line and not _processes_of(root)


def test_slurm_without_slurm_is_one_line_before_anything_is_written(root, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert sweep.main(["smoke", "--profile", "smoke", "--executor", "slurm"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--executor slurm: no Slurm on this machine (sbatch and srun not found" in line
    assert line.endswith("python -m borel_lib.sweep smoke --profile smoke --executor local")
    assert not any(root.iterdir())


@pytest.mark.parametrize("command", ["pipeline", "mbml"])
def test_a_broken_dataset_met_by_borel_or_mbml_names_the_collect_command(root, capsys, command):
    """The fix of a broken dataset is the collect command with --restart (which pipeline and mbml reject):
    the error names it, and running it repairs the dataset."""
    (root / SMOKE_DATASET).mkdir(parents=True)
    (root / SMOKE_DATASET / "manifest.json").write_text("{")
    main = {"pipeline": pipeline.main, "mbml": mbml.main}[command]
    assert main(["semicircle", "--profile", "smoke"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    fix = "python -m borel_lib.collect semicircle --profile smoke --restart"
    assert line.endswith(f"collect this dataset again with: {fix}") and "restart=True" not in line, line
    assert collect.main([*fix.split()[3:], "--no-progress"]) == 0
    load_dataset(root / SMOKE_DATASET)


# -------------------------------------------------------------------------------------------- provenance
def test_rerunning_pearl_with_other_iterations_keeps_table_and_config_of_one_run(root, capsys):
    """PEARL with --iterations 2, then 1: refused in one line naming the existing run and how to replace it,
    its table and config untouched; following that line replaces the run, and both files then say 1. A
    longer run continues from the checkpoint (the same run, one config)."""
    from borel_lib.results import read_results_config, read_table_file, result_path

    args = ["semicircle", "--profile", "smoke", "--no-progress", "--iterations"]
    assert pearl.main([*args, "2"]) == 0
    table, meta = (result_path("pearl_semicircle_seed0", "smoke", kind=k) for k in ("table", "config"))
    before = (table.read_bytes(), meta.read_bytes())
    capsys.readouterr()
    assert pearl.main([*args, "1"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "run pearl_semicircle_seed0 exists with other settings (iterations 2, not 1)" in line
    assert "made by `python -m borel_lib.baselines.pearl semicircle --profile smoke --seed 0 --iterations 2`" in line
    assert (table.read_bytes(), meta.read_bytes()) == before
    rm = line.split("replace them: rm ", 1)[1].split("; then rerun: ")[0].split()
    for pattern in rm:
        for path in Path("/").glob(pattern.lstrip("/")):
            path.unlink()
    assert pearl.main([*args, "1"]) == 0
    assert read_results_config("pearl_semicircle_seed0", "smoke")["values"]["iterations"] == 1
    assert read_table_file(table)["iteration"].max() == 1
    assert pearl.main([*args, "2"]) == 0  # continues the 1-iteration run: one run, one config
    assert read_table_file(table)["iteration"].max() == 2
    table.unlink()  # the table gone, the checkpoint (at 2) stays: a shorter run is still refused
    capsys.readouterr()
    assert pearl.main([*args, "1"]) == 2
    assert "already at iteration 2, past iterations=1" in _one_error_line(capsys.readouterr().err)


class _Killed(BaseException):
    """A process killed at this point (no ``except Exception`` catches it)."""


@pytest.mark.parametrize("name", ["analysis_pair", "analysis_pair_traj"])
def test_a_table_and_its_config_are_one_pair_even_when_killed_between_them(root, monkeypatch, name):
    """``write_results`` replaces a table and its config by renaming each into place: killed at either rename, what
    is there is the old pair, the new pair, or a pair ``read_table_file`` refuses in one line naming both files and
    the command that regenerates them, never a table read under a config it was not written with. (Before issue 35
    the table came first: killed before its config, the new table read as if the old command had made it.) A
    config without the table's checksum (every committed one) is read as before."""
    from borel_lib import results

    def table(value: float) -> pd.DataFrame:
        return pd.DataFrame([{"domain": "semicircle", "method": "m", "variant": "v", "seed": 0, "episode": 1,
                              "metric": "x", "value": value}])

    path, meta = (results.result_path(name, "smoke", kind=k) for k in ("table", "config"))
    real_replace = os.replace
    outcomes = []
    for kill_at in (1, 2):  # the first, then the second rename of one of the pair's files into place
        results.write_results(table(1.0), name, config={"run": "old"}, profile="smoke", command="python old.py")
        renames: list[Path] = []

        def replace(src, dst, kill_at=kill_at, renames=renames):
            if Path(dst) in (path, meta):
                renames.append(Path(dst))
                if len(renames) == kill_at:
                    raise _Killed
            return real_replace(src, dst)

        with monkeypatch.context() as m:
            m.setattr(os, "replace", replace)
            with pytest.raises(_Killed):
                results.write_results(table(2.0), name, config={"run": "new"}, profile="smoke", command="python new.py")
        run = results.read_results_config(name, "smoke")["values"]["run"]
        try:
            value = float(results.read_table_file(path).value.iloc[0])
        except ValueError as err:
            line = str(err)
            assert "\n" not in line and str(path) in line and str(meta) in line, line
            assert line.endswith("regenerate it: `python new.py`") and run == "new", line
            outcomes.append("refused")
            continue
        assert (value, run) in ((1.0, "old"), (2.0, "new")), f"a table of value {value} read under the {run} config"
        outcomes.append(run)
    assert "refused" in outcomes  # one kill point falls between the two renames
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, meta.name])  # no temporary left
    results.write_results(table(2.0), name, config={"run": "new"}, profile="smoke", command="python new.py")
    assert float(results.read_table_file(path).value.iloc[0]) == 2.0
    saved = results.read_results_config(name, "smoke")
    meta.write_text(json.dumps({k: v for k, v in saved.items() if k != results.TABLE_HASH_FIELD}))
    assert float(results.read_table_file(path).value.iloc[0]) == 2.0  # a config of before issue 35: no checksum, read


def test_rerunning_online_varibad_with_other_settings_keeps_table_and_config_of_one_run(root, capsys):
    """Online VariBAD follows PEARL's rule: with --env-steps 240, then 120: refused in one line naming the run and
    the command that made it, both files untouched, no lock left; a larger budget continues the run from its
    checkpoint (its first evaluations are the first run's); a checkpoint past a smaller budget is refused."""
    from borel_lib.online import varibad_ppo
    from borel_lib.results import read_results_config, read_table_file, result_path

    name = "online_varibad_ppo_gridworld_seed0"
    args = ["gridworld", "--profile", "smoke", "--device", "cpu", "--no-progress", "--env-steps"]
    assert varibad_ppo.main([*args, "240"]) == 0
    table, meta = (result_path(name, "smoke", kind=k) for k in ("table", "config"))
    before = (table.read_bytes(), meta.read_bytes())
    first = read_table_file(table)
    capsys.readouterr()
    assert varibad_ppo.main([*args, "120"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"run {name} exists with other settings (env_steps 240, not 120)" in line, line
    assert "made by `python -m borel_lib.online.varibad_ppo gridworld --profile smoke --seed 0 --env-steps 240`" in line
    assert (table.read_bytes(), meta.read_bytes()) == before and not list(root.rglob("*.lock"))
    assert varibad_ppo.main([*args, "480"]) == 0  # continues the run: one run, one config
    longer = read_table_file(table)
    assert read_results_config(name, "smoke")["values"]["env_steps"] == 480 and longer.env_steps.max() >= 480
    scored = ["iteration", "env_steps", "episode", "metric", "value"]
    pd.testing.assert_frame_equal(longer[longer.metric == "return"][scored].head(len(first[first.metric == "return"])),
                                  first[first.metric == "return"][scored])
    table.unlink()  # the table gone, the checkpoint (at 480) stays: a shorter run is still refused
    capsys.readouterr()
    assert varibad_ppo.main([*args, "240"]) == 2
    assert "environment steps, past env_steps=240" in _one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------- leftovers
def test_a_failed_run_leaves_no_checkpoint_folder(root, capsys):
    assert pipeline.main(["wind", "--profile", "smoke", "--relabelling", "policy_replay"]) == 2
    assert "no policy-replay dataset" in _one_error_line(capsys.readouterr().err)
    assert not (root / "build" / "smoke" / "checkpoints").exists()
    assert not list(root.rglob("*.lock"))


def test_a_failed_run_leaves_no_empty_folder_at_all(root, capsys):
    """A pipeline run refused for its missing policy-replay data, the policy-replay loader, and naming where a
    run's dataset or checkpoint would go: no folder is made (before issue 35 ``build/smoke/datasets/`` was left,
    empty)."""
    from borel_lib import paths, policy_replay
    from borel_lib.baselines.common import checkpoint_path

    assert pipeline.main(["wind", "--profile", "smoke", "--relabelling", "policy_replay"]) == 2
    assert "no policy-replay dataset" in _one_error_line(capsys.readouterr().err)
    with pytest.raises(FileNotFoundError, match="no policy-replay dataset"):
        policy_replay.load_policy_replay("wind", "smoke")
    for where in (paths.datasets_dir("smoke"), paths.checkpoints_dir("smoke"), checkpoint_path("smoke", "pearl_wind_seed0")):
        assert not where.exists(), where
    assert _files(root) == set()


@pytest.mark.parametrize("dataset_id", ["borel/x", "x-v", "bad id", "x-v0x", "borel/x-vv0", "borel//x-v0", ""])
def test_a_malformed_minari_id_is_one_line_and_leaves_nothing(small_dataset, tmp_path, capsys, dataset_id):
    out = tmp_path / "minari"
    assert minari_export.main([str(small_dataset), dataset_id, "--data-path", str(out)]) == 2
    assert "a Minari id is [namespace/]name-v<version>" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_a_minari_export_that_fails_or_exists_leaves_nothing(small_dataset, tmp_path, monkeypatch, capsys):
    pytest.importorskip("minari")
    import minari

    out = tmp_path / "minari"
    (out / "borel" / "taken-v0").mkdir(parents=True)
    before = _files(tmp_path)
    assert minari_export.main([str(small_dataset), "borel/taken-v0", "--data-path", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "exists already" in line and "-v1" in line and f"rm -r {out / 'borel' / 'taken-v0'}" in line
    assert _files(tmp_path) == before

    def broken(dataset_id, *args, **kwargs):  # Minari fails half-way: its folders are made
        (minari_export.minari_root() / dataset_id / "data").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", broken)
    with pytest.raises(OSError, match="disk full"):
        minari_export.to_minari(load_dataset(small_dataset), "newspace/x-v0", data_path=out, trials=slice(0, 1))
    assert _files(tmp_path) == before


def test_collect_restart_over_a_file_is_refused_and_leaves_the_file(root, capsys):
    """The dataset path is a file: one line naming it (before any work), the file untouched, no ``.old``."""
    path = root / SMOKE_DATASET
    path.parent.mkdir(parents=True)
    path.write_text("my notes\n")
    before = _files(root)
    for extra in ([], ["--restart"]):
        assert collect.main(["semicircle", "--profile", "smoke", "--no-progress", *extra]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"{path} is a file, not a dataset folder; move or delete it" in line
        assert path.read_text() == "my notes\n" and _files(root) == before


def test_make_reproduce_honours_borel_profile():
    """``BOREL_PROFILE=smoke make reproduce`` runs the smoke profile (``make -n``: printed, not run); ``PROFILE=``
    still wins."""
    if shutil.which("make") is None:
        pytest.skip("no make")

    def dry(env_profile: str | None, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("BOREL_PROFILE", "PROFILE", "MAKEFLAGS")}
        if env_profile:
            env["BOREL_PROFILE"] = env_profile
        return subprocess.run(["make", "-n", "reproduce", *args], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=60).stdout

    assert "-p PROFILE smoke" in dry("smoke") and "-p PROFILE quick" not in dry("smoke")
    assert "-p PROFILE quick" in dry(None)
    assert "-p PROFILE paper" in dry("smoke", "PROFILE=paper")

