"""Identifiability checker (paper §4): Definitions 2-3, Propositions 2-3, reward relabelling."""

import numpy as np
import pytest

from borel_lib import identifiability as idf


def test_figure2_is_ambiguous_and_both_fixes_work():
    toy = idf.figure2_example()
    report = idf.check_identifiability(toy.mdps, toy.visits)
    assert not report.sufficient_condition_holds and report.failing_pairs == ((0, 1),)
    assert report.n_identifying[0, 1] > 0 and report.n_overlapping[0, 1] > 0  # they share a corridor
    witness = idf.ambiguity_witness(toy.mdps, toy.visits, 0, 1)
    assert witness is not None
    # the merged MDP has reward at both goals and reproduces each dataset's rewards where it was visited
    for i in range(2):
        v = toy.visits[i] > 0
        np.testing.assert_array_equal(witness[v], toy.mdps.rewards[i][v])
    # ... and it is the Figure 2 MDP with a reward at both places
    np.testing.assert_array_equal(witness, np.maximum(*toy.mdps.rewards))
    replay = idf.policy_replay_visits(toy.mdps, toy.policies, toy.init_dist, toy.horizon)
    assert idf.check_identifiability(toy.mdps, replay).sufficient_condition_holds
    assert idf.ambiguity_witness(toy.mdps, replay, 0, 1) is None
    rr = idf.reward_relabel_visits(toy.visits, mdps=toy.mdps)
    assert idf.check_identifiability(toy.mdps, rr).sufficient_condition_holds


def test_dense_reward_differences_are_identifiable():
    toy = idf.figure2_example()
    rng = np.random.default_rng(0)
    dense = idf.TabularMDPs(rng.normal(size=toy.mdps.rewards.shape), toy.mdps.transitions)
    report = idf.check_identifiability(dense, toy.visits)
    assert report.sufficient_condition_holds
    assert idf.ambiguity_witness(dense, toy.visits, 0, 1) is None
    assert report.to_frame()["ok"].all()


def test_escape_room_needs_policy_replaying_not_rr():
    toy = idf.escape_room_example()
    assert not toy.mdps.transitions_shared()
    assert not idf.check_identifiability(toy.mdps, toy.visits).sufficient_condition_holds
    with pytest.raises(ValueError, match="differ in transitions"):
        idf.reward_relabel_visits(toy.visits, mdps=toy.mdps)
    replay = idf.policy_replay_visits(toy.mdps, toy.policies, toy.init_dist, toy.horizon)
    assert idf.check_identifiability(toy.mdps, replay).sufficient_condition_holds


def test_visitation_on_a_chain_by_hand():
    # 3-state chain, 2 actions (stay, right); policy: right with prob 0.5
    P = np.zeros((3, 2, 3))
    for s in range(3):
        P[s, 0, s] = 1
        P[s, 1, min(s + 1, 2)] = 1
    mdps = idf.TabularMDPs(np.zeros((1, 3, 2)), P[None])
    d = idf.visitation(mdps, np.full((3, 2), 0.5), np.array([1.0, 0, 0]), horizon=3)
    # state distributions: t0 [1,0,0], t1 [.5,.5,0], t2 [.25,.5,.25]
    np.testing.assert_allclose(d[0].sum(-1), [1.75, 1.0, 0.25])
    np.testing.assert_allclose(d[0][:, 1], [0.875, 0.5, 0.125])


def test_identifying_pairs_definition():
    toy = idf.figure2_example()
    ident = idf.identifying_pairs(toy.mdps)
    assert not ident[0, 0].any() and np.array_equal(ident[0, 1], ident[1, 0])
    diff = toy.mdps.rewards[0] != toy.mdps.rewards[1]
    np.testing.assert_array_equal(ident[0, 1], diff)


def test_validation_errors_name_the_field():
    with pytest.raises(ValueError, match="rewards must have shape"):
        idf.TabularMDPs(np.zeros((2, 3)), np.zeros((2, 3, 1, 3)))
    with pytest.raises(ValueError, match="transitions must have shape"):
        idf.TabularMDPs(np.zeros((2, 3, 1)), np.zeros((2, 3, 1, 2)))
    with pytest.raises(ValueError, match="probability vector"):
        idf.TabularMDPs(np.zeros((1, 2, 1)), np.zeros((1, 2, 1, 2)))
    toy = idf.figure2_example()
    with pytest.raises(ValueError, match="visits must have"):
        idf.check_identifiability(toy.mdps, toy.visits[:, :3])
    with pytest.raises(ValueError, match="init_dist"):
        idf.visitation(toy.mdps, toy.policies, np.ones(3), 4)
    with pytest.raises(ValueError, match="policies must have shape"):
        idf.visitation(toy.mdps, toy.policies[:, :2], toy.init_dist, 4)
