"""Notebook 05's figures, offline BOReL on Gridworld and Semi-circle: Figure 3's panels (bars and
learning curves against the reference agents), Figure 1 (right, the Semi-circle trajectories), the
Gridworld search paths, the same learner offline and online, the Thompson-sampling baselines'
trajectories, and the table of this profile's training budget against the paper's."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from borel_lib.figures import draw
from borel_lib.figures.common import (
    N_METRIC,
    MissingResultsError,
    committed_seeds,
    default_seeds,
    display_path,
    method_label,
    plot_episode_paths,
    plot_grid_episodes,
    plot_semicircle_episodes,
    read_config,
    read_table,
    references,
    run_table,
    table_commands,
    with_tuned_baselines,
)
from borel_lib.figures.style import METHOD_COLORS
from borel_lib.paths import results_dir
from borel_lib.results import read_table_file, result_path

__all__ = ["BOREL_BELIEFS", "PROBE_RUNS", "baseline_trajectories", "borel_bars", "borel_gridworld_paths",
           "borel_learning_curves", "borel_specs", "borel_summary", "borel_trajectories", "budget_ratios",
           "gridworld_online_vs_offline", "online_vs_offline_summary", "semicircle_online_vs_offline"]

BOREL_BELIEFS = (("exact", "reward_relabelling"), ("vae", "reward_relabelling"), ("vae", "none"))
"""The three beliefs of notebook 05 per domain: exact posterior, VAE with RR, VAE without RR."""


def borel_specs(profile: str, seeds: list[int] | None = None) -> list:
    """The :class:`borel_lib.pipeline.RunSpec` of every Figure 3 run (both domains, three beliefs, seeds)."""
    from borel_lib.pipeline import RunSpec

    seeds = default_seeds(profile) if seeds is None else list(seeds)
    return [RunSpec(domain, profile, belief, mode, seed) for domain in ("gridworld", "semicircle")
            for belief, mode in BOREL_BELIEFS for seed in seeds]


def borel_summary(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Mean ± s.e. over seeds of every Figure 3 run's metrics (:func:`borel_lib.results.summarise_runs`);
    ``seeds=None``: every committed seed of each run."""
    from borel_lib.results import borel_runs, summarise_runs

    runs = borel_runs(profile, directory)
    seeds = committed_seeds(runs, seeds)
    tags = {spec.tag for spec in borel_specs(profile, seeds)}
    runs = runs[runs.run.isin(tags)] if len(runs) else runs
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no BOReL run of Figure 3 in {display_path(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)['borel']}`")
    return summarise_runs(runs)


def _reference_lines(ax, refs: dict[str, np.ndarray], domain: str) -> None:
    for m, v in refs.items():
        ax.axhline(np.mean(v[: N_METRIC[domain]]), ls="--", color=METHOD_COLORS.get(m, "k"), label=method_label(m))


def borel_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Gridworld and Semi-circle panels (paper §6): the paper's metric of BOReL with and
    without RR and of the exact belief, mean ± s.e. over seeds, beside PEARL and MBML (when their tables
    exist) and against the reference agents; every method's runs averaged over their last 10 % of
    evaluations (the baselines not at their best evaluation)."""
    from borel_lib.results import baseline_runs, summarise_runs

    summary = borel_summary(profile, directory, seeds)
    base = with_tuned_baselines(baseline_runs(profile, directory), profile)
    if len(base):  # the paper's Thompson-sampling baselines, over their last 10 % of evaluations as BOReL
        summary = pd.concat([summary, summarise_runs(base)], ignore_index=True)
    refs = references(profile, directory)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, domain in zip(axes, ("gridworld", "semicircle")):
        s = summary[summary.domain == domain].set_index("method").reindex(
            ["borel_exact", "borel_rr", "borel_no_rr", "pearl", "pearl_tuned", "mbml", "mbml_tuned"])
        s = s.dropna(subset=["metric"])
        ax.bar([method_label(m).replace(" (", "\n(") for m in s.index], s["metric"], yerr=s["metric_se"].fillna(0), capsize=4,
               color=[METHOD_COLORS.get(m.removesuffix("_tuned"), "grey") for m in s.index])
        if len(s) > 3:  # five bars: the baselines' "(last 10 %)" labels would touch
            ax.tick_params(axis="x", labelsize="small")
        _reference_lines(ax, refs.get(domain, {}), domain)
        ax.set(ylabel=f"average return, first {N_METRIC[domain]} episodes", title=domain)
        ax.legend(fontsize="small", loc="upper right")
    return fig


def borel_learning_curves(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3 as learning curves: the paper's metric at each evaluation, mean ± s.e. over seeds."""
    curves = [read_table_file(p) for spec in borel_specs(profile, seeds)
              if (p := result_path(f"borel_{spec.tag}", profile, directory)).is_file()]
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
            plot_semicircle_episodes(ax, tr, task)
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
            plot_grid_episodes(axes[row, col], tr, task, goals[task],
                               f"{method_label(spec.method)}, goal ({int(goals[task][0])}, {int(goals[task][1])})")
    axes[0, -1].legend(fontsize="x-small", loc="lower right")
    return fig


PROBE_RUNS: dict[str, str] = {
    "probe_online_exact_offline_online_seed0": "offline + online, half each",
    "borel_gridworld_uniform_exact_borrowall_raw0_seed0": "offline, task-independent behaviour",
}
"""The decisive experiment of issue 9 beyond the online runs (``scripts/probe_online_exact.py``; exact belief,
Gridworld, seed 0): result tables and their legend names. The online runs are read for every seed that has one."""


def _plot_curve(ax, df: pd.DataFrame, color: str, label: str, band: bool = False, episodes: int | None = None) -> None:
    """The paper's metric per evaluation of one run table or several seeds' (mean over seeds; ± s.e. band)."""
    r = df[(df.metric == "return") & ((df.episode <= episodes) if episodes else True)]
    c = r.groupby(["seed", "updates"]).value.mean().groupby("updates").agg(["mean", "sem"])
    ax.plot(c.index, c["mean"], color=color, label=label)
    if band:
        ax.fill_between(c.index, c["mean"] - c["sem"].fillna(0), c["mean"] + c["sem"].fillna(0), color=color,
                        alpha=0.15)


def gridworld_online_vs_offline(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Beyond the paper, the decisive experiment on Gridworld with the exact belief: the quick offline
    learner (mean ± s.e. over seeds) against the same learner trained online on its own trials (mean ± s.e.
    over the seeds that have a run), on the offline data plus those trials, and on offline data whose
    behaviour does not depend on the task (seed 0 each), with the Bayes-optimal value and the issue's 90 % target."""
    from borel_lib.pipeline import RunSpec

    exact = read_table("gridworld_exact", profile, directory)
    bayes = float(exact[(exact.method == "bayes_optimal") & (exact.metric == "mean_return")].value.iloc[0])
    seeds = default_seeds(profile) if seeds is None else seeds
    offline = pd.concat([read_table(f"borel_{RunSpec('gridworld', profile, 'exact', seed=s).tag}", profile, directory)
                         for s in seeds], ignore_index=True)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    _plot_curve(ax, offline, "k", f"offline, the quick default ({len(seeds)} seeds)", band=True)
    online = [t for _, t in _probe_tables("gridworld", "online", profile, directory, seeds, required=True)]
    _plot_curve(ax, pd.concat(online, ignore_index=True), "tab:green", f"online, the learner's own trials "
                f"({len(online)} seed{'s' if len(online) > 1 else ''})", band=len(online) > 1)
    for (name, label), color in zip(PROBE_RUNS.items(), ("tab:orange", "tab:purple")):
        _plot_curve(ax, read_table(name, profile, directory), color, label)
    ax.axhline(bayes, ls="--", color=METHOD_COLORS["bayes_optimal"], label=f"Bayes-optimal ({bayes:.2f})")
    ax.axhline(0.9 * bayes, ls=":", color="grey", label="90 % of Bayes-optimal")
    ax.set(xlabel="DQN updates", ylabel="average return, 4 episodes", ylim=(0, None),
           title="Gridworld, exact belief: the same learner offline and online")
    ax.legend(fontsize="small", loc="lower right")
    return fig


def _probe_tables(domain: str, data: str, profile: str, directory: str | Path | None, seeds: list[int],
                  required: bool) -> list[tuple[int, pd.DataFrame]]:
    """``(seed, table)`` of the online control runs (``scripts/probe_online_exact.py --domain DOMAIN --data
    online|offline+online``, ``data`` = ``online`` or ``offline_online``) that exist for ``seeds``; if
    ``required`` and none does, the missing-table error naming the command that makes the first."""
    prefix = "probe_online_exact_" if domain == "gridworld" else f"probe_online_exact_{domain}_"
    names = [(s, f"{prefix}{data}_seed{s}") for s in seeds]
    found = [(s, read_table_file(p)) for s, n in names if (p := result_path(n, profile, directory)).is_file()]
    if required and not found:
        read_table(names[0][1], profile, directory)  # raises the missing-table line with its command
    return found


def semicircle_online_vs_offline(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Beyond the paper, issue 31's control on the Semi-circle with the exact belief: the quick offline SAC
    (mean ± s.e. over seeds) against the same learner trained online on its own trials
    (``scripts/probe_online_exact.py --domain semicircle``) and on the offline data plus those trials
    (``--data offline+online``, where it exists), each mean ± s.e. over the seeds that exist, against the oracle,
    the scripted search-then-go agent and Thompson sampling."""
    from borel_lib.pipeline import RunSpec

    seeds = default_seeds(profile) if seeds is None else seeds
    offline = pd.concat([read_table(f"borel_{RunSpec('semicircle', profile, 'exact', seed=s).tag}", profile, directory)
                         for s in seeds], ignore_index=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    _plot_curve(ax, offline, "k", f"offline, the quick default ({len(seeds)} seeds)", band=True, episodes=2)
    for data, color, label in (("online", "tab:green", "online: its own trials only"),
                               ("offline_online", "tab:orange", "offline data + its own trials")):
        found = [t for _, t in _probe_tables("semicircle", data, profile, directory, seeds, required=data == "online")]
        if found:
            _plot_curve(ax, pd.concat(found, ignore_index=True), color, f"{label} ({len(found)} seed"
                        f"{'s' if len(found) > 1 else ''})", band=len(found) > 1, episodes=2)
    refs = references(profile, directory).get("semicircle", {})
    _reference_lines(ax, {m: v for m, v in refs.items() if m in ("oracle", "search_then_go", "thompson_sampling")},
                     "semicircle")
    ax.set(xlabel="SAC updates", ylabel="average return, 2 episodes", ylim=(0, None),
           title="Semi-circle, exact belief: the same learner offline and online")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    return fig


def online_vs_offline_summary(domain: str, profile: str, directory: str | Path | None = None,
                              seeds: list[int] | None = None) -> pd.DataFrame:
    """The numbers behind :func:`gridworld_online_vs_offline` and :func:`semicircle_online_vs_offline`: one row
    per learner (``offline``, the quick exact-belief runs; ``online``; ``offline_online``) with the seeds found,
    each seed's paper's metric over its last 10 % of evaluations and over the second half
    (:func:`borel_lib.results.evaluation_summary`), their IQM with a bootstrap 95 % interval, and for ``online``
    and ``offline_online`` the verdict on "this > offline" (:func:`borel_lib.stats.compare`)."""
    from borel_lib.envs import make_env
    from borel_lib.pipeline import RunSpec
    from borel_lib.results import evaluation_summary
    from borel_lib.stats import bootstrap_ci, compare, iqm

    seeds = default_seeds(profile) if seeds is None else seeds
    episodes = make_env(domain).eval_episodes
    offline = [(s, read_table(f"borel_{RunSpec(domain, profile, 'exact', seed=s).tag}", profile, directory))
               for s in seeds]
    rows, last = [], {}
    for learner in ("offline", "online", "offline_online"):
        found = offline if learner == "offline" else _probe_tables(
            domain, learner, profile, directory, seeds, required=learner == "online")
        if not found:
            continue
        late = np.array([evaluation_summary(t, "updates", episodes)["metric"] for _, t in found])
        half = np.array([evaluation_summary(t, "updates", episodes, last_fraction=0.5)["metric"] for _, t in found])
        last[learner] = late
        low, high = bootstrap_ci(late)
        rows.append({"learner": learner, "seeds": " ".join(str(s) for s, _ in found),
                     "last 10 % per seed": " / ".join(f"{v:.2f}" for v in late), "last 10 %: IQM": iqm(late),
                     "95 % CI low": low, "95 % CI high": high,
                     "second half per seed": " / ".join(f"{v:.2f}" for v in half), "second half: IQM": iqm(half),
                     "> offline": compare(late, last["offline"])["verdict"] if learner != "offline" else ""})
    return pd.DataFrame(rows)


def baseline_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Beyond Figure 1: what the Thompson-sampling baselines do on the Semi-circle against BOReL. Episodes 1
    and 2 on four evaluation goals of BOReL (RR), PEARL and MBML, each from the first seed whose final
    trajectory table exists (``borel_<tag>_traj``, ``pearl_semicircle_seed<S>_traj``,
    ``mbml_semicircle_uniform_seed<S>_traj``; a baseline tuned on the validation goals by its chosen setting's
    test runs once they exist, :func:`borel_lib.sweep.tuned_config`); the paper: a Thompson-sampling agent walks to
    one sampled goal per episode and never searches."""
    from borel_lib.baselines.mbml import run_tag as mbml_run_tag
    from borel_lib.pipeline import RunSpec, eval_tasks
    from borel_lib.sweep import tuned_config

    seeds = default_seeds(profile) if seeds is None else seeds
    baselines = []
    for name, grid, default in (("PEARL", "tune_pearl_semicircle", "pearl_semicircle"),
                                ("MBML", "tune_mbml_semicircle", mbml_run_tag("semicircle", 0, None, profile).removesuffix("_seed0"))):
        tuned = tuned_config(grid, profile)
        tuned_names = [f"{tuned}_seed{s}_traj" for s in seeds] if tuned else []
        if any(result_path(n, profile, directory).is_file() for n in tuned_names) and tuned != default:
            baselines.append((f"{name}, tuned", tuned_names))
        else:
            baselines.append((name, [f"{default}_seed{s}_traj" for s in seeds]))
    rows = []
    for label, names in (("BOReL (RR)", [f"borel_{RunSpec('semicircle', profile, seed=s).tag}_traj" for s in seeds]),
                         *baselines):
        found = next(((n, s) for n, s in zip(names, seeds) if result_path(n, profile, directory).is_file()), None)
        if found is not None:
            t = read_table_file(result_path(found[0], profile, directory))
            last = "updates" if "updates" in t.columns else "iteration"
            rows.append((label, found[1], t[t[last] == t[last].max()]))
    if not rows:
        raise MissingResultsError(f"not yet produced: no Semi-circle trajectory table in {display_path(Path(directory or results_dir(profile)))}; "
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
            plot_episode_paths(ax, traj, int(task))
            ax.set(aspect="equal", xlim=(-1.4, 1.4), ylim=(-0.4, 1.4), xticks=[], yticks=[])
            if c == 0:
                ax.set_ylabel(f"{label}\n(seed {seed})")
            if r == 0:
                ax.set_title(f"goal {task}")
    axes[0, 0].legend(loc="lower left", fontsize="x-small")
    fig.suptitle("Semi-circle: episodes 1 and 2 of the final agents on four evaluation goals")
    fig.tight_layout()
    return fig


def budget_ratios(profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """The profile's training budget against the paper's, per domain and stage, read from the
    ``.config.json`` beside each domain's BOReL (RR, seed 0) results: collection updates per agent and
    number of agents, VAE epochs, offline RL updates; the paper's values are the config classes'
    defaults (``for_domain(domain, "paper")``)."""
    from borel_lib.collect import CollectConfig
    from borel_lib.offline_rl import OfflineRLConfig
    from borel_lib.pipeline import RunSpec
    from borel_lib.vae import VAEConfig

    rows = []
    for domain in ("gridworld", "semicircle"):
        name = f"borel_{RunSpec(domain, profile).tag}"
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
