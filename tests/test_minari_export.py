"""Minari export round trip: one episode per trial, task parameters in the infos, true action spaces,
a recoverable environment; and the ``borel/`` Gymnasium ids after ``import borel_lib``."""

import subprocess
import sys

import numpy as np
import pytest
from gymnasium import spaces

from borel_lib.collect import CollectConfig, collect

minari = pytest.importorskip("minari")


def test_gymnasium_make_after_import_borel_lib():
    """A fresh interpreter: ``import borel_lib`` alone registers the ids."""
    code = ("import gymnasium, borel_lib; env = gymnasium.make('borel/SemiCircle-v0'); "
            "print(env.reset(seed=0)[0].shape, env.spec.max_episode_steps)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "(2,) 60"


@pytest.mark.parametrize("domain", ["semicircle", "gridworld"])
def test_minari_round_trip(tmp_path, monkeypatch, domain):
    from borel_lib.minari_export import to_minari

    cfg = CollectConfig.for_domain(domain, "smoke", iterations=1, updates_per_iter=1)
    ds, _ = collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    to_minari(ds, f"borel/{domain}-test-v0", data_path=tmp_path / "minari", trials=slice(0, 3))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    loaded = minari.load_dataset(f"borel/{domain}-test-v0")
    assert loaded.total_episodes == ds.n_tasks * 3
    T = ds.trial_length
    for ep in loaded.iterate_episodes():
        i, m = int(ep.infos["task_index"][0]), int(ep.infos["trial_index"][0])
        np.testing.assert_array_equal(ep.observations[:T], ds.obs[i, m])
        if domain == "gridworld":
            assert ep.actions.dtype.kind == "i" and ep.actions.shape == (T,)
            np.testing.assert_array_equal(ep.actions, ds.actions[i, m, :, 0])
        else:
            np.testing.assert_array_equal(ep.actions, ds.actions[i, m])
        np.testing.assert_array_equal(ep.rewards, ds.rewards[i, m])
        np.testing.assert_array_equal(ep.infos["next_obs"][1:], ds.next_obs[i, m])
        np.testing.assert_allclose(ep.infos["task"][0], ds.tasks[i], rtol=1e-6)
        assert ep.truncations[-1] and not ep.terminations.any()
    expected = spaces.Discrete(5) if domain == "gridworld" else spaces.Box(-1.0, 1.0, (2,), np.float32)
    assert loaded.action_space == expected
    env = loaded.recover_environment()
    assert env.action_space == expected and env.observation_space == loaded.observation_space
    obs, info = env.reset(seed=0, options={"task": ds.tasks[0]})
    assert obs.shape == (ds.obs.shape[-1],) and obs[-1] == 0.0
    steps = 0
    truncated = False
    while not truncated:
        _, _, _, truncated, _ = env.step(env.action_space.sample())
        steps += 1
    assert steps == T  # one recovered episode is one k-episode trial, like the exported episodes
    assert loaded.recover_environment(eval_env=True).unwrapped.init_state == "fixed"


def test_minari_cli(tmp_path, capsys):
    from borel_lib.minari_export import main

    cfg = CollectConfig.for_domain("semicircle", "smoke", iterations=1, updates_per_iter=1)
    ds, _ = collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    assert main([str(tmp_path / "nope"), "borel/x-v0", "--data-path", str(tmp_path / "m")]) == 2
    assert "dataset directory does not exist" in capsys.readouterr().err and not (tmp_path / "m").exists()
    for trials, message in (("0", "must be an integer >= 1"), ("999", f"only {ds.n_trials} trials")):
        assert main([str(tmp_path / "ds"), "borel/x-v0", "--data-path", str(tmp_path / "m"), "--trials", trials]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and not (tmp_path / "m").exists(), err
    assert main([str(tmp_path / "ds"), "borel/x-v0", "--data-path", str(tmp_path / "m"), "--trials", "2"]) == 0
    assert f"{cfg.n_tasks * 2} episodes" in capsys.readouterr().out


def test_without_minari_the_error_names_the_install_command(monkeypatch):
    import sys

    from borel_lib.minari_export import to_minari

    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'borel_lib\[minari\]'"):
        to_minari(None, "borel/x-v0")
