"""The exercises at the end of every numbered notebook, and their solutions (issue 34).

Every notebook ends with a "Summary" and an "Exercises" markdown cell (3–5 numbered exercises, each with
its expected outcome); ``solutions/NN_topic.py`` holds one ``exercise_k()`` per exercise that runs it at
smoke size and *asserts* the expected outcome. This file runs every solution, so a statement in a
notebook that stops being true fails here. Smoke outputs go under ``build/`` only.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import matplotlib
import pytest

from borel_lib.paths import repo_root

matplotlib.use("Agg")

ROOT = repo_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = ROOT / "solutions"
EXERCISE_ITEM = re.compile(r"^\d+\. \*\*", flags=re.M)


def load_solutions(stem: str) -> ModuleType:
    """``solutions/<stem>.py`` as a module (its name starts with a digit, so it is loaded by path)."""
    path = SOLUTIONS / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"borel_solutions_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _markdown(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _exercises_cell(path: Path) -> str:
    found = [m for m in _markdown(path) if m.startswith("## Exercises")]
    assert len(found) == 1, f"{path.name}: needs exactly one markdown cell starting '## Exercises'"
    return found[0]


def _all_exercises() -> list[tuple[str, str]]:
    out = []
    for nb in NOTEBOOKS:
        if (SOLUTIONS / f"{nb.stem}.py").is_file():
            out += [(nb.stem, fn.__name__) for fn in load_solutions(nb.stem).EXERCISES]
    return out


def test_every_numbered_notebook_ends_with_a_summary_and_exercises():
    assert NOTEBOOKS
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        last_two = ["".join(c["source"]) for c in cells[-2:]]
        assert [c["cell_type"] for c in cells[-2:]] == ["markdown", "markdown"], f"{nb.name}: must end with two markdown cells"
        assert last_two[0].startswith("## Summary") and last_two[1].startswith("## Exercises"), (
            f"{nb.name}: the last two cells must be '## Summary' then '## Exercises'")
        n = len(EXERCISE_ITEM.findall(last_two[1]))
        assert 3 <= n <= 5, f"{nb.name}: {n} exercises; needs 3 to 5, each a numbered '1. **Title.**' item"
        assert last_two[1].count("*Expected:*") >= n, f"{nb.name}: every exercise states its expected outcome"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(nb):
    path = SOLUTIONS / f"{nb.stem}.py"
    assert path.is_file(), f"{nb.name}: solutions/{nb.stem}.py is missing"
    module = load_solutions(nb.stem)
    names = [fn.__name__ for fn in module.EXERCISES]
    n = len(EXERCISE_ITEM.findall(_exercises_cell(nb)))
    assert names == [f"exercise_{k}" for k in range(1, n + 1)], (
        f"{path.name}: EXERCISES must be exercise_1..exercise_{n}, one per exercise of {nb.name}; got {names}")
    assert f"solutions/{nb.stem}.py" in _exercises_cell(nb), f"{nb.name}: the exercises must point to their solutions"
    for fn in module.EXERCISES:
        assert fn.__doc__ and "Expected:" in fn.__doc__, f"{path.name}: {fn.__name__} must state its expected outcome"




@pytest.mark.parametrize(("stem", "name"), _all_exercises(), ids=lambda v: v)
def test_solution(stem, name, one_thread):
    """Run one exercise at smoke size; it asserts the outcome its notebook states."""
    getattr(load_solutions(stem), name)()


def test_a_wrong_statement_fails(monkeypatch):
    """The solutions check their claims: if reward relabelling ignored its fraction, notebook 01's first
    exercise (fractions 0 and 1 fail Proposition 2, anything between repairs it) must fail."""
    from borel_lib import identifiability as idf

    module = load_solutions("01_mdp_ambiguity")
    real = idf.reward_relabel_visits
    monkeypatch.setattr(idf, "reward_relabel_visits", lambda visits, fraction=0.5, mdps=None: real(visits, 0.5, mdps))
    with pytest.raises(AssertionError):
        module.exercise_1()


def test_solutions_write_only_under_build():
    """The solutions that write files (figures, tables, smoke datasets) write under build/."""
    module = load_solutions("08_figures_and_tables")
    assert module.scratch().resolve().is_relative_to((ROOT / "build").resolve())
    for path in SOLUTIONS.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert '"quick"' not in text and '"paper"' not in text, f"{path.name}: solutions run at the smoke profile only"
