"""Belief VAE (paper §2, §3.2): the ELBO by hand, causality, online updates, decoders."""

import numpy as np
import pytest
import torch
from torch import nn

from borel_lib.vae import BeliefVAE, VAEConfig, gaussian_kl


class FixedEncoder(nn.Module):
    def __init__(self, mu, logvar):
        super().__init__()
        self.m, self.lv = mu, logvar

    def forward(self, actions, rewards, next_obs):
        return self.m, self.lv


class SumDecoder(nn.Module):
    def forward(self, z, obs, actions, next_obs):
        return z[..., 0] + next_obs[..., 0]


def test_elbo_by_hand_on_two_steps():
    cfg = VAEConfig(latent_dim=1, gru_hidden=4, state_embed=2, action_embed=0, reward_embed=2, decoder_hidden=(4,))
    vae = BeliefVAE(1, 1, cfg)
    mu = torch.tensor([[[0.0], [0.5], [1.0]]])
    lv = torch.tensor([[[0.0], [-1.0], [0.2]]])
    vae.encoder = FixedEncoder(mu, lv)
    vae.reward_decoder = SumDecoder()
    r = torch.tensor([[0.3, -0.2]])
    s2 = torch.tensor([[[1.0], [2.0]]])
    total, parts = vae.loss(torch.zeros(1, 2, 1), torch.zeros(1, 2, 1), r, s2, torch.Generator().manual_seed(0))
    eps = torch.randn((1, 3, 1), generator=torch.Generator().manual_seed(0)).numpy()[0, :, 0]
    m, v = mu.numpy()[0, :, 0], lv.numpy()[0, :, 0]
    z = m + np.exp(0.5 * v) * eps
    rr, ss = r.numpy()[0], s2.numpy()[0, :, 0]
    recon = sum(np.mean([(z[t] + ss[j] - rr[j]) ** 2 for j in range(2)]) for t in range(3))

    def kl(m1, v1, m0, v0):
        return 0.5 * (v0 - v1 + (np.exp(v1) + (m1 - m0) ** 2) / np.exp(v0) - 1)

    kl_sum = kl(m[0], v[0], 0, 0) + kl(m[1], v[1], m[0], v[0]) + kl(m[2], v[2], m[1], v[1])
    assert np.isclose(parts["recon"].item(), recon, rtol=1e-5)
    assert np.isclose(parts["kl"].item(), kl_sum, rtol=1e-5)
    assert np.isclose(total.item(), recon + 0.05 * kl_sum, rtol=1e-5)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    m1, m2, l1, l2 = (torch.randn(4, 5, generator=g) for _ in range(4))
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(m1, (0.5 * l1).exp()),
                                            torch.distributions.Normal(m2, (0.5 * l2).exp())).sum(-1)
    torch.testing.assert_close(gaussian_kl(m1, l1, m2, l2), ref)


def _data(B=6, T=8, obs_dim=3, act_dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, T, obs_dim, generator=g), torch.rand(B, T, act_dim, generator=g),
            torch.randn(B, T, generator=g), torch.randn(B, T, obs_dim, generator=g))


def test_belief_at_t_depends_only_on_history_up_to_t():
    vae = BeliefVAE(3, 2, VAEConfig.for_profile("smoke"))
    obs, act, rew, nxt = _data()
    mu, lv = vae.encoder(act, rew, nxt)
    t = 4
    act2, rew2, nxt2 = act.clone(), rew.clone(), nxt.clone()
    act2[:, t:] += 1.0
    rew2[:, t:] -= 2.0
    nxt2[:, t:] *= -1
    mu2, lv2 = vae.encoder(act2, rew2, nxt2)
    torch.testing.assert_close(mu[:, : t + 1], mu2[:, : t + 1])  # prior + posteriors after steps 0..t-1
    assert not torch.allclose(mu[:, t + 1 :], mu2[:, t + 1 :])
    assert mu.shape == (6, 9, 5)
    torch.testing.assert_close(mu[:, 0], mu[:1, 0].expand(6, -1))  # prior independent of inputs


def test_online_step_equals_full_forward():
    vae = BeliefVAE(3, 2, VAEConfig.for_profile("smoke"))
    _, act, rew, nxt = _data(B=3, T=6)
    mu, lv = vae.encoder(act, rew, nxt)
    m, lvar, h = vae.encoder.prior(3)
    torch.testing.assert_close(m, mu[:, 0])
    for t in range(6):
        m, lvar, h = vae.encoder.step(h, act[:, t], rew[:, t], nxt[:, t])
        torch.testing.assert_close(m, mu[:, t + 1], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(lvar, lv[:, t + 1], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["mse_sa", "bernoulli", "state"])
def test_decoders_shapes_and_gradients(kind):
    # Seeded: with tiny smoke embeddings an unlucky init can leave every ReLU unit of the 1-d reward
    # embedding dead on the two Gridworld reward values, which is a real zero gradient, not a bug.
    torch.manual_seed(0)
    if kind == "bernoulli":
        cfg = VAEConfig.for_domain("gridworld", "smoke")
        vae = BeliefVAE(3, 5, cfg, cell_index=lambda s: (s[..., 0] * 5 + s[..., 1]).long())
        g = torch.Generator().manual_seed(0)
        nxt = torch.randint(0, 5, (4, 6, 2), generator=g).float()
        nxt = torch.cat([nxt, torch.zeros(4, 6, 1)], -1)
        rew = torch.where(torch.rand(4, 6, generator=g) < 0.3, 1.0, -0.1)
        obs, act = torch.zeros(4, 6, 3), torch.zeros(4, 6, 5)
    else:
        cfg = VAEConfig.for_domain("ant_semicircle" if kind == "mse_sa" else "wind", "smoke")
        vae = BeliefVAE(3, 2, cfg)
        obs, act, rew, nxt = _data(B=4, T=6)
    total, parts = vae.loss(obs, act, rew, nxt)
    total.backward()
    missing = [n for n, p in vae.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, f"no gradient reaches {missing}"


def test_decode_subset_is_unbiased():
    torch.manual_seed(0)
    cfg = VAEConfig.for_profile("smoke")
    full = BeliefVAE(3, 2, cfg)
    sub = BeliefVAE(3, 2, cfg.replace(decode_subset=5))
    sub.load_state_dict(full.state_dict())
    obs, act, rew, nxt = _data(B=4, T=8)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        f = np.mean([full.loss(obs, act, rew, nxt, g)[1]["recon"].item() for _ in range(300)])
        s = np.mean([sub.loss(obs, act, rew, nxt, g)[1]["recon"].item() for _ in range(3000)])
    assert abs(s - f) / f < 0.05, (s, f)


def test_vae_learns_to_tell_two_tasks_apart():
    """Task A is rewarded at steps 0 and 2, task B never: once step 0 is seen, the beliefs separate."""
    torch.manual_seed(0)
    cfg = VAEConfig.for_profile("smoke").replace(gru_hidden=16, lr=3e-3, decoder_hidden=(16,))
    vae = BeliefVAE(2, 1, cfg)
    B, T = 32, 4
    task = torch.arange(B) % 2
    nxt = torch.zeros(B, T, 2)
    nxt[:, :, 0] = torch.arange(T).float() / T
    rew = torch.zeros(B, T)
    rew[:, 0] = rew[:, 2] = task.float()
    act, obs = torch.zeros(B, T, 1), torch.zeros(B, T, 2)
    batch = {"obs": obs, "actions": act, "rewards": rew, "next_obs": nxt}
    first = vae.train_step(batch)["loss"]
    for _ in range(300):
        last = vae.train_step(batch)["loss"]
    assert last < 0.5 * first
    mu, _ = vae.encode_trials(act, rew, nxt)
    prior_gap = (mu[task == 0, 0] - mu[task == 1, 0]).norm(dim=-1).mean()
    posterior_gap = (mu[task == 0, 1] - mu[task == 1, 1]).norm(dim=-1).mean()
    assert prior_gap < 1e-6 and posterior_gap > 0.5


def test_nan_loss_stops_with_a_clear_error():
    vae = BeliefVAE(3, 2, VAEConfig.for_profile("smoke"))
    obs, act, rew, nxt = _data()
    rew[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="VAE loss"):
        vae.train_step({"obs": obs, "actions": act, "rewards": rew, "next_obs": nxt})


def test_config_errors():
    with pytest.raises(ValueError, match="decoder='gauss'"):
        VAEConfig(decoder="gauss")
    with pytest.raises(ValueError, match="no VAE settings"):
        VAEConfig.for_domain("mars")
    assert VAEConfig.for_domain("gridworld", "paper").gru_hidden == 64


def test_goal_cell_probs_normalised_and_follow_the_decoder():
    from borel_lib.vae import goal_cell_probs

    torch.manual_seed(0)
    cfg = VAEConfig.for_domain("gridworld", "smoke")
    vae = BeliefVAE(3, 5, cfg, cell_index=lambda s: (s[..., 0] * 5 + s[..., 1]).long())
    mu = torch.randn(7, cfg.latent_dim)
    p = goal_cell_probs(vae, mu)
    assert p.shape == (7, cfg.n_cells)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    raw = torch.sigmoid(vae.reward_decoder(mu)).detach().numpy()
    np.testing.assert_allclose(p, raw / raw.sum(-1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError, match="bernoulli_cells"):
        goal_cell_probs(BeliefVAE(3, 2, VAEConfig.for_domain("semicircle", "smoke")), mu)


def test_reward_map_reads_the_decoder_at_the_domains_template_state():
    """reward_map's ``template``: on the point robot the domain's fixed start is [0, 0, 0], so the map is the one
    without a template; on the Ant (29-d state + flag) the decoder is read at the standing pose moved to each
    point, which is also what VAEBelief's decoded features and the implied goal distribution use there."""
    from borel_lib.belief import VAEBelief, arc_sector_centres, decode_template, implied_goal_distribution
    from borel_lib.references.exact_belief import ExactBelief
    from borel_lib.vae import reward_map

    torch.manual_seed(0)
    points, mu = arc_sector_centres(), torch.randn(4, 5)
    point_vae = BeliefVAE(3, 2, VAEConfig.for_domain("semicircle", "smoke"))
    np.testing.assert_array_equal(reward_map(point_vae, mu, points, template=decode_template("semicircle")),
                                  reward_map(point_vae, mu, points))
    template = decode_template("ant_semicircle")
    assert template.shape == (30,) and template[-1] == 0 and np.allclose(template[:2], 0) and template[2] > 0.3
    ant_vae = BeliefVAE(30, 8, VAEConfig.for_domain("ant_semicircle", "smoke"))
    by_hand = []  # the decoder at [pose with x, y = point, flag 0], action 0, obs = next_obs, point by point
    for p in points:
        state = torch.as_tensor(np.concatenate([p, template[2:]]), dtype=torch.float32)[None, None].expand(4, 1, -1)
        by_hand.append(ant_vae.reward_decoder(mu[:, None], state, torch.zeros(4, 1, 8), state)[:, 0])
    expected = torch.stack(by_hand, -1).detach().numpy()
    np.testing.assert_allclose(reward_map(ant_vae, mu, points, template=template), expected, rtol=1e-5, atol=1e-6)
    belief = VAEBelief(ant_vae, None, "decoded", "ant_semicircle")
    state = belief.reset(3)
    assert belief.features(state).shape == (3, len(points)) and belief.dim == len(points)
    p = implied_goal_distribution(ant_vae, mu, ExactBelief("ant_semicircle"))
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
