"""Notebook 03's figures, the offline data: the collecting agents' learning curves (paper §3.1),
Figure 1 (left, the Semi-circle logs early and late in training) and the coverage of the three
initial-state variants (supplementary Figure 11 idea)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from borel_lib.figures import draw
from borel_lib.figures.common import read_table

__all__ = ["COVERAGE_BINS", "collection_curve_names", "collection_curves", "collection_data", "coverage"]


def collection_curve_names(profile: str) -> dict[str, str]:
    """Result-table names of the two main collections' learning curves, keyed by panel title."""
    from borel_lib.collect import CollectConfig, dataset_name

    return {title: "collect_" + dataset_name(CollectConfig.for_domain(domain, profile), profile)
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
