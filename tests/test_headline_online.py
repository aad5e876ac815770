"""The headline table's §6 online row (borel_lib.headline): off-policy vs on-policy VariBAD per domain and online
off-policy VariBAD's share of the exact Bayes-optimal Gridworld value, on small synthetic online tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from borel_lib import headline as h
from borel_lib.figures.online import online_seeds
from borel_lib.results import write_results

ROW = "§6 online (supp.)"
EPISODES = {"gridworld": 4, "semicircle": 2}
BAYES = (4.0, 11.0714, 11.0714, 11.0714)  # the exact Bayes-optimal Gridworld returns per episode: 9.30 on average


def _online_table(method: str, domain: str, seed: int, level: float, budget: int) -> pd.DataFrame:
    """An online run's evaluations as the learners write them: 10 evaluations up to ``budget`` environment
    steps, the paper's metric rising linearly to ``level`` (the last evaluation, the last 10 % of them) with a
    higher peak at the 5th (its best)."""
    rows = []
    for i in range(1, 11):
        for episode in range(1, EPISODES[domain] + 1):
            for metric, value in (("return", level * i / 10 if i != 5 else level + 10), ("success", 0.5)):
                rows.append({"domain": domain, "method": method, "variant": "online", "seed": seed, "episode": episode,
                             "metric": metric, "value": value, "iteration": i, "env_steps": budget * i // 10,
                             "cpu_seconds": float(i)})
    return pd.DataFrame(rows)


def _write(directory, levels: dict[tuple[str, str], list[float]], bayes=BAYES, budgets=None):
    """Online tables for ``levels[(method, domain)]`` (one level per seed) and, unless ``bayes`` is None, the
    references table with the Bayes-optimal Gridworld returns ``bayes``."""
    for (method, domain), per_seed in levels.items():
        for seed, level in enumerate(per_seed):
            budget = (budgets or {}).get((method, domain), 1000)
            write_results(_online_table(method, domain, seed, level, budget), f"online_{method}_{domain}_seed{seed}",
                          config=None, profile="quick", command="test", directory=directory)
    if bayes is not None:
        ref = pd.DataFrame([{"domain": "gridworld", "method": m, "variant": "reference", "seed": 0, "episode": e + 1,
                             "metric": "return", "value": v}
                            for m, values in (("bayes_optimal", bayes), ("thompson_sampling", (0.0,) * 4))
                            for e, v in enumerate(values)])
        write_results(ref, "references_semicircle_gridworld", config=None, profile="quick", command="test",
                      directory=directory)


def _levels(off_grid, on_grid, off_semi, on_semi):
    return {("varibad_offpolicy", "gridworld"): off_grid, ("varibad_ppo", "gridworld"): on_grid,
            ("varibad_offpolicy", "semicircle"): off_semi, ("varibad_ppo", "semicircle"): on_semi}


GOOD = _levels([9.0, 9.1, 8.9], [5.0, 5.2, 4.8], [50.0, 52.0, 51.0], [30.0, 31.0, 29.0])


@pytest.fixture
def figures(empty_figures):
    return empty_figures("fig_online_varibad")


def _row(directory, figures) -> pd.Series:
    return h.headline_table("quick", directory=directory, figures=figures).set_index("artefact").loc[ROW]


def test_the_online_row_is_in_the_table_with_its_notebook_and_figure():
    a = next(a for a in h.ARTEFACTS if a.name == ROW)
    assert (a.notebook, a.figure) == ("09_online_varibad", "fig_online_varibad")


def test_holds_when_off_policy_wins_on_both_domains_and_reaches_the_bar(tmp_path, figures):
    _write(tmp_path / "r", GOOD)
    row = _row(tmp_path / "r", figures)
    assert row.verdict == "holds", row.why
    bayes = np.mean(BAYES)
    assert f"share of the exact Bayes-optimal {bayes:.2f}" in row.ours and "9.30" in row.ours
    assert f"off-policy {h.iqm_text(np.array([9.0, 9.1, 8.9]) / bayes)}" in row.ours
    assert f"on-policy {h.iqm_text(np.array([5.0, 5.2, 4.8]) / bayes)}" in row.ours
    # the per-seed value is the last 10 % of the evaluations (the last one of 10), not the best or the mean
    assert f"off-policy {h.iqm_text([50.0, 52.0, 51.0])} vs on-policy {h.iqm_text([30.0, 31.0, 29.0])}" in row.ours


def test_the_bayes_optimal_value_comes_from_the_references_table(tmp_path, figures):
    _write(tmp_path / "r", GOOD, bayes=(20.0,) * 4)  # 9.0 / 20 = 0.45: below the bar
    row = _row(tmp_path / "r", figures)
    assert "share of the exact Bayes-optimal 20.00" in row.ours and h.iqm_text(np.array([9.0, 9.1, 8.9]) / 20) in row.ours
    assert row.verdict == "holds" and "(off-policy below the 90% bar)" in row.ours  # the bar is not the paper's claim


def test_fails_when_on_policy_wins_on_a_domain(tmp_path, figures):
    _write(tmp_path / "r", _levels([9.0, 9.1, 8.9], [5.0, 5.2, 4.8], [30.0, 31.0, 29.0], [50.0, 52.0, 51.0]))
    row = _row(tmp_path / "r", figures)
    assert row.verdict == "fails" and "Semi-circle: off-policy > on-policy: reversed" in row.why
    assert "Gridworld" not in row.why


def test_the_bayes_optimal_bar_is_reported_not_judged(tmp_path, figures):
    _write(tmp_path / "r", _levels([7.0, 7.1, 6.9], [5.0, 5.2, 4.8], [50.0, 52.0, 51.0], [30.0, 31.0, 29.0]))
    row = _row(tmp_path / "r", figures)
    assert row.verdict == "holds" and "(off-policy below the 90% bar)" in row.ours
    _write(tmp_path / "s", GOOD)
    assert "(off-policy above the 90% bar)" in _row(tmp_path / "s", figures).ours


def test_not_separated_when_the_seeds_overlap_or_the_budgets_differ(tmp_path, figures):
    _write(tmp_path / "r", _levels([9.5, 7.0, 9.6], [9.0, 9.4, 7.2], [50.0, 30.0, 40.0], [45.0, 35.0, 41.0]))
    row = _row(tmp_path / "r", figures)
    assert row.verdict == "not separated", row.why
    budgets = {("varibad_ppo", "semicircle"): 500}
    _write(tmp_path / "s", GOOD, budgets=budgets)
    row = _row(tmp_path / "s", figures)
    assert row.verdict == "partly" and row.why == "Semi-circle: off-policy > on-policy: not at the same environment steps"


def test_missing_tables_give_missing_outcomes_never_an_error(tmp_path, figures):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _row(empty, figures).verdict == "not produced"
    # the off-policy runs are absent (being re-run): every sub-claim is missing
    _write(tmp_path / "on", {k: v for k, v in GOOD.items() if k[0] == "varibad_ppo"})
    row = _row(tmp_path / "on", figures)
    assert row.verdict == "not produced" and "off-policy no table" in row.ours
    assert f"on-policy {h.iqm_text(np.array([5.0, 5.2, 4.8]) / np.mean(BAYES))}" in row.ours
    # Semi-circle not yet produced: the rest holds, the row holds partly
    _write(tmp_path / "grid", {k: v for k, v in GOOD.items() if k[1] == "gridworld"})
    row = _row(tmp_path / "grid", figures)
    assert row.verdict == "partly" and row.why == "Semi-circle: off-policy > on-policy: no table"
    # no references table: no share is shown, the orderings still count
    _write(tmp_path / "noref", GOOD, bayes=None)
    row = _row(tmp_path / "noref", figures)
    assert row.verdict == "holds" and "Bayes-optimal" not in row.ours


def test_one_seed_is_too_few_and_a_missing_figure_is_not_produced(tmp_path, figures):
    _write(tmp_path / "r", {k: v[:1] for k, v in GOOD.items()})
    row = _row(tmp_path / "r", figures)
    assert row.verdict == "not separated" and "one seed" in row.why and "(1 seed)" in row.ours
    _write(tmp_path / "s", GOOD)
    row = _row(tmp_path / "s", tmp_path / "no_figures")
    assert row.verdict == "not produced" and "not drawn" in row.why


def test_every_seed_with_a_table_is_read(tmp_path, figures):
    levels = {k: v + [v[0]] for k, v in GOOD.items()}  # seeds 0-3, past the profile's default seeds 0-2
    _write(tmp_path / "r", levels)
    assert online_seeds("quick", tmp_path / "r") == [0, 1, 2, 3]
    assert online_seeds("quick", tmp_path / "nothing") == []
    row = _row(tmp_path / "r", figures)
    assert f"off-policy {h.iqm_text([50.0, 52.0, 51.0, 50.0])}" in row.ours
