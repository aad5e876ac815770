"""Notebook 01's figures, computed exactly rather than learnt: Figure 2 (which MDP's data visits which
cell, and how policy replaying and reward relabelling resolve the ambiguity) and Figure 3's exact
Gridworld references (oracle, Bayes-optimal agent, Thompson sampling)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from borel_lib.figures import draw
from borel_lib.figures.common import read_config, read_table
from borel_lib.figures.style import METHOD_COLORS

__all__ = ["gridworld_exact", "mdp_ambiguity"]


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
