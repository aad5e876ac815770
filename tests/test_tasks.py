"""Evaluation splits (issue 30, :mod:`borel_lib.tasks`): the test tasks are the ones every committed result was
scored on, bit for bit; the validation tasks are another draw from the same prior, disjoint from the test and
training tasks; names and commands carry the split; BOReL, PEARL and MBML share the tasks of a split; Gridworld
has no validation split."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from borel_lib import sweep
from borel_lib.config import ConfigError
from borel_lib.tasks import eval_tasks, name_split

CONTINUOUS = ("semicircle", "wind", "escape_room", "cheetah_vel", "ant_semicircle", "reacher_image")

# sha256 (first 16 hex digits) of eval_tasks(domain, seed, 20) for seeds 0, 1, 2 as float64 bytes, taken from
# the code before splits existed (commit 8a1c82f): the tasks every committed result was evaluated on
PINNED_TEST = {"gridworld": "ba257b0b03f63718", "semicircle": "9e084ea0e1b75950", "wind": "0ea526cafa41aee1",
               "escape_room": "c79878ff7e175677", "cheetah_vel": "fdddcee09143a37c",
               "ant_semicircle": "9e084ea0e1b75950", "reacher_image": "0feae7a52308a3f5"}


def _digest(domain: str, split: str = "test") -> str:
    h = hashlib.sha256()
    for seed in (0, 1, 2):
        h.update(np.ascontiguousarray(eval_tasks(domain, seed, 20, split), dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("domain", sorted(PINNED_TEST))
def test_test_split_is_the_tasks_of_every_committed_result(domain):
    assert _digest(domain) == PINNED_TEST[domain]
    assert _digest(domain, "test") == _digest(domain)  # the default is the test split


def test_a_few_test_tasks_pinned_by_value():
    np.testing.assert_array_equal(eval_tasks("semicircle", 0)[0], [-0.05241042169181994, 0.9986256294017721])
    np.testing.assert_array_equal(eval_tasks("cheetah_vel", 2)[-1], [1.1223596716268238])
    np.testing.assert_array_equal(eval_tasks("wind", 0)[-1], [0.012623396652231722, -0.027197103277892508])
    assert eval_tasks("gridworld", 1).shape == (21, 2)


@pytest.mark.parametrize("domain", CONTINUOUS)
def test_validation_tasks_are_another_draw_disjoint_from_test_and_training_tasks(domain):
    from borel_lib.collect import CollectConfig
    from borel_lib.collector import collection_tasks

    seeds = range(5)
    test = np.concatenate([eval_tasks(domain, s, 30) for s in seeds])
    val = np.concatenate([eval_tasks(domain, s, 30, "validation") for s in seeds])
    assert val.shape == test.shape and np.all(np.isfinite(val))
    assert _digest(domain, "validation") != _digest(domain)
    training = np.concatenate([collection_tasks(CollectConfig.for_domain(domain, p)) for p in ("quick", "paper")])
    for other in (test, training):
        same = (val[:, None, :] == other[None, :, :]).all(-1)
        assert not same.any(), f"{domain}: a validation task equals a test or training task"
    # the same prior: the validation tasks span the test tasks' range (150 draws of each)
    lo, hi = test.min(0), test.max(0)
    assert (val >= lo - 0.1 * (hi - lo)).all() and (val <= hi + 0.1 * (hi - lo)).all()
    # seeds differ, and a run asking for fewer tasks gets the first ones of the same stream
    assert not np.array_equal(eval_tasks(domain, 0, 20, "validation"), eval_tasks(domain, 1, 20, "validation"))
    np.testing.assert_array_equal(eval_tasks(domain, 1, 16, "validation"), eval_tasks(domain, 1, 20, "validation")[:16])
    np.testing.assert_array_equal(eval_tasks(domain, 1, 16), eval_tasks(domain, 1, 20)[:16])


def test_gridworld_has_no_validation_split_and_a_bad_split_is_refused():
    with pytest.raises(ConfigError, match="gridworld has no validation tasks: its 21 goals are all training tasks"):
        eval_tasks("gridworld", 0, split="validation")
    with pytest.raises(ConfigError, match="eval_split"):
        eval_tasks("semicircle", 0, split="train")


def test_borel_run_names_and_commands_carry_the_validation_split():
    from borel_lib.pipeline import RunSpec
    from borel_lib.pipeline_cli import build_parser, spec_from_args

    test, val = RunSpec("semicircle"), RunSpec("semicircle", eval_split="validation")
    assert test.tag == "semicircle_uniform_reward_relabelling_seed0"  # unchanged
    assert "eval-split" not in test.command
    assert val.tag == "semicircle_uniform_reward_relabelling_validation_seed0"
    assert val.command.endswith("--seed 0 --eval-split validation")
    assert val.vae_tag == test.vae_tag  # the VAE never sees evaluation tasks: one VAE for both splits
    assert val.checkpoint_dir() != test.checkpoint_dir()
    assert name_split(val.tag) == "validation" and name_split(test.tag) == "test"
    cql = RunSpec("ant_semicircle", init_state="uniform", rl=(("cql_alpha", 2.0),), eval_split="validation")
    assert cql.tag.endswith("_cql2_validation_seed0")
    parsed = spec_from_args(build_parser().parse_args(val.command.split()[3:]))
    assert parsed == val  # the command reproduces the run
    with pytest.raises(ConfigError, match="gridworld has no validation tasks"):
        RunSpec("gridworld", eval_split="validation")


def test_borel_cli_refuses_a_gridworld_validation_run_in_one_line(tmp_path, monkeypatch, capsys):
    from borel_lib.pipeline import main

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    assert main(["gridworld", "--eval-split", "validation"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "gridworld has no validation tasks" in err
    assert not any(tmp_path.rglob("*"))
    assert main(["semicircle", "--eval-split", "dev"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("split", ["test", "validation"])
def test_pearl_evaluates_borels_tasks_of_the_split(split):
    from borel_lib.baselines.pearl import PEARLConfig, PEARLTrainer, build_parser, run_tag

    cfg = PEARLConfig.for_profile("smoke", n_eval_tasks=20)
    trainer = PEARLTrainer("semicircle", cfg, seed=2, eval_split=split)
    np.testing.assert_array_equal(trainer.eval_tasks, eval_tasks("semicircle", 2, 20, split))
    if split == "test":  # what PEARL drew before splits existed
        np.testing.assert_array_equal(trainer.eval_tasks,
                                      trainer.env.sample_tasks(20, np.random.default_rng(2 + 10_000)))
    assert run_tag("semicircle", 2, eval_split=split) == (
        "pearl_semicircle_seed2" if split == "test" else "pearl_semicircle_validation_seed2")
    assert build_parser().parse_args(["semicircle", "--eval-split", split]).eval_split == split


@pytest.mark.parametrize("split", ["test", "validation"])
def test_mbml_evaluates_borels_tasks_of_the_split(split, tmp_path):
    from borel_lib.baselines import mbml
    from borel_lib.collect import CollectConfig, collect

    if split == "test":
        assert mbml.run_tag("cheetah_vel", 1, None, "quick") == "mbml_cheetah_vel_fixed_seed1"
    else:
        assert mbml.run_tag("cheetah_vel", 1, None, "quick", "validation") == "mbml_cheetah_vel_fixed_validation_seed1"
    ds, _ = collect(CollectConfig.for_domain("semicircle", "smoke"), tmp_path / "ds", tmp_path / "ck",
                    profile="smoke", progress=False)
    trainer = mbml.MBMLTrainer(ds, mbml.MBMLConfig.for_profile("smoke", n_eval_tasks=20), seed=1, eval_split=split)
    np.testing.assert_array_equal(trainer.eval_tasks, eval_tasks("semicircle", 1, 20, split))


def test_reported_tables_read_test_runs_only(tmp_path):
    from borel_lib.results import baseline_runs, write_results

    for name, value in (("pearl_semicircle_seed0", 1.0), ("pearl_semicircle_validation_seed0", 9.0)):
        rows = [{"domain": "semicircle", "method": "pearl", "variant": "online", "seed": 0, "episode": e,
                 "metric": m, "value": value, "iteration": it}
                for it in (1, 2) for e in (1, 2) for m in ("return", "success")]
        write_results(pd.DataFrame(rows), name, config=None, profile="smoke", command="x", directory=tmp_path)
    test = baseline_runs("smoke", tmp_path)
    val = baseline_runs("smoke", tmp_path, split="validation")
    assert test.run.tolist() == ["pearl_semicircle_seed0"] and test.metric.tolist() == [1.0]
    assert val.run.tolist() == ["pearl_semicircle_validation_seed0"] and val.metric.tolist() == [9.0]


def test_sweeps_that_choose_settings_default_to_validation_and_reported_grids_to_test():
    assert sweep.default_split("tune_smoke") == "validation"
    for grid in ("table1", "fig3_gridworld", "fig3_semicircle", "fig3_cheetah", "fig3_ant", "smoke"):
        assert sweep.default_split(grid) == "test"
        assert all("eval_split" not in c for c in sweep.grid_cells(grid))  # cells (and their names) unchanged
        assert sweep.sweep_command(grid, "quick") == f"python -m borel_lib.sweep {grid} --profile quick"
        assert sweep.sweep_name(grid) == grid
    cells = sweep.grid_cells("tune_smoke")
    assert all(c["eval_split"] == "validation" for c in cells)
    assert all(sweep.result_name(c, "smoke").endswith("_validation_seed0") for c in cells)
    assert sweep.sweep_name("tune_smoke") == "tune_smoke_validation"
    assert sweep.sweep_command("tune_smoke", "smoke") == "python -m borel_lib.sweep tune_smoke --profile smoke"
    # an explicit choice other than the grid's default is in the command and the names
    assert sweep.sweep_command("smoke", "smoke", eval_split="validation").endswith("--eval-split validation")
    assert sweep.sweep_folder("smoke", "smoke", "validation").name == "smoke_validation"
    assert all("eval_split" not in c for c in sweep.grid_cells("tune_smoke", "test"))
    with pytest.raises(ConfigError, match="gridworld has no validation tasks"):
        sweep.check_cells(sweep.grid_cells("fig3_gridworld", "validation"), "fig3_gridworld")


def test_sweep_list_names_the_validation_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    assert sweep.main(["smoke", "--profile", "smoke", "--list", "--eval-split", "validation"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("_validation_seed0" in line and "todo" in line for line in out)
    assert sweep.main(["fig3_gridworld", "--profile", "smoke", "--list", "--eval-split", "validation"]) == 2
    assert "gridworld has no validation tasks" in capsys.readouterr().err


def test_tuning_sweep_runs_on_validation_tasks_and_says_so(tmp_path, monkeypatch):
    """The tuning grid end to end (smoke, in this process): its runs and merged table carry the split in their
    names and configs, and the runs were evaluated on the validation tasks."""
    from borel_lib.results import read_results, read_results_config, result_path

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    path = sweep.run_sweep("tune_smoke", "smoke", executor="debug")
    assert path == result_path("sweep_tune_smoke_validation", "smoke")
    merged = json.loads(result_path("sweep_tune_smoke_validation", "smoke", kind="config").read_text())
    assert merged["values"]["eval_split"] == "validation"
    assert merged["command"] == "python -m borel_lib.sweep tune_smoke --profile smoke"
    for cell in sweep.grid_cells("tune_smoke"):
        name = sweep.result_name(cell, "smoke")
        config = read_results_config(name, "smoke")
        assert config["values"]["run"]["eval_split"] == "validation"
        assert config["command"].endswith("--eval-split validation") or "--eval-split validation --rl" in config["command"]
        final = read_results(f"{name}_final", "smoke").drop_duplicates("task").sort_values("task")
        tasks = eval_tasks("semicircle", 0, len(final), "validation")
        np.testing.assert_allclose(final.task_x, tasks[:, 0], rtol=1e-5)
    assert not list(tmp_path.rglob("borel_semicircle_uniform_reward_relabelling_seed0.csv"))  # no test run written
