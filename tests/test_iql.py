"""Implicit Q-learning (borel_lib.iql): the expectile against brute force, the log-likelihood against torch's
distributions, a one-state bandit whose V, Q and policy are known, ensemble = single learners, bit-exact resume,
and the offline-RL config's checks."""

import numpy as np
import pytest
import torch

from borel_lib.agents import SACConfig
from borel_lib.config import ConfigError
from borel_lib.iql import EnsembleIQL, expectile_loss
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def _expectile_by_root(x: np.ndarray, tau: float) -> float:
    """The τ-expectile from its first-order condition τ·E(x − v)⁺ = (1 − τ)·E(v − x)⁺, by bisection."""
    lo, hi = x.min(), x.max()
    for _ in range(100):
        v = 0.5 * (lo + hi)
        if tau * np.clip(x - v, 0, None).mean() > (1 - tau) * np.clip(v - x, 0, None).mean():
            lo = v
        else:
            hi = v
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("tau", [0.5, 0.7, 0.9, 0.99])
def test_expectile_loss_minimiser_is_the_expectile(tau):
    x = torch.as_tensor(np.random.default_rng(0).normal(size=400) ** 2, dtype=torch.float32)
    grid = torch.linspace(float(x.min()), float(x.max()), 20001)
    losses = expectile_loss(x[None] - grid[:, None], tau)
    assert grid[losses.argmin()].item() == pytest.approx(_expectile_by_root(x.double().numpy(), tau), abs=3e-3)
    if tau == 0.5:
        assert grid[losses.argmin()].item() == pytest.approx(x.mean().item(), abs=1e-3)


def test_log_prob_is_the_action_space_gaussian():
    agent = EnsembleIQL(3, 2, [5], SACConfig(hidden=(8,)))
    obs = torch.randn(1, 6, 3)
    act = torch.rand(1, 6, 2) * 2 - 1
    mean, log_std = agent._dist(obs)
    ref = torch.distributions.Normal(torch.tanh(mean), log_std.exp()).log_prob(act).sum(-1)
    torch.testing.assert_close(agent.log_prob(obs, act), ref)
    assert torch.isfinite(agent.log_prob(obs, torch.ones(1, 6, 2))).all()  # actions on the box's edge


def test_bandit_value_is_the_expectile_and_the_policy_picks_the_best_logged_action():
    """One state, γ = 0, logged actions −0.5 (reward 0) and +0.5 (reward 1), half each: Q(+0.5) = 1,
    Q(−0.5) = 0, V = the τ-expectile of {0, 1} = τ, and the advantage-weighted policy's mean action goes to
    +0.5, where plain behaviour cloning (β → 0) would sit between the two."""
    tau = 0.8
    agent = EnsembleIQL(1, 1, [0], SACConfig(hidden=(16,), gamma=0.0, actor_lr=5e-3, critic_lr=5e-3, tau=0.1),
                        expectile=tau, temperature=10.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        good = (torch.rand(1, 64, generator=g) < 0.5).float()
        batch = {"obs": torch.ones(1, 64, 1), "actions": (good - 0.5)[..., None], "rewards": good,
                 "next_obs": torch.ones(1, 64, 1), "dones": torch.zeros(1, 64)}
        agent.update(batch)
    obs = torch.ones(1, 1, 1)
    assert agent.value(obs).item() == pytest.approx(tau, abs=0.05)
    q_good, _ = agent._q(agent.critic, obs, torch.full((1, 1, 1), 0.5))
    q_bad, _ = agent._q(agent.critic, obs, torch.full((1, 1, 1), -0.5))
    assert q_good.item() == pytest.approx(1.0, abs=0.05) and q_bad.item() == pytest.approx(0.0, abs=0.05)
    assert agent.act(obs, deterministic=True).item() == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("components, extraction", [(1, "awr"), (3, "awr"), (1, "sac")])
def test_ensemble_equals_single_learners_and_resume_is_bit_exact(components, extraction):
    cfg = SACConfig(hidden=(16, 16), **({"target_entropy": -2.0, "alpha_lr": 1e-3} if extraction == "sac" else {}))
    seeds = [1, 2]
    g = torch.Generator().manual_seed(3)
    batches = [{"obs": torch.randn(2, 32, 3, generator=g), "actions": torch.rand(2, 32, 2, generator=g) * 2 - 1,
                "rewards": torch.randn(2, 32, generator=g), "next_obs": torch.randn(2, 32, 3, generator=g),
                "dones": (torch.rand(2, 32, generator=g) < 0.1).float()} for _ in range(12)]
    ens = EnsembleIQL(3, 2, seeds, cfg, components=components, extraction=extraction)
    singles = [EnsembleIQL(3, 2, [s], cfg, components=components, extraction=extraction) for s in seeds]
    for b in batches:
        ens.update(b)
        for i, single in enumerate(singles):
            single.update({k: v[i : i + 1] for k, v in b.items()})
    obs = torch.randn(2, 5, 3)
    for i, single in enumerate(singles):
        torch.testing.assert_close(ens.act(obs, deterministic=True)[i], single.act(obs[i : i + 1], deterministic=True)[0],
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ens.value(obs)[i], single.value(obs[i : i + 1])[0], atol=1e-5, rtol=1e-4)

    if extraction == "awr":  # selection too: members by their own generators, ensemble = single learners
        picked = ens.select(obs, 8, [torch.Generator().manual_seed(s) for s in seeds])
        for i, single in enumerate(singles):
            torch.testing.assert_close(picked[i], single.select(obs[i : i + 1], 8, [torch.Generator().manual_seed(seeds[i])])[0],
                                       atol=1e-5, rtol=1e-4)
    straight, first, resumed = (EnsembleIQL(3, 2, seeds, cfg, components=components, extraction=extraction) for _ in range(3))
    for batch in batches:
        straight.update(batch)
    for batch in batches[:6]:
        first.update(batch)
    resumed.load_full_state_dict(first.full_state_dict())
    for batch in batches[6:]:
        resumed.update(batch)
    for (name, pa), pb in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_sac_extraction_picks_one_mode_where_weighted_regression_averages():
    """One state, γ = 0, logged actions −0.6 and +0.6, both rewarded 1, and 0 (reward 0): two equally good modes.
    Advantage-weighted regression (the IQL authors') fits their average, near 0, the one action that earns nothing;
    SAC's actor on the same in-sample critics climbs to one of the modes. The critics are the same kind in both (no
    policy action is ever backed up), so the difference is the extraction alone."""
    def train(extraction: str) -> EnsembleIQL:
        cfg = SACConfig(hidden=(32,), gamma=0.0, actor_lr=3e-3, critic_lr=3e-3, tau=0.1, alpha=1e-3)
        agent = EnsembleIQL(1, 1, [0], cfg, expectile=0.7, temperature=3.0, extraction=extraction)
        g = torch.Generator().manual_seed(1)
        for _ in range(1500):
            k = torch.randint(0, 3, (1, 64), generator=g)
            actions = torch.tensor([-0.6, 0.0, 0.6])[k]
            batch = {"obs": torch.ones(1, 64, 1), "actions": actions[..., None], "rewards": (k != 1).float(),
                     "next_obs": torch.ones(1, 64, 1), "dones": torch.ones(1, 64)}
            agent.update(batch)
        return agent

    obs = torch.ones(1, 1, 1)
    awr, sac = train("awr"), train("sac")
    assert abs(awr.act(obs, deterministic=True).item()) < 0.2
    assert abs(sac.act(obs, deterministic=True).item()) > 0.4
    # IDQL's selection: the weighted-regression policy's own candidates, the critics' best: one of the modes
    gens = [torch.Generator().manual_seed(5)]
    chosen = awr.select(obs, 32, gens)
    assert chosen.shape == (1, 1, 1) and abs(chosen.item()) > 0.4
    assert awr.select(obs, 0, gens).item() == pytest.approx(awr.act(obs, deterministic=True).item())  # mean only
    assert "log_pi" in sac.update({"obs": obs, "actions": obs * 0.6, "rewards": obs[..., 0], "next_obs": obs,
                                   "dones": obs[..., 0]})


def test_sac_extraction_takes_the_entropy_target_and_bc_term_and_refuses_cql():
    agent = EnsembleIQL(3, 2, [0], SACConfig(hidden=(8,), target_entropy=-2.0), extraction="sac")
    assert agent.auto_alpha
    batch = {"obs": torch.zeros(1, 4, 3), "actions": torch.zeros(1, 4, 2), "rewards": torch.zeros(1, 4),
             "next_obs": torch.zeros(1, 4, 3), "dones": torch.zeros(1, 4)}
    out = agent.update(batch, bc_weight=0.1)
    assert {"alpha", "bc_loss", "value_loss", "log_pi"} <= set(out)
    with pytest.raises(ValueError, match="cql_alpha"):
        agent.update(batch, cql_alpha=1.0)
    with pytest.raises(ValueError, match="extraction"):
        EnsembleIQL(3, 2, [0], SACConfig(hidden=(8,)), extraction="ddpg")
    with pytest.raises(ValueError, match="bc_weight"):
        EnsembleIQL(3, 2, [0], SACConfig(hidden=(8,))).update(batch, bc_weight=0.1)
    cfg = OfflineRLConfig.for_domain("semicircle", "smoke", algo="iql", iql_extraction="sac", target_entropy=-2.0,
                                     bc_weight=0.05)
    assert OfflineAgent(4, 2, False, cfg, seed=0).agent.extraction == "sac"


def test_iql_refuses_sac_options():
    with pytest.raises(ValueError, match="target_entropy"):
        EnsembleIQL(3, 2, [0], SACConfig(target_entropy=-2.0))
    agent = EnsembleIQL(3, 2, [0], SACConfig(hidden=(8,)))
    batch = {"obs": torch.zeros(1, 4, 3), "actions": torch.zeros(1, 4, 2), "rewards": torch.zeros(1, 4),
             "next_obs": torch.zeros(1, 4, 3), "dones": torch.zeros(1, 4)}
    with pytest.raises(ValueError, match="cql_alpha"):
        agent.update(batch, cql_alpha=1.0)


@pytest.mark.parametrize("overrides, match", [
    ({"algo": "td3"}, "algo"),
    ({"algo": "iql", "cql_alpha": 1.0}, "cql_alpha"),
    ({"algo": "iql", "bc_weight": 0.1}, "bc_weight"),
    ({"algo": "iql", "target_entropy": -8.0}, "target_entropy"),
    ({"algo": "iql", "iql_expectile": 1.0}, "iql_expectile"),
    ({"algo": "iql", "iql_temperature": 0.0}, "iql_temperature"),
    ({"algo": "iql", "iql_components": 0}, "iql_components"),
    ({"algo": "sac", "iql_components": 3}, "iql_components"),
    ({"algo": "iql", "iql_extraction": "ddpg"}, "iql_extraction"),
    ({"algo": "sac", "iql_extraction": "sac"}, "iql_extraction"),
    ({"algo": "iql", "iql_extraction": "sac", "iql_components": 2}, "iql_components"),
    ({"algo": "iql", "iql_extraction": "sac", "cql_alpha": 1.0}, "cql_alpha"),
    ({"algo": "sac", "iql_select": 8}, "iql_select"),
    ({"algo": "iql", "iql_extraction": "sac", "iql_select": 8}, "iql_select"),
    ({"algo": "iql", "iql_select": -1}, "iql_select"),
    ({"algo": "iql", "iql_select_spread": 0.5}, "iql_select_spread"),
    ({"algo": "iql", "iql_select": 8, "iql_select_spread": 0.0}, "iql_select_spread"),
])

def test_config_checks(overrides, match):
    with pytest.raises(ConfigError, match=match):
        OfflineRLConfig.for_domain("semicircle", "smoke", **overrides)


def test_gridworld_refuses_iql_and_offline_agent_builds_it():
    with pytest.raises(ConfigError, match="DQN"):
        OfflineRLConfig.for_domain("gridworld", "smoke", algo="iql")
    cfg = OfflineRLConfig.for_domain("semicircle", "smoke", algo="iql")
    agent = OfflineAgent(4, 2, False, cfg, seed=0)
    assert isinstance(agent.agent, EnsembleIQL)
    batch = {"obs": torch.zeros(1, 4, 4), "actions": torch.zeros(1, 4, 2), "rewards": torch.ones(1, 4),
             "next_obs": torch.zeros(1, 4, 4), "dones": torch.zeros(1, 4)}
    losses = agent.update(batch)
    assert {"critic_loss", "actor_loss", "value_loss"} <= set(losses)
    agent.anneal(0)
    assert agent.act(np.zeros((3, 4), np.float32)).shape == (3, 2)


def test_an_iql_run_is_its_own_method_and_configuration():
    from borel_lib.pipeline import RunSpec

    plain = RunSpec("semicircle", "smoke", "exact")
    iql = RunSpec("semicircle", "smoke", "exact", rl=(("algo", "iql"),))
    assert plain.method == "borel_exact" and iql.method == "borel_exact_iql"
    assert iql.tag == "semicircle_uniform_exact_iql_seed0" and "--rl algo=iql" in iql.command


# ----------------------------------------------------------------------------------- mixture policy
def test_mixture_log_prob_is_torchs_mixture_of_action_space_gaussians():
    agent = EnsembleIQL(3, 2, [5, 6], SACConfig(hidden=(8,)), components=3)
    obs = torch.randn(2, 6, 3)
    act = torch.rand(2, 6, 2) * 2 - 1
    log_w, mean, log_std = agent._mixture(obs)
    D = torch.distributions
    ref = D.MixtureSameFamily(D.Categorical(logits=log_w),
                              D.Independent(D.Normal(torch.tanh(mean), log_std.exp()), 1)).log_prob(act)
    torch.testing.assert_close(agent.log_prob(obs, act), ref)
    # the deterministic action is the heaviest component's mean, member by member
    heaviest = log_w.argmax(-1)
    expect = torch.tanh(mean.gather(-2, heaviest[..., None, None].expand(2, 6, 1, 2))[..., 0, :])
    torch.testing.assert_close(agent.act(obs, deterministic=True), expect)
    # the initial component means differ (spread before the tanh), within the declared range
    assert (mean[:, 0].std(1) > 0.05).all() and mean.abs().max() < 0.51
    sampled = agent.act(obs)
    assert sampled.shape == (2, 6, 2) and (sampled.abs() <= 1).all()


def test_one_component_is_the_single_gaussian_bit_for_bit():
    a = EnsembleIQL(3, 2, [4], SACConfig(hidden=(8,)))
    b = EnsembleIQL(3, 2, [4], SACConfig(hidden=(8,)), components=1)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    with pytest.raises(ValueError, match="components"):
        EnsembleIQL(3, 2, [4], SACConfig(hidden=(8,)), components=0)


def _two_modes(agent: EnsembleIQL, steps: int = 600) -> None:
    """One state, γ = 0, logged actions −0.6 and +0.6, half each, both rewarded 1: two behaviours of equal
    value (the Ant's walks towards different goals at the prior belief, in one dimension)."""
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        sign = (torch.rand(1, 64, generator=g) < 0.5).float() * 2 - 1
        batch = {"obs": torch.ones(1, 64, 1), "actions": (0.6 * sign)[..., None], "rewards": torch.ones(1, 64),
                 "next_obs": torch.ones(1, 64, 1), "dones": torch.zeros(1, 64)}
        agent.update(batch)


@pytest.mark.parametrize("log_std", ["clamp", "tanh"])
def test_a_single_gaussian_averages_equal_modes_and_a_mixture_picks_one(log_std):
    cfg = SACConfig(hidden=(16,), gamma=0.0, actor_lr=5e-3, critic_lr=5e-3, tau=0.1, log_std=log_std)
    single, mixture = EnsembleIQL(1, 1, [0], cfg), EnsembleIQL(1, 1, [0], cfg, components=2)
    _two_modes(single)
    _two_modes(mixture)
    obs = torch.ones(1, 1, 1)
    assert abs(single.act(obs, deterministic=True).item()) < 0.15  # the average of the two behaviours
    assert abs(mixture.act(obs, deterministic=True).item()) == pytest.approx(0.6, abs=0.05)  # one of them
    log_w, mean, _ = mixture._mixture(obs)
    assert sorted(torch.tanh(mean).flatten().tolist()) == pytest.approx([-0.6, 0.6], abs=0.05)
    assert log_w.exp().flatten().tolist() == pytest.approx([0.5, 0.5], abs=0.1)


def test_offline_agent_builds_the_mixture_and_the_run_names_it():
    from borel_lib.pipeline import RunSpec

    cfg = OfflineRLConfig.for_domain("semicircle", "smoke", algo="iql", iql_components=4)
    agent = OfflineAgent(4, 2, False, cfg, seed=0)
    assert agent.agent.components == 4 and agent.act(np.zeros((3, 4), np.float32)).shape == (3, 2)
    spec = RunSpec("semicircle", "smoke", "exact", rl=(("algo", "iql"), ("iql_components", 4)))
    assert spec.tag == "semicircle_uniform_exact_iql_iqlk4_seed0" and "--rl iql_components=4" in spec.command


def test_offline_agent_acts_by_selection_when_asked_and_training_is_untouched():
    """``iql_select`` changes only how the evaluation acts: the same updates give the same weights, and the action is
    EnsembleIQL.select's with the agent's own evaluation generator (seed + SELECT_SEED_OFFSET)."""
    from borel_lib.offline_rl import SELECT_SEED_OFFSET

    plain = OfflineAgent(4, 2, False, OfflineRLConfig.for_domain("semicircle", "smoke", algo="iql"), seed=3)
    cfg = OfflineRLConfig.for_domain("semicircle", "smoke", algo="iql", iql_select=6, iql_select_spread=0.5)
    picker = OfflineAgent(4, 2, False, cfg, seed=3)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        batch = {"obs": torch.randn(1, 8, 4, generator=g), "actions": torch.rand(1, 8, 2, generator=g) * 2 - 1,
                 "rewards": torch.randn(1, 8, generator=g), "next_obs": torch.randn(1, 8, 4, generator=g),
                 "dones": torch.zeros(1, 8)}
        plain.update(batch)
        picker.update(batch)
    for (name, a), b in zip(plain.agent.state_dict().items(), picker.agent.state_dict().values()):
        assert torch.equal(a, b), name
    obs = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    expected = picker.agent.select(torch.as_tensor(obs)[None], 6, [torch.Generator().manual_seed(3 + SELECT_SEED_OFFSET)], 0.5)
    np.testing.assert_allclose(picker.act(obs), expected[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(plain.act(obs), plain.agent.act(torch.as_tensor(obs)[None], deterministic=True)[0].numpy())
    assert picker.act(obs, deterministic=False).shape == (5, 2)  # exploration still samples the policy


def test_selection_draws_restart_at_every_evaluation():
    """OfflineAgent.reset_selection (called by the pipeline before each evaluation): the candidates of an evaluation do
    not depend on how many came before, and a fresh agent with the same weights (a resumed run, or
    scripts/probe_policy_mode.py's ModeAgent seeded as the pipeline) acts identically."""
    import importlib.util
    from pathlib import Path

    cfg = OfflineRLConfig.for_domain("semicircle", "smoke", algo="iql", iql_select=6, iql_select_spread=0.5)
    agent = OfflineAgent(4, 2, False, cfg, seed=3)
    obs = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    first = agent.act(obs)
    assert not np.allclose(agent.act(obs), first)  # the generator runs on ...
    agent.reset_selection()
    np.testing.assert_array_equal(agent.act(obs), first)  # ... until the next evaluation restarts it
    fresh = OfflineAgent(4, 2, False, cfg, seed=3)
    fresh.agent.load_state_dict(agent.agent.state_dict())
    np.testing.assert_array_equal(fresh.act(obs), first)
    path = Path(__file__).parents[1] / "scripts" / "probe_policy_mode.py"
    spec = importlib.util.spec_from_file_location("probe_policy_mode", path)
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    np.testing.assert_allclose(probe.ModeAgent(agent, "select6", 2, seed=3, spread=0.5).act(obs), first, rtol=1e-6)
