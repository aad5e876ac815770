"""The repository stands alone: no pointer outside it, and every relative link in the docs resolves."""

import re
import subprocess

import pytest

from borel_lib.paths import repo_root

ROOT = repo_root()
MARKER = "shared" + "/"  # spelt in two parts so this file does not match itself
# absolute paths of a particular machine (a developer's home, a scratch or work folder); spelt with a
# character class so this file does not match itself
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:[w]ork|[h]ome|[r]oot|[t]mp|[U]sers|[m]nt)/")


def _tracked_files():
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / line for line in out.splitlines() if line]


def test_no_reference_outside_the_repository():
    offenders = []
    for path in _tracked_files():
        if path.suffix not in (".py", ".md", ".ipynb", ".toml", ".yml", ".cfg", ".txt", ".json", ".csv", "") \
                or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if MARKER in line or MACHINE_PATH.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert not offenders, f"references outside the repository: {offenders}"


DOCS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")), "data/README.md",
        "notebooks/02_domains.ipynb"]
"""Every page whose relative links must resolve: the README, every page under docs/, data/README.md."""
PAGES = ("docs/results.md", "docs/evidence.md", "docs/tuning.md", "docs/benchmarks.md", "docs/sweeps.md", "docs/notebooks.md",
         "docs/architecture.md", "docs/differences.md", "docs/datasets.md")
"""The documentation pages the README links to (what used to be README sections lives in the first six)."""


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_resolve(doc):
    path = ROOT / doc
    assert path.is_file(), f"{doc} is missing"
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(#[^)\s]*)?\)", path.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        file = (path.parent / target) if target else path
        assert file.exists(), f"{doc}: link to {target} does not resolve"
        if anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), flags=re.M)
            assert anchor[1:] in {_anchor(h) for h in headings}, f"{doc}: link to {target}{anchor}: no such heading"


def test_readme_is_one_page():
    """Issue 34: a README of about 150 lines (at most about 180): what this is with the paper's and the
    authors' code links, one picture, the two commands, JupyterLab, the profiles, the generated headline table
    and links to the documentation pages, where everything else lives."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 180, f"README.md has {len(text.splitlines())} lines (at most about 180)"
    assert len(re.findall(r"!\[[^\]]*\]\(", text)) == 1, "the README shows exactly one image"
    assert "https://arxiv.org/abs/2008.02598" in text and "https://github.com/Rondorf/BOReL" in text
    for command in ("make reproduce", "make test", "make lab", "make kernel", ".ci/run"):
        assert command in text, f"README.md does not mention `{command}`"
    assert "<!-- headline:start -->" in text and "<!-- headline:end -->" in text
    for page in PAGES:
        assert f"]({page})" in text, f"README.md does not link {page}"
        assert (ROOT / page).is_file(), f"{page} is missing"


def test_ci_runs_the_readme_test_command():
    """The test command the README gives (`make test`) is what CI runs."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must run `make test`, the README's test command"
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
