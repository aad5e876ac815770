"""Data collection: the training logs of N conventional RL agents, one per task (paper §3.1, §6).

The authors ran one DQN (Gridworld) or SAC (continuous) process per task and saved its whole replay
buffer (``docs/differences.md``). Here all N agents train at once: the tasks step together
in a :class:`~borel_lib.envs.batched.BatchedTrial`, the agents are one
:class:`~borel_lib.agents.EnsembleSAC`/:class:`~borel_lib.agents.EnsembleDQN`, and every trial is
streamed into an on-disk dataset (:mod:`borel_lib.datasets`). The protocol per task is the authors':
``warmup_trials`` trials with uniformly random actions, then ``iterations`` times: ``trials_per_iter``
trials with the exploring policy (SAC sampling; DQN ε-greedy with ε annealed linearly from 1 to 0),
then ``updates_per_iter`` gradient updates on minibatches from the task's own replay buffer. The saved
dataset holds *every* trial, warm-up included.

Differences from the authors' code, on purpose: episodes 2..k start from a real reset state (their
wrapper dropped it); reaching the goal is not stored as terminal (the domains do not end there, so the
replay ``done`` is always 0); the random warm-up actions span the whole action box (theirs were scaled
twice and stayed within ±0.01 on the Semi-circle).

Policy replaying (§4, Proposition 3) is :func:`collect_policy_replay`: for each task, trials rolled out
by the final policies of uniformly drawn *other* tasks, recorded with this task's rewards.

A killed run resumes from its last checkpoint (agents, optimizers, replay buffers, every generator,
the partially written dataset) and produces the same dataset as an uninterrupted run.

**MuJoCo (Ant-Semi-circle, Half-Cheetah-Vel).** The tasks step in a
:class:`~borel_lib.envs.batched.BatchedMujocoTrial` (one model, one ``MjData`` per task). Ant follows
the authors' trick: the agents collect and learn under the *dense* reward −‖xy(s') − g‖₁ − 0.1‖a‖², whose
two terms are stored as the extra arrays ``reward_goal`` and ``reward_ctrl``; the dataset's ``rewards``
are the *sparse* evaluation reward 1[‖xy(s') − g‖₂ ≤ 0.2] − 0.1‖a‖², computed during collection from
the post-step torso position and the task's own goal (the authors' later relabel used the pre-step
position and a random goal — not copied). Table 1's three initial-state variants are the ``init_state``
option (``uniform``, ``exclude_semicircle``, ``fixed``); the paper protocol defaults to the authors'
shipped ``exclude_semicircle``. Paper protocol (both domains): 80 (Cheetah 100) tasks, 50 random
warm-up trials + 1000 iterations × 2 trials = 2,050 trials of 400 steps (820k transitions) and 2M SAC
updates (128×128, γ 0.99, α 0.2) per task.

*Memory at paper scale (Ant, computed, not run).* 80 tasks × 2,050 trials × 400 steps = 65.6M
transitions. As float32 memmaps a transition stores obs and next_obs (30 each, with the flag), the action
(8) and three rewards (``rewards``, ``reward_goal``, ``reward_ctrl``): 71 numbers = 284 bytes, so the
dataset is 18.6 GB (17.4 GiB) on disk; memory-mapped, reading it needs only the pages in use. Collecting
it in one process is another matter: the agents' replay buffers hold every transition in RAM (70
float32 = 280 bytes: 18.4 GB) and a checkpoint copies them once more (about 37 GB at the peak). At paper
scale collect the 80 tasks in groups (e.g. ``n_tasks=16`` per run with different seeds) or on a machine
with about 40 GB of RAM.

*Quick MuJoCo protocols.* 16 tasks, 20 warm-up trials + 200 iterations × 1 trial (220 trials, 88k
transitions per task), the paper's networks (128×128) and SAC settings (γ 0.99, α 0.2).

- Half-Cheetah-Vel: one agent per task (the authors' design), 200 updates per iteration (40k per agent).
  One stacked update of the 16 agents takes about 0.15 s on one core, so a collection is about 1.5–2 h.
- Ant-Semi-circle: **one shared agent** (``shared_agent``, ours, declared) with the task's goal as an
  extra input. It learns from all 16 tasks' transitions, with 1,000 updates of batch 256 per iteration
  (200k in all). Why: with one agent per task (200 updates per iteration, 40k per agent; 93–95 min per
  variant) the agents reached their goal in about 70 % of their last trials. But under the paper's
  metric their own task-knowing policies scored *below standing still*: −28 / −38 per episode at
  iteration 200, −21 / −25 at their best (iteration 150), against +8 / +4 for a = 0. They spent only
  7–19 of 200 steps in the goal disc and paid about −40 of control cost per episode
  (``scripts/probe_ant_collectors.py``, ``data/results/quick/probe_ant_collectors_*.csv``). Offline RL
  on such data learnt to stand still. SAC's α = 0.05 instead of 0.2 did not help (−34 / −29 at
  iteration 100, 8 tasks). One update of 16 stacked 128×128 agents at batch 256 costs 148 ms on one
  core; one shared agent costs 14 ms. So for the same compute the shared agent makes 5× the updates,
  and every update teaches all tasks to walk. Measured on the uniform starts, 100 iterations of this
  protocol: the exploring policy spends 62 / 51 steps per episode in the goal disc (return +0.8 / −12.5);
  the per-task agents spend 7 / 7 at iteration 100 and 19 / 14 at iteration 200 (−33 / −38). Its mean
  action does worse (8 / 11 steps), as it did for the per-task agents. The data keeps the paper's
  structure: each task's trials head for that task's own goal. What changes is that the behaviour comes
  from one network, and ``policy replaying`` is not available (it swaps per-task policies). About 19 s
  per iteration on an idle core (about 65 min per variant); the uniform data took 85 min beside other runs.

The ``paper`` profile keeps one agent per task (the authors'). The dataset of one quick Ant variant is
0.4 GB.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.agents import (
    CALIBRATED_SAC,
    LOG_STD_CHOICES,
    DQNConfig,
    EnsembleDQN,
    EnsembleReplay,
    EnsembleSAC,
    SACConfig,
)
from borel_lib.config import Config, ConfigError, check_choice, check_positive, check_seed, resolve_profile
from borel_lib.datasets import (
    DatasetError,
    DatasetWriter,
    OfflineDataset,
    dataset_lock,
    load_dataset,
    temp_dir,
)
from borel_lib.device import get_device
from borel_lib.envs import INIT_STATE_OPTIONS, domain_info, make_env
from borel_lib.envs.batched import BATCHABLE, MUJOCO_BATCHABLE, BatchedMujocoTrial, BatchedTrial
from borel_lib.io import atomic_path
from borel_lib.seeding import spawn_generators

# the authors' data-collection settings per domain: paper values
_PAPER: dict[str, dict[str, Any]] = {
    "gridworld": dict(n_tasks=21, init_state="uniform", warmup_trials=10, iterations=100, trials_per_iter=5,
                      updates_per_iter=200, epsilon_iters=50, hidden=(16, 16), gamma=0.99, alpha=0.0),
    "semicircle": dict(n_tasks=80, init_state="uniform", warmup_trials=50, iterations=300, trials_per_iter=2,
                       updates_per_iter=500, epsilon_iters=0, hidden=(32, 32), gamma=0.9, alpha=0.01),
    # the authors' shipped Ant default is the "Excluding s.c." dataset (spec §2.4); Table 1 varies it
    "ant_semicircle": dict(n_tasks=80, init_state="exclude_semicircle", warmup_trials=50, iterations=1000,
                           trials_per_iter=2, updates_per_iter=2000, epsilon_iters=0, hidden=(128, 128), gamma=0.99,
                           alpha=0.2),
    "cheetah_vel": dict(n_tasks=100, init_state="fixed", warmup_trials=50, iterations=1000, trials_per_iter=2,
                        updates_per_iter=2000, epsilon_iters=0, hidden=(128, 128), gamma=0.99, alpha=0.2),
}
# Wind and Escape-Room (paper §6 domains 6-7): the authors released no code for them, so their "paper"
# protocol is ours: the Semi-circle protocol unchanged (the paper's "off-the-shelf SAC" for every
# continuous domain), with uniform initial states as for Figure 3 (each env's ``uniform`` region is
# our choice, documented on WindEnv / EscapeRoomEnv).
_PAPER["wind"] = dict(_PAPER["semicircle"])
_PAPER["escape_room"] = dict(_PAPER["semicircle"])
DENSE_COLLECTION = ("ant_semicircle", "wind")
"""Domains whose collecting agents learn from the env's dense reward while the dataset stores the sparse
one (``reward_goal``/``reward_ctrl`` keep the dense terms): Ant, the authors' trick, and Wind, ours in
every profile (the authors released no Wind code). Wind's dense reward −‖s' − g‖ has the same goal for
every task, so it leaks nothing about the wind that the transitions do not reveal."""
_QUICK: dict[str, dict[str, Any]] = {
    "gridworld": dict(),  # the paper's protocol takes about a minute on 2 cores
    "semicircle": dict(n_tasks=40, warmup_trials=20, iterations=100, updates_per_iter=150),
    # MuJoCo: see "Quick MuJoCo protocols" in the module docstring for the measurements behind these
    "ant_semicircle": dict(n_tasks=16, warmup_trials=20, iterations=200, trials_per_iter=1, updates_per_iter=1000,
                           shared_agent=True, checkpoint_every=10, goal_relabel=0.5,
                           **{k: v for k, v in CALIBRATED_SAC.items() if k != "alpha"}, lr=3e-4),
    "cheetah_vel": dict(n_tasks=16, warmup_trials=20, iterations=200, trials_per_iter=1, updates_per_iter=200,
                        checkpoint_every=10),
    # Escape-Room, measured on the first 30 iterations of this protocol: trial success 0.94 at iteration 14,
    # 0.95-1.00 from iteration 20 on; over iterations 25-29 mean 0.98, 39 of 40 agents >= 0.8.
    # Wind: on the sparse reward alone (50 warm-up trials) the agents were still at the random level after 20
    # iterations (success 0.02-0.12 per iteration); they now learn from the dense reward (DENSE_COLLECTION).
    # Measured on this protocol: with -|s' - g| alone, 0.74 per iteration over iterations 50-59 (killed at 70);
    # with the sparse reward + that shaping (WindEnv.dense_reward): 0.05 at iteration 0, 0.49 at 20, 0.79 at
    # 50, 0.91 at 80, 0.92 over iterations 90-99; last 5 trials of every agent: mean 0.91, 36 of 40 agents
    # >= 0.8. NOT every agent: the strongest winds blowing down and sideways still lag (task with
    # w = (0.077, -0.058): 0.0; three others 0.1-0.65 over iterations 80-99). So 200 iterations: 0.90 at
    # iteration 100, 0.93 at 120, 0.97 at 150, 1.00 at 199; last 5 trials of every agent: mean 0.99, 40 of 40
    # agents >= 0.8 (lowest 0.8; over iterations 190-199 every agent >= 0.9). 15.5 min on a shared core.
    "wind": dict(n_tasks=40, warmup_trials=20, iterations=200, updates_per_iter=150),
    "escape_room": dict(n_tasks=40, warmup_trials=20, iterations=100, updates_per_iter=150),
}
_SMOKE_SAC = dict(n_tasks=4, warmup_trials=2, iterations=3, trials_per_iter=1, updates_per_iter=4, checkpoint_every=2,
                  batch_size=32)
_SMOKE: dict[str, dict[str, Any]] = {
    "gridworld": dict(n_tasks=4, warmup_trials=2, iterations=3, trials_per_iter=1, updates_per_iter=4,
                      epsilon_iters=2, checkpoint_every=2, batch_size=32),
    "ant_semicircle": dict(n_tasks=2, warmup_trials=1, iterations=2, trials_per_iter=1, updates_per_iter=2,
                           checkpoint_every=1, batch_size=32, hidden=(16, 16), shared_agent=True, goal_relabel=0.5,
                           target_entropy=-8.0, alpha_lr=1e-3, critic_lr=1e-3, log_std="tanh"),
    "cheetah_vel": dict(n_tasks=2, warmup_trials=1, iterations=2, trials_per_iter=1, updates_per_iter=2,
                        checkpoint_every=1, batch_size=32, hidden=(16, 16)),
    "semicircle": _SMOKE_SAC, "wind": _SMOKE_SAC, "escape_room": _SMOKE_SAC,
}


@dataclasses.dataclass(frozen=True)
class CollectConfig(Config):
    """One batched data-collection run (defaults: the authors' Semi-circle protocol)."""

    domain: str = "semicircle"
    """Domain short name; batched collection supports gridworld, semicircle, wind, escape_room,
    ant_semicircle, cheetah_vel."""
    n_tasks: int = 80
    """N, number of training tasks = agents (Gridworld 21, Semi-circle 80)."""
    init_state: str = "uniform"
    """Initial-state distribution of collection: uniform, exclude_semicircle or fixed (paper §6,
    Table 1's three Ant variants; Cheetah has only fixed = gym's noisy reset)."""
    warmup_trials: int = 50
    """Trials with uniformly random actions before learning (Gridworld 10, Semi-circle 50)."""
    iterations: int = 300
    """Collection iterations (Gridworld 100, Semi-circle 300)."""
    trials_per_iter: int = 2
    """Trials collected per task per iteration (Gridworld 5, Semi-circle 2)."""
    updates_per_iter: int = 500
    """Gradient updates per iteration (Gridworld 200, Semi-circle 500)."""
    batch_size: int = 256
    """Transitions per agent per update."""
    hidden: tuple[int, ...] = (32, 32)
    """Hidden layers of every network (Gridworld DQN 16x16, Semi-circle SAC 32x32)."""
    gamma: float = 0.9
    """Discount (Gridworld 0.99, Semi-circle 0.9)."""
    alpha: float = 0.01
    """SAC's fixed entropy weight (Semi-circle 0.01; unused by DQN)."""
    target_entropy: float | None = None
    """SAC only: None = α fixed at ``alpha`` (the authors, every profile's default); a number H̄ = automatic
    entropy tuning towards H̄ from ``alpha`` (e.g. −act_dim; :class:`borel_lib.agents.SACConfig`)."""
    lr: float = 3e-4
    """Adam learning rate of every network (SAC: of the policy, and of the critics unless ``critic_lr`` is set)."""
    critic_lr: float | None = None
    """SAC only: Adam learning rate of the twin critics; None = ``lr`` (the authors)."""
    alpha_lr: float | None = None
    """SAC with ``target_entropy`` only: Adam learning rate of log α; None = ``lr``."""
    log_std: str = "clamp"
    """SAC only: the policy's log-std parametrisation, ``clamp`` (the authors') or ``tanh`` (CleanRL's);
    :attr:`borel_lib.agents.SACConfig.log_std`."""
    epsilon_iters: int = 0
    """DQN: iterations over which ε decays linearly from 1 to 0 (Gridworld 50)."""
    checkpoint_every: int = 10
    """Iterations between resumable checkpoints (and saved policies for policy replaying)."""
    goal_bonus: float = 0.0
    """Dense-reward domains only (Ant, Wind): weight b of the goal indicator 1[success(s')] added to the
    dense reward the collecting SAC learns from, r = dense + b·1[goal reached]. 0 = the authors' dense
    reward (every profile's default); the dataset's stored rewards never include it."""
    progress_bonus: float = 0.0
    """Ant only: weight c of a progress term added to the dense reward the collecting SAC learns from,
    r = dense + c·(‖xy(s) − g‖₁ − ‖xy(s') − g‖₁)/dt (dt = 0.05 s: the speed towards the goal, the analogue of
    Gymnasium Ant's forward-velocity reward; potential-based shaping up to γ). 0 = the authors' dense reward
    (every profile's default); the dataset's stored rewards never include it."""
    goal_relabel: float = 0.0
    """Shared Ant agent only (ours, declared): the fraction of every minibatch whose goal input is replaced by
    a uniformly drawn training goal, the dense training reward −‖xy(s') − g‖₁ − 0.1‖a‖² (and any bonus) recomputed for it
    (multi-goal relabelling: every transition teaches walking to every goal). The stored dataset and the
    logged behaviour's own goals are unchanged. 0 = off (the authors, the paper profile)."""
    shared_agent: bool = False
    """One SAC for all N tasks, its input the observation and the task (e.g. the goal), trained on every
    task's transitions, instead of one agent per task (the authors). Ours, a declared alternative for the
    quick MuJoCo protocols (module docstring): locomotion is learnt once instead of N times. Continuous
    domains only; ``batch_size`` is then the shared agent's whole minibatch."""
    seed: int = 0
    """Seed of tasks, agents and environments."""
    device: str = "auto"
    """Torch device: auto, cpu or cuda."""

    def validate(self) -> None:
        check_choice(self.domain, "domain", BATCHABLE + MUJOCO_BATCHABLE)
        check_choice(self.init_state, "init_state", make_env(self.domain).init_state_options)
        check_seed(self.seed)
        check_choice(self.device, "device", ("auto", "cpu", "cuda"))
        for name in ("n_tasks", "iterations", "trials_per_iter", "batch_size", "checkpoint_every"):
            check_positive(getattr(self, name), name)
        for name in ("warmup_trials", "updates_per_iter", "epsilon_iters"):
            check_positive(getattr(self, name), name, allow_zero=True)
        if self.warmup_trials + self.iterations * self.trials_per_iter < 1:
            raise ConfigError("the run collects no trial")
        check_positive(self.goal_bonus, "goal_bonus", allow_zero=True)
        if self.goal_bonus and not self.dense_collection:
            raise ConfigError(f"goal_bonus={self.goal_bonus} needs a dense-reward collection domain "
                              f"({', '.join(DENSE_COLLECTION)}); domain={self.domain!r} learns from its stored reward")
        check_positive(self.progress_bonus, "progress_bonus", allow_zero=True)
        if self.progress_bonus and self.domain != "ant_semicircle":
            raise ConfigError(f"progress_bonus={self.progress_bonus} is defined for domain 'ant_semicircle' only "
                              f"(the torso's speed towards the goal); got domain={self.domain!r}")
        if self.target_entropy is not None and self.discrete:
            raise ConfigError(f"target_entropy={self.target_entropy} tunes SAC's α; domain={self.domain!r} collects with "
                              "DQN (set target_entropy=None)")
        if self.shared_agent and self.discrete:
            raise ConfigError("shared_agent=True needs a continuous domain (SAC); gridworld's DQN agents are per task")
        for name in ("critic_lr", "alpha_lr"):
            if getattr(self, name) is not None:
                check_positive(getattr(self, name), name)
        check_choice(self.log_std, "log_std", LOG_STD_CHOICES)
        if not 0 <= self.goal_relabel <= 1:
            raise ConfigError(f"goal_relabel={self.goal_relabel} must be a fraction in [0, 1]")
        if self.goal_relabel and not (self.domain == "ant_semicircle" and self.shared_agent):
            raise ConfigError(f"goal_relabel={self.goal_relabel} needs domain 'ant_semicircle' with shared_agent=True "
                              f"(got domain={self.domain!r}, shared_agent={self.shared_agent})")

    @property
    def discrete(self) -> bool:
        return self.domain == "gridworld"

    @property
    def dense_collection(self) -> bool:
        """Ant and Wind: collect and train SAC on the dense reward, store the sparse one (module docstring)."""
        return self.domain in DENSE_COLLECTION

    @property
    def trials_per_task(self) -> int:
        return self.warmup_trials + self.iterations * self.trials_per_iter

    @classmethod
    def for_domain(cls, domain: str, profile: str | None = None, **overrides: Any) -> CollectConfig:
        """The authors' protocol for ``domain`` (profile ``paper``), or its quick/smoke reduction."""
        profile = resolve_profile(profile)
        if domain not in _PAPER:
            raise ConfigError(f"no collection protocol for domain {domain!r}; available: {', '.join(_PAPER)}")
        return cls.for_layers(profile, _PAPER[domain], {"quick": _QUICK, "smoke": _SMOKE}.get(profile, {}).get(domain),
                              {"domain": domain, **overrides})


def _doc(fn: Any) -> str:
    """The first line of ``fn``'s docstring (a reward's formula, for the dataset manifest)."""
    return (fn.__doc__ or "").strip().splitlines()[0]


def _save_torch(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


class Collector:
    """A resumable batched collection run writing ``dataset_path`` (see module docstring)."""

    def __init__(self, config: CollectConfig, dataset_path: str | os.PathLike[str],
                 checkpoint_dir: str | os.PathLike[str], profile: str = "quick", command: str = ""):
        self.cfg = config
        self.dataset_path = Path(dataset_path)
        self.ckpt_dir = Path(checkpoint_dir)  # created by the first checkpoint, never by a rejected run
        self.device = get_device(config.device)
        cfg = config
        self.env = make_env(cfg.domain, init_state=cfg.init_state,
                            **({"reward_mode": "dense"} if cfg.dense_collection else {}))
        trial_cls = BatchedMujocoTrial if cfg.domain in MUJOCO_BATCHABLE else BatchedTrial
        self.trial = trial_cls(self.env, cfg.n_tasks)
        self.tasks = collection_tasks(cfg)
        _, seed_rng = spawn_generators(cfg.seed, 2)
        self.env_seeds = [int(s) for s in seed_rng.integers(0, 2**31 - 1, size=cfg.n_tasks)]
        agent_seeds = [int(s) for s in seed_rng.integers(0, 2**31 - 1, size=cfg.n_tasks)]
        obs_dim = self.env.observation_space.shape[0] + 1
        self.members = 1 if cfg.shared_agent else cfg.n_tasks
        if cfg.shared_agent:  # the shared agent sees the task too (not stored in the dataset)
            agent_seeds = agent_seeds[:1]
            self.agent_obs_dim = obs_dim + self.tasks.shape[1]
        else:
            self.agent_obs_dim = obs_dim
        if cfg.discrete:
            self.act_dim = 1
            self.agent = EnsembleDQN(obs_dim, 5, agent_seeds, DQNConfig(hidden=cfg.hidden, lr=cfg.lr, gamma=cfg.gamma,
                                                                        batch_size=cfg.batch_size), self.device)
        else:
            self.act_dim = self.env.action_space.shape[0]
            self.agent = EnsembleSAC(self.agent_obs_dim, self.act_dim, agent_seeds,
                                     SACConfig(hidden=cfg.hidden, actor_lr=cfg.lr, critic_lr=cfg.critic_lr or cfg.lr,
                                               gamma=cfg.gamma, alpha=cfg.alpha, target_entropy=cfg.target_entropy,
                                               alpha_lr=cfg.alpha_lr, log_std=cfg.log_std,
                                               batch_size=cfg.batch_size), self.device)
        T = self.trial.trial_length
        per_member = cfg.trials_per_task * T * (cfg.n_tasks if cfg.shared_agent else 1)
        self.replay = EnsembleReplay(self.members, per_member, self.agent_obs_dim, self.act_dim, self.device)
        N, M = cfg.n_tasks, cfg.trials_per_task
        self.shapes = {"obs": (N, M, T, obs_dim), "actions": (N, M, T, self.act_dim), "rewards": (N, M, T),
                       "next_obs": (N, M, T, obs_dim), "iteration": (N, M)}
        if cfg.dense_collection:
            self.shapes.update(reward_goal=(N, M, T), reward_ctrl=(N, M, T))
        self.manifest = {
            "domain": cfg.domain, "env_id": domain_info(cfg.domain).env_id, "tasks": self.tasks.tolist(),
            "n_tasks": N, "n_trials": M, "episodes_per_trial": self.trial.k, "horizon": self.trial.H,
            "trial_length": T, "init_state": cfg.init_state, "collection_mode": "own_policy", "profile": profile,
            "config": cfg.to_dict(), "seed": cfg.seed, "created_by": command,
            "notes": "iteration -1 = random warm-up trials" + (
                f"; rewards = the sparse evaluation reward ({_doc(self.env.sparse_reward)}); the agents trained on "
                f"the dense reward reward_goal + reward_ctrl ({_doc(self.env.dense_reward)})"
                if cfg.dense_collection else ""),
        }
        self.curves: list[dict[str, Any]] = []
        self.trials_done = 0
        self.iteration = 0  # next learning iteration to run
        self.writer: DatasetWriter | None = None

    # ------------------------------------------------------------------------------ acting
    def _random_actions(self) -> torch.Tensor:
        gens = self.agent.generators
        if self.cfg.discrete:
            return torch.stack([torch.randint(5, (), generator=g, device=g.device) for g in gens])
        if self.cfg.shared_agent:
            g = gens[0]
            return torch.rand(self.cfg.n_tasks, self.act_dim, generator=g, device=g.device) * 2 - 1
        return torch.stack([torch.rand(self.act_dim, generator=g, device=g.device) * 2 - 1 for g in gens])

    def agent_inputs(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The agents' observations ``(members, B, dim)`` for per-task observations ``(N, B, obs_dim)`` (or
        ``(N, obs_dim)``: then ``(members, dim)``): the shared agent sees each task appended and all tasks
        as one batch; per-task agents see their own task's observations."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if not self.cfg.shared_agent:
            return o
        single = o.dim() == 2
        o = o[:, None] if single else o
        task = torch.as_tensor(self.tasks, dtype=torch.float32, device=self.device)[:, None].expand(-1, o.shape[1], -1)
        o = torch.cat([o, task], -1).reshape(1, -1, self.agent_obs_dim)
        return o[0] if single else o

    def act(self, obs: np.ndarray, mode: str, epsilon: float = 0.0) -> np.ndarray:
        """Every task's action for observations ``(N, obs_dim)``: ``random``, ``policy`` (exploring: SAC
        samples, DQN ε-greedy) or ``deterministic`` (SAC's mean action). SAC: ``(N, act_dim)``; DQN: ``(N,)``
        action indices."""
        if mode == "random":
            a = self._random_actions()
        elif self.cfg.discrete:
            a = self.agent.act(self.agent_inputs(obs), epsilon=epsilon)
        else:
            x = self.agent_inputs(obs)
            a = self.agent.act(x[None] if self.cfg.shared_agent else x, deterministic=mode == "deterministic")
        a = a.detach().cpu().numpy()
        return a.reshape(self.cfg.n_tasks, self.act_dim) if self.cfg.shared_agent else a

    def run_trial(self, mode: str, epsilon: float = 0.0) -> dict[str, np.ndarray]:
        """One k-episode trial for all tasks with ``mode`` random or policy; arrays ``(N, T, ...)``."""
        N, T = self.cfg.n_tasks, self.trial.trial_length
        obs = self.trial.reset(self.tasks)  # per-task generators continue their streams
        rec = {"obs": np.zeros((N, T, obs.shape[-1]), np.float32), "actions": np.zeros((N, T, self.act_dim), np.float32),
               "rewards": np.zeros((N, T), np.float32), "next_obs": np.zeros((N, T, obs.shape[-1]), np.float32)}
        if self.cfg.dense_collection:
            rec.update(reward_goal=np.zeros((N, T), np.float32), reward_ctrl=np.zeros((N, T), np.float32))
        for t in range(T):
            a = self.act(obs, mode, epsilon)
            out = self.trial.step(a)
            rec["obs"][:, t] = obs
            rec["actions"][:, t] = a.reshape(N, self.act_dim)
            rec["rewards"][:, t] = out.reward
            rec["next_obs"][:, t] = out.next_obs
            if self.cfg.dense_collection:  # store the evaluation reward; the agents learn from the dense one
                rec["rewards"][:, t] = self.env.sparse_reward(obs[:, :-1], a, out.next_obs[:, :-1], self.tasks)
                rec["reward_goal"][:, t] = out.info["reward_goal"]
                rec["reward_ctrl"][:, t] = out.info["reward_ctrl"]
            obs = out.obs
        return rec

    def training_rewards(self, rec: dict[str, np.ndarray]) -> np.ndarray:
        """The rewards the agents learn from: the dense sum ``reward_goal + reward_ctrl`` for Ant and Wind
        (the authors' trick), plus ``goal_bonus`` × 1[goal reached at s'] and ``progress_bonus`` × the speed
        towards the goal when set; else the stored rewards."""
        if "reward_goal" not in rec:
            return rec["rewards"]
        r = rec["reward_goal"] + rec["reward_ctrl"]
        if not (self.cfg.goal_bonus or self.cfg.progress_bonus):
            return r
        nxt = np.asarray(rec["next_obs"])[..., :-1]  # (N, T, dim) or a dataset's (N, M, T, dim)
        tasks = np.asarray(self.tasks).reshape(len(self.tasks), *[1] * (nxt.ndim - 2), -1)
        if self.cfg.goal_bonus:
            reached = self.env.is_success(nxt, tasks)
            r = r + np.float32(self.cfg.goal_bonus) * reached.astype(np.float32)
        if self.cfg.progress_bonus:
            goals = tasks.astype(np.float32)
            before = np.abs(np.asarray(rec["obs"])[..., :2] - goals).sum(-1)
            after = np.abs(nxt[..., :2] - goals).sum(-1)
            r = r + np.float32(self.cfg.progress_bonus / self.env.dt) * (before - after).astype(np.float32)
        return r

    def relabel_goals(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Multi-goal relabelling of the shared Ant agent's minibatch (``goal_relabel``): a fraction of its
        transitions get a uniformly drawn training goal as the goal input of s and s', and the dense reward
        −‖xy(s') − g‖₁ − 0.1‖a‖² (plus ``goal_bonus``/``progress_bonus``, as :meth:`training_rewards`) for that
        goal. Draws from the agent's generator; returns a new batch."""
        g = self.agent.generators[0]
        obs, nxt = batch["obs"].clone(), batch["next_obs"].clone()
        B, d = obs.shape[1], self.tasks.shape[1]
        relabel = torch.rand(B, generator=g, device=g.device) < self.cfg.goal_relabel
        tasks = torch.as_tensor(self.tasks, dtype=torch.float32, device=obs.device)
        drawn = tasks[torch.randint(len(tasks), (B,), generator=g, device=g.device)]
        goal = torch.where(relabel[:, None], drawn, obs[0, :, -d:])
        obs[0, :, -d:], nxt[0, :, -d:] = goal, goal
        after = (nxt[0, :, :2] - goal).abs().sum(-1)
        dense = -after - self.env.ctrl_cost_weight * batch["actions"][0].pow(2).sum(-1)
        if self.cfg.goal_bonus:  # the same shaping terms as training_rewards, for the drawn goal
            dense = dense + self.cfg.goal_bonus * ((nxt[0, :, :2] - goal).norm(dim=-1) <= self.env.goal_radius).float()
        if self.cfg.progress_bonus:
            dense = dense + self.cfg.progress_bonus / self.env.dt * ((obs[0, :, :2] - goal).abs().sum(-1) - after)
        rewards = torch.where(relabel, dense, batch["rewards"][0])[None]
        return {**batch, "obs": obs, "next_obs": nxt, "rewards": rewards}

    def _record(self, rec: dict[str, np.ndarray], iteration: int) -> float:
        """Write one trial of every task to the dataset, replay and learning curves; return the
        fraction of tasks whose goal was reached."""
        m = self.trials_done
        assert self.writer is not None
        self.writer.write(trials=m, iteration=np.full(self.cfg.n_tasks, iteration, np.int32), **rec)
        shape = (self.members, -1)  # the shared agent's buffer takes every task's trial
        self.replay.add(obs=self.agent_inputs(rec["obs"]).reshape(*shape, self.agent_obs_dim),
                        actions=torch.as_tensor(rec["actions"]).reshape(*shape, self.act_dim),
                        rewards=torch.as_tensor(self.training_rewards(rec)).reshape(shape),
                        next_obs=self.agent_inputs(rec["next_obs"]).reshape(*shape, self.agent_obs_dim),
                        dones=torch.zeros(rec["rewards"].shape).reshape(shape))
        H = self.trial.H
        success = self.env.is_success(rec["next_obs"][..., :-1], self.tasks[:, None, :])
        ep_returns = rec["rewards"].reshape(self.cfg.n_tasks, -1, H).sum(-1)
        for i in range(self.cfg.n_tasks):
            base = {"domain": self.cfg.domain, "method": "dqn" if self.cfg.discrete else "sac",
                    "variant": self.cfg.init_state, "seed": self.cfg.seed, "task": i, "trial": m,
                    "iteration": iteration}
            for e in range(ep_returns.shape[1]):
                self.curves.append({**base, "episode": e + 1, "metric": "return", "value": float(ep_returns[i, e])})
            if self.cfg.dense_collection:
                dense = self.training_rewards(rec)[i].reshape(-1, H).sum(-1)
                for e in range(dense.shape[0]):
                    self.curves.append({**base, "episode": e + 1, "metric": "dense_return", "value": float(dense[e])})
            self.curves.append({**base, "episode": 0, "metric": "success", "value": float(success[i].any())})
        self.trials_done += 1
        return float(success.any(-1).mean())

    # ------------------------------------------------------------------------- checkpoints
    def _ckpt_path(self) -> Path:
        return self.ckpt_dir / "collector.pt"

    def save_checkpoint(self) -> None:
        assert self.writer is not None
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.writer.checkpoint(trials_done=self.trials_done, iteration=self.iteration)
        state = {"agent": self.agent.full_state_dict(), "replay": self.replay.state_dict(),
                 "env_rngs": [g.bit_generator.state for g in self.trial._rngs], "curves": self.curves,
                 "trials_done": self.trials_done, "iteration": self.iteration, "config": self.cfg.to_dict(),
                 "tasks": self.tasks}
        _save_torch(state, self._ckpt_path())
        _save_torch(self.policy_state(), self.ckpt_dir / f"policies_iter{self.iteration:05d}.pt")

    def policy_state(self) -> dict[str, Any]:
        """All tasks' current policies (the ensemble's acting network), for policy replaying."""
        net = self.agent.q if self.cfg.discrete else self.agent.actor
        return {"state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "iteration": self.iteration,
                "tasks": self.tasks, "config": self.cfg.to_dict()}

    def load_policies(self, iteration: int, hint: str = "") -> None:
        """Act with the policies saved at collection ``iteration`` (``policies_iter<iteration>.pt``) and reset
        every agent's sampling generator to its task index (probes compare modes on the same noise);
        FileNotFoundError naming the file if that iteration was not saved. ``hint``: how to make it."""
        path = self.ckpt_dir / f"policies_iter{int(iteration):05d}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no saved policies at iteration {iteration}" + (f" ({hint})" if hint else ""))
        net = self.agent.q if self.cfg.discrete else self.agent.actor
        net.load_state_dict(torch.load(path, map_location=self.device, weights_only=False)["state_dict"])
        for task, g in enumerate(self.agent.generators):
            g.manual_seed(task)

    def _load_state(self) -> dict[str, Any] | None:
        """The checkpoint of this collection, or None; raises if it belongs to another config."""
        path = self._ckpt_path()
        if not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        if CollectConfig.upgrade(state["config"]) != self.cfg.to_dict() or not np.array_equal(state.get("tasks"), self.tasks):
            raise ConfigError(f"{self.ckpt_dir}: the checkpoint in this folder was made with a different config or "
                              "task set; rerun with --restart (restart=True) to discard it and collect again")
        return state

    def _finished(self, state: dict[str, Any] | None) -> bool:
        """True if ``state`` is this collection's final checkpoint and its dataset is on disk with the
        same config (a kill landed after the dataset was finalised): restore the curves from it."""
        if state is None or state["iteration"] < self.cfg.iterations or not self.dataset_path.is_dir():
            return False
        try:
            manifest = load_dataset(self.dataset_path, verify=False, check_finite=False).manifest
        except DatasetError:
            return False
        if CollectConfig.upgrade(manifest["config"]) != self.cfg.to_dict() or not np.array_equal(manifest["tasks"], self.tasks):
            return False
        self.curves, self.trials_done, self.iteration = state["curves"], state["trials_done"], state["iteration"]
        return True

    def discard_state(self) -> None:
        """Delete this collection's checkpoint folder and interrupted writer (``--restart``). The finished
        dataset, if any, stays usable until the new run replaces it atomically."""
        if self.ckpt_dir.is_dir():
            for f in [self._ckpt_path(), *self.ckpt_dir.glob("policies_iter*.pt"), *self.ckpt_dir.glob(".*.tmp-*")]:
                f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # keep a folder that holds files we did not write
                self.ckpt_dir.rmdir()
        shutil.rmtree(temp_dir(self.dataset_path), ignore_errors=True)

    def _resume(self, state: dict[str, Any] | None) -> bool:
        if state is None:
            return False
        if not (temp_dir(self.dataset_path) / "writer.json").is_file():
            raise DatasetError(f"{self.ckpt_dir}: a collection checkpoint exists but its interrupted dataset "
                               f"{temp_dir(self.dataset_path)} does not (the dataset was finished with another "
                               "config, or removed); rerun with --restart (restart=True) to discard the stale "
                               "checkpoint folder and collect again")
        self.writer = DatasetWriter.open(self.dataset_path)
        self.agent.load_full_state_dict(state["agent"])
        self.replay.load_state_dict(state["replay"])
        self.trial._rngs = [np.random.Generator(np.random.PCG64()) for _ in state["env_rngs"]]
        for g, s in zip(self.trial._rngs, state["env_rngs"]):
            g.bit_generator.state = s
        self.curves, self.trials_done, self.iteration = state["curves"], state["trials_done"], state["iteration"]
        return True

    # ---------------------------------------------------------------------------------- run
    def run(self, overwrite: bool = False, progress: bool = True, stop_after: int | None = None,
            restart: bool = False) -> Path:
        """Collect (resuming if a checkpoint exists); returns the finished dataset's path.

        Holds the dataset's lock file while running (a second writer gets a clear error). ``restart``
        discards a stale checkpoint and interrupted writer first. A run whose dataset was finalised
        just before a kill returns it at once, its learning curves restored from the final checkpoint.
        ``stop_after`` stops after that many learning iterations of this call (tests simulate a kill)."""
        with dataset_lock(self.dataset_path, owner=f"borel_lib.collect {self.cfg.domain}"):
            if restart:
                self.discard_state()
            state = self._load_state()
            if self._finished(state):
                return self.dataset_path
            return self._run(state, overwrite, progress, stop_after)

    def _run(self, state: dict[str, Any] | None, overwrite: bool, progress: bool, stop_after: int | None) -> Path:
        cfg = self.cfg
        if not self._resume(state):
            self.writer = DatasetWriter(self.dataset_path, self.shapes, self.manifest, overwrite=overwrite,
                                        dtypes={"iteration": "int32"})
            self.trial.reset(self.tasks, seeds=self.env_seeds)
            for _ in range(cfg.warmup_trials):
                self._record(self.run_trial("random"), iteration=-1)
            self.save_checkpoint()
        bar = tqdm(range(self.iteration, cfg.iterations), desc=f"collect {cfg.domain}", disable=not progress,
                   initial=self.iteration, total=cfg.iterations)
        done_now = 0
        for it in bar:
            eps = max(0.0, 1.0 - it / cfg.epsilon_iters) if (cfg.discrete and cfg.epsilon_iters) else 0.0
            succ = [self._record(self.run_trial("policy", epsilon=eps), iteration=it)
                    for _ in range(cfg.trials_per_iter)]
            for _ in range(cfg.updates_per_iter):
                batch = self.replay.sample(cfg.batch_size, self.agent.generators)
                losses = self.agent.update(self.relabel_goals(batch) if cfg.goal_relabel else batch)
                if not all(torch.isfinite(v).all() for v in losses.values()):
                    raise FloatingPointError(f"non-finite loss at iteration {it}; last good checkpoint: {self._ckpt_path()}")
            self.iteration = it + 1
            bar.set_postfix(success=f"{np.mean(succ):.2f}", eps=f"{eps:.2f}")
            if self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations:
                self.save_checkpoint()
            done_now += 1
            if stop_after is not None and done_now >= stop_after and self.iteration < cfg.iterations:
                return self.dataset_path
        assert self.writer is not None
        path = self.writer.finalize()
        return path

    def learning_curves(self) -> pd.DataFrame:
        """Tidy per-task learning curves: one row per task, trial, episode and metric."""
        return pd.DataFrame(self.curves)


def collect(config: CollectConfig, dataset_path: str | os.PathLike[str], checkpoint_dir: str | os.PathLike[str],
            profile: str = "quick", command: str = "", progress: bool = True, overwrite: bool = False):
    """Run (or resume) a collection and return ``(dataset, learning_curves)``."""
    collector = Collector(config, dataset_path, checkpoint_dir, profile=profile, command=command)
    path = collector.run(overwrite=overwrite, progress=progress)
    return load_dataset(path), collector.learning_curves()


@dataclasses.dataclass(frozen=True)
class PolicyReplayConfig(Config):
    """Policy replaying at collection time (paper §4 Proposition 3, §6): how many replayed trials per
    task, and whose policies act. The paper gives no number of replayed trials; ``n_trials`` is ours."""

    PRESETS = {"smoke": {"n_trials": 3}, "quick": {"n_trials": 40}}

    n_trials: int = 100
    """Replayed trials per task (ours; the VAE takes each mixed trial's first k/2 episodes from them)."""
    policies: str = "final"
    """Which saved policies act: ``final`` (the collection's last policies, the paper's "trained RL
    policy of another MDP") or ``saved`` (every saved iteration after the warm-up, drawn uniformly per
    trial: intermediate policies too, for more coverage)."""
    seed: int = 1
    """Seed of the replay draws (source tasks, start states, SAC action noise), per trial."""
    checkpoint_every: int = 5
    """Replayed trials between resumable checkpoints of the partially written dataset."""

    def validate(self) -> None:
        check_choice(self.policies, "policies", POLICY_CHOICES)
        for name in ("n_trials", "checkpoint_every"):
            check_positive(getattr(self, name), name)


POLICY_CHOICES = ("final", "saved")
"""Allowed values of :attr:`PolicyReplayConfig.policies`."""


def _replay_trial_randomness(seed: int, trial: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Everything random in replayed trial ``trial``, a function of ``(seed, trial)`` only (so a resumed
    run draws the same): source tasks (a uniform *other* task), env seeds, torch seeds, a file draw."""
    rng = np.random.default_rng([seed, trial])
    src = rng.integers(0, n - 1, size=n)
    src = src + (src >= np.arange(n))
    env_seeds = rng.integers(0, 2**31 - 1, size=n)
    torch_seeds = rng.integers(0, 2**31 - 1, size=n)
    return src, env_seeds, torch_seeds, int(rng.integers(0, 2**31 - 1))


def collect_policy_replay(config: CollectConfig, policies_file: str | os.PathLike[str] | list[Any],
                          dataset_path: str | os.PathLike[str], n_trials: int, profile: str = "quick",
                          command: str = "", seed: int = 1, overwrite: bool = False, progress: bool = True,
                          checkpoint_every: int = 5, stop_after: int | None = None,
                          extra_manifest: dict[str, Any] | None = None) -> Path:
    """Policy replaying (§4, Proposition 3): for every task i and trial, a uniformly drawn *other*
    task j's saved policy acts in task i's environment (task i's dynamics *and* rewards: the batched
    trial steps task i); ``source_task[i, trial] = j`` and ``iteration[i, trial]`` is the saved
    policy's collection iteration.

    ``policies_file`` is a ``policies_iter*.pt`` of a collection run with the same ``config`` (same
    tasks), or a list of them (each trial draws one uniformly, for every task). SAC policies sample
    actions; DQN policies act greedily. Each trial's randomness depends only on ``(seed, trial)``, and
    the partially written dataset is checkpointed every ``checkpoint_every`` trials: a killed run
    resumes (same ``seed``, files and ``n_trials``) and writes the same dataset. The finished dataset
    appears at ``dataset_path`` atomically; an existing one is replaced only with ``overwrite``.
    ``stop_after`` stops after that many trials of this call (tests simulate a kill); ``extra_manifest``
    adds fields to the manifest.
    """
    check_positive(n_trials, "n_trials")
    check_positive(checkpoint_every, "checkpoint_every")
    files = [Path(f) for f in (policies_file if isinstance(policies_file, list | tuple) else [policies_file])]
    if not files:
        raise ConfigError("policies_file: give at least one policies_iter*.pt file")
    col = Collector(config, dataset_path, files[0].parent, profile=profile, command=command)
    states = []
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no saved policies (run the collection first: python -m borel_lib.collect "
                                    f"{config.domain} --profile {profile})")
        state = torch.load(f, map_location=col.device, weights_only=False)
        if not np.allclose(np.asarray(state["tasks"]), col.tasks):
            raise ConfigError(f"{f}: its tasks differ from this config's tasks (different seed or domain?)")
        states.append(state)
    net = col.agent.q if config.discrete else col.agent.actor
    N = config.n_tasks
    if config.shared_agent:
        raise ConfigError("policy replaying swaps per-task policies; a shared_agent=True collection has one "
                          "(its task-conditioned policy would need the other task's goal): not supported")
    if N < 2:
        raise ConfigError("policy replaying needs at least 2 tasks")
    shapes = {name: (N, n_trials) + shape[2:] for name, shape in col.shapes.items()}
    shapes["source_task"] = (N, n_trials)
    manifest = {**col.manifest, "n_trials": n_trials, "collection_mode": "policy_replay", "replay_seed": seed,
                "policies": [f"{f.name} (iteration {st['iteration']})" for f, st in zip(files, states)],
                "notes": "source_task = the task whose saved policy acted; iteration = its collection iteration",
                **(extra_manifest or {})}
    with dataset_lock(dataset_path, owner="borel_lib.collect policy replay"):
        writer, start = None, 0
        try:  # resume an interrupted run of the same replay
            old = DatasetWriter.open(dataset_path)
            same = json.loads(json.dumps(manifest, default=str)) == json.loads(json.dumps(old.manifest, default=str))
            if same and old.shapes == {k: tuple(v) for k, v in shapes.items()}:
                writer, start = old, int(old.progress.get("trials_done", 0))
        except DatasetError:
            pass
        if writer is None:
            writer = DatasetWriter(dataset_path, shapes, manifest, overwrite=overwrite,
                                   dtypes={"iteration": "int32", "source_task": "int32"})
        done_now = 0
        for m in tqdm(range(start, n_trials), desc=f"policy replay {config.domain}", disable=not progress,
                      initial=start, total=n_trials):
            src, env_seeds, torch_seeds, file_draw = _replay_trial_randomness(seed, m, N)
            state = states[file_draw % len(states)]
            index = torch.as_tensor(src, device=col.device)
            net.load_state_dict({k: v.to(col.device)[index] for k, v in state["state_dict"].items()})
            for g, s in zip(col.agent.generators, torch_seeds):
                g.manual_seed(int(s))
            col.trial.reset(col.tasks, seeds=env_seeds)
            rec = col.run_trial("policy", epsilon=0.0)
            writer.write(trials=m, source_task=src.astype(np.int32),
                         iteration=np.full(N, state["iteration"], np.int32), **rec)
            done_now += 1
            if (m + 1) % checkpoint_every == 0 or m + 1 == n_trials:
                writer.checkpoint(trials_done=m + 1)
            if stop_after is not None and done_now >= stop_after and m + 1 < n_trials:
                return Path(dataset_path)
        return writer.finalize()


def policy_files(config: CollectConfig, checkpoint_dir: str | os.PathLike[str], which: str = "final") -> list[Path]:
    """The saved policies of a finished collection that policy replaying uses: the last iteration's
    (``final``) or every saved iteration after the warm-up (``saved``)."""
    check_choice(which, "policies", POLICY_CHOICES)
    directory = Path(checkpoint_dir)
    final = directory / f"policies_iter{config.iterations:05d}.pt"
    if which == "final":
        return [final]
    saved = sorted(p for p in directory.glob("policies_iter*.pt") if int(p.stem[len("policies_iter"):]) > 0)
    return saved or [final]


def collection_tasks(config: CollectConfig) -> np.ndarray:
    """The tasks a collection trains on, a function of its config: ``env.training_tasks`` seeded by
    ``config.seed`` (21 distinct goals for Gridworld)."""
    task_rng, _ = spawn_generators(config.seed, 2)
    return make_env(config.domain, init_state=config.init_state).training_tasks(config.n_tasks, task_rng)


def dataset_name(config: CollectConfig) -> str:
    """Directory name of a collection's dataset: ``<domain>_<init_state>_seed<seed>``."""
    return f"{config.domain}_{config.init_state}_seed{config.seed}"


def probe_collector(domain: str, profile: str, overrides: dict[str, Any], command: str = "") -> tuple[Collector, str]:
    """The :class:`Collector` of a probe's collection: ``domain``'s ``profile`` config with ``overrides``
    (e.g. from ``--set``), stored under ``<dataset_name>_<field><value>...`` so that each variant is a
    collection of its own beside the profile's; returns it and that suffix."""
    from borel_lib.paths import checkpoints_dir, datasets_dir

    cfg = CollectConfig.for_domain(domain, profile, **overrides)
    suffix = "".join(f"_{k}{v}" for k, v in overrides.items() if k != "init_state")
    name = dataset_name(cfg) + suffix
    return Collector(cfg, datasets_dir(profile) / name, checkpoints_dir(profile, create=False) / name,
                     profile=profile, command=command), suffix


def _flags(overrides: dict[str, Any]) -> str:
    """Collection config overrides as command-line flags (``init_state='fixed'`` → `` --init-state fixed``)."""
    return "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items())


def run_collection(domain: str, profile: str | None = None, progress: bool = True, restart: bool = False,
                   **overrides: Any):
    """Collect (or load the cached) dataset of ``domain`` for ``profile``; write its learning curves
    to the results folder. Returns ``(dataset, curves_dataframe)``.

    Resumes a killed run; recovers by itself when the finished dataset exists but its curves or
    checkpoint are missing (curves from the final checkpoint, else a deterministic re-collection);
    ``restart=True`` (``--restart``) discards a stale checkpoint or interrupted writer and collects again.
    Every input is validated before anything is written."""
    from borel_lib.paths import checkpoints_dir, datasets_dir
    from borel_lib.results import read_results, write_results

    profile = resolve_profile(profile)
    cfg = CollectConfig.for_domain(domain, profile, **overrides)
    name = dataset_name(cfg)
    path = datasets_dir(profile) / name
    curves_name = f"collect_{name}"
    command = f"python -m borel_lib.collect {domain} --profile {profile}" + _flags(overrides) + (
        " --restart" if restart else "")
    if path.is_dir() and not restart:
        try:
            ds = load_dataset(path)
        except DatasetError as err:
            raise DatasetError(f"{err}; rerun with --restart (restart=True) to collect this dataset again") from err
        same_tasks = np.array_equal(np.asarray(ds.manifest["tasks"]), collection_tasks(cfg))
        if CollectConfig.upgrade(ds.manifest["config"]) == cfg.to_dict() and same_tasks:
            try:
                return ds, read_results(curves_name, profile)
            except FileNotFoundError:
                pass  # the run below restores the curves (or collects again)
    collector = Collector(cfg, path, checkpoints_dir(profile, create=False) / name, profile=profile, command=command)
    collector.run(progress=progress, overwrite=True, restart=restart)
    curves = collector.learning_curves()
    write_results(curves, curves_name, config=cfg, profile=profile, command=command)
    return load_dataset(path), curves


def replay_dataset_name(config: CollectConfig) -> str:
    """Directory name of a collection's policy-replay dataset: ``<dataset_name>_policy_replay``."""
    return f"{dataset_name(config)}_policy_replay"


def replay_outcomes(dataset: OfflineDataset) -> pd.DataFrame:
    """Tidy per-trial outcomes of a dataset (own or replayed): episode returns and trial success of
    every task and trial, with ``source_task`` (whose policy acted) and ``iteration`` columns."""
    env = make_env(dataset.manifest["domain"])
    H, N, M = dataset.manifest["horizon"], dataset.n_tasks, dataset.n_trials
    returns = np.asarray(dataset.rewards).reshape(N, M, -1, H).sum(-1)
    success = env.is_success(np.asarray(dataset.next_obs)[..., :-1], dataset.tasks[:, None, None, :]).any(-1)
    src = dataset.arrays.get("source_task", np.repeat(np.arange(N)[:, None], M, axis=1))
    it = dataset.arrays["iteration"]
    mode = dataset.manifest["collection_mode"]
    rows = []
    for i in range(N):
        for m in range(M):
            base = {"domain": dataset.manifest["domain"], "method": "dqn" if dataset.manifest["domain"] == "gridworld" else "sac", "variant": mode,
                    "seed": dataset.manifest["seed"], "task": i, "trial": m, "source_task": int(src[i, m]),
                    "iteration": int(it[i, m])}
            for e in range(returns.shape[-1]):
                rows.append({**base, "episode": e + 1, "metric": "return", "value": float(returns[i, m, e])})
            rows.append({**base, "episode": 0, "metric": "success", "value": float(success[i, m])})
    return pd.DataFrame(rows)


def load_policy_replay(domain: str, profile: str | None = None, **overrides: Any) -> OfflineDataset:
    """The finished policy-replay dataset of ``domain``'s collection (``overrides`` as for
    :func:`run_collection`, e.g. ``init_state``); :class:`FileNotFoundError` naming the command that makes
    it if it is missing."""
    from borel_lib.paths import datasets_dir

    profile = resolve_profile(profile)
    path = datasets_dir(profile) / replay_dataset_name(CollectConfig.for_domain(domain, profile, **overrides))
    if not path.is_dir():
        command = f"python -m borel_lib.collect {domain} --profile {profile}" + _flags(overrides) + " --policy-replay"
        raise FileNotFoundError(f"{path}: no policy-replay dataset (relabelling='policy_replay' mixes its trials "
                                f"into the VAE's data); make it first with: {command}")
    return load_dataset(path)


def run_policy_replay(domain: str, profile: str | None = None, progress: bool = True,
                      replay: PolicyReplayConfig | None = None, **overrides: Any):
    """The policy-replay dataset of ``domain``'s collection (collected, resumed or loaded from cache),
    beside the own-policy one: ``datasets/<profile>/<dataset_name>_policy_replay``. Runs the own
    collection first if needed (:func:`run_collection`; ``overrides`` go to its config). Writes the
    replayed trials' outcomes to ``collect_<dataset_name>_policy_replay.csv``. Returns
    ``(replay_dataset, outcomes_dataframe)``."""
    from borel_lib.paths import checkpoints_dir, datasets_dir
    from borel_lib.results import read_results, write_results

    profile = resolve_profile(profile)
    replay = replay or PolicyReplayConfig.for_profile(profile)
    run_collection(domain, profile, progress=progress, **overrides)
    cfg = CollectConfig.for_domain(domain, profile, **overrides)
    name = replay_dataset_name(cfg)
    path = datasets_dir(profile) / name
    files = policy_files(cfg, checkpoints_dir(profile) / dataset_name(cfg), replay.policies)
    command = f"python -m borel_lib.collect {domain} --profile {profile} --policy-replay" + _flags(overrides)
    if path.is_dir():
        ds = load_dataset(path)
        if ds.manifest.get("replay_config") == replay.to_dict() and CollectConfig.upgrade(ds.manifest["config"]) == cfg.to_dict():
            try:
                return ds, read_results(f"collect_{name}", profile)
            except FileNotFoundError:
                pass
    collect_policy_replay(cfg, files, path, replay.n_trials, profile=profile, command=command, seed=replay.seed,
                          overwrite=True, progress=progress, checkpoint_every=replay.checkpoint_every,
                          extra_manifest={"replay_config": replay.to_dict()})
    ds = load_dataset(path)
    outcomes = replay_outcomes(ds)
    write_results(outcomes, f"collect_{name}", config={"collection": cfg.to_dict(), "policy_replay": replay.to_dict()},
                  profile=profile, command=command)
    return ds, outcomes


def build_parser():
    """The ``python -m borel_lib.collect`` command line (see :mod:`borel_lib.cli`)."""
    parser = cli.make_parser(
        "python -m borel_lib.collect",
        "Batched data collection (paper §3.1): one RL agent per task, every trial saved as an offline dataset.\n"
        "Resumes a killed run from its last checkpoint.",
        outputs="  dataset:         data/datasets/<profile>/<domain>_<init_state>_seed<seed>/ (format: docs/datasets.md)\n"
                "  learning curves: data/results/<profile>/collect_<dataset>.csv and .config.json\n"
                "  checkpoints:     data/checkpoints/<profile>/<dataset>/ (discarded by --restart)\n"
                "  (profile smoke: the same under build/smoke/)")
    parser.add_argument("domain", choices=sorted(_PAPER), help="domain to collect")
    cli.add_profile_argument(parser)
    parser.add_argument("--init-state", choices=INIT_STATE_OPTIONS, default=None,
                        help="initial-state distribution of collection (default: the protocol's, uniform; "
                             "gridworld allows fixed and uniform)")
    cli.add_seed_argument(parser, help="seed of tasks, agents and environments (default: 0)")
    parser.add_argument("--n-tasks", type=cli.positive_int, default=None,
                        help="number of tasks N (default: the profile's)")
    parser.add_argument("--iterations", type=cli.positive_int, default=None,
                        help="collection iterations (default: the profile's)")
    cli.add_device_argument(parser, default=None)
    parser.add_argument("--restart", action="store_true",
                        help="discard this dataset's stale checkpoint folder and interrupted writer, then collect "
                             "again (a finished dataset is replaced only when the new one is complete)")
    parser.add_argument("--policy-replay", action="store_true",
                        help="also write the policy-replay dataset beside the own-policy one (paper §4, Prop. 3): "
                             "each task's trials rolled out by other tasks' final policies in this task's dynamics")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _run_cli(args) -> int:
    names = ("init_state", "seed", "n_tasks", "iterations", "device")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    profile = resolve_profile(args.profile)
    CollectConfig.for_domain(args.domain, profile, **overrides)  # every input checked before any work
    torch.set_num_threads(1)
    ds, curves = run_collection(args.domain, profile, progress=not args.no_progress, restart=args.restart,
                                **overrides)
    final = curves[(curves.metric == "success") & (curves.trial >= curves.trial.max() - 4)]["value"].mean()
    print(f"{ds.path}: {ds.n_tasks} tasks x {ds.n_trials} trials x {ds.trial_length} steps; "
          f"success rate over the last 5 trials: {final:.2f}")
    if args.policy_replay:
        rep, outcomes = run_policy_replay(args.domain, profile, progress=not args.no_progress, **overrides)
        succ = outcomes[outcomes.metric == "success"]["value"].mean()
        print(f"{rep.path}: {rep.n_tasks} tasks x {rep.n_trials} replayed trials; success rate of other tasks' "
              f"policies in each task: {succ:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.collect``; returns the exit code."""
    return cli.main(_run_cli, build_parser(), argv)


if __name__ == "__main__":  # run the imported module's main, so its classes are borel_lib.collect.*, not __main__.*
    from borel_lib.collect import main as _main

    raise SystemExit(_main())
