"""A tabular identifiability checker for offline meta-RL data (paper §4).

N MDPs share S states and A actions; MDP ``i`` has an expected-reward table ``R[i]`` (S, A) and a
transition tensor ``P[i]`` (S, A, S). The data of MDP ``i`` is summarised by its state-action visitation
``d[i]`` (S, A): exact expected counts (:func:`visitation`) or empirical counts of a real dataset
discretised onto a grid; "positive probability" means ``d > threshold``.

- Definition 2, identifying pairs: ``R_i(s,a) != R_j(s,a)`` or ``P_i(.|s,a) != P_j(.|s,a)``
  (:func:`identifying_pairs`).
- Definition 3, overlapping pairs: visited under both ``i``'s and ``j``'s data (:func:`overlapping_pairs`).
- Proposition 2, a *sufficient* condition for identifiability: every pair of MDPs has an identifying
  state-action that overlaps (:func:`check_identifiability`). Failing it does not prove ambiguity;
  :func:`ambiguity_witness` proves it constructively in the reward-only case (Definition 1).
- Proposition 3, policy replaying: collect every MDP's data with a uniformly drawn collection policy
  (:func:`policy_replay_visits`); reward relabelling does the same in hindsight when only rewards differ
  (:func:`reward_relabel_visits`).

:func:`figure2_example` and :func:`escape_room_example` build the small worlds notebook 01 uses.
:func:`discretised_reward_identifiability` (notebook 03) and :func:`discretised_transition_identifiability`
(notebook 06) run the checker on real continuous datasets, discretised onto a grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TabularMDPs:
    """N finite MDPs on shared state and action sets (validated on construction)."""

    rewards: np.ndarray
    """Expected rewards, shape ``(N, S, A)``."""
    transitions: np.ndarray
    """Transition probabilities ``P[i, s, a, s']``, shape ``(N, S, A, S)``; rows sum to 1."""
    names: tuple[str, ...] = ()
    """Optional names of the MDPs (default ``M0, M1, ...``)."""

    def __post_init__(self) -> None:
        R = np.asarray(self.rewards, dtype=np.float64)
        P = np.asarray(self.transitions, dtype=np.float64)
        if R.ndim != 3:
            raise ValueError(f"TabularMDPs.rewards must have shape (N, S, A); got {R.shape}")
        N, S, A = R.shape
        if P.shape != (N, S, A, S):
            raise ValueError(f"TabularMDPs.transitions must have shape (N, S, A, S) = {(N, S, A, S)}; got {P.shape}")
        if np.any(P < 0) or not np.allclose(P.sum(-1), 1.0, atol=1e-8):
            raise ValueError("TabularMDPs.transitions: every P[i, s, a, :] must be a probability vector")
        names = tuple(self.names) or tuple(f"M{i}" for i in range(N))
        if len(names) != N:
            raise ValueError(f"TabularMDPs.names must have N={N} entries; got {len(names)}")
        object.__setattr__(self, "rewards", R)
        object.__setattr__(self, "transitions", P)
        object.__setattr__(self, "names", names)

    @property
    def n(self) -> int:
        return self.rewards.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(N, S, A)."""
        return self.rewards.shape  # type: ignore[return-value]

    def transitions_shared(self, atol: float = 1e-12) -> bool:
        """True when all MDPs have the same dynamics (tasks differ only in rewards)."""
        return bool(np.all(np.abs(self.transitions - self.transitions[:1]) <= atol))


def _policies(mdps: TabularMDPs, policies: np.ndarray) -> np.ndarray:
    N, S, A = mdps.shape
    pi = np.asarray(policies, dtype=np.float64)
    if pi.shape == (S, A):
        pi = np.broadcast_to(pi, (N, S, A))
    if pi.shape != (N, S, A):
        raise ValueError(f"policies must have shape (S, A)={(S, A)} or (N, S, A)={(N, S, A)}; got {pi.shape}")
    if np.any(pi < 0) or not np.allclose(pi.sum(-1), 1.0, atol=1e-8):
        raise ValueError("policies: every policy[i, s, :] must be a probability vector over actions")
    return pi


def visitation(mdps: TabularMDPs, policies: np.ndarray, init_dist: np.ndarray, horizon: int) -> np.ndarray:
    """Expected state-action visit counts ``(N, S, A)`` of running ``policies[i]`` in MDP ``i`` for
    ``horizon`` steps from ``init_dist`` (exact matrix propagation)."""
    N, S, A = mdps.shape
    pi = _policies(mdps, policies)
    rho = np.asarray(init_dist, dtype=np.float64)
    if rho.shape != (S,) or not np.isclose(rho.sum(), 1.0) or np.any(rho < 0):
        raise ValueError(f"init_dist must be a probability vector of length S={S}; got shape {rho.shape}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer; got {horizon!r}")
    state = np.broadcast_to(rho, (N, S)).copy()
    visits = np.zeros((N, S, A))
    for _ in range(horizon):
        sa = state[:, :, None] * pi
        visits += sa
        state = np.einsum("nsa,nsat->nt", sa, mdps.transitions)
    return visits


def identifying_pairs(mdps: TabularMDPs, atol: float = 1e-9) -> np.ndarray:
    """Definition 2: ``out[i, j, s, a]`` is True when (s, a) distinguishes MDPs i and j."""
    R, P = mdps.rewards, mdps.transitions
    dr = np.abs(R[:, None] - R[None, :]) > atol
    if mdps.transitions_shared(atol):  # common case; avoids an (N, N, S, A, S) comparison
        return dr
    dp = np.any(np.abs(P[:, None] - P[None, :]) > atol, axis=-1)
    return dr | dp


def overlapping_pairs(visits: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Definition 3: ``out[i, j, s, a]`` is True when (s, a) is visited in both i's and j's data."""
    d = np.asarray(visits, dtype=np.float64)
    if d.ndim != 3:
        raise ValueError(f"visits must have shape (N, S, A); got {d.shape}")
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("visits must be finite and non-negative")
    pos = d > threshold
    return pos[:, None] & pos[None, :]


@dataclass(frozen=True)
class IdentifiabilityReport:
    """Result of :func:`check_identifiability` (Proposition 2)."""

    names: tuple[str, ...]
    """MDP names."""
    n_identifying: np.ndarray
    """``(N, N)`` number of identifying state-actions per pair."""
    n_overlapping: np.ndarray
    """``(N, N)`` number of overlapping state-actions per pair."""
    n_overlapping_identifying: np.ndarray
    """``(N, N)`` number of state-actions that are both."""
    failing_pairs: tuple[tuple[int, int], ...] = field(default=())
    """Pairs i < j with no overlapping identifying state-action."""

    @property
    def has_overlapping_identifying(self) -> np.ndarray:
        """``(N, N)`` bool: the pair has an overlapping identifying state-action (True on the diagonal)."""
        ok = self.n_overlapping_identifying > 0
        np.fill_diagonal(ok, True)
        return ok

    @property
    def sufficient_condition_holds(self) -> bool:
        """Proposition 2's condition: true means the data is identifiable; false is inconclusive."""
        return not self.failing_pairs

    def to_frame(self) -> pd.DataFrame:
        """One row per pair i < j."""
        N = len(self.names)
        rows = []
        for i in range(N):
            for j in range(i + 1, N):
                rows.append({"i": self.names[i], "j": self.names[j],
                             "n_identifying": int(self.n_identifying[i, j]),
                             "n_overlapping": int(self.n_overlapping[i, j]),
                             "n_overlapping_identifying": int(self.n_overlapping_identifying[i, j]),
                             "ok": bool(self.n_overlapping_identifying[i, j] > 0)})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        N = len(self.names)
        n_pairs = N * (N - 1) // 2
        head = (f"Proposition 2 holds: identifiable ({n_pairs} pairs checked)" if self.sufficient_condition_holds
                else f"Proposition 2 fails for {len(self.failing_pairs)} of {n_pairs} pairs "
                     "(no overlapping identifying state-action): ambiguity is possible")
        shown = ", ".join(f"({self.names[i]}, {self.names[j]})" for i, j in self.failing_pairs[:5])
        return head + (f"; e.g. {shown}" if shown else "")


def check_identifiability(mdps: TabularMDPs, visits: np.ndarray, threshold: float = 0.0,
                          atol: float = 1e-9) -> IdentifiabilityReport:
    """Check Proposition 2's sufficient condition on data with visitation ``visits`` (N, S, A)."""
    d = np.asarray(visits, dtype=np.float64)
    if d.shape != mdps.shape:
        raise ValueError(f"visits must have the MDPs' shape (N, S, A)={mdps.shape}; got {d.shape}")
    return _report(mdps.names, identifying_pairs(mdps, atol), d, threshold)


def _report(names: tuple[str, ...], ident: np.ndarray, visits: np.ndarray, threshold: float) -> IdentifiabilityReport:
    """Proposition 2 from an identifying mask ``(N, N, S, A)`` and visitation ``(N, S, A)``."""
    over = overlapping_pairs(visits, threshold)
    n_both = (ident & over).sum(axis=(2, 3))
    N = len(names)
    failing = tuple((i, j) for i in range(N) for j in range(i + 1, N) if n_both[i, j] == 0)
    return IdentifiabilityReport(names, ident.sum(axis=(2, 3)), over.sum(axis=(2, 3)), n_both, failing)


def ambiguity_witness(mdps: TabularMDPs, visits: np.ndarray, i: int, j: int,
                      threshold: float = 0.0, atol: float = 1e-9) -> np.ndarray | None:
    """Definition 1, constructively, for MDPs that share dynamics and differ in rewards.

    Returns the reward table of one MDP that agrees with ``R_i`` wherever i's data goes and with
    ``R_j`` wherever j's data goes — so it explains both datasets exactly (the paper's Figure 2) — or
    ``None`` when the two datasets disagree on some commonly visited state-action. Assumes the
    hypothesis set contains such a merged MDP (the paper's point: a neural model imposes no structure
    that would exclude it).
    """
    if not mdps.transitions_shared():
        raise ValueError("ambiguity_witness handles reward-differing MDPs with shared transitions only")
    d = np.asarray(visits, dtype=np.float64)
    vi, vj = d[i] > threshold, d[j] > threshold
    Ri, Rj = mdps.rewards[i], mdps.rewards[j]
    if np.any(np.abs(Ri - Rj)[vi & vj] > atol):
        return None
    merged = np.where(vi, Ri, np.where(vj, Rj, np.maximum(Ri, Rj)))
    return merged  # elsewhere: rewards at both places, the Figure 2 explanation


def policy_replay_visits(mdps: TabularMDPs, policies: np.ndarray, init_dist: np.ndarray, horizon: int) -> np.ndarray:
    """Proposition 3: visitation when each of MDP i's trajectories is collected by a collection policy
    drawn uniformly from all N — the mixture of every policy run in MDP i, ``(N, S, A)``."""
    N = mdps.n
    pi = _policies(mdps, policies)
    out = np.zeros(mdps.shape)
    for j in range(N):  # policy j run in every MDP at once
        out += visitation(mdps, np.broadcast_to(pi[j], pi.shape), init_dist, horizon)
    return out / N


def reward_relabel_visits(visits: np.ndarray, fraction: float = 0.5, mdps: TabularMDPs | None = None) -> np.ndarray:
    """Reward relabelling (§4): MDP i's dataset keeps ``1 - fraction`` of its own data and takes
    ``fraction`` from the other MDPs' data relabelled with R_i. Only valid for shared transitions
    (pass ``mdps`` to have that checked)."""
    if mdps is not None and not mdps.transitions_shared():
        raise ValueError("reward relabelling does not apply: these MDPs differ in transitions (use policy replaying)")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction}")
    d = np.asarray(visits, dtype=np.float64)
    N = d.shape[0]
    if N < 2:
        raise ValueError("reward relabelling needs at least two MDPs")
    others = (d.sum(axis=0, keepdims=True) - d) / (N - 1)
    return (1 - fraction) * d + fraction * others


# -------------------------------------------------------------------------------- toy worlds
@dataclass(frozen=True)
class ToyWorld:
    """A toy of notebook 01: MDPs, collection policies, their exact visitation and a layout to draw."""

    mdps: TabularMDPs
    """The MDPs."""
    policies: np.ndarray
    """Collection policy of each MDP, ``(N, S, A)``."""
    init_dist: np.ndarray
    """Start distribution ``(S,)``."""
    horizon: int
    """Steps per collected trajectory."""
    visits: np.ndarray
    """Exact visitation of each MDP's own collection policy, ``(N, S, A)``."""
    shape: tuple[int, int]
    """Grid layout (width, height) for drawing; state index = x * height + y."""
    special: tuple[tuple[int, int], ...]
    """Per MDP, the cell where it differs (reward location or opening)."""


_MOVES = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))  # noop, up, right, down, left


def _grid_dynamics(w: int, h: int) -> np.ndarray:
    S = w * h
    P = np.zeros((S, len(_MOVES), S))
    for x in range(w):
        for y in range(h):
            for a, (dx, dy) in enumerate(_MOVES):
                x2, y2 = min(max(x + dx, 0), w - 1), min(max(y + dy, 0), h - 1)
                P[x * h + y, a, x2 * h + y2] = 1.0
    return P


def _walk_policy(w: int, h: int, goal: tuple[int, int], y_first: bool = True) -> np.ndarray:
    """Deterministic policy that walks to ``goal`` (y first, or x first) and stays there."""
    pi = np.zeros((w * h, len(_MOVES)))
    for x in range(w):
        for y in range(h):
            vertical = y != goal[1] and (y_first or x == goal[0])
            if (x, y) == goal:
                a = 0
            elif vertical:
                a = 1 if goal[1] > y else 3
            else:
                a = 2 if goal[0] > x else 4
            pi[x * h + y, a] = 1.0
    return pi


def figure2_example(width: int = 5, height: int = 3, horizon: int = 8) -> ToyWorld:
    """The paper's Figure 2: two MDPs with the reward in different places (top-left vs top-right),
    same dynamics, each collected by an agent that walks from the bottom centre to its own reward.

    Each collector never visits the other's reward cell, so no identifying state-action overlaps
    (Proposition 2 fails) and one MDP with *both* rewards explains both datasets (Definition 1).
    """
    P = _grid_dynamics(width, height)
    goals = ((0, height - 1), (width - 1, height - 1))
    S = width * height
    R = np.zeros((2, S, len(_MOVES)))
    for i, (gx, gy) in enumerate(goals):
        # reward on arriving at (or staying on) the goal cell: R(s, a) = 1[next state == goal]
        R[i] = P[:, :, gx * height + gy]
    mdps = TabularMDPs(R, np.stack([P, P]), names=("blue", "yellow"))
    policies = np.stack([_walk_policy(width, height, g) for g in goals])
    init = np.zeros(S)
    init[(width // 2) * height + 0] = 1.0
    return ToyWorld(mdps, policies, init, horizon, visitation(mdps, policies, init, horizon),
                    (width, height), goals)


def escape_room_example(width: int = 5, height: int = 3, horizon: int = 8) -> ToyWorld:
    """A transition-varying toy in the spirit of Escape-Room: the top row is a wall with one opening,
    at the left in MDP 0 and at the right in MDP 1 (stepping up elsewhere in the top row is blocked).
    Rewards are identical (1 for being outside, above the wall), so reward relabelling cannot help;
    each collector goes straight through its own opening and never touches the other's.
    """
    h = height + 1  # an extra "outside" row above the wall row
    S = width * h
    goals = ((0, height - 1), (width - 1, height - 1))
    Ps = []
    for gx, _ in goals:
        P = _grid_dynamics(width, h)
        for x in range(width):
            if x != gx:  # blocked: up from the wall row stays put
                s = x * h + (height - 1)
                P[s, 1] = 0.0
                P[s, 1, s] = 1.0
        Ps.append(P)
    R = np.zeros((2, S, len(_MOVES)))
    for i in range(2):
        outside = np.zeros(S)
        outside[[x * h + height for x in range(width)]] = 1.0
        R[i] = Ps[i] @ outside
    mdps = TabularMDPs(R, np.stack(Ps), names=("left opening", "right opening"))
    policies = np.stack([_walk_policy(width, h, (gx, height), y_first=False) for gx, _ in goals])
    init = np.zeros(S)
    init[(width // 2) * h] = 1.0
    return ToyWorld(mdps, policies, init, horizon, visitation(mdps, policies, init, horizon), (width, h), goals)


def discretised_reward_identifiability(next_xy: np.ndarray, goals: np.ndarray, radius: float,
                                       bounds: tuple[float, float, float, float] = (-1.6, 1.6, -0.6, 1.6),
                                       cell: float = 0.1) -> tuple[TabularMDPs, np.ndarray]:
    """Discretise a sparse-goal point-robot dataset for the tabular checker (notebook 03).

    ``next_xy`` is ``(N, n_points, 2)`` (visited positions of each task's data), ``goals`` ``(N, 2)``.
    States are grid cells of side ``cell``; there is one action; the reward of task i in a cell is 1 when
    the cell's centre is within ``radius`` of goal i; dynamics are shared (tasks differ in rewards
    only). Returns the tabular MDPs and the visit counts ``(N, S, 1)``. Visits outside ``bounds`` are
    dropped. A coarse proxy of Definitions 2-3: identifying cells of tasks i, j are the cells of either
    goal disc.
    """
    x0, x1, y0, y1 = bounds
    nx, ny = int(round((x1 - x0) / cell)), int(round((y1 - y0) / cell))
    S = nx * ny
    cx = x0 + (np.arange(nx) + 0.5) * cell
    cy = y0 + (np.arange(ny) + 0.5) * cell
    centres = np.stack(np.meshgrid(cx, cy, indexing="ij"), -1).reshape(S, 2)
    goals = np.asarray(goals, dtype=np.float64)
    R = (np.linalg.norm(centres[None] - goals[:, None], axis=-1) <= radius).astype(np.float64)[..., None]
    P = np.broadcast_to(np.eye(S)[:, None, :], (S, 1, S))
    mdps = TabularMDPs(R, np.broadcast_to(P, (len(goals), S, 1, S)).copy())
    xy = np.asarray(next_xy, dtype=np.float64)
    ix = np.floor((xy[..., 0] - x0) / cell).astype(np.int64)
    iy = np.floor((xy[..., 1] - y0) / cell).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    visits = np.zeros((len(goals), S, 1))
    for i in range(len(goals)):
        np.add.at(visits[i, :, 0], ix[i][inside[i]] * ny + iy[i][inside[i]], 1.0)
    return mdps, visits


def discretised_transition_identifiability(
    transition, tasks: np.ndarray, data: dict[str, tuple[np.ndarray, np.ndarray]],
    bounds: tuple[float, float, float, float] = (-1.5, 1.5, -1.5, 1.5), cell: float = 0.1,
    n_action_bins: int = 8, atol: float = 1e-6, chunk: int = 4096,
) -> dict[str, IdentifiabilityReport]:
    """Proposition 2 on real data of transition-varying point-robot tasks (Wind, Escape-Room; notebook 06).

    ``transition(obs, action, task)`` is the domain's pure vectorised dynamics, ``tasks`` ``(N, task_dim)``,
    and ``data`` maps a name (e.g. "own policies", "policy replaying") to ``(obs, actions)``, each
    ``(N, n_points, 2)``: the state-actions of each task's data (without the episode flag). A discrete
    state is a grid cell of side ``cell`` inside ``bounds`` (x0, x1, y0, y1; points outside are dropped),
    a discrete action one of ``n_action_bins`` sectors of the action's direction.

    Definition 2 is applied to the data's own state-actions: a discrete (cell, sector) identifies tasks
    i and j when some state-action of *any* of the data sets falling in it has different next states
    under ``tasks[i]`` and ``tasks[j]`` (by more than ``atol``), so every data set is judged against the
    same identifying mask (duplicate state-actions, e.g. a union of two other sets, are pooled once).
    Definition 3 (overlap) is a discrete pair visited by both i's and j's data.
    Returns one :class:`IdentifiabilityReport` per data set. A coarse proxy, as in notebook 03: a shared
    cell does not mean a shared continuous state.
    """
    tasks = np.asarray(tasks, dtype=np.float64)
    N = len(tasks)
    x0, x1, y0, y1 = bounds
    nx, ny = int(round((x1 - x0) / cell)), int(round((y1 - y0) / cell))
    S, A = nx * ny, int(n_action_bins)

    def keys(obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        ix = np.floor((obs[..., 0] - x0) / cell).astype(np.int64)
        iy = np.floor((obs[..., 1] - y0) / cell).astype(np.int64)
        ang = np.arctan2(act[..., 1], act[..., 0])
        ia = np.minimum((ang + np.pi) / (2 * np.pi) * A, A - 1).astype(np.int64)
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        return np.where(inside, (ix * ny + iy) * A + ia, -1)

    for name, (obs, act) in data.items():
        if np.shape(obs)[0] != N or np.shape(act)[:2] != np.shape(obs)[:2]:
            raise ValueError(f"data[{name!r}]: obs and actions must be (N={N}, n_points, 2); got "
                             f"{np.shape(obs)} and {np.shape(act)}")
    # identifying mask over the pooled state-actions of every data set
    pooled_obs = np.concatenate([np.asarray(o, np.float32).reshape(-1, 2) for o, _ in data.values()])
    pooled_act = np.concatenate([np.asarray(a, np.float32).reshape(-1, 2) for _, a in data.values()])
    pooled = np.unique(np.concatenate([pooled_obs, pooled_act], 1), axis=0)  # a data set may contain another
    pooled_obs, pooled_act = pooled[:, :2], pooled[:, 2:]
    pooled_key = keys(pooled_obs, pooled_act)
    keep = pooled_key >= 0
    pooled_obs, pooled_act, pooled_key = pooled_obs[keep], pooled_act[keep], pooled_key[keep]
    ident = np.zeros((S * A, N, N), dtype=bool)
    for c in range(0, len(pooled_key), chunk):
        o, a, k = pooled_obs[c:c + chunk], pooled_act[c:c + chunk], pooled_key[c:c + chunk]
        nxt = np.asarray(transition(np.repeat(o[:, None], N, 1), np.repeat(a[:, None], N, 1),
                                    np.broadcast_to(tasks, (len(o), N, tasks.shape[1]))), dtype=np.float64)
        differ = np.abs(nxt[:, :, None] - nxt[:, None, :]).max(-1) > atol  # (n, N, N)
        order = np.argsort(k, kind="stable")
        uk, start = np.unique(k[order], return_index=True)
        ident[uk] |= np.logical_or.reduceat(differ[order], start, axis=0)
    ident = ident.reshape(S, A, N, N).transpose(2, 3, 0, 1)
    names = tuple(f"task{i}" for i in range(N))
    reports = {}
    for name, (obs, act) in data.items():
        k = keys(np.asarray(obs, np.float32), np.asarray(act, np.float32))
        visits = np.zeros((N, S * A))
        for i in range(N):
            np.add.at(visits[i], k[i][k[i] >= 0], 1.0)
        reports[name] = _report(names, ident, visits.reshape(N, S, A), 0.0)
    return reports
