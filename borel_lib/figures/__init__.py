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
- :mod:`~borel_lib.figures.mujoco` (notebook 07): Table 1, Figure 5, Figure 3's Half-Cheetah-Vel,
  Ant-Semi-circle and Reacher-Image panels, the Reacher-Image fingertip paths, the MuJoCo collections, and
  what the Ant data and agents do.
- :mod:`~borel_lib.figures.registry`: :data:`FIGURES` (every figure with its file name),
  :func:`make_figure` / :func:`show_figure` (draw and save one by name) and :func:`pending_results`.

Beside them: :mod:`~borel_lib.figures.draw` (domain drawings), :mod:`~borel_lib.figures.style` (the one
plotting style and the deterministic PNG/PDF writer: regenerating a figure from unchanged tables is
byte-identical, ``scripts/check_figures.py`` checks that) and :mod:`~borel_lib.figures.tables` (the
training side: the small tables that training notebooks write for the figures).

Every public name of the figure modules (each module's ``__all__``) is re-exported here, so callers write
``figures.<name>``.
Imports go one way: ``common`` <- the figure modules <- ``registry``.
"""

from borel_lib.figures import (
    ambiguity,
    beliefs,
    collection,
    common,
    gridworld_semicircle,
    mujoco,
    online,
    policy_replaying,
)
from borel_lib.figures.ambiguity import *  # noqa: F403
from borel_lib.figures.beliefs import *  # noqa: F403
from borel_lib.figures.collection import *  # noqa: F403
from borel_lib.figures.common import *  # noqa: F403
from borel_lib.figures.gridworld_semicircle import *  # noqa: F403
from borel_lib.figures.mujoco import *  # noqa: F403
from borel_lib.figures.online import *  # noqa: F403
from borel_lib.figures.policy_replaying import *  # noqa: F403
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
    *common.__all__, *ambiguity.__all__, *collection.__all__, *beliefs.__all__, *gridworld_semicircle.__all__,
    *policy_replaying.__all__, *mujoco.__all__, *online.__all__,
    "FIGURES", "FIGURES_BY_NAME", "PENDING", "FigureSpec", "make_figure", "pending_results", "show_figure",
]
