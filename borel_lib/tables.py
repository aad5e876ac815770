"""What a result table must hold: the schema of each kind of table, checked row by row.

Every number the figures, the README and the notebooks report is read from a committed tidy table
(:mod:`borel_lib.results`). A NaN, a duplicated row or a truncated file would silently change a headline
number, so :func:`borel_lib.results.read_table_file` (the one reader of result tables) and
:func:`borel_lib.results.write_results` both run :func:`check_table`: the tidy columns
(:data:`TIDY_COLUMNS`) with text in ``domain, method, variant, metric``, integers in ``seed`` and
``episode``, a finite number in every ``value``, at least one row, and per kind of table
(:data:`TABLE_KINDS`, known from the table's name) its key columns (integers, never empty), no two rows
with the same key, and as many rows in every evaluation (or task) as in the fullest one, so a truncated
table is refused. :func:`check_evaluations` then compares a table with the config saved beside it: a
BOReL run holds exactly the evaluations its ``updates`` and ``eval_every`` make, its ``_final`` and
``_traj`` tables the last one; a baseline's last evaluation is its configured total; a collection holds
every iteration, a belief VAE's losses every epoch; an online run reached its step budget. Every error is
one line naming the table (``<table>: row N: <what>``, rows counted from 1 after the header).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TIDY_COLUMNS: tuple[str, ...] = ("domain", "method", "variant", "seed", "episode", "metric", "value")
"""The columns every result table has, in this order (extra columns may follow)."""
TEXT_COLUMNS: tuple[str, ...] = ("domain", "method", "variant", "metric")
"""Tidy columns that name things: never empty."""
INTEGER_COLUMNS: tuple[str, ...] = ("seed", "episode")
"""Tidy columns of integers (with every kind's key columns)."""
SCORED_METRICS: tuple[str, ...] = ("return", "success")
"""The per-evaluation metrics every evaluation of a run writes (one row per episode)."""


@dataclass(frozen=True)
class TableKind:
    """One kind of result table. ``patterns``: shell patterns of its result names (the first kind of
    :data:`TABLE_KINDS` that matches wins); ``key``: its key columns beyond the tidy ones (``domain``
    to ``metric``), required, integers, one row per key (``None``: every column but ``value`` is the key,
    none required), or per ``unique`` when the key is narrower than the required integer columns;
    ``same_rows_per``: a column whose groups (negative values aside: the collectors'
    warm-up) all hold as many rows as the fullest, counting only the ``counted`` metrics if given."""

    name: str
    patterns: tuple[str, ...]
    key: tuple[str, ...] | None
    same_rows_per: str | None = None
    counted: tuple[str, ...] | None = None
    unique: tuple[str, ...] | None = None

    def matches(self, result_name: str) -> bool:
        return any(fnmatch.fnmatchcase(result_name, p) for p in self.patterns)


TABLE_KINDS: tuple[TableKind, ...] = (
    TableKind("BOReL trajectory", ("borel_*_traj",), ("task", "t", "updates"), "task"),
    TableKind("BOReL final evaluation", ("borel_*_final",), ("task", "updates"), "task"),
    TableKind("BOReL run", ("borel_*",), ("updates",), "updates", SCORED_METRICS),
    TableKind("baseline trajectory", ("pearl_*_traj", "mbml_*_traj"), ("task", "t", "iteration"), "task"),
    TableKind("baseline run", ("pearl_*", "mbml_*"), ("iteration",), "iteration", SCORED_METRICS),
    TableKind("collection trajectory", ("collect_*_traj",), ("task", "t"), "task"),
    TableKind("collection learning curve", ("collect_*",), ("task", "trial", "iteration"), "iteration",
              SCORED_METRICS, unique=("task", "trial")),
    TableKind("VAE losses", ("vae_*",), ("epoch",), "epoch"),
    TableKind("online trajectory", ("online_*_traj",), ("task", "t", "iteration", "env_steps"), "task"),
    TableKind("online final evaluation", ("online_*_final",), ("task", "iteration", "env_steps"), "task"),
    TableKind("online run", ("online_*",), ("iteration", "env_steps"), "iteration", SCORED_METRICS,
              unique=("iteration",)),
    TableKind("baseline sweep", ("sweep_*pearl_*", "sweep_*mbml_*"), ("cell", "iteration")),
    TableKind("sweep", ("sweep_*",), ("cell", "updates")),
    TableKind("analysis or probe", ("*",), None),
)
"""Every kind of result table (:data:`borel_lib.results.FAMILIES` names their folders), most specific first.
Keys as the writers make them: a collection's ``trial`` is numbered within its task (its ``iteration`` is
required, not part of the key); an online run's ``env_steps`` is required for the check of its budget."""


def table_kind(name: str | None) -> TableKind:
    """The :class:`TableKind` of result ``name`` (``None``: the generic kind)."""
    return next(k for k in TABLE_KINDS if name is not None and k.matches(name) or k.patterns == ("*",))


def _row(mask: pd.Series) -> int:
    """The 1-based row number (after the header) of the first row where ``mask`` holds."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1


def _shown(value: Any) -> str:
    """A field as an error message shows it (strings quoted, numbers plain, one line)."""
    return repr(value.item() if isinstance(value, np.generic) else value).replace("\n", " ")[:40]


def check_table(df: pd.DataFrame, name: str | None, where: str) -> TableKind:
    """Raise a one-line ``ValueError`` (``"<where>: [row N: ]<what is wrong>"``) unless ``df`` is a valid
    table of result ``name``'s kind (:func:`table_kind`); return the kind."""
    kind = table_kind(name)
    required = list(TIDY_COLUMNS) + [c for c in (kind.key or ()) if c not in TIDY_COLUMNS]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; a {kind.name} table has the columns "
                         f"{', '.join(required)} (columns found: {', '.join(map(str, df.columns))})")
    if not len(df):
        raise ValueError(f"{where}: no rows (a header only)")
    for col in TEXT_COLUMNS:
        empty = df[col].isna()
        if empty.any():
            raise ValueError(f"{where}: row {_row(empty)}: column {col!r} is empty")
    values = pd.to_numeric(df["value"], errors="coerce")
    if values.isna().any():
        bad = values.isna()
        raw = df["value"][bad].iloc[0]
        what = "NaN or empty" if pd.isna(raw) else f"not a number ({_shown(raw)})"
        raise ValueError(f"{where}: row {_row(bad)}: column 'value' is {what}")
    infinite = ~np.isfinite(values.to_numpy(dtype=float))
    if infinite.any():
        raise ValueError(f"{where}: row {_row(pd.Series(infinite))}: column 'value' is infinite")
    for col in (*INTEGER_COLUMNS, *(kind.key or ())):
        as_number = pd.to_numeric(df[col], errors="coerce")
        bad = as_number.isna() | (as_number != np.round(as_number))
        if bad.any():
            raw = df[col][bad].iloc[0]
            what = "empty" if pd.isna(raw) else f"not an integer ({_shown(raw)})"
            raise ValueError(f"{where}: row {_row(bad)}: column {col!r} is {what}")
    key = list(TIDY_COLUMNS[:-1]) + list(kind.unique or kind.key or [c for c in df.columns if c not in TIDY_COLUMNS])
    dup = df.duplicated(subset=key, keep="first")
    if dup.any():
        groups = df.groupby(key, dropna=False, sort=False).ngroup()
        i = _row(dup) - 1
        first = int(np.flatnonzero((groups == groups.iloc[i]).to_numpy())[0]) + 1
        raise ValueError(f"{where}: row {i + 1}: duplicated: its key columns ({', '.join(key)}) repeat row {first}")
    if kind.same_rows_per is not None:
        rows = df if kind.counted is None else df[df["metric"].isin(kind.counted)]
        counts = rows[rows[kind.same_rows_per] >= 0].groupby(kind.same_rows_per).size()
        short = counts[counts < counts.max()] if len(counts) else counts
        if len(short):
            what = f" {'/'.join(kind.counted)}" if kind.counted else ""
            raise ValueError(f"{where}: {kind.same_rows_per} {short.index[0]} has {short.iloc[0]}{what} rows, "
                             f"{kind.same_rows_per} {counts.idxmax()} has {counts.max()}: rows are missing (a truncated table?)")
    return kind


# ---- the evaluations a table must hold, from the config saved beside it -------------------------------------


def _listed(steps) -> str:
    steps = sorted(int(s) for s in steps)
    return ", ".join(map(str, steps[:5])) + (f" … ({len(steps)})" if len(steps) > 5 else "")


def _borel_steps(values: dict[str, Any]) -> tuple[list[int], str] | None:
    rl = values.get("offline_rl")
    if not isinstance(rl, dict) or not isinstance(rl.get("updates"), int) or not isinstance(rl.get("eval_every"), int):
        return None
    u, e = rl["updates"], rl["eval_every"]
    return [*range(e, u, e), u], f"updates {u}, eval_every {e}"


def _borel_run(df: pd.DataFrame, values: dict[str, Any]) -> str | None:
    """A BOReL run evaluates every ``eval_every`` updates and at the end (its config cannot change on resume)."""
    found = _borel_steps(values)
    if found is None:
        return None
    expected, said = found
    have = set(df["updates"].astype(int))
    if have == set(expected):
        return None
    missing, extra = set(expected) - have, have - set(expected)
    return (f"evaluations at updates {_listed(have)}, but its config ({said}) makes {len(expected)}"
            + (f"; missing: {_listed(missing)}" if missing else "") + (f"; unexpected: {_listed(extra)}" if extra else ""))


def _borel_last(df: pd.DataFrame, values: dict[str, Any]) -> str | None:
    """A BOReL run's ``_final`` and ``_traj`` tables are of its last evaluation."""
    found = _borel_steps(values)
    if found is None or int(df["updates"].max()) == found[0][-1]:
        return None
    return f"last evaluation at updates {int(df['updates'].max())}, but its config ({found[1]}) ends at {found[0][-1]}"


def _baseline_last(df: pd.DataFrame, values: dict[str, Any]) -> str | None:
    """PEARL's last evaluation is at ``iterations``, MBML's at ``distill_steps`` (their ``eval_every`` may
    change on resume, so only the last evaluation is known from the config: it must not be missing)."""
    key = "distill_steps" if "distill_steps" in values else "iterations"
    total = values.get(key)
    if not isinstance(total, int):
        return None
    scored = df[df["metric"].isin(SCORED_METRICS)]
    last = int((scored if len(scored) else df)["iteration"].max())  # a trajectory table: of one evaluation
    return None if last >= total else f"last evaluation at iteration {last}, but its config ({key} {total}) ends at {total}"


def _collection(df: pd.DataFrame, values: dict[str, Any]) -> str | None:
    """A collection's learning curve has every iteration ``0 .. iterations - 1`` (and ``-1``, the random warm-up)."""
    n = values.get("iterations")
    if not isinstance(n, int):
        return None
    have = set(df["iteration"].astype(int))
    missing, extra = set(range(n)) - have, have - set(range(-1, n))
    if not missing and not extra:
        return None
    return (f"iterations {_listed(have)}, but its config (iterations {n}) makes 0 .. {n - 1}"
            + (f"; missing: {_listed(missing)}" if missing else "") + (f"; unexpected: {_listed(extra)}" if extra else ""))


def _vae(df: pd.DataFrame, values: dict[str, Any]) -> str | None:
    """The belief VAE logs every epoch ``1 .. epochs`` (its log is resumed whole; ``epochs`` may only grow)."""
    n = values.get("epochs")
    if not isinstance(n, int):
        return None
    missing = set(range(1, n + 1)) - set(df["epoch"].astype(int))
    return None if not missing else (f"epochs {_listed(set(df['epoch']))}, but its config (epochs {n}) makes 1 .. {n}; "
                                     f"missing: {_listed(missing)}")


def _online(df: pd.DataFrame, values: dict[str, Any]) -> str | None:
    """An online run evaluates last once its environment steps reach ``env_steps`` (the evaluation interval
    may change on resume)."""
    budget = values.get("env_steps")
    if not isinstance(budget, int):
        return None
    last = int(df["env_steps"].max())
    return None if last >= budget else f"last evaluation at {last} environment steps, before its config's env_steps {budget}"


EVALUATION_CHECKS: dict[str, Callable[[pd.DataFrame, dict[str, Any]], str | None]] = {
    "BOReL run": _borel_run, "BOReL final evaluation": _borel_last, "BOReL trajectory": _borel_last,
    "baseline run": _baseline_last, "baseline trajectory": _baseline_last, "collection learning curve": _collection,
    "VAE losses": _vae, "online run": _online, "online final evaluation": _online, "online trajectory": _online}
"""Per kind, what the saved config says the table must hold (kinds not listed: nothing is checked: an analysis
table's config holds no count of its rows, a sweep's cells are checked when their own tables are read)."""


def check_evaluations(df: pd.DataFrame, kind: TableKind, config: dict[str, Any], where: str) -> None:
    """Raise a one-line ``ValueError`` if ``df`` (a checked table of ``kind``) lacks evaluations its saved
    ``config`` (the JSON beside it: ``values`` holds the run's config) says it made."""
    check = EVALUATION_CHECKS.get(kind.name)
    values = config.get("values")
    if check is not None and isinstance(values, dict):
        problem = check(df, values)
        if problem:
            raise ValueError(f"{where}: {problem}")
