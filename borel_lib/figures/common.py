"""What every figure module shares: reading the result tables, the "not yet produced" error, and a few
helpers for legends, seeds and logged trajectories.

A figure function reads CSV tables (``data/results/<profile>/``) and their ``.config.json``; it never
loads a checkpoint, a dataset or a trained model (the CORL habit: ``tests/test_figure_functions.py``
fails if one does). The tables are written by the training side: notebooks with ``TRAIN=True``,
``python -m borel_lib.pipeline``, ``python -m borel_lib.collect``, ``scripts/belief_vs_exact.py``.
A missing table raises :class:`MissingResultsError`, whose message is one line naming the command that
makes it (:func:`table_commands`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from borel_lib.config import resolve_profile
from borel_lib.paths import repo_root
from borel_lib.results import read_table_file, result_path

__all__ = ["N_METRIC", "MissingResultsError", "committed_seeds", "default_seeds", "display_path", "episode_paths",
           "method_label", "plot_episode_paths", "plot_grid_episodes", "plot_semicircle_episodes", "read_config", "read_table", "references", "run_table",
           "seed_bar", "table_commands"]

N_METRIC = {"gridworld": 4, "semicircle": 2, "wind": 1, "escape_room": 2}
"""Episodes averaged by the paper's metric per domain (Gridworld 4, Semi-circle 2, Wind 1, Escape-Room 2)."""


class MissingResultsError(FileNotFoundError):
    """A result table a figure needs was never generated; the message names the command that makes it."""


def _notebook_command(notebook: str, profile: str) -> str:
    return f"make train PROFILE={profile} NOTEBOOKS=notebooks/{notebook}.ipynb"


def table_commands(profile: str) -> dict[str, str]:
    """The command that (re)generates each result table a figure reads, for ``profile``."""
    nb01, nb03, nb04 = (_notebook_command(n, profile) for n in ("01_mdp_ambiguity", "03_collect_data", "04_belief_vae"))
    borel = f"make train PROFILE={profile} NOTEBOOKS=notebooks/05_offline_borel.ipynb"
    return {
        "gridworld_exact": nb01, "gridworld_exact_search": nb01,
        "collect_gridworld_uniform_seed0": f"python -m borel_lib.collect gridworld --profile {profile}",
        "collect_semicircle_uniform_seed0": f"python -m borel_lib.collect semicircle --profile {profile}",
        "collect_semicircle_uniform_seed0_traj": nb03, "coverage_semicircle": nb03, "identifiability_semicircle": nb03,
        "belief_semicircle_maps": nb04,
        "identifiability_transition_domains": _notebook_command("06_policy_replaying", profile),
        "identifiability_gap": f"python scripts/identifiability_gap.py --profile {profile}",
        "belief_vs_exact": f"python scripts/belief_vs_exact.py --profile {profile}",
        "belief_reacher_image_angle_traj": f"python scripts/reacher_belief.py --profile {profile}",
        "belief_reacher_image_angle_bins_traj": f"python scripts/reacher_belief.py --profile {profile}",
        "references_semicircle_gridworld": borel, "borel": borel,
        "table1": f"python -m borel_lib.sweep table1 --profile {profile}",
        "figure4": f"python -m borel_lib.pipeline {{wind,escape_room}} --profile {profile} "
                   "--relabelling {policy_replay,none} --seed {0,1,2}",
        "references_transition_domains": _notebook_command("06_policy_replaying", profile),
        "figure5": f"python -m borel_lib.sweep table1 --profile {profile}",
        "collect_ant": f"python -m borel_lib.collect ant_semicircle --profile {profile} --init-state "
                       "{uniform,exclude_semicircle,fixed}",
        "cheetah": f"python -m borel_lib.sweep fig3_cheetah --profile {profile}",
        "ant": f"python -m borel_lib.sweep fig3_ant --profile {profile}",
        "reacher": f"python -m borel_lib.pipeline reacher_image --profile {profile} --relabelling "
                   "{reward_relabelling,none} --seed {0,1,2}",
        "references_reacher_image": f"python scripts/reacher_references.py --profile {profile}",
        "probe_ant_collectors_uniform_shared": "python scripts/probe_ant_collectors.py --init-state uniform",
        "ant_data_diversity": f"python scripts/ant_data_diversity.py --profile {profile}",
        "probe_online_exact_online_seed0": f"python scripts/probe_online_exact.py --data online --profile {profile}",
        "probe_online_exact_offline_online_seed0":
            f"python scripts/probe_online_exact.py --data offline+online --profile {profile}",
        "online": f"python -m borel_lib.online.{{varibad_ppo,varibad_offpolicy}} {{gridworld,semicircle}} "
                  f"--profile {profile} --seed {{0,1,2}}",
    }


def display_path(path: Path) -> str:
    """``path`` as messages show it: relative to the repository root, or its file name if outside."""
    try:
        return str(path.resolve().relative_to(repo_root()))
    except ValueError:
        return path.name


def _command_for(name: str, profile: str) -> str:
    """The command of :func:`table_commands` that makes table ``name`` (any ``borel_*`` table: the BOReL one)."""
    key = "borel" if name.startswith("borel_") else name
    return table_commands(profile).get(key, f"make train PROFILE={profile}")


def read_table(name: str, profile: str, directory: str | Path | None = None) -> pd.DataFrame:
    """The result table ``name`` of ``profile`` (its file: :func:`borel_lib.results.result_path`, read and checked by
    :func:`borel_lib.results.read_table_file`), or :class:`MissingResultsError` naming the command (from
    :func:`table_commands`) that makes it."""
    path = result_path(name, profile, directory)
    if not path.is_file():
        raise MissingResultsError(f"not yet produced: {display_path(path)}; run `{_command_for(name, profile)}`")
    return read_table_file(path)


def read_config(name: str, profile: str, directory: str | Path | None = None) -> dict:
    """The ``values`` of ``<name>.config.json`` beside a result table."""
    path = result_path(name, profile, directory, kind="config")
    if not path.is_file():
        raise MissingResultsError(f"not yet produced: {display_path(path)}; run `{_command_for(name, profile)}`")
    return json.loads(path.read_text(encoding="utf-8"))["values"]


BASELINE_METRIC = "last 10 %"
"""How the baselines' bars are measured, said in their labels: the paper's metric averaged over the last 10 %
of their evaluations, the primary metric of every method (:func:`borel_lib.results.baseline_runs`), not
their best evaluation over training."""


def method_label(method: str) -> str:
    """The legend name of a method (``borel_rr`` -> ``BOReL (RR)``, ``pearl`` -> ``PEARL (last 10 %)``)."""
    return {"borel_rr": "BOReL (RR)", "borel_no_rr": "BOReL (no RR)", "borel_exact": "exact belief",
            "pearl": f"PEARL ({BASELINE_METRIC})", "mbml": f"MBML ({BASELINE_METRIC})",
            "pearl_tuned": f"PEARL, tuned ({BASELINE_METRIC})", "mbml_tuned": f"MBML, tuned ({BASELINE_METRIC})"}.get(
        method, method.replace("_", " "))


def with_tuned_baselines(base, profile: str):
    """Baseline runs (:func:`borel_lib.results.baseline_runs`) with each baseline that has a finished tuning grid
    on a domain (``tune_<baseline>_<domain>``) and test runs of its chosen setting
    (:func:`borel_lib.sweep.tuned_config`) shown by those: their ``method`` becomes ``<baseline>_tuned`` and the
    quick-default runs of that baseline and domain are dropped (the fair comparison is the tuned one; the tables
    keep both)."""
    from borel_lib.results import run_config, tuned_baselines

    if not len(base):
        return base
    config = run_config(base.run)
    for (baseline, domain), chosen in tuned_baselines(profile).items():
        if not (config == chosen).any():
            continue
        default = (base.domain == domain) & (base.method == baseline)
        base = base.assign(method=base.method.where(config != chosen, f"{baseline}_tuned"))[~default | (config == chosen)]
        config = run_config(base.run)
    return base


def committed_seeds(runs, seeds: list[int] | None) -> list[int] | None:
    """``seeds`` if given, else every seed of the BOReL runs table ``runs`` (:func:`borel_lib.results.borel_runs`),
    as the results table counts them (``None`` when there are no runs: the caller's default then applies)."""
    if seeds is not None or not len(runs):
        return seeds
    return sorted({int(s) for s in runs.seed})


def default_seeds(profile: str) -> list[int]:
    """The seeds the BOReL figures average: ``[0]`` in smoke, ``[0, 1, 2]`` otherwise."""
    return [0] if resolve_profile(profile) == "smoke" else [0, 1, 2]


def references(profile: str, directory: str | Path | None = None,
               name: str = "references_semicircle_gridworld") -> dict[str, dict[str, np.ndarray]]:
    """Per-episode returns of the reference agents per domain and method (table ``name``, by default
    Figure 3's ``references_semicircle_gridworld``, in the order written)."""
    ref = read_table(name, profile, directory)
    out: dict[str, dict[str, np.ndarray]] = {}
    for (domain, method), g in ref.groupby(["domain", "method"], sort=False):
        out.setdefault(domain, {})[method] = g.sort_values("episode").value.to_numpy()
    return out


def run_table(spec, kind: str, directory: str | Path | None = None) -> pd.DataFrame | None:
    """A BOReL run's ``_final`` (per-task returns, search metrics) or ``_traj`` (trajectories) table, or None."""
    path = result_path(f"borel_{spec.tag}_{kind}", spec.profile, directory)
    return read_table_file(path) if path.is_file() else None


def episode_paths(traj: pd.DataFrame, task: int) -> dict[int, np.ndarray]:
    """Positions (x, y) per episode of one evaluation task in a ``_traj`` table."""
    t = traj[traj.task == task].pivot_table(index=["episode", "t"], columns="metric", values="value")
    return {e: g[["x", "y"]].to_numpy() for e, g in t.groupby(level=0)}


def seed_bar(ax, x: float, values: np.ndarray, **bar_kwargs) -> None:
    """One bar at ``x``: the mean of ``values`` (one per seed) ± its standard error, the seeds as dots."""
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    ax.bar(x, values.mean(), yerr=se, capsize=4, **bar_kwargs)
    ax.scatter(np.full(len(values), x), values, color="k", s=12, zorder=3)


def plot_grid_episodes(ax, traj: pd.DataFrame, task: int, goal: np.ndarray, title: str) -> None:
    """A Gridworld trial of ``task`` in a trajectory table: every episode's path from the start (0, 0), coloured
    by episode and offset a little so overlapping paths stay visible, the goal as a red star."""
    import matplotlib.pyplot as plt

    for e, xy in episode_paths(traj, task).items():
        xy = np.r_[np.zeros((1, 2)), xy] + (e - 2.5) * 0.06
        ax.plot(xy[:, 0], xy[:, 1], "-o", ms=2, color=plt.cm.viridis((e - 1) / 3), label=f"episode {e}")
    ax.scatter(*goal, marker="*", s=250, c="red", zorder=5)
    ax.set(xlim=(-0.5, 4.5), ylim=(-0.5, 4.5), xticks=range(5), yticks=range(5), aspect="equal")
    ax.set_title(title, fontsize="small")
    ax.grid(True, lw=0.3)


def plot_semicircle_episodes(ax, traj: pd.DataFrame, task: int) -> None:
    """A Semi-circle trial of ``task`` in a trajectory table: episode 1 (blue) and episode 2 (orange), each drawn
    from the start at the origin."""
    for e, xy in episode_paths(traj, task).items():
        if e <= 2:
            ax.plot(np.r_[0, xy[:, 0]], np.r_[0, xy[:, 1]], color=("tab:blue", "tab:orange")[e - 1],
                    label=f"episode {e}")


def plot_episode_paths(ax, traj: pd.DataFrame, task: int) -> None:
    """Episode 1 (blue) and episode 2 (orange) of ``task``'s trial in a trajectory table."""
    paths = episode_paths(traj, task)
    for e, color in ((1, "tab:blue"), (2, "tab:orange")):
        if e in paths:
            ax.plot(paths[e][:, 0], paths[e][:, 1], color=color, label=f"episode {e}")
