"""What a trained MBML has learned, checked without new training (ours, not the MBML paper's): how well its
encoder names the task of held-out trials (step 5 of :mod:`~borel_lib.baselines.mbml`, reported in its
results table), and where it loses against its own parts (:func:`probe_components`, used by
``scripts/probe_mbml.py``; BOReL paper §6 compares MBML's final score only).

- **Task identification** (:func:`task_identification`): the last ``heldout_trials`` trials of every
  training task are kept out of every phase; for each, the posterior mean given the whole trial names
  the training task whose posterior (from its training data) is nearest; we report accuracy against
  chance 1/N, and the fraction named within the goal radius of the true goal against its chance.
- **Where MBML loses** (:func:`probe_components`): the BCQ teachers, the distilled student with its
  task's own z and the student with the test protocol (:func:`~borel_lib.baselines.common.evaluate`),
  on the training tasks, from the most to the least informed (:data:`PROBE_MODES`).
- **Teachers against their data** (:func:`logged_returns`, :func:`evaluate_teachers`, used by
  ``scripts/mbml_teachers.py``): every task's BCQ teacher on its own task from the collection's initial states,
  against the logged trials it learns from (issue "fair comparisons": MBML's teachers should be at least as good
  as the data, or distillation and inference are bounded before they start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from borel_lib.baselines.common import context_features, evaluate
from borel_lib.config import ConfigError

if TYPE_CHECKING:
    from borel_lib.baselines.bcq import EnsembleBCQ
    from borel_lib.baselines.mbml import MBMLTrainer
    from borel_lib.baselines.mbml_models import MBMLAgent
    from borel_lib.datasets import OfflineDataset


@torch.no_grad()
def task_identification(trainer: MBMLTrainer, reference_size: int = 512) -> dict[str, float]:
    """How well the trained encoder names the task of held-out trials (module docstring)."""
    data, ag = trainer.data, trainer.agent
    h = data.heldout
    N, Mh = h["rewards"].shape[:2]
    if Mh == 0:
        raise ConfigError("task_identification needs heldout_trials > 0")
    rng = np.random.default_rng(trainer.seed + 30_000)
    ref = data.sample(np.arange(N), reference_size, rng)
    ref_ctx = context_features(ref["obs"], ref["actions"], ref["rewards"], ref["next_obs"], True)
    centroids = ag.posterior(torch.as_tensor(ref_ctx, device=ag.device))[0]  # (N, L)
    held = context_features(h["obs"], h["actions"], h["rewards"], h["next_obs"], True)  # (N, Mh, T, ·)
    mu = ag.posterior(torch.as_tensor(held, device=ag.device))[0]  # (N, Mh, L)
    named = torch.cdist(mu.reshape(N * Mh, -1), centroids).argmin(-1).cpu().numpy().reshape(N, Mh)
    true = np.arange(N)[:, None]
    out = {"task_id_accuracy": float((named == true).mean()), "task_id_chance": 1.0 / N}
    if trainer.transitions:  # no goal to be near: the tasks are winds
        return out
    goals = np.asarray(data.tasks)
    dist = np.linalg.norm(goals[:, None] - goals[None], axis=-1)  # (N, N)
    if not hasattr(trainer.env, "goal_radius"):  # Half-Cheetah-Vel: how far the named velocity is from the true one
        return {**out, "task_id_error": float(dist[true, named].mean()), "task_id_error_chance": float(dist.mean())}
    radius = float(trainer.env.goal_radius)
    return {**out, "task_id_within_radius": float((dist[true, named] <= radius).mean()),
            "task_id_within_radius_chance": float((dist <= radius).mean())}


PROBE_MODES: dict[str, str] = {
    "teachers": "each task's own BCQ teacher, acting on its task (knows the task)",
    "student_own_data": "the distilled policy with z from the posterior of the task's own training data",
    "student_inferred": "the distilled policy with the test protocol (prior z, then the trial's posterior)",
    "zero_action": "a = 0 (what the metric gives for nothing)",
}
"""What :func:`probe_components` evaluates, from the most to the least informed agent."""


class _FixedZ:
    """:func:`~borel_lib.baselines.common.evaluate`'s agent interface with one given ``z`` per task for every
    episode (a zero-variance "prior"); subclasses say how to act on it."""

    def __init__(self, z: torch.Tensor):
        self.z, self.device = z, z.device

    def prior(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.z, torch.zeros_like(self.z)

    def sample_z(self, mu: torch.Tensor, var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return mu


class _TeacherAgent(_FixedZ):
    """The BCQ teachers: ``z`` is the member index."""

    def __init__(self, bcq: EnsembleBCQ, members: torch.Tensor, seed: int):
        super().__init__(members[:, None].float())
        self.bcq = bcq
        self.generator = torch.Generator(device=bcq.device).manual_seed(seed + 40_000)

    @torch.no_grad()
    def act(self, obs: np.ndarray, z: torch.Tensor, deterministic: bool = True) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return self.bcq.act(z[:, 0].long(), o, self.generator).cpu().numpy()


class _FixedZAgent(_FixedZ):
    """The distilled agent acting on its given ``z``."""

    def __init__(self, agent: MBMLAgent, z: torch.Tensor):
        super().__init__(z)
        self.agent = agent

    def act(self, obs: np.ndarray, z: torch.Tensor, deterministic: bool = True) -> np.ndarray:
        return self.agent.act(obs, z, deterministic)


class _ZeroAgent(_FixedZAgent):
    def act(self, obs: np.ndarray, z: torch.Tensor, deterministic: bool = True) -> np.ndarray:
        return np.zeros((len(obs), self.agent.act_dim), np.float32)


@torch.no_grad()
def probe_components(trainer: MBMLTrainer, context_size: int = 512) -> pd.DataFrame:
    """Where does a trained MBML lose? Its parts evaluated on its *training* tasks (whose teachers exist)
    with the test protocol of :func:`~borel_lib.baselines.common.evaluate` (fixed start, k episodes), from
    the most to the least informed agent (:data:`PROBE_MODES`). Teachers below the data's own returns: BCQ
    is the limit; the student with its own task's z below the teachers: distillation; the inferred student
    below that: task inference. Returns per-task, per-episode ``return`` and ``success`` rows with a ``mode`` column."""
    tasks = np.asarray(trainer.data.tasks)
    N = len(tasks)
    rng = np.random.default_rng(trainer.seed + 50_000)
    own = trainer.data.sample(np.arange(N), context_size, rng)
    ctx = context_features(own["obs"], own["actions"], own["rewards"], own["next_obs"], True)
    z_own = trainer.agent.posterior(torch.as_tensor(ctx, device=trainer.device))[0]
    every = 2**31  # more episodes than any trial has: every episode's z comes from ``prior()``
    # (agent, episodes whose z comes from ``prior``): the fixed-z agents' "prior" is their own z
    agents = {"teachers": (_TeacherAgent(trainer.bcq, torch.arange(N, device=trainer.device), trainer.seed), every),
              "student_own_data": (_FixedZAgent(trainer.agent, z_own), every),
              "student_inferred": (trainer.agent, trainer.cfg.num_exp_traj_eval),
              "zero_action": (_ZeroAgent(trainer.agent, z_own), every)}
    frames = []
    for mode, (agent, n_prior) in agents.items():
        ev = evaluate(agent, trainer.domain, tasks, trainer.seed, n_prior, use_next_obs=True, inputs=trainer.inputs)
        frames.append(ev.assign(mode=mode))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------- teachers against their data
TEACHER_FIELDS = ("bcq_iterations", "bcq_batch", "bcq_actor_hidden", "bcq_critic_hidden", "bcq_vae_hidden", "bcq_phi",
                  "bcq_lambda", "bcq_candidates", "lr", "gamma", "tau", "heldout_trials")
"""The :class:`~borel_lib.baselines.mbml.MBMLConfig` fields the BCQ teachers depend on (the only ones
``scripts/mbml_teachers.py`` accepts)."""

TEACHER_NAMES = {"bcq_batch": "b", "bcq_actor_hidden": "a", "bcq_critic_hidden": "c",
                 "bcq_vae_hidden": "v", "bcq_phi": "phi", "bcq_lambda": "lam", "bcq_candidates": "cand",
                 "heldout_trials": "ho"}
"""Short names of those fields in a teacher run's name (``_a400x300``; the others keep their own)."""


def logged_returns(dataset: OfflineDataset, heldout: int, last: int) -> pd.DataFrame:
    """What the BCQ teachers learn from: the return and success per episode of every task's logged trials, over
    all its training trials (``method="logged_all"``; the last ``heldout`` trials excluded, as MBML excludes them)
    and over the last ``last`` of them (``"logged_last<last>"``, the collector's converged behaviour). Rows
    ``task, episode, metric, value, method``; success as the environments define it, on the logged next states."""
    from borel_lib.envs import make_env

    man = dataset.manifest
    k, H = int(man["episodes_per_trial"]), int(man["horizon"])
    N, M, T = dataset.rewards.shape
    keep = M - heldout
    if not 0 < last <= keep or T != k * H:
        raise ConfigError(f"logged_returns: last={last} must be in [1, {keep}] (the training trials of "
                          f"{dataset.path}) and its trials {k} episodes of {H} steps")
    env = make_env(man["domain"])
    tasks = np.asarray(dataset.tasks, np.float64)
    rewards = np.asarray(dataset.rewards[:, :keep], np.float64).reshape(N, keep, k, H).sum(-1)
    hit = np.stack([np.asarray(env.is_success(np.asarray(dataset.arrays["next_obs"][i, :keep, :, :-1], np.float32),
                                              tasks[i])).reshape(keep, k, H).any(-1) for i in range(N)])  # task by task
    rows = []
    for method, window in (("logged_all", slice(0, keep)), (f"logged_last{last}", slice(keep - last, keep))):
        for metric, v in (("return", rewards[:, window].mean(1)), ("success", hit[:, window].mean(1))):
            rows += [{"task": i, "episode": e + 1, "metric": metric, "value": float(v[i, e]), "method": method}
                     for i in range(N) for e in range(k)]
    return pd.DataFrame(rows)


@torch.no_grad()
def evaluate_teachers(trainer: MBMLTrainer, init_state: str) -> pd.DataFrame:
    """Every task's BCQ teacher on its own task, one k-episode trial each, from ``init_state`` (the collection's
    variant, so the comparison with :func:`logged_returns` differs only in the policy): per-task, per-episode
    ``return`` and ``success`` rows with ``method="bcq_teachers"``."""
    tasks = np.asarray(trainer.data.tasks)
    agent = _TeacherAgent(trainer.bcq, torch.arange(len(tasks), device=trainer.device), trainer.seed)
    ev = evaluate(agent, trainer.domain, tasks, trainer.seed, 2**31, use_next_obs=True, inputs=trainer.inputs,
                  init_state=init_state)
    return ev.assign(method="bcq_teachers")
