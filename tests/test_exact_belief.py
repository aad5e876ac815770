"""The exact posterior over tasks against brute-force Bayes' rule, and its online/batch agreement."""

import itertools

import numpy as np
import pytest

from borel_lib.envs import make_env
from borel_lib.exact_belief import ExactBelief


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
    with pytest.raises(ValueError, match="wind.*allowed values: gridworld, semicircle"):
        ExactBelief("wind")
