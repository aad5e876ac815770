"""Move a flat results folder (``data/results/<profile>/*.csv``, the layout before the results tree) into the
tree of :mod:`borel_lib.results` (``<family>/<domain>/[<configuration>/]<name>.csv``), compressing the
trajectory tables (``*_traj.csv`` → ``*_traj.csv.gz``, same rows and bytes once decompressed) and updating
the commands recorded in the configs to the modules' new paths (``python -m borel_lib.borel`` →
``python -m borel_lib.pipeline``; PEARL and MBML under ``borel_lib.baselines``). Idempotent: a
folder already migrated has no flat tables left and nothing happens. Every move is a rename on the same disk;
a compressed table is written atomically before its CSV is removed.

Usage: python scripts/migrate_results_tree.py [--profile quick] [--dry-run]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys

from borel_lib.io import atomic_path, write_text
from borel_lib.paths import results_dir
from borel_lib.results import result_name, result_path

RENAMED_COMMANDS = {"python -m borel_lib.borel ": "python -m borel_lib.pipeline ",
                    "python -m borel_lib.pearl ": "python -m borel_lib.baselines.pearl ",
                    "python -m borel_lib.mbml ": "python -m borel_lib.baselines.mbml "}
"""Commands recorded before the modules moved into sub-packages → the same command today (same options,
same table)."""


def _upgrade_config_text(text: str, name: str) -> str:
    """A config JSON's text with renamed commands updated and, for a trajectory table, the compressed file
    named in ``results`` (plain text replacements: every other byte stays)."""
    for old, new in RENAMED_COMMANDS.items():
        text = text.replace(old, new)
    if name.endswith("_traj"):
        text = text.replace(f'"results": "{name}.csv"', f'"results": "{name}.csv.gz"')
    return text


def migrate(profile: str, dry_run: bool = False) -> list[tuple[str, str]]:
    """Move every flat table and config of ``profile``'s results folder into the tree; return the moves."""
    root = results_dir(profile)
    moves = []
    for path in sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith((".csv", ".config.json"))):
        name = result_name(path)
        dest = result_path(name, profile, kind="config" if path.name.endswith(".config.json") else "table")
        moves.append((str(path.relative_to(root)), str(dest.relative_to(root))))
        if dry_run:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.suffix == ".gz":
            with atomic_path(dest) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                                                 mtime=0) as gz:
                gz.write(path.read_bytes())
            path.unlink()
        elif path.name.endswith(".config.json"):
            write_text(dest, _upgrade_config_text(path.read_text(encoding="utf-8"), name))
            path.unlink()
        else:
            os.replace(path, dest)
    return moves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "paper", "smoke"])
    parser.add_argument("--dry-run", action="store_true", help="print the moves, change nothing")
    args = parser.parse_args(argv)
    moves = migrate(args.profile, args.dry_run)
    for old, new in moves:
        print(f"{old} -> {new}")
    print(f"{len(moves)} file(s) {'would move' if args.dry_run else 'moved'} under {results_dir(args.profile)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
