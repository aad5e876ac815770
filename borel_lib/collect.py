"""Data collection: the training logs of N conventional RL agents, one per task (paper §3.1, §6).

The authors ran one DQN (Gridworld) or SAC (continuous) process per task and saved its whole replay
buffer (``docs/differences.md``). Here all N agents train at once (:class:`~borel_lib.collector.Collector`):
the tasks step together in a :class:`~borel_lib.envs.batched.BatchedTrial`, the agents are one
:class:`~borel_lib.agents.EnsembleSAC`/:class:`~borel_lib.agents.EnsembleDQN`, and every trial is
streamed into an on-disk dataset (:mod:`borel_lib.datasets`). This module holds the protocols
(:class:`CollectConfig`), the dataset names and the command line. The protocol per task is the authors':
``warmup_trials`` trials with uniformly random actions, then ``iterations`` times: ``trials_per_iter``
trials with the exploring policy (SAC sampling; DQN ε-greedy with ε annealed linearly from 1 to 0),
then ``updates_per_iter`` gradient updates on minibatches from the task's own replay buffer. The saved
dataset holds *every* trial, warm-up included.

Differences from the authors' code, on purpose: episodes 2..k start from a real reset state (their
wrapper dropped it); reaching the goal is not stored as terminal (the domains do not end there, so the
replay ``done`` is always 0); the random warm-up actions span the whole action box (theirs were scaled
twice and stayed within ±0.01 on the Semi-circle).

Policy replaying (§4, Proposition 3) is :mod:`borel_lib.policy_replay` (``--policy-replay``): for each task,
trials rolled out by the final policies of uniformly drawn *other* tasks, recorded with this task's rewards.

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
transitions per task; Ant now 400 iterations, 420 trials, see below), the paper's networks (128×128) and SAC settings (γ 0.99, α 0.2).

- Half-Cheetah-Vel: one agent per task (the authors' design), 200 updates per iteration (40k per agent).
  One stacked update of the 16 agents takes about 0.15 s on one core, so a collection is about 1.5–2 h.
- Ant-Semi-circle: **one shared agent** (``shared_agent``, ours, declared) with the task's goal as an
  extra input. It learns from all 16 tasks' transitions, with 1,000 updates of batch 256 per iteration
  (200k in all). Why: with one agent per task (200 updates per iteration, 40k per agent; 93–95 min per
  variant) the agents reached their goal in about 70 % of their last trials. But under the paper's
  metric their own task-knowing policies scored *below standing still*: −28 / −38 per episode at
  iteration 200, −21 / −25 at their best (iteration 150), against +8 / +4 for a = 0. They spent only
  7–19 of 200 steps in the goal disc and paid about −40 of control cost per episode
  (``scripts/probe_ant_collectors.py``, ``data/results/quick/probes/probe_ant_collectors_*.csv``). Offline RL
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

- Ant-Semi-circle, **the calibrated SAC** (the quick protocol now): the shared agent above with
  :data:`borel_lib.agents.CALIBRATED_SAC` (256×256, critic lr 1e-3, automatic α towards −8, tanh log-std)
  and multi-goal relabelling of its minibatches (``goal_relabel=0.5``; both ours, declared), for **400
  iterations** (400k shared updates; the paper's protocol is 1,000 iterations × 2 trials × 2,000 updates per
  agent). Why: the authors' SAC holds a posture with its mean action at CPU budgets, on Gymnasium's Ant-v5
  too (``scripts/probe_sac_gym_ant.py``; ``figures.sac_calibration``); and at 200 iterations the calibrated
  collectors' mean action reached its goal in too few tasks. Measured with ``scripts/probe_ant_collectors.py``
  (``probe_ant_collectors_<variant>_shared_calibrated``; tasks of 16 whose mean action enters the goal disc in
  at least half of 3 trials, episode 1, at iterations 100 / 150 / 200 / 250 / 300 / 350 / 400): uniform
  1 / 3 / 4 / 7 / 6 / 6 / **14** (the exploring policy 4 / 10 / 6 / 15 / 14 / 12 / 16), excluding the
  semi-circle 1 / 1 / 2 / 0 / 2 / 7 / **12** (exploring 3 / 2 / 5 / 3 / 7 / 14 / 16); the logged trials of
  the last 20 iterations reach it in 16 of 16 tasks for both, returning +41.3 (uniform) and +53.2 per episode
  against +8.3 standing still. So the issue's gate (≥ 12 of 16) holds at iteration 400 for these two variants,
  but the mean action is not stable from one checkpoint to the next (uniform at 310 / 320 / 330: 12 / 8 / 5
  tasks): like the calibration runs on Ant-v5 it oscillates, and the exploring policy is the steadier one.
  The 200 extra iterations were run with ``--extend`` on the 200-iteration collections (the same data as a
  400-iteration run from the start), 89 min per variant beside other runs (about 17 s per iteration on an
  idle core, so about 2 h per variant from scratch). The fixed-start variant is being collected.

The ``paper`` profile keeps one agent per task with the authors' SAC. The dataset of one quick Ant variant
(420 trials) is 0.76 GB.

**Reacher-Image** (ours: the authors released no code for it). One SAC per task, as for Half-Cheetah-Vel. Each
agent has one target, so it learns from the 6-d proprioceptive state (with the flag) alone. The dataset stores
that state as ``obs``/``next_obs`` *and* what BOReL sees: ``images`` (uint8, memory-mapped), every frame of a
trial once (:func:`borel_lib.datasets.frame_indices`), rendered from the stored states, which is exactly the
env's image. The ``paper`` protocol is Half-Cheetah-Vel's unchanged. The quick one: 16 tasks, 20 warm-up trials,
then 100 iterations × 1 trial × 100 updates (10k per agent), with α tuned towards −|A| = −2 (α lr 1e-3; ours).
Measured on 8 tasks (128×128, batch 256, 100 updates per iteration; random trials return −11.8 per episode).
The authors' α = 0.2 left the logged trials noisy: at 6,000 updates they ended 0.07 from the target, spent
1–3 steps per episode within 0.02 of it and returned −6.4 (the mean action: −2.4). With tuned α the logged
trials ended 0.026 from the target at 2,500 updates and 0.021 at 4,000, with 12–18 steps per episode within
0.02, the target reached in 6–8 of 8 tasks, returning −2.9 and −2.25. So 10k updates is 2.5–4× the point
where the logs reach the target. Throughput on one core: one trial of 16 tasks (1,600 steps, 1,632 frames
rasterised in 0.27 s) costs about 0.5 s CPU, and 100 stacked updates of 16 agents cost 5.8 s. The first 10
iterations took 86 s CPU with a max RSS of 1.16 GB, memory-mapped dataset pages included; the whole quick
run takes about 12 min CPU. Sizes: 68 bytes per transition plus 12,288 per frame, so 1.26 MB per trial. The
quick dataset (16 × 120 trials) is 2.42 GB; 2.25 GiB would fit the machine's 24 GiB of RAM even if read in
whole. The paper one (100 × 2,050 trials) is 258 GB (241 GiB). It is far over RAM, which memory-mapping
copes with, but also over this machine's free disk. Its replay buffers hold the states only, 1.5 GB.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any, ClassVar

import numpy as np
import torch

from borel_lib import cli
from borel_lib.agents import CALIBRATED_SAC, SACHyperparameters
from borel_lib.collector import Collector, collection_tasks
from borel_lib.config import ConfigError, check_choice, check_positive, check_seed, resolve_profile
from borel_lib.datasets import DatasetError, load_dataset
from borel_lib.envs import INIT_STATE_OPTIONS, make_env
from borel_lib.envs.batched import BATCHABLE, MUJOCO_BATCHABLE

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
# Reacher-Image (§6 domain 5): no released code either; "paper" is ours, the authors' MuJoCo protocol of
# Half-Cheetah-Vel unchanged (one SAC per task, 100 tasks, 2,050 trials). See "Reacher-Image" in the docstring.
_PAPER["reacher_image"] = dict(_PAPER["cheetah_vel"])
DENSE_COLLECTION = ("ant_semicircle", "wind")
"""Domains whose collecting agents learn from the env's dense reward while the dataset stores the sparse
one (``reward_goal``/``reward_ctrl`` keep the dense terms): Ant, the authors' trick, and Wind, ours in
every profile (the authors released no Wind code). Wind's dense reward −‖s' − g‖ has the same goal for
every task, so it leaks nothing about the wind that the transitions do not reveal."""
_QUICK: dict[str, dict[str, Any]] = {
    "gridworld": dict(),  # the paper's protocol takes about a minute on 2 cores
    "semicircle": dict(n_tasks=40, warmup_trials=20, iterations=100, updates_per_iter=150),
    # MuJoCo: see "Quick MuJoCo protocols" in the module docstring for the measurements behind these
    "ant_semicircle": dict(n_tasks=16, warmup_trials=20, iterations=400, trials_per_iter=1, updates_per_iter=1000,
                           shared_agent=True, checkpoint_every=10, goal_relabel=0.5,
                           **{k: v for k, v in CALIBRATED_SAC.items() if k != "alpha"}),
    "cheetah_vel": dict(n_tasks=16, warmup_trials=20, iterations=200, trials_per_iter=1, updates_per_iter=200,
                        checkpoint_every=10),
    # Reacher-Image: per-task SACs on the proprioceptive state, α tuned towards −|A| = −2 (ours; measured in
    # "Reacher-Image" of the module docstring: the logged trials reach the target by about 3,000 updates)
    "reacher_image": dict(n_tasks=16, warmup_trials=20, iterations=100, trials_per_iter=1, updates_per_iter=100,
                          checkpoint_every=10, target_entropy=-2.0, alpha_lr=1e-3),
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
    "reacher_image": dict(n_tasks=2, warmup_trials=1, iterations=2, trials_per_iter=1, updates_per_iter=2,
                          checkpoint_every=1, batch_size=32, hidden=(16, 16)),
}


@dataclasses.dataclass(frozen=True)
class CollectConfig(SACHyperparameters):
    """One batched data-collection run (defaults: the authors' Semi-circle protocol).

    The agents' settings are the shared :class:`~borel_lib.agents.SACHyperparameters` (``hidden``, ``actor_lr``,
    ``critic_lr``, ``gamma``, ``alpha``, ``tau``, ``target_entropy``, ``alpha_lr``, ``log_std``, ``td_loss``,
    ``max_grad_norm``), handed whole to the SAC agents; Gridworld's DQN uses ``hidden``, ``critic_lr`` (its Q
    network's rate), ``gamma``, ``tau``, ``td_loss`` and ``max_grad_norm``. Configs saved before these were
    shared hold one ``lr`` (actor and DQN) and ``critic_lr=None`` (= ``lr``): :meth:`upgrade` maps them."""

    RENAMED: ClassVar[dict[str, str]] = {"lr": "actor_lr and critic_lr (set both to keep one rate; DQN uses critic_lr)"}

    domain: str = "semicircle"
    """Domain short name; batched collection supports gridworld, semicircle, wind, escape_room,
    ant_semicircle, cheetah_vel, reacher_image."""
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
        super().validate()  # the shared SAC fields
        check_choice(self.domain, "domain", BATCHABLE + MUJOCO_BATCHABLE)
        check_choice(self.init_state, "init_state", make_env(self.domain).init_state_options)
        check_seed(self.seed)
        check_choice(self.device, "device", ("auto", "cpu", "cuda"))
        self.check_positive_fields("n_tasks", "iterations", "trials_per_iter", "batch_size",
                                   "checkpoint_every")
        self.check_positive_fields("warmup_trials", "updates_per_iter", "epsilon_iters", allow_zero=True)
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
        if not 0 <= self.goal_relabel <= 1:
            raise ConfigError(f"goal_relabel={self.goal_relabel} must be a fraction in [0, 1]")
        if self.goal_relabel and not (self.domain == "ant_semicircle" and self.shared_agent):
            raise ConfigError(f"goal_relabel={self.goal_relabel} needs domain 'ant_semicircle' with shared_agent=True "
                              f"(got domain={self.domain!r}, shared_agent={self.shared_agent})")

    @classmethod
    def upgrade(cls, saved: dict[str, Any] | None) -> dict[str, Any] | None:
        """:meth:`Config.upgrade` after mapping a config saved before the SAC fields were shared (issue 29):
        its ``lr`` (the policy's and DQN's rate) becomes ``actor_lr``, and ``critic_lr`` takes ``lr``'s value where
        it was None (the critics then learnt at ``lr``) and for Gridworld (its DQN learnt at ``lr`` alone; DQN now
        uses ``critic_lr``). The fields added then (``tau``, ``td_loss``, ``max_grad_norm``) take their defaults,
        the values those runs used. Every check that a saved collection is this config goes through here."""
        if saved is not None and "lr" in saved:
            saved = dict(saved)
            lr = saved.pop("lr")
            saved.setdefault("actor_lr", lr)
            if saved.get("critic_lr") is None or saved.get("domain") == "gridworld":
                saved["critic_lr"] = lr
        return super().upgrade(saved)

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


def collect(config: CollectConfig, dataset_path: str | os.PathLike[str], checkpoint_dir: str | os.PathLike[str],
            profile: str = "quick", command: str = "", progress: bool = True, overwrite: bool = False):
    """Run (or resume) a collection and return ``(dataset, learning_curves)``."""
    collector = Collector(config, dataset_path, checkpoint_dir, profile=profile, command=command)
    path = collector.run(overwrite=overwrite, progress=progress)
    return load_dataset(path), collector.learning_curves()


LENGTH_FIELDS: dict[str, str] = {"iterations": "it", "updates_per_iter": "upi"}
"""Collection-length fields that name a dataset of their own when not the profile's (``--iterations 300
--updates-per-iter 500`` → ``..._it300_upi500_seed0``): a longer collection (closer to the paper's protocol)
lives beside the profile's instead of replacing it; ``--extend`` continues a shorter one into it."""


def length_parts(overrides: Any) -> list[str]:
    """The name parts of collection-length ``(field, value)`` pairs (``[("iterations", 300)]`` → ``["it300"]``):
    the datasets', the runs' and the identifiability rows' one spelling."""
    return [f"{LENGTH_FIELDS[k]}{v}" for k, v in overrides]


def dataset_name(config: CollectConfig, profile: str) -> str:
    """Directory name of a collection's dataset: ``<domain>_<init_state>[_n<N>][_it<I>][_upi<U>]_seed<seed>``,
    with ``_n<N>`` when its number of tasks is not ``profile``'s (a smaller collection of the same variant, such
    as notebook 03's, is then a dataset of its own instead of one that refuses, or is refused by, the
    default's), and ``_it<I>`` / ``_upi<U>`` when its iterations / updates per iteration are not
    (:data:`LENGTH_FIELDS`)."""
    default = CollectConfig.for_domain(config.domain, profile, init_state=config.init_state)
    n = "" if config.n_tasks == default.n_tasks else f"_n{config.n_tasks}"
    length = "".join(f"_{p}" for p in length_parts(
        (f, getattr(config, f)) for f in LENGTH_FIELDS if getattr(config, f) != getattr(default, f)))
    return f"{config.domain}_{config.init_state}{n}{length}_seed{config.seed}"


def length_overrides(domain: str, profile: str, init_state: str, pairs: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A run's collection-length overrides (``--collection iterations=300``; only :data:`LENGTH_FIELDS`), checked
    against ``domain``'s ``profile`` collection of ``init_state`` and without those equal to its values (a run on
    the profile's dataset keeps its plain name), sorted."""
    unknown = sorted(set(pairs) - set(LENGTH_FIELDS))
    if unknown:
        raise ConfigError(f"collection: unknown field(s) {unknown}; allowed: {', '.join(LENGTH_FIELDS)} "
                          "(--collection FIELD=VALUE names a longer or shorter collection of the variant)")
    base = CollectConfig.for_domain(domain, profile, init_state=init_state)
    try:
        base.replace(**pairs)  # validates the values now
    except (ConfigError, TypeError, ValueError) as err:
        raise ConfigError(f"collection (--collection): {err}") from err
    return tuple(sorted((k, v) for k, v in pairs.items() if getattr(base, k) != v))


def extension_source(config: CollectConfig, profile: str) -> tuple[CollectConfig, str] | None:
    """The finished dataset ``--extend`` continues into ``config``'s: among the datasets on disk whose config
    differs from ``config`` only by fewer ``iterations``, the longest, as ``(its config, its name)``; else None."""
    from borel_lib.paths import datasets_dir

    root, best = datasets_dir(profile, create=False), None
    if not root.is_dir():
        return None
    for path in root.iterdir():
        if not (path.is_dir() and path.name.startswith(f"{config.domain}_") and (path / "manifest.json").is_file()):
            continue
        try:
            old = CollectConfig.upgrade(json.loads((path / "manifest.json").read_text())["config"])
        except (ValueError, KeyError, TypeError):
            continue
        if {k: v for k, v in old.items() if k != "iterations"} != {k: v for k, v in config.to_dict().items()
                                                                  if k != "iterations"}:
            continue
        cfg = config.replace(iterations=int(old["iterations"]))
        if cfg.iterations < config.iterations and path.name == dataset_name(cfg, profile) and (
                best is None or cfg.iterations > best[0].iterations):
            best = (cfg, path.name)
    return best


def probe_collector(domain: str, profile: str, overrides: dict[str, Any], command: str = "") -> tuple[Collector, str]:
    """The :class:`~borel_lib.collector.Collector` of a probe's collection: ``domain``'s ``profile`` config with ``overrides``
    (e.g. from ``--set``), stored under ``<dataset_name>_<field><value>...`` so that each variant is a
    collection of its own beside the profile's; returns it and that suffix."""
    from borel_lib.paths import checkpoints_dir, datasets_dir

    cfg = CollectConfig.for_domain(domain, profile, **overrides)
    suffix = "".join(f"_{k}{v}" for k, v in overrides.items() if k != "init_state")
    # the suffix names every override, so the folder is the profile-length dataset's name with it
    plain = CollectConfig.for_domain(domain, profile, init_state=cfg.init_state, seed=cfg.seed, n_tasks=cfg.n_tasks)
    name = dataset_name(cfg.replace(**{f: getattr(plain, f) for f in LENGTH_FIELDS}), profile) + suffix
    return Collector(cfg, datasets_dir(profile) / name, checkpoints_dir(profile, create=False) / name,
                     profile=profile, command=command), suffix


_RERUN = re.compile(r"rerun with (--restart|--extend) \((?:restart|extend)=True\)")
"""The collector's hints (:mod:`borel_lib.collector`) that :func:`run_collection` completes with the command."""


def collect_command(domain: str, profile: str, overrides: dict[str, Any]) -> str:
    """The ``python -m borel_lib.collect`` command of ``domain``'s dataset at ``profile`` with ``overrides``
    (every error about that dataset names it, whichever command, ``pipeline`` or ``mbml``, met it)."""
    return f"python -m borel_lib.collect {domain} --profile {profile}" + override_flags(overrides)


def override_flags(overrides: dict[str, Any]) -> str:
    """Collection config overrides as command-line flags (``init_state='fixed'`` → `` --init-state fixed``)."""
    return "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items())


def run_collection(domain: str, profile: str | None = None, progress: bool = True, restart: bool = False,
                   extend: bool = False, **overrides: Any):
    """Collect (or load the cached) dataset of ``domain`` for ``profile``; write its learning curves
    to the results folder. Returns ``(dataset, curves_dataframe)``.

    Resumes a killed run; recovers by itself when the finished dataset exists but its curves or
    checkpoint are missing (curves from the final checkpoint, else a deterministic re-collection);
    ``restart=True`` (``--restart``) discards a stale checkpoint or interrupted writer and collects again;
    ``extend=True`` (``--extend``) continues a finished collection made with fewer ``iterations`` (see
    :meth:`~borel_lib.collector.Collector.extend`). Every input is validated before anything is written."""
    from borel_lib.paths import checkpoints_dir, datasets_dir
    from borel_lib.results import read_results, write_results

    profile = resolve_profile(profile)
    cfg = CollectConfig.for_domain(domain, profile, **overrides)
    name = dataset_name(cfg, profile)
    path = datasets_dir(profile) / name
    curves_name = f"collect_{name}"
    base = collect_command(domain, profile, overrides)
    command = base + (" --restart" if restart else "") + (" --extend" if extend else "")
    if restart and extend:
        raise ConfigError("extend=True (--extend) continues a finished collection; restart=True (--restart) "
                          "discards it: give one of them")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} is a file, not a dataset folder; move or delete it, then run: {command}")
    if path.is_dir() and not restart:
        try:
            ds = load_dataset(path)
        except DatasetError as err:
            raise DatasetError(f"{err}; collect this dataset again with: {base} --restart") from err
        same_tasks = np.array_equal(np.asarray(ds.manifest["tasks"]), collection_tasks(cfg))
        if CollectConfig.upgrade(ds.manifest["config"]) == cfg.to_dict() and same_tasks:
            try:
                return ds, read_results(curves_name, profile)
            except FileNotFoundError:
                pass  # the run below restores the curves (or collects again)
    collector = Collector(cfg, path, checkpoints_dir(profile, create=False) / name, profile=profile, command=command)
    source = None  # --extend into a longer dataset of its own name: the longest shorter one on disk
    if extend and collector.extendable() is None and collector._load_state() is None:
        found = extension_source(cfg, profile)
        source = None if found is None else Collector(found[0], datasets_dir(profile) / found[1], checkpoints_dir(
            profile, create=False) / found[1], profile=profile)
    try:
        if source is not None and collector.extendable(source) is not None:
            collector.extend(progress=progress, source=source)
        elif extend and collector.extendable() is not None:
            collector.extend(progress=progress)
        else:  # also resumes a killed extension: its checkpoint already holds the longer config
            collector.run(progress=progress, overwrite=True, restart=restart)
    except (ConfigError, DatasetError) as err:  # name the command behind the collector's --restart / --extend
        text = _RERUN.sub(lambda m: f"rerun with {m.group(1)} ({base} {m.group(1)})", str(err))
        if text == str(err):
            raise
        raise type(err)(text) from err
    curves = collector.learning_curves()
    write_results(curves, curves_name, config=cfg, profile=profile, command=command)
    return load_dataset(path), curves


def build_parser():
    """The ``python -m borel_lib.collect`` command line (see :mod:`borel_lib.cli`)."""
    parser = cli.make_command_parser(
        "python -m borel_lib.collect",
        "Batched data collection (paper §3.1): one RL agent per task, every trial saved as an offline dataset.\n"
        "Resumes a killed run from its last checkpoint.",
        outputs="  dataset:         data/datasets/<profile>/<domain>_<init_state>[_n<N>][_it<I>][_upi<U>]_seed<seed>/ (_n, _it, _upi: --n-tasks,\n"
                "                   --iterations, --updates-per-iter not the profile's; format: docs/datasets.md)\n"
                "  learning curves: data/results/<profile>/collection/<domain>/collect_<dataset>.csv and .config.json\n"
                "  checkpoints:     data/checkpoints/<profile>/<dataset>/ (discarded by --restart)\n"
                "  (profile smoke: the same under build/smoke/)",
        subject="domain", choices=_PAPER, subject_help="domain to collect")
    parser.add_argument("--init-state", choices=INIT_STATE_OPTIONS, default=None,
                        help="initial-state distribution of collection (default: the protocol's, uniform; "
                             "gridworld allows fixed and uniform)")
    cli.add_seed_argument(parser, help="seed of tasks, agents and environments (default: 0)")
    parser.add_argument("--n-tasks", type=cli.positive_int, default=None,
                        help="number of tasks N (default: the profile's)")
    parser.add_argument("--iterations", type=cli.positive_int, default=None,
                        help="collection iterations (default: the profile's; another number is a dataset of its own, "
                             "_it<N>)")
    parser.add_argument("--updates-per-iter", type=cli.positive_int, default=None,
                        help="gradient updates per agent per iteration (default: the profile's; another number is a "
                             "dataset of its own, _upi<N>)")
    cli.add_device_argument(parser, default=None)
    parser.add_argument("--restart", action="store_true",
                        help="discard this dataset's stale checkpoint folder and interrupted writer, then collect "
                             "again (a finished dataset is replaced only when the new one is complete)")
    parser.add_argument("--extend", action="store_true",
                        help="continue a finished collection made with fewer --iterations (all else equal; the "
                             "longest such dataset on disk, kept as it is) to --iterations; the result equals "
                             "collecting with the larger number from the start")
    parser.add_argument("--policy-replay", action="store_true",
                        help="also write the policy-replay dataset beside the own-policy one (paper §4, Prop. 3): "
                             "each task's trials rolled out by other tasks' final policies in this task's dynamics")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _run_cli(args) -> int:
    names = ("init_state", "seed", "n_tasks", "iterations", "updates_per_iter", "device")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    profile = resolve_profile(args.profile)
    CollectConfig.for_domain(args.domain, profile, **overrides)  # every input checked before any work
    torch.set_num_threads(1)
    ds, curves = run_collection(args.domain, profile, progress=not args.no_progress, restart=args.restart,
                                extend=args.extend, **overrides)
    final = curves[(curves.metric == "success") & (curves.trial >= curves.trial.max() - 4)]["value"].mean()
    print(f"{ds.path}: {ds.n_tasks} tasks x {ds.n_trials} trials x {ds.trial_length} steps; "
          f"success rate over the last 5 trials: {final:.2f}")
    if args.policy_replay:
        from borel_lib.policy_replay import run_policy_replay  # here: that module builds on this one

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
