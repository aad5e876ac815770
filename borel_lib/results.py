"""Small tidy result tables, with the resolved config beside them.

Every reported number lives in a CSV under the profile's results folder with one row per
(domain, method, variant, seed, episode, metric) and a ``value`` column. The config that produced it
is saved next to it as ``<name>.config.json`` together with the command that regenerates it, so figure
and table notebooks read only these files and rebuild in seconds.

**The results tree.** A table's name says what it is (``borel_semicircle_uniform_reward_relabelling_seed0``:
BOReL on the uniform-start Semi-circle data, with reward relabelling, seed 0: a run's name writes its data's
initial-state variant even when it is the default); its folder follows from the name alone (:func:`result_dir`), so a reader finds it without the code:
``data/results/<profile>/<family>/<domain>/[<configuration>/]<name>.csv`` with the families ``borel`` (one
folder per run configuration, its seeds inside), ``baselines`` (PEARL, MBML), ``belief`` (VAE losses, belief
tables), ``collection`` (learning curves of the data-collecting agents), ``analysis`` (references, exact
values, identifiability, data diversity), ``online`` (online meta-RL learners), ``sweeps`` (merged grids) and
``probes`` (diagnostic experiments,
apart from the paper's results). Trajectory tables (``*_traj``, most of the bytes) are stored
gzip-compressed (``<name>.csv.gz``, written with a fixed header so the bytes are reproducible).
:func:`read_table_file`, the one reader of result tables, reads both forms and refuses a table that is cut
short, does not parse or breaks the schema of its kind (:mod:`borel_lib.tables`), in one line naming the file. ``scripts/migrate_results_tree.py`` moved the earlier flat folder into this tree and renamed
the runs named before their default initial-state variant was written.

**One metric for every method.** :func:`borel_runs` (BOReL) and :func:`baseline_runs` (PEARL, MBML) read each
run's per-evaluation rows with the same function (:func:`evaluation_summary`), so their columns mean the same:
the primary ``metric`` is the paper's metric averaged over the last 10 % of the run's evaluations, ``best`` the
best evaluation over training (secondary, for every method alike). :func:`summarise_runs` adds the interquartile
mean over seeds and its bootstrap interval (:mod:`borel_lib.stats`); :func:`paper_orderings` says which of the
paper's claimed orderings the seeds support.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from borel_lib.config import Config, ConfigError
from borel_lib.io import atomic_path, write_json
from borel_lib.paths import results_dir
from borel_lib.stats import bootstrap_ci, compare, iqm
from borel_lib.tables import TIDY_COLUMNS, check_evaluations, check_table

TABLE_HASH_FIELD = "table_sha256"
"""The field of a result config holding the SHA-256 of the (uncompressed) table it was written with
(:func:`write_results`); configs written before issue 35 have none and are read as before."""

DOMAIN_NAMES: tuple[str, ...] = ("ant_semicircle", "cheetah_vel", "escape_room", "reacher_image", "gym_ant",
                                 "gridworld", "semicircle", "wind")
"""Domain names as they appear in result names (longest first: ``ant_semicircle`` before ``semicircle``);
``gym_ant`` is Gymnasium's Ant-v5 of the SAC calibration probe."""
FAMILIES: dict[str, str] = {"borel": "borel", "pearl": "baselines", "mbml": "baselines", "vae": "belief",
                            "belief": "belief", "collect": "collection", "sweep": "sweeps", "probe": "probes",
                            "online": "online"}
"""First word of a result name → its family folder; any other name is in ``analysis``."""
COMPRESSED_SUFFIX = "_traj"
"""Tables whose name ends so are stored as ``<name>.csv.gz``."""


def result_dir(name: str) -> Path:
    """The folder of result ``name`` relative to the profile's results root, from the name alone:
    ``<family>/<domain>/`` (``analysis`` and ``sweeps`` tables without a domain: ``<family>/``); BOReL runs
    one level deeper, ``borel/<domain>/<configuration>/`` where the configuration is the name between the
    domain and ``_seed<S>`` (``default`` when empty)."""
    family = FAMILIES.get(name.split("_", 1)[0], "analysis")
    # the initial-state option exclude_semicircle names no domain (it is an Ant or a Semi-circle variant)
    match = re.search(rf"(?:^|_)({'|'.join(DOMAIN_NAMES)})(?=_|$)", name.replace("exclude_semicircle", "exclude"))
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
    root = Path(directory) if directory is not None else results_dir(profile, create=False)
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
    root = Path(directory) if directory is not None else results_dir(profile, create=False)
    globs = ("*.config.json",) if kind == "config" else ("*.csv", "*.csv.gz")
    found = [p for g in globs for p in root.rglob(g) if fnmatch.fnmatchcase(result_name(p), pattern)]
    return sorted(found, key=result_name)


def validate_tidy(df: pd.DataFrame, where: str = "results", name: str | None = None) -> pd.DataFrame:
    """Check ``df`` is a valid table of result ``name``'s kind (:func:`borel_lib.tables.check_table`: the tidy
    columns, finite values, the kind's integer key columns, no duplicated key, no truncated evaluation);
    return it with the tidy columns first. Errors are one line starting with ``where``."""
    check_table(df.reset_index(drop=True), name, where)
    extra = [c for c in df.columns if c not in TIDY_COLUMNS]
    return df[list(TIDY_COLUMNS) + extra].reset_index(drop=True)


def write_results(df: pd.DataFrame, name: str, *, config: Config | dict[str, Any] | None, profile: str,
                  command: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Write ``<name>.csv`` and ``<name>.config.json`` as one pair; return the CSV path.

    ``command`` is the one command that regenerates the table (recorded in the JSON). The config records the
    SHA-256 of the table it describes (:data:`TABLE_HASH_FIELD`, of the uncompressed CSV). Both are written to
    temporary files first, then the config is renamed into place and the table last: a process killed between
    the two renames leaves a new config beside the old table (or none), which :func:`read_table_file` refuses
    instead of reading a table under settings it was not made with.
    """
    if not name or "/" in name or name.endswith(".csv"):
        raise ValueError(f"result name must be a plain stem like 'gridworld_exact'; got {name!r}")
    df = validate_tidy(df, where=name, name=name)
    csv_path = result_path(name, profile, directory)
    data = df.to_csv(index=False, float_format="%.6g", lineterminator="\n").encode("utf-8")
    stamp = {"command": command, "results": csv_path.name, TABLE_HASH_FIELD: hashlib.sha256(data).hexdigest()}
    meta_path = result_path(name, profile, directory, kind="config")
    with atomic_path(csv_path) as tmp_table:  # renamed into place last, after the config
        if csv_path.suffix == ".gz":  # no file name and mtime 0 in the header: the same table, the same bytes
            with open(tmp_table, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(data)
        else:
            tmp_table.write_bytes(data)
        with atomic_path(meta_path) as tmp_meta:
            if isinstance(config, Config):
                config.save_json(tmp_meta, profile=profile, **stamp)
            else:
                write_json(tmp_meta, {"profile": profile, **stamp, "values": config or {}})
    return csv_path


def read_table_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The one reader of result tables (``<name>.csv`` or ``<name>.csv.gz``): the table as ``pd.read_csv``
    parses it, once it is known to be whole and valid. ``FileNotFoundError`` if it does not exist; else a
    one-line ``ValueError`` naming the file (``"<path>: row N: <what>"``) and, when the config beside it says,
    the command that regenerates it, if the file is empty, cut short (no line end at its end, or a truncated
    gzip stream), does not parse, fails the checks of its kind of table (:func:`borel_lib.tables.check_table`,
    the kind known from its name) or lacks evaluations its saved config says the run made
    (:func:`borel_lib.tables.check_evaluations`), or is not the table its config was written with (the config's
    :data:`TABLE_HASH_FIELD`, when it has one: e.g. a run killed between writing the config and the table)."""
    path = Path(path)
    name = result_name(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such result table")
    config_path = path.with_name(f"{name}.config.json")
    config: dict[str, Any] = {}
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{config_path}: not valid JSON ({err}); restore it from git") from None
    fix = f"; regenerate it: `{config['command']}`" if isinstance(config.get("command"), str) else ""
    try:
        data = path.read_bytes()
        if not data:
            raise ValueError(f"{path}: empty file (0 bytes)")
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (EOFError, OSError, zlib.error) as err:
                raise ValueError(f"{path}: not a whole gzip file ({err})") from None
        if not data.endswith(b"\n"):
            raise ValueError(f"{path}: truncated (its last line has no line end)")
        try:
            df = pd.read_csv(io.BytesIO(data))
        except (ValueError, UnicodeDecodeError) as err:  # pandas' ParserError and EmptyDataError are ValueErrors
            raise ValueError(f"{path}: does not parse as CSV ({' '.join(str(err).split())})") from None
        kind = check_table(df, name, str(path))
        check_evaluations(df, kind, config, str(path))  # first: it names what is missing, the hash only that it differs
        expected = config.get(TABLE_HASH_FIELD)
        if expected is not None and expected != hashlib.sha256(data).hexdigest():
            raise ValueError(f"{path}: not the table its config {config_path} was written with (the config records "
                             f"another {TABLE_HASH_FIELD}: a run stopped between writing the two, or one was edited "
                             "or restored without the other)")
    except ValueError as err:
        raise ValueError(f"{err}{fix}") from None
    return df


def read_results(name: str, profile: str, directory: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a table written by :func:`write_results` (:func:`read_table_file`: checked), with a clear error if
    it was never generated; the tidy columns first."""
    path = result_path(name, profile, directory)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run the notebook or command that generates results '{name}' "
            f"for profile '{profile}' first"
        )
    df = read_table_file(path)
    return df[list(TIDY_COLUMNS) + [c for c in df.columns if c not in TIDY_COLUMNS]]


def read_results_config(name: str, profile: str, directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The JSON saved beside a result table (config values, command, profile)."""
    return json.loads(result_path(name, profile, directory, kind="config").read_text(encoding="utf-8"))


LAST_FRACTION = 0.1
"""Share of a run's evaluations the primary metric averages (the last ones, at least one)."""


def evaluation_summary(df: pd.DataFrame, step: str, eval_episodes: int, last_fraction: float = LAST_FRACTION) -> dict[str, Any]:
    """The numbers every method is reported by, from a run's per-evaluation rows (metrics ``return`` and
    ``success`` per evaluation step ``step`` and episode, averaged over the evaluation tasks): ``metric``, the
    paper's metric (mean return over the first ``eval_episodes`` episodes) averaged over the last
    ``last_fraction`` of the evaluations (at least one; the primary metric); ``ep1``, ``ep2`` and ``success``
    (episodes up to ``eval_episodes``) over the same evaluations; ``best``, the paper's metric at the best
    evaluation over training, and ``final``, at the last one (secondary); ``updates`` (the last step),
    ``evals`` (evaluations in the run) and ``evals_averaged``. The same function for BOReL and the baselines,
    so their columns mean the same thing."""
    per_eval = df[df.metric.isin(("return", "success"))]
    ret = per_eval[per_eval.metric == "return"]
    evals = np.sort(ret[step].unique())
    if not len(evals):
        raise ValueError(f"no per-evaluation 'return' rows (metric 'return' per {step}) to average")
    late = per_eval[per_eval[step].isin(evals[-max(1, int(round(last_fraction * len(evals)))):])]
    late_ret = late[late.metric == "return"].groupby("episode").value.mean()
    by_eval = ret[ret.episode <= eval_episodes].groupby(step).value.mean()
    return {"updates": int(evals[-1]), "evals": len(evals), "evals_averaged": int(late[step].nunique()),
            "metric": float(late_ret.loc[1:eval_episodes].mean()), "best": float(by_eval.max()),
            "final": float(by_eval.loc[evals[-1]]), "ep1": float(late_ret.loc[1]), "ep2": float(late_ret.get(2, np.nan)),
            "success": float(late[(late.metric == "success") & (late.episode <= eval_episodes)].value.mean())}


RUN_COLUMNS: tuple[str, ...] = ("run", "domain", "method", "seed", "updates", "evals", "evals_averaged", "metric", "best",
                                "final", "ep1", "ep2", "success")
"""The columns :func:`borel_runs` and :func:`baseline_runs` share, with the same meaning (BOReL's search
metrics follow when its ``_final`` table exists)."""


def borel_runs(profile: str, directory: str | os.PathLike[str] | None = None,
               last_fraction: float = LAST_FRACTION, split: str = "test") -> pd.DataFrame:
    """One row per finished BOReL run (``borel_<tag>.csv``), columns :data:`RUN_COLUMNS` from
    :func:`evaluation_summary`: the primary ``metric`` is the paper's metric (mean return over the first
    ``eval_episodes`` episodes: Gridworld 4, Semi-circle 2) averaged over the last ``last_fraction`` of the
    run's evaluations (at least one), ``best`` the best evaluation over training, ``final`` the last; and,
    when the run's ``_final`` table exists, the search metrics of its last evaluation averaged over tasks.
    Only the runs evaluated on ``split`` (:mod:`borel_lib.tasks`: ``test``, what is reported, or ``validation``,
    what settings are chosen on; a run's name says which)."""
    from borel_lib.envs import make_env
    from borel_lib.tasks import check_split, name_split

    check_split(split)
    rows = []
    for path in find_results("borel_*_seed*", profile, directory):
        if result_name(path).endswith(("_final", "_traj")) or name_split(result_name(path)) != split:
            continue
        df = read_table_file(path)
        domain = df.domain.iloc[0]
        row = {"run": result_name(path).removeprefix("borel_"), "domain": domain, "method": df.method.iloc[0],
               "seed": int(df.seed.iloc[0])}
        try:
            row.update(evaluation_summary(df, "updates", make_env(domain).eval_episodes, last_fraction))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        final = result_path(f"{result_name(path)}_final", profile, directory)
        if final.is_file():
            f = read_table_file(final)
            row.update(f[f.episode == 0].groupby("metric").value.mean().to_dict())
        rows.append(row)
    return pd.DataFrame(rows)


BASELINES: tuple[str, ...] = ("pearl", "mbml")
"""The paper's Thompson-sampling baselines (``python -m borel_lib.baselines.pearl`` / ``borel_lib.baselines.mbml``)."""


def baseline_runs(profile: str, directory: str | os.PathLike[str] | None = None,
                  last_fraction: float = LAST_FRACTION, split: str = "test") -> pd.DataFrame:
    """One row per finished PEARL / MBML run (``pearl_<domain>_seed<S>.csv``, ``mbml_...``; PEARL's
    goal-given sanity run as method ``pearl_oracle_task``), the same columns with the same meaning as
    :func:`borel_runs` (:func:`evaluation_summary` of the per-evaluation ``return`` / ``success`` rows the
    baselines write at every evaluation, ``updates`` = the iteration): the primary ``metric`` averages the
    last ``last_fraction`` of the evaluations, as for BOReL, and ``best`` is the best evaluation over
    training (what the paper's figures plot for the baselines; the table's ``best_*`` rows hold the same
    evaluation). A table without per-evaluation rows is refused: its primary metric cannot be computed. Only the
    runs evaluated on ``split``, as :func:`borel_runs`."""
    from borel_lib.envs import make_env
    from borel_lib.tasks import check_split, name_split

    check_split(split)
    rows = []
    found = [p for b in BASELINES for p in find_results(f"{b}_*_seed*", profile, directory)]
    for path in sorted((p for p in found if not result_name(p).endswith("_traj") and name_split(result_name(p)) == split),
                       key=result_name):
        df = read_table_file(path)
        domain = df.domain.iloc[0]
        row = {"run": result_name(path), "domain": domain, "method": df.method.iloc[0], "seed": int(df.seed.iloc[0])}
        try:
            row.update(evaluation_summary(df, "iteration", make_env(domain).eval_episodes, last_fraction))
        except ValueError as err:
            raise ValueError(f"{path}: {err}; only rows {sorted(set(df.metric))}: re-run the baseline, which "
                             "writes one 'return' row per evaluation and episode") from None
        rows.append(row)
    return pd.DataFrame(rows)


def run_config(runs: pd.Series) -> pd.Series:
    """The run configuration of each run name: the name without its ``_seed<S>``."""
    return runs.str.replace(r"_seed\d+", "", regex=True)


def summarise_runs(runs: pd.DataFrame, by: tuple[str, ...] = ("domain", "method", "config")) -> pd.DataFrame:
    """Per group (``config`` = the run name without its seed, :func:`run_config`) of :func:`borel_runs` or
    :func:`baseline_runs`: mean and standard error over seeds of every numeric column (``<column>_se``), the
    number of ``seeds``, and for the primary ``metric`` its interquartile mean over seeds (``iqm``) with a
    percentile-bootstrap 95 % interval (``ci_low``, ``ci_high``; NaN with one seed), from
    :mod:`borel_lib.stats`."""
    runs = runs.assign(config=run_config(runs.run))
    numeric = [c for c in runs.columns if c not in (*by, "run", "seed") and pd.api.types.is_numeric_dtype(runs[c])]
    g = runs.groupby(list(by))
    out = g[numeric].mean()
    sem = g[numeric].sem(ddof=1).add_suffix("_se")
    out = out.join(sem)
    if "metric" in runs.columns:
        out = out.join(g["metric"].agg([("iqm", lambda v: iqm(v.to_numpy())),
                                        ("ci_low", lambda v: bootstrap_ci(v.to_numpy())[0]),
                                        ("ci_high", lambda v: bootstrap_ci(v.to_numpy())[1])]))
    return out.assign(seeds=g.size()).reset_index()


def _iqm_ci(row: pd.Series) -> str:
    """``IQM [low, high]`` of a :func:`summarise_runs` row (the IQM alone with one seed)."""
    if row["seeds"] < 2 or pd.isna(row["ci_low"]):
        return f"{row['iqm']:.2f}"
    return f"{row['iqm']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def results_table_markdown(profile: str, directory: str | os.PathLike[str] | None = None) -> str:
    """The README's results table (markdown) from the committed result tables, one line per run
    configuration of BOReL (:func:`borel_runs`) and of the baselines (:func:`baseline_runs`), all reported
    alike: the paper's metric averaged over the last 10 % of each run's evaluations as the primary number
    (interquartile mean over seeds with its bootstrap 95 % interval, then mean ± s.e.), the best evaluation
    over training as a secondary column (mean ± s.e. over seeds), episodes 1 and 2 and success over the same
    last 10 %; then the reference agents of ``references_semicircle_gridworld.csv``.
    ``scripts/results_table.py`` prints it and the figures notebook shows it, so the README and the notebook
    cannot disagree."""
    n_metric = {"gridworld": 4, "semicircle": 2}

    def pm(row: pd.Series, col: str) -> str:
        if col not in row or pd.isna(row[col]):
            return "—"
        se = row.get(f"{col}_se", np.nan)
        return f"{row[col]:.2f}" + (f" ± {se:.2f}" if row["seeds"] > 1 and not pd.isna(se) else "")

    def line(r: pd.Series, run: str, unit: str) -> str:
        updates = f"{int(r.updates):,}{unit} ({int(round(r.evals_averaged))} of {int(round(r.evals))})"
        return (f"| {r.domain} | {run} | {r.seeds} | {updates} | {_iqm_ci(r)} | {pm(r, 'metric')} | {pm(r, 'best')} | "
                f"{pm(r, 'ep1')} | {pm(r, 'ep2')} | {pm(r, 'success')} | {pm(r, 'found_ep1')} | {pm(r, 'search_then_go')} |")

    lines = ["| domain | run | seeds | updates (evaluations averaged) | paper's metric, last 10 %: IQM [95 % CI] "
             "| last 10 %: mean ± s.e. | best evaluation | episode 1 | episode 2 | success | found in ep. 1 "
             "| search then go |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    runs = borel_runs(profile, directory)
    if len(runs):
        lines += [line(r, r.config, "") for _, r in summarise_runs(runs).iterrows()]
    base = baseline_runs(profile, directory)
    if len(base):
        lines += [line(r, r.config, " iter.") for _, r in summarise_runs(base).iterrows()]
    ref = result_path("references_semicircle_gridworld", profile, directory)
    if ref.is_file():
        ref_df = read_table_file(ref)
        for (domain, method), g in ref_df.groupby(["domain", "method"]):
            v = g.sort_values("episode").value.to_numpy()[: n_metric[domain]]
            lines.append(f"| {domain} | {method} (reference) | — | — | {v.mean():.2f} | — | — | {v[0]:.2f} | {v[1]:.2f} "
                         "| — | — | — |")
    return "\n".join(lines)


ORDERING_COLUMNS: tuple[str, ...] = ("claim", "domain", "a", "b", "n_a", "n_b", "iqm_a", "iqm_b", "diff_ci_low",
                                     "diff_ci_high", "verdict")
"""The columns of :func:`paper_orderings`."""


RR_VARIANTS: dict[str, dict[str, Any]] = {
    "fixed-start data": {"init_state": "fixed"},
    "fixed-start data, last 20 trials": {"init_state": "fixed", "last_trials": 20},
    "paper-length collection": {"collection": (("iterations", 300), ("updates_per_iter", 500))},
    "n-step targets (n = 10)": {"rl": (("n_step", 10),)},
}
"""Semi-circle variants with their own RR against no-RR claim (issue 31; :class:`~borel_lib.pipeline.RunSpec`
keywords): data where the paper's premise (non-overlapping identifying states) may show more than in the protocol's
(:mod:`borel_lib.ambiguity_gap` counts the pairs failing Proposition 2) and a learner that reads the sparse reward
further ahead (n-step targets). Not Figure 3's panel, whose headline row keeps the protocol's data and learner
(:func:`borel_lib.headline` skips these claims)."""


def tuned_baselines(profile: str | None = None) -> dict[tuple[str, str], str]:
    """``{(baseline, domain): run configuration}`` of every baseline tuning grid (``tune_pearl_<domain>``,
    ``tune_mbml_<domain>``) with a chosen setting (:func:`borel_lib.sweep.tuned_config`): the figures and the orderings compare these."""
    from borel_lib.sweep import GRIDS, tuned_config

    out: dict[tuple[str, str], str] = {}
    # the domain's own grid (tune_pearl_semicircle) first, the tests' small grids (tune_pearl_smoke) after it
    for grid in sorted((g for g in GRIDS if g.startswith(("tune_pearl_", "tune_mbml_"))), key=lambda g: g.endswith("_smoke")):
        cell = GRIDS[grid]()[0]
        chosen = tuned_config(grid, profile)
        if chosen is not None:
            out.setdefault((cell["baseline"], cell["domain"]), chosen)
    return out


def ordering_claims(profile: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The orderings "a > b" the paper claims, as ``(claim, domain, a, candidates for b)`` with ``a`` and ``b``
    run configurations (:func:`run_config`, the names of the ``profile``'s runs; the first candidate for b
    with runs is used): BOReL with reward relabelling above BOReL without on Gridworld and Semi-circle
    (Figure 3); BOReL above PEARL and MBML on Semi-circle, Half-Cheetah-Vel and Ant-Semi-circle (Figure 3;
    Ant: BOReL on the uniform-start data, MBML on that data or else on the protocol's default data, as
    Figure 3's Ant panel draws them; a baseline with a finished tuning grid by its chosen setting,
    :func:`borel_lib.sweep.tuned_config`, once that has test runs); the same RR claim on the Semi-circle's variants (:data:`RR_VARIANTS`);
    policy replaying above none, and BOReL with it above PEARL and MBML, on
    Wind and Escape-Room (Figure 4); and Table 1: the uniform data above the data excluding the semi-circle
    and above the fixed start, for BOReL and for BOReL + CQL, and CQL at least as good as plain BOReL per
    data variant."""
    from borel_lib.baselines.mbml import run_tag
    from borel_lib.pipeline import RunSpec
    from borel_lib.sweep import cell_spec, grid_cells

    def config(tag: str) -> str:
        return re.sub(r"_seed\d+", "", tag)

    def borel(domain: str, relabelling: str = "reward_relabelling", **kw: Any) -> str:
        return config(RunSpec(domain, profile, relabelling=relabelling, **kw).tag)

    def mbml(domain: str, *init_states: str | None) -> tuple[str, ...]:
        return tuple(dict.fromkeys(config(run_tag(domain, 0, s, profile)) for s in init_states))

    claims = [("BOReL (RR) > BOReL without relabelling", d, borel(d), (borel(d, "none"),))
              for d in ("gridworld", "semicircle")]
    for name, kw in RR_VARIANTS.items():
        try:
            claims.append((f"BOReL (RR) > BOReL without relabelling, {name}", "semicircle", borel("semicircle", **kw),
                           (borel("semicircle", "none", **kw),)))
        except ConfigError:  # a profile whose collection is shorter than the slice (smoke): no such runs
            continue
    # a baseline tuned on the validation tasks (a finished tune_<baseline>_<domain> grid) is compared by its chosen
    # setting's test runs, else by its quick-default runs
    tuned = tuned_baselines(profile)
    for domain, a, mbml_data in (("semicircle", borel("semicircle"), (None,)),
                                 ("cheetah_vel", borel("cheetah_vel"), (None,)),
                                 ("ant_semicircle", borel("ant_semicircle", init_state="uniform"), ("uniform", None))):
        pearl = tuple(dict.fromkeys(c for c in (tuned.get(("pearl", domain)), f"pearl_{domain}") if c))
        mbml_runs = tuple(dict.fromkeys(c for c in (tuned.get(("mbml", domain)), *mbml(domain, *mbml_data)) if c))
        claims += [("BOReL (RR) > PEARL", domain, a, pearl),
                   ("BOReL (RR) > MBML", domain, a, mbml_runs)]
    for domain in ("wind", "escape_room"):
        replay = borel(domain, "policy_replay")
        claims += [("policy replaying > none", domain, replay, (borel(domain, "none"),)),
                   ("BOReL (policy replaying) > PEARL", domain, replay, (f"pearl_{domain}",)),
                   ("BOReL (policy replaying) > MBML", domain, replay, mbml(domain, None))]
    table1 = {(c["init_state"], float(c["rl"]["cql_alpha"])): config(cell_spec(c, profile).tag) for c in grid_cells("table1")}
    variants = {"uniform": "uniform", "exclude_semicircle": "excluding the semi-circle", "fixed": "fixed"}
    for cql, method in ((0.0, "BOReL"), (2.0, "BOReL + CQL")):
        claims += [(f"Table 1, {method}: uniform > {variants[v]} data", "ant_semicircle", table1[("uniform", cql)],
                    (table1[(v, cql)],)) for v in ("exclude_semicircle", "fixed")]
    claims += [(f"Table 1, {name} data: CQL ≥ plain", "ant_semicircle", table1[(v, 2.0)], (table1[(v, 0.0)],))
               for v, name in variants.items()]
    return claims


def paper_orderings(profile: str, directory: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """A verdict (:func:`borel_lib.stats.compare`) on every ordering of :func:`ordering_claims` that the
    result tables can test (both sides have runs), from the primary metric of every seed (:func:`borel_runs`,
    :func:`baseline_runs`: the last 10 % of the evaluations for every method): seeds, the interquartile mean
    of each side, the bootstrap 95 % interval of their difference and the verdict ("holds", "reversed",
    "not separated", "too few seeds"). Columns :data:`ORDERING_COLUMNS`."""
    runs = pd.concat([borel_runs(profile, directory), baseline_runs(profile, directory)], ignore_index=True)
    if not len(runs):
        return pd.DataFrame(columns=list(ORDERING_COLUMNS))
    runs = runs.assign(config=run_config(runs.run)).sort_values(["config", "seed"])
    seeds = {c: g.metric.to_numpy() for c, g in runs.groupby("config")}
    rows = []
    for claim, domain, a, candidates in ordering_claims(profile):
        b = next((c for c in candidates if c in seeds), None)
        if a in seeds and b is not None:
            rows.append({"claim": claim, "domain": domain, "a": a, "b": b, **compare(seeds[a], seeds[b])})
    return pd.DataFrame(rows, columns=list(ORDERING_COLUMNS))


def orderings_markdown(profile: str, directory: str | os.PathLike[str] | None = None) -> str:
    """:func:`paper_orderings` as a markdown table (for the README and the figures notebook;
    ``python scripts/results_table.py --orderings`` prints it)."""
    lines = ["| claim | domain | a | b | seeds a / b | IQM a | IQM b | IQM a − IQM b: 95 % CI | verdict |",
             "|---|---|---|---|---:|---:|---:|---:|---|"]
    for _, r in paper_orderings(profile, directory).iterrows():
        ci = "—" if pd.isna(r.diff_ci_low) else f"[{r.diff_ci_low:.2f}, {r.diff_ci_high:.2f}]"
        lines.append(f"| {r.claim} | {r.domain} | {r.a} | {r.b} | {r.n_a} / {r.n_b} | {r.iqm_a:.2f} | {r.iqm_b:.2f} "
                     f"| {ci} | {r.verdict} |")
    return "\n".join(lines)
