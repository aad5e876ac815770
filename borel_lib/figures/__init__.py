"""Every figure and table of the paper, drawn from the committed result tables (``data/results/<profile>/``),
never from training: a figure function reads CSV tables and their ``.config.json``, never a checkpoint, a
dataset or a model (``tests/test_figure_functions.py`` checks). One function per figure, called both by the
topic notebook that explains it and by ``notebooks/08_figures_and_tables.ipynb``.

The modules, in the order of the notebooks:

- :mod:`~borel_lib.figures.common`: reading the tables (:func:`read_table`, :func:`read_config`), the
  one-line :class:`MissingResultsError` naming the command that makes a missing table
  (:func:`table_commands`), legend names, default seeds, logged trajectories, seed bars.
- :mod:`~borel_lib.figures.ambiguity` (notebook 01): Figure 2, which MDP's data visits which cell, and
  Figure 3's exact Gridworld references.
- :mod:`~borel_lib.figures.collection` (notebook 03): the collecting agents' learning curves, Figure 1
  (left, the Semi-circle data) and the coverage of the initial-state variants (supp. Figure 11 idea).
- :mod:`~borel_lib.figures.beliefs` (notebook 04): the VAE's predicted reward over the plane (supp.
  Figure 7 idea) and the learnt belief against the exact posterior.
- :mod:`~borel_lib.figures.gridworld_semicircle` (notebook 05): offline BOReL on Gridworld and
  Semi-circle: Figure 3's panels and learning curves, Figure 1 (right), the Gridworld search paths, the
  learner offline and online, the baselines' trajectories, the training budget against the paper's.
- :mod:`~borel_lib.figures.policy_replaying` (notebook 06): Figure 4 (Wind and Escape-Room, with and
  without policy replaying) and the Escape-Room searches.
- :mod:`~borel_lib.figures.mujoco` (notebook 07): Table 1, Figure 5, Figure 3's Half-Cheetah-Vel and
  Ant-Semi-circle panels, the MuJoCo collections, and what the Ant data and agents do.
- :mod:`~borel_lib.figures.registry`: :data:`FIGURES` (every figure with its file name),
  :func:`make_figure` / :func:`show_figure` (draw and save one by name) and :func:`pending_results`.

Beside them: :mod:`~borel_lib.figures.draw` (domain drawings), :mod:`~borel_lib.figures.style` (the one
plotting style and the deterministic PNG/PDF writer: regenerating a figure from unchanged tables is
byte-identical, ``scripts/check_figures.py`` checks that) and :mod:`~borel_lib.figures.tables` (the
training side: the small tables that training notebooks write for the figures).

Every public name of the figure modules is re-exported here, so callers write ``figures.<name>``.
Imports go one way: ``common`` <- the figure modules <- ``registry``.
"""

from borel_lib.figures.ambiguity import gridworld_exact, mdp_ambiguity
from borel_lib.figures.beliefs import (
    BELIEF_HORIZON,
    BELIEF_MAP_GOAL_ANGLE,
    BELIEF_MAP_GRID,
    BELIEF_MAP_STEPS,
    belief_maps,
    belief_vs_exact,
)
from borel_lib.figures.collection import (
    COVERAGE_BINS,
    collection_curve_names,
    collection_curves,
    collection_data,
    coverage,
)
from borel_lib.figures.common import (
    N_METRIC,
    MissingResultsError,
    default_seeds,
    display_path,
    episode_paths,
    method_label,
    plot_episode_paths,
    read_config,
    read_table,
    references,
    run_table,
    seed_bar,
    table_commands,
)
from borel_lib.figures.gridworld_semicircle import (
    BOREL_BELIEFS,
    PROBE_RUNS,
    baseline_trajectories,
    borel_bars,
    borel_gridworld_paths,
    borel_learning_curves,
    borel_specs,
    borel_summary,
    borel_trajectories,
    budget_ratios,
    gridworld_online_vs_offline,
)
from borel_lib.figures.mujoco import (
    ANT_DIVERSITY_METRICS,
    ANT_MOTION_METRICS,
    ANT_PROBE_PROTOCOLS,
    ANT_VARIANTS,
    MUJOCO_FIG3,
    SAC_CALIBRATION_LABELS,
    TABLE1_PAPER,
    ant_bars,
    ant_collector_probe,
    ant_data_diversity,
    ant_motion,
    ant_trajectories,
    cheetah_bars,
    collector_label,
    mujoco_collection_curves,
    sac_calibration,
    table1,
)
from borel_lib.figures.policy_replaying import (
    REFERENCE_STYLE,
    REPLAY_MODES,
    TRANSITION_DOMAINS,
    collection_reference,
    escape_room_trajectories,
    policy_replay_bars,
    transition_references,
    transition_specs,
)
from borel_lib.figures.registry import (
    FIGURES,
    FIGURES_BY_NAME,
    PENDING,
    FigureSpec,
    make_figure,
    pending_results,
    show_figure,
)

__all__ = [
    # common
    "MissingResultsError", "N_METRIC", "default_seeds", "display_path", "episode_paths", "method_label",
    "plot_episode_paths", "read_config", "read_table", "references", "run_table", "seed_bar", "table_commands",
    # ambiguity
    "gridworld_exact", "mdp_ambiguity",
    # collection
    "COVERAGE_BINS", "collection_curve_names", "collection_curves", "collection_data", "coverage",
    # beliefs
    "BELIEF_HORIZON", "BELIEF_MAP_GOAL_ANGLE", "BELIEF_MAP_GRID", "BELIEF_MAP_STEPS", "belief_maps",
    "belief_vs_exact",
    # gridworld_semicircle
    "BOREL_BELIEFS", "PROBE_RUNS", "baseline_trajectories", "borel_bars", "borel_gridworld_paths",
    "borel_learning_curves", "borel_specs", "borel_summary", "borel_trajectories", "budget_ratios",
    "gridworld_online_vs_offline",
    # policy_replaying
    "REFERENCE_STYLE", "REPLAY_MODES", "TRANSITION_DOMAINS", "collection_reference", "escape_room_trajectories",
    "policy_replay_bars", "transition_references", "transition_specs",
    # mujoco
    "ANT_DIVERSITY_METRICS", "ANT_MOTION_METRICS", "ANT_VARIANTS", "MUJOCO_FIG3", "TABLE1_PAPER", "ant_bars",
    "ant_collector_probe", "ant_data_diversity", "ant_motion", "ant_trajectories", "cheetah_bars",
    "ANT_PROBE_PROTOCOLS", "SAC_CALIBRATION_LABELS", "collector_label", "sac_calibration", "mujoco_collection_curves", "table1",
    # registry
    "FIGURES", "FIGURES_BY_NAME", "PENDING", "FigureSpec", "make_figure", "pending_results", "show_figure",
]
