"""Solutions to the exercises of notebook 08 (every figure and table, from the committed results).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Figures and tables go to ``build/smoke/solutions/08_figures_and_tables/`` (never to the
committed folders). Run them all with ``python solutions/08_figures_and_tables.py`` (a few seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from borel_lib import stats
from borel_lib.figures import make_figure
from borel_lib.paths import build_dir
from borel_lib.references import exact_gridworld as eg
from borel_lib.results import read_results, result_path, validate_tidy, write_results


def scratch() -> Path:
    """This file's output folder under the gitignored build tree."""
    path = build_dir() / "smoke" / "solutions" / "08_figures_and_tables"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _bytes(paths: list[Path]) -> dict[str, bytes]:
    return {p.suffix: p.read_bytes() for p in paths}


def exercise_1() -> dict[str, int]:
    """Draw Figure 2 twice (``make_figure("fig2_mdp_ambiguity", ...)``) into a scratch folder and compare
    the files byte for byte.

    Expected: the PNG and the PDF are identical: the figures are saved with fixed metadata (no date, no
    version string), which is what lets ``scripts/check_figures.py`` prove that a committed figure comes
    from the committed tables."""
    out = scratch() / "figures"
    first = _bytes(make_figure("fig2_mdp_ambiguity", "smoke", out_dir=out))
    second = _bytes(make_figure("fig2_mdp_ambiguity", "smoke", out_dir=out))
    assert set(first) == {".png", ".pdf"} and first == second
    return {"png bytes": len(first[".png"]), "pdf bytes": len(first[".pdf"])}


def exercise_2() -> dict[str, bool]:
    """A figure is a function of its tables: write the smoke Gridworld's exact tables (notebook 01) to a
    scratch results folder, draw ``fig3_gridworld_exact`` from it, change one number in the table
    (Thompson sampling's episode-1 return) and draw again, then restore the table and draw a third time.

    Expected: the edited table gives a different PNG; the restored table gives back the first PNG
    byte for byte. Nothing else (no model, no checkpoint) is read."""
    tables, figures = scratch() / "results", scratch() / "figures"
    spec = eg.GridSpec.for_profile("smoke")
    results = [eg.bayes_optimal_returns(spec, progress=False), eg.thompson_sampling_returns(spec), eg.oracle_returns(spec)]
    table = eg.results_table(spec, results)
    command = "python solutions/08_figures_and_tables.py"
    write_results(eg.search_path_table(spec, results[0]), "gridworld_exact_search", config=spec, profile="smoke",
                  command=command, directory=tables)

    def draw(df: pd.DataFrame) -> bytes:
        write_results(df, "gridworld_exact", config=spec, profile="smoke", command=command, directory=tables)
        return _bytes(make_figure("fig3_gridworld_exact", "smoke", directory=tables, out_dir=figures))[".png"]

    original = draw(table)
    edited = table.copy()
    row = (edited.method == "thompson_sampling") & (edited.metric == "return") & (edited.episode == 1)
    assert row.sum() == 1
    edited.loc[row, "value"] += 1.0
    changed = draw(edited)
    restored = draw(table)
    assert read_results("gridworld_exact", "smoke", directory=tables).shape == table.shape
    out = {"edited table changes the figure": changed != original, "restored table restores it": restored == original}
    assert all(out.values())
    return out


def exercise_3() -> dict[str, object]:
    """What three seeds can say: the interquartile mean and the verdict on "a > b" of ``borel_lib.stats``.

    Expected: with 2 seeds the IQM is the mean; with 3 it is x₍₁₎/6 + 2x₍₂₎/3 + x₍₃₎/6 of the sorted values;
    one seed per side gives "too few seeds"; seeds [10, 11, 12] against [0, 1, 2] give "holds" (and
    "reversed" the other way round); seeds [0, 10, 5] against [4, 6, 5] give "not separated", although
    their means differ."""
    assert np.isclose(stats.iqm([3.0, 7.0]), 5.0)
    x = np.array([9.0, 1.0, 4.0])
    lo, mid, hi = np.sort(x)
    assert np.isclose(stats.iqm(x), lo / 6 + 2 * mid / 3 + hi / 6)
    out = {"one seed each": stats.verdict([5.0], [1.0]),
           "clearly apart": stats.verdict([10.0, 11.0, 12.0], [0.0, 1.0, 2.0]),
           "clearly apart, swapped": stats.verdict([0.0, 1.0, 2.0], [10.0, 11.0, 12.0]),
           "overlapping": stats.verdict([0.0, 10.0, 5.0], [4.0, 6.0, 5.0])}
    assert out == {"one seed each": "too few seeds", "clearly apart": "holds", "clearly apart, swapped": "reversed",
                   "overlapping": "not separated"}
    return out


def exercise_4() -> dict[str, str]:
    """Hand ``write_results`` a table without its ``seed`` column, and one with a missing value.

    Expected: both are refused with one line naming the problem (the missing column and the required
    ones; the column ``value`` and a bad row), and nothing is written."""
    good = pd.DataFrame({"domain": ["gridworld"], "method": ["x"], "variant": ["y"], "seed": [0], "episode": [1],
                         "metric": ["return"], "value": [1.0]})
    validate_tidy(good)
    messages = {}
    for name, bad in (("no seed", good.drop(columns="seed")), ("NaN value", good.assign(value=[np.nan]))):
        target = result_path("exercise_table", "smoke", directory=scratch() / "results")
        try:
            write_results(bad, "exercise_table", config={}, profile="smoke", command="-", directory=scratch() / "results")
        except ValueError as err:
            messages[name] = str(err)
        else:
            raise AssertionError(f"{name}: an invalid table was accepted")
        assert not target.exists()
    assert "missing column(s) ['seed']" in messages["no seed"] and "'value'" in messages["NaN value"]
    assert all("\n" not in m for m in messages.values())
    return messages


EXERCISES = (exercise_1, exercise_2, exercise_3, exercise_4)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
