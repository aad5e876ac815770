"""borel_lib: a reproducible companion to BOReL (NeurIPS 2021).

Dorfman, Shenfeld & Tamar, "Offline Meta Reinforcement Learning -- Identifiability Challenges and
Effective Data Collection Strategies". One module per pipeline stage; notebooks tell the story.
"""

__version__ = "0.1.0"
