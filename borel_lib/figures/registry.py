"""The list of figures drawn from tables (:data:`FIGURES`, in the order of the figures notebook), and
drawing and saving one by name (:func:`make_figure`, :func:`show_figure`:
:func:`borel_lib.figures.style.savefig` writes PNG and PDF with stable metadata, so regenerating a figure
from unchanged tables is byte-identical; ``scripts/check_figures.py`` checks that); :func:`pending_results`
says which paper results have no table yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from borel_lib.config import resolve_profile
from borel_lib.figures.ambiguity import gridworld_exact, identifiability_gap, mdp_ambiguity
from borel_lib.figures.beliefs import belief_maps, belief_vs_exact, reacher_belief
from borel_lib.figures.collection import collection_curves, collection_data, coverage
from borel_lib.figures.common import MissingResultsError, display_path, table_commands
from borel_lib.figures.gridworld_semicircle import (
    baseline_trajectories,
    borel_bars,
    borel_gridworld_paths,
    borel_learning_curves,
    borel_trajectories,
    gridworld_online_vs_offline,
    semicircle_online_vs_offline,
)
from borel_lib.figures.mujoco import (
    ant_bars,
    ant_trajectories,
    cheetah_bars,
    mujoco_collection_curves,
    reacher_bars,
    reacher_trajectories,
)
from borel_lib.figures.online import online_learning_curves, online_search_paths
from borel_lib.figures.policy_replaying import escape_room_trajectories, policy_replay_bars
from borel_lib.figures.style import savefig
from borel_lib.paths import results_dir
from borel_lib.results import find_results


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
    FigureSpec("fig_reacher_belief", reacher_belief, "Reacher-Image: the belief over the target angle, learnt vs exact"),
    FigureSpec("fig3_borel_gridworld_semicircle", borel_bars, "Figure 3, Gridworld and Semi-circle"),
    FigureSpec("fig3_borel_learning_curves", borel_learning_curves, "Figure 3 as learning curves"),
    FigureSpec("fig1_borel_trajectories", borel_trajectories, "Figure 1 (right)"),
    FigureSpec("fig_borel_gridworld_paths", borel_gridworld_paths, "Figure 3, Gridworld search paths"),
    FigureSpec("fig_gridworld_online_vs_offline", gridworld_online_vs_offline,
               "beyond the paper: the same learner offline and online"),
    FigureSpec("fig_semicircle_online_vs_offline", semicircle_online_vs_offline,
               "beyond the paper: the Semi-circle's learner offline and online"),
    FigureSpec("fig4_policy_replaying", policy_replay_bars, "Figure 4, Wind and Escape-Room"),
    FigureSpec("fig_identifiability_gap", identifiability_gap,
               "beyond the paper: §4's theory against the runs (identifiability vs the fix's gain)"),
    FigureSpec("fig_escape_room_trajectories", escape_room_trajectories, "Appendix F idea: Escape-Room search"),
    FigureSpec("fig_baseline_trajectories", baseline_trajectories, "beyond Figure 1: PEARL and MBML against BOReL"),
    FigureSpec("fig_mujoco_collection", mujoco_collection_curves, "§6 MuJoCo data collection"),
    FigureSpec("fig5_ant_trajectories", ant_trajectories, "Figure 5"),
    FigureSpec("fig3_cheetah", cheetah_bars, "Figure 3, Half-Cheetah-Vel panel"),
    FigureSpec("fig3_ant", ant_bars, "Figure 3, Ant-Semi-circle panel"),
    FigureSpec("fig3_reacher_image", reacher_bars, "Figure 3, Reacher-Image panel"),
    FigureSpec("fig_reacher_trajectories", reacher_trajectories, "Reacher-Image: the fingertip in episodes 1 and 2"),
    FigureSpec("fig_online_varibad", online_learning_curves, "§6 claim: off-policy VariBAD online vs on-policy VariBAD"),
    FigureSpec("fig_online_search", online_search_paths, "§6 online: each learner's search in its last policy's trials"),
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


PENDING = (("Table 1 (Ant-Semi-circle, three datasets, with/without CQL)", "borel_ant_semicircle_*", "table1",
            "ant_semicircle"),
           ("Figure 4 (Wind and Escape-Room, with/without policy replaying)", "borel_wind_*", "figure4", "wind"),
           ("Figure 5 (Ant-Semi-circle trajectories)", "borel_ant_semicircle_*_traj", "figure5", "ant_semicircle"))
"""Paper results with no table yet: (what, the pattern of the result names that would hold it, command key,
the domain whose BOReL pipeline it needs)."""


def pending_results(profile: str, directory: str | Path | None = None) -> list[str]:
    """One line per paper result of :data:`PENDING`: where its tables are if they exist, else
    ``not yet produced: run <command>`` (read from whether the tables exist; no numbers invented)."""
    out_dir = Path(directory if directory is not None else results_dir(profile))
    commands = table_commands(profile)
    from borel_lib.offline_rl import RL_DOMAIN

    lines = []
    for what, pattern, key, domain in PENDING:
        found = find_results(pattern, profile, directory)
        if found:
            lines.append(f"{what}: {len(found)} result table(s) in {display_path(out_dir)}")
        elif domain in RL_DOMAIN:
            lines.append(f"{what}: not yet produced: run `{commands[key]}`")
        else:
            lines.append(f"{what}: not yet produced: the BOReL pipeline does not run {domain} yet; once it does, "
                         f"run `{commands[key]}`")
    return lines
