"""Write the README's headline table (one row per paper artefact: the claim, ours with 95 % intervals, a
computed verdict, the notebook) between its markers, from the committed result tables.

Usage: python scripts/headline.py [--profile quick] [--file README.md] [--check] [--print]
The table is :func:`borel_lib.headline.headline_markdown` (rules in :mod:`borel_lib.headline`); notebook 08 shows
the same table and ``tests/test_headline.py`` fails when the README's copy differs from it. ``--check`` changes
nothing and exits 1 if the file's table is out of date; ``--print`` prints the table instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from borel_lib.headline import between_markers, headline_markdown, replace_between_markers
from borel_lib.io import write_text
from borel_lib.paths import repo_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--file", default="README.md", help="the markdown file holding the markers (default README.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file's table is out of date; change nothing")
    parser.add_argument("--print", action="store_true", help="print the table; change nothing")
    args = parser.parse_args(argv)
    path = Path(args.file) if Path(args.file).is_absolute() else repo_root() / args.file
    table = headline_markdown(args.profile, base=path.parent)
    if args.print:
        print(table)
        return 0
    text = path.read_text(encoding="utf-8")
    try:
        current = between_markers(text)
    except ValueError as err:
        print(f"error: {path.name}: {err}", file=sys.stderr)
        return 2
    if current == table:
        print(f"{path.name}: headline table up to date")
        return 0
    if args.check:
        print(f"{path.name}: headline table out of date; run `python scripts/headline.py`", file=sys.stderr)
        return 1
    write_text(path, replace_between_markers(text, table))
    print(f"{path.name}: headline table rewritten from data/results/{args.profile}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
