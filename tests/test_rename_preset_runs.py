"""scripts/rename_preset_runs.py: after a profile default moves, runs are renamed from their resolved configs."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from script_loader import load_script

from borel_lib.pipeline import RunSpec
from borel_lib.results import find_results, read_table_file, result_path, write_results

rename_runs = load_script("rename_preset_runs")


def _write_run(root, spec: RunSpec, epochs: int, updates: int, vae_table: bool = True):
    """A committed run of ``spec`` as the pipeline writes it, made with ``epochs`` VAE epochs and ``updates``."""
    every = spec.rl_config().eval_every
    df = pd.DataFrame({"domain": spec.domain, "method": spec.method, "variant": "uniform", "seed": spec.seed,
                       "episode": 1, "metric": "return", "value": 1.0, "updates": range(every, updates + 1, every)})
    vae = dataclasses.replace(spec.vae_config(), epochs=epochs).to_dict() if spec.belief == "vae" else None
    run = {k: v for k, v in dataclasses.asdict(spec).items() if (k, v) not in (("image", ()), ("eval_split", "test"))}
    config = {"run": run, "offline_rl": {**spec.rl_config().to_dict(), "updates": updates}, "vae": vae}
    for suffix, table in (("", df), ("_final", df.assign(task=0))):
        write_results(table, f"borel_{spec.tag}{suffix}", config=config, profile="quick", command=spec.command,
                      directory=root)
    if vae_table and vae is not None:
        log = pd.DataFrame({"domain": spec.domain, "method": "x", "variant": "vae", "seed": spec.seed, "episode": 0,
                            "epoch": [1], "metric": "loss", "value": [1.0]})
        write_results(log, f"vae_{spec.vae_tag}", config=vae, profile="quick", command=spec.command, directory=root)


def _names(root, pattern="*"):
    return [p.name for p in find_results(pattern, "quick", root, kind="config")]


@pytest.fixture
def defaults(monkeypatch):
    """Wind's quick defaults set to 10 VAE epochs and 20k updates (when the runs are made); call the returned
    function to move them to 50 and 60k."""
    import borel_lib.offline_rl as rl_module
    import borel_lib.vae as vae_module

    def set_to(epochs, updates):
        monkeypatch.setitem(vae_module._PROFILE_DOMAIN, ("quick", "wind"), {"epochs": epochs})
        monkeypatch.setitem(rl_module.RL_PROFILE_DOMAIN, ("quick", "wind"), {"time_input": True, "updates": updates})

    set_to(10, 20_000)
    return lambda: set_to(50, 60_000)


def test_old_default_runs_get_explicit_names_and_overrides_of_the_new_default_lose_theirs(tmp_path, defaults):
    ck = tmp_path / "ck"
    old_default = RunSpec("wind", "quick", relabelling="policy_replay", seed=0)  # its name before the change
    long = RunSpec("wind", "quick", relabelling="policy_replay", seed=0, vae=(("epochs", 50),), rl=(("updates", 60000),))
    exact = RunSpec("wind", "quick", belief="exact", seed=0)
    _write_run(tmp_path, old_default, 10, 20000)
    _write_run(tmp_path, long, 50, 60000)
    _write_run(tmp_path, exact, 10, 20000)
    (ck / f"borel_{long.tag}").mkdir(parents=True)
    (ck / f"borel_{long.tag}" / "agent.pt").write_text("long run")
    (ck / f"vae_{old_default.vae_tag}").mkdir(parents=True)
    long_table = read_table_file(result_path(f"borel_{long.tag}", "quick", tmp_path))
    defaults()

    moved = rename_runs.rename("wind", "quick", ["vae.epochs", "rl.updates"], root=tmp_path, checkpoints=ck)

    assert ("borel_wind_uniform_policy_replay_seed0", "borel_wind_uniform_policy_replay_ep10_u20000_seed0") in moved
    assert ("borel_wind_uniform_policy_replay_ep50_u60000_seed0", "borel_wind_uniform_policy_replay_seed0") in moved
    assert ("borel_wind_uniform_exact_seed0", "borel_wind_uniform_exact_u20000_seed0") in moved
    assert ("vae_wind_uniform_policy_replay_seed0", "vae_wind_uniform_policy_replay_ep10_seed0") in moved
    assert ("vae_wind_uniform_policy_replay_ep50_seed0", "vae_wind_uniform_policy_replay_seed0") in moved
    assert sorted(_names(tmp_path, "borel_*")) == sorted(
        f"borel_wind_uniform_{t}{s}.config.json" for t in ("policy_replay_ep10_u20000_seed0", "policy_replay_seed0",
                                                           "exact_u20000_seed0") for s in ("", "_final"))
    # every renamed run rebuilds, from its config, a spec with its file's name and its recorded command
    for path in find_results("borel_*", "quick", tmp_path, kind="config"):
        saved = json.loads(path.read_text())
        spec = RunSpec.from_config(saved["values"]["run"])
        assert path.name in (f"borel_{spec.tag}.config.json", f"borel_{spec.tag}_final.config.json")
        assert saved["command"] == spec.command and saved["results"] == path.name.replace(".config.json", ".csv")
    new_default = RunSpec("wind", "quick", relabelling="policy_replay", seed=0)
    assert new_default.rl_config().updates == 60000
    assert read_table_file(result_path(f"borel_{new_default.tag}", "quick", tmp_path)).equals(long_table)
    vae_cfg = json.loads(result_path("vae_wind_uniform_policy_replay_ep10_seed0", "quick", tmp_path,
                                     kind="config").read_text())
    assert vae_cfg["command"].endswith("--vae epochs=10 --rl updates=20000")
    assert (ck / "borel_wind_uniform_policy_replay_seed0" / "agent.pt").read_text() == "long run"
    assert (ck / "vae_wind_uniform_policy_replay_ep10_seed0").is_dir()
    assert not any(p.name.endswith(".renaming") for p in tmp_path.rglob("*"))
    # a rerun finds nothing to do, and the folders of the old names are gone
    assert rename_runs.rename("wind", "quick", ["vae.epochs", "rl.updates"], root=tmp_path, checkpoints=ck) == []
    assert not (tmp_path / "borel" / "wind" / "uniform_policy_replay_ep50_u60000").exists()


def test_dry_run_moves_nothing_and_bad_input_is_one_error(tmp_path, defaults, capsys):
    spec = RunSpec("wind", "quick", relabelling="none", seed=1)
    _write_run(tmp_path, spec, 10, 20000)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    defaults()
    moved = rename_runs.rename("wind", "quick", ["vae.epochs", "rl.updates"], root=tmp_path, checkpoints=tmp_path / "c",
                               dry_run=True)
    assert ("borel_wind_uniform_none_seed1", "borel_wind_uniform_none_ep10_u20000_seed1") in moved
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    with pytest.raises(ValueError, match="STAGE.FIELD with STAGE one of vae, rl"):
        rename_runs.rename("wind", "quick", ["epochs"], root=tmp_path)
    with pytest.raises(ValueError, match="domain 'nowhere': allowed values"):
        rename_runs.rename("nowhere", "quick", ["vae.epochs"], root=tmp_path)
    with pytest.raises(ValueError, match="field rl.nonsense is not in"):
        rename_runs.rename("wind", "quick", ["rl.nonsense"], root=tmp_path)
    assert rename_runs.main(["wind", "--fields", "bad"]) == 2
    assert "rename_preset_runs: --fields 'bad'" in capsys.readouterr().err


def test_a_file_no_renamed_run_owns_is_never_overwritten(tmp_path, defaults):
    spec = RunSpec("wind", "quick", relabelling="none", seed=0)
    _write_run(tmp_path, spec, 10, 20000)
    defaults()
    squatter = result_path("borel_wind_uniform_none_ep10_u20000_seed0", "quick", tmp_path, kind="table")
    squatter.parent.mkdir(parents=True, exist_ok=True)
    squatter.write_text("someone else's\n")
    with pytest.raises(ValueError, match="would overwrite .*borel_wind_uniform_none_ep10_u20000_seed0.csv"):
        rename_runs.rename("wind", "quick", ["vae.epochs", "rl.updates"], root=tmp_path, checkpoints=tmp_path / "c")
    assert result_path(f"borel_{spec.tag}", "quick", tmp_path).is_file()
