"""Evaluation tasks, and the split they are drawn for (paper §6: every method is scored on unseen tasks).

BOReL (:func:`borel_lib.pipeline.run_borel`), PEARL (:mod:`borel_lib.baselines.pearl`) and MBML
(:mod:`borel_lib.baselines.mbml`) all take their evaluation tasks from :func:`eval_tasks`, so for a domain,
seed and split they are scored on the same tasks (a method that evaluates fewer tasks, e.g. PEARL's 16 on
quick MuJoCo, gets the first ones of the same stream: every prior draws its tasks one after another).

Two *splits* (:data:`SPLITS`):

- ``test`` — the tasks every committed result is scored on: Gridworld's 21 goals; elsewhere ``n`` draws from
  the prior with ``numpy.random.default_rng(seed + 10_000)``. Unchanged, bit for bit, since the first results.
- ``validation`` — for choosing settings (``docs/tuning.md``, "How to tune without seeing the test goals"):
  ``n`` draws from the same prior with an independent stream, ``numpy.random.SeedSequence([seed,
  VALIDATION_STREAM])``. That entropy is two words whose second is not 0, so it is none of the one-word
  seeds of the test tasks, PEARL's training tasks (``default_rng(seed)``) or a collection's
  (``SeedSequence(collection seed).spawn``). The goals are continuous, so "disjoint" means an independent
  stream: no validation task equals a test or training task except with probability 0 (the tests check
  seeds 0–4 against the test tasks of seeds 0–4 and the collections' training tasks).
  Gridworld has no validation split: its 21 goals are all training tasks and all evaluation tasks (what is
  unseen there is the trial the belief is built from), so no goal is left to hold out; asking for it is a
  one-line :class:`~borel_lib.config.ConfigError` (Gridworld is the stated exception of issue 30).

Runs on ``validation`` carry the split in their names and commands (``..._validation_seed<S>``,
``--eval-split validation``); runs on ``test`` keep the names they always had, and the reported tables
(:func:`borel_lib.results.borel_runs`, :func:`borel_lib.results.baseline_runs`) read only those.
"""

from __future__ import annotations

import re

import numpy as np

from borel_lib.config import ConfigError, check_choice

SPLITS: tuple[str, ...] = ("test", "validation")
"""Evaluation splits: ``test`` (what results are reported on) and ``validation`` (what settings are chosen on)."""
DEFAULT_SPLIT = "test"
"""The split of every run that names none (every committed result)."""
VALIDATION_STREAM = 0x56414C  # "VAL"
"""Second entropy word of the validation tasks' seed sequence (:func:`eval_tasks`)."""
NO_VALIDATION: dict[str, str] = {
    "gridworld": "its 21 goals are all training tasks and all evaluation tasks (what is unseen is the trial), "
                 "so there is no goal to hold out; Gridworld is tuned on --eval-split test, and says so",
}
"""Domains without a validation split, and why (the one-line error of :func:`check_split`)."""


def check_split(split: str, domain: str | None = None) -> str:
    """``split`` if it is one of :data:`SPLITS` (and ``domain`` has it); else a one-line :class:`ConfigError`."""
    check_choice(split, "eval_split", SPLITS)
    if split == "validation" and domain in NO_VALIDATION:
        raise ConfigError(f"eval_split='validation' (--eval-split): {domain} has no validation tasks: "
                          f"{NO_VALIDATION[domain]}")
    return split


def eval_tasks(domain: str, seed: int, n: int = 20, split: str = DEFAULT_SPLIT) -> np.ndarray:
    """The evaluation tasks of ``domain`` for ``seed`` and ``split`` (module docstring): Gridworld's 21 goals
    on ``test`` (all of them are training tasks too, as in the authors' code: what is unseen is the trial the
    belief must be built from); elsewhere ``n`` draws from the prior, seeded by ``seed + 10_000`` (``test``)
    or by the independent validation stream (``validation``)."""
    from borel_lib.envs import make_env

    check_split(split, domain)
    env = make_env(domain)
    if domain == "gridworld":
        return env.candidate_goals()
    if split == "test":
        return env.sample_tasks(n, np.random.default_rng(seed + 10_000))
    return env.sample_tasks(n, np.random.default_rng(np.random.SeedSequence([int(seed), VALIDATION_STREAM])))


def split_suffix(split: str) -> str:
    """The part a run's name gains for ``split``: nothing for ``test`` (names unchanged), ``_validation``."""
    return "" if check_split(split) == DEFAULT_SPLIT else f"_{split}"


def split_flag(split: str) -> str:
    """The part a run's command gains for ``split``: nothing for ``test``, `` --eval-split validation``."""
    return "" if check_split(split) == DEFAULT_SPLIT else f" --eval-split {split}"


def name_split(name: str) -> str:
    """The split of a run or result name: ``validation`` if a ``_validation`` part stands before its
    ``_seed<S>`` (:func:`split_suffix`), else ``test``."""
    return "validation" if re.search(r"_validation_seed\d+", name) else DEFAULT_SPLIT


def add_split_argument(parser) -> None:
    """``--eval-split {test,validation}`` (default ``test``) on a run's command line."""
    parser.add_argument("--eval-split", default=DEFAULT_SPLIT, choices=SPLITS,
                        help="evaluation tasks: test (what results are reported on) or validation (an independent "
                             "draw from the same prior, for choosing settings; not Gridworld, whose 21 goals are all "
                             "training tasks); validation runs carry _validation in their names")
