"""Notebook 01's figures, computed exactly rather than learnt: Figure 2 (which MDP's data visits which
cell, and how policy replaying and reward relabelling resolve the ambiguity) and Figure 3's exact
Gridworld references (oracle, Bayes-optimal agent, Thompson sampling); and the theory against the runs: each
dataset's identifiability against the gain of its fix (:func:`identifiability_gap`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from borel_lib.figures import draw
from borel_lib.figures.common import read_config, read_table
from borel_lib.figures.style import METHOD_COLORS

__all__ = ["gridworld_exact", "identifiability_gap", "mdp_ambiguity"]


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


GAP_LABELS = {("gridworld", "uniform"): "Gridworld", ("semicircle", "uniform"): "Semi-circle",
              ("semicircle", "fixed"): "Semi-circle,\nfixed start", ("wind", "uniform"): "Wind",
              ("escape_room", "uniform"): "Escape-Room",
              ("semicircle", "uniform_it300_upi500"): "Semi-circle,\npaper-length collection"}
"""Point labels of :func:`identifiability_gap`."""

GAP_OFFSETS = {("gridworld", "uniform"): (40, 45), ("semicircle", "uniform"): (45, -40), ("wind", "uniform"): (45, -85),
               ("escape_room", "uniform"): (20, -45)}
"""Label offsets (points) of :func:`identifiability_gap` for the datasets crowded near 0 % (with an arrow); the
others sit beside their point."""


def identifiability_gap(profile: str, directory: str | Path | None = None):
    """The paper's §4 theory against the runs (beyond the paper): for every dataset of
    :data:`borel_lib.ambiguity_gap.DATASETS`, the share of task pairs failing Proposition 2 in the last 20 trials
    of each log without the fix (the converged collectors the theory is about; each label gives the count on the
    whole logs BOReL learns from) against the fix's gain in the committed BOReL runs (reward relabelling or policy
    replaying minus none: IQM difference over seeds with its bootstrap 95 % interval,
    :func:`borel_lib.ambiguity_gap.fix_gap`). Hollow markers: the verdict is not "holds" (the interval holds 0, or
    too few seeds for one). Tables: ``identifiability_gap``
    (``scripts/identifiability_gap.py``) and the BOReL runs."""
    from borel_lib.ambiguity_gap import DATASETS, fix_gap
    from borel_lib.results import borel_runs

    table = read_table("identifiability_gap", profile, directory)
    runs = borel_runs(profile, directory)
    own = table[(table.metric == "pairs_failing_prop2") & (table.data == "own")]
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for spec in DATASETS:
        rows = own[(own.domain == spec.domain) & (own.variant == spec.key)].set_index("part")
        gap = fix_gap(runs, spec, profile)
        if not {"late", "whole"} <= set(rows.index) or gap is None:
            continue
        x = 100 * float(rows.value["late"]) / float(rows.of_pairs["late"])
        y = gap["iqm_a"] - gap["iqm_b"]
        color = "tab:blue" if spec.fix == "reward_relabelling" else "tab:red"
        ax.errorbar([x], [y], yerr=[[y - gap["diff_ci_low"]], [gap["diff_ci_high"] - y]], fmt="o", color=color,
                    capsize=4, mfc=color if gap["verdict"] == "holds" else "white")
        label = (f"{GAP_LABELS.get((spec.domain, spec.key), spec.domain)}\n{gap['n_a']}/{gap['n_b']} seeds; "
                 f"whole logs {int(rows.value['whole'])}/{int(rows.of_pairs['whole'])}")
        offset = GAP_OFFSETS.get((spec.domain, spec.key))
        ax.annotate(label, (x, y), textcoords="offset points", xytext=offset or (-8, 6), fontsize="x-small",
                    ha="left" if offset else "right", va="center" if offset else "bottom",
                    arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6} if offset else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="task pairs failing Proposition 2 without the fix, last 20 trials of each log (%)",
           ylabel="fix − none, paper's metric (IQM, 95 % CI)", xlim=(-5, 105),
           title="MDP ambiguity in the data against what its fix gains")
    ax.plot([], [], "o", color="tab:blue", label="reward relabelling")
    ax.plot([], [], "o", color="tab:red", label="policy replaying")
    ax.plot([], [], "o", color="grey", mfc="white", label="not separated (or one seed)")
    ax.legend(fontsize="small", loc="lower right")
    return fig
