"""Scripted references for Ant-Semi-circle (Table 1, §6): oracle, standing still, search-then-go.

Table 1 compares BOReL on Ant-Semi-circle with agents whose behaviour is known without learning from the
offline data. This module builds three of them from the data collectors' own goal-conditioned SAC (the quick
protocol's ``shared_agent``: the goal (x, y) appended to the observation, :meth:`~borel_lib.collector.Collector.
agent_inputs`), whose mean action is used as a low-level *walker*: given a target point it walks the Ant there.

- ``oracle``: the walker given the true goal (the collectors' own policy given the goal; the ceiling of what
  their behaviour can score);
- ``standing_still``: a = 0 (no reward, no control cost: return 0);
- ``search_then_go``: the Ant version of :func:`borel_lib.references.scripted.semicircle_search_then_go`:
  the walker is given moving waypoints, first (1, 0), then counter-clockwise along the unit arc ``arc_step``
  radians apart, the next one as soon as the torso is within ``advance_radius`` of the current one (or after
  ``patience`` steps aimed at it), until the sparse reward's goal term appears; from then on the target is where
  it appeared (stay in episode 1, go straight there in episode 2; the search goes on in episode 2 if episode 1
  never found it). "Where it appeared" is, for the Ant, the mean of the exact posterior's goal candidates
  (``goto="posterior"``, :class:`ArcSearch`) rather than the first rewarded position (``goto="first"``, the
  point robot's), because the walker stops only within about 0.2 of its target.

The Ant walker is slower and less precise than the point robot (on the uniform collection's training tasks,
from the origin, the goal disc is reached after 27-57 steps and the torso then hovers 0.05-0.5 from the goal),
so ``scripts/ant_references.py`` picks the waypoint spacing on the collections' training tasks.

All three are run through the very function that evaluates BOReL (:func:`borel_lib.evaluation.evaluate`: the
fixed start, one k = 2 trial of H = 200 per evaluation task, the sparse reward 1[‖xy(s') − g‖ ≤ 0.2] − 0.1‖a‖²,
success = the goal disc reached in the episode). ``evaluate`` takes a belief (``reset``/``step``/``features``)
and an agent acting on the hyper-state [s, b]. Here the "belief" is the script: :class:`KnownGoal` (features =
the true goal) or :class:`ArcSearch` (features = the current waypoint, updated from the observed reward and
next state only), and [s, target] is exactly the shared collector's input, so :class:`GoalWalker` acts on the
hyper-state as it is. The script needs no task: it sees the goal term of the reward as ``reward − ctrl(a)``
(:func:`goal_term`), as the exact belief does. On the point robot with a straight-line walker
(:class:`PointWalker`), :class:`ArcSearch` with ``advance_radius=0.05`` reproduces
``semicircle_search_then_go`` step for step (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from borel_lib.config import ConfigError

METHODS: tuple[str, ...] = ("oracle", "search_then_go", "standing_still")
"""The reference agents of this module (the ``method`` column of their result table)."""
GOTO: tuple[str, ...] = ("first", "posterior")
"""Where search-then-go aims once the goal was found (:class:`ArcSearch`)."""
GOAL_TERM_THRESHOLD = 0.5
"""The sparse reward's goal term is 0 or 1: above this, the goal disc was reached at that step."""


def goal_term(env) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``(actions, rewards) -> bool (n,)``: the step reached the goal, from the reward without its control term
    (``env.ctrl_reward(a)``; domains without one, e.g. the point-robot Semi-circle, reward the goal alone)."""
    ctrl = getattr(env, "ctrl_reward", None)

    def reached(actions: np.ndarray, rewards: np.ndarray) -> np.ndarray:
        r = np.asarray(rewards, np.float64)
        if ctrl is not None:
            r = r - ctrl(np.asarray(actions, np.float64))
        return r > GOAL_TERM_THRESHOLD

    return reached


def arc_point(angle: np.ndarray) -> np.ndarray:
    """The points of the unit arc at ``angle`` (radians): ``(..., 2)`` float32."""
    return np.stack([np.cos(angle), np.sin(angle)], -1).astype(np.float32)


# ------------------------------------------------------------------------------------------- scripts
class KnownGoal:
    """The oracle's "belief": the true goal of every trial (features ``(n, 2)``, never updated)."""

    def __init__(self, tasks: np.ndarray):
        self.tasks = np.asarray(tasks, np.float32)[:, :2]
        self.dim = 2

    def reset(self, n: int) -> int:
        if n != len(self.tasks):
            raise ValueError(f"KnownGoal: reset for n={n} trials, but it holds {len(self.tasks)} goals")
        return n

    def step(self, state, actions, rewards, next_obs):
        return state

    def features(self, state) -> np.ndarray:
        return self.tasks


class NoTarget(KnownGoal):
    """Standing still's "belief": nothing (features ``(n, 0)``)."""

    def __init__(self, n: int):
        super().__init__(np.zeros((n, 2)))
        self.tasks = self.tasks[:, :0]
        self.dim = 0


@dataclass(frozen=True)
class ArcSearch:
    """Search-then-go's waypoint schedule (module docstring) as a belief for :func:`~borel_lib.evaluation.evaluate`:
    ``features`` = the walker's target ``(n, 2)``. ``reached(actions, rewards)`` says which steps reached the goal
    (:func:`goal_term`). State per trial: the waypoint angle and where the goal was first found (NaN until then);
    no waypoint is passed on the step that ends an episode (the next one starts from a fresh start state).

    Once found, the target is the first rewarded position (the point-robot script's), or, given ``posterior``
    (an :class:`~borel_lib.references.exact_belief.ExactBelief` of the domain), the mean of the exact posterior's
    goal candidates, updated at every step: the first rewarded torso position lies on the edge of the goal disc,
    up to 0.2 from its centre, and a walker that stops within about 0.2 of its target then misses the disc
    half the time; the posterior (the candidates within 0.2 of every rewarded position and of none of the
    unrewarded ones) centres it."""

    reached: Callable[[np.ndarray, np.ndarray], np.ndarray]
    arc_step: float = 0.25
    """Radians between successive waypoints on the unit arc."""
    advance_radius: float = 0.2
    """The next waypoint is given once the torso is within this distance of the current one ..."""
    patience: int | None = None
    """... or after this many steps aimed at it (None: never; a walker that stops short of a waypoint would
    otherwise stall there for the rest of the trial)."""
    posterior: object | None = None
    """An ``ExactBelief`` to aim at the posterior mean once the goal was found (None: the first rewarded position)."""
    dim: int = 2

    def __post_init__(self):
        for name in ("arc_step", "advance_radius"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= np.pi):
                raise ConfigError(f"ArcSearch.{name}={value!r} must be a number in (0, π]")
        if self.patience is not None and not (isinstance(self.patience, int) and self.patience >= 1):
            raise ConfigError(f"ArcSearch.patience={self.patience!r} must be a positive integer or None")

    def reset(self, n: int) -> dict:
        state = {"angle": np.zeros(n), "found": np.full((n, 2), np.nan, np.float32), "waited": np.zeros(n, np.int64)}
        if self.posterior is not None:
            state["exact"] = self.posterior.reset(n)
        return state

    def step(self, state: dict, actions, rewards, next_obs) -> dict:
        nxt = np.asarray(next_obs, np.float32)
        pos, episode_end = nxt[:, :2], nxt[:, -1] > 0.5
        found = state["found"].copy()
        has = ~np.isnan(found[:, 0])
        new = ~has & self.reached(actions, rewards)
        found[new] = pos[new]
        has |= new
        near = np.linalg.norm(pos - arc_point(state["angle"]), axis=-1) <= self.advance_radius
        waited = state["waited"] + 1
        if self.patience is not None:
            near |= waited >= self.patience
        advance = ~has & ~episode_end & near  # the next step starts from pos (not from a fresh start state)
        angle = np.where(advance, np.minimum(state["angle"] + self.arc_step, np.pi), state["angle"])
        out = {"angle": angle, "found": found, "waited": np.where(advance | episode_end, 0, waited)}
        if self.posterior is not None:
            out["exact"] = self.posterior.step(state["exact"], actions, rewards, nxt)
        return out

    def features(self, state: dict) -> np.ndarray:
        found = state["found"]
        if self.posterior is not None:
            mean = self.posterior.posterior(state["exact"]) @ self.posterior.candidates
            found = np.where(np.isnan(found[:, :1]), found, mean)
        return np.where(np.isnan(found[:, :1]), arc_point(state["angle"]), found).astype(np.float32)


# -------------------------------------------------------------------------------------------- walkers
class GoalWalker:
    """The agent: the shared collector's mean action on the hyper-state [s, flag, target] (its own input)."""

    def __init__(self, actor, act_dim: int, device: torch.device | str = "cpu"):
        self.actor, self.act_dim, self.device = actor, act_dim, torch.device(device)

    @classmethod
    def from_collector(cls, collector) -> GoalWalker:
        """The walker of a shared-agent :class:`~borel_lib.collector.Collector` (its loaded policy)."""
        if not collector.cfg.shared_agent or collector.cfg.discrete:
            raise ConfigError(f"GoalWalker: the collection of {collector.cfg.domain!r} must be a shared goal-conditioned "
                              "SAC (shared_agent=True); per-task agents do not take a goal")
        return cls(collector.agent, collector.act_dim, collector.device)

    @torch.no_grad()
    def act(self, hyper: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(hyper, np.float32), device=self.device)
        return self.actor.act(x[None], deterministic=True)[0].cpu().numpy().reshape(len(hyper), self.act_dim)


class StandStill:
    """The agent that never moves: a = 0."""

    def __init__(self, act_dim: int):
        self.act_dim = act_dim

    def act(self, hyper: np.ndarray) -> np.ndarray:
        return np.zeros((len(hyper), self.act_dim), np.float32)


class PointWalker:
    """The point robot's straight-line walker on [s, flag, target]: full speed (0.1 per axis) towards the
    target, exactly onto it when within reach (as in :mod:`borel_lib.references.scripted`); for tests."""

    def act(self, hyper: np.ndarray) -> np.ndarray:
        h = np.asarray(hyper, np.float32)
        d = (h[:, -2:] - h[:, :2]) / 0.1
        return (d / np.maximum(np.abs(d).max(-1, keepdims=True), 1.0)).astype(np.float32)


# ---------------------------------------------------------------------------------------- evaluation
def reference_agent(method: str, domain: str, tasks: np.ndarray, walker, act_dim: int, arc_step: float = 0.25,
                    advance_radius: float = 0.2, goto: str = "posterior", patience: int | None = None):
    """``(belief, agent)`` of reference ``method`` (:data:`METHODS`) for :func:`~borel_lib.evaluation.evaluate`
    on ``tasks`` (the oracle's belief is the true goals; the other two never see them). ``goto``: where search-then-go
    aims once it found the goal, ``first`` (the first rewarded position) or ``posterior`` (:class:`ArcSearch`)."""
    from borel_lib.envs import make_env
    from borel_lib.references.exact_belief import ExactBelief

    if goto not in GOTO:
        raise ConfigError(f"goto={goto!r} is not one of: {', '.join(GOTO)}")
    if method == "oracle":
        return KnownGoal(tasks), walker
    if method == "search_then_go":
        exact = ExactBelief(domain) if goto == "posterior" else None
        return ArcSearch(goal_term(make_env(domain)), arc_step=arc_step, advance_radius=advance_radius,
                         patience=patience, posterior=exact), walker
    if method == "standing_still":
        return NoTarget(len(tasks)), StandStill(act_dim)
    raise ConfigError(f"reference method {method!r} is not one of: {', '.join(METHODS)}")


def evaluate_reference(method: str, domain: str, tasks: np.ndarray, walker, seed: int, act_dim: int,
                       arc_step: float = 0.25, advance_radius: float = 0.2, goto: str = "posterior",
                       patience: int | None = None, record: dict | None = None):
    """Per-task, per-episode ``return`` and ``success`` of reference ``method`` on ``tasks``, evaluated as BOReL
    is (:func:`borel_lib.evaluation.evaluate` with ``seed``, the fixed start)."""
    from borel_lib.evaluation import evaluate

    belief, agent = reference_agent(method, domain, tasks, walker, act_dim, arc_step, advance_radius, goto,
                                    patience)
    return evaluate(belief, agent, domain, tasks, seed=seed, record=record)


def load_walker(profile: str, init_state: str, iteration: int | None = None, command: str = ""):
    """``(collector, walker, iteration)``: the ``init_state`` Ant collection at ``profile`` with its shared
    goal-conditioned SAC loaded at ``iteration`` (default: the collection's last) and its :class:`GoalWalker`.
    A per-task collection (``shared_agent=False``) is refused: its agents take no goal."""
    from borel_lib.collect import probe_collector

    domain = "ant_semicircle"
    col, _ = probe_collector(domain, profile, {"init_state": init_state}, command=command)
    if not col.cfg.shared_agent:
        raise ConfigError(f"--profile {profile}: the {init_state} collection has one agent per task (shared_agent=False); "
                          "its agents take no goal, so they cannot walk to a given point")
    iteration = col.cfg.iterations if iteration is None else iteration
    col.load_policies(iteration, hint=f"run python -m borel_lib.collect {domain} --profile {profile} "
                                      f"--init-state {init_state}")
    return col, GoalWalker.from_collector(col), iteration


SEARCH_SETTINGS: dict[str, float | int] = {"arc_step": 0.4, "advance_radius": 0.3, "patience": 20}
"""The Ant search-then-go's settings that ``scripts/ant_references.py`` chose on the quick collections' training tasks
(waypoint spacing 0.4 rad of 0.3 / 0.4 / 0.5; its table's config); what :func:`search_trials` uses."""


def search_trials(profile: str, init_state: str, tasks: np.ndarray, seed: int = 0,
                  iteration: int | None = None) -> dict[str, np.ndarray]:
    """The scripted search-then-go's trials on ``tasks`` (``obs``, ``actions``, ``rewards``, ``next_obs`` ``(n, T,
    ·)``, as :func:`~borel_lib.evaluation.evaluate` records them) with the walker of the ``init_state`` collection
    at ``profile`` (its saved policy at ``iteration``, default the collection's last): searches that are not told
    where the goal is, the beliefs exploration needs (``borel_lib.pipeline.belief_vs_exact`` on Ant)."""
    col, walker, _ = load_walker(profile, init_state, iteration)
    record: dict = {}
    evaluate_reference("search_then_go", "ant_semicircle", tasks, walker, seed, col.act_dim, record=record,
                       **SEARCH_SETTINGS)
    return {k: np.asarray(record[k]) for k in ("obs", "actions", "rewards", "next_obs")}
