"""Exact Bayesian RL on the paper's Gridworld: Bayes-optimal, Thompson-sampling and oracle returns.

Paper §2 (BAMDP, Bayes-optimal policy), §6 (domain 1: the 5x5 Gridworld of VariBAD) and Figure 3's
Gridworld panel, whose Thompson-sampling reference is "calculated exactly". The domain (authors' code,
``docs/differences.md``): start (0, 0); the goal is uniform over the cells outside the
2x2 corner at the start (21 cells); actions noop/up/right/down/left, clipped to the grid; reward on the
next state, +1 on the goal and -0.1 elsewhere; H = 15 steps per episode, k = 4 episodes per trial, each
episode restarting at (0, 0) while the belief is kept. Returns are undiscounted sums.

Belief states. The dynamics are deterministic and known, so the posterior over the goal is uniform over
the candidate cells not yet visited, until the goal is stepped on and the belief collapses. A belief
state is therefore (trial step, position, set of ruled-out candidates) — a bitmask over the 21
candidates, ~5e7 states per step — plus the "goal known" states, whose value is closed-form (stay on the
goal: +1 per remaining step; later episodes walk the shortest path and stay).

- :func:`bayes_optimal_returns`: backward dynamic programming over all (position, mask) pairs at once
  (vectorised numpy per position and action, masks as a flat axis), then one forward pass along the
  greedy "goal not yet found" path for the per-episode split. The greedy policy picks the lowest action
  index among actions whose value is within ``1e-9`` of the best (noop, up, right, down, left): the
  *total* is the optimum whatever the tie-break, the per-episode split depends on it.
- :func:`thompson_sampling_returns`: exact posterior sampling. At each episode start the agent samples a
  goal from the posterior (the known goal once found) and follows the sampled MDP's optimal policy for
  the whole episode without re-planning: the shortest path moving along x first, then y, then staying.
  Everything it observes updates the belief for later episodes. The expectation over true goal and
  sampled goals is enumerated exactly (memoised recursion over belief masks).
- :func:`oracle_returns`: the goal is known from the start.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from borel_lib.config import Config, ConfigError
from borel_lib.envs.gridworld import GridworldEnv

ACTIONS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))
"""(dx, dy) of noop, up, right, down, left — the action order of the Gridworld env."""

TIE_TOL = 1e-9
"""Two actions whose values differ by less than this are a tie (lowest index wins)."""


@dataclass(frozen=True)
class GridSpec(Config):
    """The Gridworld BAMDP solved exactly (paper §6 domain 1; defaults: the values of
    :class:`~borel_lib.envs.gridworld.GridworldEnv`, the authors')."""

    size: int = 5
    """Grid side length n (paper: 5)."""
    horizon: int = GridworldEnv.horizon
    """H, steps per episode (paper: 15)."""
    episodes: int = GridworldEnv.episodes_per_trial
    """k, episodes per trial with the belief kept (paper: 4)."""
    excluded_corner: int = 2
    """The c x c corner at the start holds no goal (paper: 2, leaving 21 of 25 cells)."""
    goal_reward: float = GridworldEnv.goal_reward
    """Reward for a step that lands on the goal (paper: +1)."""
    step_reward: float = GridworldEnv.step_reward
    """Reward for any other step (paper: -0.1)."""

    PRESETS = {"smoke": {"size": 4, "horizon": 7, "episodes": 3}}

    def validate(self) -> None:
        for name in ("size", "horizon", "episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"GridSpec.{name}={value!r} must be a positive integer")
        if self.size < 2:
            raise ConfigError(f"GridSpec.size={self.size} must be >= 2")
        if not (0 <= self.excluded_corner < self.size):
            raise ConfigError(f"GridSpec.excluded_corner={self.excluded_corner} must be in [0, size={self.size})")
        m = self.n_candidates
        if m > 24:
            raise ConfigError(f"GridSpec.size={self.size} with excluded_corner={self.excluded_corner} leaves {m} candidate "
                              f"goals (2^{m} belief masks); at most 24 are supported: size <= 5")

    @property
    def n_candidates(self) -> int:
        """Number of possible goal cells."""
        return self.size * self.size - self.excluded_corner**2

    def candidate_goals(self) -> np.ndarray:
        """The possible goals as an ``(m, 2)`` int array of (x, y), ordered by x then y."""
        c = self.excluded_corner
        cells = [(x, y) for x in range(self.size) for y in range(self.size) if not (x < c and y < c)]
        return np.array(cells, dtype=np.int64)


@dataclass(frozen=True)
class ExactResult:
    """Expected returns of one agent, averaged over the uniform goal prior."""

    agent: str
    """``bayes_optimal``, ``thompson_sampling`` or ``oracle``."""
    per_episode: np.ndarray
    """Expected return of each episode 1..k, shape ``(k,)``."""
    total: float
    """Expected return of the whole trial (sum over episodes)."""
    search_path: np.ndarray | None = None
    """Bayes-optimal only: positions (x, y) at trial steps 0..kH along the branch where the goal has
    not been found; for any goal the agent follows it until it steps on the goal, then stays there and
    walks straight to it in later episodes."""


# ------------------------------------------------------------------------------------- helpers
def _move(spec: GridSpec, x: int, y: int, a: int) -> tuple[int, int]:
    dx, dy = ACTIONS[a]
    return min(max(x + dx, 0), spec.size - 1), min(max(y + dy, 0), spec.size - 1)


def oracle_episode_return(spec: GridSpec, goal: tuple[int, int]) -> float:
    """Return of one episode from (0, 0) with the goal known: shortest path, then stay on the goal."""
    d = abs(goal[0]) + abs(goal[1])
    H = spec.horizon
    if d == 0:
        return H * spec.goal_reward
    if d > H:
        return H * spec.step_reward
    return (d - 1) * spec.step_reward + (H - d + 1) * spec.goal_reward


def _known_components(spec: GridSpec, goal: tuple[int, int], step: int) -> np.ndarray:
    """Per-episode returns after *arriving* on the goal at trial step ``step`` (arrival reward
    excluded): stay for the rest of this episode, oracle episodes afterwards."""
    H, k = spec.horizon, spec.episodes
    e, t = divmod(step, H)
    comp = np.zeros(k)
    comp[e] = (H - 1 - t) * spec.goal_reward
    comp[e + 1 :] = oracle_episode_return(spec, goal)
    return comp


# ------------------------------------------------------------------------------------- oracle
def oracle_returns(spec: GridSpec) -> ExactResult:
    """The goal-known agent: the same oracle episode return in every episode, averaged over goals."""
    ep = float(np.mean([oracle_episode_return(spec, tuple(g)) for g in spec.candidate_goals()]))
    per = np.full(spec.episodes, ep)
    return ExactResult("oracle", per, float(per.sum()))


# ------------------------------------------------------------------------------ Bayes-optimal
def bayes_optimal_returns(spec: GridSpec, progress: bool = True) -> ExactResult:
    """Exact Bayes-optimal expected returns by backward DP over (position, ruled-out mask).

    Memory: two float64 value tables of ``size^2 * 2^m`` entries plus a uint8 policy table per step
    (paper grid: 2 x 420 MB + 60 x 52 MB). Time: a few minutes on one core for the paper grid.
    """
    from tqdm.auto import tqdm

    n, H, k = spec.size, spec.horizon, spec.episodes
    goals = spec.candidate_goals()
    m = len(goals)
    M = 1 << m
    P = n * n
    cand_of = -np.ones((n, n), dtype=np.int64)
    for i, (x, y) in enumerate(goals):
        cand_of[x, y] = i
    popcount = np.zeros(M, dtype=np.int64)
    for i in range(m):
        popcount += (np.arange(M) >> i) & 1
    n_rem = m - popcount
    inv_rem = np.where(n_rem > 0, 1.0 / np.maximum(n_rem, 1), 0.0)
    start = 0  # position index x * n + y of (0, 0)
    succ = np.array([[_move(spec, p // n, p % n, a) for a in range(len(ACTIONS))] for p in range(P)])
    oracle_ep = {tuple(g): oracle_episode_return(spec, tuple(g)) for g in goals}
    step_r, goal_r = spec.step_reward, spec.goal_reward

    T = k * H
    V_next = np.zeros((P, M))
    policy = np.zeros((T, P, M), dtype=np.uint8)
    steps = range(T - 1, -1, -1)
    for tau in tqdm(steps, desc="Bayes-optimal DP", disable=not progress, total=T):
        e, t = divmod(tau, H)
        boundary = t == H - 1
        V = np.empty((P, M))
        for p in range(P):
            Q = np.empty((len(ACTIONS), M))
            for a in range(len(ACTIONS)):
                x2, y2 = succ[p, a]
                p2 = x2 * n + y2
                W = V_next[start if boundary else p2]
                c = cand_of[x2, y2]
                if c < 0:
                    Q[a] = step_r + W
                    continue
                # value if the goal turns out to be here: arrival reward + stay + oracle episodes
                known = goal_r + (H - 1 - t) * goal_r + (k - 1 - e) * oracle_ep[(int(x2), int(y2))]
                Q3 = Q[a].reshape(-1, 2, 1 << c)
                W_set = W.reshape(-1, 2, 1 << c)[:, 1, :]  # value at mask | bit(c)
                q = inv_rem.reshape(-1, 2, 1 << c)[:, 0, :]
                Q3[:, 1, :] = step_r + W_set  # already ruled out
                Q3[:, 0, :] = q * known + (1.0 - q) * (step_r + W_set)
            best = Q.max(axis=0)
            V[p] = best
            # lowest action index within TIE_TOL of the best
            policy[tau, p] = np.argmax(Q >= best - TIE_TOL, axis=0)
        V_next = V
    total_dp = float(V_next[start, 0])

    # forward pass along the single "not found yet" branch for the per-episode split
    per = np.zeros(k)
    mass = 1.0
    x, y, mask = 0, 0, 0
    path = [(0, 0)]
    for tau in range(T):
        e, t = divmod(tau, H)
        a = int(policy[tau, x * n + y, mask])
        x2, y2 = _move(spec, x, y, a)
        c = cand_of[x2, y2]
        if c >= 0 and not (mask >> c) & 1:
            q = 1.0 / (m - bin(mask).count("1"))
            per += mass * q * (_known_components(spec, (x2, y2), tau))
            per[e] += mass * q * goal_r + mass * (1 - q) * step_r
            mass *= 1 - q
            mask |= 1 << c
        else:
            per[e] += mass * step_r
        x, y = (0, 0) if t == H - 1 else (x2, y2)
        path.append((x2, y2))
    if not np.isclose(per.sum(), total_dp, atol=1e-8):
        raise AssertionError(f"per-episode split {per.sum()} does not add up to the DP value {total_dp}")
    return ExactResult("bayes_optimal", per, total_dp, search_path=np.array(path, dtype=np.int64))


# --------------------------------------------------------------------------- Thompson sampling
def _shortest_path(spec: GridSpec, goal: tuple[int, int]) -> list[tuple[int, int]]:
    """Cells entered on the way from (0, 0) to ``goal``, moving along x first, then y."""
    cells = [(x, 0) for x in range(1, goal[0] + 1)] + [(goal[0], y) for y in range(1, goal[1] + 1)]
    return cells


def thompson_sampling_returns(spec: GridSpec) -> ExactResult:
    """Exact expected returns of strict per-episode posterior sampling (see module docstring)."""
    H, k = spec.horizon, spec.episodes
    goals = [tuple(int(v) for v in g) for g in spec.candidate_goals()]
    m = len(goals)
    index = {g: i for i, g in enumerate(goals)}
    paths = [_shortest_path(spec, g) for g in goals]
    step_r, goal_r = spec.step_reward, spec.goal_reward

    def episode(true_g: int, target: int, mask: int) -> tuple[float, int, bool]:
        """Return, new mask and whether the true goal was stepped on, when walking to ``target``."""
        ret, found = 0.0, False
        cells = paths[target][:H]
        for cell in cells:
            if cell == goals[true_g]:
                ret += goal_r
                found = True
            else:
                ret += step_r
                if cell in index:
                    mask |= 1 << index[cell]
        stay = H - len(cells)
        if stay > 0:
            end = cells[-1] if cells else (0, 0)
            on_goal = end == goals[true_g]
            ret += stay * (goal_r if on_goal else step_r)
            found = found or on_goal
        return ret, mask, found

    @functools.cache
    def value(e: int, true_g: int, mask: int, found: bool) -> tuple[float, ...]:
        if e == k:
            return ()
        if found:
            ret = oracle_episode_return(spec, goals[true_g])
            return (ret,) + value(e + 1, true_g, mask, True)
        remaining = [i for i in range(m) if not (mask >> i) & 1]
        acc = np.zeros(k - e)
        for target in remaining:
            ret, new_mask, got = episode(true_g, target, mask)
            acc += np.array((ret,) + value(e + 1, true_g, new_mask, got))
        return tuple(acc / len(remaining))

    per = np.mean([np.array(value(0, g, 0, False)) for g in range(m)], axis=0)
    value.cache_clear()
    return ExactResult("thompson_sampling", per, float(per.sum()))


# ---------------------------------------------------------------------------------------- all
def results_table(spec: GridSpec, results: list[ExactResult]) -> pd.DataFrame:
    """Tidy table of solved agents: one row per method, episode and metric.

    ``episode`` 1..k with ``metric="return"``; ``episode=0`` with ``metric="total_return"`` for the
    sum and ``metric="mean_return"`` for the paper's metric, the average over the k episodes.
    """
    rows = []
    variant = f"{spec.size}x{spec.size}_H{spec.horizon}_k{spec.episodes}"
    for res in results:
        for ep, val in enumerate(res.per_episode, start=1):
            rows.append((res.agent, ep, "return", float(val)))
        rows.append((res.agent, 0, "total_return", res.total))
        rows.append((res.agent, 0, "mean_return", res.total / spec.episodes))
    df = pd.DataFrame(rows, columns=["method", "episode", "metric", "value"])
    df.insert(0, "domain", "gridworld")
    df.insert(2, "variant", variant)
    df.insert(3, "seed", 0)
    return df


def search_path_table(spec: GridSpec, bayes: ExactResult) -> pd.DataFrame:
    """Tidy table of the Bayes-optimal agent's search path (positions x, y at trial steps 0..kH, column
    ``t``), so the trajectory panels of Figure 3's Gridworld reference can be drawn from a table."""
    if bayes.search_path is None:
        raise ValueError(f"{bayes.agent}: no search path (only bayes_optimal_returns records one)")
    variant = f"{spec.size}x{spec.size}_H{spec.horizon}_k{spec.episodes}"
    rows = [("gridworld", bayes.agent, variant, 0, (t - 1) // spec.horizon + 1 if t else 1, axis, int(xy[i]), t)
            for t, xy in enumerate(bayes.search_path) for i, axis in enumerate("xy")]
    return pd.DataFrame(rows, columns=["domain", "method", "variant", "seed", "episode", "metric", "value", "t"])


def solve_all(spec: GridSpec, progress: bool = True) -> pd.DataFrame:
    """Solve the three agents and return :func:`results_table`."""
    return results_table(spec, [bayes_optimal_returns(spec, progress=progress),
                                thompson_sampling_returns(spec), oracle_returns(spec)])


def spec_as_dict(spec: GridSpec) -> dict:
    """The spec's fields (for saving next to results)."""
    return dataclasses.asdict(spec)
