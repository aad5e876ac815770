"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def one_thread():
    """One torch thread for the test, as the commands and notebooks use: small networks are overhead-bound, and
    two threads on the busy 2-core machine are slower than one. Modules that train use it for every test with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
