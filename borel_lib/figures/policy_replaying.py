"""Notebook 06's figures, tasks that differ in transitions: Figure 4 (BOReL with and without policy
replaying on Wind and Escape-Room, against the collecting agents and scripted references) and the
Escape-Room search trajectories (Appendix F idea)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from borel_lib.figures import common, draw
from borel_lib.figures.style import METHOD_COLORS
from borel_lib.paths import results_dir

__all__ = ["REFERENCE_STYLE", "REPLAY_MODES", "TRANSITION_DOMAINS", "collection_reference",
           "escape_room_trajectories", "policy_replay_bars", "transition_references", "transition_specs"]

TRANSITION_DOMAINS = {"wind": "Wind", "escape_room": "Escape-Room"}
"""Figure 4's domains (tasks differ in transitions) and their titles."""
REPLAY_MODES = {"policy_replay": "BOReL (policy replaying)", "none": "BOReL (no policy replaying)"}
"""Figure 4's two BOReL settings (``--relabelling``) and their labels."""


def transition_specs(profile: str, seeds: list[int] | None = None) -> list:
    """The :class:`borel_lib.pipeline.RunSpec` of every Figure 4 run (both domains, both settings, seeds)."""
    from borel_lib.pipeline import RunSpec

    seeds = common.default_seeds(profile) if seeds is None else list(seeds)
    return [RunSpec(domain, profile, "vae", mode, seed) for domain in TRANSITION_DOMAINS for mode in REPLAY_MODES
            for seed in seeds]


REFERENCE_STYLE = {"oracle": ("0.5", "oracle (knows the task)"), "wall_search": ("k", "scripted wall search"),
                   "learn_wind": ("k", "scripted: wind from the first step")}
"""Colour and label of Figure 4's scripted references (:mod:`borel_lib.references.transition`)."""


def transition_references(profile: str, directory: str | Path | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-episode returns of Figure 4's scripted references per domain and method (table
    ``references_transition_domains``; empty if it was not written yet)."""
    try:
        return common.references(profile, directory, "references_transition_domains")
    except common.MissingResultsError:
        return {}


def collection_reference(profile: str, domain: str, directory: str | Path | None = None) -> float:
    """The collecting agents' own level (each knows its task): the paper's metric over the last 5 trials
    of every agent's log (``collect_<domain>_uniform_seed0``; uniform starts, not the origin, so only a
    rough reference)."""
    c = common.read_table(f"collect_{domain}_uniform_seed0", profile, directory)
    c = c[(c.metric == "return") & (c.trial >= c.trial.max() - 4) & (c.episode <= common.N_METRIC[domain])]
    return float(c.value.mean())


def policy_replay_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 4 (paper §6): the paper's metric of BOReL with and without policy replaying on Wind (episode 1)
    and Escape-Room (first 2 episodes), mean ± s.e. over seeds (dots: single seeds), beside PEARL and MBML
    (when their tables exist), against the collecting agents' own level; every method's runs averaged over
    their last 10 % of evaluations (the baselines not at their best evaluation)."""
    from borel_lib.results import baseline_runs, borel_runs

    runs = borel_runs(profile, directory)
    seeds = common.committed_seeds(runs, seeds)
    tags = {spec.tag: spec for spec in transition_specs(profile, seeds)}
    runs = runs[runs.run.isin(tags)] if len(runs) else runs
    if not len(runs):
        raise common.MissingResultsError(f"not yet produced: no BOReL run of Figure 4 in "
                                         f"{common.display_path(Path(directory or results_dir(profile)))}; run `{common.table_commands(profile)['figure4']}`")
    runs = runs.assign(mode=[tags[r].relabelling for r in runs.run])
    base = baseline_runs(profile, directory)
    fig, axes = plt.subplots(1, len(TRANSITION_DOMAINS), figsize=(12, 6.6))
    for ax, (domain, title) in zip(axes, TRANSITION_DOMAINS.items()):
        bars = [(label, runs[(runs.domain == domain) & (runs["mode"] == mode)].metric.to_numpy(), color)
                for (mode, label), color in zip(REPLAY_MODES.items(), ("tab:blue", "tab:red"))]
        bars += [(common.method_label(m), base[(base.domain == domain) & (base.method == m)].metric.to_numpy()
                  if len(base) else np.zeros(0), METHOD_COLORS.get(m, "grey")) for m in ("pearl", "mbml")]
        bars = bars[:2] + [b for b in bars[2:] if len(b[1])]  # baselines only where they ran
        for x, (label, v, color) in enumerate(bars):
            if len(v):
                common.seed_bar(ax, x, v, color=color, alpha=0.8, label=f"{label}, {len(v)} seed(s)")
        try:
            ax.axhline(collection_reference(profile, domain, directory), ls=":", color="0.4",
                       label="collecting agents (know their task; uniform starts)")
        except common.MissingResultsError:
            pass
        for method, v in transition_references(profile, directory).get(domain, {}).items():
            ax.axhline(np.mean(v[: common.N_METRIC[domain]]), ls="--", color=REFERENCE_STYLE[method][0],
                       label=REFERENCE_STYLE[method][1])
        ax.set_xticks(range(len(bars)), [b[0].replace(" (", "\n(") if x >= 2 else ("policy\nreplaying", "no policy\nreplaying")[x]
                                         for x, b in enumerate(bars)])
        ax.set(ylabel=f"average return, first {common.N_METRIC[domain]} episode(s)", title=title)
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.15))  # below: never over a bar
    fig.subplots_adjust(bottom=0.4)
    return fig


def escape_room_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None,
                             shown: tuple[int, ...] = (0, 5, 10, 15)):
    """Escape-Room at the last evaluation (first seed, paper Appendix F behaviour): episode 1 (blue)
    should search along the wall, episode 2 (orange) walk straight out of the opening found; titled
    with the two episode returns."""
    from borel_lib.pipeline import eval_tasks

    specs = [s for s in transition_specs(profile, seeds) if s.domain == "escape_room"]
    specs = [s for s in specs if s.seed == specs[0].seed]
    avail = [(s, t) for s in specs if (t := common.run_table(s, "traj", directory)) is not None]
    if not avail:
        common.read_table(f"borel_{specs[0].tag}_traj", profile, directory)  # raises the missing line
    tasks = eval_tasks("escape_room", specs[0].seed)
    fig, axes = plt.subplots(len(avail), len(shown), figsize=(3.3 * len(shown), 3.3 * len(avail)), squeeze=False)
    for row, (spec, tr) in enumerate(avail):
        fin = common.run_table(spec, "final", directory)
        for col, task in enumerate(shown):
            ax = axes[row, col]
            draw.draw_escape_room(ax, tasks[task])
            for e, xy in common.episode_paths(tr, task).items():
                ax.plot(np.r_[0, xy[:, 0]], np.r_[0, xy[:, 1]], color=("tab:blue", "tab:orange")[e - 1], lw=1.2,
                        label=f"episode {e}")
            ret = fin[(fin.task == task) & (fin.metric == "return")].sort_values("episode").value.to_numpy()
            ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), xticks=[], yticks=[])
            ax.set_title(f"{REPLAY_MODES[spec.relabelling]}: " + " / ".join(f"{r:.0f}" for r in ret[:2]),
                         fontsize="small")
    axes[0, 0].legend(loc="lower left", fontsize="x-small")
    return fig
