"""scripts/probe_ant_collectors.py: what the Ant data can teach under the paper's metric (issue 13)."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from borel_lib import figures
from borel_lib.collect import run_collection
from borel_lib.paths import repo_root

_spec = importlib.util.spec_from_file_location("probe_ant_collectors",
                                               repo_root() / "scripts" / "probe_ant_collectors.py")
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


def test_summarise_against_a_loop():
    rng = np.random.default_rng(0)
    ctrl = -rng.random((3, 8))
    goal = (rng.random((3, 8)) < 0.4).astype(float)
    out = probe.summarise(goal + ctrl, ctrl, k=2)
    for e in range(2):
        sl = slice(4 * e, 4 * e + 4)
        assert out["return"][e] == pytest.approx(np.mean([(goal + ctrl)[i, sl].sum() for i in range(3)]))
        assert out["in_goal_steps"][e] == pytest.approx(np.mean([goal[i, sl].sum() for i in range(3)]))
        assert out["ctrl"][e] == pytest.approx(np.mean([ctrl[i, sl].sum() for i in range(3)]))


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    return tmp_path


def test_probe_scores_a_smoke_collection(root, capsys):
    run_collection("ant_semicircle", "smoke", progress=False, init_state="uniform")
    assert probe.main(["--profile", "smoke", "--iterations", "2", "--trials", "1", "--last", "1"]) == 0
    df = pd.read_csv(root / "build" / "smoke" / "results" / "probe_ant_collectors_uniform.csv")
    assert set(df.method) == {"logged", "zero_action", "collector_deterministic", "collector_sampled"}
    assert set(df.episode) == {1, 2}
    zero = df[(df.method == "zero_action") & (df.metric == "ctrl")]
    assert (zero.value == 0).all()  # standing still costs nothing
    sampled = df[(df.method == "collector_sampled") & (df.metric == "ctrl")]
    assert (sampled.value < 0).all()
    table = figures.ant_collector_probe("smoke")
    assert list(table.columns) == ["return, ep 1", "return, ep 2", "steps in goal, ep 1", "steps in goal, ep 2"]
    with pytest.raises(FileNotFoundError, match="no saved policies at iteration 7"):
        probe.main(["--profile", "smoke", "--iterations", "7", "--trials", "1"])
