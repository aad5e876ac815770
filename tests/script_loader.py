"""Load a file of ``scripts/`` as a module, for the tests of the command-line scripts (they are not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
"""This checkout's scripts (not ``borel_lib.paths.repo_root()``, which a test may point at a temporary root)."""


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` executed as a fresh module named ``script_<name>`` (not put in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
