"""Sphinx + MyST-NB configuration of the project's book (`make book` -> build/book/index.html).

The book is the repository read as a static site: the README, every `docs/*.md` page, `data/README.md`
and every numbered notebook with its committed outputs (nothing is executed). The source directory is
the repository root, so the relative links and figure paths the pages use on GitHub (`../figures/x.png`,
`../notebooks/05_offline_borel.ipynb`, `docs/architecture.md#the-results-tree`) resolve unchanged.
Built with `sphinx-build -c book . build/book` (the Makefile's `book` target).

Offline by construction: no extension or theme fetches anything at build time, and the pages load no
remote script, style sheet or font at view time. MathJax (the notebooks' `$...$`) comes from the
`django-static-mathjax` wheel (plain MathJax 3 files, no Django needed) and is copied into `_static/`,
instead of Sphinx's default CDN address.
"""

import shutil
from importlib import util as importlib_util
from pathlib import Path

project = "borel_lib"
author = "borel_lib contributors"
copyright = "the borel_lib contributors, MIT licence"

# ---- sources: the repository root, only the pages that belong in the book ------------------------------
root_doc = "book/index"
include_patterns = ["book/index.md", "README.md", "docs/*.md", "data/README.md", "notebooks/[0-9][0-9]_*.ipynb"]
# pruned while Sphinx walks the tree (speed; none of these holds a page)
exclude_patterns = [".venv", ".git", "build", "data/datasets", "data/checkpoints", "data/results", "**/.ipynb_checkpoints"]

extensions = ["myst_nb"]  # registers myst_parser for .md and its own reader for .ipynb

# ---- MyST / MyST-NB ------------------------------------------------------------------------------------
nb_execution_mode = "off"  # the committed outputs are the book's content; the build runs no kernel
myst_enable_extensions = ["dollarmath"]  # the notebooks write math as $...$
myst_heading_anchors = 4  # GitHub-style slugs, so links such as architecture.md#the-results-tree work
nb_merge_streams = True
# Markdown outputs (notebook 08's results table) are read as MyST like the pages: their relative links to
# notebooks and figures become links inside the book instead of pointing at .ipynb/.png paths it lacks
nb_render_markdown_format = "myst"

# ---- HTML ----------------------------------------------------------------------------------------------
html_theme = "furo"  # ships its CSS/JS in the wheel and uses system fonts: nothing remote
html_title = "borel_lib: the BOReL paper, reproducible"
html_last_updated_fmt = None
html_copy_source = False  # no _sources/ copies of the notebooks (they are large and on GitHub anyway)
html_show_sourcelink = False

# MathJax 3 from the local copy (copied by _copy_mathjax below); Sphinx resolves a relative path against
# _static/. tex-chtml-full holds every TeX extension, so MathJax never lazy-loads a component.
MATHJAX_FILES = ("tex-chtml-full.js", "output/chtml/fonts/woff-v2")
mathjax_path = "mathjax/tex-chtml-full.js"

suppress_warnings = ["myst.header"]  # the notebooks start at "#" and some docs skip a level on purpose


def _mathjax_es5() -> Path:
    """The `es5/` folder of the MathJax copy installed by the `book` extra (package `mathjax`)."""
    spec = importlib_util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is missing: install the book extra (pip install -e '.[book]', or make book)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


def _copy_mathjax(app, exception):
    """Copy the two MathJax parts the pages use into `<out>/_static/mathjax/` (about 1.7 MB)."""
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    for rel in MATHJAX_FILES:
        src, dst = source / rel, target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def _write_redirect(app, exception):
    """`<out>/index.html` opens the book's first page (`book/index.html`)."""
    if exception is not None or app.builder.format != "html":
        return
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta http-equiv="refresh" content="0; url=book/index.html">\n'
            f"<title>{html_title}</title></head>\n"
            '<body><p><a href="book/index.html">Open the book</a></p></body></html>\n')
    tmp = Path(app.outdir) / "index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(Path(app.outdir) / "index.html")


def setup(app):
    _mathjax_es5()  # fail at the start, with the fix, rather than after the whole build
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _write_redirect)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
