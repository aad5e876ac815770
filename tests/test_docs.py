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


@pytest.mark.parametrize("doc", ["README.md", "docs/differences.md", "docs/datasets.md", "docs/architecture.md", "data/README.md",
                                 "notebooks/02_domains.ipynb"])
def test_relative_links_resolve(doc):
    path = ROOT / doc
    assert path.is_file(), f"{doc} is missing"
    for target in re.findall(r"\]\(([^)#\s]+)\)", path.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{doc}: link to {target} does not resolve"
