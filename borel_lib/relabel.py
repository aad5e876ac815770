"""Reward relabelling (paper §4 "Reward Relabelling", §6 "Data collection and organization").

RR implements policy replaying in hindsight when tasks differ only in their rewards: a trial of task
``i`` has its first ``k/2`` episodes replaced by episodes of *other* tasks' trials (at the same time
indices), with rewards recomputed by task ``i``'s own reward function. The VAE then sees, for every
task, data from other tasks' collection policies labelled with this task's rewards, so identifying
states overlap across tasks (Proposition 3) and the belief cannot lock onto "the reward is wherever I
went first".

What we do and why (versus the authors' code, ``docs/differences.md``):

- Relabelling is done *on the fly per minibatch* with fresh random sources, never in place, so a
  borrowed episode is always another task's original data (the authors mix in place, so a source may
  itself already be mixed) and every epoch sees new combinations.
- Each of the first ``k // 2`` episodes is borrowed independently (for k = 2 this is the first
  episode, as in the authors' code; for Gridworld's k = 4, episodes 1 and 2, also as there).
- Rewards are recomputed with the domain's exact, pure ``reward(obs, action, next_obs, task)``, the
  same function ``step`` uses, so relabelled and real rewards have the same scale (the authors'
  point-robot relabel returned ``-distance`` while ``step`` returned ``+1``; their Cheetah relabel was
  off by one step).
- RR is refused for domains whose tasks differ in transitions (Wind, Escape-Room): there a borrowed
  transition is not a transition of task ``i``, and policy replaying must be done at collection time.

Policy replaying (§4 Proposition 3, §6 "for policy replay we replace trajectories by sampling a new
trajectory using the trained RL policy of another MDP"), mode ``policy_replay``: the same mixing, but
each borrowed episode comes from task ``i``'s *policy-replay dataset*
(:func:`borel_lib.policy_replay.run_policy_replay`): a trial rolled out by another task's trained policy
in task ``i``'s own dynamics, with task ``i``'s rewards. Nothing is recomputed, so every transition of a
mixed trial is a real transition of the task it is labelled with; this works whatever differs between
tasks (rewards or transitions). ``source_task`` records whose policy acted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

RELABEL_MODES: tuple[str, ...] = ("none", "reward_relabelling", "policy_replay")
"""Switch values on the training configs: ``none`` is the paper's ablation; ``policy_replay`` needs the
replay dataset (``sample_trials(..., replay=...)``)."""

BORROW_MODES: tuple[str, ...] = ("half", "all")
"""Which episodes of a trial :func:`sample_trials` borrows: the first ``k // 2`` (the paper's) or all."""

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TrialBatch:
    """A minibatch of whole trials, time-major inside each trial: arrays ``(B, T, ...)``."""

    obs: np.ndarray
    """Observations with the episode-end flag, ``(B, T, obs_dim)``."""
    actions: np.ndarray
    """Actions as stored, ``(B, T, act_dim)``."""
    rewards: np.ndarray
    """Rewards, ``(B, T)``."""
    next_obs: np.ndarray
    """Next observations with the flag, ``(B, T, obs_dim)``."""
    task_index: np.ndarray
    """Which task each trial belongs to (whose rewards it carries), ``(B,)``."""
    source_task: np.ndarray
    """For each trial and episode, the task whose data fills it (``policy_replay``: whose policy
    acted), ``(B, k)``; equal to ``task_index`` where nothing was borrowed."""


def sample_trials(
    arrays: Mapping[str, np.ndarray],
    task_index: np.ndarray,
    trial_index: np.ndarray,
    *,
    tasks: np.ndarray,
    episodes: int,
    horizon: int,
    mode: str = "reward_relabelling",
    reward_fn: RewardFn | None = None,
    rng: np.random.Generator,
    obs_has_flag: bool = True,
    varies: str = "reward",
    replay: Mapping[str, np.ndarray] | None = None,
    borrow: str = "half",
) -> TrialBatch:
    """Gather trials ``(task_index[b], trial_index[b])`` from ``arrays`` and apply ``mode``.

    ``arrays`` maps ``obs``, ``actions``, ``rewards``, ``next_obs`` to arrays laid out
    ``(n_tasks, n_trials, T, ...)`` (memory-mapped arrays are fine: only the gathered rows are read).
    ``tasks`` is ``(n_tasks, task_dim)``; ``reward_fn(obs, action, next_obs, task)`` is the domain's
    pure reward on observations *without* the flag (the flag is stripped when ``obs_has_flag``).

    ``mode="policy_replay"`` needs ``replay``: the arrays of the policy-replay dataset of the same
    tasks (``obs``, ``actions``, ``rewards``, ``next_obs`` laid out ``(n_tasks, n_replay_trials, T, ...)``
    and ``source_task`` ``(n_tasks, n_replay_trials)``, e.g. ``load_dataset(path).arrays``). Each of the
    first ``k // 2`` episodes of trial ``b`` is replaced by the same episode of a uniformly drawn
    replayed trial *of task* ``task_index[b]``; ``reward_fn`` is not used.

    ``borrow="all"`` (beyond the paper; the offline-RL data of
    :func:`borel_lib.state_relabel.relabel_states`) replaces *every* episode, and under
    ``reward_relabelling`` draws each source task uniformly from *all* tasks (the trial's own included),
    so the behaviour in the trial does not depend on the task it is labelled with at all.
    """
    if borrow not in BORROW_MODES:
        raise ValueError(f"borrow={borrow!r} is not allowed; allowed values: {', '.join(BORROW_MODES)}")
    if mode not in RELABEL_MODES:
        raise ValueError(f"mode={mode!r} is not allowed; allowed values: {', '.join(RELABEL_MODES)}")
    missing = [k for k in ("obs", "actions", "rewards", "next_obs") if k not in arrays]
    if missing:
        raise ValueError(f"arrays is missing {missing}; needs obs, actions, rewards, next_obs")
    task_index = np.asarray(task_index, dtype=np.int64)
    trial_index = np.asarray(trial_index, dtype=np.int64)
    n_tasks, n_trials, T = arrays["rewards"].shape[:3]
    if T != episodes * horizon:
        raise ValueError(f"trial length {T} != episodes*horizon = {episodes}*{horizon}")
    if task_index.shape != trial_index.shape or task_index.ndim != 1:
        raise ValueError("task_index and trial_index must be 1-D arrays of the same length")

    def gather(name: str, ti: np.ndarray, mi: np.ndarray, sl: slice,
               source: Mapping[str, np.ndarray] = arrays) -> np.ndarray:
        # sort for memmap-friendly reads, then restore order
        order = np.lexsort((mi, ti))
        out = np.asarray(source[name][ti[order], mi[order], sl])
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        return out[inv]

    full = slice(None)
    obs = gather("obs", task_index, trial_index, full).astype(np.float32, copy=True)
    actions = gather("actions", task_index, trial_index, full).astype(np.float32, copy=True)
    rewards = gather("rewards", task_index, trial_index, full).astype(np.float32, copy=True)
    next_obs = gather("next_obs", task_index, trial_index, full).astype(np.float32, copy=True)
    B = task_index.size
    source = np.repeat(task_index[:, None], episodes, axis=1)
    n_borrowed = episodes if borrow == "all" else episodes // 2
    if mode == "policy_replay":
        _check_replay(replay, arrays)
    elif replay is not None:
        raise ValueError(f"replay is only used by mode='policy_replay'; got mode={mode!r}")

    if mode == "reward_relabelling" and B > 0:
        if varies != "reward":
            raise ValueError(
                "reward relabelling applies only when tasks differ in rewards (paper §4); this domain's "
                f"tasks differ in {varies}: use a policy-replay dataset instead (mode='none')"
            )
        if reward_fn is None:
            raise ValueError("mode='reward_relabelling' needs reward_fn (the domain's pure reward function)")
        if n_tasks < 2:
            raise ValueError("reward relabelling needs at least 2 tasks to borrow from")
        task_params = np.asarray(tasks, dtype=np.float64)
        for e in range(n_borrowed):
            if borrow == "all":  # any task, this one included
                other = rng.integers(0, n_tasks, size=B)
            else:  # a uniformly random *other* task: draw from n-1 and skip over i
                other = rng.integers(0, n_tasks - 1, size=B)
                other = other + (other >= task_index)
            other_trial = rng.integers(0, n_trials, size=B)
            sl = slice(e * horizon, (e + 1) * horizon)
            obs[:, sl] = gather("obs", other, other_trial, sl)
            actions[:, sl] = gather("actions", other, other_trial, sl)
            next_obs[:, sl] = gather("next_obs", other, other_trial, sl)
            o, no = obs[:, sl], next_obs[:, sl]
            if obs_has_flag:
                o, no = o[..., :-1], no[..., :-1]
            task_b = np.broadcast_to(task_params[task_index][:, None, :], (B, horizon, task_params.shape[1]))
            rewards[:, sl] = np.asarray(reward_fn(o, actions[:, sl], no, task_b), dtype=np.float32)
            source[:, e] = other
    if mode == "policy_replay" and B > 0:
        assert replay is not None
        n_replay = replay["rewards"].shape[1]
        for e in range(n_borrowed):
            rep_trial = rng.integers(0, n_replay, size=B)
            sl = slice(e * horizon, (e + 1) * horizon)
            for name, out in (("obs", obs), ("actions", actions), ("rewards", rewards), ("next_obs", next_obs)):
                out[:, sl] = gather(name, task_index, rep_trial, sl, replay)
            source[:, e] = np.asarray(replay["source_task"])[task_index, rep_trial]
    return TrialBatch(obs=obs, actions=actions, rewards=rewards, next_obs=next_obs,
                      task_index=task_index, source_task=source)


def replay_arrays(own, replay, n_actions: int | None = None) -> dict[str, np.ndarray]:
    """The ``replay=`` argument of :func:`sample_trials` for a pipeline: the arrays of the
    policy-replay dataset ``replay`` after checking it belongs to the own-policy dataset ``own`` (both
    :class:`~borel_lib.datasets.OfflineDataset`: same domain, tasks and trial layout). ``n_actions``
    one-hot encodes integer actions, as the pipeline does for the own data (Gridworld)."""
    where = f"{replay.path}/manifest.json"
    if replay.manifest.get("collection_mode") != "policy_replay":
        raise ValueError(f"{where}: field 'collection_mode' is {replay.manifest.get('collection_mode')!r}; "
                         "expected 'policy_replay' (python -m borel_lib.collect <domain> --policy-replay)")
    for field in ("domain", "n_tasks", "episodes_per_trial", "horizon"):
        if replay.manifest[field] != own.manifest[field]:
            raise ValueError(f"{where}: field {field!r} is {replay.manifest[field]!r} but the own-policy dataset "
                             f"{own.path} has {own.manifest[field]!r}")
    if not np.allclose(replay.tasks, own.tasks):
        raise ValueError(f"{where}: field 'tasks' differs from {own.path}'s tasks (a replay of another collection)")
    arrays = dict(replay.arrays)
    if n_actions:
        arrays["actions"] = replay.one_hot_actions(n_actions)
    return arrays


def _check_replay(replay: Mapping[str, np.ndarray] | None, arrays: Mapping[str, np.ndarray]) -> None:
    """Validate the policy-replay arrays against the own-policy ones (same tasks, trial length, dims)."""
    if replay is None:
        raise ValueError("mode='policy_replay' needs replay=<arrays of the policy-replay dataset> (obs, actions, "
                         "rewards, next_obs, source_task), e.g. load_dataset(<dataset>_policy_replay).arrays; make "
                         "it with: python -m borel_lib.collect <domain> --profile <profile> --policy-replay")
    missing = [k for k in ("obs", "actions", "rewards", "next_obs", "source_task") if k not in replay]
    if missing:
        raise ValueError(f"replay is missing {missing}; needs obs, actions, rewards, next_obs, source_task")
    n_tasks, _, T = arrays["rewards"].shape[:3]
    rn, rm, rT = replay["rewards"].shape[:3]
    if (rn, rT) != (n_tasks, T) or rm < 1:
        raise ValueError(f"replay rewards have shape {replay['rewards'].shape[:3]} (n_tasks, n_trials, T); the "
                         f"own-policy data has n_tasks={n_tasks}, T={T}: use the replay dataset of the same collection")
    for name in ("obs", "actions", "next_obs"):
        if replay[name].shape[3:] != arrays[name].shape[3:]:
            raise ValueError(f"replay {name!r} has trailing shape {replay[name].shape[3:]}; the own-policy data has "
                             f"{arrays[name].shape[3:]}")
