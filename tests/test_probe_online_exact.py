"""scripts/probe_online_exact.py, the same learner online (issue 31's control): its Semi-circle form stores the
BAMDP trials it explores as state relabelling stores logged ones, and runs end to end on a smoke collection."""

import sys

import numpy as np
import pandas as pd
import pytest
from script_loader import load_script

from borel_lib.belief import make_belief
from borel_lib.envs import make_env
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig
from borel_lib.results import result_path
from borel_lib.state_relabel import hyper_state

pytestmark = pytest.mark.usefixtures("one_thread")


def _script(name):
    return load_script(name)


probe = _script("probe_online_exact")


def _agent(domain):
    belief = make_belief("exact", domain=domain)
    cfg = OfflineRLConfig.for_domain(domain, "smoke", time_input=True, goal_terminal=True)
    d = hyper_state(np.zeros((1, 3), np.float32), belief.features(belief.reset(1)), 0, 1, 1).shape[-1]
    discrete = domain == "gridworld"
    return belief, cfg, OfflineAgent(d, 5 if discrete else 2, discrete, cfg, 0)


def test_semicircle_trials_are_stored_as_relabelled_data():
    belief, cfg, agent = _agent("semicircle")
    tasks = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)
    out = probe.rollout(agent, belief, tasks, 0.5, np.random.default_rng(1), True, True, "semicircle")
    env = make_env("semicircle")
    n, T = out["actions"].shape[:2]
    H = env.horizon
    assert (n, T) == (3, 2 * H) and out["actions"].shape[-1] == 2
    assert np.all(np.abs(out["actions"]) <= 1)
    assert out["dones"][:, -1].tolist() == [1, 1, 1]
    raw = out["obs"].shape[-1] - belief.dim - 2  # hyper-state = [s, belief features, clock]
    # before episode 1's last step every next state is stored (that step's is the next episode's reset state):
    # the belief part of each hyper-state is the exact posterior after the stored prefix (replayed here step by
    # step), the next hyper-state holds the posterior one step on, and its s is the next step's s
    state = belief.reset(n)
    for t in range(H - 1):
        assert np.allclose(out["obs"][:, t, raw:raw + belief.dim], belief.features(state), atol=1e-6)
        state = belief.step(np.copy(state), out["actions"][:, t], out["rewards"][:, t], out["next_obs"][:, t, :raw])
        assert np.allclose(out["next_obs"][:, t, raw:raw + belief.dim], belief.features(state), atol=1e-6)
        assert np.allclose(out["obs"][:, t + 1, :raw], out["next_obs"][:, t, :raw])
    assert np.allclose(out["next_obs"][:, H - 1, :raw - 1], 0)  # the Semi-circle's evaluation start
    # goal-terminal flags exactly where the stored next state is in the goal disc (within episode 1)
    inside = env.is_success(out["next_obs"][:, :H - 1, :raw - 1], tasks[:, None])
    assert np.array_equal(out["dones"][:, :H - 1].astype(bool), inside)
    again = probe.rollout(_agent("semicircle")[2], belief, tasks, 0.5, np.random.default_rng(1), True, True,
                          "semicircle")
    assert all(np.array_equal(out[k], again[k]) for k in out)  # one seed, one trial


@pytest.mark.parametrize("domain", ["semicircle", "escape_room"])
def test_online_probe_runs_on_a_smoke_collection(tmp_path, monkeypatch, domain):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["probe_online_exact.py", "--data", "online", "--domain", domain,
                                      "--profile", "smoke", "--collect-every", "2", "--warmup-trials", "1"])
    probe.main()
    path = result_path(f"probe_online_exact_{domain}_online_seed0", "smoke", tmp_path / "build" / "smoke" / "results")
    assert path.parent.name == domain
    df = pd.read_csv(path)
    assert set(df.domain) == {domain} and set(df.episode) == {1, 2}
    assert f"--domain {domain}" in path.with_suffix(".config.json").read_text()
