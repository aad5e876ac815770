"""Small tidy result tables, with the resolved config beside them.

Every reported number lives in a CSV under the profile's results folder with one row per
(domain, method, variant, seed, episode, metric) and a ``value`` column. The config that produced it
is saved next to it as ``<name>.config.json`` together with the command that regenerates it, so figure
and table notebooks read only these files and rebuild in seconds.

**The results tree.** A table's name says what it is (``borel_semicircle_reward_relabelling_seed0``); its
folder follows from the name alone (:func:`result_dir`), so a reader finds it without the code:
``data/results/<profile>/<family>/<domain>/[<configuration>/]<name>.csv`` with the families ``borel`` (one
folder per run configuration, its seeds inside), ``baselines`` (PEARL, MBML), ``belief`` (VAE losses, belief
tables), ``collection`` (learning curves of the data-collecting agents), ``analysis`` (references, exact
values, identifiability, data diversity), ``sweeps`` (merged grids) and ``probes`` (diagnostic experiments,
apart from the paper's results). Trajectory tables (``*_traj``, most of the bytes) are stored
gzip-compressed (``<name>.csv.gz``, written with a fixed header so the bytes are reproducible); pandas
reads both forms. ``scripts/migrate_results_tree.py`` moved the earlier flat folder into this tree.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from borel_lib.config import Config
from borel_lib.io import atomic_path, write_json
from borel_lib.paths import results_dir

TIDY_COLUMNS: tuple[str, ...] = ("domain", "method", "variant", "seed", "episode", "metric", "value")
"""The columns every result table has, in this order (extra columns may follow)."""


DOMAIN_NAMES: tuple[str, ...] = ("ant_semicircle", "cheetah_vel", "escape_room", "reacher_image", "gym_ant",
                                 "gridworld", "semicircle", "wind")
"""Domain names as they appear in result names (longest first: ``ant_semicircle`` before ``semicircle``);
``gym_ant`` is Gymnasium's Ant-v5 of the SAC calibration probe."""
FAMILIES: dict[str, str] = {"borel": "borel", "pearl": "baselines", "mbml": "baselines", "vae": "belief",
                            "belief": "belief", "collect": "collection", "sweep": "sweeps", "probe": "probes"}
"""First word of a result name → its family folder; any other name is in ``analysis``."""
COMPRESSED_SUFFIX = "_traj"
"""Tables whose name ends so are stored as ``<name>.csv.gz``."""


def result_dir(name: str) -> Path:
    """The folder of result ``name`` relative to the profile's results root, from the name alone:
    ``<family>/<domain>/`` (``analysis`` and ``sweeps`` tables without a domain: ``<family>/``); BOReL runs
    one level deeper, ``borel/<domain>/<configuration>/`` where the configuration is the name between the
    domain and ``_seed<S>`` (``default`` when empty)."""
    family = FAMILIES.get(name.split("_", 1)[0], "analysis")
    match = re.search(rf"(?:^|_)({'|'.join(DOMAIN_NAMES)})(?=_|$)", name)
    if match is None:
        return Path(family)
    folder = Path(family) / match.group(1)
    if family == "borel":
        rest = name[match.end():]
        config = re.sub(r"_seed\d+.*$", "", rest).strip("_")
        folder = folder / (config or "default")
    return folder


def result_path(name: str, profile: str, directory: str | os.PathLike[str] | None = None, kind: str = "table") -> Path:
    """The file of result ``name`` (``kind`` ``table``: the CSV, gzip-compressed for trajectory tables;
    ``config``: the JSON beside it) under ``directory`` (default: the profile's results root)."""
    root = Path(directory) if directory is not None else results_dir(profile)
    if kind == "config":
        file = f"{name}.config.json"
    elif kind == "table":
        file = f"{name}.csv.gz" if name.endswith(COMPRESSED_SUFFIX) else f"{name}.csv"
    else:
        raise ValueError(f"result_path: kind must be 'table' or 'config', got {kind!r}")
    return root / result_dir(name) / file


def result_name(path: str | os.PathLike[str]) -> str:
    """The result name of a table or config file (its file name without ``.csv``, ``.csv.gz``, ``.config.json``)."""
    file = Path(path).name
    for ext in (".csv.gz", ".config.json", ".csv"):
        if file.endswith(ext):
            return file[: -len(ext)]
    raise ValueError(f"{path}: not a result table or config file")


def find_results(pattern: str, profile: str, directory: str | os.PathLike[str] | None = None,
                 kind: str = "table") -> list[Path]:
    """Every result file under the profile's tree (or ``directory``) whose name matches the shell
    ``pattern`` (e.g. ``"borel_*_seed*"``), sorted by name."""
    root = Path(directory) if directory is not None else results_dir(profile)
    globs = ("*.config.json",) if kind == "config" else ("*.csv", "*.csv.gz")
    found = [p for g in globs for p in root.rglob(g) if fnmatch.fnmatchcase(result_name(p), pattern)]
    return sorted(found, key=result_name)


def validate_tidy(df: pd.DataFrame, where: str = "results") -> pd.DataFrame:
    """Check ``df`` has the tidy columns, finite values and no duplicated keys; return it ordered."""
    missing = [c for c in TIDY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; required columns: {', '.join(TIDY_COLUMNS)}")
    values = pd.to_numeric(df["value"], errors="coerce")
    if values.isna().any():
        bad = df.loc[values.isna()].head(3).to_dict("records")
        raise ValueError(f"{where}: column 'value' has non-numeric or NaN entries, e.g. {bad}")
    keys = [c for c in df.columns if c != "value"]
    dup = df.duplicated(subset=keys, keep=False)
    if dup.any():
        raise ValueError(f"{where}: duplicated rows for key columns {keys}, e.g. {df.loc[dup].head(2).to_dict('records')}")
    extra = [c for c in df.columns if c not in TIDY_COLUMNS]
    return df[list(TIDY_COLUMNS) + extra].reset_index(drop=True)


def write_results(df: pd.DataFrame, name: str, *, config: Config | dict[str, Any] | None, profile: str,
                  command: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Write ``<name>.csv`` and ``<name>.config.json`` atomically; return the CSV path.

    ``command`` is the one command that regenerates the table (recorded in the JSON).
    """
    if not name or "/" in name or name.endswith(".csv"):
        raise ValueError(f"result name must be a plain stem like 'gridworld_exact'; got {name!r}")
    df = validate_tidy(df, where=name)
    csv_path = result_path(name, profile, directory)
    text = df.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    with atomic_path(csv_path) as tmp:
        if csv_path.suffix == ".gz":  # no file name and mtime 0 in the header: the same table, the same bytes
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(text.encode("utf-8"))
        else:
            tmp.write_text(text, encoding="utf-8")
    meta_path = result_path(name, profile, directory, kind="config")
    if isinstance(config, Config):
        config.save_json(meta_path, profile=profile, command=command, results=csv_path.name)
    else:
        write_json(meta_path, {"profile": profile, "command": command, "results": csv_path.name,
                               "values": config or {}})
    return csv_path


def read_results(name: str, profile: str, directory: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a table written by :func:`write_results`, with a clear error if it was never generated."""
    path = result_path(name, profile, directory)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run the notebook or command that generates results '{name}' "
            f"for profile '{profile}' first"
        )
    return validate_tidy(pd.read_csv(path), where=str(path))


def read_results_config(name: str, profile: str, directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The JSON saved beside a result table (config values, command, profile)."""
    return json.loads(result_path(name, profile, directory, kind="config").read_text(encoding="utf-8"))


def borel_runs(profile: str, directory: str | os.PathLike[str] | None = None, last_fraction: float = 0.1) -> pd.DataFrame:
    """One row per finished BOReL run (``borel_<tag>.csv``): the paper's metric (mean return over the
    first ``eval_episodes`` episodes: Gridworld 4, Semi-circle 2) averaged over the last ``last_fraction``
    of its evaluations (at least one), the same for episodes 1 and 2 and success, and, when the run's
    ``_final`` table exists, the search metrics of its last evaluation averaged over tasks."""
    from borel_lib.envs import make_env

    rows = []
    for path in find_results("borel_*_seed*", profile, directory):
        if result_name(path).endswith(("_final", "_traj")):
            continue
        df = pd.read_csv(path)
        domain = df.domain.iloc[0]
        k = make_env(domain).eval_episodes
        evals = np.sort(df.updates.unique())
        late = df[df.updates.isin(evals[-max(1, int(round(last_fraction * len(evals)))):])]
        ret = late[late.metric == "return"].groupby("episode").value.mean()
        row = {"run": result_name(path).removeprefix("borel_"), "domain": domain, "method": df.method.iloc[0],
               "seed": int(df.seed.iloc[0]), "updates": int(evals[-1]), "evals_averaged": int(late.updates.nunique()),
               "metric": float(ret.loc[1:k].mean()), "ep1": float(ret.loc[1]), "ep2": float(ret.loc[2]),
               "success": float(late[(late.metric == "success") & (late.episode <= k)].value.mean())}
        final = result_path(f"{result_name(path)}_final", profile, directory)
        if final.is_file():
            f = pd.read_csv(final)
            row.update(f[f.episode == 0].groupby("metric").value.mean().to_dict())
        rows.append(row)
    return pd.DataFrame(rows)


BASELINES: tuple[str, ...] = ("pearl", "mbml")
"""The paper's Thompson-sampling baselines (``python -m borel_lib.baselines.pearl`` / ``borel_lib.baselines.mbml``)."""


def baseline_runs(profile: str, directory: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per finished PEARL / MBML run (``pearl_<domain>_seed<S>.csv``, ``mbml_...``; PEARL's
    goal-given sanity run as method ``pearl_oracle_task``): the paper's metric at the best evaluation over
    training (what the paper's figures plot, column ``metric``) and at the last one (``final``), with
    episodes 1 and 2 of the best evaluation; columns as :func:`borel_runs` (``updates`` = the iteration)."""
    from borel_lib.envs import make_env

    rows = []
    found = [p for b in BASELINES for p in find_results(f"{b}_*_seed*", profile, directory)]
    for path in sorted((p for p in found if not result_name(p).endswith("_traj")), key=result_name):
        df = pd.read_csv(path)
        domain = df.domain.iloc[0]
        k = make_env(domain).eval_episodes
        best = df[df.metric == "best_return"].groupby("episode").value.mean()
        final = df[df.metric == "final_return"].groupby("episode").value.mean()
        succ = df[(df.metric == "best_success") & (df.episode <= k)].value
        rows.append({"run": result_name(path), "domain": domain, "method": df.method.iloc[0], "seed": int(df.seed.iloc[0]),
                     "updates": int(df.iteration.max()), "evals_averaged": 1, "metric": float(best.loc[1:k].mean()),
                     "ep1": float(best.loc[1]), "ep2": float(best.loc[2]), "success": float(succ.mean()),
                     "final": float(final.loc[1:k].mean())})
    return pd.DataFrame(rows)


def summarise_runs(runs: pd.DataFrame, by: tuple[str, ...] = ("domain", "method", "config")) -> pd.DataFrame:
    """Mean and standard error over seeds of every numeric column of :func:`borel_runs`, per group
    (``config`` = the run name without its seed)."""
    runs = runs.assign(config=runs.run.str.replace(r"_seed\d+", "", regex=True))
    numeric = [c for c in runs.columns if c not in (*by, "run", "seed") and pd.api.types.is_numeric_dtype(runs[c])]
    g = runs.groupby(list(by))
    out = g[numeric].mean()
    sem = g[numeric].sem(ddof=1).add_suffix("_se")
    return out.join(sem).assign(seeds=g.size()).reset_index()


def results_table_markdown(profile: str, directory: str | os.PathLike[str] | None = None) -> str:
    """The README's BOReL results table (markdown) from the committed result tables: one line per run
    configuration (mean ± s.e. over seeds of :func:`borel_runs`), then the reference agents of
    ``references_semicircle_gridworld.csv``. ``scripts/results_table.py`` prints it and the figures
    notebook shows it, so the README and the notebook cannot disagree."""
    n_metric = {"gridworld": 4, "semicircle": 2}

    def pm(row: pd.Series, col: str) -> str:
        if col not in row or pd.isna(row[col]):
            return "—"
        se = row.get(f"{col}_se", np.nan)
        return f"{row[col]:.2f}" + (f" ± {se:.2f}" if row["seeds"] > 1 and not pd.isna(se) else "")

    lines = ["| domain | run | seeds | updates | paper's metric | episode 1 | episode 2 | success | found in ep. 1 "
             "| search then go |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    runs = borel_runs(profile, directory)
    if len(runs):
        for _, r in summarise_runs(runs).iterrows():
            lines.append(f"| {r.domain} | {r.config} | {r.seeds} | {int(r.updates):,} | {pm(r, 'metric')} | {pm(r, 'ep1')} | "
                         f"{pm(r, 'ep2')} | {pm(r, 'success')} | {pm(r, 'found_ep1')} | {pm(r, 'search_then_go')} |")
    base = baseline_runs(profile, directory)
    if len(base):  # best over training, as the paper plots; the last evaluation in brackets
        for _, r in summarise_runs(base).iterrows():
            lines.append(f"| {r.domain} | {r.config} (best; last: {pm(r, 'final')}) | {r.seeds} | {int(r.updates):,} iter. "
                         f"| {pm(r, 'metric')} | {pm(r, 'ep1')} | {pm(r, 'ep2')} | {pm(r, 'success')} | — | — |")
    ref = result_path("references_semicircle_gridworld", profile, directory)
    if ref.is_file():
        ref_df = pd.read_csv(ref)
        for (domain, method), g in ref_df.groupby(["domain", "method"]):
            v = g.sort_values("episode").value.to_numpy()[: n_metric[domain]]
            lines.append(f"| {domain} | {method} (reference) | — | — | {v.mean():.2f} | {v[0]:.2f} | {v[1]:.2f} | — | — | — |")
    return "\n".join(lines)
