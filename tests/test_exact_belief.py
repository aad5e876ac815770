"""The exact posterior over tasks against brute-force Bayes' rule, and its online/batch agreement."""

import itertools

import numpy as np
import pytest

from borel_lib.envs import make_env
from borel_lib.references.exact_belief import ExactBelief


def _brute_force(env, candidates, next_obs, rewards):
    """p(c | h) ∝ p(c) Π_j p(r_j | s'_j, c) with a uniform prior and deterministic rewards."""
    like = np.ones(len(candidates))
    for nxt, r in zip(next_obs, rewards):
        for i, c in enumerate(candidates):
            like[i] *= float(np.isclose(float(env.reward(nxt[:-1], None, nxt[:-1], c)), r, atol=1e-5))
    return like / like.sum()


def test_gridworld_posterior_equals_bayes_rule_on_every_short_path():
    env = make_env("gridworld")
    belief = ExactBelief("gridworld")
    moves = np.array([[0, 1], [1, 0], [0, -1], [-1, 0]], np.float32)
    goal = np.array([2.0, 1.0])
    checked = 0
    for path in itertools.product(range(4), repeat=4):  # all 256 four-step paths from (1, 1)
        pos, nxt, rew = np.array([1.0, 1.0], np.float32), [], []
        for m in path:
            pos = np.clip(pos + moves[m], 0, 4)
            nxt.append(np.append(pos, 0.0))
            rew.append(float(env.reward(None, None, pos, goal)))
        nxt, rew = np.array(nxt, np.float32), np.array(rew, np.float32)
        post = belief.posterior_trials(np.zeros((1, 4, 1)), rew[None], nxt[None])[0]
        for t in range(5):
            np.testing.assert_allclose(post[t], _brute_force(env, belief.candidates, nxt[:t], rew[:t]), atol=1e-6)
        checked += 1
    assert checked == 256


def test_semicircle_posterior_equals_bayes_rule_and_online_updates_agree():
    env = make_env("semicircle")
    belief = ExactBelief("semicircle", n_candidates=40, n_bins=10)
    rng = np.random.default_rng(0)
    goal = belief.candidates[13].astype(np.float64)
    pos = np.array([0.9, 0.1], np.float32)
    nxt, rew = [], []
    for _ in range(12):  # a walk that passes near the arc and the goal
        pos = (pos + rng.uniform(-0.1, 0.1, 2) + 0.05 * (goal - pos)).astype(np.float32)
        nxt.append(np.append(pos, 0.0))
        rew.append(float(env.reward(None, None, pos, goal)))
    nxt, rew = np.array(nxt, np.float32), np.array(rew, np.float32)
    post = belief.posterior_trials(np.zeros((1, 12, 2)), rew[None], nxt[None])[0]
    state = belief.reset(1)
    for t in range(13):
        expected = _brute_force(env, belief.candidates, nxt[:t], rew[:t])
        np.testing.assert_allclose(post[t], expected, atol=1e-6)
        np.testing.assert_allclose(belief.posterior(state)[0], expected, atol=1e-6)
        np.testing.assert_allclose(belief.features(state)[0].sum(), 1.0, atol=1e-6)
        if t < 12:
            state = belief.step(state, np.zeros((1, 2)), rew[t : t + 1], nxt[t : t + 1])
    assert post[-1, 13] > 0, "the true goal is never ruled out"


def test_discretisation_guard_keeps_a_distribution():
    belief = ExactBelief("semicircle", n_candidates=20, n_bins=10)
    # a reward far from every candidate is impossible: the posterior falls back to the best-fitting set
    post = belief.posterior_trials(np.zeros((1, 1, 2)), np.ones((1, 1), np.float32),
                                   np.array([[[5.0, 5.0, 0.0]]], np.float32))
    np.testing.assert_allclose(post.sum(-1), 1.0)


def test_unknown_domain_is_rejected():
    with pytest.raises(ValueError, match="cheetah_vel.*allowed values: gridworld, semicircle, wind, escape_room"):
        ExactBelief("cheetah_vel")


@pytest.mark.parametrize("domain", ["semicircle", "ant_semicircle", "escape_room", "reacher_image"])
def test_mean_readout_is_the_posterior_moments_of_the_goal_angle(domain):
    """``readout="mean"``: E[cos θ], E[sin θ], E[θ/span], E[(θ/span)²] of the posterior, computed here by a loop
    over candidates; a known goal gives a unit-length mean and zero spread, the prior the arc's moments."""
    belief = ExactBelief(domain, n_candidates=40, n_bins=10, readout="mean")
    span = np.pi / 2 if domain == "reacher_image" else np.pi
    assert belief.dim == 4 and belief.readout == "mean"
    rng = np.random.default_rng(1)
    for post in [np.full(40, 1 / 40), np.eye(40)[7], rng.dirichlet(np.ones(40))]:
        expected = np.zeros(4)
        for p, theta in zip(post, belief.angles):
            expected += p * np.array([np.cos(theta), np.sin(theta), theta / span, (theta / span) ** 2])
        np.testing.assert_allclose(post.astype(np.float32) @ belief.pool, expected, atol=1e-5)
    known = np.eye(40, dtype=np.float32)[7] @ belief.pool
    assert np.isclose(np.hypot(known[0], known[1]), 1.0, atol=1e-6) and np.isclose(known[3], known[2] ** 2, atol=1e-6)
    prior = belief.features(belief.reset(1))[0]  # the online state's features are the same read-out
    np.testing.assert_allclose(prior, np.full(40, 1 / 40, np.float32) @ belief.pool, atol=1e-6)
    assert np.hypot(prior[0], prior[1]) < 0.95 and prior[3] - prior[2] ** 2 > 0.05, "the prior is spread over the arc"


@pytest.mark.parametrize("domain,readout", [("gridworld", "mean"), ("wind", "mean"), ("semicircle", "sectorz")])
def test_mean_readout_is_refused_where_there_is_no_arc(domain, readout):
    with pytest.raises(ValueError, match=f"readout='{readout}' for {domain}; allowed values: sectors"):
        ExactBelief(domain, readout=readout)


def _transition_brute_force(env, candidates, actions, next_obs):
    """Bayes' rule with deterministic transitions, after every prefix ``(T + 1, C)``: candidate c survives
    every step whose start state is known (within an episode) iff its transition reproduces the observed
    next state."""
    like = np.ones((len(next_obs) + 1, len(candidates)))
    for t in range(len(next_obs)):
        like[t + 1] = like[t]
        if t == 0 or next_obs[t - 1, -1] != 0:  # a fresh episode starts: its start state is not an input
            continue
        s = next_obs[t - 1, :-1]
        for i, c in enumerate(candidates):
            like[t + 1, i] *= float(np.allclose(env.transition(s, actions[t], c), next_obs[t, :-1], atol=1e-5))
    return like / like.sum(-1, keepdims=True)


def _walk_trial(env, task, rng, T=40, boundary=25):
    """A 2-episode trial of random actions biased outwards from the room's centre, as stored."""
    obs, nxt, act = [], [], []
    s = np.zeros(2, np.float32)
    for t in range(T):
        if t == boundary:
            s = rng.uniform(-0.5, 0.5, 2).astype(np.float32)  # fresh start state (not an input)
        phi = np.deg2rad(150 - 4 * t)  # out towards 150°, then sweeping along the wall: many wall contacts
        a = (rng.uniform(-0.2, 0.2, 2) + np.array([np.cos(phi), np.sin(phi)])).astype(np.float32)
        s2 = env.transition(s, a, task)
        obs.append(s)
        act.append(a)
        nxt.append(np.append(s2, float(t in (boundary - 1, T - 1))))
        s = s2
    return np.array(obs, np.float32), np.array(act, np.float32), np.array(nxt, np.float32)


@pytest.mark.parametrize("domain", ["escape_room", "wind"])
def test_transition_posterior_equals_bayes_rule_and_online_updates_agree(domain):
    env = make_env(domain)
    belief = ExactBelief(domain, n_candidates=72, n_bins=12, wind_cells=8)
    rng = np.random.default_rng(1)
    task = belief.candidates[len(belief.candidates) // 3].astype(np.float64)
    obs, act, nxt = _walk_trial(env, task, rng)
    if domain == "escape_room":
        assert env.wall_contact(obs, act).sum() >= 3, "the walk should touch the wall"
    post = belief.posterior_trials(act[None], np.zeros((1, len(act)), np.float32), nxt[None])[0]
    state = belief.reset(1)
    brute = _transition_brute_force(env, belief.candidates, act, nxt)
    for t in range(len(act) + 1):
        expected = brute[t]
        np.testing.assert_allclose(post[t], expected, atol=1e-6, err_msg=f"step {t}")
        np.testing.assert_allclose(belief.posterior(state)[0], expected, atol=1e-6)
        assert expected[len(belief.candidates) // 3] > 0, "the true task was ruled out"
        if t < len(act):
            state = belief.step(state, act[t : t + 1], np.zeros(1), nxt[t : t + 1])
    assert post[-1].max() > post[0].max(), "the walk taught the belief nothing"
    if domain == "wind":  # one step inside an episode reveals the wind's cell
        assert post[2].max() == 1.0 and post[1].max() < 1.0
        np.testing.assert_allclose(belief.features(state)[0, :2], task / env.max_wind, atol=1e-6)


def test_escape_room_posterior_keeps_the_opening_after_an_escape():
    """A walk straight out through the true opening rules out every angle whose wall it would have hit."""
    env = make_env("escape_room")
    belief = ExactBelief("escape_room")
    theta = belief.candidates[100, 0]
    step = np.array([np.cos(theta), np.sin(theta)], np.float32)
    s, nxt = np.zeros(2, np.float32), []
    for _ in range(14):
        s = env.transition(s, step, [theta])
        nxt.append(np.append(s, 0.0))
    post = belief.posterior_trials(np.tile(step, (1, 14, 1)), np.zeros((1, 14)), np.array(nxt, np.float32)[None])[0, -1]
    alive = np.flatnonzero(post)
    assert 100 in alive and np.all(np.abs(belief.angles[alive] - theta) <= env.opening_width / 2 + 1e-9)


def test_ant_exact_belief_reads_the_torso_position_and_the_control_term():
    """Ant-Semi-circle: a rewarded step at the torso position p keeps exactly the arc candidates within the
    goal radius of p; the reward's control term comes from the action (without it nothing is consistent)."""
    from borel_lib.envs.ant import AntSemiCircleEnv

    eb = ExactBelief("ant_semicircle")
    env = AntSemiCircleEnv()
    obs_dim = env.observation_space.shape[0]
    rng = np.random.default_rng(0)
    goal = np.array([np.cos(1.0), np.sin(1.0)])
    pos = np.array([[0.0, 0.0], goal + [0.05, -0.03]])  # the start area, then near the goal
    next_obs = np.zeros((2, obs_dim + 1), np.float32)
    next_obs[:, :2] = pos
    actions = rng.uniform(-1, 1, (2, 8)).astype(np.float32)
    rewards = env.sparse_reward(None, actions, next_obs[:, :-1], goal).astype(np.float32)
    assert rewards[1] > 0.5 > rewards[0]
    post = eb.posterior_trials(actions[None], rewards[None], next_obs[None])[0]  # (3, C)
    assert np.all(post[1] == post[0])  # far from every candidate: the first step rules nothing out
    near = np.linalg.norm(eb.candidates - pos[1], axis=-1) <= env.goal_radius
    assert 0 < near.sum() < eb.n_candidates
    np.testing.assert_array_equal(post[2] > 0, near)
    assert eb.inconsistent(actions[1:], np.ones(1, np.float32), next_obs[1:]).all()  # reward without -0.1|a|^2
