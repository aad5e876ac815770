"""Solutions to the exercises of notebook 01 (MDP ambiguity, identifiability, the exact Gridworld).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states, so a wrong statement fails ``tests/test_solutions.py``. Run them all with
``python solutions/01_mdp_ambiguity.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np

from borel_lib import identifiability as idf
from borel_lib.references import exact_gridworld as eg


def exercise_1() -> dict[str, bool]:
    """Reward relabelling's fraction on the Figure 2 toy: 0 (no relabelling), a little, half, and 1.

    Expected: with ``fraction=0`` Proposition 2 fails and a single MDP explains both datasets (the data
    is ambiguous). Any fraction strictly between 0 and 1 repairs it. ``fraction=1`` fails again: with two
    MDPs, each dataset is then entirely the *other* collector's trajectories, so the two datasets still
    never visit a common identifying state-action (they have only swapped places)."""
    toy = idf.figure2_example()
    holds = {}
    for fraction in (0.0, 0.05, 0.5, 1.0):
        visits = idf.reward_relabel_visits(toy.visits, fraction=fraction, mdps=toy.mdps)
        report = idf.check_identifiability(toy.mdps, visits)
        witness = idf.ambiguity_witness(toy.mdps, visits, 0, 1)
        holds[f"fraction={fraction}"] = report.sufficient_condition_holds
        assert report.sufficient_condition_holds == (witness is None), "reward-only toy: Prop. 2 is also necessary"
    assert holds == {"fraction=0.0": False, "fraction=0.05": True, "fraction=0.5": True, "fraction=1.0": False}
    return holds


def exercise_2() -> dict[str, object]:
    """Escape-Room toy: try reward relabelling anyway (drop the ``mdps=`` safety check).

    Expected: with ``mdps=room.mdps`` the library refuses (the MDPs differ in transitions). Without it the
    mixed visitation *passes* Proposition 2's check, yet it is not data of those MDPs: a borrowed step
    through the other task's opening is a wall in this task. The checker sees visits, not whether the
    transitions are real; that is why reward relabelling is refused and policy replaying (which collects
    real transitions) is the repair. Policy replaying passes too, and the own data fails."""
    room = idf.escape_room_example()
    try:
        idf.reward_relabel_visits(room.visits, fraction=0.5, mdps=room.mdps)
    except ValueError as err:
        refused = "policy replaying" in str(err)
    else:
        refused = False
    forced = idf.reward_relabel_visits(room.visits, fraction=0.5)  # no check: a wrong dataset
    out = {"own data holds": idf.check_identifiability(room.mdps, room.visits).sufficient_condition_holds,
           "refused with the check": refused,
           "forced relabelling holds": idf.check_identifiability(room.mdps, forced).sufficient_condition_holds,
           "policy replaying holds": idf.check_identifiability(
               room.mdps, idf.policy_replay_visits(room.mdps, room.policies, room.init_dist, room.horizon)
           ).sufficient_condition_holds}
    assert out == {"own data holds": False, "refused with the check": True, "forced relabelling holds": True,
                   "policy replaying holds": True}
    return out


def exercise_3() -> dict[int, tuple[float, float, float]]:
    """The smoke Gridworld (4x4, H = 7) solved exactly with k = 1, 2, 3 episodes per trial.

    Expected: for every k, oracle ≥ Bayes-optimal ≥ Thompson sampling (trial totals); the oracle earns
    the same every episode; Thompson sampling improves from episode to episode (it learns only from
    what its sampled walks happen to visit); and the Bayes-optimal agent's lead over Thompson sampling
    grows with k, because what its episode-1 search finds pays again in every later episode."""
    out, gaps = {}, []
    for k in (1, 2, 3):
        spec = eg.GridSpec(size=4, horizon=7, episodes=k)
        bayes, thompson, oracle = (eg.bayes_optimal_returns(spec, progress=False), eg.thompson_sampling_returns(spec),
                                   eg.oracle_returns(spec))
        assert oracle.total >= bayes.total - 1e-9 and bayes.total >= thompson.total - 1e-9
        assert np.allclose(oracle.per_episode, oracle.per_episode[0])
        assert np.all(np.diff(thompson.per_episode) > 0)
        gaps.append(bayes.total - thompson.total)
        out[k] = (round(bayes.total, 3), round(thompson.total, 3), round(oracle.total, 3))
    assert gaps[0] > 0 and np.all(np.diff(gaps) > 0), gaps
    return out


def exercise_4() -> dict[str, bool]:
    """Data diversity instead of a repair: start the Figure 2 collectors uniformly over the grid.

    Expected: Proposition 2 holds on the collectors' own data, with no relabelling and no replaying:
    a collector that starts next to the other MDP's reward cell walks through it on its way (and
    the fixed-start data of the notebook still fails)."""
    toy = idf.figure2_example()
    n_states = toy.mdps.shape[1]
    uniform = idf.visitation(toy.mdps, toy.policies, np.full(n_states, 1.0 / n_states), toy.horizon)
    out = {"fixed start holds": idf.check_identifiability(toy.mdps, toy.visits).sufficient_condition_holds,
           "uniform start holds": idf.check_identifiability(toy.mdps, uniform).sufficient_condition_holds}
    assert out == {"fixed start holds": False, "uniform start holds": True}
    return out


EXERCISES = (exercise_1, exercise_2, exercise_3, exercise_4)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
