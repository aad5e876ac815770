"""Every figure and table of the paper, drawn from the committed result tables (``data/results/``), never
from training: :mod:`borel_lib.figures.paper` (one function per figure or table, :data:`FIGURES` the
registry), :mod:`~borel_lib.figures.tables` (the small tables that training notebooks write for them),
:mod:`~borel_lib.figures.draw` (domain drawings) and :mod:`~borel_lib.figures.style` (the one plotting
style and the deterministic PNG/PDF writer)."""

from borel_lib.figures.paper import *  # noqa: F403  (the figure functions, as figures.<name>)
