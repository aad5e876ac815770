"""Semi-circle reference agents: goal-known oracle and per-episode posterior sampling."""

import numpy as np

from borel_lib.references.scripted import semicircle_oracle, semicircle_thompson


def test_oracle_hand_computed():
    # straight up at 0.1 per step: s' = 0.8 after 8 steps enters the goal disc, then stays
    np.testing.assert_array_equal(semicircle_oracle(np.array([[0.0, 1.0]])), [[53, 53]])


def test_thompson_is_below_the_oracle_and_learns_across_episodes():
    tasks = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0.1, np.pi - 0.1, 60)])
    oracle = semicircle_oracle(tasks)
    ts = np.stack([semicircle_thompson(tasks, np.random.default_rng(s), n_angles=200) for s in range(3)]).mean(0)
    assert np.all(ts <= oracle + 1e-9)
    assert ts[:, 1].mean() >= ts[:, 0].mean()
    assert ts.mean() < 0.5 * oracle.mean()


def test_thompson_with_a_single_candidate_is_the_oracle():
    # a posterior with one candidate goal on the arc: TS walks straight to it, like the oracle
    task = np.array([[0.0, 1.0]])
    np.testing.assert_array_equal(semicircle_thompson(task, np.random.default_rng(0), n_angles=1), semicircle_oracle(task))
