"""The README's headline table (borel_lib.headline): the README's copy equals the table generated from the
committed tables, and the verdict rules say what their docstring says, on small synthetic tables."""

from __future__ import annotations

import pandas as pd
import pytest
from script_loader import load_script

from borel_lib import headline as h
from borel_lib.paths import repo_root, results_dir
from borel_lib.pipeline import RunSpec
from borel_lib.results import write_results

ROOT = repo_root()


# ---- the README against the committed tables --------------------------------------------------------------


def test_readme_headline_is_generated_from_the_committed_tables():
    if not (results_dir("quick") / "borel").is_dir():
        pytest.skip("no committed quick results")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert h.between_markers(readme) == h.headline_markdown("quick"), (
        "README.md's headline table differs from the committed tables: run `make headline` "
        "(python scripts/headline.py) and commit README.md")


def test_every_paper_artefact_has_a_row():
    names = [a.name for a in h.ARTEFACTS]
    for expected in ("Figure 1 (left)", "Figure 1 (right)", "Figure 2", "Figure 3, Gridworld", "Figure 3, Semi-circle",
                     "Figure 3, Ant-Semi-circle", "Figure 3, Half-Cheetah-Vel", "Figure 3, Reacher-Image",
                     "Figure 4, Wind", "Figure 4, Escape-Room", "Figure 5", "Figure 7 (supp.)", "Figure 10 (supp.)",
                     "Figure 11 (supp.)", "Table 1"):
        assert expected in names
    for a in h.ARTEFACTS:
        assert (ROOT / "notebooks" / f"{a.notebook}.ipynb").is_file(), a


# ---- the rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, said, outcome", [
    (">", "holds", "holds"), (">", "not separated", "not separated"), (">", "reversed", "fails"),
    ("≥", "holds", "holds"), ("≥", "not separated", "holds"), ("≥", "reversed", "fails"),
    ("≈", "not separated", "holds"), ("≈", "holds", "fails"), ("≈", "reversed", "fails"),
    (">", "too few seeds", "too few seeds")])
def test_ordering_outcome(kind, said, outcome):
    assert h.ordering_outcome(kind, said) == outcome


def test_ordering_outcome_refuses_unknown_kinds_and_answers():
    with pytest.raises(ValueError, match="kind="):
        h.ordering_outcome("<", "holds")
    with pytest.raises(ValueError, match="said="):
        h.ordering_outcome(">", "maybe")


def test_share_outcome():
    assert h.share_outcome([0.8, 0.9, 0.85]) == "holds"
    assert h.share_outcome([0.3, 0.4, 0.35]) == "partly"
    assert h.share_outcome([0.0, 0.0, 0.2]) == "not separated"
    assert h.share_outcome([0.0, 0.0, 0.0]) == "fails"
    assert h.share_outcome([0.9]) == "too few seeds"


def test_reference_repair_and_point_outcomes():
    assert h.reference_outcome([6.0, 6.5, 6.2], 2.0) == "holds"
    assert h.reference_outcome([1.0, 1.5, 1.2], 2.0) == "fails"
    assert h.reference_outcome([1.0, 3.0, 2.0], 2.0) == "not separated"
    assert (h.repair_outcome(44, 0), h.repair_outcome(3, 3), h.repair_outcome(1, 2)) == ("holds", "not separated", "fails")
    assert (h.point_outcome(0.4, 0.3), h.point_outcome(0.3, 0.4)) == ("holds", "fails")


@pytest.mark.parametrize("outcomes, verdict", [
    ([], "not produced"), (["missing", "missing"], "not produced"), (["holds", "holds"], "holds"),
    (["holds", "fails"], "fails"), (["holds", "not separated"], "partly"), (["holds", "missing"], "partly"),
    (["partly"], "partly"), (["not separated", "too few seeds"], "not separated"), (["missing", "not separated"], "not separated")])
def test_combine(outcomes, verdict):
    assert h.combine(outcomes) == verdict
    assert verdict in h.VERDICTS


def test_combine_refuses_an_unknown_outcome():
    with pytest.raises(ValueError, match="allowed values"):
        h.combine(["holds", "probably"])


def test_a_claim_whose_method_reaches_no_goal_holds_at_most_partly():
    row = h.Row("x", [("a > b", "holds", "holds")], no_goal=True)
    verdict, why = row.verdict()
    assert verdict == "partly" and "no evaluation goal" in why
    assert h.Row("x", [("a > b", "holds", "holds")]).verdict() == ("holds", "")
    assert h.Row("x", [("a > b", "missing", "no table")]).verdict() == ("not produced", "")


def test_markers_round_trip_and_errors():
    text = f"intro\n{h.START}\nold\n{h.END}\nrest\n"
    new = h.replace_between_markers(text, "| new |")
    assert h.between_markers(new) == "| new |" and new.startswith("intro\n") and new.endswith("\nrest\n")
    with pytest.raises(ValueError, match="must hold"):
        h.replace_between_markers("no markers", "x")


# ---- the table on small synthetic result tables ---------------------------------------------------------


def _borel_table(domain: str, relabelling: str, seed: int, level: float, success: float = 0.5) -> tuple[str, pd.DataFrame]:
    """A BOReL run's per-evaluation rows (as the pipeline writes them): return per episode and success at
    10 evaluations, the last one at ``level``."""
    rows = []
    for updates in range(1000, 11000, 1000):
        for episode in (1, 2, 3, 4):
            rows.append({"domain": domain, "method": "borel", "variant": relabelling, "seed": seed, "episode": episode,
                         "metric": "return", "value": level, "updates": updates})
            rows.append({"domain": domain, "method": "borel", "variant": relabelling, "seed": seed, "episode": episode,
                         "metric": "success", "value": success, "updates": updates})
    return "borel_" + RunSpec(domain, "quick", relabelling=relabelling, seed=seed).tag, pd.DataFrame(rows)


def _gridworld_tables(tmp_path, rr_levels, none_levels, ts=2.0):
    for relabelling, levels in (("reward_relabelling", rr_levels), ("none", none_levels)):
        for seed, level in enumerate(levels):
            name, df = _borel_table("gridworld", relabelling, seed, level)
            write_results(df, name, config=None, profile="quick", command="test", directory=tmp_path)
    ref = pd.DataFrame([{"domain": "gridworld", "method": "thompson_sampling", "variant": "reference", "seed": 0,
                         "episode": e, "metric": "return", "value": ts} for e in (1, 2, 3, 4)])
    write_results(ref, "references_semicircle_gridworld", config=None, profile="quick", command="test", directory=tmp_path)


def _gridworld_row(tmp_path, figures) -> pd.Series:
    table = h.headline_table("quick", directory=tmp_path, figures=figures)
    return table.set_index("artefact").loc["Figure 3, Gridworld"]


@pytest.fixture
def figures(empty_figures):
    return empty_figures("fig3_borel_gridworld_semicircle")


def test_gridworld_row_holds_when_both_orderings_are_separated(tmp_path, figures):
    _gridworld_tables(tmp_path / "r", [6.4, 6.5, 6.0], [3.2, 3.0, 3.5])
    row = _gridworld_row(tmp_path / "r", figures)
    assert row.verdict == "holds", row.why
    # the numbers come from the tables: IQM of (6.0, 6.4, 6.5) = 6.0 / 6 + 2 * 6.4 / 3 + 6.5 / 6
    assert "RR 6.35 [6.00, 6.50]" in row.ours and "exact Thompson sampling 2.00" in row.ours


def test_gridworld_row_fails_when_an_ordering_is_reversed(tmp_path, figures):
    _gridworld_tables(tmp_path / "r", [3.0, 3.1, 2.9], [6.0, 6.2, 6.1])
    row = _gridworld_row(tmp_path / "r", figures)
    assert row.verdict == "fails" and "RR > no RR: reversed" in row.why


def test_gridworld_row_is_not_separated_or_partly_when_the_intervals_overlap(tmp_path, figures):
    _gridworld_tables(tmp_path / "r", [6.0, 3.0, 4.5], [5.5, 3.5, 4.0], ts=4.5)
    row = _gridworld_row(tmp_path / "r", figures)
    assert row.verdict == "not separated", row.why
    _gridworld_tables(tmp_path / "s", [6.0, 3.0, 4.5], [5.5, 3.5, 4.0], ts=1.0)
    assert _gridworld_row(tmp_path / "s", figures).verdict == "partly"


def test_rows_without_tables_or_figures_are_not_produced(tmp_path, figures):
    empty = tmp_path / "empty"
    empty.mkdir()
    table = h.headline_table("quick", directory=empty, figures=figures).set_index("artefact")
    assert (table.verdict == "not produced").all(), table.verdict.to_dict()
    _gridworld_tables(tmp_path / "r", [6.4, 6.5, 6.0], [3.2, 3.0, 3.5])
    row = _gridworld_row(tmp_path / "r", tmp_path / "no_figures")
    assert row.verdict == "not produced" and "not drawn" in row.why


def test_markdown_links_are_relative_to_the_document(tmp_path, figures):
    _gridworld_tables(tmp_path / "r", [6.4, 6.5, 6.0], [3.2, 3.0, 3.5])
    md = h.headline_markdown("quick", directory=tmp_path / "r", figures=figures, base=ROOT / "notebooks")
    assert "[05](05_offline_borel.ipynb)" in md and "](figures/fig3_borel_gridworld_semicircle.png)" not in md
    lines = md.splitlines()
    assert len(lines) == 2 + len(h.ARTEFACTS)
    assert all(line.startswith("| ") and line.endswith(" |") and line.count(" | ") == 4 for line in lines[2:])
    readme = h.headline_markdown("quick", directory=tmp_path / "r", figures=figures)
    assert "[05](notebooks/05_offline_borel.ipynb)" in readme


def test_not_produced_lists_every_missing_artefact_of_the_committed_tables(capsys):
    script = load_script("headline")
    assert script.main(["--not-produced", "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    missing = h.headline_table("quick")
    missing = missing[missing.verdict == "not produced"]
    assert len(out.strip().splitlines()) == len(missing) + 1
    for name in missing.artefact:
        assert f"  {name}: " in out


@pytest.mark.parametrize(("config", "expected"), [
    ("pearl_semicircle", "PEARL"), ("pearl_semicircle_h300x300x300", "PEARL, tuned"), ("pearl_reacher_image", "PEARL"),
    ("mbml_semicircle_uniform", "MBML"), ("mbml_semicircle_uniform_lr0.001", "MBML, tuned"),
    ("mbml_ant_semicircle_exclude_semicircle", "MBML"), ("mbml_cheetah_vel_fixed", "MBML"),
    ("pearl_ant_semicircle", "PEARL"), ("semicircle_uniform_reward_relabelling", "RR")])
def test_label_names_a_tuned_baseline(config, expected):
    """A baseline configuration with settings beyond its domain (and MBML's data variant) is the tuned one."""
    assert h.label(config) == expected
