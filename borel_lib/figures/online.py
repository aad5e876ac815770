"""Notebook 09's figure, online meta-RL (BOReL paper §6, "our off-policy method improves meta-RL in the online
setting"): the learning curves of on-policy VariBAD (PPO) and off-policy VariBAD (DQN / SAC on a relabelled
replay), the same belief and the same environment-step budget, against environment steps and against CPU
time, drawn from the tables ``online_<method>_<domain>_seed<S>`` (:mod:`borel_lib.online`)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from borel_lib.figures.common import (
    N_METRIC,
    MissingResultsError,
    default_seeds,
    display_path,
    references,
    table_commands,
)
from borel_lib.figures.style import METHOD_COLORS
from borel_lib.paths import results_dir
from borel_lib.results import find_results, read_table_file, result_name, result_path

ONLINE_METHODS = {"varibad_ppo": ("on-policy VariBAD (PPO)", "#9467bd"),
                  "varibad_offpolicy": ("off-policy VariBAD (DQN / SAC)", "#1f77b4")}
"""The online learners: legend name and colour."""

ONLINE_DOMAINS = ("gridworld", "semicircle")


__all__ = ["online_seeds", "online_tables", "online_curves", "online_summary", "online_learning_curves"]


def online_seeds(profile: str, directory: str | Path | None = None) -> list[int]:
    """Every seed with an online run's table (either learner, either domain), sorted; ``[]`` when none."""
    names = (result_name(p) for p in find_results("online_*_seed*", profile, directory))
    return sorted({int(m.group(1)) for n in names if (m := re.fullmatch(r"online_.+_seed(\d+)", n))})


def online_tables(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Every online run's evaluations (both learners, both domains, ``seeds``) as one table; one-line
    :class:`MissingResultsError` naming the commands if there is none."""
    seeds = default_seeds(profile) if seeds is None else list(seeds)
    found = [read_table_file(p) for m in ONLINE_METHODS for d in ONLINE_DOMAINS for s in seeds
             if (p := result_path(f"online_{m}_{d}_seed{s}", profile, directory)).is_file()]
    if not found:
        where = display_path(Path(directory) if directory is not None else results_dir(profile))
        raise MissingResultsError(f"not yet produced: no online run in {where}; run `{table_commands(profile)['online']}`")
    return pd.concat(found, ignore_index=True)


def online_curves(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's metric (mean return over the first episodes: Gridworld 4, Semi-circle 2) per run and
    evaluation: columns ``domain, method, seed, env_steps, cpu_seconds, metric``."""
    r = table[(table.metric == "return") & (table.episode >= 1)]
    r = r[r.episode <= r.domain.map(N_METRIC)]
    return (r.groupby(["domain", "method", "seed", "env_steps"])
            .agg(cpu_seconds=("cpu_seconds", "first"), metric=("value", "mean")).reset_index())


def online_summary(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None,
                   last_fraction: float = 0.1) -> pd.DataFrame:
    """One row per online run: its budget (environment steps, training CPU seconds) and the paper's metric at
    its best evaluation and averaged over the last ``last_fraction`` of its evaluations (as the offline BOReL
    runs are summarised, :func:`borel_lib.results.borel_runs`)."""
    curves = online_curves(online_tables(profile, directory, seeds))
    rows = []
    for (domain, method, seed), g in curves.groupby(["domain", "method", "seed"]):
        g = g.sort_values("env_steps")
        late = g.tail(max(1, int(round(last_fraction * len(g)))))
        rows.append({"domain": domain, "learner": ONLINE_METHODS.get(method, (method,))[0], "seed": int(seed),
                     "env_steps": int(g.env_steps.max()), "cpu_seconds": float(g.cpu_seconds.max()),
                     "evaluations": len(g), "best": float(g.metric.max()), "last_10pc": float(late.metric.mean())})
    return pd.DataFrame(rows)


def online_learning_curves(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Learning curves of the two online learners per domain: the paper's metric against environment steps
    (left) and against training CPU time (right), one line per seed, with the reference agents' values
    (when the references table exists: Gridworld's exact Bayes-optimal and Thompson-sampling agents)."""
    curves = online_curves(online_tables(profile, directory, seeds))
    try:
        refs = references(profile, directory)
    except MissingResultsError:
        refs = {}
    domains = [d for d in ONLINE_DOMAINS if (curves.domain == d).any()]
    fig, axes = plt.subplots(len(domains), 2, figsize=(12, 3.6 * len(domains)), squeeze=False)
    for row, domain in zip(axes, domains):
        c = curves[curves.domain == domain]
        for ax, x, label in ((row[0], "env_steps", "environment steps"), (row[1], "cpu_seconds", "training CPU seconds")):
            for method, (name, colour) in ONLINE_METHODS.items():
                for i, (_, g) in enumerate(c[c.method == method].groupby("seed")):
                    ax.plot(g[x], g["metric"], color=colour, alpha=0.9, label=name if i == 0 else None)
            for m, v in refs.get(domain, {}).items():
                ax.axhline(v[: N_METRIC[domain]].mean(), ls="--", lw=1, color=METHOD_COLORS.get(m, "k"),
                           label=m.replace("_", " "))
            ax.set(xlabel=label, ylabel=f"average return, first {N_METRIC[domain]} episodes", title=domain)
        row[0].legend(fontsize="small")
    fig.tight_layout()
    return fig
