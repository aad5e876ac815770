"""The package layout stays readable (docs/architecture.md): no module reaches into another module's private
names, no module grows past about 600 lines, and the sub-packages hold what their names say."""

from __future__ import annotations

import ast
from pathlib import Path

import borel_lib

PACKAGE = Path(borel_lib.__file__).resolve().parent
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _package(module: str) -> str:
    return module.rpartition(".")[0]


def private_uses(module: str, source: str) -> list[str]:
    """Every use in ``module``'s ``source`` of another borel_lib module's private name: ``from m import _x``,
    ``import m._private_module`` from outside its package, and ``alias._x`` on an imported borel_lib module."""
    found, aliases = [], {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("borel_lib"):
            target = node.module
            parts = target.split(".")
            hidden = [p for p in parts if _private(p)]
            if hidden and not (module.startswith(target.rpartition(".")[0] + ".") or module == target.rpartition(".")[0]):
                found.append(f"{module}: imports private module {target}")
            for alias in node.names:
                if _private(alias.name) and target != module:
                    found.append(f"{module}: from {target} import {alias.name}")
                full = f"{target}.{alias.name}"
                if full in MODULES:
                    aliases[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("borel_lib") and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and _private(node.attr) and aliases[node.value.id] != module):
            found.append(f"{module}: {node.value.id}.{node.attr} ({aliases[node.value.id]})")
    return found


MODULES = _modules()


def test_no_module_uses_another_modules_private_names():
    problems = [p for m, path in MODULES.items() for p in private_uses(m, path.read_text(encoding="utf-8"))]
    assert problems == []


def test_the_private_name_check_can_fail():
    assert private_uses("borel_lib.x", "from borel_lib.agents import _helper\n") == [
        "borel_lib.x: from borel_lib.agents import _helper"]
    assert private_uses("borel_lib.x", "from borel_lib import agents\nagents._helper(1)\n") == [
        "borel_lib.x: agents._helper (borel_lib.agents)"]
    assert private_uses("borel_lib.figures.x", "from borel_lib.envs._mujoco import MujocoTaskEnv\n") == [
        "borel_lib.figures.x: imports private module borel_lib.envs._mujoco"]
    assert private_uses("borel_lib.envs.ant", "from borel_lib.envs._mujoco import MujocoTaskEnv\n") == []
    assert private_uses("borel_lib.collect", "from borel_lib.collect import main as _main\n") == []


def test_no_module_is_over_about_600_lines():
    long = {m: n for m, path in MODULES.items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_sub_packages_hold_what_their_names_say():
    subpackages = {m.split(".")[1] for m in MODULES if m.count(".") >= 2}
    assert {"baselines", "references", "figures", "envs"} <= subpackages
    assert {"borel_lib.baselines.pearl", "borel_lib.baselines.mbml", "borel_lib.references.exact_gridworld",
            "borel_lib.references.exact_belief", "borel_lib.references.scripted", "borel_lib.pipeline"} <= set(MODULES)
