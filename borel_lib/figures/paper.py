"""Every paper figure we reproduce, drawn from the committed result tables only.

One function per figure, called both by the topic notebook that explains it and by
``notebooks/08_figures_and_tables.ipynb``, so each figure has one implementation. A figure function
reads CSV tables (``data/results/<profile>/``) and their ``.config.json``; it never loads a
checkpoint, a dataset or a trained model (the CORL habit: ``tests/test_figure_functions.py`` fails
if one does). The tables are written by the training side: notebooks with ``TRAIN=True``,
``python -m borel_lib.pipeline``, ``python -m borel_lib.collect``, ``scripts/belief_vs_exact.py``.

A missing table raises :class:`MissingResultsError`, whose message is one line naming the command
that makes it. :data:`FIGURES` lists every figure with its file name; :func:`make_figure` draws and
saves one (:func:`borel_lib.figures.style.savefig`: PNG and PDF with stable metadata, so regenerating a
figure from unchanged tables is byte-identical; ``scripts/check_figures.py`` checks that).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from borel_lib.config import resolve_profile
from borel_lib.figures import draw
from borel_lib.figures.style import METHOD_COLORS, savefig
from borel_lib.paths import repo_root, results_dir

N_METRIC = {"gridworld": 4, "semicircle": 2, "wind": 1, "escape_room": 2}
"""Episodes averaged by the paper's metric per domain (Gridworld 4, Semi-circle 2, Wind 1, Escape-Room 2)."""

BELIEF_MAP_GOAL_ANGLE = 2.2
"""Supplementary Figure 7 idea: the goal of the scripted search (angle on the arc, radians)."""
BELIEF_MAP_STEPS = (0, 12, 24, 36, 59, 61)
"""Trial steps whose belief is pictured (the trial has 2 episodes of 60 steps)."""
BELIEF_MAP_GRID = (np.linspace(-1.5, 1.5, 61), np.linspace(-0.5, 1.5, 41))
"""x and y of the plane points where the predicted reward is pictured."""


class MissingResultsError(FileNotFoundError):
    """A result table a figure needs was never generated; the message names the command that makes it."""


def _notebook_command(notebook: str, profile: str) -> str:
    return f"make train PROFILE={profile} NOTEBOOKS=notebooks/{notebook}.ipynb"


def table_commands(profile: str) -> dict[str, str]:
    """The command that (re)generates each result table a figure reads, for ``profile``."""
    nb01, nb03, nb04 = (_notebook_command(n, profile) for n in ("01_mdp_ambiguity", "03_collect_data", "04_belief_vae"))
    borel = f"make train PROFILE={profile} NOTEBOOKS=notebooks/05_offline_borel.ipynb"
    return {
        "gridworld_exact": nb01, "gridworld_exact_search": nb01,
        "collect_gridworld_uniform_seed0": f"python -m borel_lib.collect gridworld --profile {profile}",
        "collect_semicircle_uniform_seed0": f"python -m borel_lib.collect semicircle --profile {profile}",
        "collect_semicircle_uniform_seed0_traj": nb03, "coverage_semicircle": nb03, "identifiability_semicircle": nb03,
        "belief_semicircle_maps": nb04,
        "identifiability_transition_domains": _notebook_command("06_policy_replaying", profile),
        "belief_vs_exact": f"python scripts/belief_vs_exact.py --profile {profile}",
        "references_semicircle_gridworld": borel, "borel": borel,
        "table1": f"python -m borel_lib.sweep table1 --profile {profile}",
        "figure4": f"python -m borel_lib.pipeline {{wind,escape_room}} --profile {profile} "
                   "--relabelling {policy_replay,none} --seed {0,1,2}",
        "references_transition_domains": _notebook_command("06_policy_replaying", profile),
        "figure5": f"python -m borel_lib.sweep table1 --profile {profile}",
        "collect_ant": f"python -m borel_lib.collect ant_semicircle --profile {profile} --init-state "
                       "{uniform,exclude_semicircle,fixed}",
        "cheetah": f"python -m borel_lib.sweep fig3_cheetah --profile {profile}",
        "ant": f"python -m borel_lib.sweep fig3_ant --profile {profile}",
        "probe_ant_collectors_uniform_shared": "python scripts/probe_ant_collectors.py --init-state uniform",
        "ant_data_diversity": f"python scripts/ant_data_diversity.py --profile {profile}",
        "probe_online_exact_online_seed0": f"python scripts/probe_online_exact.py --data online --profile {profile}",
        "probe_online_exact_offline_online_seed0":
            f"python scripts/probe_online_exact.py --data offline+online --profile {profile}",
    }


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root()))
    except ValueError:
        return path.name


def _command_for(name: str, profile: str) -> str:
    key = "borel" if name.startswith("borel_") else name
    return table_commands(profile).get(key, f"make train PROFILE={profile}")


def read_table(name: str, profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """The result table ``<name>.csv`` of ``profile``, or :class:`MissingResultsError` naming the command
    (from :func:`table_commands`) that makes it."""
    path = Path(directory if directory is not None else results_dir(profile)) / f"{name}.csv"
    if not path.is_file():
        raise MissingResultsError(f"not yet produced: {_display(path)}; run `{_command_for(name, profile)}`")
    return pd.read_csv(path)


def read_config(name: str, profile: str, directory: str | Path | None = None) -> dict:
    """The ``values`` of ``<name>.config.json`` beside a result table."""
    path = Path(directory if directory is not None else results_dir(profile)) / f"{name}.config.json"
    if not path.is_file():
        raise MissingResultsError(f"not yet produced: {_display(path)}; run `{_command_for(name, profile)}`")
    return json.loads(path.read_text(encoding="utf-8"))["values"]


def method_label(method: str) -> str:
    """The legend name of a method (``borel_rr`` -> ``BOReL (RR)``)."""
    return {"borel_rr": "BOReL (RR)", "borel_no_rr": "BOReL (no RR)", "borel_exact": "exact belief",
            "pearl": "PEARL (best)", "mbml": "MBML (best)"}.get(
        method, method.replace("_", " "))


def default_seeds(profile: str) -> list[int]:
    """The seeds the BOReL figures average: ``[0]`` in smoke, ``[0, 1, 2]`` otherwise."""
    return [0] if resolve_profile(profile) == "smoke" else [0, 1, 2]


# ---------------------------------------------------------------------------------- notebook 01
def mdp_ambiguity(profile: str, directory: str | Path | None = None):
    """Figure 2 rebuilt (paper §4) on the exact tabular toy of :func:`borel_lib.identifiability.figure2_example`:
    which MDP's data visits each cell, for the RL agents' own data, policy replaying and reward
    relabelling. Nothing is learnt: the toy is its own table (computed exactly in milliseconds)."""
    from borel_lib import identifiability as idf

    toy = idf.figure2_example()
    replay = idf.policy_replay_visits(toy.mdps, toy.policies, toy.init_dist, toy.horizon)
    relabel = idf.reward_relabel_visits(toy.visits, fraction=0.5, mdps=toy.mdps)
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
    for ax, (name, visits) in zip(axes, [("data of the RL agents (ambiguous)", toy.visits),
                                         ("policy replaying", replay), ("reward relabelling", relabel)]):
        draw.draw_toy(ax, toy, visits, title=name)
    fig.suptitle("Figure 2 rebuilt: rewards at the blue / yellow circles; shading = visited by that MDP's data", y=1.04)
    return fig


def gridworld_exact(profile: str, directory: str | Path | None = None):
    """Figure 3's Gridworld references (paper §6, notebook 01): exact expected return per episode of
    the goal-known oracle, the Bayes-optimal agent and Thompson sampling, and two Bayes-optimal
    trials drawn from its search path (tables ``gridworld_exact``, ``gridworld_exact_search``)."""
    from borel_lib.references.exact_gridworld import GridSpec

    table = read_table("gridworld_exact", profile, directory)
    search = read_table("gridworld_exact_search", profile, directory)
    spec = GridSpec(**read_config("gridworld_exact", profile, directory))
    path = search.pivot_table(index="t", columns="metric", values="value")[["x", "y"]].to_numpy().astype(np.int64)
    episodes = np.arange(1, spec.episodes + 1)
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.4, 1, 1]})
    for agent in ("oracle", "bayes_optimal", "thompson_sampling"):
        t = table[table.method == agent]
        per_episode = t[t.metric == "return"].sort_values("episode").value.to_numpy()
        mean = float(t[t.metric == "mean_return"].value.iloc[0])
        ax.plot(episodes, per_episode, "-o", color=METHOD_COLORS[agent], label=f"{agent.replace('_', ' ')} (mean {mean:.2f})")
    ax.set_xlabel("episode")
    ax.set_ylabel("expected return")
    ax.set_xticks(episodes)
    ax.legend(loc="lower right")
    ax.set_title(f"Gridworld {spec.size}x{spec.size}, H={spec.horizon}: exact references")
    goals = spec.candidate_goals()
    for axis, goal in ((ax2, goals[-1]), (ax3, goals[len(goals) // 2])):
        trial = draw.bayes_optimal_trial(path, tuple(goal), spec.horizon)
        draw.draw_grid_trial(axis, spec.size, trial, tuple(goal), spec.horizon, candidates=goals,
                            title=f"Bayes-optimal trial, goal {tuple(int(v) for v in goal)}")
    ax3.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


# ---------------------------------------------------------------------------------- notebook 03
def collection_curve_names(profile: str) -> dict[str, str]:
    """Result-table names of the two main collections' learning curves, keyed by panel title."""
    from borel_lib.collect import CollectConfig, dataset_name

    return {title: "collect_" + dataset_name(CollectConfig.for_domain(domain, profile))
            for title, domain in (("Gridworld (DQN)", "gridworld"), ("Semi-circle (SAC)", "semicircle"))}


def collection_curves(profile: str, directory: str | Path | None = None):
    """Learning curves of the data-collecting agents (paper §3.1, §6; notebook 03): success rate and
    trial return over each log, the random warm-up shaded (tables ``collect_<dataset>``)."""
    curves = {title: read_table(name, profile, directory) for title, name in collection_curve_names(profile).items()}
    fig, axes = plt.subplots(1, 2, figsize=(14, 3.8))
    for ax, (name, c) in zip(axes, curves.items()):
        succ = c[c.metric == "success"].groupby("trial")["value"].mean()
        ret = c[c.metric == "return"].groupby(["trial", "task"])["value"].sum().groupby("trial").mean()
        ax.plot(succ.index, succ.values, label="success rate (goal reached in the trial)")
        ax2 = ax.twinx()
        ax2.plot(ret.index, ret.values, color="tab:orange", alpha=0.7, label="trial return")
        ax2.grid(False)
        ax.set(xlabel="trial of the training log", ylabel="success rate", title=name, ylim=(-0.05, 1.05))
        ax2.set_ylabel("mean trial return")
        warm = c[c.iteration == -1]["trial"].max()
        ax.axvspan(0, warm, color="0.9", label="random warm-up")
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right", fontsize="small")
    fig.tight_layout(w_pad=3)
    return fig


def collection_data(profile: str, directory: str | Path | None = None):
    """Figure 1 (left, paper §1): trajectories of a few Semi-circle collection logs early and late in
    training (table ``collect_semicircle_uniform_seed0_traj``, made by notebook 03)."""
    traj = read_table("collect_semicircle_uniform_seed0_traj", profile, directory)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (variant, label) in zip(axes, (("early", "early (first learning iteration)"), ("late", "late (last trial)"))):
        t = traj[traj.variant == variant]
        tasks = t.groupby("task")[["task_x", "task_y"]].first()
        draw.draw_semicircle(ax, tasks.to_numpy())
        colors = plt.get_cmap("tab10")(np.arange(len(tasks)) % 10)
        for c, (task, g) in zip(colors, t.groupby("task")):
            xy = g.pivot_table(index="t", columns="metric", values="value")[["x", "y"]].to_numpy()
            ax.plot(xy[:, 0], xy[:, 1], color=c, lw=1)
            ax.scatter(*tasks.loc[task].to_numpy(), color=c, marker="*", s=120, ec="k", zorder=3)
        ax.set(xlim=(-1.6, 1.6), ylim=(-0.6, 1.6), title=f"Semi-circle data, {label}")
    return fig


COVERAGE_BINS = (np.linspace(-1.6, 1.6, 65), np.linspace(-0.6, 1.6, 45))
"""x and y bin edges of the coverage histograms (supplementary Figure 11 idea)."""


def coverage(profile: str, directory: str | Path | None = None):
    """Supplementary Figure 11 idea: where the Semi-circle data of the three initial-state variants
    goes, as 2-D histograms of visited positions (table ``coverage_semicircle``, made by notebook 03)."""
    from matplotlib.colors import LogNorm

    cov = read_table("coverage_semicircle", profile, directory)
    variants = list(dict.fromkeys(cov.variant))
    fig, axes = plt.subplots(1, len(variants), figsize=(14, 3.8), squeeze=False)
    xb, yb = COVERAGE_BINS
    for ax, variant in zip(axes[0], variants):
        v = cov[cov.variant == variant]
        counts = np.zeros((len(xb) - 1, len(yb) - 1))
        bins = v[v.metric == "count"]
        counts[bins.ix.to_numpy(), bins.iy.to_numpy()] = bins.value.to_numpy()
        ax.pcolormesh(xb, yb, np.ma.masked_equal(counts, 0).T, cmap="Blues", norm=LogNorm())
        draw.draw_semicircle(ax, np.empty((0, 2)))
        n_tasks = int(v[v.metric == "n_tasks"].value.iloc[0])
        n_states = int(v[v.metric == "n_states"].value.iloc[0])
        ax.set(xlim=(xb[0], xb[-1]), ylim=(yb[0], yb[-1]), title=f"{variant}: {n_tasks} tasks, {n_states:,} states")
    return fig


# ---------------------------------------------------------------------------------- notebook 04
def belief_maps(profile: str, directory: str | Path | None = None):
    """Supplementary Figure 7 idea (paper §6): the VAE decoder's predicted reward over the plane from
    the belief mean along one scripted search, with and without reward relabelling (table
    ``belief_semicircle_maps``, made by notebook 04 from its trained VAEs)."""
    from borel_lib.references.scripted import semicircle_search_trial

    maps = read_table("belief_semicircle_maps", profile, directory)
    goal = np.array([np.cos(BELIEF_MAP_GOAL_ANGLE), np.sin(BELIEF_MAP_GOAL_ANGLE)])
    trial = semicircle_search_trial(goal)
    xs, ys = np.meshgrid(*BELIEF_MAP_GRID)
    modes = list(dict.fromkeys(maps.variant))
    steps = list(BELIEF_MAP_STEPS)
    fig, axes = plt.subplots(max(len(modes), 1), len(steps), figsize=(3.0 * len(steps), 5.2), sharex=True, sharey=True)
    axes = np.atleast_2d(axes)
    for row, mode in enumerate(modes):
        m_mode = maps[maps.variant == mode]
        for col, t in enumerate(steps):
            m = m_mode[m_mode.t == t].sort_values("point").value.to_numpy()
            ax = axes[row, col]
            ax.pcolormesh(xs, ys, m.reshape(xs.shape), cmap="viridis", vmin=0, vmax=1, shading="auto")
            path = trial["next_obs"][:t, :2] if t <= 60 else trial["next_obs"][60:t, :2]
            if len(path):
                ax.plot(path[:, 0], path[:, 1], color="w", lw=1)
            ax.scatter(*goal, marker="*", s=150, c="red", ec="w")
            draw.draw_semicircle(ax, np.empty((0, 2)))
            ax.set_title(f"{'RR' if mode != 'none' else 'no RR'}, t={t}" + (" (ep. 2)" if t >= 60 else ""), fontsize="small")
            ax.set(xlim=(-1.5, 1.5), ylim=(-0.5, 1.5), xticks=[], yticks=[])
    fig.suptitle("Predicted reward over the plane from the belief at time t (supp. Figure 7 idea)", y=1.01)
    return fig


BELIEF_HORIZON = {"gridworld": 15, "semicircle": 60}
"""Episode length per domain (the end of episode 1 in the belief-vs-exact plots)."""


def belief_vs_exact(profile: str, directory: str | Path | None = None):
    """The learnt belief against the exact posterior (beyond the paper; notebook 04): total variation
    per step on scripted searches and logged trials, VAEs with and without RR (table ``belief_vs_exact``)."""
    tv = read_table("belief_vs_exact", profile, directory)
    domains = sorted(tv.domain.unique())
    kinds = ["scripted_search", "logged_late", "logged_early"]
    fig, axes = plt.subplots(len(domains), len(kinds), figsize=(4.2 * len(kinds), 3.0 * len(domains)),
                             squeeze=False, sharey=True)
    for r, domain in enumerate(domains):
        for c, kind in enumerate(kinds):
            ax = axes[r, c]
            g = tv[(tv.domain == domain) & (tv.variant == kind)]
            for method, m in g.groupby("method"):
                curve = m.groupby("t").value.agg(["mean", "sem"])
                label = {"borel_rr": "VAE with RR", "borel_no_rr": "VAE without RR"}.get(method, method)
                ax.plot(curve.index, curve["mean"], label=label, color="tab:blue" if method == "borel_rr" else "tab:red")
                ax.fill_between(curve.index, curve["mean"] - curve["sem"].fillna(0),
                                curve["mean"] + curve["sem"].fillna(0), alpha=0.2,
                                color="tab:blue" if method == "borel_rr" else "tab:red")
            ax.axvline(BELIEF_HORIZON[domain], color="k", lw=0.5, ls=":")
            ax.set(title=f"{domain}: {kind.replace('_', ' ')}", xlabel="transitions seen t",
                   ylabel="TV(VAE, exact)" if c == 0 else None, ylim=(0, 1))
    axes[0, 0].legend(fontsize="small")
    return fig


# ---------------------------------------------------------------------------------- notebook 05
BOREL_BELIEFS = (("exact", "reward_relabelling"), ("vae", "reward_relabelling"), ("vae", "none"))
"""The three beliefs of notebook 05 per domain: exact posterior, VAE with RR, VAE without RR."""


def borel_specs(profile: str, seeds: list[int] | None = None) -> list:
    """The :class:`borel_lib.pipeline.RunSpec` of every Figure 3 run (both domains, three beliefs, seeds)."""
    from borel_lib.pipeline import RunSpec

    seeds = default_seeds(profile) if seeds is None else list(seeds)
    return [RunSpec(domain, profile, belief, mode, seed) for domain in ("gridworld", "semicircle")
            for belief, mode in BOREL_BELIEFS for seed in seeds]


def references(profile: str, directory: str | Path | None = None,
               name: str = "references_semicircle_gridworld") -> dict[str, dict[str, np.ndarray]]:
    """Per-episode returns of the reference agents per domain and method (table ``name``, by default
    Figure 3's ``references_semicircle_gridworld``, in the order written)."""
    ref = read_table(name, profile, directory)
    out: dict[str, dict[str, np.ndarray]] = {}
    for (domain, method), g in ref.groupby(["domain", "method"], sort=False):
        out.setdefault(domain, {})[method] = g.sort_values("episode").value.to_numpy()
    return out


def borel_summary(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Mean ± s.e. over seeds of every Figure 3 run's metrics (:func:`borel_lib.results.summarise_runs`)."""
    from borel_lib.results import borel_runs, summarise_runs

    tags = {spec.tag for spec in borel_specs(profile, seeds)}
    runs = borel_runs(profile, directory)
    runs = runs[runs.run.isin(tags)] if len(runs) else runs
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no BOReL run of Figure 3 in {_display(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)['borel']}`")
    return summarise_runs(runs)


def _reference_lines(ax, refs: dict[str, np.ndarray], domain: str) -> None:
    for m, v in refs.items():
        ax.axhline(np.mean(v[: N_METRIC[domain]]), ls="--", color=METHOD_COLORS.get(m, "k"), label=method_label(m))


def borel_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Gridworld and Semi-circle panels (paper §6): the paper's metric of BOReL with and
    without RR and of the exact belief, mean ± s.e. over seeds, beside PEARL and MBML (best evaluation over
    training, as the paper plots them, when their tables exist) and against the reference agents."""
    from borel_lib.results import baseline_runs, summarise_runs

    summary = borel_summary(profile, directory, seeds)
    base = baseline_runs(profile, directory)
    if len(base):  # the paper's Thompson-sampling baselines, best over training as the paper plots
        summary = pd.concat([summary, summarise_runs(base)], ignore_index=True)
    refs = references(profile, directory)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, domain in zip(axes, ("gridworld", "semicircle")):
        s = summary[summary.domain == domain].set_index("method").reindex(
            ["borel_exact", "borel_rr", "borel_no_rr", "pearl", "mbml"])
        s = s.dropna(subset=["metric"])
        ax.bar([method_label(m).replace(" (", "\n(") for m in s.index], s["metric"], yerr=s["metric_se"].fillna(0), capsize=4,
               color=[METHOD_COLORS.get(m, "grey") for m in s.index])
        _reference_lines(ax, refs.get(domain, {}), domain)
        ax.set(ylabel=f"average return, first {N_METRIC[domain]} episodes", title=domain)
        ax.legend(fontsize="small", loc="upper right")
    return fig


def borel_learning_curves(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3 as learning curves: the paper's metric at each evaluation, mean ± s.e. over seeds."""
    out_dir = Path(directory if directory is not None else results_dir(profile))
    curves = [pd.read_csv(p) for spec in borel_specs(profile, seeds) if (p := out_dir / f"borel_{spec.tag}.csv").is_file()]
    if not curves:
        read_table(f"borel_{borel_specs(profile, seeds)[0].tag}", profile, directory)  # raises the missing line
    curves = pd.concat(curves, ignore_index=True)
    refs = references(profile, directory)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, domain in zip(axes, ("gridworld", "semicircle")):
        r = curves[(curves.domain == domain) & (curves.metric == "return") & (curves.episode <= N_METRIC[domain])]
        c = r.groupby(["method", "seed", "updates"]).value.mean().groupby(["method", "updates"]).agg(["mean", "sem"])
        for method, g in c.groupby(level=0):
            x = g.index.get_level_values("updates")
            ax.plot(x, g["mean"], color=METHOD_COLORS.get(method), label=method_label(method))
            ax.fill_between(x, g["mean"] - g["sem"].fillna(0), g["mean"] + g["sem"].fillna(0),
                            color=METHOD_COLORS.get(method), alpha=0.2)
        _reference_lines(ax, refs.get(domain, {}), domain)
        ax.set(xlabel="offline RL updates", ylabel=f"average return, first {N_METRIC[domain]} episodes", title=domain)
        ax.legend(fontsize="small")
    return fig


def _seed_bar(ax, x: float, values: np.ndarray, **bar_kwargs) -> None:
    """One bar at ``x``: the mean of ``values`` (one per seed) ± its standard error, the seeds as dots."""
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    ax.bar(x, values.mean(), yerr=se, capsize=4, **bar_kwargs)
    ax.scatter(np.full(len(values), x), values, color="k", s=12, zorder=3)


def _episode_paths_plot(ax, traj: pd.DataFrame, task: int) -> None:
    """Episode 1 (blue) and episode 2 (orange) of ``task``'s trial in a trajectory table."""
    paths = episode_paths(traj, task)
    for e, color in ((1, "tab:blue"), (2, "tab:orange")):
        if e in paths:
            ax.plot(paths[e][:, 0], paths[e][:, 1], color=color, label=f"episode {e}")


PROBE_RUNS: dict[str, str] = {
    "probe_online_exact_online_seed0": "online (the learner's own trials)",
    "probe_online_exact_offline_online_seed0": "offline + online, half each",
    "borel_gridworld_exact_borrowall_raw0_seed0": "offline, task-independent behaviour",
}
"""The decisive experiment of issue 9 (``scripts/probe_online_exact.py``; exact belief, Gridworld, seed 0):
result tables and their legend names."""


def gridworld_online_vs_offline(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Beyond the paper, the decisive experiment on Gridworld with the exact belief: the quick offline
    learner (mean ± s.e. over seeds) against the same learner trained online on its own trials, on the
    offline data plus those trials, and on offline data whose behaviour does not depend on the task
    (seed 0 each), with the Bayes-optimal value and the issue's 90 % target."""
    from borel_lib.pipeline import RunSpec

    exact = read_table("gridworld_exact", profile, directory)
    bayes = float(exact[(exact.method == "bayes_optimal") & (exact.metric == "mean_return")].value.iloc[0])
    seeds = default_seeds(profile) if seeds is None else seeds
    offline = pd.concat([read_table(f"borel_{RunSpec('gridworld', profile, 'exact', seed=s).tag}", profile, directory)
                         for s in seeds], ignore_index=True)
    fig, ax = plt.subplots(figsize=(7.5, 4))

    def curve(df: pd.DataFrame) -> pd.DataFrame:
        r = df[df.metric == "return"]
        return r.groupby(["seed", "updates"]).value.mean().groupby("updates").agg(["mean", "sem"])

    c = curve(offline)
    ax.plot(c.index, c["mean"], color="k", label=f"offline, the quick default ({len(seeds)} seeds)")
    ax.fill_between(c.index, c["mean"] - c["sem"].fillna(0), c["mean"] + c["sem"].fillna(0), color="k", alpha=0.15)
    for (name, label), color in zip(PROBE_RUNS.items(), ("tab:green", "tab:orange", "tab:purple")):
        c = curve(read_table(name, profile, directory))
        ax.plot(c.index, c["mean"], color=color, label=label)
    ax.axhline(bayes, ls="--", color=METHOD_COLORS["bayes_optimal"], label=f"Bayes-optimal ({bayes:.2f})")
    ax.axhline(0.9 * bayes, ls=":", color="grey", label="90 % of Bayes-optimal")
    ax.set(xlabel="DQN updates", ylabel="average return, 4 episodes", ylim=(0, None),
           title="Gridworld, exact belief: the same learner offline and online")
    ax.legend(fontsize="small", loc="lower right")
    return fig


def baseline_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Beyond Figure 1: what the Thompson-sampling baselines do on the Semi-circle against BOReL. Episodes 1
    and 2 on four evaluation goals of BOReL (RR), PEARL and MBML, each from the first seed whose final
    trajectory table exists (``borel_<tag>_traj``, ``pearl_semicircle_seed<S>_traj``,
    ``mbml_semicircle_seed<S>_traj``); the paper: a Thompson-sampling agent walks to one sampled goal per
    episode and never searches."""
    from borel_lib.pipeline import RunSpec, eval_tasks

    out_dir = Path(directory if directory is not None else results_dir(profile))
    seeds = default_seeds(profile) if seeds is None else seeds
    rows = []
    for label, names in (("BOReL (RR)", [f"borel_{RunSpec('semicircle', profile, seed=s).tag}_traj" for s in seeds]),
                         ("PEARL", [f"pearl_semicircle_seed{s}_traj" for s in seeds]),
                         ("MBML", [f"mbml_semicircle_seed{s}_traj" for s in seeds])):
        found = next(((n, s) for n, s in zip(names, seeds) if (out_dir / f"{n}.csv").is_file()), None)
        if found is not None:
            t = pd.read_csv(out_dir / f"{found[0]}.csv")
            last = "updates" if "updates" in t.columns else "iteration"
            rows.append((label, found[1], t[t[last] == t[last].max()]))
    if not rows:
        raise MissingResultsError(f"not yet produced: no Semi-circle trajectory table in {_display(out_dir)}; "
                                  f"run `python -m borel_lib.baselines.pearl semicircle --profile {profile} --seed 0`")
    goals = eval_tasks("semicircle", 0)
    shown = np.linspace(0, len(goals) - 1, 4).round().astype(int)
    arc = np.linspace(0, np.pi, 100)
    fig, axes = plt.subplots(len(rows), len(shown), figsize=(12, 2.4 * len(rows) + 0.6), squeeze=False)
    for r, (label, seed, traj) in enumerate(rows):
        for c, task in enumerate(shown):
            ax = axes[r, c]
            ax.plot(np.cos(arc), np.sin(arc), color="0.85", lw=5, zorder=0)
            ax.add_patch(plt.Circle(goals[task], 0.2, color="tab:green", alpha=0.4))
            _episode_paths_plot(ax, traj, int(task))
            ax.set(aspect="equal", xlim=(-1.4, 1.4), ylim=(-0.4, 1.4), xticks=[], yticks=[])
            if c == 0:
                ax.set_ylabel(f"{label}\n(seed {seed})")
            if r == 0:
                ax.set_title(f"goal {task}")
    axes[0, 0].legend(loc="lower left", fontsize="x-small")
    fig.suptitle("Semi-circle: episodes 1 and 2 of the final agents on four evaluation goals")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ MuJoCo (notebook 07)
ANT_VARIANTS: dict[str, str] = {"uniform": "uniform", "exclude_semicircle": "excluding the semi-circle",
                                "fixed": "fixed"}
"""Table 1's initial-state variants of the Ant collection (option value: the paper's row name)."""

TABLE1_PAPER: dict[tuple[str, float], float] = {
    ("uniform", 0.0): 171.8, ("exclude_semicircle", 0.0): 102.8, ("fixed", 0.0): 99.2,
    ("uniform", 2.0): 176.0, ("exclude_semicircle", 2.0): 116.6, ("fixed", 2.0): 112.4}
"""The paper's Table 1 (Ant-Semi-circle, average return over the first 2 episodes): BOReL and BOReL + CQL
(α_CQL = 2) per initial-state variant of the data."""


def _grid_runs(grid: str, profile: str, directory, seeds: list[int] | None) -> tuple[pd.DataFrame, dict]:
    """The finished runs of a sweep grid's cells (``seeds`` only) and each run tag's cell."""
    from borel_lib.results import borel_runs
    from borel_lib.sweep import cell_spec, grid_cells

    cells = {cell_spec(c, profile).tag: c for c in grid_cells(grid) if seeds is None or c["seed"] in seeds}
    runs = borel_runs(profile, directory)
    return (runs[runs.run.isin(cells)] if len(runs) else runs), cells


def table1(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Table 1 (paper §6): BOReL and BOReL + CQL on Ant-Semi-circle per initial-state variant of the data,
    the paper's metric (first 2 episodes, last 10 % of evaluations) mean ± s.e. over seeds beside the
    paper's value; rows of cells not run yet say so. Reads the ``table1`` grid's result tables."""
    runs, cells = _grid_runs("table1", profile, directory, seeds)
    rows = []
    for variant, name in ANT_VARIANTS.items():
        for cql in (0.0, 2.0):
            tags = [t for t, c in cells.items() if c["init_state"] == variant and c["rl"]["cql_alpha"] == cql]
            v = runs[runs.run.isin(tags)].metric.to_numpy() if len(runs) else np.zeros(0)
            ours = "not yet run" if not len(v) else (
                f"{v.mean():.1f} ± {v.std(ddof=1) / np.sqrt(len(v)):.1f}" if len(v) > 1 else f"{v.mean():.1f}")
            rows.append({"data": name, "method": "BOReL + CQL" if cql else "BOReL", "seeds": len(v),
                         "ours": ours, "paper": TABLE1_PAPER[(variant, cql)]})
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no Table 1 run in {_display(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)['table1']}`")
    return pd.DataFrame(rows)


def ant_collector_probe(profile: str, directory: str | Path | None = None, variant: str = "uniform",
                        protocol: str = "shared") -> pd.DataFrame:
    """What the Ant data can teach (``scripts/probe_ant_collectors.py``): the paper's metric per episode and
    the steps spent in the goal disc, for the collection's own task-knowing agents (deterministic and
    sampled, per saved iteration), the logged trials of the last iterations, and standing still (a = 0).
    ``protocol``: ``shared`` (one task-conditioned agent, the quick protocol) or ``pertask`` (the first
    quick protocol, one agent per task)."""
    if protocol not in ("shared", "pertask"):
        raise ValueError(f"protocol={protocol!r}: allowed values are 'shared', 'pertask'")
    df = read_table(f"probe_ant_collectors_{variant}_{protocol}", profile, directory)
    df = df[df.metric.isin(["return", "in_goal_steps"])].assign(
        column=lambda d: d.metric.map({"return": "return", "in_goal_steps": "steps in goal"}) + ", ep " + d.episode.astype(str))
    out = df.pivot_table(index=["method", "iteration"], columns="column", values="value").round(1)
    out.columns.name = None
    return out


ANT_DIVERSITY_METRICS: dict[str, str] = {
    "starts_on_arc": "episodes starting on the semi-circle",
    "arc_points_per_episode": "arc points swept per episode (of 21)",
    "sweeps_3_points": "episodes sweeping >= 3 arc points",
    "on_arc_share": "states on the semi-circle",
}
"""The measures of ``scripts/ant_data_diversity.py`` (column name: what it counts)."""


def ant_data_diversity(profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """How much of the semi-circle each Table 1 dataset's policy trials cover (``scripts/ant_data_diversity.py``):
    one row per initial-state variant, one column per :data:`ANT_DIVERSITY_METRICS` measure."""
    df = read_table("ant_data_diversity", profile, directory)
    out = df.pivot_table(index="variant", columns="metric", values="value", sort=False)
    out = out[[m for m in ANT_DIVERSITY_METRICS if m in out.columns]].rename(columns=ANT_DIVERSITY_METRICS)
    out.index = [ANT_VARIANTS.get(v, v) for v in out.index]
    out.columns.name = None
    return out.round(3)


def _table1_uniform_spec(profile: str, seed: int, cql: bool = False):
    """The run of Table 1's uniform-data cell for ``seed`` (plain BOReL, or BOReL + CQL): the runs Figure 5,
    Figure 3's Ant panel and :func:`ant_motion` show."""
    from borel_lib.sweep import cell_spec, grid_cells

    cell = next((c for c in grid_cells("table1") if c["init_state"] == "uniform" and c["seed"] == seed
                 and bool(c["rl"]["cql_alpha"]) == cql), None)
    if cell is None:
        raise ValueError(f"seed={seed} is not a seed of the table1 grid; allowed values: "
                         f"{sorted({c['seed'] for c in grid_cells('table1')})}")
    return cell_spec(cell, profile)


ANT_MOTION_METRICS: dict[str, str] = {
    "farthest_ep1": "farthest from the start, ep 1",
    "farthest_ep2": "farthest from the start, ep 2",
    "reached_arc_ep1": "reached the semi-circle, ep 1",
    "ruled_out_ep1": "semi-circle ruled out by the end of ep 1",
}
"""The measures of :func:`ant_motion` (column name: what it measures). The semi-circle has radius 1 around the
fixed start, so an agent must move about 1 to reach any goal."""


def ant_motion(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Does anything move, or search, on Ant-Semi-circle? From the final trials each run writes (``_traj``
    tables: BOReL's last evaluation on the uniform data, with and without CQL; PEARL's and MBML's final
    agent, MBML on the uniform data and on the protocol's default data as separate rows), per method (mean over evaluation tasks, then mean ± s.e. over seeds): the torso's largest
    distance from the fixed start in episodes 1 and 2, the share of tasks whose episode 1 comes within the
    goal radius of the semi-circle, and the share of the semi-circle the exact posterior has ruled out by
    the end of episode 1 (the paper's search sweeps it; an agent that stands rules out nothing)."""
    from borel_lib.baselines.mbml import run_tag
    from borel_lib.envs import make_env
    from borel_lib.envs.point_robot import SEMICIRCLE_RADIUS as radius

    seeds = default_seeds(profile) if seeds is None else seeds
    out_dir = Path(directory if directory is not None else results_dir(profile))
    env = make_env("ant_semicircle")
    sources = {name: [out_dir / f"borel_{_table1_uniform_spec(profile, s, cql).tag}_traj.csv" for s in seeds]
               for name, cql in (("BOReL (RR)", False), ("BOReL + CQL (RR)", True))}
    sources["PEARL (final agent)"] = [out_dir / f"pearl_ant_semicircle_seed{s}_traj.csv" for s in seeds]
    for init_state, name in (("uniform", "MBML (final agent)"),
                             (None, "MBML (final agent; excluding-the-semi-circle data)")):
        sources[name] = [out_dir / f"{run_tag('ant_semicircle', s, init_state, profile)}_traj.csv" for s in seeds]
    rows = []
    for method, paths in sources.items():
        per_seed = []
        for path in (p for p in paths if p.is_file()):
            traj = pd.read_csv(path)
            if "updates" in traj:  # a BOReL table is of its last evaluation; keep only that, whatever it holds
                traj = traj[traj.updates == traj.updates.max()]
            wide = traj.pivot_table(index=["task", "t"], columns="metric", values="value").sort_index()
            n, T = wide.index.get_level_values("task").nunique(), env.horizon
            xy = wide[["x", "y"]].to_numpy().reshape(n, -1, T, 2)  # (task, episode, step, xy)
            dist = np.linalg.norm(xy, axis=-1)
            to_arc = np.where(xy[..., 1] >= 0, np.abs(dist - radius),  # below the x-axis: the nearer end of the arc
                              np.linalg.norm(xy - np.array([radius, 0.0]) * np.sign(xy[..., :1] + 1e-12), axis=-1))
            support = wide["support"].to_numpy().reshape(n, -1, T)
            per_seed.append({"farthest_ep1": dist[:, 0].max(-1).mean(), "farthest_ep2": dist[:, 1].max(-1).mean(),
                             "reached_arc_ep1": (to_arc[:, 0] <= env.goal_radius).any(-1).mean(),
                             "ruled_out_ep1": (1.0 - support[:, 0, -1]).mean()})
        if per_seed:
            v = pd.DataFrame(per_seed)
            se = v.std(ddof=1) / np.sqrt(len(v))
            rows.append({"method": method, "seeds": len(v),
                         **{ANT_MOTION_METRICS[m]: f"{v[m].mean():.2f}" + (f" ± {se[m]:.2f}" if len(v) > 1 else "")
                            for m in ANT_MOTION_METRICS}})
    if not rows:
        raise MissingResultsError(f"not yet produced: no Ant-Semi-circle trajectory table in {_display(out_dir)}; "
                                  f"run `{table_commands(profile)['table1']}`")
    return pd.DataFrame(rows).set_index("method")


def ant_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 5 (paper §6): the Ant's torso path in episodes 1 and 2 for four evaluation goals, from the
    first seed's BOReL run on the uniform data (no CQL; its ``_traj`` table, last evaluation)."""
    from borel_lib.envs import make_env
    from borel_lib.envs.point_robot import SEMICIRCLE_RADIUS as radius
    from borel_lib.pipeline import eval_tasks

    seeds = default_seeds(profile) if seeds is None else seeds
    spec = _table1_uniform_spec(profile, seeds[0])
    path = Path(directory if directory is not None else results_dir(profile)) / f"borel_{spec.tag}_traj.csv"
    if not path.is_file():
        raise MissingResultsError(f"not yet produced: {_display(path)}; run `{table_commands(profile)['figure5']}`")
    traj = pd.read_csv(path)
    traj = traj[traj.updates == traj.updates.max()]
    goals = eval_tasks("ant_semicircle", spec.seed)
    shown = np.linspace(0, len(goals) - 1, 4).round().astype(int)
    fig, axes = plt.subplots(1, len(shown), figsize=(14, 3.8), sharex=True, sharey=True)
    arc = np.linspace(0, np.pi, 100)
    for ax, task in zip(axes, shown):
        ax.plot(radius * np.cos(arc), radius * np.sin(arc), color="0.8", lw=6, zorder=0)
        _episode_paths_plot(ax, traj, int(task))
        ax.add_patch(plt.Circle(goals[task], make_env("ant_semicircle").goal_radius, color="tab:green", alpha=0.5))
        ax.set(aspect="equal", title=f"goal {task}", xlim=(-1.5, 1.5), ylim=(-0.5, 1.5))
    axes[0].legend(loc="lower left", fontsize="small")
    fig.suptitle(f"Ant-Semi-circle, BOReL on the uniform data (seed {spec.seed}, last evaluation)")
    return fig


MUJOCO_FIG3 = {"cheetah_vel": ("Half-Cheetah-Vel", None, "cheetah"), "ant_semicircle": ("Ant-Semi-circle", "uniform", "ant")}
"""Figure 3's MuJoCo panels: domain -> (title, initial-state variant of the data BOReL learns from, ``None`` =
the collection protocol's, key of the command in :func:`table_commands`). The paper's Figure 3 uses
uniform-start data where a domain has variants; on Ant that is Table 1's uniform dataset, whose plain BOReL
cells are the panel's BOReL (RR) bars. Half-Cheetah-Vel's collection has one variant (its fixed start)."""


def _mujoco_bars(domain: str, profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """One MuJoCo panel of Figure 3 (paper §6): the paper's metric (first 2 episodes) of BOReL with reward
    relabelling and, once run, without, mean ± s.e. over seeds (dots: single seeds), beside PEARL and MBML
    (best evaluation over training, as the paper plots them) when their tables exist (MBML: :func:`_mbml_on`)."""
    from borel_lib.pipeline import RunSpec
    from borel_lib.results import baseline_runs, borel_runs

    title, init_state, command = MUJOCO_FIG3[domain]
    seeds = default_seeds(profile) if seeds is None else seeds
    specs = [RunSpec(domain, profile, relabelling=r, seed=s, init_state=init_state)
             for r in ("reward_relabelling", "none") for s in seeds]
    runs = borel_runs(profile, directory)
    runs = runs[runs.run.isin({sp.tag for sp in specs})] if len(runs) else runs
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no {title} run in {_display(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)[command]}`")
    base = baseline_runs(profile, directory)  # PEARL / MBML at their best evaluation, as the paper plots them
    base = base[(base.domain == domain) & base.seed.isin(seeds)] if len(base) else runs.iloc[:0]
    mbml, labels = _mbml_on(base, domain, profile, seeds, specs[0].init_state)
    values = {m: t[t.method == m].metric.to_numpy()
              for m, t in (("borel_rr", runs), ("borel_no_rr", runs), ("pearl", base), ("mbml", mbml))}
    methods = [m for m, v in values.items() if m == "borel_rr" or len(v)]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for x, method in enumerate(methods):
        if len(values[method]):
            _seed_bar(ax, x, values[method], color=METHOD_COLORS[method], label=f"{len(values[method])} seed(s)")
    ax.set_xticks(range(len(methods)), [labels.get(m, method_label(m)).replace(" (", "\n(") for m in methods])
    ax.set(ylabel="average return, first 2 episodes", title=title)
    return fig


def _mbml_on(base: pd.DataFrame, domain: str, profile: str, seeds: list[int], init_state: str):
    """MBML's runs for a panel whose BOReL bars learn from the ``init_state`` data: the runs on that data if
    any, else those on the collection protocol's default data, labelled with it (``{method: label}``)."""
    from borel_lib.baselines.mbml import run_tag
    from borel_lib.pipeline import resolve_init_state

    runs = base[base.method == "mbml"] if len(base) else base
    own = runs[runs.run.isin({run_tag(domain, s, init_state, profile) for s in seeds})] if len(runs) else runs
    if len(own) or not len(runs):
        return own, {}
    default = runs[runs.run.isin({run_tag(domain, s, None, profile) for s in seeds})]
    variant = resolve_init_state(domain, profile, None)
    return default, {"mbml": f"MBML (best;\n{ANT_VARIANTS.get(variant, variant)} data)"}


def cheetah_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Half-Cheetah-Vel panel (:func:`_mujoco_bars`)."""
    return _mujoco_bars("cheetah_vel", profile, directory, seeds)


def ant_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Ant-Semi-circle panel (:func:`_mujoco_bars`): BOReL on the uniform-start data (Table 1's
    uniform BOReL cells), without reward relabelling when run (``sweep fig3_ant``), PEARL and MBML."""
    return _mujoco_bars("ant_semicircle", profile, directory, seeds)


def mujoco_collection_curves(profile: str, directory: str | Path | None = None):
    """The MuJoCo collections' learning curves: Ant success per iteration for each initial-state variant
    (mean over the agents; the dataset keeps the sparse reward) and Half-Cheetah-Vel's episode return."""
    from borel_lib.collect import CollectConfig, dataset_name

    names = {v: f"collect_{dataset_name(CollectConfig.for_domain('ant_semicircle', profile, init_state=v))}"
             for v in ANT_VARIANTS}
    names["cheetah_vel"] = f"collect_{dataset_name(CollectConfig.for_domain('cheetah_vel', profile))}"
    tables = {}
    for key, name in names.items():
        try:
            tables[key] = read_table(name, profile, directory)
        except MissingResultsError:
            continue
    if not tables:
        raise MissingResultsError(f"not yet produced: {_display(Path(directory or results_dir(profile)) / (names['uniform'] + '.csv'))}; "
                                  f"run `{table_commands(profile)['collect_ant']}`")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.6))
    for key, t in tables.items():
        target, metric = (ax2, "return") if key == "cheetah_vel" else (ax, "success")
        c = t[t.metric == metric].groupby("iteration").value.mean()
        target.plot(c.index, c.values, label=ANT_VARIANTS.get(key, "Half-Cheetah-Vel"))
    ax.set(xlabel="collection iteration (-1: random warm-up)", ylabel="success rate (sparse goal)",
           title="Ant-Semi-circle collection", ylim=(-0.05, 1.05))
    ax2.set(xlabel="collection iteration (-1: random warm-up)", ylabel="episode return", title="Half-Cheetah-Vel collection")
    for a in (ax, ax2):
        if a.lines:
            a.legend(fontsize="small")
    return fig


def run_table(spec, kind: str, directory: str | Path | None = None) -> pd.DataFrame | None:
    """A BOReL run's ``_final`` (per-task returns, search metrics) or ``_traj`` (trajectories) table, or None."""
    path = Path(directory if directory is not None else results_dir(spec.profile)) / f"borel_{spec.tag}_{kind}.csv"
    return pd.read_csv(path) if path.is_file() else None


def episode_paths(traj: pd.DataFrame, task: int) -> dict[int, np.ndarray]:
    """Positions (x, y) per episode of one evaluation task in a ``_traj`` table."""
    t = traj[traj.task == task].pivot_table(index=["episode", "t"], columns="metric", values="value")
    return {e: g[["x", "y"]].to_numpy() for e, g in t.groupby(level=0)}


def _first_seed_runs(profile: str, domain: str, directory, seeds):
    specs = [s for s in borel_specs(profile, seeds) if s.domain == domain]
    specs = [s for s in specs if s.seed == specs[0].seed]
    avail = [(s, t) for s in specs if (t := run_table(s, "traj", directory)) is not None]
    if not avail:
        read_table(f"borel_{specs[0].tag}_traj", profile, directory)  # raises the missing line
    return avail


def borel_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 1 (right): Semi-circle trajectories of each belief's agent at its last evaluation (first
    seed), episode 1 in blue, episode 2 in orange, titled with the two episode returns."""
    from borel_lib.pipeline import eval_tasks

    tasks = eval_tasks("semicircle", 0)
    shown = [0, 5, 10, 15]
    avail = _first_seed_runs(profile, "semicircle", directory, seeds)
    fig, axes = plt.subplots(len(avail), len(shown), figsize=(3.6 * len(shown), 3.0 * len(avail)), squeeze=False)
    for row, (spec, tr) in enumerate(avail):
        fin = run_table(spec, "final", directory)
        for col, task in enumerate(shown):
            ax = axes[row, col]
            draw.draw_semicircle(ax, tasks[task : task + 1])
            for e, xy in episode_paths(tr, task).items():
                if e <= 2:
                    ax.plot(np.r_[0, xy[:, 0]], np.r_[0, xy[:, 1]], color=("tab:blue", "tab:orange")[e - 1],
                            label=f"episode {e}")
            ret = fin[(fin.task == task) & (fin.metric == "return")].sort_values("episode").value.to_numpy()
            ax.set(xlim=(-1.6, 1.6), ylim=(-0.6, 1.6), xticks=[], yticks=[],
                   title=f"{method_label(spec.method)}: {ret[0]:.0f} / {ret[1]:.0f}")
    axes[0, 0].legend(loc="lower left", fontsize="small")
    return fig


def borel_gridworld_paths(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """The Gridworld search: each belief's agent's paths in all four episodes for three goals."""
    from borel_lib.pipeline import eval_tasks

    goals_shown = [4, 10, 20]  # indices into the 21 goals as listed by candidate_goals()
    goals = eval_tasks("gridworld", 0)
    avail = _first_seed_runs(profile, "gridworld", directory, seeds)
    fig, axes = plt.subplots(len(avail), len(goals_shown), figsize=(3.2 * len(goals_shown), 3.2 * len(avail)),
                             squeeze=False)
    for row, (spec, tr) in enumerate(avail):
        for col, task in enumerate(goals_shown):
            ax = axes[row, col]
            for e, xy in episode_paths(tr, task).items():
                xy = np.r_[np.zeros((1, 2)), xy] + (e - 2.5) * 0.06  # offset the episodes so overlapping paths stay visible
                ax.plot(xy[:, 0], xy[:, 1], "-o", ms=2, color=plt.cm.viridis((e - 1) / 3), label=f"episode {e}")
            ax.scatter(*goals[task], marker="*", s=250, c="red", zorder=5)
            ax.set(xlim=(-0.5, 4.5), ylim=(-0.5, 4.5), xticks=range(5), yticks=range(5), aspect="equal")
            ax.set_title(f"{method_label(spec.method)}, goal ({int(goals[task][0])}, {int(goals[task][1])})", fontsize="small")
            ax.grid(True, lw=0.3)
    axes[0, -1].legend(fontsize="x-small", loc="lower right")
    return fig


# ---------------------------------------------------------------------------------- notebook 06
TRANSITION_DOMAINS = {"wind": "Wind", "escape_room": "Escape-Room"}
"""Figure 4's domains (tasks differ in transitions) and their titles."""
REPLAY_MODES = {"policy_replay": "BOReL (policy replaying)", "none": "BOReL (no policy replaying)"}
"""Figure 4's two BOReL settings (``--relabelling``) and their labels."""


def transition_specs(profile: str, seeds: list[int] | None = None) -> list:
    """The :class:`borel_lib.pipeline.RunSpec` of every Figure 4 run (both domains, both settings, seeds)."""
    from borel_lib.pipeline import RunSpec

    seeds = default_seeds(profile) if seeds is None else list(seeds)
    return [RunSpec(domain, profile, "vae", mode, seed) for domain in TRANSITION_DOMAINS for mode in REPLAY_MODES
            for seed in seeds]


REFERENCE_STYLE = {"oracle": ("0.5", "oracle (knows the task)"), "wall_search": ("k", "scripted wall search"),
                   "learn_wind": ("k", "scripted: wind from the first step")}
"""Colour and label of Figure 4's scripted references (:mod:`borel_lib.references.transition`)."""


def transition_references(profile: str, directory: str | Path | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-episode returns of Figure 4's scripted references per domain and method (table
    ``references_transition_domains``; empty if it was not written yet)."""
    try:
        return references(profile, directory, "references_transition_domains")
    except MissingResultsError:
        return {}


def collection_reference(profile: str, domain: str, directory: str | Path | None = None) -> float:
    """The collecting agents' own level (each knows its task): the paper's metric over the last 5 trials
    of every agent's log (``collect_<domain>_uniform_seed0``; uniform starts, not the origin, so only a
    rough reference)."""
    c = read_table(f"collect_{domain}_uniform_seed0", profile, directory)
    c = c[(c.metric == "return") & (c.trial >= c.trial.max() - 4) & (c.episode <= N_METRIC[domain])]
    return float(c.value.mean())


def policy_replay_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 4 (paper §6): the paper's metric of BOReL with and without policy replaying on Wind (episode 1)
    and Escape-Room (first 2 episodes), mean ± s.e. over seeds (dots: single seeds), beside PEARL and MBML
    (best evaluation over training, as the paper plots them, when their tables exist), against the
    collecting agents' own level."""
    from borel_lib.results import baseline_runs, borel_runs

    tags = {spec.tag: spec for spec in transition_specs(profile, seeds)}
    runs = borel_runs(profile, directory)
    runs = runs[runs.run.isin(tags)] if len(runs) else runs
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no BOReL run of Figure 4 in "
                                  f"{_display(Path(directory or results_dir(profile)))}; run `{table_commands(profile)['figure4']}`")
    runs = runs.assign(mode=[tags[r].relabelling for r in runs.run])
    base = baseline_runs(profile, directory)
    fig, axes = plt.subplots(1, len(TRANSITION_DOMAINS), figsize=(12, 4))
    for ax, (domain, title) in zip(axes, TRANSITION_DOMAINS.items()):
        bars = [(label, runs[(runs.domain == domain) & (runs["mode"] == mode)].metric.to_numpy(), color)
                for (mode, label), color in zip(REPLAY_MODES.items(), ("tab:blue", "tab:red"))]
        bars += [(method_label(m), base[(base.domain == domain) & (base.method == m)].metric.to_numpy()
                  if len(base) else np.zeros(0), METHOD_COLORS.get(m, "grey")) for m in ("pearl", "mbml")]
        bars = bars[:2] + [b for b in bars[2:] if len(b[1])]  # baselines only where they ran
        for x, (label, v, color) in enumerate(bars):
            if len(v):
                _seed_bar(ax, x, v, color=color, alpha=0.8, label=f"{label}, {len(v)} seed(s)")
        try:
            ax.axhline(collection_reference(profile, domain, directory), ls=":", color="0.4",
                       label="collecting agents (know their task; uniform starts)")
        except MissingResultsError:
            pass
        for method, v in transition_references(profile, directory).get(domain, {}).items():
            ax.axhline(np.mean(v[: N_METRIC[domain]]), ls="--", color=REFERENCE_STYLE[method][0],
                       label=REFERENCE_STYLE[method][1])
        ax.set_xticks(range(len(bars)), [b[0].replace(" (", "\n(") if x >= 2 else ("policy\nreplaying", "no policy\nreplaying")[x]
                                         for x, b in enumerate(bars)])
        ax.set(ylabel=f"average return, first {N_METRIC[domain]} episode(s)", title=title)
        ax.legend(fontsize="x-small", loc="center")
    return fig


def escape_room_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None,
                             shown: tuple[int, ...] = (0, 5, 10, 15)):
    """Escape-Room at the last evaluation (first seed, paper Appendix F behaviour): episode 1 (blue)
    should search along the wall, episode 2 (orange) walk straight out of the opening found; titled
    with the two episode returns."""
    from borel_lib.pipeline import eval_tasks

    specs = [s for s in transition_specs(profile, seeds) if s.domain == "escape_room"]
    specs = [s for s in specs if s.seed == specs[0].seed]
    avail = [(s, t) for s in specs if (t := run_table(s, "traj", directory)) is not None]
    if not avail:
        read_table(f"borel_{specs[0].tag}_traj", profile, directory)  # raises the missing line
    tasks = eval_tasks("escape_room", specs[0].seed)
    fig, axes = plt.subplots(len(avail), len(shown), figsize=(3.3 * len(shown), 3.3 * len(avail)), squeeze=False)
    for row, (spec, tr) in enumerate(avail):
        fin = run_table(spec, "final", directory)
        for col, task in enumerate(shown):
            ax = axes[row, col]
            draw.draw_escape_room(ax, tasks[task])
            for e, xy in episode_paths(tr, task).items():
                ax.plot(np.r_[0, xy[:, 0]], np.r_[0, xy[:, 1]], color=("tab:blue", "tab:orange")[e - 1], lw=1.2,
                        label=f"episode {e}")
            ret = fin[(fin.task == task) & (fin.metric == "return")].sort_values("episode").value.to_numpy()
            ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), xticks=[], yticks=[])
            ax.set_title(f"{REPLAY_MODES[spec.relabelling]}: " + " / ".join(f"{r:.0f}" for r in ret[:2]),
                         fontsize="small")
    axes[0, 0].legend(loc="lower left", fontsize="x-small")
    return fig


# ---------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class FigureSpec:
    """One reproduced figure: its file stem, its drawing function and what it reproduces."""

    name: str
    """File stem under ``figures/`` (``.png`` and ``.pdf``)."""
    draw: Callable[..., object]
    """``draw(profile, directory=None) -> matplotlib Figure``, reading tables only."""
    paper: str
    """Which paper figure (or idea) it reproduces."""


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("fig2_mdp_ambiguity", mdp_ambiguity, "Figure 2"),
    FigureSpec("fig3_gridworld_exact", gridworld_exact, "Figure 3, Gridworld references"),
    FigureSpec("fig_collection_learning_curves", collection_curves, "§3.1 data collection"),
    FigureSpec("fig1_data", collection_data, "Figure 1 (left)"),
    FigureSpec("fig11_coverage", coverage, "supplementary Figure 11 idea"),
    FigureSpec("fig7_belief_semicircle", belief_maps, "supplementary Figure 7 idea"),
    FigureSpec("fig_belief_vs_exact", belief_vs_exact, "beyond the paper: belief vs exact posterior"),
    FigureSpec("fig3_borel_gridworld_semicircle", borel_bars, "Figure 3, Gridworld and Semi-circle"),
    FigureSpec("fig3_borel_learning_curves", borel_learning_curves, "Figure 3 as learning curves"),
    FigureSpec("fig1_borel_trajectories", borel_trajectories, "Figure 1 (right)"),
    FigureSpec("fig_borel_gridworld_paths", borel_gridworld_paths, "Figure 3, Gridworld search paths"),
    FigureSpec("fig_gridworld_online_vs_offline", gridworld_online_vs_offline,
               "beyond the paper: the same learner offline and online"),
    FigureSpec("fig4_policy_replaying", policy_replay_bars, "Figure 4, Wind and Escape-Room"),
    FigureSpec("fig_escape_room_trajectories", escape_room_trajectories, "Appendix F idea: Escape-Room search"),
    FigureSpec("fig_baseline_trajectories", baseline_trajectories, "beyond Figure 1: PEARL and MBML against BOReL"),
    FigureSpec("fig_mujoco_collection", mujoco_collection_curves, "§6 MuJoCo data collection"),
    FigureSpec("fig5_ant_trajectories", ant_trajectories, "Figure 5"),
    FigureSpec("fig3_cheetah", cheetah_bars, "Figure 3, Half-Cheetah-Vel panel"),
    FigureSpec("fig3_ant", ant_bars, "Figure 3, Ant-Semi-circle panel"),
)
"""Every figure drawn from tables, in the order of the figures notebook."""

FIGURES_BY_NAME = {f.name: f for f in FIGURES}


def make_figure(name: str, profile: str, directory: str | Path | None = None, out_dir: str | Path | None = None,
                show: bool = False, **kwargs) -> list[Path]:
    """Draw figure ``name`` (see :data:`FIGURES`) from ``profile``'s tables (or ``directory``) and save it
    to the profile's figures folder (or ``out_dir``); return the written files. Raises
    :class:`MissingResultsError` (one line with the command) if a table it needs is missing. ``kwargs``
    go to the drawing function (``seeds=[...]`` for the BOReL figures)."""
    if name not in FIGURES_BY_NAME:
        raise ValueError(f"unknown figure {name!r}; allowed values: {', '.join(FIGURES_BY_NAME)}")
    profile = resolve_profile(profile)
    fig = FIGURES_BY_NAME[name].draw(profile, directory, **kwargs)
    try:
        return savefig(fig, name, profile=profile, directory=out_dir)
    finally:
        if show:
            plt.show()
        else:
            plt.close(fig)


def show_figure(name: str, profile: str, directory: str | Path | None = None, **kwargs) -> None:
    """For notebooks: draw, save and show figure ``name``; print the one-line "not yet produced" message
    instead when a table it needs is missing."""
    try:
        make_figure(name, profile, directory, show=True, **kwargs)
    except MissingResultsError as err:
        plt.close("all")
        print(err)


# ---------------------------------------------------------------------------------- tables
def budget_ratios(profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """The profile's training budget against the paper's, per domain and stage, read from the
    ``.config.json`` beside each domain's BOReL (RR, seed 0) results: collection updates per agent and
    number of agents, VAE epochs, offline RL updates; the paper's values are the config classes'
    defaults (``for_domain(domain, "paper")``)."""
    from borel_lib.collect import CollectConfig
    from borel_lib.offline_rl import OfflineRLConfig
    from borel_lib.vae import VAEConfig

    rows = []
    for domain in ("gridworld", "semicircle"):
        name = f"borel_{domain}_reward_relabelling_seed0"
        values = read_config(name, profile, directory)
        paper = {"dataset": CollectConfig.for_domain(domain, "paper").to_dict(),
                 "vae": VAEConfig.for_domain(domain, "paper").to_dict(),
                 "offline_rl": OfflineRLConfig.for_domain(domain, "paper").to_dict()}
        stages = (("collection: agents (tasks)", "dataset", lambda d: d["n_tasks"]),
                  ("collection: updates per agent", "dataset", lambda d: d["iterations"] * d["updates_per_iter"]),
                  ("belief VAE: epochs", "vae", lambda d: d["epochs"]),
                  ("offline RL: updates", "offline_rl", lambda d: d["updates"]))
        for stage, key, get in stages:
            ours, theirs = get(values[key]), get(paper[key])
            rows.append({"domain": domain, "stage": stage, profile: ours, "paper": theirs, "ratio": ours / theirs,
                         "read from": f"{name}.config.json"})
    return pd.DataFrame(rows)


PENDING = (("Table 1 (Ant-Semi-circle, three datasets, with/without CQL)", "borel_ant_semicircle_*.csv", "table1",
            "ant_semicircle"),
           ("Figure 4 (Wind and Escape-Room, with/without policy replaying)", "borel_wind_*.csv", "figure4", "wind"),
           ("Figure 5 (Ant-Semi-circle trajectories)", "borel_ant_semicircle_*_traj.csv", "figure5", "ant_semicircle"))
"""Paper results with no table yet: (what, the table file pattern that would hold it, command key, the
domain whose BOReL pipeline it needs)."""


def pending_results(profile: str, directory: str | Path | None = None) -> list[str]:
    """One line per paper result of :data:`PENDING`: where its tables are if they exist, else
    ``not yet produced: run <command>`` (read from whether the tables exist; no numbers invented)."""
    out_dir = Path(directory if directory is not None else results_dir(profile))
    commands = table_commands(profile)
    from borel_lib.offline_rl import RL_DOMAIN

    lines = []
    for what, pattern, key, domain in PENDING:
        found = sorted(out_dir.glob(pattern))
        if found:
            lines.append(f"{what}: {len(found)} result table(s) in {_display(out_dir)}")
        elif domain in RL_DOMAIN:
            lines.append(f"{what}: not yet produced: run `{commands[key]}`")
        else:
            lines.append(f"{what}: not yet produced: the BOReL pipeline does not run {domain} yet; once it does, "
                         f"run `{commands[key]}`")
    return lines
