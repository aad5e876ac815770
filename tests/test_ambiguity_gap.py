"""The identifiability-vs-gap measurements (borel_lib.ambiguity_gap) on hand-made data with known answers."""

import numpy as np
import pandas as pd
import pytest

from borel_lib import ambiguity_gap as ag
from borel_lib.envs import make_env


def _points(centre, n=30, spread=0.02, seed=0):
    return np.asarray(centre) + spread * np.random.default_rng(seed).standard_normal((n, 2))


def test_reward_counts_brute_force_on_two_goals():
    """Two Semi-circle goals far apart. Each task's data only at its own goal: the pair fails Proposition 2 (no
    identifying cell seen by both); reward relabelling shares the visits and repairs it. Both tasks' data at goal 0:
    the pair passes."""
    goals = np.array([[-0.9, 0.3], [0.9, 0.3]])
    apart = np.stack([_points(goals[0]), _points(goals[1], seed=1)])
    rows = ag.reward_counts({"whole": apart}, goals, "semicircle")
    assert {(r["data"], r["failing"]) for r in rows} == {("own", 1), ("fixed", 0)}
    shared = np.stack([_points(goals[0]), _points(goals[0], seed=2)])
    assert {(r["data"], r["failing"]) for r in ag.reward_counts({"late": shared}, goals, "semicircle")} == {
        ("own", 0), ("fixed", 0)}


def test_gridworld_grid_marks_the_goal_cell_only():
    goals = np.array([[0.0, 4.0], [4.0, 4.0]])
    near = np.stack([np.array([[1.0, 4.0]] * 5), np.array([[3.0, 4.0]] * 5)])  # next to the goals, never on them
    assert {(r["data"], r["failing"]) for r in ag.reward_counts({"whole": near}, goals, "gridworld")} == {
        ("own", 1), ("fixed", 1)}
    on = np.stack([np.array([[0.0, 4.0]] * 5), np.array([[0.0, 4.0]] * 5)])  # both at goal 0
    assert {r["failing"] for r in ag.reward_counts({"whole": on}, goals, "gridworld")} == {0}


def test_transition_counts_policy_replay_repairs_disjoint_wind_data():
    """Wind: two tasks whose data never share a (cell, direction); replayed trials of each other's states
    overlap them, so the fix repairs the pair."""
    env = make_env("wind")
    tasks = env.sample_tasks(2, np.random.default_rng(0))
    a_obs, b_obs = _points([-0.5, 0.5]), _points([0.5, 0.5], seed=1)
    act = np.tile([1.0, 0.0], (30, 1))
    own = {"whole": (np.stack([a_obs, b_obs]), np.stack([act, act]))}
    replay = (np.stack([b_obs, a_obs]), np.stack([act, act]))
    rows = ag.transition_counts(env.transition, tasks, own, replay, "wind")
    assert {(r["part"], r["data"], r["failing"]) for r in rows} == {("whole", "own", 1), ("whole", "fixed", 0)}


def test_fix_gap_compares_the_default_runs_of_the_dataset():
    from borel_lib.pipeline import RunSpec

    def tag(relabelling, seed, init_state="fixed", **kw):
        return RunSpec("semicircle", "quick", relabelling=relabelling, init_state=init_state, seed=seed, **kw).tag

    rows = [{"run": tag("reward_relabelling", s), "metric": 10.0 + s} for s in range(5)]
    rows += [{"run": tag("none", s), "metric": 1.0 + 0.1 * s} for s in range(5)]
    rows += [{"run": tag("none", 0, init_state="uniform"), "metric": 99.0}]  # another dataset: ignored
    runs = pd.DataFrame(rows).assign(seed=lambda d: d.run.str.extract(r"seed(\d+)")[0].astype(int))
    spec = ag.GapDataset("semicircle", "fixed", "reward_relabelling")
    gap = ag.fix_gap(runs, spec, "quick")
    assert (gap["n_a"], gap["n_b"], gap["verdict"]) == (5, 5, "holds")
    assert gap["iqm_a"] == pytest.approx(12.0) and gap["iqm_b"] == pytest.approx(1.2)
    assert ag.fix_gap(runs, ag.GapDataset("wind", "uniform", "policy_replay"), "quick") is None
    assert ag.fix_gap(runs.iloc[:0], spec, "quick") is None
    # a longer collection of the same variant is a dataset of its own: its runs only
    length = (("iterations", 300), ("updates_per_iter", 500))
    long = ag.GapDataset("semicircle", "fixed", "reward_relabelling", length)
    assert long.key == "fixed_it300_upi500" and spec.key == "fixed"
    assert (long.collect_config("quick").iterations, long.collect_config("quick").updates_per_iter) == (300, 500)
    assert ag.fix_gap(runs, long, "quick") is None
    more = [{"run": tag(r, s, collection=length), "metric": m + s} for s in range(3) for r, m in
            (("reward_relabelling", 20.0), ("none", 2.0))]
    longer = pd.concat([runs, pd.DataFrame(more).assign(seed=lambda d: d.run.str.extract(r"seed(\d+)")[0].astype(int))])
    gap = ag.fix_gap(longer, long, "quick")
    assert (gap["n_a"], gap["n_b"]) == (3, 3) and gap["iqm_a"] == pytest.approx(21.0)
    assert ag.fix_gap(longer, spec, "quick")["n_a"] == 5


def test_missing_dataset_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="python -m borel_lib.collect semicircle --profile smoke --init-state fixed"):
        ag.dataset_identifiability(ag.GapDataset("semicircle", "fixed", "reward_relabelling"), "smoke")
    with pytest.raises(FileNotFoundError, match="--init-state uniform --seed 0 --iterations 7 --updates-per-iter 2"):
        ag.dataset_identifiability(ag.GapDataset("semicircle", "uniform", "reward_relabelling", (("iterations", 7),
                                                                                                 ("updates_per_iter", 2))), "smoke")
