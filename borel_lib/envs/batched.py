"""Batched trials: N tasks stepped in lockstep (Gridworld and the point robots: one numpy operation;
the MuJoCo domains: one ``MjModel``, N ``MjData``).

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

:class:`BatchedMujocoTrial` does the same for Ant-Semi-circle and Half-Cheetah-Vel. Measured on this
machine (Ant, N = 16, one core): looping ``mj_step`` over N ``MjData`` of one shared ``MjModel`` ran
1,600–1,800 task-steps/s; ``mujoco.rollout`` over the same N states ran 1,700–1,800 task-steps/s, no
faster, and differed from single-env stepping by 1e-4 in qvel after 200 steps (it does not carry the
solver warm start the same way). The loop is used: it calls the env's own ``_simulate`` and
``_get_obs`` on each ``MjData``, so it is bit-identical to single-env stepping (tested). The physics
dominates (a single env steps about 2,400/s), so batching the simulator itself saves little; what
batching buys is one stacked agent acting for all N tasks (``scripts/benchmark_mujoco_collect.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from borel_lib.envs.base import TaskEnv

BATCHABLE = ("gridworld", "semicircle", "wind", "escape_room")
"""Domains with a pure ``transition`` that :class:`BatchedTrial` can step."""

MUJOCO_BATCHABLE = ("ant_semicircle", "cheetah_vel", "reacher_image")
"""MuJoCo domains that :class:`BatchedMujocoTrial` steps (N ``MjData`` of one model)."""


def state_shape(env: TaskEnv) -> tuple[int, ...]:
    """Shape of the flat state a batched trial steps and a dataset's ``obs`` stores (before the episode-end
    flag): the observation's, or for a ``Dict`` observation (Reacher-Image) its ``"state"`` entry's (the
    images are rendered from it: :meth:`~borel_lib.envs.reacher_image.ReacherImageEnv.images`)."""
    space = env.observation_space
    return tuple(space["state"].shape if isinstance(space, spaces.Dict) else space.shape)


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
    info: dict[str, np.ndarray] = {}
    """Per-task extras, ``(N,)`` float32 each: Ant's and Wind's reward components ``reward_goal`` and
    ``reward_ctrl`` (summing to ``reward``); empty for the other domains."""


class BatchedTrial:
    """k-episode BAMDP trials of N tasks of one domain, stepped together (see module docstring)."""

    def __init__(self, env: TaskEnv, n: int, episodes: int | None = None):
        self._check_env(env)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"BatchedTrial: n must be a positive integer; got {n!r}")
        self.env = env
        self.n = n
        self.k = int(episodes if episodes is not None else env.episodes_per_trial)
        self.H = int(env.horizon)
        self.discrete = not hasattr(env.action_space, "shape") or env.action_space.shape == ()
        self._rngs: list[np.random.Generator] = []
        self.tasks = np.zeros((n, env.task_dim))
        self.state = np.zeros((n,) + state_shape(env), dtype=np.float32)
        self.t = 0
        self.episode = 0

    @staticmethod
    def _check_env(env: TaskEnv) -> None:
        if not hasattr(env, "transition") or not hasattr(env, "sample_init_state"):
            raise TypeError(f"BatchedTrial needs a domain with a pure transition(); {type(env).__name__} has none")

    @property
    def trial_length(self) -> int:
        return self.k * self.H

    def _start_states(self) -> np.ndarray:
        return np.stack([self.env.sample_init_state(rng, task) for rng, task in zip(self._rngs, self.tasks)])

    def _transition(self, state: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return self.env.transition(state, actions, self.tasks)

    def _info(self, actions: np.ndarray, reward: np.ndarray) -> dict[str, np.ndarray]:
        """The reward's components ``reward_goal`` and ``reward_ctrl`` for domains with a control
        cost term (Ant; Wind, whose term is 0), else nothing."""
        if not hasattr(self.env, "ctrl_reward"):
            return {}
        ctrl = np.asarray(self.env.ctrl_reward(actions))
        return {"reward_goal": (reward - ctrl).astype(np.float32), "reward_ctrl": ctrl.astype(np.float32)}

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
        nxt = self._transition(prev, actions)
        reward64 = np.asarray(self.env.reward(prev, actions, nxt, self.tasks))
        info = self._info(actions, reward64)
        reward = reward64.astype(np.float32)
        self.t += 1
        if self.t < self.H:
            self.state = nxt
            obs = self._flag(nxt, 0.0)
            return BatchedStep(obs, reward, obs, False, False, info)
        final = self._flag(nxt, 1.0)
        self.t = 0
        self.episode += 1
        if self.episode >= self.k:
            self.state = nxt
            return BatchedStep(final, reward, final, True, True, info)
        self.state = self._start_states()
        return BatchedStep(self._flag(self.state, 0.0), reward, final, True, False, info)


class BatchedMujocoTrial(BatchedTrial):
    """:class:`BatchedTrial` of a MuJoCo domain: one ``MjModel`` (the env's), one ``MjData`` per task.

    Reacher-Image steps its proprioceptive state (:func:`state_shape`) and leaves the images to the caller,
    who renders a whole trial's frames in one call (:meth:`~borel_lib.envs.reacher_image.ReacherImageEnv.images`).

    Each task's start state comes from its own generator through the env's ``reset_model``, and each
    step runs the env's ``_simulate``/``_get_obs`` on that task's ``MjData``; the trial is therefore
    bit-identical to N single envs reset with ``seed=seeds[i]`` (see the module docstring). Actions are
    clipped to [-1, 1] as ``step`` does. For Ant, :attr:`BatchedStep.info` holds ``reward_goal`` and
    ``reward_ctrl`` of the env's reward mode (dense for data collection).
    """

    def __init__(self, env: TaskEnv, n: int, episodes: int | None = None):
        super().__init__(env, n, episodes)
        self.datas = [mujoco.MjData(env.model) for _ in range(n)]
        self.state = np.zeros((n,) + state_shape(env), dtype=np.float64)

    @staticmethod
    def _check_env(env: TaskEnv) -> None:
        if not (is_mujoco(env) and hasattr(env, "reset_model")):
            raise TypeError(f"BatchedMujocoTrial needs a MuJoCo task env; {type(env).__name__} is not one")

    @contextlib.contextmanager
    def _on(self, i: int) -> Iterator[Any]:
        """Point the env at task ``i``'s ``MjData``, generator and task for the duration of the block."""
        env = self.env
        saved = env.data, env._np_random, env._task
        env.data, env._np_random, env._task = self.datas[i], self._rngs[i], self.tasks[i]
        try:
            yield env
        finally:
            env.data, env._np_random, env._task = saved

    def _observe(self, env: TaskEnv, obs: Any = None) -> np.ndarray:
        """The flat state of the env's current ``MjData``: its observation, or an image domain's proprioceptive
        state (``state_obs``; its images are rendered per trial afterwards). ``obs``: one just returned."""
        if hasattr(env, "state_obs"):
            return env.state_obs()
        return env._get_obs() if obs is None else obs

    def _start_states(self) -> np.ndarray:
        obs = []
        for i in range(self.n):
            with self._on(i) as env:
                mujoco.mj_resetData(env.model, env.data)
                obs.append(self._observe(env, env.reset_model()))
        return np.stack(obs)

    def _transition(self, state: np.ndarray, actions: np.ndarray) -> np.ndarray:
        a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
        nxt = []
        for i in range(self.n):
            with self._on(i) as env:
                env._simulate(a[i])
                nxt.append(self._observe(env))
        return np.stack(nxt)


def make_batched_trial(name: str, n: int, episodes: int | None = None, **env_kwargs) -> BatchedTrial:
    """Batched trial of ``n`` tasks of a batchable domain: :class:`BatchedTrial` (``gridworld``,
    ``semicircle``, ``wind``, ``escape_room``) or :class:`BatchedMujocoTrial` (``ant_semicircle``,
    ``cheetah_vel``, ``reacher_image``)."""
    from borel_lib.envs import domain_info, make_env

    info = domain_info(name)
    if info.name not in BATCHABLE + MUJOCO_BATCHABLE:
        raise ValueError(f"domain {info.name!r} has no batched form; batchable domains: "
                         f"{', '.join(BATCHABLE + MUJOCO_BATCHABLE)}")
    return batched_trial_for(make_env(info.name, **env_kwargs), n, episodes=episodes)


def batched_trial_for(env: TaskEnv, n: int, episodes: int | None = None) -> BatchedTrial:
    """A batched trial of ``n`` tasks on this ``env`` instance (its settings kept, e.g. Ant's reward mode):
    :class:`BatchedMujocoTrial` for a MuJoCo env, else :class:`BatchedTrial` (clear error if neither)."""
    return (BatchedMujocoTrial if is_mujoco(env) else BatchedTrial)(env, n, episodes=episodes)


def is_mujoco(env: TaskEnv) -> bool:
    """True for the MuJoCo task envs (their start states are random: reset seeds matter)."""
    return hasattr(env, "model") and hasattr(env, "_simulate")
