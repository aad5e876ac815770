"""Regenerate the committed figures from the committed result tables and compare them byte for byte.

Usage: python scripts/check_figures.py [--profile quick] [--keep DIR]
Every figure of :data:`borel_lib.figures.FIGURES` is drawn from ``data/results/<profile>/`` into a
temporary folder (``--keep DIR`` keeps them there) and compared with the committed PNG and PDF in the
profile's figures folder (``figures/`` for quick). Prints one line per figure: identical, DIFFERS,
not committed, or cannot be regenerated (a table is missing: the line names the command that makes it).
Committed figures that no table-drawn function makes (notebook 02's domain pictures) are listed too.
Exit status 1 if any figure differs or a committed one cannot be regenerated.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from borel_lib import figures  # noqa: E402
from borel_lib.figures.style import set_style  # noqa: E402
from borel_lib.paths import figures_dir  # noqa: E402


def check(profile: str, out_dir: Path) -> int:
    committed_dir = figures_dir(profile)
    set_style()
    bad = 0
    for spec in figures.FIGURES:
        committed = [committed_dir / f"{spec.name}.{ext}" for ext in ("png", "pdf")]
        try:
            written = figures.make_figure(spec.name, profile, out_dir=out_dir)
        except figures.MissingResultsError as err:
            exists = any(p.is_file() for p in committed)
            bad += exists
            print(f"{spec.name:34s} cannot be regenerated{' (committed)' if exists else ''}: {err}")
            continue
        for new, old in zip(written, committed):
            if not old.is_file():
                status = "not committed"
            elif new.read_bytes() == old.read_bytes():
                status = "identical"
            else:
                status = "DIFFERS"
                bad += 1
            print(f"{new.name:38s} {status}")
    drawn = {f"{spec.name}.{ext}" for spec in figures.FIGURES for ext in ("png", "pdf")}
    others = sorted(p.name for p in committed_dir.glob("*.p[nd][gf]") if p.name not in drawn)
    if others:
        print(f"not drawn from tables (made by notebooks 02 and 06 from environments or datasets): {', '.join(others)}")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                        help="whose tables and committed figures to compare (default: quick)")
    parser.add_argument("--keep", type=Path, default=None, help="write the regenerated figures here (default: a temp dir)")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        bad = check(args.profile, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            bad = check(args.profile, Path(tmp))
    print(f"{bad} figure file(s) differ or cannot be regenerated" if bad else "every regenerable figure is identical")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
