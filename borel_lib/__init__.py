"""borel_lib: a reproducible companion to BOReL (NeurIPS 2021).

Dorfman, Shenfeld & Tamar, "Offline Meta Reinforcement Learning -- Identifiability Challenges and
Effective Data Collection Strategies". One module per pipeline stage; notebooks tell the story.
"""

__version__ = "0.1.0"

# Importing the package registers the ``borel/`` Gymnasium ids, so ``import borel_lib`` then
# ``gymnasium.make("borel/SemiCircle-v0")`` works. Gymnasium >= 1.0 has no plugin entry points; without
# the import, ``gymnasium.make("borel_lib:borel/SemiCircle-v0")`` imports the package itself.
from borel_lib import envs as _envs  # noqa: E402,F401  (registration side effect)
