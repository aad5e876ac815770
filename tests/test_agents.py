"""Ensemble DQN/SAC: N stacked agents equal N single agents; resume is bit-exact; they learn."""

import numpy as np
import pytest
import torch

from borel_lib.agents import DQNConfig, EnsembleDQN, EnsembleReplay, EnsembleSAC, SACConfig

SEEDS = [11, 22, 33]


def _batches(E, n, obs_dim, act_dim, discrete=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        act = (torch.randint(0, 4, (E, 32, 1), generator=g).float() if discrete
               else torch.rand(E, 32, act_dim, generator=g) * 2 - 1)
        out.append({"obs": torch.randn(E, 32, obs_dim, generator=g), "actions": act,
                    "rewards": torch.randn(E, 32, generator=g), "next_obs": torch.randn(E, 32, obs_dim, generator=g),
                    "dones": (torch.rand(E, 32, generator=g) < 0.1).float()})
    return out


def _params(model, member, E):
    flat = []
    for name, p in model.named_parameters():
        if name.startswith("critic."):  # twin critics: members i and E + i
            flat.append(torch.cat([p[member : member + 1], p[E + member : E + member + 1]]).flatten())
        else:
            flat.append(p[member : member + 1].flatten())
    return torch.cat(flat)


@pytest.mark.parametrize("target_entropy", [None, -2.0])
def test_sac_ensemble_equals_single_agents(target_entropy):
    cfg = SACConfig(hidden=(16, 16), batch_size=32, target_entropy=target_entropy)
    ens = EnsembleSAC(3, 2, SEEDS, cfg)
    singles = [EnsembleSAC(3, 2, [s], cfg) for s in SEEDS]
    batches = _batches(3, 20, 3, 2)
    for b in batches:
        ens.update(b)
        for i, single in enumerate(singles):
            single.update({k: v[i : i + 1] for k, v in b.items()})
    obs = torch.randn(3, 5, 3)
    for i, single in enumerate(singles):
        torch.testing.assert_close(_params(ens, i, 3), _params(single, 0, 1), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ens.act(obs, deterministic=True)[i], single.act(obs[i : i + 1], deterministic=True)[0],
                                   atol=1e-5, rtol=1e-4)


def test_dqn_ensemble_equals_single_agents():
    cfg = DQNConfig(hidden=(8, 8), batch_size=32)
    ens = EnsembleDQN(2, 4, SEEDS, cfg)
    singles = [EnsembleDQN(2, 4, [s], cfg) for s in SEEDS]
    for b in _batches(3, 20, 2, 1, discrete=True):
        ens.update(b)
        for i, single in enumerate(singles):
            single.update({k: v[i : i + 1] for k, v in b.items()})
    obs = torch.randn(3, 50, 2)
    eps_actions = ens.act(obs, epsilon=0.5)
    for i, single in enumerate(singles):
        torch.testing.assert_close(_params(ens, i, 3), _params(single, 0, 1), atol=1e-5, rtol=1e-4)
        assert torch.equal(eps_actions[i], single.act(obs[i : i + 1], epsilon=0.5)[0])


@pytest.mark.parametrize("kind", ["sac", "sac_auto_alpha", "dqn"])
def test_resume_is_bit_exact(kind):
    def make():
        if kind.startswith("sac"):
            return EnsembleSAC(3, 2, [1, 2], SACConfig(hidden=(8,), batch_size=32,
                                                       target_entropy=-2.0 if kind == "sac_auto_alpha" else None))
        return EnsembleDQN(2, 4, [1, 2], DQNConfig(hidden=(8,), batch_size=32))

    sac = kind.startswith("sac")
    batches = _batches(2, 20, 3 if sac else 2, 2 if sac else 1, discrete=kind == "dqn")
    straight = make()
    for b in batches:
        straight.update(b)
    first = make()
    for b in batches[:10]:
        first.update(b)
    state = first.full_state_dict()
    resumed = make()
    resumed.load_full_state_dict(state)
    for b in batches[10:]:
        resumed.update(b)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


def test_automatic_entropy_tuning_moves_alpha_towards_the_target():
    """α falls when the policy's entropy exceeds the target and rises when it is below; fixed α never moves."""
    batches = _batches(2, 30, 3, 2)
    alphas = {}
    for target in (-50.0, 50.0, None):
        agent = EnsembleSAC(3, 2, [1, 2], SACConfig(hidden=(8,), batch_size=32, alpha=0.2, target_entropy=target))
        for b in batches:
            out = agent.update(b)
        alphas[target] = agent.alpha()[:, 0]
        assert ("alpha" in out) == (target is not None)
    assert (alphas[-50.0] < 0.2).all() and (alphas[50.0] > 0.2).all()
    assert torch.equal(alphas[None], torch.full((2,), 0.2))
    # fixed α keeps its checkpoint keys (no log_alpha), so older checkpoints load
    assert "log_alpha" not in EnsembleSAC(3, 2, [1], SACConfig(hidden=(8,))).state_dict()


def test_replay_samples_only_filled_entries_per_member():
    buf = EnsembleReplay(2, capacity=10, obs_dim=1, act_dim=1, device=torch.device("cpu"))
    T = 4
    obs = torch.stack([torch.arange(T).float()[:, None], 100 + torch.arange(T).float()[:, None]])
    buf.add(obs=obs, actions=torch.zeros(2, T, 1), rewards=torch.zeros(2, T), next_obs=obs, dones=torch.zeros(2, T))
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    s = buf.sample(500, gens)
    assert s["obs"].shape == (2, 500, 1)
    assert s["obs"][0].max() < T and s["obs"][1].min() >= 100 and s["obs"][1].max() < 100 + T
    # wrap-around keeps the newest capacity entries
    for _ in range(3):
        buf.add(obs=obs, actions=torch.zeros(2, T, 1), rewards=torch.zeros(2, T), next_obs=obs, dones=torch.zeros(2, T))
    assert buf.size == 10
    with pytest.raises(ValueError, match="missing fields"):
        buf.add(obs=obs)


def test_action_ranges_and_shapes():
    sac = EnsembleSAC(3, 2, [0, 1], SACConfig(hidden=(8,)))
    a = sac.act(torch.randn(2, 7, 3) * 100)
    assert a.shape == (2, 7, 2) and a.abs().max() <= 1
    assert sac.act(torch.randn(2, 3)).shape == (2, 2)
    dqn = EnsembleDQN(2, 5, [0, 1], DQNConfig(hidden=(8,)))
    acts = dqn.act(torch.randn(2, 100, 2), epsilon=1.0)
    assert acts.shape == (2, 100) and acts.min() >= 0 and acts.max() < 5 and len(acts.unique()) == 5


def test_dqn_members_learn_their_own_goal_on_a_chain():
    """5-state chain, actions left/right; member 0 is rewarded at the left end, member 1 at the right."""
    torch.manual_seed(0)
    n_states, E = 5, 2
    dqn = EnsembleDQN(1, 2, [0, 1], DQNConfig(hidden=(32,), lr=3e-3, gamma=0.9, tau=0.05, batch_size=64))
    s = torch.randint(0, n_states, (E, 2000)).float()
    a = torch.randint(0, 2, (E, 2000)).float()
    s2 = (s + torch.where(a == 1, 1.0, -1.0)).clamp(0, n_states - 1)
    goal = torch.tensor([[0.0], [n_states - 1.0]])
    r = (s2 == goal).float()
    buf = EnsembleReplay(E, 2000, 1, 1, torch.device("cpu"))
    buf.add(obs=s[..., None] / n_states, actions=a[..., None], rewards=r, next_obs=s2[..., None] / n_states,
            dones=torch.zeros(E, 2000))
    for _ in range(400):
        dqn.update(buf.sample(64, dqn.generators))
    middle = torch.full((E, 1, 1), 2.0 / n_states)
    greedy = dqn.act(middle)[:, 0]
    assert greedy.tolist() == [0, 1], "member 0 should go left, member 1 right"


def test_config_validation():
    with pytest.raises(ValueError, match="gamma"):
        SACConfig(gamma=1.0)
    with pytest.raises(ValueError, match="lr"):
        DQNConfig(lr=0)
    assert np.isclose(SACConfig.for_profile("paper").alpha, 0.01)


# ------------------------------------------------------------------ TD-loss, gradient clipping, TD3+BC term
GUARDS = {"td_loss": "huber", "max_grad_norm": 0.05}  # a norm small enough that every step is clipped


def test_guarded_sac_ensemble_equals_single_agents():
    """Huber loss, per-member gradient clipping and the BC term keep the members independent."""
    cfg = SACConfig(hidden=(16, 16), batch_size=32, **GUARDS)
    ens = EnsembleSAC(3, 2, SEEDS, cfg)
    singles = [EnsembleSAC(3, 2, [s], cfg) for s in SEEDS]
    for b in _batches(3, 10, 3, 2):
        b = {**b, "rewards": b["rewards"] * 50}  # large TD errors: the Huber branch is taken
        ens.update(b, bc_weight=0.4)
        for i, single in enumerate(singles):
            single.update({k: v[i : i + 1] for k, v in b.items()}, bc_weight=0.4)
    for i, single in enumerate(singles):
        torch.testing.assert_close(_params(ens, i, 3), _params(single, 0, 1), atol=1e-5, rtol=1e-4)


def test_guarded_dqn_ensemble_equals_single_agents():
    cfg = DQNConfig(hidden=(8, 8), batch_size=32, **GUARDS)
    ens = EnsembleDQN(2, 4, SEEDS, cfg)
    singles = [EnsembleDQN(2, 4, [s], cfg) for s in SEEDS]
    for b in _batches(3, 10, 2, 1, discrete=True):
        b = {**b, "rewards": b["rewards"] * 50}
        ens.update(b)
        for i, single in enumerate(singles):
            single.update({k: v[i : i + 1] for k, v in b.items()})
    for i, single in enumerate(singles):
        torch.testing.assert_close(_params(ens, i, 3), _params(single, 0, 1), atol=1e-5, rtol=1e-4)


def test_member_gradient_clipping_matches_torch_per_member():
    from borel_lib.agents import clip_member_grad_norm

    g = torch.Generator().manual_seed(0)
    params = [torch.zeros(3, 4, 5, requires_grad=True), torch.zeros(3, 5, requires_grad=True)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * torch.tensor([0.01, 1.0, 10.0]).reshape(-1, *[1] * (p.dim() - 1))
    expected = []
    for m in range(3):  # brute force: torch's clipping on each member's own slice
        sl = [p.grad[m].clone().requires_grad_(False) for p in params]
        holders = [torch.zeros_like(s, requires_grad=True) for s in sl]
        for h, s in zip(holders, sl):
            h.grad = s
        torch.nn.utils.clip_grad_norm_(holders, 1.0)
        expected.append([h.grad for h in holders])
    norms = clip_member_grad_norm(params, 1.0)
    assert norms.shape == (3,) and norms[0] < 1 < norms[1] < norms[2]
    for m in range(3):
        for p, e in zip(params, expected[m]):
            torch.testing.assert_close(p.grad[m], e, atol=1e-5, rtol=1e-4)


def test_td_error_loss_brute_force():
    from borel_lib.agents import td_error_loss

    q = torch.tensor([[0.0, 0.5, 3.0], [1.0, -2.0, 0.2]])
    t = torch.zeros(2, 3)
    huber = [[0.0, 0.125, 2.5], [0.5, 1.5, 0.02]]
    torch.testing.assert_close(td_error_loss(q, t, "huber"), torch.tensor(huber).mean(-1))
    torch.testing.assert_close(td_error_loss(q, t, "mse"), (q ** 2).mean(-1))


def test_bc_term_pulls_the_mean_action_to_the_data():
    """With a large BC weight and no reward, the policy's mean action moves to the logged action."""
    cfg = SACConfig(hidden=(16, 16), batch_size=32, actor_lr=3e-3)
    sac = EnsembleSAC(3, 2, [0], cfg)
    obs = torch.randn(1, 32, 3, generator=torch.Generator().manual_seed(1))
    batch = {"obs": obs, "actions": torch.full((1, 32, 2), 0.6), "rewards": torch.ones(1, 32),
             "next_obs": obs, "dones": torch.zeros(1, 32)}
    before = (sac.act(obs, deterministic=True) - 0.6).abs().mean()
    for _ in range(200):
        out = sac.update(batch, bc_weight=10.0)
    after = (sac.act(obs, deterministic=True) - 0.6).abs().mean()
    assert "bc_loss" in out and after < 0.1 < before


def test_guard_validation():
    with pytest.raises(ValueError, match="td_loss"):
        SACConfig(td_loss="l1")
    with pytest.raises(ValueError, match="max_grad_norm"):
        DQNConfig(max_grad_norm=0.0)
