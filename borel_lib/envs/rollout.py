"""Roll a policy through one BAMDP trial and record it (used by notebooks and evaluation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from borel_lib.envs.base import BAMDPTrial

Policy = Callable[[Any, np.random.Generator], np.ndarray]


def random_policy(trial: BAMDPTrial) -> Policy:
    """Uniformly random actions from the trial's action space, drawn from the given generator."""
    space = trial.action_space

    def act(obs: Any, rng: np.random.Generator) -> np.ndarray:
        if space.shape == ():
            return np.int64(rng.integers(space.n))
        return rng.uniform(space.low, space.high).astype(np.float32)

    return act


def rollout_trial(trial: BAMDPTrial, task: np.ndarray, policy: Policy, seed: int,
                  rng: np.random.Generator | None = None) -> dict[str, Any]:
    """One trial of ``task`` from ``reset(seed=seed)``; returns stacked ``obs``, ``actions``,
    ``rewards``, ``next_obs`` (flagged; ``next_obs`` holds each episode's true last state) and
    ``episode`` (0-based index per step). Dict observations are stacked per key."""
    rng = np.random.default_rng(seed) if rng is None else rng
    obs, _ = trial.reset(seed=seed, options={"task": task})
    rec: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "next_obs": [], "episode": []}
    done = False
    while not done:
        a = policy(obs, rng)
        nxt, r, term, trunc, info = trial.step(a)
        rec["obs"].append(obs)
        rec["actions"].append(a)
        rec["rewards"].append(r)
        rec["next_obs"].append(info.get("episode_final_obs", nxt))
        rec["episode"].append(info["episode"])
        obs, done = nxt, term or trunc

    def stack(xs: list) -> Any:
        if isinstance(xs[0], dict):
            return {k: np.stack([x[k] for x in xs]) for k in xs[0]}
        return np.stack(xs) if np.ndim(xs[0]) else np.asarray(xs)

    return {k: stack(v) for k, v in rec.items()}
