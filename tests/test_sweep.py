"""Sweeps: named grids, cell checks, the smoke grid end to end on submitit's local executor, merge."""

import json
import os

import pandas as pd
import pytest

from borel_lib import sweep
from borel_lib.config import ConfigError
from borel_lib.results import baseline_runs, result_path  # noqa: E402


def test_grids_are_products_of_their_axes():
    t1 = sweep.grid_cells("table1")
    assert len(t1) == 3 * 2 * len(sweep.SEEDS)
    assert {c["init_state"] for c in t1} == {"uniform", "exclude_semicircle", "fixed"}
    assert {c["rl"]["cql_alpha"] for c in t1} == {0.0, 2.0} and {c["domain"] for c in t1} == {"ant_semicircle"}
    sweep.check_cells(t1, "table1")  # every cell is a run of its own
    for grid in ("fig3_gridworld", "fig3_semicircle"):
        cells = sweep.grid_cells(grid)
        assert len(cells) == 3 * len(sweep.SEEDS)  # RR, no RR, exact belief
        sweep.check_cells(cells, grid)  # a run takes every key, every cell writes its own file
    cheetah = sweep.grid_cells("fig3_cheetah")  # no computed posterior for continuous velocities
    assert len(cheetah) == 2 * len(sweep.SEEDS) and {c["relabelling"] for c in cheetah} == {"reward_relabelling", "none"}
    sweep.check_cells(cheetah, "fig3_cheetah")
    ant = sweep.grid_cells("fig3_ant")  # uniform-start data; its RR cells are Table 1's uniform BOReL runs
    sweep.check_cells(ant, "fig3_ant")
    t1_tags = {sweep.result_name(c, "quick") for c in t1}
    shared = {sweep.result_name(c, "quick") for c in ant if c["relabelling"] == "reward_relabelling"}
    assert len(ant) == 2 * len(sweep.SEEDS) and len(shared) == len(sweep.SEEDS) and shared <= t1_tags
    assert len(sweep.grid_cells("smoke")) == 2
    with pytest.raises(ConfigError, match="allowed values.*smoke"):
        sweep.grid_cells("tabel1")


def test_check_cells_names_unknown_keywords_and_collisions():
    with pytest.raises(ConfigError, match=r"does not take \['colour'\]"):
        sweep.check_cells([{"domain": "semicircle", "colour": "red"}])
    same = {"domain": "semicircle", "relabelling": "none", "seed": 0}
    # an override equal to the profile's value changes nothing, so both cells are the same run
    with pytest.raises(ConfigError, match="would both write borel_semicircle_uniform_none_seed0.csv"):
        sweep.check_cells([same, {**same, "rl": {"time_input": True}}])


def test_smoke_grid_local_executor_merges_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = sweep.run_sweep("smoke", "smoke", executor="local", max_parallel=2)
    assert path == result_path("sweep_smoke", "smoke", tmp_path / "build" / "smoke" / "results")
    df = pd.read_csv(path)
    assert list(df.columns[:7]) == ["domain", "method", "variant", "seed", "episode", "metric", "value"]
    assert set(df.cell) == {0, 1}
    assert set(df.method) == {"borel_rr", "borel_no_rr"} and set(df.domain) == {"semicircle"}
    for i, cell in enumerate(sweep.grid_cells("smoke")):
        own = pd.read_csv(result_path(sweep.result_name(cell, "smoke"), "smoke"))
        pd.testing.assert_frame_equal(df[df.cell == i].drop(columns="cell").reset_index(drop=True), own)
    assert (result_path("sweep_smoke", "smoke", tmp_path / "build" / "smoke" / "results", kind="config")).is_file()
    # a relaunch submits nothing: every cell has its results
    assert sweep.launch("smoke", "smoke", executor="local") == []
    # a lost cell result is the only one rerun (debug executor: in this process)
    os.remove(result_path(sweep.result_name(sweep.grid_cells("smoke")[1], "smoke"), "smoke"))
    with pytest.raises(FileNotFoundError, match="1 cell\\(s\\) have no results yet"):
        sweep.merge("smoke", "smoke")
    assert sweep.launch("smoke", "smoke", executor="debug") == [1]
    assert pd.read_csv(sweep.merge("smoke", "smoke")).shape == df.shape


def test_table1_cells_name_their_dataset_and_ant_settings():
    """Table 1's cells: the collection's initial-state variant, the authors' Ant offline settings, CQL
    α 2 on the +CQL rows; every variant shows in the names, the protocol's (exclude_semicircle) included, and
    only non-default variants in the commands."""
    from borel_lib.collect import CollectConfig, dataset_name

    specs = [sweep.cell_spec(c, "paper") for c in sweep.grid_cells("table1")]
    assert {s.init_state for s in specs} == {"uniform", "exclude_semicircle", "fixed"}
    for s in specs:
        rl = s.rl_config()
        assert (rl.hidden, rl.actor_lr, rl.critic_lr, rl.alpha, rl.gamma, rl.updates) == (
            (256, 256), 3e-5, 3e-4, 0.2, 0.99, 6_000_000)
        assert rl.cql_alpha in (0.0, 2.0) and s.method == ("borel_rr_cql" if rl.cql_alpha else "borel_rr")
        name = dataset_name(CollectConfig.for_domain("ant_semicircle", "paper", **s.collect_overrides), "paper")
        assert name == f"ant_semicircle_{s.init_state}_seed0"
        assert ("--init-state" in s.command) == (s.init_state != "exclude_semicircle")
    by = {(s.init_state, s.rl_config().cql_alpha, s.seed): s for s in specs}
    assert by[("fixed", 2.0, 1)].tag == "ant_semicircle_fixed_reward_relabelling_cql2_seed1"
    assert by[("exclude_semicircle", 0.0, 0)].tag == "ant_semicircle_exclude_semicircle_reward_relabelling_seed0"
    assert by[("uniform", 0.0, 2)].command == ("python -m borel_lib.pipeline ant_semicircle --profile paper --init-state "
                                               "uniform --belief vae --relabelling reward_relabelling --seed 2")


def test_table1_smoke_cell_runs_on_its_variant(tmp_path, monkeypatch):
    """One Table 1 cell end to end in smoke (Ant collection on the fixed start, VAE, SAC+CQL, evaluation)."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    cell = next(c for c in sweep.grid_cells("table1")
                if c["init_state"] == "fixed" and c["rl"]["cql_alpha"] == 2.0 and c["seed"] == 0)
    path = sweep.CellJob()(cell, "smoke")
    df = pd.read_csv(path)
    assert path.endswith("borel_ant_semicircle_fixed_reward_relabelling_cql2_seed0.csv")
    assert set(df.variant) == {"fixed"} and set(df.method) == {"borel_rr_cql"} and set(df.episode) == {1, 2}
    assert (tmp_path / "build" / "smoke" / "datasets" / "ant_semicircle_fixed_seed0").is_dir()


def test_policy_replay_cells_collect_their_replay_dataset(tmp_path, monkeypatch):
    """A sweep cell with relabelling='policy_replay' collects the replay dataset its run needs."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    sweep.collect_once({"domain": "escape_room", "relabelling": "policy_replay", "seed": 0}, "smoke")
    datasets = tmp_path / "build" / "smoke" / "datasets"
    assert (datasets / "escape_room_uniform_seed0").is_dir()
    assert (datasets / "escape_room_uniform_seed0_policy_replay").is_dir()


def test_seeds_select_a_subset_of_a_grid_to_run_and_merge(tmp_path, monkeypatch, capsys):
    """``--seeds 0 1`` runs and merges two of Table 1's three seeds; the merged ``cell`` column keeps the
    index in the whole grid; a seed the grid does not have is a one-line error naming its seeds."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    cells = sweep.grid_cells("table1")
    chosen = sweep.selected_cells("table1", [0, 1])
    assert len(chosen) == 12 and {cells[i]["seed"] for i in chosen} == {0, 1}
    assert sweep.selected_cells("table1") == list(range(18))
    with pytest.raises(ConfigError, match="has no seed \\[7\\]; its seeds: 0, 1, 2"):
        sweep.selected_cells("table1", [0, 7])
    assert sweep.main(["table1", "--profile", "smoke", "--seeds", "7"]) == 2
    assert capsys.readouterr().err.strip() == "error: --seeds 7: grid 'table1' has no seed [7]; its seeds: 0, 1, 2"
    for i in sweep.selected_cells("fig3_cheetah", [1]):
        cell = sweep.grid_cells("fig3_cheetah")[i]
        table = result_path(sweep.result_name(cell, "smoke"), "smoke")
        table.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([{"domain": "cheetah_vel", "method": "borel_rr", "variant": "uniform", "seed": 1, "episode": 1,
                       "metric": "return", "value": float(i), "updates": 10}]).to_csv(table, index=False)
    with pytest.raises(FileNotFoundError, match="4 cell\\(s\\) have no results yet"):
        sweep.merge("fig3_cheetah", "smoke")
    merged = pd.read_csv(sweep.merge("fig3_cheetah", "smoke", seeds=[1]))
    assert list(merged.cell) == sweep.selected_cells("fig3_cheetah", [1]) == [1, 4]
    assert sweep.launch("fig3_cheetah", "smoke", executor="debug", seeds=[1]) == []


def test_pearl_tuning_cells_are_named_by_their_settings_on_the_validation_tasks():
    """tune_pearl_semicircle: PEARL's quick settings and one change at a time (width, learning rate, updates), on the
    validation tasks, each its own run named by its setting; bad baseline cells are refused on one line."""
    cells = sweep.grid_cells("tune_pearl_semicircle")
    sweep.check_cells(cells, "tune_pearl_semicircle", "quick")
    assert {c["eval_split"] for c in cells} == {"validation"}
    assert [sweep.result_name(c, "quick") for c in cells] == [
        "pearl_semicircle_validation_seed0", "pearl_semicircle_h300x300x300_validation_seed0",
        "pearl_semicircle_lr0.001_validation_seed0", "pearl_semicircle_tspi1000_validation_seed0"]
    pearl = {"baseline": "pearl", "domain": "semicircle", "seed": 0}
    with pytest.raises(ConfigError, match=r"does not take \['rl'\]"):
        sweep.check_cells([{**pearl, "rl": {"gamma": 0.9}}])
    with pytest.raises(ConfigError, match="cell baseline"):
        sweep.check_cells([{**pearl, "baseline": "varibad"}])
    with pytest.raises(ConfigError, match="no_such_field"):
        sweep.check_cells([{**pearl, "settings": {"no_such_field": 1}}])
    with pytest.raises(ConfigError, match="cell domain"):
        sweep.check_cells([{**pearl, "domain": "gridworld"}])
    with pytest.raises(ConfigError, match="would both write"):  # lr equal to the profile's: the same run
        sweep.check_cells([pearl, {**pearl, "settings": {"lr": 3e-4}}], profile="quick")


def test_pearl_tuning_smoke_grid_runs_merges_and_resumes(tmp_path, monkeypatch, capsys):
    """A baseline grid end to end (debug executor, in this process): both cells' PEARL runs on the validation tasks,
    the merged table holds each cell's own rows, and a relaunch submits nothing."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="2 cell.s. not done yet.*python -m borel_lib.sweep tune_pearl_smoke"):
        sweep.rank_settings("tune_pearl_smoke", "smoke")
    path = sweep.run_sweep("tune_pearl_smoke", "smoke", executor="debug")
    assert path.name == "sweep_tune_pearl_smoke_validation.csv"
    df = pd.read_csv(path)
    assert set(df.cell) == {0, 1} and set(df.method) == {"pearl", "pearl_lr0.001"}
    for i, cell in enumerate(sweep.grid_cells("tune_pearl_smoke")):
        own = pd.read_csv(result_path(sweep.result_name(cell, "smoke"), "smoke"))
        pd.testing.assert_frame_equal(df[df.cell == i].drop(columns="cell").reset_index(drop=True), own)
    assert sweep.launch("tune_pearl_smoke", "smoke", executor="debug") == []

    # the choice: settings ranked by the same primary metric the tables report, recomputed here from each run
    ranked = sweep.rank_settings("tune_pearl_smoke", "smoke")
    by_run = baseline_runs("smoke", split="validation").set_index("run").metric
    assert list(ranked["rank"]) == [1, 2] and list(ranked.seeds) == [1, 1]
    assert list(ranked.metric) == sorted(by_run.loc[list(ranked.run)], reverse=True)
    assert ranked.metric.tolist() == [pytest.approx(by_run[r]) for r in ranked.run]
    commands = dict(zip(ranked.run, ranked.test_command))
    assert commands["pearl_semicircle_lr0.001_validation_seed0"] == (
        "python -m borel_lib.baselines.pearl semicircle --profile smoke --seed 0 --pearl lr=0.001")  # test tasks
    assert commands["pearl_semicircle_validation_seed0"].endswith("--seed 0")
    assert sweep.main(["tune_pearl_smoke", "--profile", "smoke", "--choose"]) == 0
    out = capsys.readouterr().out
    assert f"chosen: {ranked.run.iloc[0]}; on the test tasks: {ranked.test_command.iloc[0]}" in out

    # the tuned baseline the figures and orderings compare: the chosen setting's test runs replace the defaults'
    from borel_lib.figures.common import with_tuned_baselines

    chosen = ranked.run.iloc[0].replace("_validation_seed0", "")
    assert sweep.tuned_config("tune_pearl_smoke", "smoke") == chosen
    assert sweep.tuned_config("tune_mbml_smoke", "smoke") is None  # not run here
    base = pd.DataFrame({"run": ["pearl_semicircle_seed0", "pearl_semicircle_lr0.001_seed0", "mbml_semicircle_uniform_seed0",
                                 "pearl_cheetah_vel_seed0"], "domain": ["semicircle"] * 3 + ["cheetah_vel"],
                         "method": ["pearl", "pearl_lr0.001", "mbml", "pearl"], "metric": [1.0, 2.0, 3.0, 4.0]})
    shown = with_tuned_baselines(base, "smoke").set_index("run").method.to_dict()
    kept = {"mbml_semicircle_uniform_seed0": "mbml", "pearl_cheetah_vel_seed0": "pearl"}  # other baselines, domains
    if chosen == "pearl_semicircle":  # the default was chosen: it is the tuned one
        assert shown == {"pearl_semicircle_seed0": "pearl_tuned", "pearl_semicircle_lr0.001_seed0": "pearl_lr0.001", **kept}
    else:
        assert shown == {"pearl_semicircle_lr0.001_seed0": "pearl_tuned", **kept}
    assert with_tuned_baselines(base.iloc[2:], "smoke").method.tolist() == ["mbml", "pearl"]  # no test run of it yet
    from borel_lib.results import tuned_baselines

    assert tuned_baselines("smoke") == {("pearl", "semicircle"): chosen}  # the MBML grid has not run


def test_mbml_tuning_cells_name_their_settings_and_a_smoke_grid_runs(tmp_path, monkeypatch):
    """tune_mbml_semicircle: MBML's quick settings and one change at a time, named by their --mbml settings on the
    validation tasks; tune_mbml_smoke end to end (debug executor); a grid mixing methods is refused."""
    cells = sweep.grid_cells("tune_mbml_semicircle")
    sweep.check_cells(cells, "tune_mbml_semicircle", "quick")
    assert [sweep.result_name(c, "quick") for c in cells] == [
        "mbml_semicircle_uniform_validation_seed0",
        "mbml_semicircle_uniform_bcqa128x128_bcqc128x128_bcqv128x128_validation_seed0",
        "mbml_semicircle_uniform_lr0.001_validation_seed0", "mbml_semicircle_uniform_bcqit30000_ds30000_validation_seed0"]
    mbml = {"baseline": "mbml", "domain": "semicircle", "seed": 0}
    with pytest.raises(ConfigError, match="everywhere"):
        sweep.check_cells([{**mbml, "init_state": "everywhere"}])
    with pytest.raises(ConfigError, match="one method"):
        sweep.check_cells([mbml, {"baseline": "pearl", "domain": "semicircle", "seed": 0}], "tune_mbml_x")
    with pytest.raises(ConfigError, match="exactly when"):  # a baseline grid must say which baseline
        sweep.check_cells([mbml], "tune_baselines")
    with pytest.raises(ConfigError, match="exactly when"):  # and a BOReL grid must not look like one
        sweep.check_cells([{"domain": "semicircle", "seed": 0}], "fig3_vs_mbml_x")
    sweep.check_cells([], "empty")
    with pytest.raises(ConfigError, match="profiles smoke, quick"):
        sweep.check_cells(sweep.grid_cells("tune_mbml_semicircle"), "tune_mbml_semicircle", "paper")
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    path = sweep.run_sweep("tune_mbml_smoke", "smoke", executor="debug")
    df = pd.read_csv(path)
    assert df.groupby("cell").method.unique().map(list).to_dict() == {0: ["mbml"], 1: ["mbml_lr0.001"]}  # own method
    for i, cell in enumerate(sweep.grid_cells("tune_mbml_smoke")):
        own = pd.read_csv(result_path(sweep.result_name(cell, "smoke"), "smoke"))
        pd.testing.assert_frame_equal(df[df.cell == i].drop(columns="cell").reset_index(drop=True), own)
    config = json.loads(result_path(sweep.result_name(sweep.grid_cells("tune_mbml_smoke")[1], "smoke"), "smoke",
                                    kind="config").read_text())
    assert config["command"].endswith("--eval-split validation --mbml lr=0.001")


def test_a_refused_baseline_grid_writes_nothing(tmp_path, monkeypatch):
    """A baseline grid with a bad cell (an unknown PEARL setting) is refused on one line before any work: no job
    folder, no lock, no result, no dataset under the project root."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    monkeypatch.setitem(sweep.GRIDS, "tune_pearl_bad", lambda: [
        {"baseline": "pearl", "domain": "semicircle", "seed": 0, "settings": {}},
        {"baseline": "pearl", "domain": "semicircle", "seed": 0, "settings": {"no_such_field": 1}}])
    for call in (lambda: sweep.launch("tune_pearl_bad", "smoke", executor="debug"),
                 lambda: sweep.run_sweep("tune_pearl_bad", "smoke", executor="debug")):
        with pytest.raises(ConfigError, match="no_such_field"):
            call()
    assert sweep.main(["tune_pearl_bad", "--profile", "smoke", "--executor", "debug"]) == 2
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
