"""Hyper-state coverage (borel_lib.coverage) against brute-force loops and the exact Bayes-optimal reference."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from borel_lib.coverage import (
    PHASES,
    bayes_optimal_hyper_states,
    coverage_summary,
    coverage_view,
    data_visit_counts,
    hyper_state_keys,
    trajectory_hyper_states,
)
from borel_lib.envs.gridworld import MOVES
from borel_lib.paths import repo_root
from borel_lib.references.exact_belief import ExactBelief


@pytest.fixture(scope="module")
def search_path():
    """The committed Bayes-optimal search path (quick notebook 01's table), positions at steps 0..60."""
    df = pd.read_csv(repo_root() / "data/results/quick/analysis/gridworld/gridworld_exact_search.csv")
    wide = df.pivot_table(index="t", columns="metric", values="value").sort_index()
    return wide[["x", "y"]].to_numpy().astype(np.int64)


def test_keys_are_one_to_one():
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 5, (400, 2))
    support = rng.random((400, 21)) < 0.5
    keys = hyper_state_keys(cells, support)
    pairs = {(tuple(c), tuple(s)) for c, s in zip(cells, support)}
    assert len(set(keys.tolist())) == len(pairs)


def test_data_counts_equal_a_loop_over_steps_with_the_online_posterior():
    """Random walks with their rewards: the counts equal those of a loop that steps the exact belief online."""
    rng = np.random.default_rng(1)
    exact = ExactBelief("gridworld")
    goals = exact.candidates
    n_trials, T = 6, 30
    obs = np.zeros((n_trials, T, 3), np.float32)
    nxt = np.zeros((n_trials, T, 3), np.float32)
    act = rng.integers(0, 5, (n_trials, T, 1)).astype(np.float32)
    rew = np.zeros((n_trials, T), np.float32)
    expected: dict = {}
    for i in range(n_trials):
        goal = goals[rng.integers(len(goals))]
        pos, state = np.zeros(2, np.float32), exact.reset(1)
        for t in range(T):
            key = (tuple(pos.astype(int)), tuple(exact.posterior(state)[0] > 0))
            expected[key] = expected.get(key, 0) + 1
            new = np.clip(pos + MOVES[int(act[i, t, 0])], 0, 4)
            obs[i, t, :2], nxt[i, t, :2] = pos, new
            rew[i, t] = 1.0 if (new == goal).all() else -0.1
            state = exact.step(state, act[i, t : t + 1], rew[i, t : t + 1], nxt[i, t : t + 1])
            pos = new
    data = SimpleNamespace(obs=obs[None], next_obs=nxt[None], rewards=rew[None], actions=act[None])
    counts = data_visit_counts(data, chunk=4)
    brute = {int(hyper_state_keys(np.array(c), np.array(s))): n for (c, s), n in expected.items()}
    assert counts.to_dict() == brute


def test_bayes_optimal_states_find_14_goals_in_episode_1_and_earn_the_dp_value(search_path):
    """Built from the search path, the Bayes-optimal trials find 14 of the 21 goals in episode 1 (the sweep of
    the exact reference) and their mean return per episode is the DP's 9.30 (the committed reference table)."""
    states = bayes_optimal_hyper_states(search_path)
    assert len(states) == 21 * 60 and set(states["phase"]) == set(PHASES)
    found_ep1 = states[(states.t == 15)]["phase"].eq("goal_known").sum()
    assert found_ep1 == 14
    ref = pd.read_csv(repo_root() / "data/results/quick/analysis/gridworld/gridworld_exact.csv")
    bayes = ref[(ref.method == "bayes_optimal") & (ref.metric == "return")]["value"].mean()
    per_episode = states.groupby(["goal", "episode"])["reward"].sum().groupby("episode").mean()
    assert per_episode.mean() == pytest.approx(bayes, abs=1e-4)  # the table keeps 5 decimals
    assert (states[states.phase == "goal_known"]["t"] > 0).all()


def test_trajectory_states_of_a_traj_table_equal_the_bayes_optimal_ones(search_path):
    """The Bayes-optimal trials written as a run's ``_traj`` table (next cells and rewards) replay to the same
    hyper-states and phases."""
    states = bayes_optimal_hyper_states(search_path)
    traj = pd.concat([pd.DataFrame({"task": states.goal, "t": states.t, "metric": m, "value": states[c]})
                      for m, c in (("x", "next_x"), ("y", "next_y"), ("reward", "reward"))])
    replayed = trajectory_hyper_states(traj)
    pd.testing.assert_frame_equal(replayed[["goal", "t", "episode", "x", "y", "key", "phase"]].reset_index(drop=True),
                                  states[["goal", "t", "episode", "x", "y", "key", "phase"]].reset_index(drop=True),
                                  check_dtype=False)


def test_summary_counts_visits_per_phase():
    states = pd.DataFrame({"key": [1, 1, 2, 3, 4], "phase": ["search_ep1", "search_ep1", "goal_known",
                                                             "search_after_failed_sweep", "goal_known"]})
    counts = pd.Series({1: 50, 2: 5})
    out = coverage_summary(states, counts).set_index("phase")
    assert out.loc["search_ep1", "median"] == 50 and out.loc["search_ep1", "unvisited"] == 0
    assert out.loc["goal_known", "under10"] == 1.0 and out.loc["goal_known", "unvisited"] == 0.5
    assert out.loc["search_after_failed_sweep", "distinct"] == 1 and out.loc["search_after_failed_sweep", "unvisited"] == 1


def test_view_has_one_row_per_agent_and_two_columns_per_phase():
    rows = [{"domain": "gridworld", "method": m, "variant": "uniform", "seed": 0, "episode": 0,
             "metric": f"{p}_{s}", "value": 1.0} for m in ("bayes_optimal", "borel_exact") for p in PHASES
            for s in ("median", "unvisited", "steps")]
    rows.append({"domain": "gridworld", "method": "data", "variant": "uniform", "seed": 0, "episode": 0,
                 "metric": "transitions", "value": 9.0})
    view = coverage_view(pd.DataFrame(rows))
    assert view.shape == (2, 2 * len(PHASES)) and "search after failed sweep: unvisited" in view.columns
