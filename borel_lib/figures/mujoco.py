"""Notebook 07's figures and tables, MuJoCo: Table 1 (Ant-Semi-circle per initial-state variant, with
and without CQL), Figure 5 (Ant trajectories), Figure 3's Half-Cheetah-Vel, Ant-Semi-circle and Reacher-Image
panels, the Reacher-Image fingertip trajectories, the MuJoCo collections' learning curves, and the diagnostic
tables of what the Ant data and agents do (:func:`ant_collector_probe`, :func:`ant_data_diversity`,
:func:`ant_motion`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from borel_lib.figures.common import (
    BASELINE_METRIC,
    MissingResultsError,
    default_seeds,
    display_path,
    method_label,
    plot_episode_paths,
    read_config,
    read_table,
    seed_bar,
    table_commands,
)
from borel_lib.figures.style import METHOD_COLORS
from borel_lib.paths import results_dir
from borel_lib.results import find_results, read_table_file, result_path

__all__ = ["ANT_DIVERSITY_METRICS", "ANT_MOTION_METRICS", "ANT_PROBE_PROTOCOLS", "ANT_VARIANTS",
           "MUJOCO_FIG3", "SAC_CALIBRATION_LABELS", "TABLE1_PAPER", "ant_bars", "ant_collector_probe",
           "ant_data_diversity", "ant_motion", "ant_trajectories", "cheetah_bars", "collector_label",
           "mujoco_collection_curves", "REACHER_METHODS", "REACHER_REFERENCES", "reacher_bars", "reacher_references",
           "reacher_trajectories", "reacher_values", "sac_calibration", "table1"]

ANT_VARIANTS: dict[str, str] = {"uniform": "uniform", "exclude_semicircle": "excluding the semi-circle",
                                "fixed": "fixed"}
"""Table 1's initial-state variants of the Ant collection (option value: the paper's row name)."""


TABLE1_PAPER: dict[tuple[str, float], float] = {
    ("uniform", 0.0): 171.8, ("exclude_semicircle", 0.0): 102.8, ("fixed", 0.0): 99.2,
    ("uniform", 2.0): 176.0, ("exclude_semicircle", 2.0): 116.6, ("fixed", 2.0): 112.4}
"""The paper's Table 1 (Ant-Semi-circle, average return over the first 2 episodes): BOReL and BOReL + CQL
(α_CQL = 2) per initial-state variant of the data."""


def _grid_runs(grid: str, profile: str, directory, seeds: list[int] | None) -> tuple[pd.DataFrame, dict]:
    """The finished runs of a sweep grid's cells (``seeds`` only) and each run tag's cell."""
    from borel_lib.results import borel_runs
    from borel_lib.sweep import cell_spec, grid_cells

    cells = {cell_spec(c, profile).tag: c for c in grid_cells(grid) if seeds is None or c["seed"] in seeds}
    runs = borel_runs(profile, directory)
    return (runs[runs.run.isin(cells)] if len(runs) else runs), cells


TABLE1_COLUMNS: tuple[str, ...] = ("data", "method", "seeds", "ours (last 10 %)", "ours (last 10 %): IQM [95 % CI]",
                                   "ours (best evaluation)", "paper")
"""The columns of :func:`table1`."""


def table1(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Table 1 (paper §6): BOReL and BOReL + CQL on Ant-Semi-circle per initial-state variant of the data,
    the paper's metric (first 2 episodes) averaged over the last 10 % of each run's evaluations (the primary
    metric of every method): mean ± s.e. over seeds, and its interquartile mean with a bootstrap 95 % interval
    (:mod:`borel_lib.stats`); the best evaluation over training (mean ± s.e.) as a secondary column; the
    paper's value beside them; rows of cells not run yet say so. Reads the ``table1`` grid's result tables."""
    from borel_lib.stats import bootstrap_ci, iqm

    def pm(v: np.ndarray) -> str:
        return f"{v.mean():.1f} ± {v.std(ddof=1) / np.sqrt(len(v)):.1f}" if len(v) > 1 else f"{v.mean():.1f}"

    runs, cells = _grid_runs("table1", profile, directory, seeds)
    rows = []
    for variant, name in ANT_VARIANTS.items():
        for cql in (0.0, 2.0):
            tags = [t for t, c in cells.items() if c["init_state"] == variant and c["rl"]["cql_alpha"] == cql]
            ran = runs[runs.run.isin(tags)] if len(runs) else runs
            v, best = (ran.metric.to_numpy(), ran.best.to_numpy()) if len(ran) else (np.zeros(0), np.zeros(0))
            if len(v) > 1:
                interval = "{:.1f} [{:.1f}, {:.1f}]".format(iqm(v), *bootstrap_ci(v))
            else:
                interval = f"{v.mean():.1f}" if len(v) else "not yet run"
            rows.append({"data": name, "method": "BOReL + CQL" if cql else "BOReL", "seeds": len(v),
                         TABLE1_COLUMNS[3]: pm(v) if len(v) else "not yet run", TABLE1_COLUMNS[4]: interval,
                         TABLE1_COLUMNS[5]: pm(best) if len(v) else "not yet run", "paper": TABLE1_PAPER[(variant, cql)]})
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no Table 1 run in {display_path(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)['table1']}`")
    return pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))


ANT_PROBE_PROTOCOLS = ("shared_calibrated", "shared", "pertask")
"""The Ant collections ``scripts/probe_ant_collectors.py`` has scored: the quick protocol now (one shared agent,
the calibrated SAC), the shared agent with the authors' SAC, one agent per task with the authors' SAC."""


def ant_collector_probe(profile: str, directory: str | Path | None = None, variant: str = "uniform",
                        protocol: str = "shared") -> pd.DataFrame:
    """What the Ant data can teach (``scripts/probe_ant_collectors.py``): the paper's metric per episode and
    the steps spent in the goal disc, for the collection's own task-knowing agents (deterministic and
    sampled, per saved iteration), the logged trials of the last iterations, and standing still (a = 0).
    ``protocol``: one of :data:`ANT_PROBE_PROTOCOLS` (``shared_calibrated``: the quick protocol now).
    Columns: return and steps in the goal disc per episode, and the number of tasks whose episodes enter the
    goal disc in at least half the trials (the gate of issue "Ant walks", >= 12 of 16 in episode 1) where
    the table has it."""
    if protocol not in ANT_PROBE_PROTOCOLS:
        raise ValueError(f"protocol={protocol!r}: allowed values are {', '.join(map(repr, ANT_PROBE_PROTOCOLS))}")
    df = read_table(f"probe_ant_collectors_{variant}_{protocol}", profile, directory)
    names = {"return": "return", "in_goal_steps": "steps in goal", "tasks_reached": "tasks reaching the goal"}
    df = df[df.metric.isin(list(names))].assign(
        column=lambda d: d.metric.map(names) + ", ep " + d.episode.astype(str))
    out = df.pivot_table(index=["method", "iteration"], columns="column", values="value").round(1)
    out.columns.name = None
    return out


ANT_DIVERSITY_METRICS: dict[str, str] = {
    "starts_on_arc": "episodes starting on the semi-circle",
    "arc_points_per_episode": "arc points swept per episode (of 21)",
    "sweeps_3_points": "episodes sweeping >= 3 arc points",
    "on_arc_share": "states on the semi-circle",
}
"""The measures of ``scripts/ant_data_diversity.py`` (column name: what it counts)."""


def ant_data_diversity(profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """How much of the semi-circle each Table 1 dataset's policy trials cover (``scripts/ant_data_diversity.py``):
    one row per initial-state variant, one column per :data:`ANT_DIVERSITY_METRICS` measure."""
    df = read_table("ant_data_diversity", profile, directory)
    out = df.pivot_table(index="variant", columns="metric", values="value", sort=False)
    out = out[[m for m in ANT_DIVERSITY_METRICS if m in out.columns]].rename(columns=ANT_DIVERSITY_METRICS)
    out.index = [ANT_VARIANTS.get(v, v) for v in out.index]
    out.columns.name = None
    return out.round(3)


def _table1_uniform_spec(profile: str, seed: int, cql: bool = False):
    """The run of Table 1's uniform-data cell for ``seed`` (plain BOReL, or BOReL + CQL): the runs Figure 5,
    Figure 3's Ant panel and :func:`ant_motion` show."""
    from borel_lib.sweep import cell_spec, grid_cells

    cell = next((c for c in grid_cells("table1") if c["init_state"] == "uniform" and c["seed"] == seed
                 and bool(c["rl"]["cql_alpha"]) == cql), None)
    if cell is None:
        raise ValueError(f"seed={seed} is not a seed of the table1 grid; allowed values: "
                         f"{sorted({c['seed'] for c in grid_cells('table1')})}")
    return cell_spec(cell, profile)


ANT_MOTION_METRICS: dict[str, str] = {
    "farthest_ep1": "farthest from the start, ep 1",
    "farthest_ep2": "farthest from the start, ep 2",
    "reached_arc_ep1": "reached the semi-circle, ep 1",
    "ruled_out_ep1": "semi-circle ruled out by the end of ep 1",
}
"""The measures of :func:`ant_motion` (column name: what it measures). The semi-circle has radius 1 around the
fixed start, so an agent must move about 1 to reach any goal."""


def ant_motion(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """Does anything move, or search, on Ant-Semi-circle? From the final trials each run writes (``_traj``
    tables: BOReL's last evaluation on the uniform data, with and without CQL; PEARL's and MBML's final
    agent, MBML on the uniform data and on the protocol's default data as separate rows), per method (mean over evaluation tasks, then mean ± s.e. over seeds): the torso's largest
    distance from the fixed start in episodes 1 and 2, the share of tasks whose episode 1 comes within the
    goal radius of the semi-circle, and the share of the semi-circle the exact posterior has ruled out by
    the end of episode 1 (the paper's search sweeps it; an agent that stands rules out nothing)."""
    from borel_lib.baselines.mbml import run_tag
    from borel_lib.envs import make_env
    from borel_lib.envs.point_robot import SEMICIRCLE_RADIUS as radius

    seeds = default_seeds(profile) if seeds is None else seeds
    env = make_env("ant_semicircle")
    traj = lambda name: result_path(f"{name}_traj", profile, directory)  # noqa: E731
    sources = {name: [traj(f"borel_{_table1_uniform_spec(profile, s, cql).tag}") for s in seeds]
               for name, cql in (("BOReL (RR)", False), ("BOReL + CQL (RR)", True))}
    sources["PEARL (final agent)"] = [traj(f"pearl_ant_semicircle_seed{s}") for s in seeds]
    for init_state, name in (("uniform", "MBML (final agent)"),
                             (None, "MBML (final agent; excluding-the-semi-circle data)")):
        sources[name] = [traj(run_tag('ant_semicircle', s, init_state, profile)) for s in seeds]
    rows = []
    for method, paths in sources.items():
        per_seed = []
        for path in (p for p in paths if p.is_file()):
            traj = read_table_file(path)
            if "updates" in traj:  # a BOReL table is of its last evaluation; keep only that, whatever it holds
                traj = traj[traj.updates == traj.updates.max()]
            wide = traj.pivot_table(index=["task", "t"], columns="metric", values="value").sort_index()
            n, T = wide.index.get_level_values("task").nunique(), env.horizon
            xy = wide[["x", "y"]].to_numpy().reshape(n, -1, T, 2)  # (task, episode, step, xy)
            dist = np.linalg.norm(xy, axis=-1)
            to_arc = np.where(xy[..., 1] >= 0, np.abs(dist - radius),  # below the x-axis: the nearer end of the arc
                              np.linalg.norm(xy - np.array([radius, 0.0]) * np.sign(xy[..., :1] + 1e-12), axis=-1))
            support = wide["support"].to_numpy().reshape(n, -1, T)
            per_seed.append({"farthest_ep1": dist[:, 0].max(-1).mean(), "farthest_ep2": dist[:, 1].max(-1).mean(),
                             "reached_arc_ep1": (to_arc[:, 0] <= env.goal_radius).any(-1).mean(),
                             "ruled_out_ep1": (1.0 - support[:, 0, -1]).mean()})
        if per_seed:
            v = pd.DataFrame(per_seed)
            se = v.std(ddof=1) / np.sqrt(len(v))
            rows.append({"method": method, "seeds": len(v),
                         **{ANT_MOTION_METRICS[m]: f"{v[m].mean():.2f}" + (f" ± {se[m]:.2f}" if len(v) > 1 else "")
                            for m in ANT_MOTION_METRICS}})
    if not rows:
        raise MissingResultsError(f"not yet produced: no Ant-Semi-circle trajectory table in {display_path(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)['table1']}`")
    return pd.DataFrame(rows).set_index("method")


def ant_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 5 (paper §6): the Ant's torso path in episodes 1 and 2 for four evaluation goals, from the
    first seed's BOReL run on the uniform data (no CQL; its ``_traj`` table, last evaluation)."""
    from borel_lib.envs import make_env
    from borel_lib.envs.point_robot import SEMICIRCLE_RADIUS as radius
    from borel_lib.pipeline import eval_tasks

    seeds = default_seeds(profile) if seeds is None else seeds
    spec = _table1_uniform_spec(profile, seeds[0])
    path = result_path(f"borel_{spec.tag}_traj", profile, directory)
    if not path.is_file():
        raise MissingResultsError(f"not yet produced: {display_path(path)}; run `{table_commands(profile)['figure5']}`")
    traj = read_table_file(path)
    traj = traj[traj.updates == traj.updates.max()]
    goals = eval_tasks("ant_semicircle", spec.seed)
    shown = np.linspace(0, len(goals) - 1, 4).round().astype(int)
    fig, axes = plt.subplots(1, len(shown), figsize=(14, 3.8), sharex=True, sharey=True)
    arc = np.linspace(0, np.pi, 100)
    for ax, task in zip(axes, shown):
        ax.plot(radius * np.cos(arc), radius * np.sin(arc), color="0.8", lw=6, zorder=0)
        plot_episode_paths(ax, traj, int(task))
        ax.add_patch(plt.Circle(goals[task], make_env("ant_semicircle").goal_radius, color="tab:green", alpha=0.5))
        ax.set(aspect="equal", title=f"goal {task}", xlim=(-1.5, 1.5), ylim=(-0.5, 1.5))
    axes[0].legend(loc="lower left", fontsize="small")
    fig.suptitle(f"Ant-Semi-circle, BOReL on the uniform data (seed {spec.seed}, last evaluation)")
    return fig


MUJOCO_FIG3 = {"cheetah_vel": ("Half-Cheetah-Vel", None, "cheetah"), "ant_semicircle": ("Ant-Semi-circle", "uniform", "ant")}
"""Figure 3's MuJoCo panels: domain -> (title, initial-state variant of the data BOReL learns from, ``None`` =
the collection protocol's, key of the command in :func:`table_commands`). The paper's Figure 3 uses
uniform-start data where a domain has variants; on Ant that is Table 1's uniform dataset, whose plain BOReL
cells are the panel's BOReL (RR) bars. Half-Cheetah-Vel's collection has one variant (its fixed start)."""


def _mujoco_bars(domain: str, profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """One MuJoCo panel of Figure 3 (paper §6): the paper's metric (first 2 episodes, averaged over the last
    10 % of each run's evaluations) of BOReL with reward relabelling and, once run, without, mean ± s.e. over
    seeds (dots: single seeds), beside PEARL and MBML measured the same way (not at their best evaluation)
    when their tables exist (MBML: :func:`_mbml_on`)."""
    from borel_lib.pipeline import RunSpec
    from borel_lib.results import baseline_runs, borel_runs

    title, init_state, command = MUJOCO_FIG3[domain]
    seeds = default_seeds(profile) if seeds is None else seeds
    specs = [RunSpec(domain, profile, relabelling=r, seed=s, init_state=init_state)
             for r in ("reward_relabelling", "none") for s in seeds]
    runs = borel_runs(profile, directory)
    runs = runs[runs.run.isin({sp.tag for sp in specs})] if len(runs) else runs
    if not len(runs):
        raise MissingResultsError(f"not yet produced: no {title} run in {display_path(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)[command]}`")
    base = baseline_runs(profile, directory)  # PEARL / MBML over their last 10 % of evaluations, as BOReL
    base = base[(base.domain == domain) & base.seed.isin(seeds)] if len(base) else runs.iloc[:0]
    mbml, labels = _mbml_on(base, domain, profile, seeds, specs[0].init_state)
    values = {m: t[t.method == m].metric.to_numpy()
              for m, t in (("borel_rr", runs), ("borel_no_rr", runs), ("pearl", base), ("mbml", mbml))}
    methods = [m for m, v in values.items() if m == "borel_rr" or len(v)]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for x, method in enumerate(methods):
        if len(values[method]):
            seed_bar(ax, x, values[method], color=METHOD_COLORS[method], label=f"{len(values[method])} seed(s)")
    ax.set_xticks(range(len(methods)), [labels.get(m, method_label(m)).replace(" (", "\n(") for m in methods])
    ax.set(ylabel="average return, first 2 episodes", title=title)
    return fig


def _mbml_on(base: pd.DataFrame, domain: str, profile: str, seeds: list[int], init_state: str):
    """MBML's runs for a panel whose BOReL bars learn from the ``init_state`` data: the runs on that data if
    any, else those on the collection protocol's default data, labelled with it (``{method: label}``)."""
    from borel_lib.baselines.mbml import run_tag
    from borel_lib.pipeline import resolve_init_state

    runs = base[base.method == "mbml"] if len(base) else base
    own = runs[runs.run.isin({run_tag(domain, s, init_state, profile) for s in seeds})] if len(runs) else runs
    if len(own) or not len(runs):
        return own, {}
    default = runs[runs.run.isin({run_tag(domain, s, None, profile) for s in seeds})]
    variant = resolve_init_state(domain, profile, None)
    return default, {"mbml": f"MBML ({BASELINE_METRIC};\n{ANT_VARIANTS.get(variant, variant)} data)"}


def cheetah_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Half-Cheetah-Vel panel (:func:`_mujoco_bars`)."""
    return _mujoco_bars("cheetah_vel", profile, directory, seeds)


def ant_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Ant-Semi-circle panel (:func:`_mujoco_bars`): BOReL on the uniform-start data (Table 1's
    uniform BOReL cells), without reward relabelling when run (``sweep fig3_ant``), PEARL and MBML."""
    return _mujoco_bars("ant_semicircle", profile, directory, seeds)


REACHER_METHODS: dict[str, str] = {"borel_rr": "BOReL (RR)", "borel_no_rr": "BOReL (no RR)",
                                   "borel_exact": "BOReL,\nexact belief", "pearl": f"PEARL\n({BASELINE_METRIC})",
                                   "mbml": f"MBML\n({BASELINE_METRIC})"}
"""Figure 3's Reacher-Image bars, in order (method: bar label)."""
REACHER_REFERENCES: dict[str, tuple[str, str]] = {"oracle": ("goal-known arm (oracle)", "--"),
                                                  "standing_still": ("standing still (a = 0)", ":")}
"""The reference lines of the Reacher-Image panel (``scripts/reacher_references.py``): method -> (label, style)."""


def _reacher_runs(profile: str, seeds: list[int]) -> dict[str, dict[int, str]]:
    """The result names of each :data:`REACHER_METHODS` run per seed (BOReL on the collection's fixed-start data,
    PEARL, MBML on the same data), whether they exist or not."""
    from borel_lib.baselines.mbml import run_tag as mbml_tag
    from borel_lib.baselines.pearl import run_tag as pearl_tag
    from borel_lib.pipeline import RunSpec

    borel = {"borel_rr": {}, "borel_no_rr": {"relabelling": "none"}, "borel_exact": {"belief": "exact"}}
    names = {m: {s: "borel_" + RunSpec("reacher_image", profile, seed=s, **kw).tag for s in seeds} for m, kw in borel.items()}
    names["pearl"] = {s: pearl_tag("reacher_image", s) for s in seeds}
    names["mbml"] = {s: mbml_tag("reacher_image", s, None, profile) for s in seeds}
    return names


def reacher_values(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None
                   ) -> dict[str, np.ndarray]:
    """The paper's metric (first 2 episodes, averaged over the last 10 % of each run's evaluations, as for every
    method) per seed of each :data:`REACHER_METHODS` method that has runs on Reacher-Image (methods without
    any are left out)."""
    from borel_lib.results import baseline_runs, borel_runs

    seeds = default_seeds(profile) if seeds is None else seeds
    borel, base = borel_runs(profile, directory), baseline_runs(profile, directory)
    metric = {**({f"borel_{r}": v for r, v in zip(borel.run, borel.metric)} if len(borel) else {}),
              **(dict(zip(base.run, base.metric)) if len(base) else {})}
    out = {}
    for method, names in _reacher_runs(profile, seeds).items():
        values = np.array([metric[n] for s, n in sorted(names.items()) if n in metric], dtype=float)
        if len(values):
            out[method] = values
    return out


def reacher_references(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None
                       ) -> dict[str, float]:
    """The references' paper metric (mean return over episodes 1-2, then over ``seeds``; every seed of the table
    when it has none of them) from ``references_reacher_image`` (empty when the table is missing)."""
    path = result_path("references_reacher_image", profile, directory)
    if not path.is_file():
        return {}
    ref = read_table_file(path).query("metric == 'return' and episode <= 2")
    if seeds is not None and ref.seed.isin(seeds).any():
        ref = ref[ref.seed.isin(seeds)]
    return ref.groupby(["method", "seed"]).value.mean().groupby("method").mean().to_dict()


def _iqm_bar(ax, x: float, values: np.ndarray, color: str) -> None:
    """One bar at ``x``: the interquartile mean of ``values`` (one per seed) with its bootstrap 95 % interval
    (:mod:`borel_lib.stats`; none with one seed), the seeds as dots."""
    from borel_lib.stats import bootstrap_ci, iqm

    height = iqm(values)
    yerr = None
    if len(values) > 1:
        low, high = bootstrap_ci(values)
        yerr = [[height - low], [high - height]]
    ax.bar(x, height, yerr=yerr, capsize=4, color=color)
    ax.scatter(np.full(len(values), x), values, color="k", s=12, zorder=3)


def reacher_bars(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None):
    """Figure 3's Reacher-Image panel (paper §6; the domain is ours, ``docs/differences.md``): the paper's metric
    (first 2 episodes, last 10 % of each run's evaluations) of BOReL with and without reward relabelling, BOReL
    with the exact belief (its posterior features in place of the VAE's latent), PEARL and MBML, each bar the interquartile mean over
    seeds with its bootstrap 95 % interval (dots: single seeds; methods not run yet are left out), and the
    references as lines: the goal-known arm and standing still (``scripts/reacher_references.py``)."""
    seeds = default_seeds(profile) if seeds is None else seeds
    values = reacher_values(profile, directory, seeds)
    if not values:
        raise MissingResultsError(f"not yet produced: no Reacher-Image run in "
                                  f"{display_path(Path(directory or results_dir(profile)))}; "
                                  f"run `{table_commands(profile)['reacher']}`")
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    methods = [m for m in REACHER_METHODS if m in values]
    for x, method in enumerate(methods):
        _iqm_bar(ax, x, values[method], METHOD_COLORS[method])
    seeds_text = {m: f"{len(v)} seed" + ("s" if len(v) > 1 else "") for m, v in values.items()}
    ax.set_xticks(range(len(methods)), [f"{REACHER_METHODS[m]}\n{seeds_text[m]}" for m in methods])
    refs = reacher_references(profile, directory, seeds)
    for method, (name, style) in REACHER_REFERENCES.items():
        if method in refs:
            ax.axhline(refs[method], color=METHOD_COLORS["oracle"], ls=style, lw=1.5, label=f"{name} {refs[method]:.2f}")
    if refs:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    else:
        ax.text(0.01, 0.02, f"references not yet produced: run `{table_commands(profile)['references_reacher_image']}`",
                transform=ax.transAxes, fontsize="x-small")
    ax.set(ylabel="average return, first 2 episodes\n(IQM, 95 % CI over seeds)", title="Reacher-Image")
    return fig


def reacher_trajectories(profile: str, directory: str | Path | None = None, seeds: list[int] | None = None,
                         n_targets: int = 4):
    """The fingertip in episodes 1 and 2 on ``n_targets`` evaluation targets (evenly spread over the evaluation
    tasks' indices), one row per method with a ``_traj`` table for the first seed (BOReL at its last evaluation,
    PEARL's and MBML's final agents): the target (its success disc), the quarter circle it lies on and the arm's
    reach drawn. With dense rewards a Bayes-optimal arm need not search: every step's reward tells the distance to
    the target, so in episode 1 it can home in, and in episode 2 go straight there."""
    from borel_lib.envs.reacher_image import LINK_LENGTHS, ReacherImageEnv
    from borel_lib.tasks import eval_tasks

    seeds = default_seeds(profile) if seeds is None else seeds
    seed = seeds[0]
    names = {m: n[seed] for m, n in _reacher_runs(profile, [seed]).items()}
    paths = {m: result_path(f"{n}_traj", profile, directory) for m, n in names.items()}
    tables = {m: read_table_file(p) for m, p in paths.items() if p.is_file()}
    if not tables:
        raise MissingResultsError(f"not yet produced: {display_path(paths['borel_rr'])}; "
                                  f"run `{table_commands(profile)['reacher']}`")
    last = {m: t[t[c] == t[c].max()] for m, t in tables.items() for c in ("updates", "iteration") if c in t}
    tables = {m: last.get(m, t) for m, t in tables.items()}
    # every method draws its tasks from the same stream (PEARL evaluates the first 16 of BOReL's 20): the tasks all
    # tables hold, so a column is one target
    targets = eval_tasks("reacher_image", seed, min(int(t.task.nunique()) for t in tables.values()))
    shown = np.linspace(0, len(targets) - 1, n_targets).round().astype(int)
    radius, reach = ReacherImageEnv.target_radius, sum(LINK_LENGTHS)
    angle, circle = np.linspace(0, np.pi / 2, 50), np.linspace(0, 2 * np.pi, 200)
    fig, axes = plt.subplots(len(tables), n_targets, figsize=(3 * n_targets, 3.1 * len(tables)), sharex=True,
                             sharey=True, squeeze=False)
    for row, (method, traj) in zip(axes, tables.items()):
        for ax, task in zip(row, shown):
            ax.plot(reach * np.cos(circle), reach * np.sin(circle), color="0.85", lw=1, ls=":", zorder=0)
            ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="0.8", lw=6, zorder=0)
            plot_episode_paths(ax, traj, int(task))
            ax.add_patch(plt.Circle(targets[task], ReacherImageEnv.success_distance, color="tab:green", alpha=0.5))
            ax.plot(*targets[task], marker="x", color="tab:green", ms=8)
            ax.set(aspect="equal", xlim=(-0.23, 0.23), ylim=(-0.23, 0.23), title=f"target {task}")
        row[0].set_ylabel(REACHER_METHODS[method].replace("\n", " ") if method.startswith("borel")
                          else f"{method.upper()} (final agent)")
    axes[0, 0].legend(loc="lower left", fontsize="small")
    fig.suptitle(f"Reacher-Image, the fingertip in episodes 1 and 2 (seed {seed}; BOReL: last evaluation)")
    return fig


def collector_label(values: dict) -> str:
    """Which SAC collected a dataset, from its collection config: the calibrated one (automatic entropy
    tuning, :data:`borel_lib.agents.CALIBRATED_SAC`) or the authors' (α fixed)."""
    return "authors' SAC" if values.get("target_entropy") is None else "calibrated SAC"


def mujoco_collection_curves(profile: str, directory: str | Path | None = None):
    """The MuJoCo collections' learning curves: Ant success per iteration for each initial-state variant
    (mean over the agents; the dataset keeps the sparse reward) and Half-Cheetah-Vel's episode return."""
    from borel_lib.collect import CollectConfig, dataset_name

    names = {v: f"collect_{dataset_name(CollectConfig.for_domain('ant_semicircle', profile, init_state=v), profile)}"
             for v in ANT_VARIANTS}
    names["cheetah_vel"] = f"collect_{dataset_name(CollectConfig.for_domain('cheetah_vel', profile), profile)}"
    tables = {}
    for key, name in names.items():
        try:
            tables[key] = read_table(name, profile, directory)
        except MissingResultsError:
            continue
    if not tables:
        raise MissingResultsError(f"not yet produced: {display_path(Path(directory or results_dir(profile)) / (names['uniform'] + '.csv'))}; "
                                  f"run `{table_commands(profile)['collect_ant']}`")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.6))
    for key, t in tables.items():
        target, metric = (ax2, "return") if key == "cheetah_vel" else (ax, "success")
        c = t[t.metric == metric].groupby("iteration").value.mean()
        label = ANT_VARIANTS.get(key, "Half-Cheetah-Vel")
        if key != "cheetah_vel":  # a re-collection with the calibrated SAC is said apart from the authors' SAC
            label += f" ({collector_label(read_config(names[key], profile, directory))})"
        target.plot(c.index, c.values, label=label)
    ax.set(xlabel="collection iteration (-1: random warm-up)", ylabel="success rate (sparse goal)",
           title="Ant-Semi-circle collection", ylim=(-0.05, 1.05))
    ax2.set(xlabel="collection iteration (-1: random warm-up)", ylabel="episode return", title="Half-Cheetah-Vel collection")
    for a in (ax, ax2):
        if a.lines:
            a.legend(fontsize="small")
    return fig


SAC_CALIBRATION_LABELS = {"sac_alpha0.2": "authors' SAC (α 0.2 fixed, 128×128)",
                          "sac_alpha0.2_target-8": "authors' SAC with automatic α (128×128)",
                          "sac_calibrated": "calibrated SAC (CleanRL's settings, 256×256)"}
"""The committed ``probe_sac_gym_ant_*`` runs' methods, as the calibration table names them."""


def sac_calibration(profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """Does the collectors' SAC walk on Gymnasium's Ant-v5? The mean action's forward speed (units/s, the
    torso's x velocity averaged over each evaluation episode) per SAC setting, seed and number of updates,
    from every committed ``probe_sac_gym_ant_*`` table (``scripts/probe_sac_gym_ant.py``); rows: setting and
    seed, columns: environment steps. The semi-circle task needs about 0.1 units/s (1 unit in 200 steps)."""
    paths = find_results("probe_sac_gym_ant_*", profile, directory)
    if not paths:
        raise MissingResultsError(f"not yet produced: no probe_sac_gym_ant table in "
                                  f"{display_path(Path(directory or results_dir(profile)))}; run "
                                  "`python scripts/probe_sac_gym_ant.py --sac calibrated --seeds 0 1 --steps 150000`")
    df = pd.concat([read_table_file(p) for p in paths], ignore_index=True)
    df = df[(df.variant == "mean_action") & (df.metric == "x_velocity")]
    df = df.assign(setting=df.method.map(SAC_CALIBRATION_LABELS).fillna(df.method))
    # a setting run twice (60k and 120k updates) keeps each evaluation once: the longer run's where both have it
    df = df.drop_duplicates(["setting", "seed", "steps"], keep="last")
    out = df.pivot_table(index=["setting", "seed"], columns="steps", values="value").round(3)
    out.columns = [f"{int(c) // 1000}k" for c in out.columns]
    return out
