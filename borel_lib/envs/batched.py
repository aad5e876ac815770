"""Batched trials of the cheap domains (Gridworld and the point robots): N tasks per numpy operation.

Data collection trains one agent per task, all at once (issue "offline data"); stepping N tasks with
one vectorised call of the domain's pure ``transition`` and ``reward`` is what makes that fast.
:class:`BatchedTrial` has the semantics of :class:`~borel_lib.envs.base.BAMDPTrial` for N tasks in
lockstep (all tasks share the time index): the episode-end flag is appended to observations; at an
episode boundary the returned observation is a fresh start state (flag 0) and the finished episode's
flagged last state is returned separately; after k·H steps the trial is done.

Randomness: only start states are random. Task ``i`` draws them from its own generator, created
exactly as Gymnasium creates ``env.np_random`` for ``reset(seed=seeds[i])``. A single env reset with
``seed=seeds[i]`` and ``options={"task": tasks[i]}`` and wrapped in ``BAMDPTrial`` therefore produces
the same trajectory for the same actions (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from gymnasium.utils import seeding

from borel_lib.envs.base import TaskEnv

BATCHABLE = ("gridworld", "semicircle", "wind", "escape_room")
"""Domains with a pure ``transition`` that :class:`BatchedTrial` can step."""


class BatchedStep(NamedTuple):
    """What :meth:`BatchedTrial.step` returns."""

    obs: np.ndarray
    """Next observations to act on, ``(N, obs_dim + 1)`` (fresh start states after a boundary)."""
    reward: np.ndarray
    """Rewards, ``(N,)`` float32."""
    next_obs: np.ndarray
    """The transition's true next state with its flag, ``(N, obs_dim + 1)`` — differs from ``obs``
    only at episode boundaries, where it is the episode's last state with flag 1."""
    episode_end: bool
    """True when this step ended an episode (all tasks share the time index)."""
    trial_done: bool
    """True after k·H steps."""


class BatchedTrial:
    """k-episode BAMDP trials of N tasks of one domain, stepped together (see module docstring)."""

    def __init__(self, env: TaskEnv, n: int, episodes: int | None = None):
        if not hasattr(env, "transition") or not hasattr(env, "sample_init_state"):
            raise TypeError(f"BatchedTrial needs a domain with a pure transition(); {type(env).__name__} has none")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"BatchedTrial: n must be a positive integer; got {n!r}")
        self.env = env
        self.n = n
        self.k = int(episodes if episodes is not None else env.episodes_per_trial)
        self.H = int(env.horizon)
        self.discrete = not hasattr(env.action_space, "shape") or env.action_space.shape == ()
        self._rngs: list[np.random.Generator] = []
        self.tasks = np.zeros((n, env.task_dim))
        self.state = np.zeros((n,) + env.observation_space.shape, dtype=np.float32)
        self.t = 0
        self.episode = 0

    @property
    def trial_length(self) -> int:
        return self.k * self.H

    def _start_states(self) -> np.ndarray:
        return np.stack([self.env.sample_init_state(rng, task) for rng, task in zip(self._rngs, self.tasks)])

    def _flag(self, obs: np.ndarray, value: float) -> np.ndarray:
        flag = np.full(obs.shape[:-1] + (1,), value, dtype=np.float32)
        return np.concatenate([obs, flag], axis=-1)

    def reset(self, tasks: np.ndarray, seeds: Sequence[int] | None = None,
              rngs: Sequence[np.random.Generator] | None = None) -> np.ndarray:
        """Start a trial for ``tasks`` ``(N, task_dim)``; start states come from per-task generators
        (``seeds[i]`` as Gymnasium seeds ``reset(seed=...)``, or ready ``rngs``)."""
        tasks = np.asarray(tasks, dtype=np.float64).reshape(self.n, -1)
        if tasks.shape != (self.n, self.env.task_dim) or not np.all(np.isfinite(tasks)):
            raise ValueError(f"BatchedTrial.reset: tasks must have shape (n, task_dim)={(self.n, self.env.task_dim)}")
        if rngs is not None:
            self._rngs = list(rngs)
        elif seeds is not None:
            self._rngs = [seeding.np_random(int(s))[0] for s in seeds]
        elif not self._rngs:
            raise ValueError("BatchedTrial.reset: give seeds or rngs on the first reset")
        if len(self._rngs) != self.n:
            raise ValueError(f"BatchedTrial.reset: need {self.n} seeds/rngs; got {len(self._rngs)}")
        self.tasks = tasks
        self.state = self._start_states()
        self.t, self.episode = 0, 0
        return self._flag(self.state, 0.0)

    def step(self, actions: np.ndarray) -> BatchedStep:
        """Step all N tasks; ``actions`` is ``(N,)`` ints (Gridworld) or ``(N, act_dim)``."""
        if self.episode >= self.k:
            raise RuntimeError("BatchedTrial.step: the trial is over; call reset()")
        actions = np.asarray(actions)
        expected = (self.n,) if self.discrete else (self.n,) + self.env.action_space.shape
        if actions.shape != expected:
            raise ValueError(f"BatchedTrial.step: actions must have shape {expected}; got {actions.shape}")
        prev = self.state
        nxt = self.env.transition(prev, actions, self.tasks)
        reward = np.asarray(self.env.reward(prev, actions, nxt, self.tasks), dtype=np.float32)
        self.t += 1
        if self.t < self.H:
            self.state = nxt
            obs = self._flag(nxt, 0.0)
            return BatchedStep(obs, reward, obs, False, False)
        final = self._flag(nxt, 1.0)
        self.t = 0
        self.episode += 1
        if self.episode >= self.k:
            self.state = nxt
            return BatchedStep(final, reward, final, True, True)
        self.state = self._start_states()
        return BatchedStep(self._flag(self.state, 0.0), reward, final, True, False)


def make_batched_trial(name: str, n: int, episodes: int | None = None, **env_kwargs) -> BatchedTrial:
    """:class:`BatchedTrial` of ``n`` tasks of a batchable domain (``gridworld``, ``semicircle``,
    ``wind``, ``escape_room``)."""
    from borel_lib.envs import domain_info, make_env

    info = domain_info(name)
    if info.name not in BATCHABLE:
        raise ValueError(f"domain {info.name!r} has no batched form; batchable domains: {', '.join(BATCHABLE)}")
    return BatchedTrial(make_env(info.name, **env_kwargs), n, episodes=episodes)
