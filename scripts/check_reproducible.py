"""Run ``make reproduce PROFILE=smoke`` twice from a clean state and compare the figures byte for byte.

Usage: python scripts/check_reproducible.py [--runs 2] [--notebooks notebooks/01_mdp_ambiguity.ipynb ...]
(``make check-reproducible`` runs it with the project's virtual environment.)

Each run executes every numbered notebook with papermill exactly as ``make reproduce`` does
(``BOREL_PROFILE=smoke MPLBACKEND=Agg papermill --cwd notebooks --kernel python3 -p PROFILE smoke``),
starting from an empty ``build/smoke/`` so the second run trains again instead of resuming the first
one's checkpoints. After each run ``build/smoke/`` is moved to ``build/check_reproducible/run<N>/``
(with the executed notebooks beside it); a ``build/smoke/`` that existed before is moved to
``build/check_reproducible/previous_smoke/`` first, never deleted.

Prints one line per figure file (PNG and PDF) that differs between the runs, or is missing from one of
them, then a summary with the CPU time of the runs; the smoke result tables (CSV) are compared too, for
information. Exit status 1 if any figure differs, 2 if a notebook fails.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "build" / "smoke"
OUT = ROOT / "build" / "check_reproducible"


def notebooks() -> list[Path]:
    """The notebooks ``make reproduce`` runs: ``notebooks/[0-9][0-9]_*.ipynb``, sorted."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def run_once(paths: list[Path], executed: Path) -> None:
    """Execute ``paths`` in the smoke profile as ``make reproduce`` does; raise on a failing notebook."""
    executed.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BOREL_PROFILE": "smoke", "MPLBACKEND": "Agg"}
    env.pop("BOREL_ROOT", None)  # the repository this script lives in, as make reproduce
    # the kernels import this checkout's borel_lib even if the environment's editable install is another one
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    for nb in paths:
        print(f"== {nb.relative_to(ROOT)}", flush=True)
        cmd = [sys.executable, "-m", "papermill", "--cwd", str(ROOT / "notebooks"), "--kernel", "python3",
               "-p", "PROFILE", "smoke", "--no-progress-bar", str(nb), str(executed / nb.name)]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def files(folder: Path, patterns: tuple[str, ...]) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for pattern in patterns for p in sorted(folder.rglob(pattern))}


def compare(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """Lines naming every file that differs or exists in only one run."""
    lines = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            lines.append(f"{name}: only in run {1 if name in a else 2}")
        elif a[name] != b[name]:
            lines.append(f"{name}: DIFFERS ({len(a[name])} vs {len(b[name])} bytes)")
    return lines


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", type=Path, default=None,
                        help="run only these notebooks (default: every notebooks/NN_*.ipynb)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] if args.notebooks else notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"--notebooks: no such notebook(s): {', '.join(missing)}")

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    if SMOKE.exists():
        SMOKE.rename(OUT / "previous_smoke")
        print(f"moved the existing {SMOKE.relative_to(ROOT)}/ to {(OUT / 'previous_smoke').relative_to(ROOT)}/")
    runs = []
    for n in (1, 2):
        start_cpu, start_wall = cpu_seconds(), time.monotonic()
        try:
            run_once(paths, OUT / f"run{n}" / "executed")
        except subprocess.CalledProcessError as err:
            print(f"error: run {n}: {' '.join(err.cmd[-2:-1])} failed (exit {err.returncode})", file=sys.stderr)
            return 2
        cpu, wall = cpu_seconds() - start_cpu, time.monotonic() - start_wall
        SMOKE.rename(OUT / f"run{n}" / "smoke")
        runs.append(OUT / f"run{n}" / "smoke")
        print(f"run {n}: {cpu:.0f} s CPU, {wall:.0f} s wall", flush=True)

    figs = [files(run / "figures", ("*.png", "*.pdf")) for run in runs]
    tables = [files(run / "results", ("*.csv",)) for run in runs]
    bad = compare(*figs)
    for line in bad:
        print(f"figure {line}")
    for line in compare(*tables):
        print(f"table (information only) {line}")
    n_tables_same = sum(tables[0].get(k) == v for k, v in tables[1].items())
    print(f"{len(figs[0])} figure files in run 1, {len(figs[1])} in run 2; {len(bad)} differ or are missing; "
          f"{n_tables_same} of {len(tables[1])} result tables identical. Outputs: {OUT.relative_to(ROOT)}/")
    if not figs[0]:
        print("error: no figure was written", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
