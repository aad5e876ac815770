"""Minari export round trip: one episode per trial, task parameters in the infos."""

import numpy as np
import pytest

from borel_lib.collect import CollectConfig, collect

minari = pytest.importorskip("minari")


def test_minari_round_trip(tmp_path, monkeypatch):
    from borel_lib.minari_export import to_minari

    ds, _ = collect(CollectConfig.for_domain("semicircle", "smoke"), tmp_path / "ds", tmp_path / "ck",
                    profile="smoke", progress=False)
    to_minari(ds, "borel/semicircle-test-v0", data_path=tmp_path / "minari", trials=slice(0, 3))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    loaded = minari.load_dataset("borel/semicircle-test-v0")
    assert loaded.total_episodes == ds.n_tasks * 3
    T = ds.trial_length
    for ep in loaded.iterate_episodes():
        i, m = int(ep.infos["task_index"][0]), int(ep.infos["trial_index"][0])
        np.testing.assert_array_equal(ep.observations[:T], ds.obs[i, m])
        np.testing.assert_array_equal(ep.actions, ds.actions[i, m])
        np.testing.assert_array_equal(ep.rewards, ds.rewards[i, m])
        np.testing.assert_array_equal(ep.infos["next_obs"][1:], ds.next_obs[i, m])
        np.testing.assert_allclose(ep.infos["task"][0], ds.tasks[i], rtol=1e-6)
        assert ep.truncations[-1] and not ep.terminations.any()
