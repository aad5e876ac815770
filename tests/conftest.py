"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def empty_figures(tmp_path) -> Callable[..., Path]:
    """A factory: ``empty_figures("fig_a", "fig_b")`` makes ``tmp_path/figures`` holding an empty PNG per
    name, so a headline row whose figure must exist can be judged without drawing it."""
    def make(*names: str) -> Path:
        folder = tmp_path / "figures"
        folder.mkdir(exist_ok=True)
        for name in names:
            (folder / f"{name}.png").write_bytes(b"")
        return folder
    return make
