"""PEARL (Rakelly et al. 2019), trained online: the Thompson-sampling baseline of BOReL's Figures 3-4
(BOReL paper §6 "Main Results"; PEARL paper §4).

Written from the PEARL paper and a reading of what its official implementation does; no code copied.

- **The agent** (:class:`~borel_lib.baselines.pearl_agent.PEARLAgent`, PEARL §4.1-4.3): the context
  encoder's posterior q(z | c), SAC on (s, z) with the official code's V network and step order, and the
  encoder's gradient from the Bellman loss and the KL bottleneck only (details in its module).
- **Context vs RL data** (PEARL §4.3): every task has an RL buffer (everything it ever collected) and
  an encoder buffer cleared whenever the task is picked for collection, so contexts come from recent
  data; the RL batch is uniform over the RL buffer. The context uses the environment's sparse reward
  (BOReL's Semi-circle: 1 within 0.2 of the goal; ``context_reward="dense"`` gives it the dense one instead);
  SAC trains on the dense reward −‖s' − g‖ (``rl_reward="dense"``), as the official sparse point robot does.
- **Online meta-training** (official loop): iteration 0 collects ``num_initial_steps`` per training
  task with z from the prior; then every iteration picks ``num_tasks_sample`` training tasks, clears
  their encoder buffers, collects ``num_steps_prior`` steps with z from the prior (a new z per
  trajectory), ``num_steps_posterior`` steps with z from the posterior of a context sampled from the
  encoder buffer (re-inferred after each trajectory), and ``num_extra_rl_steps_posterior`` such steps
  that go only to the RL buffer; then ``train_steps_per_iter`` gradient steps, each on ``meta_batch``
  tasks drawn with replacement. Step counts are rounded up to whole episodes of H steps; the picked
  tasks are stepped together in one :class:`~borel_lib.envs.batched.BatchedTrial` (drawn without
  replacement so they can be batched — the official loop draws with replacement, one at a time).
  Training episodes start from the fixed start (the official point robot starts at the origin too;
  the MuJoCo domains — Half-Cheetah-Vel, Ant-Semi-circle — are stepped in a
  :class:`~borel_lib.envs.batched.BatchedMujocoTrial`; Ant starts exactly at the origin, Cheetah with
  gym's small reset noise, drawn afresh per episode from the trainer's generator).
- **Test protocol as BOReL compares it** (:func:`~borel_lib.baselines.common.evaluate`, shared with MBML):
  one k-episode trial per unseen task from the fixed start with the deterministic policy; z from the prior in
  episode 1, from the posterior of the trial so far afterwards (``num_exp_traj_eval = 1``).
- **Reacher-Image** (ours): the networks see what BOReL's learnt parts see
  (:func:`~borel_lib.baselines.common.image_inputs`): every environment state, in collection and in
  evaluation, is rendered and encoded by the seed's frozen image encoder (BOReL's, trained on the collection's
  frames; none trained here), and the policy, Q, V and the context see the joint velocities and the image
  features, not the joint angles (``--image proprio=full`` adds them; the run's name then carries
  ``propriofull``). The reward is the environment's, from the true state.
- ``oracle_task``: a sanity check that replaces z by the true task vector (no encoder, no KL); on the
  Semi-circle it should approach the goal-known oracle.

Defaults are the official sparse point-robot values; the BOReL environment differs from that robot
(horizon 60 instead of 20, reward exactly 1 within the goal radius instead of 1 − distance).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.baselines.common import (
    BaselineConfig,
    Inputs,
    baseline_command,
    baseline_parser,
    check_same_run,
    checkpoint_path,
    context_features,
    evaluate,
    given_and_named,
    image_flags,
    image_inputs,
    image_tag,
    run_lock,
    setting_flags,
    setting_parts,
    summarise,
    write_trajectories,
)
from borel_lib.baselines.pearl_agent import PEARLAgent, TaskBuffers
from borel_lib.config import ConfigError, check_choice, check_tau
from borel_lib.envs import make_env
from borel_lib.envs.batched import MUJOCO_BATCHABLE, batched_trial_for, is_mujoco
from borel_lib.image_features import add_image_argument
from borel_lib.io import atomic_path
from borel_lib.tasks import DEFAULT_SPLIT, add_split_argument, eval_tasks, split_flag, split_suffix

PEARL_DOMAIN: dict[str, dict[str, Any]] = {
    "semicircle": {},
    "wind": {"use_next_obs_in_context": True},
    "escape_room": {"use_next_obs_in_context": True, "rl_reward": "sparse"},
    "cheetah_vel": {"gamma": 0.99, "reward_scale": 5.0, "kl_lambda": 0.1, "rl_reward": "sparse"},
    "ant_semicircle": {"gamma": 0.99, "reward_scale": 5.0, "kl_lambda": 0.1},
    "reacher_image": {"gamma": 0.99, "reward_scale": 5.0, "kl_lambda": 0.1, "rl_reward": "sparse"},
}
"""Per-domain settings on top of the profile's (:meth:`PEARLConfig.for_domain`), for every domain PEARL runs
on (:data:`DOMAINS`). Wind and Escape-Room differ in their *transitions* and their sparse reward is the same
for every task, so the context must show s' (the official setting "True when dynamics vary"). SAC's reward:
Wind's dense reward is the sparse one plus the distance shaping its collectors learn from
(:meth:`~borel_lib.envs.point_robot.WindEnv.dense_reward`, the same goal for every task, so it says nothing
about the wind); Escape-Room has no dense reward and its collectors learn from the sparse one, so PEARL's SAC
does too. Ours: the official code has neither domain.

MuJoCo: the official cheetah-vel values (γ 0.99, reward scale 5, KL weight 0.1), used for Ant-Semi-circle too
(the official ant-goal run did not reproduce, its README says). Half-Cheetah-Vel has one reward, the
evaluation's −|v − v_g| − 0.05‖a‖², which both the encoder and SAC see (``rl_reward="sparse"`` here means "the
environment's own reward"); on Ant the encoder sees the sparse reward and SAC the collectors' dense one
(:meth:`~borel_lib.envs.ant.AntSemiCircleEnv.dense_reward`), as on the Semi-circle.

Reacher-Image (ours; a MuJoCo arm with one dense reward, −‖fingertip − target‖ − 0.1‖a‖², like
Half-Cheetah-Vel's): Half-Cheetah-Vel's values, and both the encoder and SAC see the environment's reward.
γ 0.99 and reward scale 5 (entropy weight 0.2) are also what BOReL's offline SAC uses there
(:data:`borel_lib.offline_rl` ``alpha`` 0.2). The MuJoCo sizes of :data:`PEARL_PROFILE_DOMAIN` apply."""

DOMAINS = tuple(PEARL_DOMAIN)
"""Domains PEARL runs on: the point robots and the MuJoCo domains (all with a batched form; Reacher-Image sees
its images through BOReL's frozen image encoder, module docstring)."""

PEARL_PROFILE_DOMAIN: dict[tuple[str, str], dict[str, Any]] = {
    **{("paper", d): {"n_train_tasks": 100, "embedding_batch_size": 100, "num_initial_steps": 2000,
                      "num_tasks_sample": 5, "num_steps_prior": 400, "num_steps_posterior": 0,
                      "num_extra_rl_steps_posterior": 600, "train_steps_per_iter": 2000, "n_eval_tasks": 30}
       for d in MUJOCO_BATCHABLE},
    **{("quick", d): {"n_train_tasks": 16, "embedding_batch_size": 100, "num_initial_steps": 400,
                      "num_tasks_sample": 4, "num_steps_prior": 200, "num_steps_posterior": 0,
                      "num_extra_rl_steps_posterior": 400, "train_steps_per_iter": 1000, "n_eval_tasks": 16}
       for d in MUJOCO_BATCHABLE},
}
"""Sizes per (profile, domain) on top of :data:`PEARL_DOMAIN`. ``paper``: the official cheetah-vel loop (100
training tasks, 2000 initial steps, per iteration 5 tasks x (400 prior + 600 RL-only posterior steps) and 2000
gradient steps; 30 test tasks). ``quick``: the same shape cut for two CPU cores (16 tasks, 4 x (200 + 400)
steps and 1,000 gradient steps per iteration, 16 test tasks) — about 2,400 MuJoCo steps and 1,000 updates
of the quick networks per iteration, 100k updates in all (the official run: 1M). Chosen by measurement on
Half-Cheetah-Vel: with 200 gradient steps per iteration (20k updates) the paper's metric only went from
−268 to −256 per episode in 100 iterations; it tracks updates, not environment steps, so the quick run
spends its time on updates (about 40 min per seed on one core). Reacher-Image (in :data:`MUJOCO_BATCHABLE`)
gets the same sizes; each of its environment steps also renders and encodes the arm's image."""

RL_REWARDS = ("dense", "sparse")
"""Reward SAC trains on: the dense −‖s' − g‖ (official) or the environment's sparse one."""


@dataclasses.dataclass(frozen=True)
class PEARLConfig(BaselineConfig):
    """PEARL (defaults: the official sparse point-robot configuration; see the module docstring)."""

    n_train_tasks: int = 80
    """Training tasks drawn from the prior (official point robots: 80)."""
    latent_dim: int = 5
    """Dimension of the task latent z."""
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden layers of the per-transition context encoder."""
    hidden: tuple[int, ...] = (300, 300, 300)
    """Hidden layers of the policy, each Q and V."""
    lr: float = 3e-4
    """Adam learning rate of every network."""
    gamma: float = 0.9
    """Discount (sparse point robot 0.9)."""
    tau: float = 0.005
    """Polyak rate of the target V."""
    reward_scale: float = 100.0
    """Multiplies SAC's reward; the entropy weight is 1, so this is 1/α (sparse point robot 100)."""
    kl_lambda: float = 1.0
    """Weight of the KL bottleneck, summed over tasks and dims (sparse point robot 1.0; others 0.1)."""
    policy_reg: float = 1e-3
    """Weight of the policy's mean² and log-std² regularisers."""
    meta_batch: int = 16
    """Tasks per gradient step (drawn with replacement)."""
    batch_size: int = 256
    """RL transitions per task per gradient step."""
    embedding_batch_size: int = 1024
    """Context transitions per task per gradient step (sparse point robot 1024)."""
    use_next_obs_in_context: bool = False
    """Include s' in each context transition (official default off; on when dynamics vary)."""
    iterations: int = 500
    """Meta-training iterations."""
    num_initial_steps: int = 200
    """Steps per training task collected with z from the prior before training."""
    num_tasks_sample: int = 10
    """Training tasks collected on per iteration."""
    num_steps_prior: int = 100
    """Steps per picked task with z from the prior (rounded up to whole episodes)."""
    num_steps_posterior: int = 900
    """Steps per picked task with z from the posterior, to both buffers (rounded up to episodes)."""
    num_extra_rl_steps_posterior: int = 0
    """Steps per picked task with z from the posterior, to the RL buffer only."""
    train_steps_per_iter: int = 1000
    """Gradient steps per iteration."""
    rl_reward: str = "dense"
    """Reward SAC trains on: dense (official) or sparse."""
    context_reward: str = "sparse"
    """Reward the context encoder sees, in training and at test: the environment's sparse one (official), or the
    domain's dense one (a sanity check of task inference on the goal domains, where a dense reward says how far
    the goal is from any transition)."""
    eval_every: int = 10
    """Iterations between evaluations on the unseen tasks (the last iteration is always evaluated)."""
    checkpoint_every: int = 1
    """Iterations between resumable checkpoints."""

    PRESETS = {
        "smoke": {"n_train_tasks": 4, "latent_dim": 2, "encoder_hidden": (8,), "hidden": (8,), "meta_batch": 2,
                  "batch_size": 8, "embedding_batch_size": 8, "iterations": 2, "num_initial_steps": 60,
                  "num_tasks_sample": 2, "num_steps_prior": 60, "num_steps_posterior": 60,
                  "train_steps_per_iter": 3, "eval_every": 1, "n_eval_tasks": 3},
        "quick": {"n_train_tasks": 40, "encoder_hidden": (64, 64, 64), "hidden": (128, 128), "meta_batch": 8,
                  "batch_size": 128, "embedding_batch_size": 128, "iterations": 100, "num_tasks_sample": 5,
                  "num_steps_prior": 60, "num_steps_posterior": 240, "train_steps_per_iter": 200,
                  "eval_every": 5},
    }
    DOMAIN = PEARL_DOMAIN
    PROFILE_DOMAIN = PEARL_PROFILE_DOMAIN

    def validate(self) -> None:
        super().validate()
        check_tau(self.tau)
        self.check_positive_fields("n_train_tasks", "latent_dim", "lr", "reward_scale", "meta_batch",
                                   "batch_size", "embedding_batch_size", "iterations", "num_tasks_sample",
                                   "eval_every", "checkpoint_every")
        self.check_positive_fields("kl_lambda", "policy_reg", "num_initial_steps", "num_steps_prior",
                                   "num_steps_posterior", "num_extra_rl_steps_posterior",
                                   "train_steps_per_iter", allow_zero=True)
        check_choice(self.rl_reward, "rl_reward", RL_REWARDS)
        check_choice(self.context_reward, "context_reward", RL_REWARDS)
        if not 0 <= self.gamma < 1:
            raise ConfigError(f"gamma={self.gamma} must be in [0, 1)")
        if self.num_tasks_sample > self.n_train_tasks:
            raise ConfigError(f"num_tasks_sample={self.num_tasks_sample} must be <= n_train_tasks={self.n_train_tasks}")


# ---------------------------------------------------------------------------------- training
def dense_reward(next_pos: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """The official point robot's dense reward −‖s' − g‖ (positions without the episode flag)."""
    return -np.linalg.norm(np.asarray(next_pos, np.float32) - np.asarray(goals, np.float32), axis=-1).astype(np.float32)


def rl_reward_fn(domain: str, rl_reward: str, field: str = "rl_reward"):
    """SAC's reward ``f(obs, actions, next_obs, tasks, sparse)`` for ``domain`` (positions without the flag):
    the sparse reward itself, or the dense one — Semi-circle: the official −‖s' − g‖; Wind: its collectors'
    shaped reward (:data:`PEARL_DOMAIN`). A clear error naming ``field`` (the setting asking for it) where the domain
    has no dense reward."""
    if rl_reward == "sparse":
        return lambda obs, actions, next_obs, tasks, sparse: sparse
    if domain == "semicircle":
        return lambda obs, actions, next_obs, tasks, sparse: dense_reward(next_obs, tasks)
    env_cls = type(make_env(domain))
    if not hasattr(env_cls, "dense_reward"):
        raise ConfigError(f"{field}='dense': {domain} has no dense reward; allowed value there: 'sparse'")
    return lambda obs, actions, next_obs, tasks, sparse: np.asarray(
        env_cls.dense_reward(obs, actions, next_obs, tasks), np.float32)


class PEARLTrainer:
    """Online meta-training of :class:`PEARLAgent` on batched environments (module docstring)."""

    def __init__(self, domain: str, config: PEARLConfig, seed: int = 0, device: str | torch.device = "cpu",
                 oracle_task: bool = False, eval_split: str = DEFAULT_SPLIT, inputs: Inputs | None = None):
        """``eval_split``: the tasks it is evaluated on (:func:`borel_lib.tasks.eval_tasks`, BOReL's for the split).
        ``inputs``: what the networks see of the states (:func:`~borel_lib.baselines.common.image_inputs`; needed
        on Reacher-Image; default the states themselves)."""
        from borel_lib.envs.batched import state_shape
        from borel_lib.image_features import IMAGE_DOMAINS

        check_choice(domain, "domain", DOMAINS)
        if domain in IMAGE_DOMAINS and (inputs is None or inputs.observe is None):
            raise ValueError(f"PEARLTrainer({domain!r}): an image domain needs inputs=image_inputs(...) "
                             "(what the networks see of its images)")
        self.domain, self.cfg, self.seed, self.oracle = domain, config, seed, oracle_task
        self.inputs = inputs if inputs is not None else Inputs()
        self.device = torch.device(device)
        self.env = make_env(domain, init_state="fixed")
        self.obs_dim = (self.env.observation_space.shape[0] if self.inputs.observe is None
                        else self.inputs.dim(state_shape(self.env)[0]))
        self.act_dim = self.env.action_space.shape[0]
        self.H = self.env.horizon
        self.rng = np.random.default_rng(seed)
        self.train_tasks = self.env.sample_tasks(config.n_train_tasks, self.rng)
        self.eval_tasks = eval_tasks(domain, seed, config.n_eval_tasks, eval_split)
        self.context_dim = self.obs_dim * (2 if config.use_next_obs_in_context else 1) + self.act_dim + 1
        self.rl_reward = rl_reward_fn(domain, config.rl_reward)
        self.context_reward = (None if config.context_reward == "sparse"
                               else rl_reward_fn(domain, "dense", "context_reward"))
        self.agent = PEARLAgent(self.obs_dim, self.act_dim, self.context_dim, config, seed, self.device,
                                task_dim=self.env.task_dim if oracle_task else None)
        self.rl_buffers = TaskBuffers(config.n_train_tasks)
        self.enc_buffers = TaskBuffers(config.n_train_tasks)
        self.iteration = 0
        self.env_steps = 0
        self.rows: list[dict[str, Any]] = []

    # ---------------------------------------------------------------------------- collection
    def _task_tensor(self, task_idx: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.train_tasks[task_idx], dtype=torch.float32, device=self.device)

    def _posterior_z(self, task_idx: np.ndarray) -> torch.Tensor:
        """z from the posterior of a context sampled from each task's encoder buffer (prior if empty)."""
        n = len(task_idx)
        if self.oracle:
            return self._task_tensor(task_idx)
        mu, var = self.agent.prior(n)
        have = np.flatnonzero(self.enc_buffers.size[task_idx] > 0)
        if have.size:
            ctx = self.sample_context(task_idx[have])
            with torch.no_grad():
                m, v = self.agent.posterior(ctx)
            rows = torch.as_tensor(have, device=self.device)
            mu[rows], var[rows] = m, v
        return self.agent.sample_z(mu, var)

    def _prior_z(self, task_idx: np.ndarray) -> torch.Tensor:
        return self._task_tensor(task_idx) if self.oracle else self.agent.sample_z(*self.agent.prior(len(task_idx)))

    def sample_context(self, task_idx: np.ndarray) -> torch.Tensor:
        """``embedding_batch_size`` transitions of each task's encoder buffer, as context features."""
        c = self.enc_buffers.sample(task_idx, self.cfg.embedding_batch_size, self.rng)
        feats = context_features(c["obs"], c["actions"], c["rewards"], c["next_obs"], self.cfg.use_next_obs_in_context)
        return torch.as_tensor(feats, device=self.device)

    def _collect(self, task_idx: np.ndarray, steps: int, posterior: bool, to_encoder: bool) -> None:
        """Whole episodes (``ceil(steps / H)`` of them) on the tasks ``task_idx``, stepped together,
        with the stochastic policy and a new z per episode."""
        n = len(task_idx)
        trial = batched_trial_for(self.env, n, episodes=1)
        for _ in range(math.ceil(steps / self.H)):
            z = self._posterior_z(task_idx) if posterior else self._prior_z(task_idx)
            # the point robots start at one fixed point; MuJoCo's start states are noisy: a fresh draw each
            seeds = self.rng.integers(0, 2**31, n) if is_mujoco(self.env) else [0] * n
            states = trial.reset(self.train_tasks[task_idx], seeds=seeds)
            obs = self.inputs(states)  # what the networks see (the states themselves but on Reacher-Image)
            rec: dict[str, list[np.ndarray]] = {k: [] for k in TaskBuffers.FIELDS}
            for _t in range(self.H):
                a = self.agent.act(obs, z)
                out = trial.step(a)
                args = (states[:, :-1], a, out.next_obs[:, :-1], self.train_tasks[task_idx], out.reward)
                rl_r = self.rl_reward(*args)
                ctx_r = out.reward if self.context_reward is None else self.context_reward(*args)
                seen_obs, nxt = self.inputs.pair(out.obs, out.next_obs)
                for k, v in (("obs", obs), ("actions", a), ("rewards", ctx_r), ("rl_rewards", rl_r),
                             ("next_obs", nxt)):
                    rec[k].append(v)
                obs, states = seen_obs, out.obs
            arrays = {k: np.stack(v, 1) for k, v in rec.items()}
            for j, t in enumerate(task_idx):
                one = {k: v[j] for k, v in arrays.items()}
                self.rl_buffers.add(int(t), **one)
                if to_encoder:
                    self.enc_buffers.add(int(t), **one)
            self.env_steps += n * self.H

    def collect_iteration(self) -> None:
        """The data collection of one meta-training iteration (module docstring)."""
        cfg = self.cfg
        if self.iteration == 0 and cfg.num_initial_steps > 0:
            self._collect(np.arange(cfg.n_train_tasks), cfg.num_initial_steps, posterior=False, to_encoder=True)
        picked = self.rng.choice(cfg.n_train_tasks, size=cfg.num_tasks_sample, replace=False)
        for t in picked:
            self.enc_buffers.clear(int(t))
        if cfg.num_steps_prior:
            self._collect(picked, cfg.num_steps_prior, posterior=False, to_encoder=True)
        if cfg.num_steps_posterior:
            self._collect(picked, cfg.num_steps_posterior, posterior=True, to_encoder=True)
        if cfg.num_extra_rl_steps_posterior:
            self._collect(picked, cfg.num_extra_rl_steps_posterior, posterior=True, to_encoder=False)

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        tasks = self.rng.integers(0, cfg.n_train_tasks, cfg.meta_batch)
        batch = {k: torch.as_tensor(v, device=self.device)
                 for k, v in self.rl_buffers.sample(tasks, cfg.batch_size, self.rng).items()}
        context = None if self.oracle else self.sample_context(tasks)
        return self.agent.update(batch, context, self._task_tensor(tasks) if self.oracle else None)

    # ---------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"agent": self.agent.full_state_dict(), "rng": self.rng.bit_generator.state,
                "rl_buffers": self.rl_buffers.state_dict(), "enc_buffers": self.enc_buffers.state_dict(),
                "iteration": self.iteration, "env_steps": self.env_steps, "rows": self.rows,
                "config": self.cfg.to_dict(), "seed": self.seed, "oracle_task": self.oracle,
                **({"inputs": self.inputs.fingerprint} if self.inputs.fingerprint is not None else {})}

    def load_state_dict(self, state: dict[str, Any], where: str = "checkpoint") -> None:
        saved, wanted = PEARLConfig.upgrade(state["config"]), self.cfg.to_dict()  # fields added since: defaults
        diff = sorted(k for k in wanted if k not in ("iterations", "eval_every", "checkpoint_every")
                      and saved.get(k) != wanted[k])
        if diff or state["seed"] != self.seed or state["oracle_task"] != self.oracle:
            raise ConfigError(f"{where}: made with a different configuration (fields {diff or ['seed/oracle_task']}); "
                              "only iterations, eval_every and checkpoint_every may change on resume. "
                              "Delete the checkpoint or use another name.")
        if state.get("inputs") != self.inputs.fingerprint:
            raise ConfigError(f"{where}: made on other image features (the image encoder was trained again, or "
                              "another --image); delete the checkpoint to restart")
        self.agent.load_full_state_dict(state["agent"])
        self.rng.bit_generator.state = state["rng"]
        self.rl_buffers.load_state_dict(state["rl_buffers"])
        self.enc_buffers.load_state_dict(state["enc_buffers"])
        self.iteration, self.env_steps, self.rows = state["iteration"], state["env_steps"], state["rows"]

    def train(self, checkpoint: str | os.PathLike[str] | None = None, progress: bool = True,
              method: str = "pearl", command: str = "") -> pd.DataFrame:
        """Meta-train to ``config.iterations`` (resuming from ``checkpoint`` if it exists), evaluating
        every ``eval_every`` iterations; returns the per-evaluation rows (tidy). A checkpoint already past
        ``iterations`` is refused (its rows are of a longer run than this config says): a one-line
        :class:`ConfigError` saying how to keep or replace it (``command``: this run's, for the message)."""
        cfg = self.cfg
        if checkpoint is not None and Path(checkpoint).is_file():
            state = torch.load(checkpoint, map_location=self.device, weights_only=False)
            if state["iteration"] > cfg.iterations:
                raise ConfigError(f"{checkpoint}: this run is already at iteration {state['iteration']}, past "
                                  f"iterations={cfg.iterations}; keep it (rerun with --iterations {state['iteration']} "
                                  f"or more), or replace it: rm {checkpoint}; then rerun"
                                  + (f": {command}" if command else ""))
            self.load_state_dict(state, str(checkpoint))
        bar = tqdm(total=cfg.iterations, initial=self.iteration, desc=method, disable=not progress)
        while self.iteration < cfg.iterations:
            self.collect_iteration()
            for _ in range(cfg.train_steps_per_iter):
                losses = self.train_step()
            self.iteration += 1
            bar.update()
            if self.iteration % cfg.eval_every == 0 or self.iteration == cfg.iterations:
                ev = evaluate(self.agent, self.domain, self.eval_tasks, self.seed, cfg.num_exp_traj_eval,
                              cfg.use_next_obs_in_context, oracle=self.oracle, inputs=self.inputs,
                              context_reward=self.context_reward)
                summary = ev.groupby(["episode", "metric"])["value"].mean().reset_index()
                for r in summary.itertuples():
                    self.rows.append({"domain": self.domain, "method": method, "variant": "online", "seed": self.seed,
                                      "episode": int(r.episode), "metric": r.metric, "value": float(r.value),
                                      "iteration": self.iteration, "env_steps": self.env_steps})
                ret = summary[summary.metric == "return"]["value"]
                bar.set_postfix(paper_metric=f"{ret.iloc[: self.env.eval_episodes].mean():.2f}",
                                **({"q_loss": f"{losses['q_loss']:.3g}"} if cfg.train_steps_per_iter else {}))
            if checkpoint is not None and (self.iteration % cfg.checkpoint_every == 0
                                           or self.iteration == cfg.iterations):
                with atomic_path(checkpoint) as tmp:
                    torch.save(self.state_dict(), tmp)
        bar.close()
        return pd.DataFrame(self.rows)


SETTING_NAMES = {"context_reward": "ctx", "train_steps_per_iter": "tspi", "meta_batch": "mb", "batch_size": "b",
          "embedding_batch_size": "emb", "hidden": "h", "encoder_hidden": "ench", "kl_lambda": "kl", "rl_reward": "rl"}
"""Short names of :class:`PEARLConfig` fields in a run's name (``context_reward=dense`` → ``_ctxdense``)."""


UNNAMED = ("iterations", "eval_every", "checkpoint_every")
"""Settings that never name a run (a run grows, or is evaluated or saved more often, under the same name)."""


def named_settings(domain: str, profile: str, settings: Any) -> tuple[tuple[str, Any], tuple[tuple[str, Any], ...]]:
    """``(given, named)`` for ``--pearl FIELD=VALUE`` settings, both sorted: ``given`` those not equal to the profile's
    value for ``domain`` (the run's command), ``named`` those of them that name the run (never one of :data:`UNNAMED`;
    ``iterations`` is refused here: it is given alone, ``--iterations``)."""
    settings = dict(settings)
    if "iterations" in settings:
        raise ConfigError("settings: give the number of iterations alone (--iterations), not as a --pearl setting")
    return given_and_named(PEARLConfig, domain, profile, settings, UNNAMED)


def run_tag(domain: str, seed: int, oracle_task: bool = False, eval_split: str = DEFAULT_SPLIT,
            image: tuple[tuple[str, Any], ...] = (), settings: tuple[tuple[str, Any], ...] = ()) -> str:
    """``pearl[_oracle_task]_<domain>[_<image overrides>][_<settings>][_validation]_seed<seed>`` (the split only if
    not ``test``; ``image``: the checked, non-default image-stage overrides, e.g. ``_propriofull``; ``settings``:
    :func:`named_settings`, e.g. ``_ctxdense``)."""
    return (f"pearl{'_oracle_task' if oracle_task else ''}_{domain}{image_tag(image)}{setting_parts(settings, SETTING_NAMES)}"
            f"{split_suffix(eval_split)}_seed{seed}")


def run_pearl(domain: str = "semicircle", profile: str | None = None, seed: int = 0, oracle_task: bool = False,
              progress: bool = True, device: str = "auto", eval_split: str = DEFAULT_SPLIT,
              image: tuple[tuple[str, Any], ...] = (), settings: tuple[tuple[str, Any], ...] = (),
              **overrides: Any) -> pd.DataFrame:
    """Train PEARL online for one seed (resuming a killed run), write
    ``pearl[_oracle_task]_<domain>[_<settings>][_validation]_seed<seed>.csv`` with its config, and return the table
    (``settings``: :class:`PEARLConfig` overrides, ``--pearl FIELD=VALUE``, most of which name the run,
    :func:`named_settings`; ``overrides``: ``iterations`` only)
    (``eval_split``: its evaluation tasks, :func:`borel_lib.tasks.eval_tasks`; in the name and command if not
    ``test``; ``image``: image-stage overrides, image domains only, :mod:`borel_lib.image_features`). Holds the run's
    lock (:func:`~borel_lib.baselines.common.run_lock`): a second process given the same run waits for the
    first, then resumes its checkpoint."""
    from borel_lib.config import resolve_profile
    from borel_lib.device import get_device
    from borel_lib.image_features import check_image_run
    from borel_lib.results import write_results
    from borel_lib.seeding import seed_everything

    profile = resolve_profile(profile)
    if set(overrides) - {"iterations"}:
        raise ConfigError(f"run_pearl: {', '.join(sorted(set(overrides) - {'iterations'}))}: give config fields as "
                          "settings=((field, value), ...) (--pearl FIELD=VALUE); only iterations goes alone")
    given, settings = named_settings(domain, profile, settings)
    cfg = PEARLConfig.for_domain(domain, profile, **dict(given), **overrides)
    image = check_image_run(domain, profile, "latent", dict(image))
    tag = run_tag(domain, seed, oracle_task, eval_split, image, settings)
    command = baseline_command("pearl", domain, profile, seed, overrides,
                               (" --oracle-task" if oracle_task else "") + split_flag(eval_split) + image_flags(image)
                               + setting_flags("pearl", given))
    with run_lock(profile, tag, "PEARL"):
        check_same_run(tag, profile, cfg, command, checkpoint_path(profile, tag), grows=("iterations",))
        dev = get_device(device)
        _, inputs = image_inputs(domain, profile, seed, dev, progress, image)  # Reacher-Image: BOReL's encoder
        seed_everything(seed)
        trainer = PEARLTrainer(domain, cfg, seed, dev, oracle_task, eval_split, inputs)
        # a run with settings is its own method (pearl_ctxdense), never pooled with the default PEARL's seeds
        method = ("pearl_oracle_task" if oracle_task else "pearl") + setting_parts(settings, SETTING_NAMES)
        rows = trainer.train(checkpoint_path(profile, tag), progress=progress, method=method, command=command)
        df = summarise(rows, trainer.env.eval_episodes)
        write_results(df, tag, config=cfg, profile=profile, command=command)
        write_trajectories(trainer.agent, domain, trainer.eval_tasks, seed, cfg.num_exp_traj_eval,
                           cfg.use_next_obs_in_context, oracle_task, f"{tag}_traj", method, "online", cfg, profile,
                           command, int(df.iteration.max()), inputs, trainer.context_reward)
    return df


def _run_cli(args) -> int:
    from borel_lib.cli import parse_overrides
    from borel_lib.config import resolve_profile
    from borel_lib.image_features import ImageEncoderConfig, check_image_run

    overrides = {"iterations": args.iterations} if args.iterations is not None else {}
    settings = parse_overrides(args.pearl, PEARLConfig, "pearl")
    if "iterations" in settings:
        raise ConfigError("--pearl iterations=...: give the number of iterations with --iterations")
    cfg = PEARLConfig.for_domain(args.domain, resolve_profile(args.profile), **settings, **overrides)  # checked first
    for field in ("rl_reward", "context_reward"):
        rl_reward_fn(args.domain, getattr(cfg, field), field)
    image = tuple(parse_overrides(args.image, ImageEncoderConfig, "image").items())
    check_image_run(args.domain, resolve_profile(args.profile), "latent", dict(image))
    torch.set_num_threads(1)
    df = run_pearl(args.domain, args.profile, args.seed, args.oracle_task, progress=not args.no_progress,
                   device=args.device, eval_split=args.eval_split, image=image, settings=tuple(settings.items()),
                   **overrides)
    print(df[df.metric.str.startswith(("best_", "final_"))].to_string(index=False))
    return 0


def build_parser():
    """The ``python -m borel_lib.baselines.pearl`` command line."""
    from borel_lib import cli

    parser = baseline_parser(
        "pearl", "Online PEARL baseline (Thompson sampling, paper §6); resumes a killed run.", domains=DOMAINS,
        outputs="  results:     data/results/<profile>/baselines/<domain>/pearl[_oracle_task]_<domain>[_<settings>][_validation]_seed<seed>.csv"
                " and .config.json\n"
                "  checkpoint:  data/checkpoints/<profile>/pearl[_oracle_task]_<domain>[_validation]_seed<seed>.pt\n"
                "  (profile smoke: the same under build/smoke/)")
    parser.add_argument("--oracle-task", action="store_true", help="give the policy the true task instead of z")
    parser.add_argument("--iterations", type=cli.positive_int, default=None,
                        help="training iterations (default: the profile's)")
    parser.add_argument("--pearl", action="append", default=[], metavar="FIELD=VALUE",
                        help="a PEARLConfig setting, e.g. context_reward=dense or train_steps_per_iter=1000 "
                             "(repeatable; a non-default one names the run: _ctxdense, _tspi1000)")
    add_split_argument(parser)
    add_image_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.baselines.pearl``; returns the exit code (2 on a user error)."""
    from borel_lib import cli

    return cli.main(_run_cli, build_parser(), argv)


if __name__ == "__main__":  # run the imported module's main, so its classes are borel_lib.baselines.pearl.*, not __main__.*
    from borel_lib.baselines.pearl import main as _main

    raise SystemExit(_main())
