"""The committed result files match their checksums (``data/results/MANIFEST.sha256``, issue 35): a hand edit of
a committed table or config fails this test. After regenerating results on purpose, run
``python scripts/results_manifest.py --write`` and commit the manifest with them."""

from __future__ import annotations

import pytest
from script_loader import load_script

from borel_lib.paths import repo_root


def _script():
    return load_script("results_manifest")


def test_committed_results_match_the_manifest():
    problems = _script().check(repo_root())
    assert not problems, ("result files differ from data/results/MANIFEST.sha256 (restore a file changed by accident "
                          "with `git checkout -- <path>`; after regenerating results on purpose run "
                          "`python scripts/results_manifest.py --write` and commit it):\n" + "\n".join(problems))


def test_check_names_each_changed_missing_and_unlisted_file(tmp_path, capsys):
    manifest = _script()
    tables = tmp_path / "data" / "results" / "quick" / "analysis"
    tables.mkdir(parents=True)
    for name in ("a.csv", "a.config.json", "b.csv", "c.csv.gz"):
        (tables / name).write_bytes(f"{name}\n".encode())
    assert manifest.main(["--write", "--root", str(tmp_path)]) == 0
    listed = (tmp_path / "data" / "results" / "MANIFEST.sha256").read_text().splitlines()
    assert [line.split("  ")[1] for line in listed] == [f"data/results/quick/analysis/{n}" for n in
                                                         ("a.config.json", "a.csv", "b.csv", "c.csv.gz")]
    assert manifest.main(["--check", "--root", str(tmp_path)]) == 0
    (tables / "a.csv").write_bytes(b"a.csv\n1\n")  # a hand edit
    (tables / "b.csv").unlink()
    (tables / "d.csv").write_bytes(b"new\n")
    (tables / ".d.csv.tmp-123.csv").write_bytes(b"a writer's temporary file\n")  # hidden: not a result
    capsys.readouterr()
    assert manifest.main(["--check", "--root", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == ["data/results/quick/analysis/a.csv: changed (its sha256 differs from MANIFEST.sha256)",
                                "data/results/quick/analysis/b.csv: missing (listed in MANIFEST.sha256, not on disk)",
                                "data/results/quick/analysis/d.csv: not listed in MANIFEST.sha256"]
    assert "3 result file(s) differ" in err and "results_manifest.py --write" in err
    assert manifest.main(["--write", "--root", str(tmp_path)]) == 0
    assert manifest.main(["--check", "--root", str(tmp_path)]) == 0


def test_a_malformed_or_absent_manifest_is_an_error(tmp_path, capsys):
    manifest = _script()
    (tmp_path / "data" / "results").mkdir(parents=True)
    assert manifest.main(["--check", "--root", str(tmp_path)]) == 1
    assert "MANIFEST.sha256 does not exist" in capsys.readouterr().err
    (tmp_path / "data" / "results" / "MANIFEST.sha256").write_text("not a checksum\n")
    with pytest.raises(ValueError, match="line 1: not '<sha256>  <path>'"):
        manifest.check(tmp_path)
