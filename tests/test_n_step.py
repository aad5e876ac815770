"""n-step TD targets of the offline learners (OfflineRLConfig.n_step, issue 31's candidate): the sampled pieces
against a brute-force walk along each logged trial, and every learner's target using the batch's discount."""

import copy

import numpy as np
import pytest
import torch

from borel_lib.config import ConfigError
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig, n_step_targets
from borel_lib.pipeline import RunSpec
from borel_lib.state_relabel import HyperStates


def _data(seed: int = 0, N: int = 3, M: int = 4, T: int = 9, d: int = 3) -> HyperStates:
    rng = np.random.default_rng(seed)
    dones = (rng.random((N, M, T)) < 0.15).astype(np.float32)
    dones[..., -1] = 1  # the trial's last transition ends the BAMDP
    return HyperStates(obs=rng.normal(size=(N, M, T, d)).astype(np.float32),
                       actions=rng.uniform(-1, 1, (N, M, T, 2)).astype(np.float32),
                       rewards=rng.normal(size=(N, M, T)).astype(np.float32),
                       next_obs=rng.normal(size=(N, M, T, d)).astype(np.float32), dones=dones)


def _brute_force(data: HyperStates, i: int, m: int, t: int, n: int, gamma: float):
    ret, k = 0.0, 0
    for j in range(n):
        ret += gamma**j * float(data.rewards[i, m, t + j])
        k = j + 1
        if data.dones[i, m, t + j]:
            break
    last = t + k - 1
    return ret, data.next_obs[i, m, last], data.dones[i, m, last], gamma**k


@pytest.mark.parametrize("n", [1, 2, 3, 6, 20])
def test_n_step_targets_walk_the_logged_trial_and_stop_at_dones(n):
    data, gamma = _data(), 0.9
    N, M, T = data.rewards.shape
    ti, mi, tt = (a.ravel() for a in np.meshgrid(np.arange(N), np.arange(M), np.arange(T), indexing="ij"))
    out = n_step_targets(data, ti, mi, tt, n, gamma)
    for j, (i, m, t) in enumerate(zip(ti, mi, tt)):
        ret, nxt, done, disc = _brute_force(data, i, m, t, n, gamma)
        assert out["rewards"][j] == pytest.approx(ret, rel=1e-5, abs=1e-6)
        np.testing.assert_array_equal(out["next_obs"][j], nxt)
        assert out["dones"][j] == done and out["discount"][j] == pytest.approx(disc, rel=1e-6)
    if n == 1:  # the one-step pieces themselves
        np.testing.assert_allclose(out["rewards"], data.rewards[ti, mi, tt], rtol=1e-6)
        np.testing.assert_allclose(out["discount"], gamma, rtol=1e-6)


def test_sample_adds_n_step_pieces_only_when_asked():
    data = _data(1)
    one = OfflineAgent(3, 2, False, OfflineRLConfig.for_domain("semicircle", "smoke"), seed=4)
    three = OfflineAgent(3, 2, False, OfflineRLConfig.for_domain("semicircle", "smoke", n_step=3), seed=4)
    a, b = one.sample(data), three.sample(data)
    assert "discount" not in a and set(b) == set(a) | {"discount"}
    torch.testing.assert_close(a["obs"], b["obs"])  # the same transitions drawn: no extra random numbers
    torch.testing.assert_close(a["actions"], b["actions"])
    assert (b["discount"] <= 0.9 + 1e-6).all() and (b["discount"] >= 0.9**3 - 1e-6).all()
    with pytest.raises(ConfigError, match="n_step"):
        OfflineRLConfig.for_domain("semicircle", "smoke", n_step=0)
    spec = RunSpec("semicircle", "smoke", "exact", rl=(("n_step", 3),))
    assert spec.tag == "semicircle_uniform_exact_ns3_seed0" and "--rl n_step=3" in spec.command


@pytest.mark.parametrize(("discrete", "algo"), [(False, "sac"), (False, "iql"), (True, "sac")])
def test_every_learner_bootstraps_with_the_batch_discount(discrete, algo):
    """A batch whose discount is γ everywhere updates exactly as the one-step batch without one; another
    discount changes the update (so the learners read it)."""
    domain = "gridworld" if discrete else "semicircle"
    cfg = OfflineRLConfig.for_domain(domain, "smoke", algo=algo)
    agent = OfflineAgent(4, 3 if discrete else 2, discrete, cfg, seed=2)
    g = torch.Generator().manual_seed(0)
    batch = {"obs": torch.randn(1, 16, 4, generator=g), "rewards": torch.randn(1, 16, generator=g),
             "next_obs": torch.randn(1, 16, 4, generator=g), "dones": torch.zeros(1, 16),
             "actions": (torch.randint(0, 3, (1, 16, 1), generator=g).float() if discrete
                         else torch.rand(1, 16, 2, generator=g) * 2 - 1)}
    states = []
    for extra in ({}, {"discount": torch.full((1, 16), cfg.gamma)}, {"discount": torch.full((1, 16), 0.5)}):
        twin = copy.deepcopy(agent)
        torch.manual_seed(1)
        twin.update({**batch, **extra})
        states.append(twin.agent.state_dict())
    same = all(torch.allclose(a, b) for a, b in zip(states[0].values(), states[1].values()))
    changed = any(not torch.allclose(a, c) for a, c in zip(states[0].values(), states[2].values()))
    assert same and changed
