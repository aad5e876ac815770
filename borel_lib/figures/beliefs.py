"""Notebook 04's figures, the learnt belief: the VAE's predicted reward over the plane along a scripted
search (supplementary Figure 7 idea), the VAE belief against the exact posterior (beyond the paper), and on
Reacher-Image the belief over the target angle learnt from images against the exact one (issue 32).
The constants say which belief maps :func:`borel_lib.figures.tables.belief_maps_table` writes."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from borel_lib.figures import draw
from borel_lib.figures.common import read_table

__all__ = ["BELIEF_HORIZON", "BELIEF_MAP_GOAL_ANGLE", "BELIEF_MAP_GRID", "BELIEF_MAP_STEPS", "belief_maps",
           "belief_vs_exact", "reacher_belief", "vae_losses"]

BELIEF_MAP_GOAL_ANGLE = 2.2
"""Supplementary Figure 7 idea: the goal of the scripted search (angle on the arc, radians)."""
BELIEF_MAP_STEPS = (0, 12, 24, 36, 59, 61)
"""Trial steps whose belief is pictured (the trial has 2 episodes of 60 steps)."""
BELIEF_MAP_GRID = (np.linspace(-1.5, 1.5, 61), np.linspace(-0.5, 1.5, 41))
"""x and y of the plane points where the predicted reward is pictured."""


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


BELIEF_HORIZON = {"gridworld": 15, "semicircle": 60, "ant_semicircle": 200}
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


def vae_losses(profile: str, domain: str = "semicircle", seeds: list[int] | None = None,
               directory: str | Path | None = None):
    """The belief VAE's training curves with and without reward relabelling (notebook 04): the ELBO's reward
    reconstruction and KL terms per epoch, mean ± s.e. over seeds, from the committed ``vae_<tag>`` tables
    that ``python -m borel_lib.pipeline <domain> --belief vae`` writes."""
    import pandas as pd

    from borel_lib.figures.common import default_seeds
    from borel_lib.pipeline import RunSpec

    seeds = default_seeds(profile) if seeds is None else seeds
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.0))
    for mode, label, color in (("reward_relabelling", "with RR", "tab:blue"), ("none", "without RR", "tab:red")):
        runs = [read_table(f"vae_{RunSpec(domain, profile, 'vae', mode, s).vae_tag}", profile, directory) for s in seeds]
        t = pd.concat(runs)
        for ax, metric in zip(axes, ("recon", "kl")):
            c = t[t.metric == metric].groupby("epoch").value.agg(["mean", "sem"])
            ax.plot(c.index, c["mean"], color=color, label=f"{label} ({len(runs)} seeds)")
            ax.fill_between(c.index, c["mean"] - c["sem"].fillna(0), c["mean"] + c["sem"].fillna(0), alpha=0.2,
                            color=color)
    axes[0].set(xlabel="epoch", ylabel="reward reconstruction", title=f"VAE training ({domain})")
    axes[1].set(xlabel="epoch", ylabel="KL term")
    axes[0].legend(fontsize="small")
    return fig



def reacher_belief(profile: str, directory: str | Path | None = None, variant: str = "sweep",
                   tasks: tuple[int, ...] = (0, 1, 2), seed: int | None = None):
    """Reacher-Image (issue 32, beyond the paper; notebook 04): the belief over the target angle after every
    step of one trial per task, exact and learnt by each VAE (heat maps: angle against transitions seen, the
    true target dashed, the end of episode 1 dotted), and their total variation (this task, and the mean over
    every task of the table, dashed). Tables ``belief_reacher_image_angle_bins_traj`` and
    ``belief_reacher_image_angle_traj`` (``scripts/reacher_belief.py``); ``variant``: the trials (``sweep`` or
    ``goal_known``); ``seed``: the VAEs of this seed (default the first; its runs share their test targets)."""
    from matplotlib.colors import PowerNorm

    from borel_lib.figures.common import method_label
    from borel_lib.figures.style import METHOD_COLORS

    bins = read_table("belief_reacher_image_angle_bins_traj", profile, directory)
    scalars = read_table("belief_reacher_image_angle_traj", profile, directory)
    if variant not in set(bins.variant):
        raise ValueError(f"variant={variant!r}: allowed values: {', '.join(sorted(set(bins.variant)))}")
    seed = int(bins.seed.min()) if seed is None else seed
    if seed not in set(bins.seed):
        raise ValueError(f"seed={seed!r}: allowed values: {', '.join(map(str, sorted(set(bins.seed))))}")
    bins = bins[(bins.variant == variant) & (bins.seed == seed)]
    scalars = scalars[(scalars.variant == variant) & (scalars.seed == seed) & (scalars.metric == "tv")]
    tasks = [t for t in tasks if t in set(bins.task)]
    if not tasks:
        raise ValueError(f"tasks: none of them is pictured; allowed values: {sorted(set(bins.task))}")
    method = dict(zip(bins.vae, bins.method))
    vaes = sorted(method, key=lambda v: (method[v] != "borel_rr", len(v), v))  # with RR first, plain before variants

    def name_of(vae: str) -> str:  # the method, plus the run's overrides from the VAE tag (e.g. "kl0.001")
        extra = re.match(r".*?_(?:reward_relabelling|none|policy_replay)_?(.*?)_?seed\d+$", vae)
        return method_label(method[vae]) + (f", {extra.group(1)}" if extra and extra.group(1) else "")

    spare = iter(["tab:green", "tab:purple", "tab:olive", "tab:cyan", "tab:pink"])
    colors = {v: METHOD_COLORS.get(method[v], "k") if name_of(v) == method_label(method[v]) else next(spare, "k")
              for v in vaes}
    end_1 = bins[bins.episode == 1].t.max()
    norm = PowerNorm(0.5, vmin=0.0, vmax=1.0)  # small masses stay visible beside the exact belief's spike
    panels = ["exact", *vaes]
    fig, axes = plt.subplots(len(tasks), len(panels) + 1, figsize=(3.4 * (len(panels) + 1) + 1, 2.4 * len(tasks)),
                             squeeze=False, sharex=True, layout="constrained")
    for row, task in enumerate(tasks):
        b = bins[bins.task == task]
        target = b.target.iloc[0]
        for col, name in enumerate(panels):
            # the exact posterior depends on the trial only: the same under every VAE (drawn from the first)
            g = b[(b.metric == "p_exact") & (b.vae == vaes[0]) if name == "exact" else (b.metric == "p_vae") & (b.vae == name)]
            grid = g.pivot_table(index="angle", columns="t", values="value").sort_index()
            ax = axes[row, col]
            t, angle = grid.columns.to_numpy(), grid.index.to_numpy()
            half = (angle[1] - angle[0]) / 2 if len(angle) > 1 else 45.0
            mesh = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis", norm=norm,
                             extent=(t[0] - 0.5, t[-1] + 0.5, angle[0] - half, angle[-1] + half))
            ax.grid(False)
            ax.axhline(target, color="tab:red", ls="--", lw=1)
            ax.axvline(end_1 + 0.5, color="w", ls=":", lw=1)
            title = "exact posterior" if name == "exact" else f"learnt: {name_of(name)}"
            ax.set(title=f"task {task}: {title}" if col == 0 else title, ylabel="target angle (°)" if col == 0 else None)
            if row == len(tasks) - 1:
                ax.set_xlabel("transitions seen t")
        ax = axes[row, -1]
        for name in vaes:
            s = scalars[scalars.vae == name]
            color = colors[name]
            mine = s[s.task == task].sort_values("t")
            ax.plot(mine.t, mine.value, color=color, label=name_of(name))
            mean = s.groupby("t").value.mean()
            ax.plot(mean.index, mean.to_numpy(), color=color, ls="--", lw=1,
                    label=f"mean of {s.task.nunique()} tasks")
        ax.axvline(end_1 + 0.5, color="k", ls=":", lw=1)
        ax.set(ylim=(0, 1.02), ylabel="TV(learnt, exact)", title="total variation")
        if row == len(tasks) - 1:
            ax.set_xlabel("transitions seen t")
    axes[0, -1].legend(fontsize="x-small", loc="lower right")
    fig.colorbar(mesh, ax=axes[:, :-1], shrink=0.8, label=f"belief mass per {2 * half:g}° sector", location="right")
    fig.suptitle("Reacher-Image: the belief over the target angle, learnt from images vs exact "
                 f"({variant.replace('_', ' ')} trials)")
    return fig
