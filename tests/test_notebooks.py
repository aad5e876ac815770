"""Notebook hygiene (design card) and the papermill parameter guard.

The notebooks themselves are executed by nbval in the smoke profile in the same ``make test`` run.
"""

import json
import re
from pathlib import Path

import pytest

from borel_lib.notebook import UnknownParameterError, find_unknown_parameters, setup_notebook
from borel_lib.paths import repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))


def _code_cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: name is not NN_topic.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3", f"{path.name}: kernelspec must be python3"
    code = _code_cells(path)
    first = code[0]
    assert "parameters" in first["metadata"].get("tags", []), f"{path.name}: first code cell not tagged parameters"
    src = "".join(first["source"])
    assert "PROFILE" in src and "BOREL_PROFILE" in src, f"{path.name}: parameters cell must read PROFILE from BOREL_PROFILE"
    assert "setup_notebook(globals()" in "".join(code[1]["source"]), (
        f"{path.name}: the cell after the parameters must call setup_notebook(globals(), ...)"
    )
    # stored outputs are allowed only as a clean quick-profile run (the repository page shows them):
    # no errors, no smoke-profile output, no machine paths
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name}: code cell {i} stores an error"
            text = json.dumps(out)
            assert "build/smoke" not in text, f"{path.name}: code cell {i} stores smoke-profile output"
            assert not re.search(r"/(root|home|tmp|work)/", text), f"{path.name}: code cell {i} stores a machine path"
    defined = [m for c in code for m in re.findall(r"^def (\w+)", "".join(c["source"]), flags=re.M)]
    assert not defined or len(defined) == len(set(defined)), f"{path.name}: function defined twice"


def test_no_function_defined_in_two_notebooks():
    seen: dict[str, str] = {}
    for path in NOTEBOOKS:
        for cell in _code_cells(path):
            for name in re.findall(r"^def (\w+)", "".join(cell["source"]), flags=re.M):
                assert name not in seen, f"function {name} defined in {seen[name]} and {path.name}: move it to borel_lib"
                seen[name] = path.name


def test_guard_accepts_declared_and_ignores_modules():
    import os

    ns = {"os": os, "PROFILE": "smoke", "SEED": 3, "In": [], "_": None, "setup_notebook": setup_notebook}
    assert find_unknown_parameters(ns, ("PROFILE", "SEED")) == []
    ctx = setup_notebook(ns, ("PROFILE", "SEED"))
    assert ctx.profile == "smoke" and ctx.seed == 3 and ctx.is_smoke


def test_guard_rejects_misspelt_parameter():
    with pytest.raises(UnknownParameterError, match=r"\['PROFLE'\].*accepts: PROFILE, SEED"):
        setup_notebook({"PROFILE": "quick", "SEED": 0, "PROFLE": "paper"}, ("PROFILE", "SEED"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_misspelt_parameter_fails_loudly(path, tmp_path):
    """A misspelt ``-p PROFLE smoke`` must stop the notebook, not silently run the default profile."""
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters={"PROFLE": "smoke"},
                                   kernel_name="python3", cwd=str(path.parent), progress_bar=False,
                                   log_output=False)
    assert "PROFLE" in str(err.value) and "UnknownParameterError" in str(err.value)


def test_setup_is_idempotent_in_one_namespace():
    """A second "Run All" in one kernel: the notebook's own variables are not parameters."""
    ns = {"PROFILE": "smoke", "SEED": 0}
    setup_notebook(ns, ("PROFILE", "SEED"))
    ns.update(n_tasks=8, grid=object(), PROFILE="smoke")  # variables the notebook defined, then the parameters cell
    ctx = setup_notebook(ns, ("PROFILE", "SEED"))
    assert ctx.profile == "smoke"
    with pytest.raises(UnknownParameterError, match="PROFLE"):  # a fresh namespace still rejects a typo
        setup_notebook({"PROFILE": "smoke", "SEED": 0, "PROFLE": "paper"}, ("PROFILE", "SEED"))


@pytest.mark.slow
def test_notebook_runs_twice_in_one_kernel(monkeypatch):
    """Execute a small notebook, then all its cells again in the same kernel (nbclient; a few seconds
    of kernel start-up and imports)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('import os\nPROFILE = os.environ.get("BOREL_PROFILE", "smoke")\nSEED = 0',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from borel_lib.notebook import setup_notebook\n\n"
                                          "nb = setup_notebook(globals(), params=['PROFILE', 'SEED'])"),
                nbformat.v4.new_code_cell("n_tasks = 3\nprint(nb.profile, n_tasks)"),
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as make reproduce / make test: figures must still be embedded
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(repo_root())}})
    with client.setup_kernel():
        for _ in range(2):
            for i, cell in enumerate(nb.cells):
                client.execute_cell(cell, i)  # raises CellExecutionError on an error
    assert "smoke 3" in nb.cells[2].outputs[0]["text"]
    assert any("image/png" in out.get("data", {}) for out in nb.cells[3].outputs), nb.cells[3].outputs
