"""The task-family API every domain implements, and the BAMDP trial of k episodes (paper §2, §6).

A *task family* is a Gymnasium environment whose MDP depends on a task vector (a goal, a velocity, a
wind vector, an opening angle). The contract, shared by all seven domains:

- ``sample_tasks(n, rng)`` draws ``n`` tasks from the family's prior with an explicit
  ``numpy.random.Generator`` (shape ``(n, task_dim)``, float64);
- ``set_task(task)`` / ``get_task()``; ``reset(options={"task": ...})`` also sets it, and an env that
  has no task yet samples one from its own seeded RNG on its first reset;
- ``reward(obs, action, next_obs, task)`` is a *pure, vectorised* function over any leading batch
  dimensions that reproduces exactly the reward ``step`` returned for that transition. Reward
  relabelling (§4) depends on it;
- transition-varying families (Wind, Escape-Room) also expose ``transition(obs, action, task)``, the
  pure vectorised dynamics;
- ``is_success(next_obs, task)``: the per-step success indicator used for success rates;
- ``init_state`` (constructor argument) selects the initial-state distribution where the paper varies
  it (``uniform``, ``exclude_semicircle``, ``fixed``); evaluation always uses ``fixed``.

Continuous actions are exposed in ``[-1, 1]^d``; a domain whose physical action box is smaller (the
point robot's ``[-0.1, 0.1]^2``) scales internally, so datasets store the policy's action.

:class:`BAMDPTrial` chains ``k`` episodes of one task into one trial (VariBAD's setting, §6 "the
tasks are episodic, but we want the agent to maintain its belief between episodes"). Unlike the
authors' wrapper it does not drop the start state of episodes 2..k: at an episode boundary ``step``
returns the *fresh reset state* as the observation (flag 0) and puts the episode's true last state,
with the episode-end flag set to 1, in ``info["episode_final_obs"]``. A logged transition is therefore
``(obs_t, a_t, r_t, next_obs_t)`` with ``next_obs_t = info.get("episode_final_obs", returned_obs)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

INIT_STATE_OPTIONS: tuple[str, ...] = ("uniform", "exclude_semicircle", "fixed")
"""All initial-state distribution names used in the project (a domain accepts a subset)."""


class TaskEnv(gym.Env):
    """Base class of one MDP episode of a task family (see the module docstring for the contract).

    Subclasses set the class attributes below and implement ``sample_tasks``, ``reward``,
    ``is_success``, ``_reset_state`` and ``_step_state``-style internals as they see fit; they must
    keep ``reward`` exactly consistent with ``step``.
    """

    horizon: ClassVar[int]
    """H: steps per episode (the paper's value)."""
    episodes_per_trial: ClassVar[int]
    """k: episodes per BAMDP trial (the paper's value)."""
    eval_episodes: ClassVar[int]
    """How many leading episodes the paper's metric averages (2; Gridworld 4; Wind 1)."""
    task_dim: ClassVar[int]
    """Length of the task vector."""
    init_state_options: ClassVar[tuple[str, ...]] = ("fixed",)
    """Initial-state distributions this domain supports; the first listed is not necessarily the
    default: see each constructor."""
    varies: ClassVar[str] = "reward"
    """What differs between tasks: ``reward`` or ``transition``."""

    _task: np.ndarray | None = None

    # -------------------------------------------------------------------------------- task API
    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` tasks from the prior, shape ``(n, task_dim)``."""
        raise NotImplementedError

    def training_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The ``n`` tasks of a data collection, shape ``(n, task_dim)``: draws from the prior, except in
        families with finitely many tasks (Gridworld), which override this to avoid duplicates."""
        return self.sample_tasks(n, rng)

    def set_task(self, task: Any) -> None:
        """Set the current task (validated: shape ``(task_dim,)``, finite)."""
        arr = np.asarray(task, dtype=np.float64).reshape(-1)
        if arr.shape != (self.task_dim,) or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{type(self).__name__}.set_task: task must be {self.task_dim} finite numbers; got {task!r}"
            )
        self._task = arr

    def get_task(self) -> np.ndarray:
        """The current task (a copy). Raises if no task was set or sampled yet."""
        if self._task is None:
            raise RuntimeError(f"{type(self).__name__}: no task set; call set_task() or reset() first")
        return self._task.copy()

    def _task_on_reset(self, options: dict[str, Any] | None) -> None:
        """Handle ``options={"task": ...}`` and sample a task on the first reset if none is set."""
        if options and options.get("task") is not None:
            self.set_task(options["task"])
        elif self._task is None:
            self.set_task(self.sample_tasks(1, self.np_random)[0])

    # ---------------------------------------------------------------------------- pure functions
    def reward(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, task: np.ndarray) -> np.ndarray:
        """Reward of transitions, vectorised over leading dimensions; equals what ``step`` returned."""
        raise NotImplementedError

    def is_success(self, next_obs: np.ndarray, task: np.ndarray) -> np.ndarray:
        """Per-step success indicator (bool array over leading dimensions)."""
        raise NotImplementedError


class StateTaskEnv(TaskEnv):
    """A :class:`TaskEnv` whose whole state is its observation ``self._state``, started by
    ``sample_init_state(rng, task)`` (Gridworld and the point robots)."""

    _state: np.ndarray

    def sample_init_state(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._task_on_reset(options)
        self._state = self.sample_init_state(self.np_random, self._task)
        return self._state.copy(), {}


def check_init_state(env_name: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of the ``allowed`` initial-state options of ``env_name``, else a
    :class:`ValueError` naming them."""
    if value not in allowed:
        raise ValueError(f"{env_name}: init_state={value!r} is not supported; allowed values: {', '.join(allowed)}")
    return value


REWARD_MODES = ("sparse", "dense")
"""Reward modes of the domains collected on a dense reward (Ant-Semi-circle, Wind): sparse for
evaluation and the datasets, dense for the collecting agents."""


def check_reward_mode(env_name: str, value: str) -> str:
    """``value`` if it is one of :data:`REWARD_MODES`, else a :class:`ValueError` naming them."""
    if value not in REWARD_MODES:
        raise ValueError(f"{env_name}: reward_mode={value!r} is not allowed; allowed values: {', '.join(REWARD_MODES)}")
    return value


class BAMDPTrial(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """k episodes of one task as one BAMDP trial, with the episode-end flag in the observation.

    - Observation: the MDP observation with one extra last dimension, 1.0 on an episode's final state
      and 0.0 otherwise (a ``Dict`` observation gets an extra key ``"episode_end"`` instead).
    - ``step`` at an episode boundary (other than the last) resets the inner MDP with the *same task*,
      returns the fresh start state (flag 0) and reports the finished episode's last state (flag 1) in
      ``info["episode_final_obs"]`` with ``info["episode_end"] = True``.
    - After ``k * H`` steps the trial is ``truncated`` (a time limit, not a terminal state), and the
      returned observation is the final state with flag 1.
    - The task is fixed for the trial; ``reset(options={"task": t})`` changes it, otherwise it is kept.
    - ``info`` carries ``task``, ``episode`` (0-based, of the transition just taken) and ``t``.
    """

    def __init__(self, env: gym.Env, episodes: int | None = None, horizon: int | None = None):
        gym.utils.RecordConstructorArgs.__init__(self, episodes=episodes, horizon=horizon)
        gym.Wrapper.__init__(self, env)
        base = env.unwrapped
        if not isinstance(base, TaskEnv):
            raise TypeError(f"BAMDPTrial needs a TaskEnv; got {type(base).__name__}")
        self.k = int(episodes if episodes is not None else base.episodes_per_trial)
        self.H = int(horizon if horizon is not None else base.horizon)
        if self.k < 1 or self.H < 1:
            raise ValueError(f"BAMDPTrial: episodes and horizon must be >= 1; got episodes={self.k}, horizon={self.H}")
        inner = env.observation_space
        if isinstance(inner, spaces.Box):
            low = np.concatenate([inner.low.reshape(-1), [0.0]]).astype(inner.dtype)
            high = np.concatenate([inner.high.reshape(-1), [1.0]]).astype(inner.dtype)
            if len(inner.shape) != 1:
                raise TypeError("BAMDPTrial: Box observations must be 1-D (use a Dict for images)")
            self.observation_space = spaces.Box(low=low, high=high, dtype=inner.dtype)
        elif isinstance(inner, spaces.Dict):
            self.observation_space = spaces.Dict(
                {**inner.spaces, "episode_end": spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)}
            )
        else:
            raise TypeError(f"BAMDPTrial: unsupported observation space {inner}")
        self._episode = 0
        self._t = 0

    @property
    def trial_length(self) -> int:
        """k * H: steps per trial."""
        return self.k * self.H

    def _flag(self, obs: Any, flag: float) -> Any:
        if isinstance(self.observation_space, spaces.Dict):
            return {**obs, "episode_end": np.array([flag], dtype=np.float32)}
        return np.concatenate([np.asarray(obs).reshape(-1), [flag]]).astype(self.observation_space.dtype)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode, self._t = 0, 0
        info = {**info, "task": self.env.unwrapped.get_task(), "episode": 0, "t": 0}
        return self._flag(obs, 0.0), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "task": self.env.unwrapped.get_task(), "episode": self._episode, "t": self._t}
        self._t += 1
        episode_over = self._t >= self.H or terminated
        if not episode_over:
            return self._flag(obs, 0.0), float(reward), False, False, info
        final = self._flag(obs, 1.0)
        info["episode_end"] = True
        info["episode_final_obs"] = final
        self._episode += 1
        self._t = 0
        if self._episode >= self.k:
            return final, float(reward), False, True, info
        fresh, _ = self.env.reset(options=None)
        return self._flag(fresh, 0.0), float(reward), False, False, info

    # Pure functions on flagged observations (the flag is dropped before delegating).
    def _strip(self, obs: Any) -> Any:
        if isinstance(self.observation_space, spaces.Dict):
            return {k: v for k, v in obs.items() if k != "episode_end"}
        return np.asarray(obs)[..., :-1]

    def reward(self, obs: Any, action: Any, next_obs: Any, task: Any) -> np.ndarray:
        """The MDP's reward function applied to flagged observations."""
        return self.env.unwrapped.reward(self._strip(obs), action, self._strip(next_obs), task)

    def is_success(self, next_obs: Any, task: Any) -> np.ndarray:
        """The MDP's success indicator applied to flagged observations."""
        return self.env.unwrapped.is_success(self._strip(next_obs), task)
