"""Notebook 09's figure, online meta-RL (BOReL paper §6, "our off-policy method improves meta-RL in the online
setting"): the learning curves of on-policy VariBAD (PPO) and off-policy VariBAD (DQN / SAC on a relabelled
replay), the same belief and the same environment-step budget, against environment steps and against CPU
time, drawn from the tables ``online_<method>_<domain>_seed<S>`` (:mod:`borel_lib.online`), and what each
learner's search looks like (its last policy's trials, from the ``_final`` and ``_traj`` tables)."""

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


__all__ = ["SEARCH_TASKS", "online_curves", "online_learning_curves", "online_search", "online_search_paths",
           "online_seeds", "online_summary", "online_tables"]


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


def online_search(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """The search metrics of each online run's last policy (:func:`borel_lib.evaluation.search_metrics`, from
    its ``_final`` table), averaged over the evaluation tasks: one row per domain, learner and seed with
    ``found_ep1`` (episode 1 reached the goal), ``direct_ep2`` (episode 2 went straight to it),
    ``search_then_go`` (both) and ``steps_ep2``."""
    seeds = default_seeds(profile) if seeds is None else list(seeds)
    found = [read_table_file(p) for m in ONLINE_METHODS for d in ONLINE_DOMAINS for s in seeds
             if (p := result_path(f"online_{m}_{d}_seed{s}_final", profile, directory)).is_file()]
    if not found:
        where = display_path(Path(directory) if directory is not None else results_dir(profile))
        raise MissingResultsError(f"not yet produced: no online run's _final table in {where}; "
                                  f"run `{table_commands(profile)['online']}`")
    final = pd.concat(found, ignore_index=True)
    search = final[final.episode == 0].groupby(["domain", "method", "seed", "metric"]).value.mean().unstack("metric")
    search = search.reset_index()
    search.insert(1, "learner", search.method.map(lambda m: ONLINE_METHODS.get(m, (m,))[0]))
    return search[["domain", "learner", "seed", "found_ep1", "direct_ep2", "search_then_go", "steps_ep2"]]


SEARCH_TASKS = {"gridworld": (4, 10, 20), "semicircle": (0, 5, 10)}
"""The evaluation tasks whose trials :func:`online_search_paths` draws (Gridworld: goals far, middle, near); a run
that evaluated fewer tasks (smoke) shows its first three."""


def online_search_paths(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """What each online learner's search looks like: its last policy's trials on three evaluation tasks (first
    seed), one row per domain and learner. Gridworld: all four episodes, coloured by episode; Semi-circle:
    episode 1 (blue), episode 2 (orange). Titled with the task's returns per episode."""
    from borel_lib.figures import draw
    from borel_lib.figures.common import plot_grid_episodes, plot_semicircle_episodes

    seed = (default_seeds(profile) if seeds is None else list(seeds))[0]
    rows = [(d, m, read_table_file(f), read_table_file(t)) for d in ONLINE_DOMAINS for m in ONLINE_METHODS
            if (f := result_path(f"online_{m}_{d}_seed{seed}_final", profile, directory)).is_file()
            and (t := result_path(f"online_{m}_{d}_seed{seed}_traj", profile, directory)).is_file()]
    if not rows:
        online_search(profile, directory, [seed])  # raises the one-line "not yet produced"
    fig, axes = plt.subplots(len(rows), 3, figsize=(10.5, 3.3 * len(rows)), squeeze=False)
    for ax_row, (domain, method, final, traj) in zip(axes, rows):
        have = sorted(set(final.task))
        shown = [t for t in SEARCH_TASKS[domain] if t in have] or have[:3]  # a smoke run evaluates fewer tasks
        for ax in ax_row[len(shown):]:
            ax.set_axis_off()
        for ax, task in zip(ax_row, shown):
            f = final[final.task == task]
            goal = f[["task_x", "task_y"]].iloc[0].to_numpy()
            ret = " / ".join(f"{v:.0f}" for v in f[f.metric == "return"].sort_values("episode").value)
            title = f"{ONLINE_METHODS[method][0]}\nreturns {ret}"
            if domain == "gridworld":
                plot_grid_episodes(ax, traj, task, goal, title)
                continue
            draw.draw_semicircle(ax, goal[None])
            plot_semicircle_episodes(ax, traj, task)
            ax.set(xlim=(-1.6, 1.6), ylim=(-0.6, 1.6), xticks=[], yticks=[])
            ax.set_title(title, fontsize="small")
        ax_row[-1].legend(fontsize="x-small", loc="lower right")
    fig.suptitle(f"The last policy's trials (seed {seed})", fontsize="medium")
    fig.tight_layout()
    return fig
