"""BOReL stage 2, state relabelling (paper §3.2): every stored state becomes a hyper-state.

The belief (:mod:`borel_lib.belief`: the VAE's, or the exact posterior) runs over every stored trial
(the original data, never the reward-relabelled mix) and each state gets the belief after the
transitions before it: s⁺_t = (s_t, b_t[, time_t]). The Bellman target needs the hyper-state the BAMDP
actually moves to, s'⁺_t = (s_{t+1}, b_{t+1}[, time_{t+1}]): inside an episode s_{t+1} is
``next_obs[t]``, but at the last step of episodes 1..k-1 it is the next episode's reset state
``obs[t+1]``, not the flagged episode-end state ``next_obs[t]``, which never occurs as a state the agent
acts in (bootstrapping from it is pure extrapolation: with it the Gridworld DQN's Q-values diverged to
~25,000 against a true maximum of 100). The trial's last transition is terminal (``dones``): the BAMDP
is k episodes long.

Time. The Bayes-optimal policy of a finite k-episode trial depends on the time left, which the state
does not show (the episode-end flag is 0 in every state an agent acts in). With ``time_input`` the
hyper-state also carries (t mod H)/H and ⌊t/H⌋/k: the trial's clock is part of the BAMDP state, so this
is not extra information. The authors' code had no such input.

Goal terminal. The authors stored reaching the goal as terminal (their ``terminals``), cutting the
Bellman backup there; the domains do not end at the goal, so by default we do not (``goal_terminal``
turns their convention on, as an option of offline RL). We never reset the belief at goal states (the
authors did during relabelling only).

Learnt inputs. The hyper-state's s is the part of the state the policy learns from: all of it, except on
Reacher-Image from pixels, whose feature view (:func:`borel_lib.image_features.learnt_columns`) hides the
joint angles by default; the belief, the rewards and the goal test still read the whole state.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from borel_lib.datasets import OfflineDataset
from borel_lib.envs import make_env


@dataclasses.dataclass(frozen=True)
class HyperStates:
    """State-relabelled data: every array ``(N, M, T, ·)``; hyper-states are [s, b, (time)]."""

    obs: np.ndarray
    """s⁺_t = (s_t, b_t, time_t)."""
    actions: np.ndarray
    """Actions as stored (integer actions as a float for Gridworld)."""
    rewards: np.ndarray
    """The original (un-relabelled) rewards."""
    next_obs: np.ndarray
    """s'⁺_t: the next hyper-state of the BAMDP (the next episode's reset state after an episode's last
    step)."""
    dones: np.ndarray
    """1 at the trial's last transition (the end of the BAMDP) and, with ``goal_terminal``, where the
    transition reaches the goal; else 0; ``(N, M, T)``."""


def time_features(t: np.ndarray | int, horizon: int, episodes: int) -> np.ndarray:
    """The trial's clock at step(s) ``t``: ``(..., 2)`` = ((t mod H)/H, ⌊t/H⌋/k)."""
    t = np.asarray(t)
    return np.stack([(t % horizon) / horizon, (t // horizon) / episodes], -1).astype(np.float32)


def hyper_state(obs: np.ndarray, belief: np.ndarray, t: np.ndarray | int | None, horizon: int,
                episodes: int, columns: list[int] | None = None) -> np.ndarray:
    """[s, b] or, with a time ``t`` (not None), [s, b, time(t)] along the last axis (shared by state
    relabelling and evaluation, so both build the same vectors); s keeps only ``columns`` of ``obs`` if
    given (the learnt inputs, module docstring)."""
    obs = np.asarray(obs, np.float32)
    parts = [obs if columns is None else obs[..., columns], np.asarray(belief, np.float32)]
    if t is not None:
        parts.append(np.broadcast_to(time_features(t, horizon, episodes), (*parts[0].shape[:-1], 2)))
    return np.concatenate(parts, -1)


def relabel_states(belief, dataset: OfflineDataset, time_input: bool = False, goal_terminal: bool = False,
                   mixed_copies: int = 0, seed: int = 0, replay: OfflineDataset | None = None,
                   raw_logs: bool = True, borrow: str = "half") -> HyperStates:
    """Run ``belief`` over every trial of ``dataset`` (module docstring).

    ``mixed_copies > 0`` appends that many reward-relabelled copies of every trial (the first half of
    the trial's episodes borrowed from random other tasks and relabelled with this task's reward, as
    :func:`borel_lib.relabel.sample_trials` does for the VAE), each relabelled with the belief computed
    *on the mixed trial*, so beliefs, states and rewards stay consistent. With ``replay`` (the
    collection's policy-replay dataset) the copies are policy-replay mixes instead: the first half of
    the episodes taken from this task's replayed trials (real transitions of this task, so this also
    works where tasks differ in transitions). Why: in the raw logs the
    collecting agent heads for its own goal, so given a hyper-state the logged task is not distributed
    as the belief says (a logged path that has ruled cells out is usually one whose goal lies just
    ahead), and the Bellman backup learns that bias; in a borrowed episode the behaviour does not depend
    on the task, which removes it there (beyond the paper: the authors mixed only the VAE's data).

    ``borrow="all"`` makes every episode of a copy borrowed (from uniformly drawn tasks, this one
    included; :func:`borel_lib.relabel.sample_trials`), which removes the bias from the whole trial, and
    ``raw_logs=False`` leaves the logged trials themselves out (then ``mixed_copies`` must be ≥ 1)."""
    if not raw_logs and mixed_copies < 1:
        raise ValueError("raw_logs=False needs mixed_copies >= 1 (else there is no data left)")
    from borel_lib.image_features import learnt_columns
    from borel_lib.relabel import replay_arrays, sample_trials

    N, M, T = dataset.rewards.shape
    k, H = dataset.manifest["episodes_per_trial"], dataset.manifest["horizon"]
    env = make_env(dataset.manifest["domain"])
    obs_dim = dataset.obs.shape[-1]
    columns = learnt_columns(dataset.manifest)  # the policy's part of a state (module docstring)
    d = (obs_dim if columns is None else len(columns)) + belief.dim + (2 if time_input else 0)
    MM = M * (int(raw_logs) + mixed_copies)
    aug_obs = np.empty((N, MM, T, d), np.float32)
    aug_next = np.empty_like(aug_obs)
    actions = np.empty((N, MM, T, dataset.actions.shape[-1]), np.float32)
    rewards = np.empty((N, MM, T), np.float32)
    next_raw = np.empty((N, MM, T, obs_dim), np.float32)
    steps = np.arange(T + 1) if time_input else None
    rng = np.random.default_rng(seed)
    arrays = dataset.arrays
    mix = {"mode": "reward_relabelling"} if replay is None else {
        "mode": "policy_replay", "replay": replay_arrays(dataset, replay)}
    for i in range(N):
        parts = [{key: np.asarray(getattr(dataset, key)[i], np.float32) for key in ("obs", "actions", "rewards",
                                                                                    "next_obs")}][: int(raw_logs)]
        for _ in range(mixed_copies):
            b = sample_trials(arrays, np.full(M, i), np.arange(M), tasks=dataset.tasks, episodes=k, horizon=H,
                              reward_fn=env.reward, rng=rng, varies=env.varies, borrow=borrow, **mix)
            parts.append({"obs": b.obs, "actions": b.actions, "rewards": b.rewards, "next_obs": b.next_obs})
        for c, part in enumerate(parts):
            sl = slice(c * M, (c + 1) * M)
            known = {"task": dataset.tasks[i]} if getattr(belief, "needs_task", False) else {}  # the goal-known reference
            feats = belief.trials(part["actions"], part["rewards"], part["next_obs"], **known)  # (M, T + 1, F)
            obs = part["obs"]
            nxt = np.concatenate([obs[:, 1:], part["next_obs"][:, -1:]], 1)
            aug_obs[i, sl] = hyper_state(obs, feats[:, :-1], None if steps is None else steps[:-1], H, k, columns)
            aug_next[i, sl] = hyper_state(nxt, feats[:, 1:], None if steps is None else steps[1:], H, k, columns)
            actions[i, sl], rewards[i, sl], next_raw[i, sl] = part["actions"], part["rewards"], part["next_obs"]
    dones = np.zeros((N, MM, T), np.float32)
    dones[..., -1] = 1.0
    if goal_terminal:
        tasks = np.asarray(dataset.tasks)[:, None, None, :]
        dones = np.maximum(dones, env.is_success(next_raw[..., :-1], tasks).astype(np.float32))
    return HyperStates(aug_obs, actions, rewards, aug_next, dones)
