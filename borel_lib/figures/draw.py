"""Drawing helpers shared by the notebooks (figures are styled by :mod:`borel_lib.figures.style`)."""

from __future__ import annotations

import numpy as np


def draw_toy(ax, toy, visits: np.ndarray | None = None, title: str = "", colors=("tab:blue", "gold")) -> None:
    """Draw a tabular toy world: cells, each MDP's special cell, and each MDP's visited cells.

    ``visits`` (N, S, A) defaults to the toy's own-policy visitation; cell shading shows which MDPs'
    data visits it (left half MDP 0, right half MDP 1).
    """
    from matplotlib.patches import Circle, Rectangle

    w, h = toy.shape
    visits = toy.visits if visits is None else visits
    seen = visits.sum(-1) > 0  # (N, S)
    for x in range(w):
        for y in range(h):
            s = x * h + y
            ax.add_patch(Rectangle((x, y), 1, 1, fill=False, ec="0.8", lw=0.8))
            for i in range(min(2, seen.shape[0])):
                if seen[i, s]:
                    ax.add_patch(Rectangle((x + 0.5 * i, y), 0.5, 1, color=colors[i], alpha=0.25, lw=0))
    for i, (gx, gy) in enumerate(toy.special[:2]):
        ax.add_patch(Circle((gx + 0.5, gy + 0.5), 0.3, fc="none", ec=colors[i], lw=3))
    start = int(np.argmax(toy.init_dist))
    ax.plot(start // h + 0.5, start % h + 0.5, marker="s", color="k", ms=8)
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


def draw_grid_trial(ax, size: int, path: np.ndarray, goal: tuple[int, int], horizon: int,
                    candidates: np.ndarray | None = None, title: str = "") -> None:
    """Draw a Gridworld trial: the grid, candidate goals, the goal, and each episode's path
    (``path`` = positions at trial steps 0..kH, episodes of ``horizon`` steps restart at (0, 0))."""
    import matplotlib.pyplot as plt

    for v in range(size + 1):
        ax.plot([v - 0.5, v - 0.5], [-0.5, size - 0.5], color="0.85", lw=0.8)
        ax.plot([-0.5, size - 0.5], [v - 0.5, v - 0.5], color="0.85", lw=0.8)
    if candidates is not None:
        ax.scatter(candidates[:, 0], candidates[:, 1], s=30, c="0.75", marker="o", zorder=1)
    ax.scatter([goal[0]], [goal[1]], s=400, marker="*", c="gold", ec="k", zorder=3)
    n_ep = (len(path) - 1) // horizon
    cmap = plt.get_cmap("viridis", max(n_ep, 2))
    for e in range(n_ep):
        seg = np.vstack([[0, 0], path[e * horizon + 1 : (e + 1) * horizon + 1]])
        jitter = (e - (n_ep - 1) / 2) * 0.08
        ax.plot(seg[:, 0] + jitter, seg[:, 1] + jitter, "-o", ms=3, color=cmap(e), label=f"episode {e + 1}", zorder=2)
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(-0.5, size - 0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.grid(False)
    ax.set_title(title)


def bayes_optimal_trial(search_path: np.ndarray, goal: tuple[int, int], horizon: int) -> np.ndarray:
    """The Bayes-optimal agent's positions for a given goal: it follows the search path until it steps
    on the goal, stays there, and walks straight to it (x first) in later episodes."""
    T = len(search_path) - 1
    goal = tuple(int(v) for v in goal)
    out = [tuple(search_path[0])]
    found_at = next((i for i in range(1, T + 1) if tuple(search_path[i]) == goal), None)
    for tau in range(T):
        e, t = divmod(tau, horizon)
        if found_at is None or tau + 1 < found_at:
            out.append(tuple(search_path[tau + 1]))
        elif e == (found_at - 1) // horizon:  # found in this episode: stay on the goal
            out.append(goal)
        else:  # a later episode: shortest path from (0, 0), x first, then stay
            x = min(t + 1, goal[0])
            y = min(max(t + 1 - goal[0], 0), goal[1])
            out.append((x, y))
    return np.array(out)


# ------------------------------------------------------------------------------ domain pictures
def draw_semicircle(ax, goals: np.ndarray, radius: float = 0.2, annulus: tuple[float, float] | None = None) -> None:
    """The unit upper semicircle, goal discs of ``radius`` and (optionally) the excluded annulus."""
    from matplotlib.patches import Circle, Wedge

    theta = np.linspace(0, np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="0.5", lw=1, ls="--")
    if annulus is not None:
        ax.add_patch(Wedge((0, 0), annulus[1], 0, 360, width=annulus[1] - annulus[0], color="tab:red", alpha=0.08))
    for g in np.atleast_2d(goals):
        ax.add_patch(Circle(tuple(g), radius, color="tab:cyan", alpha=0.25, lw=0))
    ax.set_aspect("equal")


def draw_escape_room(ax, thetas: np.ndarray, width: float = np.pi / 8) -> None:
    """The circular wall (radius 1) with each task's opening drawn as a coloured gap."""
    phi = np.linspace(-np.pi, np.pi, 400)
    ax.plot(np.cos(phi), np.sin(phi), color="0.2", lw=2)
    for th in np.ravel(thetas):
        arc = np.linspace(th - width / 2, th + width / 2, 30)
        ax.plot(np.cos(arc), np.sin(arc), color="white", lw=3)
        ax.plot(1.05 * np.cos(arc), 1.05 * np.sin(arc), color="tab:green", lw=2, alpha=0.6)
    escape = np.linspace(0, 2 * np.pi, 200)
    ax.plot(1.2 * np.cos(escape), 1.2 * np.sin(escape), color="tab:cyan", lw=1, ls=":")
    ax.set_aspect("equal")


def draw_wind(ax, winds: np.ndarray, goal=(0.0, 1.0), radius: float = 0.03) -> None:
    """Wind vectors (scaled x10, from the origin) and the fixed goal."""
    from matplotlib.patches import Circle

    w = np.atleast_2d(winds)
    ax.quiver(np.zeros(len(w)), np.zeros(len(w)), w[:, 0], w[:, 1], angles="xy", scale_units="xy", scale=0.1,
              color="tab:purple", alpha=0.6, width=0.006)
    ax.add_patch(Circle(goal, radius, color="tab:cyan"))
    ax.set_aspect("equal")
