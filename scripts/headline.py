"""Write the README's headline table (one row per paper artefact: the claim, ours with 95 % intervals, a
computed verdict, the notebook) between its markers, from the committed result tables.

Usage: python scripts/headline.py [--profile quick] [--file README.md] [--check] [--print] [--not-produced]
The table is :func:`borel_lib.headline.headline_markdown` (rules in :mod:`borel_lib.headline`); notebook 08 shows
the same table and ``tests/test_headline.py`` fails when the README's copy differs from it. ``--check`` changes
nothing and exits 1 if the file's table is out of date; ``--print`` prints the table instead;
``--not-produced`` lists the paper artefacts the committed tables cannot draw, with the command that makes
each where one exists (``make reproduce`` ends with it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from borel_lib.headline import between_markers, headline_markdown, headline_table, replace_between_markers
from borel_lib.io import write_text
from borel_lib.paths import repo_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--file", default="README.md", help="the markdown file holding the markers (default README.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file's table is out of date; change nothing")
    parser.add_argument("--print", action="store_true", help="print the table; change nothing")
    parser.add_argument("--not-produced", action="store_true",
                        help="list what the committed tables cannot draw, with the command for each; change nothing")
    args = parser.parse_args(argv)
    if args.not_produced:
        return not_produced(args.profile)
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


def not_produced(profile: str) -> int:
    """Print the artefacts whose tables or figures are missing for ``profile`` and the commands that make them."""
    from borel_lib.figures import pending_results

    rows = headline_table(profile)
    todo = [f"{r.artefact}: {r.why or r.ours}" for r in rows.itertuples() if r.verdict == "not produced"]
    todo += [line for line in pending_results(profile) if "not yet produced" in line]
    print(f"not drawn from the committed {profile} tables:" if todo else f"every paper artefact has its {profile} tables")
    for line in todo:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
