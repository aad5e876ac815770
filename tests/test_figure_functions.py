"""Figures are drawn from committed tables only (issue 10): no figure function loads a checkpoint,
a dataset or a model, and regenerating a figure from unchanged tables is byte-identical."""

import ast
import functools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from borel_lib import figures  # noqa: E402
from borel_lib.figures.style import set_style  # noqa: E402
from borel_lib.paths import figures_dir  # noqa: E402
from borel_lib.results import result_path  # noqa: E402

FORBIDDEN_NAMES = {"load_dataset", "load_checkpoint", "checkpoints_dir", "datasets_dir", "train_vae", "run_borel",
                   "run_collection", "vae_checkpoint", "checkpoint_dir", "load_state_dict"}
"""Names a figure function must not use: they read checkpoints, datasets or train."""



def _new_table(name, profile, directory):
    """Where a test writes result ``name`` by hand (its folder in the results tree made first)."""
    path = result_path(name, profile, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path

def _pearl_table(domain, returns, directory, seed=0):
    """A PEARL result table as the baseline writes it (:func:`borel_lib.baselines.common.summarise`): one
    ``return`` / ``success`` row per evaluation and episode (``returns``: iteration -> return of both
    episodes), then the best_* and final_* rows."""
    import pandas as pd

    from borel_lib.baselines.common import summarise

    rows = [{"domain": domain, "method": "pearl", "variant": "online", "seed": seed, "episode": e, "metric": m,
             "value": v if m == "return" else 0.0, "iteration": it, "env_steps": 1}
            for it, v in returns.items() for e in (1, 2) for m in ("return", "success")]
    summarise(pd.DataFrame(rows), eval_episodes=2).to_csv(_new_table(f"pearl_{domain}_seed{seed}", "smoke", directory),
                                                          index=False)


@functools.cache
def _available(profile: str = "quick") -> tuple[str, ...]:
    """The figures whose tables are committed for ``profile``."""
    names = []
    for spec in figures.FIGURES:
        try:
            fig = spec.draw(profile)
        except figures.MissingResultsError:
            continue
        matplotlib.pyplot.close(fig)
        names.append(spec.name)
    return tuple(names)


@pytest.mark.parametrize("module", sorted(p.name for p in Path(figures.__file__).parent.glob("*.py")
                                          if p.name != "tables.py"))  # tables.py: the training side
def test_figure_module_reads_no_checkpoint_statically(module):
    """AST check of each module of borel_lib/figures/: no torch, no np/torch/pickle .load, no
    checkpoint/dataset/training helper."""
    tree = ast.parse((Path(figures.__file__).parent / module).read_text(encoding="utf-8"))
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not (used | imported) & FORBIDDEN_NAMES, (used | imported) & FORBIDDEN_NAMES
    assert "torch" not in modules, f"{module} must not import torch (it draws tables, not models)"
    assert "load" not in {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                          and isinstance(n.value, ast.Name) and n.value.id in ("np", "torch", "pickle")}


def test_no_figure_function_loads_a_checkpoint_at_runtime(monkeypatch, tmp_path):
    """Every figure with committed tables is drawn with torch.load, np.load and load_dataset raising."""
    import torch

    # the modules that bind load_dataset by name are imported before the patch: imported lazily under it (by a
    # figure function), they would keep the refusing stand-in for every later test
    import borel_lib.collect  # noqa: F401
    import borel_lib.collector  # noqa: F401
    import borel_lib.datasets
    import borel_lib.policy_replay  # noqa: F401

    def refuse(*args, **kwargs):
        raise AssertionError(f"a figure function tried to load {args[:1]}")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(np, "load", refuse)
    monkeypatch.setattr(borel_lib.datasets, "load_dataset", refuse)
    set_style()
    drawn = _available("quick")
    assert {"fig3_gridworld_exact", "fig3_borel_gridworld_semicircle", "fig_belief_vs_exact"} <= set(drawn), drawn
    for name in drawn:
        figures.make_figure(name, "quick", out_dir=tmp_path)


def test_regenerated_figures_are_byte_identical(tmp_path):
    """Each figure drawn twice from the same committed tables gives the same PNG and PDF bytes, and the
    same bytes as the committed figure."""
    set_style()
    for name in _available("quick"):
        first = figures.make_figure(name, "quick", out_dir=tmp_path / "a")
        second = figures.make_figure(name, "quick", out_dir=tmp_path / "b")
        assert [p.suffix for p in first] == [".png", ".pdf"]
        for a, b in zip(first, second):
            assert a.read_bytes() == b.read_bytes(), f"{a.name} changes between two runs"
            committed = figures_dir("quick") / a.name
            if committed.is_file():
                assert a.read_bytes() == committed.read_bytes(), (
                    f"{a.name} regenerated from data/results/quick differs from the committed figure: "
                    "run python scripts/check_figures.py, then re-run the notebook that draws it")


def test_missing_table_is_one_line_naming_the_command(tmp_path):
    for spec in figures.FIGURES:
        if spec.name == "fig2_mdp_ambiguity":  # an exact construction, no table
            continue
        with pytest.raises(figures.MissingResultsError) as err:
            spec.draw("quick", tmp_path)
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith("not yet produced") and "run `" in msg, (spec.name, msg)
    with pytest.raises(ValueError, match="allowed values"):
        figures.make_figure("fig99", "quick")


def test_pending_results_and_budget_are_read_from_tables(tmp_path):
    lines = figures.pending_results("quick", tmp_path)
    assert len(lines) == len(figures.PENDING) and all("not yet produced" in line for line in lines)
    _new_table("borel_wind_uniform_policy_replay_seed0", "smoke", tmp_path).write_text("x\n")
    assert "1 result table(s)" in figures.pending_results("quick", tmp_path)[1]
    if (result_path("borel_semicircle_uniform_reward_relabelling_seed0", "quick", kind="config")).is_file():
        budget = figures.budget_ratios("quick")
        assert set(budget.domain) == {"gridworld", "semicircle"}
        assert (budget.ratio > 0).all() and (budget.ratio <= 1).all()


def test_table1_averages_the_grid_cells_beside_the_paper(tmp_path):
    """Table 1 from a sweep's result tables: mean ± s.e. over seeds per (data, CQL) cell, the paper's value
    beside it, 'not yet run' where no cell has finished."""
    import pandas as pd

    from borel_lib.sweep import cell_spec, grid_cells

    for cell in grid_cells("table1"):
        if cell["init_state"] == "fixed" and cell["rl"]["cql_alpha"] == 2.0 and cell["seed"] in (0, 1):
            tag = cell_spec(cell, "quick").tag
            value = 100.0 + 10 * cell["seed"]  # seeds 0, 1: 100 and 110
            rows = [{"domain": "ant_semicircle", "method": "borel_rr", "variant": "fixed", "seed": cell["seed"],
                     "episode": e, "metric": m, "value": value if m == "return" else 1.0, "updates": 40_000}
                    for e in (1, 2) for m in ("return", "success")]
            pd.DataFrame(rows).to_csv(_new_table(f"borel_{tag}", "smoke", tmp_path), index=False)
    from borel_lib.stats import bootstrap_ci

    t = figures.table1("quick", tmp_path).set_index(["data", "method"])
    assert t.loc[("fixed", "BOReL + CQL"), "ours (last 10 %)"] == "105.0 ± 5.0"
    low, high = bootstrap_ci([100.0, 110.0])
    assert t.loc[("fixed", "BOReL + CQL"), "ours (last 10 %): IQM [95 % CI]"] == f"105.0 [{low:.1f}, {high:.1f}]"
    assert t.loc[("fixed", "BOReL + CQL"), "ours (best evaluation)"] == "105.0 ± 5.0"  # one evaluation per run here
    assert t.loc[("fixed", "BOReL + CQL"), "seeds"] == 2 and t.loc[("fixed", "BOReL + CQL"), "paper"] == 112.4
    assert t.loc[("uniform", "BOReL"), "ours (last 10 %)"] == "not yet run" and t.loc[("uniform", "BOReL"), "paper"] == 171.8
    with pytest.raises(figures.MissingResultsError, match="sweep table1"):
        figures.table1("quick", tmp_path / "empty")


def test_cheetah_panel_draws_baselines_beside_borel_when_their_tables_exist(tmp_path):
    """Figure 3's Half-Cheetah-Vel panel: BOReL with / without RR (both run here), PEARL and MBML only once a table of
    theirs exists; each bar is the mean over its seeds of the last 10 % of its evaluations (PEARL as BOReL,
    not its best evaluation over training)."""
    import pandas as pd

    from borel_lib.pipeline import RunSpec

    for relabelling, value in (("reward_relabelling", -90.0), ("none", -120.0)):
        for seed in (0, 1):
            tag = RunSpec("cheetah_vel", "quick", relabelling=relabelling, seed=seed).tag
            method = "borel_rr" if relabelling == "reward_relabelling" else "borel_no_rr"
            rows = [{"domain": "cheetah_vel", "method": method, "variant": "uniform", "seed": seed, "episode": e,
                     "metric": m, "value": value - seed if m == "return" else 1.0, "updates": 20_000}
                    for e in (1, 2) for m in ("return", "success")]
            pd.DataFrame(rows).to_csv(_new_table(f"borel_{tag}", "smoke", tmp_path), index=False)

    def labels(fig):
        return [t.get_text().replace("\n", " ") for t in fig.axes[0].get_xticklabels()]

    fig = figures.cheetah_bars("quick", tmp_path)
    assert labels(fig) == ["BOReL (RR)", "BOReL (no RR)"]
    matplotlib.pyplot.close(fig)
    _pearl_table("cheetah_vel", {50: -200.0, 100: -250.0}, tmp_path)  # best -200, last -250
    fig = figures.cheetah_bars("quick", tmp_path)
    assert labels(fig) == ["BOReL (RR)", "BOReL (no RR)", "PEARL (last 10 %)"]
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([-90.5, -120.5, -250.0])
    matplotlib.pyplot.close(fig)


def test_ant_panel_takes_the_uniform_plain_borel_cells_of_table1_and_the_baselines(tmp_path):
    """Figure 3's Ant-Semi-circle panel: BOReL (RR) is the plain BOReL run on the uniform-start data (not the
    other variants' or the CQL cells of Table 1); no bar for BOReL without RR until it is run; PEARL beside;
    MBML on the uniform data, or on the collection protocol's default data with the data in its label."""
    import pandas as pd

    from borel_lib.pipeline import RunSpec

    def write_run(spec, value):
        rows = [{"domain": "ant_semicircle", "method": "borel_rr", "variant": spec.init_state, "seed": spec.seed,
                 "episode": e, "metric": m, "value": value if m == "return" else 0.0, "updates": 20_000}
                for e in (1, 2) for m in ("return", "success")]
        pd.DataFrame(rows).to_csv(_new_table(f"borel_{spec.tag}", "smoke", tmp_path), index=False)

    with pytest.raises(figures.MissingResultsError, match="sweep fig3_ant"):
        figures.ant_bars("quick", tmp_path)
    write_run(RunSpec("ant_semicircle", "quick", init_state="uniform", seed=0), -15.0)
    write_run(RunSpec("ant_semicircle", "quick", init_state="uniform", seed=0, rl=(("cql_alpha", 2.0),)), -70.0)
    write_run(RunSpec("ant_semicircle", "quick", init_state="fixed", seed=0), -18.0)
    _pearl_table("ant_semicircle", {50: -40.0, 100: -50.0}, tmp_path)  # best -40, last -50
    fig = figures.ant_bars("quick", tmp_path)
    assert [t.get_text().replace("\n", " ") for t in fig.axes[0].get_xticklabels()] == ["BOReL (RR)", "PEARL (last 10 %)"]
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx([-15.0, -50.0])
    matplotlib.pyplot.close(fig)
    for name, value in (("mbml_ant_semicircle_exclude_semicircle_seed0", -30.0), ("mbml_ant_semicircle_uniform_seed0", -25.0)):
        rows = [{**r, "method": "mbml", "variant": "offline", "value": value} for r in
                pd.read_csv(result_path("pearl_ant_semicircle_seed0", "smoke", tmp_path)).to_dict("records")]
        pd.DataFrame(rows).to_csv(tmp_path / f"{name}.csv", index=False)
        fig = figures.ant_bars("quick", tmp_path)  # MBML on the protocol's data is labelled so; on uniform data not
        label = "MBML (last 10 %)" if "uniform" in name else "MBML (last 10 %; excluding the semi-circle data)"
        assert [t.get_text().replace("\n", " ") for t in fig.axes[0].get_xticklabels()][-1] == label
        assert [p.get_height() for p in fig.axes[0].patches][-1] == pytest.approx(value)
        matplotlib.pyplot.close(fig)


def test_ant_motion_measures_how_far_each_agent_goes_and_how_much_arc_it_rules_out(tmp_path):
    """ant_motion reads the final trials: a BOReL agent sweeping the unit semi-circle in episode 1 reaches it
    and rules out what the table's exact-posterior support says; a PEARL agent that walks 1 straight down
    (the circle, not the semi-circle) reaches no part of the arc and rules out nothing."""
    import pandas as pd

    from borel_lib.pipeline import RunSpec

    H, n = 200, 3
    with pytest.raises(figures.MissingResultsError, match="sweep table1"):
        figures.ant_motion("quick", tmp_path, seeds=[0])

    def table(xy, support, **cols):
        t = np.arange(2 * H)
        frames = [pd.DataFrame({"domain": "ant_semicircle", "method": "agent", "variant": "uniform", "seed": 0,
                                "task": task, "t": t, "episode": t // H + 1, "metric": m, "value": v, **cols})
                  for task in range(n) for m, v in (("x", xy[:, 0]), ("y", xy[:, 1]), ("reward", 0.0),
                                                    ("support", support))]
        return pd.concat(frames, ignore_index=True)

    angle = np.linspace(0, np.pi / 2, H)
    sweep = np.concatenate([np.stack([np.cos(angle), np.sin(angle)], 1),
                            np.stack([np.zeros(H), np.linspace(0, 0.5, H)], 1)])
    support = np.concatenate([np.linspace(1, 0.4, H), np.full(H, 0.4)])
    spec = RunSpec("ant_semicircle", "quick", init_state="uniform", seed=0)
    borel = pd.concat([table(sweep * 0.5, np.ones(2 * H), updates=10), table(sweep, support, updates=20)])
    borel.to_csv(_new_table(f"borel_{spec.tag}_traj", "smoke", tmp_path), index=False)  # only the last evaluation counts
    down = np.concatenate([np.stack([np.zeros(H), np.linspace(0, -1, H)], 1), np.zeros((H, 2))])  # the circle's lower half
    table(down, np.ones(2 * H), iteration=100).to_csv(_new_table("pearl_ant_semicircle_seed0_traj", "smoke", tmp_path), index=False)
    table(np.zeros((2 * H, 2)), np.ones(2 * H), iteration=10).to_csv(_new_table("mbml_ant_semicircle_exclude_semicircle_seed0_traj", "smoke", tmp_path),
                                                                     index=False)  # on the protocol's default data
    out = figures.ant_motion("quick", tmp_path, seeds=[0])
    assert list(out.index) == ["BOReL (RR)", "PEARL (final agent)", "MBML (final agent; excluding-the-semi-circle data)"]
    assert (out.seeds == 1).all()
    assert out.loc["BOReL (RR)"].tolist()[1:] == ["1.00", "0.50", "1.00", "0.60"]
    assert out.loc["PEARL (final agent)"].tolist()[1:] == ["1.00", "0.00", "0.00", "0.00"]


def test_sac_calibration_table_reads_every_probe_run(tmp_path):
    import pandas as pd

    from borel_lib.results import write_results

    def probe(method, seed, speeds, name):
        rows = [{"domain": "gym_ant_v5", "method": method, "variant": mode, "seed": seed, "episode": 1,
                 "metric": "x_velocity", "value": v * (1 if mode == "mean_action" else 10), "steps": s}
                for s, v in speeds.items() for mode in ("mean_action", "sampled")]
        write_results(pd.DataFrame(rows), name, config=None, profile="quick", command="x", directory=tmp_path)

    probe("sac_alpha0.2", 0, {10_000: 0.01, 20_000: 0.02}, "probe_sac_gym_ant_alpha0.2_steps20000_seed0")
    probe("sac_calibrated", 1, {10_000: 0.3}, "probe_sac_gym_ant_calibrated_steps10000_seeds1")
    table = figures.sac_calibration("quick", tmp_path)
    assert list(table.columns) == ["10k", "20k"]
    assert table.loc[("calibrated SAC (CleanRL's settings, 256×256)", 1), "10k"] == 0.3  # mean action only
    assert table.loc[("authors' SAC (α 0.2 fixed, 128×128)", 0)].tolist() == [0.01, 0.02]
    with pytest.raises(figures.MissingResultsError, match="probe_sac_gym_ant.py --sac calibrated"):
        figures.sac_calibration("quick", tmp_path / "empty")
