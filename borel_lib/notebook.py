"""The setup call every notebook makes right after its ``parameters`` cell.

papermill injects parameters as plain assignments after the cell tagged ``parameters``; a misspelt
name (``-p PROFLE paper``) would silently define a new variable and the notebook would run the default
profile. :func:`setup_notebook` checks the kernel's namespace for any value-bearing name that is not a
declared parameter and fails loudly, then validates the profile, sets the plotting style, limits torch
threads, seeds everything and returns the paths the notebook writes to.

Re-running a notebook in the same kernel (a second "Run All", or re-running the setup cell) is
allowed: the first successful setup leaves a marker (:data:`SETUP_MARKER`) in the namespace, and a
later call only checks the names that were already there at the first call, so the notebook's own
variables (defined after setup) are not mistaken for parameters. papermill always starts a fresh
kernel, where there is no marker, so a misspelt ``-p`` option is still rejected.

:func:`show_source` puts the library code beside the paper's equations: a notebook shows the function
that computes an equation instead of defining it a second time.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from borel_lib.config import resolve_profile
from borel_lib.paths import figures_dir, repo_root, results_dir

SETUP_MARKER = "_borel_setup_names"
"""Namespace key under which :func:`setup_notebook` records the names it validated on its first call."""

_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


class UnknownParameterError(NameError):
    """A parameter was passed to a notebook that it does not declare (likely a typo)."""


@dataclasses.dataclass(frozen=True)
class NotebookContext:
    """What a notebook needs after setup."""

    profile: str
    """The validated profile: smoke, quick or paper."""
    seed: int
    """The notebook's seed (``SEED`` parameter, default 0)."""
    rng: np.random.Generator
    """A generator seeded with ``seed`` for the notebook's own sampling."""
    figures: Path
    """Where this profile's figures go (build folder for smoke)."""
    results: Path
    """Where this profile's result tables go (build folder for smoke)."""
    root: Path
    """The repository root."""

    @property
    def is_smoke(self) -> bool:
        return self.profile == "smoke"


def find_unknown_parameters(namespace: dict[str, Any], params: Iterable[str]) -> list[str]:
    """Names in ``namespace`` that hold plain values but are not declared ``params``.

    Modules, functions, classes, IPython's own names and ``_private`` names are ignored: before the
    setup call the only plain values in a notebook are the parameters cell's and papermill's.
    """
    declared = set(params)
    unknown = []
    for name, value in namespace.items():
        if name in declared or name.startswith("_") or name in _IPYTHON_NAMES:
            continue
        if isinstance(value, types.ModuleType) or inspect.isroutine(value) or inspect.isclass(value):
            continue
        unknown.append(name)
    return sorted(unknown)


def show_figures_inline() -> bool:
    """In a Jupyter kernel, switch matplotlib to the inline backend; return whether it did.

    ``make reproduce`` and ``make test`` set ``MPLBACKEND=Agg`` (headless, no GUI window), which alone
    would leave executed notebooks without their figures. The inline backend is headless too and
    embeds every shown figure in the notebook; :func:`borel_lib.figures.style.savefig` still writes the
    PNG and PDF files. Outside a kernel (plain Python, tests) nothing changes.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    shell.run_line_magic("matplotlib", "inline")
    return True


def setup_notebook(namespace: dict[str, Any], params: Iterable[str] = ("PROFILE", "SEED")) -> NotebookContext:
    """Validate the notebook's parameters and prepare the run (style, threads, seeds, folders).

    ``namespace`` is the notebook's ``globals()``; ``params`` the names its ``parameters`` cell
    declares. Raises :class:`UnknownParameterError` for any other injected name. Idempotent: calling it
    again in the same namespace (a re-run in one kernel) ignores names defined after the first call.
    """
    params = tuple(params)
    unknown = find_unknown_parameters(namespace, params)
    validated = namespace.get(SETUP_MARKER)
    if isinstance(validated, frozenset):  # a re-run: the notebook's own variables are not parameters
        unknown = [name for name in unknown if name in validated]
    if unknown:
        raise UnknownParameterError(
            f"unknown notebook parameter(s) {unknown}; this notebook accepts: {', '.join(params)} "
            "(check the spelling of papermill's -p options)"
        )
    if "PROFILE" not in namespace:
        raise UnknownParameterError("the parameters cell must define PROFILE (read from BOREL_PROFILE)")
    profile = resolve_profile(namespace["PROFILE"])
    seed = namespace.get("SEED", 0)

    from borel_lib.device import set_torch_threads
    from borel_lib.figures.style import set_style
    from borel_lib.seeding import seed_everything

    show_figures_inline()
    set_style()
    set_torch_threads(1)
    rng = seed_everything(seed)
    if not isinstance(validated, frozenset):
        namespace[SETUP_MARKER] = frozenset(namespace)
    return NotebookContext(profile=profile, seed=int(seed), rng=rng, figures=figures_dir(profile),
                           results=results_dir(profile), root=repo_root())


# ------------------------------------------------------------------------------------ show_source
def _unwrap(obj: Any) -> Any:
    """The function behind a property, classmethod, staticmethod or bound method."""
    if isinstance(obj, property):
        obj = obj.fget
    obj = getattr(obj, "__func__", obj)
    return inspect.unwrap(obj)


def _location(obj: Any) -> str:
    """``borel_lib/module.py:LINE`` relative to the repository root (never a machine path)."""
    path = Path(inspect.getsourcefile(obj) or "").resolve()
    line = inspect.getsourcelines(obj)[1]
    for base in (repo_root(), Path(__file__).resolve().parent.parent):
        try:
            return f"{path.relative_to(base).as_posix()}:{line}"
        except ValueError:
            continue
    return f"{path.name}:{line}"


def _private_helpers(obj: Any, source: str) -> list[Any]:
    """Module-level private functions of ``obj``'s module that ``source`` calls (``_name(``), in order of
    first call: a public function often hands its arithmetic to one such helper."""
    module = inspect.getmodule(obj)
    helpers = []
    for name in dict.fromkeys(re.findall(r"(?<![\w.])(_[A-Za-z]\w*)\(", source)):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and helper.__module__ == getattr(module, "__name__", None) and helper is not obj:
            helpers.append(helper)
    return helpers


def source_text(obj: Any, helpers: bool = True) -> str:
    """The source of a library function, method, property or class as plain text, headed by its
    qualified name and its file and line relative to the repository root. With ``helpers`` the private
    module-level functions it calls (``_name(...)`` in the same module) follow it, one level deep."""
    fn = _unwrap(obj)
    if not (inspect.isfunction(fn) or inspect.isclass(fn) or inspect.ismethod(fn)):
        raise TypeError(f"show_source: expected a function, method, property or class; got {type(obj).__name__}")
    blocks = []
    for item in [fn, *(_private_helpers(fn, inspect.getsource(fn)) if helpers else [])]:
        code = textwrap.dedent(inspect.getsource(item)).rstrip()
        blocks.append(f"# {item.__module__}.{item.__qualname__}  ({_location(item)})\n{code}")
    return "\n\n".join(blocks) + "\n"


def show_source(*objects: Any, helpers: bool = True) -> None:
    """Show the source of library functions beside the equation they compute (see :func:`source_text`).

    In a Jupyter kernel the code is displayed as a syntax-highlighted Markdown code block (with the plain
    text as the fallback representation); anywhere else it is printed. Returns nothing, so a notebook
    cell ending in ``show_source(fn)`` shows the code once."""
    if not objects:
        raise TypeError("show_source needs at least one function, method or class")
    text = "\n\n".join(source_text(obj, helpers=helpers) for obj in objects)
    try:
        from IPython import get_ipython
    except ImportError:
        shell = None
    else:
        shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        print(text, end="")
        return
    from IPython.display import display

    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    display({"text/markdown": f"{fence}python\n{text}{fence}\n", "text/plain": text}, raw=True)
