"""The verdict rules of the README's headline table (:mod:`borel_lib.headline`, whose docstring states them):
what one sub-claim can say (:func:`ordering_outcome`, :func:`reference_outcome`, :func:`share_outcome`,
:func:`repair_outcome`, :func:`point_outcome`) and a row's verdict from its sub-claims (:func:`combine`).

Pure functions of a few numbers per seed (:mod:`borel_lib.stats` gives the intervals); no table is read here.
:mod:`borel_lib.headline` imports every name of this module, so ``borel_lib.headline.combine`` etc. still work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from borel_lib.stats import bootstrap_ci

VERDICTS: tuple[str, ...] = ("holds", "partly", "not separated", "fails", "not produced")
"""What a row of the headline table can say."""
OUTCOMES: tuple[str, ...] = ("holds", "partly", "not separated", "fails", "too few seeds", "missing")
"""What one sub-claim can say."""
KINDS: tuple[str, ...] = (">", "≥", "≈")
"""The kinds of claimed orderings of two run configurations."""
SHARE_THRESHOLD = 0.5
"""A share the paper calls large (most goals, most episodes) must reach this at the interval's lower end."""


def ordering_outcome(kind: str, said: str) -> str:
    """The outcome of a claimed ordering of ``kind`` (one of :data:`KINDS`) from :func:`borel_lib.stats.verdict`'s
    answer ``said`` on "a > b" (the rules in :mod:`borel_lib.headline`)."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: allowed values are {', '.join(map(repr, KINDS))}")
    if said == "too few seeds":
        return said
    outcomes = {">": {"holds": "holds", "not separated": "not separated", "reversed": "fails"},
                "≥": {"holds": "holds", "not separated": "holds", "reversed": "fails"},
                "≈": {"holds": "fails", "not separated": "holds", "reversed": "fails"}}[kind]
    if said not in outcomes:
        raise ValueError(f"said={said!r}: allowed values are 'holds', 'reversed', 'not separated', 'too few seeds'")
    return outcomes[said]


def reference_outcome(values: Sequence[float] | np.ndarray, reference: float) -> str:
    """A run configuration (one value per seed) against a reference value: holds when the bootstrap 95 %
    interval of the IQM lies above ``reference``, fails when below, else not separated (too few seeds with one)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return "too few seeds"
    low, high = bootstrap_ci(values)
    return "holds" if low > reference else "fails" if high < reference else "not separated"


def share_outcome(values: Sequence[float] | np.ndarray, threshold: float = SHARE_THRESHOLD) -> str:
    """A share the paper says is large (one value per seed in [0, 1]): holds when the lower end of the
    IQM's bootstrap 95 % interval is at least ``threshold``, partly when it is above 0, not separated when it
    is 0 but the upper end is not, fails when the interval is [0, 0] (every seed 0)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return "too few seeds"
    low, high = bootstrap_ci(values)
    return "holds" if low >= threshold else "partly" if low > 0 else "not separated" if high > 0 else "fails"


def repair_outcome(before: float, after: float) -> str:
    """A count of failures before and after a repair: holds when it falls, not separated when unchanged,
    fails when it rises."""
    return "holds" if after < before else "fails" if after > before else "not separated"


def point_outcome(a: float, b: float) -> str:
    """One measurement per side (no seeds) of the claim "a > b": holds when a > b, fails when a < b."""
    return "holds" if a > b else "fails" if a < b else "not separated"


def combine(outcomes: Sequence[str]) -> str:
    """A row's verdict from its sub-claims' outcomes (:mod:`borel_lib.headline`): not produced / fails / holds /
    partly / not separated."""
    bad = [o for o in outcomes if o not in OUTCOMES]
    if bad:
        raise ValueError(f"outcomes {bad}: allowed values are {', '.join(OUTCOMES)}")
    if not outcomes or all(o == "missing" for o in outcomes):
        return "not produced"
    if "fails" in outcomes:
        return "fails"
    if all(o == "holds" for o in outcomes):
        return "holds"
    if any(o in ("holds", "partly") for o in outcomes):
        return "partly"
    return "not separated"

