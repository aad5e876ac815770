"""Checksums of every committed result file, so that a committed result cannot change silently.

Usage: python scripts/results_manifest.py --check | --write
``data/results/MANIFEST.sha256`` lists the SHA-256 of every file under ``data/results/`` (the tables and the
``.config.json`` beside each; hidden files such as a writer's temporary file aside), one ``<sha256>  <path>``
line per file, sorted, in the format of ``sha256sum`` (so ``sha256sum -c data/results/MANIFEST.sha256``
also checks it from the repository root). ``--check`` changes nothing and exits 1 listing, one line each,
every file that differs from its checksum, is listed but missing, or is not listed; ``tests/test_results_manifest.py``
runs it, so a hand edit of a committed table fails the tests. ``--write`` regenerates the manifest (write,
then rename): run it after regenerating results on purpose, and commit it with them. Nothing else writes it
(``borel_lib.results.write_results`` does not), so a training run never updates it behind your back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from borel_lib.io import file_sha256, write_text
from borel_lib.paths import repo_root

MANIFEST = Path("data") / "results" / "MANIFEST.sha256"
"""The manifest, relative to the repository root."""


def result_files(root: Path) -> list[Path]:
    """Every file under ``<root>/data/results`` but the manifest and hidden files, relative to ``root``, sorted."""
    results = root / MANIFEST.parent
    files = (p.relative_to(root) for p in results.rglob("*") if p.is_file())
    return sorted(p for p in files if p != MANIFEST and not any(part.startswith(".") for part in p.parts))


def manifest_text(root: Path) -> str:
    """The manifest of the files now under ``<root>/data/results``."""
    return "".join(f"{file_sha256(root / p)}  {p.as_posix()}\n" for p in result_files(root))


def read_manifest(root: Path) -> dict[str, str]:
    """``{path: sha256}`` from the committed manifest; a one-line ``ValueError`` on a malformed line."""
    path = root / MANIFEST
    if not path.is_file():
        raise ValueError(f"{MANIFEST} does not exist: run `python scripts/results_manifest.py --write` and commit it")
    listed: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name in listed:
            raise ValueError(f"{MANIFEST}: line {n}: not '<sha256>  <path>' or listed twice: {line[:80]!r}; "
                             "run `python scripts/results_manifest.py --write`")
        listed[name] = digest
    return listed


def check(root: Path) -> list[str]:
    """One line per result file that differs from the manifest (changed, missing or not listed); empty if none."""
    listed = read_manifest(root)
    present = {p.as_posix(): p for p in result_files(root)}
    problems = [f"{name}: missing (listed in {MANIFEST.name}, not on disk)" for name in listed if name not in present]
    for name, path in present.items():
        if name not in listed:
            problems.append(f"{name}: not listed in {MANIFEST.name}")
        elif file_sha256(root / path) != listed[name]:
            problems.append(f"{name}: changed (its sha256 differs from {MANIFEST.name})")
    return sorted(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 listing every result file that differs; change nothing")
    mode.add_argument("--write", action="store_true", help=f"regenerate {MANIFEST} from the files now on disk")
    parser.add_argument("--root", type=Path, default=None, help="the repository root (default: this repository)")
    args = parser.parse_args(argv)
    root = (args.root or repo_root()).resolve()
    if args.write:
        text = manifest_text(root)
        write_text(root / MANIFEST, text)
        print(f"{MANIFEST}: {text.count(chr(10))} files; commit it with the results")
        return 0
    try:
        problems = check(root)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} result file(s) differ from {MANIFEST}: restore a file changed by accident "
              f"(`git checkout -- <path>`); after regenerating results on purpose, run "
              f"`python scripts/results_manifest.py --write` and commit it", file=sys.stderr)
        return 1
    print(f"{MANIFEST}: every result file matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
