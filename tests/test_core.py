"""Seeding, device selection, paths, atomic writes, figures and result tables."""

import random

import numpy as np
import pandas as pd
import pytest
import torch
from script_loader import load_script

from borel_lib import io, paths
from borel_lib.device import get_device, set_torch_threads
from borel_lib.results import read_results, read_results_config, result_path, validate_tidy, write_results
from borel_lib.seeding import seed_everything, spawn_generators


def _new_table(name, profile, directory):
    """Where a test writes result ``name`` by hand (its folder in the results tree made first)."""
    path = result_path(name, profile, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path

def _draws():
    return (random.random(), np.random.rand(), torch.rand(3).tolist())  # noqa: NPY002


def test_seed_everything_repeats():
    rng1 = seed_everything(123)
    a = (_draws(), rng1.random(4).tolist(), torch.nn.Linear(3, 2).weight.tolist())
    rng2 = seed_everything(123)
    b = (_draws(), rng2.random(4).tolist(), torch.nn.Linear(3, 2).weight.tolist())
    assert a == b
    seed_everything(124)
    assert _draws() != a[0]


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, 2**32])
def test_seed_validation(bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        seed_everything(bad)


def test_spawn_generators_independent_and_stable():
    g1 = [g.random() for g in spawn_generators(7, 3)]
    g2 = [g.random() for g in spawn_generators(7, 3)]
    assert g1 == g2 and len(set(g1)) == 3


def test_device_selection():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device("auto").type == expected
    assert get_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="allowed values: auto, cpu, cuda"):
        get_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            get_device("cuda")
    with pytest.raises(ValueError):
        set_torch_threads(0)


def test_paths_are_anchored_and_smoke_never_writes_committed_folders(monkeypatch, tmp_path):
    root = paths.repo_root()
    assert (root / "pyproject.toml").is_file()
    monkeypatch.chdir(tmp_path)  # papermill/nbval run kernels elsewhere
    assert paths.repo_root() == root
    assert paths.figures_dir("quick") == root / "figures"
    for fn in (paths.figures_dir, paths.results_dir, paths.datasets_dir, paths.checkpoints_dir):
        assert fn("smoke").is_relative_to(root / "build"), fn.__name__


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "table.csv"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    io.write_text(target, "whole")
    assert target.read_text() == "whole" and len(list(tmp_path.iterdir())) == 1


def test_savefig_writes_png_pdf_byte_stable(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from borel_lib.figures.style import savefig, set_style

    set_style()

    def draw(directory):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 1], label="x")
        ax.legend()
        out = savefig(fig, "fig_test", directory=directory)
        plt.close(fig)
        return out

    a = draw(tmp_path / "a")
    b = draw(tmp_path / "b")
    assert [p.suffix for p in a] == [".png", ".pdf"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two identical saves"
    with pytest.raises(ValueError, match="figure name"):
        savefig(None, "../escape", directory=tmp_path)
    with pytest.raises(ValueError, match="allowed values: png, pdf, svg"):
        savefig(None, "ok", formats=("jpg",), directory=tmp_path)


def _table():
    return pd.DataFrame({"domain": "gridworld", "method": ["oracle", "oracle"], "variant": "fixed",
                         "seed": 0, "episode": [1, 2], "metric": "return", "value": [1.5, 2.5]})


def test_results_round_trip(tmp_path):
    path = write_results(_table(), "toy", config={"a": 1}, profile="smoke", command="make test",
                         directory=tmp_path)
    assert path.name == "toy.csv"
    df = read_results("toy", "smoke", directory=tmp_path)
    assert df["value"].tolist() == [1.5, 2.5]
    assert read_results_config("toy", "smoke", directory=tmp_path)["command"] == "make test"


def test_results_validation_errors():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['metric'\]"):
        validate_tidy(_table().drop(columns="metric"))
    bad = _table()
    bad.loc[0, "value"] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        validate_tidy(bad)
    with pytest.raises(ValueError, match="duplicated"):
        validate_tidy(pd.concat([_table(), _table()]))
    with pytest.raises(FileNotFoundError, match="run the notebook"):
        read_results("never_made", "smoke", directory="/nonexistent")


def test_borel_runs_average_the_last_tenth_of_evaluations(tmp_path):
    import numpy as np
    import pandas as pd

    from borel_lib.results import borel_runs, summarise_runs
    from borel_lib.stats import bootstrap_ci, iqm

    for seed, shift in ((0, 0.0), (1, 2.0)):
        rows = [{"domain": "semicircle", "method": "borel_rr", "variant": "uniform", "seed": seed, "episode": e,
                 "metric": m, "value": (u / 1000 + shift) * (e if m == "return" else 0.1), "updates": u}
                for u in range(1000, 21000, 1000) for e in (1, 2) for m in ("return", "success")]
        pd.DataFrame(rows).to_csv(_new_table(f"borel_semicircle_uniform_reward_relabelling_seed{seed}", "smoke", tmp_path), index=False)
        final = [{"domain": "semicircle", "method": "borel_rr", "variant": "uniform", "seed": seed, "task": t,
                  "episode": 0, "metric": "found_ep1", "value": float(t % 2), "updates": 20000} for t in range(4)]
        pd.DataFrame(final).to_csv(_new_table(f"borel_semicircle_uniform_reward_relabelling_seed{seed}_final", "smoke", tmp_path), index=False)
    runs = borel_runs("quick", directory=tmp_path)
    assert len(runs) == 2 and set(runs.evals_averaged) == {2} and set(runs.evals) == {20}  # 10 % of 20 evaluations
    # last two evaluations: updates 19k and 20k -> mean over episodes 1, 2 of (u/1000 + shift) * e
    np.testing.assert_allclose(runs.sort_values("seed").metric, [19.5 * 1.5, 21.5 * 1.5])
    # the best evaluation (the last here, returns grow) and the last one
    np.testing.assert_allclose(runs.sort_values("seed").best, [20 * 1.5, 22 * 1.5])
    np.testing.assert_allclose(runs.sort_values("seed").final, [20 * 1.5, 22 * 1.5])
    np.testing.assert_allclose(runs.found_ep1, 0.5)
    s = summarise_runs(runs)
    assert s.seeds.item() == 2 and s.config.item() == "semicircle_uniform_reward_relabelling"
    np.testing.assert_allclose(s.metric_se.item(), np.std([19.5 * 1.5, 21.5 * 1.5], ddof=1) / np.sqrt(2))
    np.testing.assert_allclose(s.iqm.item(), iqm([19.5 * 1.5, 21.5 * 1.5]))  # two seeds: the mean
    np.testing.assert_allclose([s.ci_low.item(), s.ci_high.item()], bootstrap_ci([19.5 * 1.5, 21.5 * 1.5]))


def _pearl_table(returns, directory, name="pearl_semicircle_seed0", seed=0):
    """A PEARL result table as the baseline writes it: per-evaluation rows (``return`` and ``success`` per
    iteration and episode) and the best_*/final_* rows of :func:`borel_lib.baselines.common.summarise`."""
    import pandas as pd

    from borel_lib.baselines.pearl import summarise

    rows = [{"domain": "semicircle", "method": "pearl", "variant": "online", "seed": seed, "episode": e, "metric": m,
             "value": returns[it][e - 1] if m == "return" else 0.5, "iteration": it}
            for it in returns for e in (1, 2) for m in ("return", "success")]
    summarise(pd.DataFrame(rows), eval_episodes=2).to_csv(_new_table(name, "smoke", directory), index=False)


def test_baseline_runs_average_the_last_tenth_of_evaluations_as_borel(tmp_path):
    """PEARL/MBML tables: the primary metric averages the last 10 % of the per-evaluation rows exactly as for
    BOReL (here 3 evaluations: the last one); the best evaluation over training is the secondary ``best``."""
    import numpy as np

    from borel_lib.results import RUN_COLUMNS, baseline_runs, results_table_markdown

    _pearl_table({10: (1.0, 3.0), 20: (5.0, 7.0), 30: (2.0, 2.0)}, tmp_path)  # iteration -> episode 1, 2 returns
    run = baseline_runs("quick", directory=tmp_path).iloc[0]
    assert run.method == "pearl" and run.updates == 30 and run.evals == 3 and run.evals_averaged == 1
    np.testing.assert_allclose([run.metric, run.best, run.final, run.ep1, run.ep2, run.success], [2.0, 6.0, 2.0, 2.0, 2.0, 0.5])
    table = results_table_markdown("quick", directory=tmp_path)
    assert "| semicircle | pearl_semicircle | 1 | 30 iter. (1 of 3) | 2.00 | 2.00 | 6.00 | 2.00 | 2.00 | 0.50 | — | — |" in table
    # 20 evaluations: the last two, as for BOReL
    _pearl_table({it: (float(it), float(it)) for it in range(5, 105, 5)}, tmp_path, "pearl_semicircle_seed1", seed=1)
    runs = baseline_runs("quick", directory=tmp_path)
    assert tuple(runs.columns) == RUN_COLUMNS
    runs = runs.set_index("seed")
    assert runs.loc[1, "evals_averaged"] == 2 and runs.loc[1, "metric"] == 97.5 and runs.loc[1, "best"] == 100.0


def test_borel_and_baseline_runs_mean_the_same_thing(tmp_path):
    """The same per-evaluation returns written as a BOReL table and as a PEARL table give the same
    numbers in the same columns."""
    import pandas as pd

    from borel_lib.results import RUN_COLUMNS, baseline_runs, borel_runs

    returns = {it: (float(it % 7), float(it % 5)) for it in range(1000, 21000, 1000)}
    _pearl_table(returns, tmp_path)
    rows = [{"domain": "semicircle", "method": "borel_rr", "variant": "uniform", "seed": 0, "episode": e, "metric": m,
             "value": returns[u][e - 1] if m == "return" else 0.5, "updates": u}
            for u in returns for e in (1, 2) for m in ("return", "success")]
    pd.DataFrame(rows).to_csv(_new_table("borel_semicircle_uniform_reward_relabelling_seed0", "smoke", tmp_path), index=False)
    borel, base = borel_runs("quick", directory=tmp_path), baseline_runs("quick", directory=tmp_path)
    assert tuple(borel.columns) == tuple(base.columns) == RUN_COLUMNS
    numbers = [c for c in RUN_COLUMNS if c not in ("run", "method")]
    pd.testing.assert_series_equal(borel.iloc[0][numbers], base.iloc[0][numbers], check_names=False)


def test_baseline_table_without_per_evaluation_rows_is_refused(tmp_path):
    import pandas as pd
    import pytest

    from borel_lib.results import baseline_runs

    rows = [{"domain": "semicircle", "method": "pearl", "variant": "online", "seed": 0, "episode": e, "metric": m,
             "value": 1.0, "iteration": 100} for e in (1, 2) for m in ("best_return", "final_return")]
    pd.DataFrame(rows).to_csv(_new_table("pearl_semicircle_seed0", "smoke", tmp_path), index=False)
    with pytest.raises(ValueError, match="no per-evaluation 'return' rows"):
        baseline_runs("quick", directory=tmp_path)


def test_paper_orderings_give_a_verdict_per_testable_claim(tmp_path):
    """paper_orderings on hand-written tables: Semi-circle BOReL (RR) against BOReL without RR (3 seeds each,
    RR far above: holds) and against PEARL (1 seed: too few seeds); claims without tables are left out. The
    claim's configuration names are those of the runs the pipeline and the sweep name."""
    import numpy as np
    import pandas as pd

    from borel_lib.pipeline import RunSpec
    from borel_lib.results import ORDERING_COLUMNS, ordering_claims, orderings_markdown, paper_orderings
    from borel_lib.stats import compare
    from borel_lib.sweep import cell_spec, grid_cells

    def borel_table(relabelling, seed, value):
        spec = RunSpec("semicircle", "quick", relabelling=relabelling, seed=seed)
        rows = [{"domain": "semicircle", "method": "borel_rr", "variant": "uniform", "seed": seed, "episode": e,
                 "metric": m, "value": value if m == "return" else 0.0, "updates": u}
                for u in (1000, 2000) for e in (1, 2) for m in ("return", "success")]
        pd.DataFrame(rows).to_csv(_new_table(f"borel_{spec.tag}", "smoke", tmp_path), index=False)

    for seed in (0, 1, 2):
        borel_table("reward_relabelling", seed, 20.0 + seed)
        borel_table("none", seed, 5.0 + 2 * seed)
    _pearl_table({10: (1.0, 1.0), 20: (3.0, 3.0)}, tmp_path)
    out = paper_orderings("quick", tmp_path)
    assert tuple(out.columns) == ORDERING_COLUMNS
    assert list(out.claim) == ["BOReL (RR) > BOReL without relabelling", "BOReL (RR) > PEARL"]
    rr = out.iloc[0]
    assert (rr.domain, rr.a, rr.b, rr.verdict) == ("semicircle", "semicircle_uniform_reward_relabelling", "semicircle_uniform_none", "holds")
    expected = compare([20.0, 21.0, 22.0], [5.0, 7.0, 9.0])
    np.testing.assert_allclose([rr.iqm_a, rr.iqm_b, rr.diff_ci_low, rr.diff_ci_high],
                               [expected[k] for k in ("iqm_a", "iqm_b", "diff_ci_low", "diff_ci_high")])
    assert (out.iloc[1].b, out.iloc[1].n_b, out.iloc[1].verdict) == ("pearl_semicircle", 1, "too few seeds")
    md = orderings_markdown("quick", tmp_path)
    assert "| BOReL (RR) > PEARL | semicircle | semicircle_uniform_reward_relabelling | pearl_semicircle | 3 / 1 | 21.00 | 3.00 | — " \
           "| too few seeds |" in md
    # the claims name the runs the Table 1 sweep writes
    table1 = {cell_spec(c, "quick").tag.rsplit("_seed", 1)[0] for c in grid_cells("table1")}
    claimed = {x for claim, _, a, bs in ordering_claims("quick") if claim.startswith("Table 1") for x in (a, *bs)}
    assert claimed == table1
    assert paper_orderings("quick", tmp_path / "empty").empty


def _hold_lock(path, log, tag, hold):
    import time

    with io.file_lock(path):
        with open(log, "a") as f:
            f.write(f"{tag} in\n")
        time.sleep(hold)
        with open(log, "a") as f:
            f.write(f"{tag} out\n")


def test_file_lock_lets_one_process_in_at_a_time(tmp_path):
    import multiprocessing
    import time

    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "log"
    first = ctx.Process(target=_hold_lock, args=(tmp_path / "sub" / ".lock", log, "A", 1.0))
    first.start()
    for _ in range(200):  # wait until A holds the lock
        if log.is_file():
            break
        time.sleep(0.05)
    second = ctx.Process(target=_hold_lock, args=(tmp_path / "sub" / ".lock", log, "B", 0.0))
    second.start()
    first.join(30)
    second.join(30)
    assert log.read_text().split("\n")[:-1] == ["A in", "A out", "B in", "B out"]


def test_a_result_names_folder_follows_from_the_name_alone():
    from borel_lib.results import result_dir

    assert str(result_dir("borel_semicircle_uniform_reward_relabelling_seed0_traj")) == "borel/semicircle/uniform_reward_relabelling"
    assert str(result_dir("borel_ant_semicircle_uniform_reward_relabelling_cql2_seed1")) == (
        "borel/ant_semicircle/uniform_reward_relabelling_cql2")
    assert str(result_dir("borel_gridworld_seed0")) == "borel/gridworld/default"
    assert str(result_dir("pearl_oracle_task_semicircle_seed0")) == "baselines/semicircle"
    assert str(result_dir("vae_ant_semicircle_fixed_reward_relabelling_seed0")) == "belief/ant_semicircle"
    assert str(result_dir("collect_semicircle_uniform_seed0_traj")) == "collection/semicircle"
    assert str(result_dir("probe_sac_gym_ant_calibrated_steps150000_seeds0-1")) == "probes/gym_ant"
    assert str(result_dir("sweep_table1")) == "sweeps"
    assert str(result_dir("online_varibad_ppo_gridworld_seed0")) == "online/gridworld"
    assert str(result_dir("gridworld_exact")) == "analysis/gridworld"
    assert str(result_dir("ant_data_diversity")) == "analysis"
    assert str(result_dir("probe_ant_collectors_exclude_semicircle_shared")) == "probes"  # a variant, not a domain
    assert str(result_dir("collect_semicircle_exclude_semicircle_seed0")) == "collection/semicircle"
    assert str(result_dir("borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0")) == (
        "borel/ant_semicircle/exclude_semicircle_reward_relabelling")


def test_trajectory_tables_are_compressed_with_reproducible_bytes(tmp_path):
    from borel_lib.results import find_results, result_name

    traj = _table().assign(task=0, t=[0, 1], updates=10)  # a trajectory table's key: task, step t, evaluation
    a = write_results(traj, "borel_semicircle_uniform_none_seed0_traj", config=None, profile="smoke", command="x",
                      directory=tmp_path / "a")
    b = write_results(traj, "borel_semicircle_uniform_none_seed0_traj", config=None, profile="smoke", command="x",
                      directory=tmp_path / "b")
    assert a.name == "borel_semicircle_uniform_none_seed0_traj.csv.gz" and a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    pd.testing.assert_frame_equal(read_results("borel_semicircle_uniform_none_seed0_traj", "smoke", tmp_path / "a"), traj)
    assert [result_name(p) for p in find_results("borel_*_traj", "smoke", tmp_path / "a")] == [
        "borel_semicircle_uniform_none_seed0_traj"]
    assert find_results("pearl_*", "smoke", tmp_path / "a") == []


def test_the_migration_moves_a_flat_folder_into_the_tree_once(tmp_path, monkeypatch):
    import gzip
    import json


    migrate = load_script("migrate_results_tree")
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    flat = tmp_path / "data" / "results" / "quick"
    flat.mkdir(parents=True)
    _table().to_csv(flat / "borel_gridworld_none_seed0_traj.csv", index=False)
    (flat / "borel_gridworld_none_seed0_traj.config.json").write_text(json.dumps(
        {"command": "python -m borel_lib.borel gridworld --seed 0", "results": "borel_gridworld_none_seed0_traj.csv"}))
    _table().to_csv(flat / "pearl_semicircle_seed0.csv", index=False)
    raw = (flat / "borel_gridworld_none_seed0_traj.csv").read_bytes()
    assert len(migrate.migrate("quick")) == 3
    tree = flat / "borel" / "gridworld" / "none"
    assert gzip.decompress((tree / "borel_gridworld_none_seed0_traj.csv.gz").read_bytes()) == raw
    meta = json.loads((tree / "borel_gridworld_none_seed0_traj.config.json").read_text())
    assert meta == {"command": "python -m borel_lib.pipeline gridworld --seed 0",
                    "results": "borel_gridworld_none_seed0_traj.csv.gz"}
    assert (flat / "baselines" / "semicircle" / "pearl_semicircle_seed0.csv").is_file()
    assert sorted(p.name for p in flat.iterdir()) == ["baselines", "borel"]
    assert migrate.migrate("quick") == []  # nothing flat left: idempotent


def test_the_migration_writes_the_default_initial_state_into_run_names_once(tmp_path, monkeypatch):
    """Issue 29: runs named before every name carried its initial-state variant move to the name (and
    folder) with the collection protocol's default written in, names recorded inside configs and tables
    follow, names that have their variant and the collection folder stay, and a second run moves nothing."""
    import gzip
    import json


    migrate = load_script("migrate_results_tree")
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    root = tmp_path / "data" / "results" / "quick"
    old = {"borel/ant_semicircle/reward_relabelling/borel_ant_semicircle_reward_relabelling_seed0": ".csv",
           "borel/ant_semicircle/reward_relabelling/borel_ant_semicircle_reward_relabelling_seed0_traj": ".csv.gz",
           "borel/ant_semicircle/uniform_exact/borel_ant_semicircle_uniform_exact_seed0": ".csv",
           "belief/gridworld/vae_gridworld_none_seed1": ".csv",
           "belief/belief_vs_exact": ".csv",
           "analysis/gridworld/gridworld_exact_search": ".csv",
           "collection/semicircle/collect_semicircle_uniform_seed0": ".csv"}
    for stem, ext in old.items():
        path = root / f"{stem}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        name = path.name.removesuffix(ext)
        text = "domain,vae\ngridworld,gridworld_none_seed1\n" if name == "belief_vs_exact" else "a,b\n1,2\n"
        path.write_bytes(gzip.compress(text.encode()) if ext == ".csv.gz" else text.encode())
        (path.parent / f"{name}.config.json").write_text(json.dumps(
            {"command": "python -m borel_lib.pipeline ant_semicircle --seed 0", "results": f"{name}{ext}",
             "values": {"vae": {"gridworld_none_seed1": {}}} if name == "belief_vs_exact" else {}}))
    gz = (root / f"{next(iter(k for k, e in old.items() if e == '.csv.gz'))}.csv.gz").read_bytes()
    moves = dict(migrate.rename_runs("quick"))
    assert len(moves) == 6  # three runs, table and config each
    new = root / "borel" / "ant_semicircle" / "exclude_semicircle_reward_relabelling"
    assert (new / "borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0_traj.csv.gz").read_bytes() == gz
    meta = json.loads((new / "borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0.config.json").read_text())
    assert meta["results"] == "borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0.csv"
    assert meta["command"] == "python -m borel_lib.pipeline ant_semicircle --seed 0"  # the default stays out of commands
    assert not (root / "borel" / "ant_semicircle" / "reward_relabelling").exists()
    assert (root / "belief" / "gridworld" / "vae_gridworld_uniform_none_seed1.csv").is_file()
    assert (root / "belief" / "belief_vs_exact.csv").read_text().endswith(",gridworld_uniform_none_seed1\n")
    assert "gridworld_uniform_none_seed1" in (root / "belief" / "belief_vs_exact.config.json").read_text()
    for stem in ("borel/ant_semicircle/uniform_exact/borel_ant_semicircle_uniform_exact_seed0",
                 "analysis/gridworld/gridworld_exact_search", "collection/semicircle/collect_semicircle_uniform_seed0"):
        assert (root / f"{stem}.csv").read_text() == "a,b\n1,2\n", stem
    assert migrate.rename_runs("quick") == []  # idempotent
    # the semi-circle of the variant excluding it is no domain: a migrated Ant name is left alone
    assert migrate.with_init_state("borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0", "quick") == \
        "borel_ant_semicircle_exclude_semicircle_reward_relabelling_seed0"


def test_ordering_claims_of_every_profile_build():
    """ordering_claims names real runs on every profile: a claim whose data a profile cannot have (the last 20
    trials of a 5-trial smoke collection) is left out, not an error."""
    from borel_lib.results import ordering_claims

    for profile in ("smoke", "quick", "paper"):
        claims = [c for c, *_ in ordering_claims(profile)]
        assert "BOReL (RR) > BOReL without relabelling, fixed-start data" in claims
    assert "BOReL (RR) > BOReL without relabelling, fixed-start data, last 20 trials" not in [
        c for c, *_ in ordering_claims("smoke")]
