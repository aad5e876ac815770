"""Figures: saved as PNG and PDF with stable metadata, so an unchanged figure is byte-identical."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from borel_lib.figures.style import savefig, set_style  # noqa: E402


def _figure():
    set_style()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.linspace(0, 1, 20), np.linspace(0, 1, 20) ** 2, label="x²")
    ax.legend()
    return fig


def test_saved_figures_are_byte_identical_across_runs(tmp_path):
    first = savefig(_figure(), "fig_test", directory=tmp_path / "a")
    second = savefig(_figure(), "fig_test", directory=tmp_path / "b")
    plt.close("all")
    assert [p.suffix for p in first] == [".png", ".pdf"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_saved_figures_carry_no_timestamp_or_version(tmp_path):
    png, pdf = savefig(_figure(), "fig_test", directory=tmp_path)
    plt.close("all")
    assert b"CreationDate" not in pdf.read_bytes() and b"Producer" not in pdf.read_bytes()
    assert b"Software" not in png.read_bytes() and b"matplotlib version" not in png.read_bytes()
