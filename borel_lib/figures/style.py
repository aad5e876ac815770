"""One place for the figure style, and a ``savefig`` that writes PNG and PDF with stable metadata.

Figures are rebuilt often (every CI run, every notebook execution); stripping the creation date and
software version from their metadata keeps committed figures byte-stable when nothing changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

from borel_lib.io import atomic_path
from borel_lib.paths import figures_dir

METHOD_COLORS: dict[str, str] = {
    "bayes_optimal": "#000000",
    "oracle": "#7f7f7f",
    "thompson_sampling": "#2ca02c",
    "borel_rr": "#1f77b4",
    "borel_no_rr": "#d62728",
    "borel_rr_cql": "#17becf",
    "borel_exact": "#8c564b",
    "search_then_go": "#000000",
    "borel_pr": "#1f77b4",
    "borel_no_pr": "#d62728",
    "pearl": "#9467bd",
    "mbml": "#ff7f0e",
}
"""One colour per method across every figure (the paper's blue = with RR/PR, red = without)."""

_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def set_style() -> None:
    """The project's plotting style: seaborn ``whitegrid``/``notebook``, colour-blind palette,
    embedded TrueType fonts in PDFs, deterministic SVG ids."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    matplotlib.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "svg.hashsalt": "borel_lib",
            "axes.titlesize": "medium",
            "legend.frameon": False,
        }
    )


def savefig(fig, name: str, profile: str | None = None, formats: Sequence[str] = ("png", "pdf"),
            directory: str | Path | None = None) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` and ``<name>.pdf`` in the profile's figures folder.

    ``smoke`` figures land in the gitignored build folder, never over committed ones. Files are
    written atomically and without timestamps, so an unchanged figure is byte-identical.
    """
    if not name or any(sep in name for sep in "/\\") or name.startswith("."):
        raise ValueError(f"figure name must be a plain file stem like 'fig3_gridworld'; got {name!r}")
    allowed = ("png", "pdf", "svg")
    bad = [f for f in formats if f not in allowed]
    if bad:
        raise ValueError(f"unknown figure format(s) {bad}; allowed values: {', '.join(allowed)}")
    out_dir = Path(directory) if directory is not None else figures_dir(profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        metadata = {"png": _PNG_METADATA, "pdf": _PDF_METADATA, "svg": {"Date": None}}[fmt]
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata)
        written.append(path)
    return written
