"""Move a flat results folder (``data/results/<profile>/*.csv``, the layout before the results tree) into the
tree of :mod:`borel_lib.results` (``<family>/<domain>/[<configuration>/]<name>.csv``), compressing the
trajectory tables (``*_traj.csv`` → ``*_traj.csv.gz``, same rows and bytes once decompressed) and updating
the commands recorded in the configs to the modules' new paths (``python -m borel_lib.borel`` →
``python -m borel_lib.pipeline``; PEARL and MBML under ``borel_lib.baselines``). Then (issue 29) it renames
the BOReL runs named before every run name carried its initial-state variant (:func:`rename_runs`): the
collection protocol's default variant is written after the domain, so ``borel_ant_semicircle_reward_relabelling_seed0``
(the Ant default, the data excluding the semi-circle) becomes
``borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0`` in the folder
``borel/ant_semicircle/exclude_semicircle_reward_relabelling/``; the same for the VAE-loss tables
(``vae_<run>``), the policy-mode probes (``probe_policy_mode_<run>``) and the run names recorded inside
configs and tables (``"results"`` fields, ``belief_vs_exact``'s ``vae`` column). ``collection/`` is left
alone (its names always carried the variant). Idempotent: a folder already migrated has nothing to move and
nothing happens. Every move is a rename on the same disk; a rewritten file is written atomically before the
old one is removed.

Usage: python scripts/migrate_results_tree.py [--profile quick] [--dry-run]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
from pathlib import Path

from borel_lib.io import atomic_path, write_text
from borel_lib.offline_rl import RL_DOMAIN
from borel_lib.paths import results_dir
from borel_lib.pipeline import resolve_init_state
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


_RUN_NAME = re.compile(
    r"(?<![A-Za-z0-9_])((?:borel_|vae_|probe_policy_mode_)?)(" + "|".join(sorted(RL_DOMAIN, key=len, reverse=True))
    + r")_(?=(?:exact|none|reward_relabelling|policy_replay)(?:_[A-Za-z0-9.\-]+?)*_seed\d)")
"""A run name (or a run's tag, e.g. a VAE's in ``belief_vs_exact``) written without its initial-state variant:
the domain directly followed by the belief or relabelling and, later, ``_seed<S>``, starting a word (so the
``semicircle`` of a variant, ``..._exclude_semicircle_reward_relabelling_...``, is no domain). A name that has
its variant (``<domain>_uniform_...``) does not match, so renaming twice changes nothing."""
UNTOUCHED = ("collection",)
"""Folders of the results tree this migration leaves alone (a collection may be writing there)."""


_MBML_NAME = re.compile(
    r"(?<![A-Za-z0-9_])((?:probe_)?mbml_)(" + "|".join(sorted(RL_DOMAIN, key=len, reverse=True)) + r")_(?=seed\d)")
"""An MBML run name without its data's initial-state variant: ``mbml_<domain>_seed<S>`` (and its probe's)."""


def with_init_state(text: str, profile: str) -> str:
    """``text`` with the collection protocol's default initial-state variant written into every run name
    that lacks one (``borel_gridworld_none_seed0`` -> ``borel_gridworld_uniform_none_seed0``,
    ``mbml_ant_semicircle_seed0`` -> ``mbml_ant_semicircle_exclude_semicircle_seed0``); every other byte stays."""
    add = lambda m: f"{m[1]}{m[2]}_{resolve_init_state(m[2], profile, None)}_"  # noqa: E731
    return _MBML_NAME.sub(add, _RUN_NAME.sub(add, text))


def rename_runs(profile: str, dry_run: bool = False) -> list[tuple[str, str]]:
    """Rename the tables and configs of ``profile``'s results tree whose run names lack their initial-state
    variant (:func:`with_init_state`) into their new folders, and update the run names inside configs and
    plain CSV tables; return the moves (files rewritten in place are not moves)."""
    root = results_dir(profile)
    moves: list[tuple[str, str]] = []
    emptied: set[Path] = set()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith((".csv", ".csv.gz", ".config.json"))
                   and p.relative_to(root).parts[0] not in UNTOUCHED)
    for path in files:
        name = result_name(path)
        new = with_init_state(name, profile)
        kind = "config" if path.name.endswith(".config.json") else "table"
        dest = path if new == name else result_path(new, profile, kind=kind)  # only a renamed run moves
        if dest != path:
            moves.append((str(path.relative_to(root)), str(dest.relative_to(root))))
        if dry_run:
            continue
        if path.name.endswith(".csv.gz"):  # trajectories: no run names inside, moved as they are
            text = None
        else:
            old_text = path.read_text(encoding="utf-8")
            text = with_init_state(old_text, profile)
            text = None if text == old_text else text
        if dest == path and text is None:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            os.replace(path, dest)
        else:
            write_text(dest, text)
            if dest != path:
                path.unlink()
        if dest != path:
            emptied.add(path.parent)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        while folder != root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return moves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "paper", "smoke"])
    parser.add_argument("--dry-run", action="store_true", help="print the moves, change nothing")
    args = parser.parse_args(argv)
    # (a dry run lists the renames of the tree as it is, before the flat folder's files would join it)
    moves = migrate(args.profile, args.dry_run) + rename_runs(args.profile, args.dry_run)
    for old, new in moves:
        print(f"{old} -> {new}")
    print(f"{len(moves)} file(s) {'would move' if args.dry_run else 'moved'} under {results_dir(args.profile)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
