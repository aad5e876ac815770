"""The headline table of the README: one row per artefact of the paper (§6 and the supplementary: Figures
1-5, 7, 10, 11, Table 1, every panel of Figure 3), with the paper's claim in brief, what the committed
result tables of a profile say about it, a computed verdict and the notebook that shows it.

Every number comes from the committed tables (:func:`borel_lib.results.borel_runs`,
:func:`borel_lib.results.baseline_runs` and a few analysis tables); nothing here trains or reads a
checkpoint, and no result is written into this module: the claims are the paper's, the numbers and
verdicts are computed. ``scripts/headline.py`` writes the table into the README between the markers
``<!-- headline:start -->`` and ``<!-- headline:end -->``, ``tests/test_headline.py`` fails when the
README and the tables disagree, and notebook 08 shows the same table.

**The rules.** A row is built from one or more *sub-claims*, each with an outcome:

- an ordering "a > b" of two run configurations (the paper's metric averaged over the last 10 % of each
  run's evaluations, one value per seed): :func:`borel_lib.stats.compare` gives the bootstrap 95 % interval
  of IQM(a) - IQM(b); *holds* when it lies above 0, *fails* when below 0 (reversed), *not separated* when
  it contains 0, *too few seeds* when either side has one seed, *missing* when either side has no table.
  For "a ≥ b" (Table 1's CQL claims, where the paper's own numbers overlap) only a reversed interval fails;
  for "a ≈ b" (the paper expects little effect: relabelling on Half-Cheetah-Vel and Reacher-Image, policy
  replaying on Wind, where the identifying states overlap, §6) an interval containing 0 holds and a separated
  one fails;
- a run configuration against a reference value (the exact Thompson-sampling return on Gridworld): holds
  when the bootstrap 95 % interval of the IQM over seeds lies above it, fails when below, else not separated;
- a share that the paper says is large (:data:`SHARE_THRESHOLD`; e.g. the share of evaluation goals found in
  episode 1 and reached directly in episode 2): holds when the interval's lower end is at least the
  threshold, *partly* when it is above 0 but below it, not separated when it touches 0 but not every seed
  is 0, fails when every seed is 0;
- a count before and after a repair (task pairs failing Proposition 2 before and after reward relabelling
  or policy replaying): holds when the repair lowers it, not separated when unchanged, fails when it rises;
- one measurement per side, no seeds (the Ant datasets' coverage, Figure 11): holds when the claimed side is
  larger, fails when smaller; and a share the paper says is small (the fixed-start data's episodes that sweep
  at least 3 points of the arc) holds below :data:`SHARE_THRESHOLD` and fails at or above it;
- Figure 1 (left), the collecting agents learn to reach their own goals: the values are one per agent (its
  success over its last 5 trials, and over its random warm-up trials), compared and thresholded as above;
- §6's online claim (supp.): off-policy vs on-policy VariBAD, an ordering "a > b" as above per domain (the
  per-seed value as for BOReL runs); *not separated* when the runs' final environment steps differ by more
  than 1 % (they are not at the same budget). Each learner's share of the exact Bayes-optimal Gridworld value
  is reported beside it, with whether off-policy VariBAD's interval clears :data:`BAYES_BAR` (the project's
  bar, not a claim of the paper, so it does not enter the verdict).

The row's verdict (:func:`combine`): *not produced* when every sub-claim is missing or a figure the row
names is not drawn; *fails* when any sub-claim fails; *holds* when every sub-claim holds; *partly* when some
hold (or hold partly); else *not separated*. One more rule: on a goal-reaching domain, when the method the
claim favours never reaches an evaluation goal (success 0 in every seed), a "holds" becomes "partly": the
ordering then compares control costs, not searches. With 2-3 seeds the intervals are optimistic
(:mod:`borel_lib.stats`): a "holds" from 2 seeds is weak evidence.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from borel_lib.paths import figures_dir, repo_root
from borel_lib.results import (
    RR_VARIANTS,
    baseline_runs,
    borel_runs,
    ordering_claims,
    read_table_file,
    result_path,
    run_config,
)
from borel_lib.stats import bootstrap_ci, compare, iqm
from borel_lib.verdicts import (  # the rules (module docstring), kept importable from here
    KINDS,  # noqa: F401
    OUTCOMES,  # noqa: F401
    SHARE_THRESHOLD,
    VERDICTS,  # noqa: F401
    combine,
    ordering_outcome,
    point_outcome,
    reference_outcome,
    repair_outcome,
    share_outcome,
)

COLUMNS: tuple[str, ...] = ("artefact", "claim", "ours", "verdict", "why", "notebook", "figure")
"""The columns of :func:`headline_table`."""
START, END = "<!-- headline:start -->", "<!-- headline:end -->"
"""The markers between which the README holds the generated table."""


# ---- reading the tables --------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def iqm_text(values: Sequence[float] | np.ndarray) -> str:
    """``IQM [low, high]`` over seeds (the IQM alone with one seed, "no table" with none)."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return "no table"
    if len(values) < 2:
        return f"{_fmt(iqm(values))} (1 seed)"
    return "{} [{}, {}]".format(_fmt(iqm(values)), *map(_fmt, bootstrap_ci(values)))


class _Runs:
    """Every finished BOReL and baseline run of a profile, by run configuration: per-seed arrays of a column."""

    def __init__(self, profile: str, directory: str | os.PathLike[str] | None):
        runs = pd.concat([borel_runs(profile, directory), baseline_runs(profile, directory)], ignore_index=True)
        self.by_config = ({c: g.sort_values("seed") for c, g in runs.assign(config=run_config(runs.run)).groupby("config")}
                          if len(runs) else {})

    def values(self, config: str, column: str = "metric") -> np.ndarray:
        g = self.by_config.get(config)
        if g is None or column not in g:
            return np.zeros(0)
        return g[column].dropna().to_numpy(dtype=float)


def _config(tag: str) -> str:
    return re.sub(r"_seed\d+", "", tag)


def _borel(domain: str, profile: str, relabelling: str = "reward_relabelling", **kw) -> str:
    from borel_lib.pipeline import RunSpec

    return _config(RunSpec(domain, profile, relabelling=relabelling, **kw).tag)


def _table1(profile: str) -> dict[tuple[str, float], str]:
    """Table 1's run configurations by (initial-state variant, CQL weight)."""
    from borel_lib.sweep import cell_spec, grid_cells

    return {(c["init_state"], float(c["rl"]["cql_alpha"])): _config(cell_spec(c, profile).tag) for c in grid_cells("table1")}


DATA_LABELS = {"uniform": "uniform", "exclude_semicircle": "excl. s.c.", "fixed": "fixed"}
"""Short names of the Ant datasets' initial-state variants (the paper's Table 1 rows)."""
DOMAIN_LABELS = {"gridworld": "Gridworld", "semicircle": "Semi-circle", "wind": "Wind", "escape_room": "Escape-Room",
                 "cheetah_vel": "Half-Cheetah-Vel", "ant_semicircle": "Ant-Semi-circle"}
"""The domains' names as the paper writes them."""


def label(config: str, data: bool = False) -> str:
    """A short name of a run configuration in the headline table: ``PEARL``, ``MBML``, ``RR`` / ``no RR``
    (reward relabelling), ``replay`` / ``no replay`` (policy replaying, on the transition domains), ``+ CQL``;
    with ``data``, the initial-state variant of its data instead of the relabelling (Table 1's cells). A baseline
    run with settings in its name is the tuned one (the orderings compare no other: :func:`borel_lib.results.
    ordering_claims`): ``PEARL, tuned``."""
    if config.startswith(("pearl_", "mbml_")):
        baseline, rest = config.split("_", 1)
        from borel_lib.envs import DOMAINS

        domain = next((d for d in sorted(DOMAINS, key=len, reverse=True) if rest.startswith(d)), "")
        rest = rest[len(domain):]
        rest = next((rest[len(v) + 1:] for v in sorted(DATA_LABELS, key=len, reverse=True)
                     if rest.startswith(f"_{v}")), rest) if baseline == "mbml" else rest
        return baseline.upper() + (", tuned" if rest else "")
    cql = " + CQL" if re.search(r"_cql[\d.]", config) else ""
    if data:
        name = next((v for k, v in DATA_LABELS.items() if f"_{k}_" in f"{config}_"), "default data")
        return name + cql
    if "reward_relabelling" in config or "policy_replay" in config:
        name = "RR" if "reward_relabelling" in config else "replay"
    else:
        name = "no replay" if config.startswith(("wind", "escape_room")) else "no RR"
    return name + cql


@dataclass
class Row:
    """What one artefact's measurement returns: the numbers (``ours``), the sub-claims ``(label, outcome,
    what was said)`` and whether the favoured method never reaches a goal."""

    ours: str
    subclaims: list[tuple[str, str, str]]
    no_goal: bool = False

    def verdict(self) -> tuple[str, str]:
        """The row's verdict and why (the sub-claims that do not hold)."""
        verdict = combine([o for _, o, _ in self.subclaims])
        if verdict == "not produced":
            return verdict, ""
        why = [f"{name}: {said}" for name, o, said in self.subclaims if o != "holds"]
        if self.no_goal:
            verdict = "partly" if verdict == "holds" else verdict
            why.append("no evaluation goal reached (the returns are control costs)")
        return verdict, "; ".join(why)


SAID = {"fails": "reversed", "missing": "no table", "too few seeds": "one seed"}


def _orderings(runs: _Runs, claims: Sequence[tuple[str, str, str]], data: bool = False
               ) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Sub-claims ``(kind, a, b)`` (run configurations; names by :func:`label`) with their outcomes, and the
    configurations' IQM texts in order of appearance."""
    shown, subclaims = {}, []
    for kind, a, b in claims:
        for c in (a, b):
            shown.setdefault(c, f"{label(c, data)} {iqm_text(runs.values(c))}")
        name = f"{label(a, data)} {kind} {label(b, data)}"
        va, vb = runs.values(a), runs.values(b)
        if not len(va) or not len(vb):
            subclaims.append((name, "missing", "no table"))
            continue
        said = compare(va, vb)["verdict"]
        outcome = ordering_outcome(kind, said)
        judged = kind == "≈" and outcome in ("holds", "fails")  # "≈" reads as consistent / separated
        text = ("separated" if outcome == "fails" else "consistent") if judged else SAID.get(outcome, said)
        subclaims.append((name, outcome, text))
    return list(shown.values()), subclaims


def _paper_claims(runs: _Runs, profile: str, domain: str, table1: bool = False) -> list[tuple[str, str, str]]:
    """The orderings of :func:`borel_lib.results.ordering_claims` for ``domain`` (Table 1's, or the others) as
    ``(kind, a, b)`` with b the first candidate that has runs (else the first), as
    :func:`borel_lib.results.paper_orderings` chooses it. Policy replaying on Wind is "≈" (§6: where identifying states overlap it has little
    effect); MBML on Escape-Room is left out (the paper's footnote 9: its BCQ failed there, no bar)."""
    out = []
    for claim, d, a, candidates in ordering_claims(profile):
        if d != domain or claim.startswith("Table 1") != table1 or claim.endswith(tuple(RR_VARIANTS)):
            continue
        if domain == "escape_room" and "MBML" in claim:
            continue
        kind = "≈" if (domain, claim) == ("wind", "policy replaying > none") else "≥" if "≥" in claim else ">"
        out.append((kind, a, next((c for c in candidates if len(runs.values(c))), candidates[0])))
    return out


# ---- one function per artefact -------------------------------------------------------------------------


def _collection_data(profile, directory, runs) -> Row:
    from borel_lib.collect import CollectConfig, dataset_name

    path = result_path("collect_" + dataset_name(CollectConfig.for_domain("semicircle", profile), profile), profile, directory)
    if not path.is_file():
        return Row("no table", [("collection", "missing", "no table")])
    s = read_table_file(path).query("metric == 'success'")
    per = s.groupby(["task", "trial"]).value.max()
    late = per.groupby("task").apply(lambda v: v.iloc[-5:].mean()).to_numpy()
    warm = s[s.iteration == -1].groupby("task").value.mean().to_numpy()
    c = compare(late, warm)
    learnt = ordering_outcome(">", c["verdict"])
    most = share_outcome(late)
    ours = (f"Semi-circle, {len(late)} agents (IQM over agents): success over each agent's last 5 trials "
            f"{iqm_text(late)}, in its random warm-up {iqm_text(warm)}")
    return Row(ours, [("learn (last > warm-up)", learnt, SAID.get(learnt, learnt)),
                      ("most agents reach their goal", most, most)])


def _search_then_go(profile, directory, runs) -> Row:
    rr = _borel("semicircle", profile)
    go, found = runs.values(rr, "search_then_go"), runs.values(rr, "found_ep1")
    ours = f"Semi-circle, RR: goals found in episode 1 and reached directly in episode 2 {iqm_text(go)}; found in episode 1 {iqm_text(found)}"
    outcome = share_outcome(go) if len(go) else "missing"
    return Row(ours, [(f"search then go on most goals (≥ {SHARE_THRESHOLD})", outcome,
                       "on a minority" if outcome == "partly" else SAID.get(outcome, outcome))])


def _identifiability(profile, directory, runs) -> Row:
    parts, subclaims = [], []
    for name in ("identifiability_semicircle", "identifiability_transition_domains"):
        path = result_path(name, profile, directory)
        if not path.is_file():
            subclaims.append((name, "missing", "no table"))
            continue
        df = read_table_file(path)
        kind = "data" if "data" in df else "variant"  # the column naming the data (own, relabelled, replayed)
        keys = ["domain", "variant"] if kind == "data" else ["domain"]
        pairs = next((c for c in df.columns if c.replace(" ", "_") == "of_pairs"), None)
        if pairs is None or kind not in df:
            subclaims.append((name, "missing", "no column of_pairs"))
            continue
        for key, g in df.groupby(keys, sort=False):
            own = g[g[kind].str.startswith("own") & ~g[kind].str.contains("+", regex=False)]
            repaired = g.drop(own.index)
            if not len(own) or not len(repaired):
                continue
            before, after = own.value.iloc[0], repaired.value.min()
            key = tuple(np.atleast_1d(key))
            what = DOMAIN_LABELS.get(key[0], key[0]) + (f" ({DATA_LABELS.get(key[1], key[1])} start)" if len(key) > 1 else "")
            parts.append(f"{what} {before:.0f} → {after:.0f} of {g[pairs].iloc[0]:.0f}")
            outcome = repair_outcome(before, after)
            subclaims.append((what, outcome, SAID.get(outcome, outcome)))
    ours = "task pairs failing Proposition 2, own data → repaired: " + ", ".join(parts) if parts else "no table"
    return Row(ours, subclaims)


def _gridworld(profile, directory, runs) -> Row:
    from borel_lib.envs import make_env

    shown, subclaims = _orderings(runs, _paper_claims(runs, profile, "gridworld"))
    path = result_path("references_semicircle_gridworld", profile, directory)
    rr = runs.values(_borel("gridworld", profile))
    if path.is_file() and len(rr):
        ref = read_table_file(path).query("domain == 'gridworld' and method == 'thompson_sampling'").sort_values("episode")
        ts = ref.value.to_numpy()[: make_env("gridworld").eval_episodes].mean()
        shown.append(f"exact Thompson sampling {_fmt(ts)}")
        outcome = reference_outcome(rr, ts)
        subclaims.append(("RR > Thompson sampling", outcome, SAID.get(outcome, outcome)))
    else:
        subclaims.append(("RR > Thompson sampling", "missing", "no table"))
    return Row(", ".join(shown), subclaims)


def _ordering_row(domain: str, extra: Callable[[str], list[tuple[str, str, str]]] | None = None,
                  goal: bool = False) -> Callable:
    def measure(profile, directory, runs) -> Row:
        claims = _paper_claims(runs, profile, domain) + (extra(profile) if extra else [])
        shown, subclaims = _orderings(runs, claims)
        favoured = runs.values(claims[0][1], "success") if claims else np.zeros(0)
        return Row(", ".join(shown), subclaims, no_goal=goal and len(favoured) > 0 and not favoured.any())
    return measure


def _reacher_claims(profile: str) -> list[tuple[str, str, str]]:
    """Figure 3's Reacher-Image orderings: BOReL (RR) > PEARL and > MBML (the paper has no MBML bar there, its
    footnote 9; we run it and compare), and RR ≈ no RR (dense rewards: the data are identifiable, §4)."""
    from borel_lib.baselines.mbml import run_tag

    rr = _borel("reacher_image", profile)
    return [(">", rr, "pearl_reacher_image"), (">", rr, _config(run_tag("reacher_image", 0, None, profile))),
            ("≈", rr, _borel("reacher_image", profile, "none"))]


REACHER_REFERENCES = {"oracle": "goal-known arm", "standing_still": "standing still"}
"""The references of ``references_reacher_image`` (``scripts/reacher_references.py``) shown in the row."""


def _reacher_image(profile, directory, runs) -> Row:
    """The orderings of :func:`_reacher_claims`, then shown but not judged: the exact-belief BOReL and the
    references' paper metric (mean over their seeds and episodes 1-2)."""
    row = _ordering_row("reacher_image", _reacher_claims)(profile, directory, runs)
    shown = [row.ours, f"exact belief {iqm_text(runs.values(_borel('reacher_image', profile, belief='exact')))}"]
    path = result_path("references_reacher_image", profile, directory)
    if path.is_file():
        ref = read_table_file(path).query("metric == 'return' and episode <= 2").groupby("method").value.mean()
        shown += [f"{name} {_fmt(ref[m])}" for m, name in REACHER_REFERENCES.items() if m in ref]
    return Row(", ".join(shown), row.subclaims)


def _success_row(what: str, cells: Callable[[str], list[str]]) -> Callable:
    def measure(profile, directory, runs) -> Row:
        parts, subclaims = [], []
        for config in cells(profile):
            success = runs.values(config, "success")
            name = label(config, data=True)
            parts.append(f"{name} {iqm_text(success)}")
            outcome = share_outcome(success) if len(success) else "missing"
            subclaims.append((name, outcome, "no goal reached" if outcome == "fails" else SAID.get(outcome, outcome)))
        return Row(f"{what}, success (goal reached) in the first 2 episodes: " + ", ".join(parts), subclaims)
    return measure


def _belief(profile, directory, runs) -> Row:
    path = result_path("belief_vs_exact", profile, directory)
    if not path.is_file():
        return Row("no table", [("TV without RR > with RR", "missing", "no table")])
    tv = read_table_file(path).query("variant == 'scripted_search'")
    parts, subclaims = [], []
    for domain in ("semicircle", "gridworld"):
        per_seed = tv[tv.domain == domain].groupby(["method", "seed"]).value.mean()
        if not {"borel_rr", "borel_no_rr"} <= set(per_seed.index.get_level_values("method")):
            subclaims.append((DOMAIN_LABELS[domain], "missing", "no table"))
            continue
        none, rr = per_seed["borel_no_rr"].to_numpy(), per_seed["borel_rr"].to_numpy()
        parts.append(f"{DOMAIN_LABELS[domain]} {iqm_text(none)} vs {iqm_text(rr)}")
        outcome = ordering_outcome(">", compare(none, rr)["verdict"])
        subclaims.append((DOMAIN_LABELS[domain], outcome, SAID.get(outcome, outcome)))
    return Row("total variation to the exact posterior along scripted searches, VAE without RR vs with RR: "
               + "; ".join(parts), subclaims)


ANT_MEASURES = {"on_arc_share": "states on the arc", "arc_points_per_episode": "arc points swept per episode"}
"""The Ant data-coverage measures the Figure 11 row compares (``scripts/ant_data_diversity.py``)."""


def _coverage(profile, directory, runs) -> Row:
    path = result_path("ant_data_diversity", profile, directory)
    if not path.is_file():
        return Row("no table", [("coverage", "missing", "no table")])
    v = read_table_file(path).pivot_table(index="variant", columns="metric", values="value")
    if not {"uniform", "fixed"} <= set(v.index) or not {*ANT_MEASURES, "sweeps_3_points"} <= set(v.columns):
        return Row("no table", [("coverage", "missing", "no table")])
    parts = [f"{what} " + " / ".join(f"{DATA_LABELS.get(d, d)} {v.loc[d, m]:.2f}" for d in DATA_LABELS if d in v.index)
             for m, what in {**ANT_MEASURES, "sweeps_3_points": "episodes sweeping ≥ 3 arc points"}.items()]
    subclaims = []
    for other in (d for d in ("exclude_semicircle", "fixed") if d in v.index):
        for m, what in ANT_MEASURES.items():
            outcome = point_outcome(v.loc["uniform", m], v.loc[other, m])
            subclaims.append((f"uniform > {DATA_LABELS[other]}, {what}", outcome, SAID.get(outcome, outcome)))
    sweeps = v.loc["fixed", "sweeps_3_points"]
    outcome = "holds" if sweeps < SHARE_THRESHOLD else "fails"
    subclaims.append(("fixed data hardly sweeps the arc", outcome,
                      f"{sweeps:.2f} of its episodes sweep ≥ 3 arc points" if outcome == "fails" else "holds"))
    return Row("Ant datasets: " + "; ".join(parts), subclaims)


def _table1_row(profile, directory, runs) -> Row:
    cells = _table1(profile)
    _, subclaims = _orderings(runs, _paper_claims(runs, profile, "ant_semicircle", table1=True), data=True)
    shown = [f"{label(c, data=True)} {iqm_text(runs.values(c))}" for c in cells.values()]
    favoured = runs.values(cells[("uniform", 0.0)], "success")
    return Row(", ".join(dict.fromkeys(shown)), subclaims, no_goal=len(favoured) > 0 and not favoured.any())


BAYES_BAR = 0.9
"""The share of the exact Bayes-optimal Gridworld value online off-policy VariBAD should reach: the project's bar,
reported in the row's "ours" column, not part of its verdict (the paper claims only the ordering)."""


def _online(profile, directory, runs) -> Row:
    """§6 (supp.): off-policy vs on-policy VariBAD online, per domain at one budget (:func:`borel_lib.figures.online.online_summary`'s
    ``last_10pc`` per seed), and on Gridworld each learner's share of the exact Bayes-optimal value."""
    from borel_lib.figures.common import N_METRIC, MissingResultsError, references
    from borel_lib.figures.online import ONLINE_DOMAINS, ONLINE_METHODS, online_seeds, online_summary

    try:
        summary = online_summary(profile, directory, online_seeds(profile, directory))
    except MissingResultsError:
        summary = pd.DataFrame(columns=["domain", "learner", "seed", "env_steps", "last_10pc"])
    try:
        bayes = references(profile, directory).get("gridworld", {}).get("bayes_optimal")
    except MissingResultsError:
        bayes = None
    bayes = float(bayes[: N_METRIC["gridworld"]].mean()) if bayes is not None else None
    parts, subclaims = [], []
    for domain in ONLINE_DOMAINS:
        d, what = summary[summary.domain == domain].sort_values("seed"), DOMAIN_LABELS[domain]
        off, on = (d[d.learner == ONLINE_METHODS[m][0]].last_10pc.to_numpy(dtype=float) for m in ("varibad_offpolicy", "varibad_ppo"))
        steps = d.env_steps.to_numpy(dtype=float)
        budget = f", {steps.max() / 1e6:.1f}M steps" if len(steps) else ""
        parts.append(f"{what}{budget}: off-policy {iqm_text(off)} vs on-policy {iqm_text(on)}")
        if not len(off) or not len(on):
            outcome, said = "missing", "no table"
        elif steps.max() > 1.01 * steps.min():  # a run stops at the first iteration past its budget
            outcome, said = "not separated", "not at the same environment steps"
        else:
            outcome = ordering_outcome(">", compare(off, on)["verdict"])
            said = SAID.get(outcome, outcome)
        subclaims.append((f"{what}: off-policy > on-policy", outcome, said))
        if domain == "gridworld" and bayes is not None and len(d):
            parts[-1] += (f"; share of the exact Bayes-optimal {_fmt(bayes)}: off-policy {iqm_text(off / bayes)}"
                          f", on-policy {iqm_text(on / bayes)}")
            if len(off):
                bar = {"holds": "above", "fails": "below"}.get(reference_outcome(off / bayes, BAYES_BAR), "not separated from")
                parts[-1] += f" (off-policy {bar} the {BAYES_BAR:.0%} bar)"
    return Row("paper's metric, last 10 % of evaluations: " + "; ".join(parts), subclaims)


@dataclass(frozen=True)
class Artefact:
    """One row of the headline table: a paper artefact, its claim in brief (the paper's, in our words), the
    figure file stem that draws it (``None``: no figure of ours) and the notebook that explains it."""

    name: str
    claim: str
    notebook: str
    figure: str | None
    measure: Callable[..., Row]


ARTEFACTS: tuple[Artefact, ...] = (
    Artefact("Figure 1 (left)", "The offline data are the training logs of ordinary RL agents, each learning to reach its own goal.",
             "03_collect_data", "fig1_data", _collection_data),
    Artefact("Figure 1 (right)", "The offline meta-agent searches along the semi-circle in episode 1 and goes straight to the goal it found in episode 2.",
             "05_offline_borel", "fig1_borel_trajectories", _search_then_go),
    Artefact("Figure 2", "Logs in which each agent sees only its own goal are ambiguous (MDP ambiguity); reward relabelling and policy replaying make them identifiable.",
             "01_mdp_ambiguity", "fig2_mdp_ambiguity", _identifiability),
    Artefact("Figure 3, Gridworld", "BOReL with reward relabelling beats BOReL without it and exact Thompson sampling.",
             "05_offline_borel", "fig3_borel_gridworld_semicircle", _gridworld),
    Artefact("Figure 3, Semi-circle", "BOReL with reward relabelling beats BOReL without it, online PEARL and offline MBML.",
             "05_offline_borel", "fig3_borel_gridworld_semicircle", _ordering_row("semicircle")),
    Artefact("Figure 3, Ant-Semi-circle", "The same on Ant (uniform-start data).", "07_mujoco", "fig3_ant",
             _ordering_row("ant_semicircle", lambda p: [(">", _borel("ant_semicircle", p, init_state="uniform"),
                                                          _borel("ant_semicircle", p, "none", init_state="uniform"))], goal=True)),
    Artefact("Figure 3, Half-Cheetah-Vel", "BOReL beats PEARL and MBML; with a dense reward, relabelling matters little.",
             "07_mujoco", "fig3_cheetah",
             _ordering_row("cheetah_vel", lambda p: [("≈", _borel("cheetah_vel", p), _borel("cheetah_vel", p, "none"))])),
    Artefact("Figure 3, Reacher-Image", "BOReL learns from images and beats PEARL; with dense rewards, relabelling matters little.",
             "07_mujoco", "fig3_reacher_image", _reacher_image),
    Artefact("Figure 4, Wind", "One transition reveals the wind, so policy replaying changes little; BOReL beats PEARL and MBML.",
             "06_policy_replaying", "fig4_policy_replaying", _ordering_row("wind")),
    Artefact("Figure 4, Escape-Room", "Policy replaying makes the data identifiable; BOReL with it beats BOReL without it and PEARL.",
             "06_policy_replaying", "fig4_policy_replaying", _ordering_row("escape_room")),
    Artefact("Figure 5", "On Ant the agent searches in episode 1 and walks straight to the found goal in episode 2.",
             "07_mujoco", "fig5_ant_trajectories", _success_row("BOReL on the uniform data", lambda p: [_table1(p)[("uniform", 0.0)]])),
    Artefact("Figure 7 (supp.)", "With reward relabelling the belief narrows onto the goal along a search; without it, it goes wrong.",
             "04_belief_vae", "fig7_belief_semicircle", _belief),
    Artefact("Figure 10 (supp.)", "Even on the low-diversity Ant data (excluding the semi-circle, fixed start) the agents search.",
             "07_mujoco", None, _success_row("BOReL, Table 1's cells", lambda p: [c for (v, _), c in _table1(p).items() if v != "uniform"])),
    Artefact("Figure 11 (supp.)", "The fixed-start Ant data hardly travels along the semi-circle; the uniform data covers it.",
             "07_mujoco", None, _coverage),
    Artefact("Table 1", "Ant: uniform data ≫ excluding the semi-circle ≈ fixed (171.8 vs 102.8, 99.2); CQL adds a little (176.0, 116.6, 112.4).",
             "07_mujoco", None, _table1_row),
    Artefact("§6 online (supp.)", "Off-policy VariBAD (BOReL's belief with DQN/SAC on a relabelled replay) beats on-policy "
             "VariBAD (PPO) online at the same environment steps.", "09_online_varibad", "fig_online_varibad", _online),
)
"""Every row of the headline table, in the paper's order."""


def headline_table(profile: str = "quick", directory: str | os.PathLike[str] | None = None,
                   figures: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per :data:`ARTEFACTS` entry, columns :data:`COLUMNS`: the claim, our numbers and the verdict
    with why (the module docstring's rules), from ``profile``'s committed tables (or ``directory``); ``figure``
    is the figure's PNG under ``figures`` (default: the profile's figures folder) when it exists."""
    runs = _Runs(profile, directory)
    fig_dir = Path(figures) if figures is not None else figures_dir(profile)
    rows = []
    for a in ARTEFACTS:
        row = a.measure(profile, directory, runs)
        verdict, why = row.verdict()
        png = fig_dir / f"{a.figure}.png" if a.figure else None
        if png is not None and not png.is_file():
            verdict, why = "not produced", f"figure {a.figure} not drawn"
        rows.append({"artefact": a.name, "claim": a.claim, "ours": row.ours, "verdict": verdict, "why": why,
                     "notebook": a.notebook, "figure": png if png is not None and png.is_file() else None})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def headline_markdown(profile: str = "quick", directory: str | os.PathLike[str] | None = None,
                      figures: str | os.PathLike[str] | None = None, base: str | os.PathLike[str] | None = None) -> str:
    """:func:`headline_table` as markdown, links relative to ``base`` (the folder of the document; default the
    repository root, as for the README; notebook 08 passes ``notebooks/``)."""
    base = Path(base) if base is not None else repo_root()
    root = repo_root()

    def link(text: str, target: Path) -> str:
        return f"[{text}]({Path(os.path.relpath(target, base)).as_posix()})"

    lines = ["| artefact | the paper's claim | ours (profile " + profile + "): IQM [95 % CI] over seeds | verdict | notebook |",
             "|---|---|---|---|---|"]
    for r in headline_table(profile, directory, figures).itertuples():
        name = link(r.artefact, r.figure) if r.figure is not None else r.artefact
        verdict = f"**{r.verdict}**" + (f": {r.why}" if r.why else "")
        nb = link(r.notebook[:2], root / "notebooks" / f"{r.notebook}.ipynb")
        lines.append(f"| {name} | {r.claim} | {r.ours} | {verdict} | {nb} |")
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with everything between :data:`START` and :data:`END` replaced by ``table`` (one clear error
    when a marker is missing)."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"the document must hold {START} once, followed by {END} once")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def between_markers(text: str) -> str:
    """The table held between :data:`START` and :data:`END` (stripped)."""
    if START not in text or END not in text:
        raise ValueError(f"the document must hold {START} followed by {END}")
    return text.split(START, 1)[1].split(END, 1)[0].strip()
