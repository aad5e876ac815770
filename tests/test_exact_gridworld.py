"""Exact Gridworld solver vs brute force (paper §6 domain 1, Figure 3 references)."""

import functools

import numpy as np
import pytest

from borel_lib.config import ConfigError
from borel_lib.references import exact_gridworld as eg


def brute_force_bayes_optimal(spec: eg.GridSpec) -> float:
    """Expectimax over histories, with the belief recomputed from the visited set (no bitmasks)."""
    goals = [tuple(map(int, g)) for g in spec.candidate_goals()]
    H, k = spec.horizon, spec.episodes

    @functools.cache
    def value(tau, pos, visited, known):
        if tau == k * H:
            return 0.0
        t = tau % H
        best = -np.inf
        for a in range(5):
            nxt = eg._move(spec, pos[0], pos[1], a)
            after = (0, 0) if t == H - 1 else nxt
            if known is not None:
                r = spec.goal_reward if nxt == known else spec.step_reward
                q = r + value(tau + 1, after, visited, known)
            else:
                possible = [g for g in goals if g not in visited]
                if nxt in possible:
                    p = 1.0 / len(possible)
                    q = p * (spec.goal_reward + value(tau + 1, after, visited, nxt)) + (1 - p) * (
                        spec.step_reward + value(tau + 1, after, visited | frozenset([nxt]), None))
                else:
                    q = spec.step_reward + value(tau + 1, after, visited, None)
            best = max(best, q)
        return best

    return value(0, (0, 0), frozenset(), None)


def monte_carlo_thompson(spec: eg.GridSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Simulate strict per-episode posterior sampling with the same path rule."""
    goals = [tuple(map(int, g)) for g in spec.candidate_goals()]
    out = np.zeros((n, spec.episodes))
    for i in range(n):
        true = goals[rng.integers(len(goals))]
        ruled, known = set(), None
        for e in range(spec.episodes):
            target = known if known is not None else [g for g in goals if g not in ruled][
                rng.integers(len([g for g in goals if g not in ruled]))]
            cells = eg._shortest_path(spec, target)[: spec.horizon]
            cells = cells + [cells[-1] if cells else (0, 0)] * (spec.horizon - len(cells))
            for c in cells:
                out[i, e] += spec.goal_reward if c == true else spec.step_reward
                if c == true:
                    known = true
                elif c in goals:
                    ruled.add(c)
    return out


@pytest.mark.parametrize("kw", [dict(size=3, excluded_corner=1, horizon=3, episodes=2),
                                dict(size=3, excluded_corner=2, horizon=4, episodes=2),
                                dict(size=4, excluded_corner=2, horizon=3, episodes=3)])
def test_bayes_optimal_matches_brute_force(kw):
    spec = eg.GridSpec(**kw)
    res = eg.bayes_optimal_returns(spec, progress=False)
    assert np.isclose(res.total, brute_force_bayes_optimal(spec), atol=1e-9)
    assert np.isclose(res.per_episode.sum(), res.total)
    assert res.search_path.shape == (spec.horizon * spec.episodes + 1, 2)


def test_thompson_matches_monte_carlo():
    spec = eg.GridSpec(size=4, excluded_corner=2, horizon=5, episodes=3)
    exact = eg.thompson_sampling_returns(spec)
    sims = monte_carlo_thompson(spec, 6000, np.random.default_rng(0))
    se = sims.std(axis=0) / np.sqrt(len(sims))
    assert np.all(np.abs(sims.mean(axis=0) - exact.per_episode) < 4 * se + 1e-9), (sims.mean(0), exact.per_episode)


def test_oracle_hand_computed():
    spec = eg.GridSpec(size=3, excluded_corner=2, horizon=4, episodes=2)
    # goals (0,2),(1,2),(2,0),(2,1),(2,2) at distances 2,3,2,3,4 from (0,0); return (d-1)(-0.1) + (H-d+1)
    expected = np.mean([-0.1 + 3, -0.2 + 2, -0.1 + 3, -0.2 + 2, -0.3 + 1])
    res = eg.oracle_returns(spec)
    np.testing.assert_allclose(res.per_episode, [expected, expected])


def test_orderings_and_table():
    spec = eg.GridSpec(size=4, excluded_corner=2, horizon=6, episodes=3)
    df = eg.solve_all(spec, progress=False)
    tot = df[df.metric == "total_return"].set_index("method")["value"]
    assert tot["oracle"] >= tot["bayes_optimal"] >= tot["thompson_sampling"] - 1e-12
    assert set(df.columns) >= {"domain", "method", "variant", "seed", "episode", "metric", "value"}
    # the Bayes-optimal agent improves after the first episode (it has searched)
    bo = df[(df.method == "bayes_optimal") & (df.metric == "return")]["value"].to_numpy()
    assert bo[1] > bo[0]


def test_spec_validation():
    with pytest.raises(ConfigError, match="excluded_corner"):
        eg.GridSpec(size=3, excluded_corner=3)
    with pytest.raises(ConfigError, match="horizon"):
        eg.GridSpec(horizon=0)
    assert len(eg.GridSpec().candidate_goals()) == 21
