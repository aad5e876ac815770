"""Figure 3's Reacher-Image panel, the fingertip trajectories and the headline rule (issue 32), on small synthetic
result tables: the bars are the IQM over seeds with a bootstrap 95 % interval, methods without runs are left out,
the references are lines, and the headline's verdicts follow the rule; plus scripts/reacher_references.py at
smoke size."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from script_loader import load_script

from borel_lib import figures  # noqa: E402
from borel_lib import headline as h  # noqa: E402
from borel_lib.baselines.common import summarise  # noqa: E402
from borel_lib.baselines.mbml import run_tag as mbml_tag  # noqa: E402
from borel_lib.figures import mujoco  # noqa: E402
from borel_lib.pipeline import RunSpec  # noqa: E402
from borel_lib.results import read_table_file, result_path, write_results  # noqa: E402
from borel_lib.stats import bootstrap_ci, iqm  # noqa: E402

DOMAIN = "reacher_image"
ROW = "Figure 3, Reacher-Image"
BOREL = {"borel_rr": {}, "borel_no_rr": {"relabelling": "none"}, "borel_exact": {"belief": "exact"}}


def _write(df: pd.DataFrame, name: str, directory) -> None:
    write_results(df, name, config=None, profile="quick", command="test", directory=directory)


def _borel(directory, method: str, levels) -> None:
    """BOReL runs, one per seed: 10 evaluations of return (episodes 1, 2) and success, the last ones at the level."""
    for seed, level in enumerate(levels):
        rows = [{"domain": DOMAIN, "method": method, "variant": "fixed", "seed": seed, "episode": e, "metric": m,
                 "value": level if m == "return" else 0.5, "updates": u}
                for u in range(1000, 11000, 1000) for e in (1, 2) for m in ("return", "success")]
        _write(pd.DataFrame(rows), "borel_" + RunSpec(DOMAIN, "quick", seed=seed, **BOREL[method]).tag, directory)


def _baseline(directory, method: str, levels) -> None:
    """PEARL / MBML runs as the baselines write them (:func:`summarise`: per-evaluation rows, best/final rows)."""
    for seed, level in enumerate(levels):
        rows = [{"domain": DOMAIN, "method": method, "variant": "online", "seed": seed, "episode": e, "metric": m,
                 "value": level if m == "return" else 0.0, "iteration": it}
                for it in range(1, 11) for e in (1, 2) for m in ("return", "success")]
        name = f"pearl_{DOMAIN}_seed{seed}" if method == "pearl" else mbml_tag(DOMAIN, seed, None, "quick")
        _write(summarise(pd.DataFrame(rows), eval_episodes=2), name, directory)


def _references(directory, oracle=-1.1, still=-7.3) -> None:
    rows = [{"domain": DOMAIN, "method": m, "variant": "fixed", "seed": s, "episode": e, "metric": "return", "value": v}
            for m, v in (("oracle", oracle), ("standing_still", still)) for s in (0, 1, 2) for e in (1, 2)]
    _write(pd.DataFrame(rows), "references_reacher_image", directory)


def _traj(directory, method: str, n_tasks: int = 5, seed: int = 0) -> None:
    """A run's ``_traj`` table: the fingertip on a line for each task and episode, two evaluations (BOReL) or one."""
    frames = []
    for stamp in ((1000, 2000) if method.startswith("borel") else (10,)):
        for task in range(n_tasks):
            for episode in (1, 2):
                t = np.arange(50) + 50 * (episode - 1)
                frames += [pd.DataFrame({"domain": DOMAIN, "method": method, "variant": "fixed", "seed": seed,
                                         "episode": episode, "metric": metric, "value": value, "task": task, "t": t,
                                         ("updates" if method.startswith("borel") else "iteration"): stamp})
                           for metric, value in (("x", 0.21 - 0.001 * (t % 50)), ("y", 0.002 * (t % 50)),
                                                 ("reward", -0.1 + 0 * t))]
    df = pd.concat(frames, ignore_index=True)
    if method.startswith("borel"):
        name = "borel_" + RunSpec(DOMAIN, "quick", seed=seed, **BOREL[method]).tag
    else:
        name = f"pearl_{DOMAIN}_seed{seed}" if method == "pearl" else mbml_tag(DOMAIN, seed, None, "quick")
    _write(df, f"{name}_traj", directory)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ---- the bars ----------------------------------------------------------------------------------------------


def test_values_are_the_last_10_percent_per_seed_and_missing_methods_are_left_out(tmp_path):
    _borel(tmp_path, "borel_rr", [-3.0, -3.2, -2.9])
    _baseline(tmp_path, "pearl", [-6.0, -6.1])
    values = mujoco.reacher_values("quick", tmp_path, seeds=[0, 1, 2])
    assert set(values) == {"borel_rr", "pearl"}
    np.testing.assert_allclose(values["borel_rr"], [-3.0, -3.2, -2.9])
    np.testing.assert_allclose(values["pearl"], [-6.0, -6.1])
    assert set(mujoco.reacher_values("quick", tmp_path, seeds=[2])) == {"borel_rr"}  # PEARL has no seed 2


def test_bars_are_iqm_with_bootstrap_interval_and_references_are_lines(tmp_path):
    rr, pearl, exact = [-3.0, -3.4, -2.9], [-6.0, -6.4, -5.5], [-2.0, -2.2, -2.1]
    _borel(tmp_path, "borel_rr", rr)
    _borel(tmp_path, "borel_exact", exact)
    _baseline(tmp_path, "pearl", pearl)
    _references(tmp_path, oracle=-1.1, still=-7.3)
    fig = mujoco.reacher_bars("quick", tmp_path, seeds=[0, 1, 2])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert [lab.split("\n")[0] for lab in labels] == ["BOReL (RR)", "BOReL,", "PEARL"]  # no-RR and MBML: not run
    assert all(lab.endswith("3 seeds") for lab in labels)
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [iqm(rr), iqm(exact), iqm(pearl)])
    # the error bar of the first bar spans the bootstrap interval
    low, high = bootstrap_ci(rr)
    segments = [c for c in ax.collections if hasattr(c, "get_segments") and len(c.get_segments())]
    ends = sorted(float(v) for v in segments[0].get_segments()[0][:, 1])
    np.testing.assert_allclose(ends, [low, high])
    lines = {round(float(line.get_ydata()[0]), 6) for line in ax.lines if len(set(line.get_ydata())) == 1}
    assert {-1.1, -7.3} <= lines
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("goal-known arm") for t in legend) and any(t.startswith("standing still") for t in legend)


def test_bars_without_references_say_so_and_without_runs_raise_one_line(tmp_path):
    _borel(tmp_path / "a", "borel_rr", [-3.0])
    fig = mujoco.reacher_bars("quick", tmp_path / "a", seeds=[0])
    ax = fig.axes[0]
    assert ax.get_legend() is None
    assert any("reacher_references.py" in t.get_text() for t in ax.texts)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["BOReL (RR)\n1 seed"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(figures.MissingResultsError) as err:
        mujoco.reacher_bars("quick", tmp_path / "empty")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("not yet produced") and "borel_lib.pipeline reacher_image" in msg


# ---- the trajectories --------------------------------------------------------------------------------------


def test_trajectories_one_row_per_method_with_a_table(tmp_path):
    _traj(tmp_path, "borel_rr", n_tasks=5)
    _traj(tmp_path, "pearl", n_tasks=3)  # PEARL evaluates fewer tasks: the columns are the tasks both hold
    fig = mujoco.reacher_trajectories("quick", tmp_path, seeds=[0], n_targets=3)
    axes = [a for a in fig.axes if a.get_title()]
    assert len(axes) == 2 * 3
    assert [a.get_title() for a in axes] == ["target 0", "target 1", "target 2"] * 2
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == ["BOReL (RR)", "PEARL (final agent)"]
    ax = fig.axes[0]
    paths = [line for line in ax.lines if line.get_label().startswith("episode")]
    assert [p.get_label() for p in paths] == ["episode 1", "episode 2"]
    assert all(len(p.get_xdata()) == 50 for p in paths)  # BOReL: the last evaluation only, not both
    assert ax.patches, "the target's success disc is drawn"
    with pytest.raises(figures.MissingResultsError, match="not yet produced"):
        mujoco.reacher_trajectories("quick", tmp_path, seeds=[1])


def test_both_figures_are_registered_and_saved(tmp_path):
    _borel(tmp_path, "borel_rr", [-3.0, -3.1])
    _traj(tmp_path, "borel_rr")
    for name in ("fig3_reacher_image", "fig_reacher_trajectories"):
        assert name in figures.FIGURES_BY_NAME
        written = figures.make_figure(name, "quick", tmp_path, out_dir=tmp_path / "figs", seeds=[0, 1])
        assert [p.suffix for p in written] == [".png", ".pdf"] and all(p.stat().st_size for p in written)


# ---- the headline rule -------------------------------------------------------------------------------------


def _row(directory, figures_dir) -> pd.Series:
    return h.headline_table("quick", directory=directory, figures=figures_dir).set_index("artefact").loc[ROW]


@pytest.fixture
def figs(empty_figures):
    return empty_figures("fig3_reacher_image")


def test_headline_holds_when_borel_beats_both_baselines_and_relabelling_changes_little(tmp_path, figs):
    d = tmp_path / "r"
    _borel(d, "borel_rr", [-3.0, -3.1, -2.9])
    _borel(d, "borel_no_rr", [-3.05, -2.95, -3.1])
    _borel(d, "borel_exact", [-2.0, -2.1, -2.2])
    _baseline(d, "pearl", [-6.0, -6.2, -5.9])
    _baseline(d, "mbml", [-5.0, -5.1, -4.9])
    _references(d, oracle=-1.1, still=-7.3)
    row = _row(d, figs)
    assert row.verdict == "holds", row.why
    assert row.notebook == "07_mujoco" and row.figure.name == "fig3_reacher_image.png"
    assert f"RR {h.iqm_text([-3.0, -3.1, -2.9])}" in row.ours and f"PEARL {h.iqm_text([-6.0, -6.2, -5.9])}" in row.ours
    assert f"exact belief {h.iqm_text([-2.0, -2.1, -2.2])}" in row.ours
    assert "goal-known arm -1.10" in row.ours and "standing still -7.30" in row.ours


def test_headline_fails_when_relabelling_separates_or_pearl_wins(tmp_path, figs):
    d = tmp_path / "a"
    _borel(d, "borel_rr", [-3.0, -3.1, -2.9])
    _borel(d, "borel_no_rr", [-5.0, -5.1, -4.9])  # dense rewards: the paper expects no difference
    _baseline(d, "pearl", [-6.0, -6.2, -5.9])
    row = _row(d, figs)
    assert row.verdict == "fails" and "RR ≈ no RR: separated" in row.why and "RR > MBML: no table" in row.why
    d = tmp_path / "b"
    _borel(d, "borel_rr", [-3.0, -3.1, -2.9])
    _baseline(d, "pearl", [-2.0, -2.1, -1.9])
    row = _row(d, figs)
    assert row.verdict == "fails" and "RR > PEARL: reversed" in row.why


def test_headline_with_missing_methods_is_partly_or_not_produced(tmp_path, figs):
    d = tmp_path / "a"
    _borel(d, "borel_rr", [-3.0, -3.1, -2.9])
    _baseline(d, "pearl", [-6.0, -6.2, -5.9])
    row = _row(d, figs)
    assert row.verdict == "partly", row.why
    assert "RR > MBML: no table" in row.why and "RR ≈ no RR: no table" in row.why
    assert "MBML no table" in row.ours and "exact belief no table" in row.ours
    assert "goal-known arm" not in row.ours  # no references table: nothing shown
    (tmp_path / "empty").mkdir()
    assert _row(tmp_path / "empty", figs).verdict == "not produced"
    assert _row(d, tmp_path / "no_figures").verdict == "not produced"  # the figure is not drawn


def test_headline_with_one_seed_is_not_a_verdict(tmp_path, figs):
    d = tmp_path / "a"
    _borel(d, "borel_rr", [-3.0])
    _baseline(d, "pearl", [-6.0])
    _borel(d, "borel_no_rr", [-3.2])
    row = _row(d, figs)
    assert row.verdict == "not separated" and "RR > PEARL: one seed" in row.why
    assert "RR ≈ no RR: one seed" in row.why  # one seed each is no evidence of "≈" either


# ---- the references script ---------------------------------------------------------------------------------


def _script():
    return load_script("reacher_references")


script = _script()  # before a test moves the repository root (BOREL_ROOT)


def test_references_script_scores_the_goal_known_arm_on_the_evaluation_tasks(tmp_path, monkeypatch):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    assert script.main(["--profile", "smoke", "--seeds", "0", "1", "--n-tasks", "3"]) == 0
    df = read_table_file(result_path("references_reacher_image", "smoke", tmp_path / "build" / "smoke" / "results"))
    assert set(df.method) == {"oracle", "standing_still"} and set(df.seed) == {0, 1}
    assert set(df.episode) == {1, 2} and set(df.metric) == {"return", "success"} and len(df) == 2 * 2 * 2 * 2
    ret = df[df.metric == "return"].groupby("method").value.mean()
    assert ret["oracle"] > ret["standing_still"]  # the goal-known arm reaches, standing still pays the distance
    assert (df[(df.method == "oracle") & (df.metric == "success")].value == 1).all()
    assert (df[(df.method == "standing_still") & (df.metric == "success")].value == 0).all()
    # the same tasks and reset seeds as BOReL's evaluation of seed 1
    from borel_lib.references.reacher_scripted import reacher_oracle
    from borel_lib.tasks import eval_tasks

    ev = reacher_oracle(eval_tasks(DOMAIN, 1, 3), seed=1)
    expected = ev[ev.metric == "return"].groupby("episode").value.mean().to_numpy()
    got = df.query("method == 'oracle' and seed == 1 and metric == 'return'").sort_values("episode").value.to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    with pytest.raises(SystemExit):
        script.main(["--profile", "smoke", "--kp", "0"])
