"""Statistics over a handful of seeds: the interquartile mean, percentile-bootstrap intervals, and a verdict on
a claimed ordering of two methods.

Why. A companion that reports mean ± standard error over 2–3 seeds invites the reader to read a difference of
a standard error as a result. Agarwal et al. (2021), "Deep Reinforcement Learning at the Edge of the
Statistical Precipice" (NeurIPS 2021), recommend reporting, with few runs, (i) the interquartile mean (IQM),
a robust point estimate that is less sensitive to one outlying seed than the mean and less coarse than the
median, and (ii) bootstrap confidence intervals for it, with a *stratified* bootstrap (seeds resampled within
each task) when an aggregate pools several tasks. This module implements those pieces for the result tables
of :mod:`borel_lib.results` (one number per seed: the paper's metric averaged over the last 10 % of a run's
evaluations), plus :func:`verdict`, which says whether the committed seeds support a claimed ordering
"a > b" of two methods.

What.

- :func:`iqm`: the interquartile mean of the values (one per seed). The default (``trim="fractional"``) is
  the mean of the empirical distribution between its 25th and 75th percentiles, i.e. the integral of the
  empirical quantile function over [0.25, 0.75] divided by 0.5: every sorted observation ``x_(i)`` owns the
  probability interval ``[i/n, (i+1)/n)`` and is weighted by the share of it inside [0.25, 0.75]. When ``n`` is a
  multiple of 4 this trims exactly ``n/4`` observations from each end and equals
  ``scipy.stats.trim_mean(x, 0.25)`` (what the ``rliable`` library of Agarwal et al. computes); otherwise the
  boundary observations count in part. ``trim="whole"`` gives ``scipy.stats.trim_mean`` semantics instead
  (drop ``floor(n/4)`` whole observations from each end). With fewer than 4 seeds the two differ:

  ===  ==============================================  ==========================
  n    fractional (default)                             whole (scipy, rliable)
  ===  ==============================================  ==========================
  1    the value                                        the value
  2    the mean                                         the mean
  3    ``x_(1)/6 + 2 x_(2)/3 + x_(3)/6`` (sorted)       the mean (nothing trimmed)
  ===  ==============================================  ==========================

  So with 2 seeds the IQM *is* the mean, and with 3 seeds it is a median-leaning weighted mean; it only
  discards whole seeds from n = 4 on. Neither makes 2–3 seeds robust: the IQM is reported because it is
  the convention reviewers expect, and it is honest about what it reduces to.
- :func:`bootstrap_ci`: a percentile-bootstrap 95 % interval of the IQM over seeds (seeds resampled with
  replacement, 2,000 resamples, a seeded :class:`numpy.random.Generator`, so the same values always give the
  same interval; the values are sorted first, so the interval does not depend on their order).
- :func:`stratified_bootstrap_ci`: the same for an aggregate over several tasks or domains, seeds
  resampled within each stratum and the IQM taken over the pooled resample (Agarwal et al.'s aggregate IQM;
  scores of different domains must be normalised to a common scale first).
- :func:`difference_ci`, :func:`compare`, :func:`verdict`: the bootstrap interval of ``IQM(a) − IQM(b)``
  (a's and b's seeds resampled independently) and the verdict on the claim "a > b": ``"holds"`` (the 95 %
  interval lies above 0), ``"reversed"`` (below 0), ``"not separated"`` (it contains 0), or
  ``"too few seeds"`` (either side has fewer than 2 seeds: no interval).

Caveat. A percentile bootstrap over 2 or 3 seeds is coarse and anti-conservative: 3 seeds have only 10
distinct resamples, so the interval is narrower than the true uncertainty, and "holds" with 3 seeds is
weak evidence, while "not separated" is the honest answer to many of the orderings a 2–3 seed study claims.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

TRIMS: tuple[str, ...] = ("fractional", "whole")
"""The two definitions of :func:`iqm` (see the module docstring)."""
N_RESAMPLES = 2000
"""Bootstrap resamples of every interval here."""
CONFIDENCE = 0.95
"""Coverage of every interval here."""
RNG_SEED = 0
"""Seed of the bootstrap's random generator (every interval is deterministic)."""
VERDICTS: tuple[str, ...] = ("holds", "reversed", "not separated", "too few seeds")
"""What :func:`verdict` can say about a claimed ordering "a > b"."""


def _values(values: Sequence[float] | np.ndarray, where: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if not len(x):
        raise ValueError(f"{where}: no values (one per seed expected)")
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: values must be finite numbers, got {x.tolist()}")
    return x


def _iqm_counts(n: int, trim: str) -> tuple[np.ndarray, int]:
    """Integer weights of ``n`` sorted observations in :func:`iqm` and their sum (so a constant sample gives
    its value exactly)."""
    if trim not in TRIMS:
        raise ValueError(f"trim={trim!r}: allowed values are {', '.join(map(repr, TRIMS))}")
    if n < 1:
        raise ValueError(f"n={n}: at least one observation is needed")
    i = np.arange(n)
    if trim == "whole":
        g = n // 4
        return ((i >= g) & (i < n - g)).astype(np.int64), n - 2 * g
    # in units of 1/(4n): observation i spans [4i, 4i + 4), the interquartile range [n, 3n)
    return np.clip(np.minimum(4 * i + 4, 3 * n) - np.maximum(4 * i, n), 0, None), 2 * n


def iqm_weights(n: int, trim: str = "fractional") -> np.ndarray:
    """The weight of each of ``n`` sorted observations in :func:`iqm` (they sum to 1). ``fractional``: the
    share of observation ``i``'s probability interval ``[i/n, (i+1)/n)`` inside [0.25, 0.75], over 0.5
    (computed in integers, so the weights are exact fractions); ``whole``: ``1 / (n - 2g)`` on the
    observations left after dropping ``g = floor(n/4)`` from each end."""
    counts, total = _iqm_counts(n, trim)
    return counts / total


def iqm_rows(samples: np.ndarray, trim: str = "fractional") -> np.ndarray:
    """:func:`iqm` of every row of a 2-D array (one resample per row), vectorised."""
    samples = np.asarray(samples, dtype=np.float64)
    counts, total = _iqm_counts(samples.shape[-1], trim)
    return (np.sort(samples, axis=-1) @ counts.astype(np.float64)) / total


def iqm(values: Sequence[float] | np.ndarray, trim: str = "fractional") -> float:
    """The interquartile mean of ``values`` (one per seed); ``trim`` as in the module docstring."""
    return float(iqm_rows(_values(values, "iqm")[None], trim)[0])


def _resample(rng: np.random.Generator, x: np.ndarray, n_resamples: int) -> np.ndarray:
    """``n_resamples`` resamples with replacement of the sorted ``x`` (one per row)."""
    return np.sort(x)[rng.integers(0, len(x), size=(n_resamples, len(x)))]


def _interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence}: must lie in (0, 1)")
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], np.ndarray] | None = None,
                 n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, rng_seed: int = RNG_SEED,
                 trim: str = "fractional") -> tuple[float, float]:
    """Percentile-bootstrap interval of a statistic over seeds (default: :func:`iqm` with ``trim``):
    ``n_resamples`` resamples of the values with replacement drawn by ``numpy.random.default_rng(rng_seed)``,
    the statistic of each (``statistic`` maps a ``(n_resamples, n)`` array to ``n_resamples`` values), and
    the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those. ``(nan, nan)`` for a
    single value (no spread to resample)."""
    return stratified_bootstrap_ci([values], statistic, n_resamples, confidence, rng_seed, trim)


def stratified_bootstrap_ci(strata: Sequence[Sequence[float] | np.ndarray],
                            statistic: Callable[[np.ndarray], np.ndarray] | None = None,
                            n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, rng_seed: int = RNG_SEED,
                            trim: str = "fractional") -> tuple[float, float]:
    """Stratified percentile bootstrap of an aggregate over several tasks or domains (Agarwal et al. 2021):
    each stratum's seeds are resampled with replacement within the stratum (strata in the order given, each
    drawn from one generator seeded with ``rng_seed``), the resamples pooled, and the statistic (default
    :func:`iqm` over the pooled scores) taken per resample. One stratum is :func:`bootstrap_ci`. Scores of
    different domains must be on a common scale (normalised) before pooling. ``(nan, nan)`` when no
    stratum has two seeds."""
    xs = [_values(s, f"stratum {i}") for i, s in enumerate(strata)]
    if not xs:
        raise ValueError("stratified_bootstrap_ci: no strata")
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples}: at least 1")
    if all(len(x) < 2 for x in xs):
        return float("nan"), float("nan")
    rng = np.random.default_rng(rng_seed)
    pooled = np.concatenate([_resample(rng, x, n_resamples) for x in xs], axis=1)
    stats = (statistic or (lambda s: iqm_rows(s, trim)))(pooled)
    return _interval(np.asarray(stats, dtype=np.float64), confidence)


def difference_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n_resamples: int = N_RESAMPLES,
                  confidence: float = CONFIDENCE, rng_seed: int = RNG_SEED, trim: str = "fractional") -> tuple[float, float]:
    """Percentile-bootstrap interval of ``IQM(a) - IQM(b)``: a's and b's seeds resampled independently
    (a's resamples drawn first, then b's, from one generator seeded with ``rng_seed``). ``(nan, nan)`` if
    either side has fewer than 2 seeds."""
    xa, xb = _values(a, "a"), _values(b, "b")
    if len(xa) < 2 or len(xb) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(rng_seed)
    ra, rb = _resample(rng, xa, n_resamples), _resample(rng, xb, n_resamples)
    return _interval(iqm_rows(ra, trim) - iqm_rows(rb, trim), confidence)


def compare(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n_resamples: int = N_RESAMPLES,
            confidence: float = CONFIDENCE, rng_seed: int = RNG_SEED, trim: str = "fractional") -> dict:
    """The numbers behind :func:`verdict` on the claim "a > b": ``n_a``, ``n_b`` (seeds), ``iqm_a``,
    ``iqm_b``, ``diff_ci_low``, ``diff_ci_high`` (:func:`difference_ci`) and ``verdict``."""
    xa, xb = _values(a, "a"), _values(b, "b")
    low, high = difference_ci(xa, xb, n_resamples, confidence, rng_seed, trim)
    if len(xa) < 2 or len(xb) < 2:
        said = "too few seeds"
    elif low > 0:
        said = "holds"
    elif high < 0:
        said = "reversed"
    else:
        said = "not separated"
    return {"n_a": len(xa), "n_b": len(xb), "iqm_a": iqm(xa, trim), "iqm_b": iqm(xb, trim),
            "diff_ci_low": low, "diff_ci_high": high, "verdict": said}


def verdict(a_samples: Sequence[float] | np.ndarray, b_samples: Sequence[float] | np.ndarray,
            n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, rng_seed: int = RNG_SEED,
            trim: str = "fractional") -> str:
    """What the seeds say about the claim "a > b" (one value per seed each): ``"holds"`` if the bootstrap
    95 % interval of ``IQM(a) - IQM(b)`` lies above 0, ``"reversed"`` if below 0, ``"not separated"`` if it
    contains 0, ``"too few seeds"`` if either side has fewer than 2 seeds. For a claim "a ≥ b", "not
    separated" does not contradict it; only "reversed" does."""
    return compare(a_samples, b_samples, n_resamples, confidence, rng_seed, trim)["verdict"]
