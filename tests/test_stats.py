"""borel_lib.stats against hand-computed values and brute force: the interquartile mean (fractional and
whole-observation trimming), percentile-bootstrap intervals (plain, stratified, of a difference), the verdict
on a claimed ordering, and determinism."""

import itertools

import numpy as np
import pytest
from scipy.stats import trim_mean

from borel_lib import stats


def _iqm_by_replication(x):
    """Brute force of the fractional IQM: every value copied 4 times gives the same empirical distribution
    with 4n points, whose middle half is exactly n whole points on each side of the trimmed quarter."""
    rep = np.sort(np.repeat(np.asarray(x, dtype=float), 4))
    n = len(x)
    return rep[n: 3 * n].mean()


def test_iqm_by_hand_for_few_seeds():
    assert stats.iqm([3.0]) == 3.0
    assert stats.iqm([1.0, 4.0]) == pytest.approx(2.5)  # two seeds: the mean
    assert stats.iqm([0.0, 6.0, 60.0]) == pytest.approx(0 / 6 + 2 * 6 / 3 + 60 / 6)  # 1/6, 2/3, 1/6 of the sorted seeds
    assert stats.iqm([60.0, 0.0, 6.0]) == pytest.approx(14.0)  # order does not matter
    assert stats.iqm([1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.5)  # four seeds: the middle two
    assert stats.iqm([0.0, 1.0, 2.0, 3.0, 100.0]) == pytest.approx((0.75 * 1 + 2 + 0.75 * 3) / 2.5)
    # whole-observation trimming (scipy / rliable): nothing is dropped below 4 seeds
    assert stats.iqm([0.0, 6.0, 60.0], trim="whole") == pytest.approx(22.0)
    np.testing.assert_allclose(stats.iqm_weights(3), [1 / 6, 2 / 3, 1 / 6])
    np.testing.assert_allclose(stats.iqm_weights(5), [0.0, 0.3, 0.4, 0.3, 0.0])


@pytest.mark.parametrize("n", range(1, 14))
def test_iqm_matches_brute_force_and_scipy(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        x = rng.normal(size=n) * rng.choice([1.0, 100.0])
        assert stats.iqm(x) == pytest.approx(_iqm_by_replication(x), rel=1e-12, abs=1e-12)
        assert stats.iqm(x, trim="whole") == pytest.approx(trim_mean(x, 0.25), rel=1e-12, abs=1e-12)
        if n % 4 == 0:  # the two definitions agree when n/4 is whole
            assert stats.iqm(x) == pytest.approx(trim_mean(x, 0.25), rel=1e-12, abs=1e-12)
    for trim in stats.TRIMS:
        assert stats.iqm_weights(n, trim).sum() == pytest.approx(1.0)


def test_iqm_refuses_what_it_cannot_average():
    with pytest.raises(ValueError, match="no values"):
        stats.iqm([])
    with pytest.raises(ValueError, match="finite"):
        stats.iqm([1.0, float("nan")])
    with pytest.raises(ValueError, match="allowed values"):
        stats.iqm([1.0, 2.0], trim="quartile")


def test_bootstrap_ci_against_brute_force():
    """Two seeds: every resample is (a, a), (a, b), (b, a) or (b, b); the IQM of two is their mean, so the
    resampled statistic takes a, (a + b) / 2 and b with probabilities 1/4, 1/2, 1/4, and the 2.5 % / 97.5 %
    quantiles of 2,000 resamples are a and b. The same resamples drawn by hand give the same interval."""
    low, high = stats.bootstrap_ci([2.0, 10.0])
    assert (low, high) == (2.0, 10.0)
    x = np.array([5.0, -1.0, 3.0, 40.0, 7.0])
    rng = np.random.default_rng(stats.RNG_SEED)
    idx = rng.integers(0, len(x), size=(stats.N_RESAMPLES, len(x)))
    by_hand = [stats.iqm(np.sort(x)[i]) for i in idx]
    np.testing.assert_allclose(stats.bootstrap_ci(x), np.quantile(by_hand, [0.025, 0.975]))
    assert stats.bootstrap_ci(x)[0] <= stats.iqm(x) <= stats.bootstrap_ci(x)[1]
    means = stats.bootstrap_ci(x, statistic=lambda s: s.mean(axis=1), confidence=0.5)
    np.testing.assert_allclose(means, np.quantile(np.sort(x)[idx].mean(1), [0.25, 0.75]))
    assert np.isnan(stats.bootstrap_ci([4.0])).all()


def test_bootstrap_is_deterministic_and_order_free():
    x = [0.3, 8.0, 2.5]
    first = stats.bootstrap_ci(x)
    assert stats.bootstrap_ci(x) == first
    for perm in itertools.permutations(x):
        assert stats.bootstrap_ci(list(perm)) == first
    y = np.linspace(0.0, 10.0, 9) ** 2  # enough seeds for the interval to depend on the draws
    assert stats.bootstrap_ci(y, rng_seed=1) == stats.bootstrap_ci(y, rng_seed=1) != stats.bootstrap_ci(y, rng_seed=2)
    a, b = [1.0, 2.0, 3.5], [0.5, 0.7]
    assert stats.compare(a, b) == stats.compare(a[::-1], b[::-1]) == stats.compare(a, b)


def test_stratified_bootstrap_resamples_within_each_stratum():
    x = [1.0, 2.0, 7.0]
    assert stats.stratified_bootstrap_ci([x]) == stats.bootstrap_ci(x)  # one stratum: the plain bootstrap
    # strata whose seeds agree cannot move: the interval is the pooled IQM itself
    low, high = stats.stratified_bootstrap_ci([[1.0, 1.0], [5.0, 5.0, 5.0], [9.0, 9.0]])
    assert low == high == pytest.approx(stats.iqm([1, 1, 5, 5, 5, 9, 9]))
    # by hand: the same draws, stratum after stratum, pooled per resample
    strata = [np.array([0.0, 1.0]), np.array([10.0, 12.0, 30.0])]
    rng = np.random.default_rng(stats.RNG_SEED)
    draws = [np.sort(s)[rng.integers(0, len(s), size=(stats.N_RESAMPLES, len(s)))] for s in strata]
    pooled = np.concatenate(draws, axis=1)
    expected = np.quantile([stats.iqm(r) for r in pooled], [0.025, 0.975])
    np.testing.assert_allclose(stats.stratified_bootstrap_ci(strata), expected)
    assert np.isnan(stats.stratified_bootstrap_ci([[1.0], [2.0]])).all()


def test_verdict_on_claimed_orderings():
    assert stats.verdict([10.0, 11.0, 12.0], [1.0, 2.0, 3.0]) == "holds"
    assert stats.verdict([1.0, 2.0, 3.0], [10.0, 11.0, 12.0]) == "reversed"
    assert stats.verdict([1.0, 5.0, 9.0], [4.0, 5.0, 6.0]) == "not separated"
    assert stats.verdict([10.0], [1.0, 2.0]) == "too few seeds"
    assert stats.verdict([10.0, 11.0], [1.0]) == "too few seeds"
    out = stats.compare([10.0, 11.0, 12.0], [1.0, 2.0, 3.0])
    assert out["n_a"] == 3 and out["n_b"] == 3 and out["iqm_a"] == pytest.approx(11.0) and out["iqm_b"] == pytest.approx(2.0)
    # all resampled differences lie between min(a) - max(b) and max(a) - min(b)
    assert 10.0 - 3.0 <= out["diff_ci_low"] <= 9.0 <= out["diff_ci_high"] <= 12.0 - 1.0
    # two seeds each: the difference of means takes 9 values; by brute force over the 16 equally likely pairs
    a, b = np.array([0.0, 4.0]), np.array([1.0, 2.0])
    rng = np.random.default_rng(stats.RNG_SEED)
    ra = a[rng.integers(0, 2, size=(stats.N_RESAMPLES, 2))].mean(1)
    rb = b[rng.integers(0, 2, size=(stats.N_RESAMPLES, 2))].mean(1)
    np.testing.assert_allclose(stats.difference_ci(a, b), np.quantile(ra - rb, [0.025, 0.975]))
    assert stats.compare(a, b)["verdict"] == "not separated"
    too_few = stats.compare([1.0], [2.0, 3.0])
    assert np.isnan(too_few["diff_ci_low"]) and too_few["iqm_a"] == 1.0 and too_few["iqm_b"] == 2.5
    assert set(stats.VERDICTS) == {"holds", "reversed", "not separated", "too few seeds"}
