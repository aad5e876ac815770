"""MBML (Li et al., NeurIPS 2020), trained offline on BOReL's datasets: the offline Thompson-sampling
baseline of BOReL's Figures 3-4 (BOReL paper §6; MBML paper §4).

Written from the MBML paper and a reading of what its official implementation does; no code copied.
Everything trains on the offline dataset BOReL uses (:func:`borel_lib.collect.run_collection`), with
no environment step; the environment is stepped only to evaluate.

1. **Per-task offline policies** (:mod:`~borel_lib.baselines.bcq`): one BCQ agent (Fujimoto et al. 2019)
   per training task, on that task's own transitions, all N stacked into one
   :class:`~borel_lib.baselines.bcq.EnsembleBCQ`; we keep the final checkpoint (the official code keeps
   the one with the best *online* evaluation, which needs environment steps).
2. **Reward models and relabelling**: per task an ensemble of ``reward_members`` MLPs on (s, a)
   (:class:`~borel_lib.baselines.mbml_models.RewardEnsembles`). A transition of task j is relabelled for
   task i with the mean of task i's ensemble and kept only where that ensemble's std is below
   ``std_threshold`` (:meth:`MBMLTrainer.distill_step`). Where tasks differ in transitions (Wind) the
   ensembles predict the state change instead, and a transition of task j is relabelled for task i with
   i's predicted s' and the domain's reward of that s' (the official code's next-state ensembles;
   :data:`DOMAINS`).
3. **Task inference and distillation** (jointly, :meth:`MBMLTrainer.distill_step`): the PEARL-style
   product-of-Gaussians encoder (:mod:`borel_lib.baselines.task_encoder`, latent 20) over (s, a, r, s'),
   part of the distilled agent :class:`~borel_lib.baselines.mbml_models.MBMLAgent`.
   - Triplet loss for every ordered pair (i, j ≠ i) of the meta-batch: anchor = task j's context
     transitions passing i's filter, relabelled with i's reward model; negative = the same transitions
     with their true (task j) rewards; positive = an equally large random subset of task i's own
     context; distance d(x, y) = KL(q(z|x) ‖ q(z|y)); loss mean relu(d(a, p) − d(a, n) + margin) over
     pairs with at least one kept transition.
   - z for distillation is drawn from the posterior of task i's own context plus up to
     ``context_size`` relabelled transitions of other tasks that pass i's filter.
   - Q_D(s, a, z) regresses on the BCQ teacher's Q1; G_D(s, ν, z) on the teacher VAE decoder with the
     same ν ~ N(0, I) clipped to ±0.5; ξ_D(s, ã, z) on the teacher's perturbation at the teacher's
     candidate ã. G_D and ξ_D see z detached; the encoder learns from triplet + β·KL (summed over
     tasks and dims) + Q distillation, as in the official code.
4. **Test** (:func:`borel_lib.baselines.common.evaluate`, the same protocol as PEARL and BOReL): one
   k-episode trial per unseen task from the fixed start; z from the prior in episode 1, from the posterior given
   all transitions so far at the start of each later episode; actions: ``bcq_candidates`` G_D samples
   perturbed by ξ_D, the argmax of Q_D. (The official test scores episodes 3-5 of 5; BOReL's metric
   is episodes 1-2, which is what we report.)
5. **Task identification** (:func:`~borel_lib.baselines.mbml_diagnostics.task_identification`, ours): how
   well the encoder names the training task of held-out trials, against chance; reported with the results.

Reacher-Image (ours): everything learns on the observed data BOReL's learnt parts see
(:func:`~borel_lib.baselines.common.image_inputs`: the seed's frozen image encoder, BOReL's, none trained here):
every stored state becomes [joint velocities, image features] (``--image proprio=full``: the joint angles too,
the run's name then carries ``propriofull``), and evaluation renders and encodes every environment state the
same way. The stored rewards (of the true states) are what the reward models learn.

Default sizes and steps are the official code's (cheetah/ant values where it has no Semi-circle).
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

from borel_lib.baselines.bcq import EnsembleBCQ
from borel_lib.baselines.common import (
    BaselineConfig,
    Inputs,
    baseline_command,
    baseline_parser,
    check_same_run,
    checkpoint_path,
    evaluate,
    given_and_named,
    image_flags,
    image_inputs,
    image_tag,
    run_lock,
    setting_flags,
    setting_parts,
    single_forward,
    summarise,
    write_trajectories,
)
from borel_lib.baselines.mbml_diagnostics import PROBE_MODES as PROBE_MODES  # re-exported for its callers
from borel_lib.baselines.mbml_diagnostics import task_identification
from borel_lib.baselines.mbml_models import MBMLAgent, RewardEnsembles
from borel_lib.baselines.task_encoder import kl_diag, kl_to_prior
from borel_lib.baselines.task_encoder import product_of_gaussians as pog
from borel_lib.config import ConfigError, check_choice, check_tau
from borel_lib.datasets import OfflineDataset
from borel_lib.image_features import add_image_argument
from borel_lib.io import atomic_path
from borel_lib.tasks import DEFAULT_SPLIT, add_split_argument, eval_tasks, split_flag, split_suffix

MBML_DOMAIN: dict[str, dict[str, Any]] = {"semicircle": {}, "wind": {"std_threshold": 0.01},
                                          "cheetah_vel": {"std_threshold": 0.05}, "ant_semicircle": {},
                                          "reacher_image": {"std_threshold": 0.005}}
"""Per-domain settings on top of the profile's (:meth:`MBMLConfig.for_domain`), for every domain MBML runs on
(:data:`DOMAINS`). Wind's threshold is on the std of the predicted state change (steps of about 0.1, winds
differing by about 0.05 between tasks); ours, by measurement (``kept_fraction`` in the distillation's log).
Half-Cheetah-Vel 0.05 and Ant-Semi-circle 0.1 (the default) are the official cheetah-vel and ant-goal
thresholds; on the MuJoCo domains MBML trains on the collection protocol's dataset (Ant: the
``exclude_semicircle`` variant, as BOReL's default) unless ``--init-state`` names another (the paper's Figure
3 uses the uniform one).

Reacher-Image (ours; a MuJoCo arm with one dense reward, like Half-Cheetah-Vel): Half-Cheetah-Vel's settings
with its threshold scaled to the reward's spread between tasks. On Half-Cheetah-Vel, targets 0-3 m/s apart,
two tasks' rewards of one transition differ by up to 3 and the threshold is 0.05; on Reacher-Image, targets on
a quarter circle of radius 0.15, they differ by up to ‖g_i − g_j‖ ≤ 0.21, about 14 times less, so 0.005
(not yet checked on the quick data's ``kept_fraction``)."""

DOMAINS = tuple(MBML_DOMAIN)
"""Domains MBML runs on (the paper's continuous domains except Escape-Room). On Wind the tasks differ in
transitions, so the per-task ensembles predict the state change and a transition of task j is relabelled
for task i with i's predicted s' and the reward of that s' (the official code's next-state ensembles). Not Escape-Room: the paper's footnote 9 says MBML's
BCQ part failed there (and on Wind with policy replay; we train on Wind's own data, as BOReL does)."""

MBML_PROFILE_DOMAIN: dict[tuple[str, str], dict[str, Any]] = {("paper", "ant_semicircle"): {"bcq_iterations": 100_000},
                                                              ("smoke", "reacher_image"): {"tasks_per_step": 2}}
"""Sizes per (profile, domain): the official ant-goal BCQ ran 100k iterations (cheetah-vel 50k, the default);
Reacher-Image's smoke collection has 2 tasks, so its smoke run pairs 2 per step."""


@dataclasses.dataclass(frozen=True)
class MBMLConfig(BaselineConfig):
    """MBML (defaults: the official implementation's values; see the module docstring)."""

    heldout_trials: int = 10
    """Last trials of every task kept out of all training, for the task-identification check (ours)."""
    lr: float = 3e-4
    """Adam learning rate of every network."""
    gamma: float = 0.99
    """BCQ discount."""
    tau: float = 0.005
    """BCQ soft target-update rate."""
    bcq_iterations: int = 50_000
    """BCQ updates (every task's agent at once; official cheetah-vel 50k, ant-goal 100k)."""
    bcq_batch: int = 100
    """BCQ transitions per task per update."""
    bcq_actor_hidden: tuple[int, ...] = (400, 300)
    """Hidden layers of the BCQ perturbation network."""
    bcq_critic_hidden: tuple[int, ...] = (400, 300)
    """Hidden layers of each BCQ critic."""
    bcq_vae_hidden: tuple[int, ...] = (750, 750)
    """Hidden layers of the BCQ VAE's encoder and decoder (latent 2 x action dim)."""
    bcq_phi: float = 0.05
    """Largest perturbation, in units of the action bound."""
    bcq_lambda: float = 0.75
    """Weight of the min in the critic target λ min + (1 − λ) max."""
    bcq_candidates: int = 10
    """VAE actions per state in the target and at test time."""
    reward_members: int = 20
    """MLPs per task in the reward-model ensemble."""
    reward_hidden: tuple[int, ...] = (128,)
    """Hidden layers of each reward model."""
    reward_updates: int = 4000
    """Reward-model updates (all members of all tasks at once; official 200 x 20)."""
    reward_batch: int = 256
    """Transitions per task per reward-model update (shared by the task's members)."""
    std_threshold: float = 0.1
    """A relabelled transition is kept when the ensemble's std is below this (official ant 0.1)."""
    latent_dim: int = 20
    """Dimension of the task latent z."""
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden layers of the per-transition context encoder."""
    q_hidden: tuple[int, ...] = (1024,) * 9
    """Hidden layers of the distilled critic Q_D(s, a, z)."""
    g_hidden: tuple[int, ...] = (1024,) * 7
    """Hidden layers of the distilled generator G_D(s, ν, z)."""
    xi_hidden: tuple[int, ...] = (1024,) * 8
    """Hidden layers of the distilled perturbation ξ_D(s, ã, z)."""
    tasks_per_step: int = 10
    """Training tasks per distillation step, drawn without replacement (official: all 10)."""
    batch_per_task: int = 128
    """(s, a) pairs per task per distillation step."""
    context_size: int = 64
    """Own context transitions per task per step (and the cap on relabelled ones added)."""
    margin: float = 2.0
    """Triplet margin m."""
    kl_beta: float = 0.1
    """Weight β of KL(q(z|c) ‖ N(0, I)), summed over tasks and dims."""
    distill_steps: int = 1000 * 100
    """Joint encoder/distillation steps (official 1000 epochs x 100)."""
    eval_every: int = 5_000
    """Distillation steps between evaluations on the unseen tasks (and at the end)."""
    checkpoint_every: int = 1000
    """Updates (in any phase) between resumable checkpoints."""

    PRESETS = {
        "smoke": {"heldout_trials": 1, "bcq_iterations": 4, "bcq_batch": 8, "bcq_actor_hidden": (8,),
                  "bcq_critic_hidden": (8,), "bcq_vae_hidden": (8,), "bcq_candidates": 3, "reward_members": 2,
                  "reward_hidden": (8,), "reward_updates": 4, "reward_batch": 16, "latent_dim": 3,
                  "encoder_hidden": (8,), "q_hidden": (8,), "g_hidden": (8,), "xi_hidden": (8,), "tasks_per_step": 3,
                  "batch_per_task": 8, "context_size": 8, "distill_steps": 4, "eval_every": 2, "n_eval_tasks": 3,
                  "checkpoint_every": 3},
        "quick": {"heldout_trials": 4, "bcq_iterations": 10_000, "bcq_actor_hidden": (64, 64),
                  "bcq_critic_hidden": (64, 64), "bcq_vae_hidden": (64, 64), "reward_members": 5,
                  "reward_hidden": (64,), "reward_updates": 2000, "encoder_hidden": (64, 64, 64),
                  "q_hidden": (256, 256, 256), "g_hidden": (256, 256, 256), "xi_hidden": (256, 256, 256),
                  "tasks_per_step": 8, "distill_steps": 10_000, "eval_every": 1_000},
    }
    DOMAIN = MBML_DOMAIN
    PROFILE_DOMAIN = MBML_PROFILE_DOMAIN

    def validate(self) -> None:
        super().validate()
        check_tau(self.tau)
        self.check_positive_fields("lr", "bcq_iterations", "bcq_batch", "bcq_phi", "bcq_candidates",
                                   "reward_members", "reward_updates", "reward_batch", "std_threshold",
                                   "latent_dim", "tasks_per_step", "batch_per_task", "context_size",
                                   "distill_steps", "eval_every", "checkpoint_every")
        self.check_positive_fields("heldout_trials", "margin", "kl_beta", allow_zero=True)
        if not 0 <= self.gamma < 1:
            raise ConfigError(f"gamma={self.gamma} must be in [0, 1)")
        if not 0 <= self.bcq_lambda <= 1:
            raise ConfigError(f"bcq_lambda={self.bcq_lambda} must be in [0, 1]")
        if self.tasks_per_step < 2:
            raise ConfigError(f"tasks_per_step={self.tasks_per_step} must be >= 2 (the triplet loss pairs tasks)")


# ------------------------------------------------------------------------------------- data
class TaskData:
    """A dataset's transitions as per-task flat arrays (positions without the episode flag), with
    the last ``heldout`` trials of every task split off."""

    def __init__(self, dataset: OfflineDataset, heldout: int, columns: list[int] | None = None):
        """``columns``: the observed states' columns to keep (the episode-end flag last, then dropped;
        Reacher-Image: :func:`~borel_lib.image_features.learnt_columns`); ``None``: all."""
        N, M, T = dataset.rewards.shape
        if heldout >= M:
            raise ConfigError(f"heldout_trials={heldout} must be < the dataset's {M} trials per task ({dataset.path})")
        keep = M - heldout

        def flat(name: str, trials: slice) -> np.ndarray:
            a = np.asarray(dataset.arrays[name][:, trials], dtype=np.float32)
            if name in ("obs", "next_obs") and columns is not None:
                a = a[..., columns]
            a = a[..., :-1] if name in ("obs", "next_obs") else a  # drop the episode-end flag
            return a

        self.train = {k: flat(k, slice(0, keep)).reshape(N, keep * T, *np.shape(flat(k, slice(0, 1)))[3:])
                      for k in ("obs", "actions", "rewards", "next_obs")}
        self.heldout = {k: flat(k, slice(keep, M)) for k in ("obs", "actions", "rewards", "next_obs")}
        self.tasks = dataset.tasks
        self.n_tasks, self.size = N, keep * T
        self.obs_dim, self.act_dim = self.train["obs"].shape[-1], self.train["actions"].shape[-1]

    def sample(self, tasks: np.ndarray, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch`` transitions per task (uniform, with replacement): arrays ``(len(tasks), batch, ·)``."""
        idx = rng.integers(0, self.size, (len(tasks), batch))
        rows = np.asarray(tasks)[:, None]
        return {k: v[rows, idx] for k, v in self.train.items()}


def _features(ctx: dict[str, torch.Tensor], rewards: torch.Tensor, next_obs: torch.Tensor | None = None) -> torch.Tensor:
    """Context transitions (s, a, r, s') of ``ctx`` (fields ``(B, C, ·)``) with ``rewards`` of shape
    ``(B, C)`` or ``(B', B, C)`` (the same transitions under other tasks' rewards) and, where tasks differ in
    transitions, the relabelled ``next_obs`` ``(B', B, C, d)`` in place of the stored s'."""
    lead = rewards.shape
    nxt = ctx["next_obs"] if next_obs is None else next_obs
    return torch.cat([ctx["obs"].expand(*lead, -1), ctx["actions"].expand(*lead, -1), rewards[..., None],
                      nxt.expand(*lead, -1)], -1)


# ----------------------------------------------------------------------------------- training
class MBMLTrainer:
    """The three offline phases (module docstring), resumable, then evaluation."""

    PHASES = ("bcq", "reward", "distill")

    def __init__(self, dataset: OfflineDataset, config: MBMLConfig, seed: int = 0, device: str | torch.device = "cpu",
                 eval_split: str = DEFAULT_SPLIT, inputs: Inputs | None = None):
        """``eval_split``: the tasks it is evaluated on (:func:`borel_lib.tasks.eval_tasks`, BOReL's for the split).
        ``inputs``: what the networks see (:func:`~borel_lib.baselines.common.image_inputs`, with ``dataset`` its
        observed view; needed on Reacher-Image); default the states themselves."""
        domain = dataset.manifest["domain"]
        check_choice(domain, "dataset domain", DOMAINS)
        seen = inputs is not None and inputs.fingerprint is not None
        if "images" in dataset.arrays or ("image_features" in dataset.manifest) != seen or (
                seen and inputs.fingerprint != dataset.fingerprint):
            raise ValueError(f"MBMLTrainer: an image domain's data must be its observed view, with the inputs it was "
                             f"made with (image_inputs(...) returns both); got {dataset.path}")
        self.domain, self.cfg, self.seed, self.device = domain, config, seed, torch.device(device)
        self.inputs = inputs if inputs is not None else Inputs()
        self.data = TaskData(dataset, config.heldout_trials, self.inputs.columns)
        self.fingerprint = dataset.fingerprint
        from borel_lib.envs import make_env

        self.env = make_env(domain)
        self.eval_tasks = eval_tasks(domain, seed, config.n_eval_tasks, eval_split)
        self.transitions = self.env.varies == "transition"  # relabel s' (and its reward) instead of r
        N, d, a = self.data.n_tasks, self.data.obs_dim, self.data.act_dim
        if config.tasks_per_step > N:
            raise ConfigError(f"tasks_per_step={config.tasks_per_step} must be <= the dataset's {N} tasks")
        self.rng = np.random.default_rng(seed)
        self.bcq = EnsembleBCQ(d, a, [seed * 1000 + i for i in range(N)], config, self.device)
        self.rewards = RewardEnsembles(N, d + a, config, seed, self.device, out_dim=d if self.transitions else 1)
        self.agent = MBMLAgent(d, a, config, seed, self.device)
        self.done = dict.fromkeys(self.PHASES, 0)
        self.rows: list[dict[str, Any]] = []

    def _t(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}

    # --------------------------------------------------------------------------------- phases
    def bcq_step(self) -> dict[str, float]:
        return self.bcq.update(self._t(self.data.sample(np.arange(self.data.n_tasks), self.cfg.bcq_batch, self.rng)))

    def reward_step(self) -> float:
        b = self._t(self.data.sample(np.arange(self.data.n_tasks), self.cfg.reward_batch, self.rng))
        target = b["next_obs"] - b["obs"] if self.transitions else b["rewards"]
        return self.rewards.update(torch.cat([b["obs"], b["actions"]], -1), target)

    def _relabel(self, tasks: np.ndarray, ctx: dict[str, torch.Tensor]):
        """Every context transition of the batch under every batch task's model: rewards ``(B, B, C)``,
        the relabelled s' ``(B, B, C, d)`` (None where tasks differ in rewards) and the ensemble std."""
        B, C = ctx["rewards"].shape
        tt = torch.as_tensor(tasks, device=self.device)
        sa = torch.cat([ctx["obs"], ctx["actions"]], -1).reshape(1, B * C, -1).expand(B, B * C, -1)
        pred, std = self.rewards.predict(tt, sa)
        if not self.transitions:
            return pred.reshape(B, B, C), None, std.reshape(B, B, C)
        nxt = ctx["obs"][None] + pred.reshape(B, B, C, -1)
        goal = np.broadcast_to(np.asarray(self.data.tasks, np.float32)[tasks][:, None, None, :], (B, B, C, self.env.task_dim))
        r = self.env.reward(None, None, nxt.cpu().numpy(), goal)  # the domain's reward of the relabelled s'
        return torch.as_tensor(np.asarray(r, np.float32), device=self.device), nxt, std.reshape(B, B, C)

    def distill_step(self) -> dict[str, float]:
        """One joint step of the encoder (triplet + KL + Q distillation) and Q_D, G_D, ξ_D."""
        c, ag = self.cfg, self.agent
        B, C = c.tasks_per_step, c.context_size
        tasks = self.rng.choice(self.data.n_tasks, B, replace=False)
        both = self._t(self.data.sample(tasks, c.batch_per_task + C, self.rng))
        rl = {k: v[:, : c.batch_per_task] for k, v in both.items()}
        # one draw with replacement: the context may repeat a transition of the (s, a) sample (the official code
        # excludes the context's indices; docs/differences.md, Baselines)
        ctx = {k: v[:, c.batch_per_task :] for k, v in both.items()}
        tt = torch.as_tensor(tasks, device=self.device)
        # relabel every task's context for every task of the batch: [i, j, n] = j's n-th under i's model
        r_i, nxt_i, std_i = self._relabel(tasks, ctx)
        keep = (std_i < c.std_threshold) & ~torch.eye(B, dtype=torch.bool, device=self.device)[..., None]
        mu_true, var_true = ag.encoder.factors(_features(ctx, ctx["rewards"]))  # (B, C, L): task j's own, true rewards
        mu_rel, var_rel = ag.encoder.factors(_features(ctx, r_i, nxt_i))  # (B_i, B_j, C, L)
        # triplet loss over ordered pairs (i, j != i)
        m = keep.float()
        count = m.sum(-1)  # (B, B)
        ranks = torch.rand((B, B, C), generator=ag.generator, device=self.device).argsort(-1).argsort(-1)
        pos_mask = (ranks < count[..., None]).float()
        anchor = pog(mu_rel, var_rel, m)
        negative = pog(mu_true[None].expand(B, -1, -1, -1), var_true[None].expand(B, -1, -1, -1), m)
        positive = pog(mu_true[:, None].expand(-1, B, -1, -1), var_true[:, None].expand(-1, B, -1, -1), pos_mask)
        valid = (count > 0).float()
        trip = torch.relu(kl_diag(*anchor, *positive) - kl_diag(*anchor, *negative) + c.margin)
        triplet = (trip * valid).sum() / valid.sum().clamp_min(1.0)
        # z from own context + up to C relabelled transitions of other tasks that pass i's filter
        score = torch.rand((B, B * C), generator=ag.generator, device=self.device).masked_fill(~keep.reshape(B, -1), -1.0)
        top = score.topk(C, -1).indices
        sel_mask = keep.reshape(B, -1).gather(1, top).float()
        L = c.latent_dim
        mu_sel = mu_rel.reshape(B, B * C, L).gather(1, top[..., None].expand(-1, -1, L))
        var_sel = var_rel.reshape(B, B * C, L).gather(1, top[..., None].expand(-1, -1, L))
        mu_z, var_z = pog(torch.cat([mu_true, mu_sel], 1), torch.cat([var_true, var_sel], 1),
                          torch.cat([torch.ones(B, C, device=self.device), sel_mask], 1))
        z = ag.sample_z(mu_z, var_z)[:, None].expand(-1, c.batch_per_task, -1)
        kl = c.kl_beta * kl_to_prior(mu_z, var_z).sum()
        nu = self.bcq.clipped_noise((c.batch_per_task, self.bcq.latent))[tt]
        teach = self.bcq.teacher(tt, rl["obs"], rl["actions"], nu)
        q_loss = ((ag.q(rl["obs"], rl["actions"], z) - teach["q1"]) ** 2).mean()
        ag.q_optim.zero_grad(set_to_none=True)
        (q_loss + kl + triplet).backward()
        ag.q_optim.step()
        zd = z.detach()
        g_loss = ((torch.tanh(single_forward(ag.g_d, torch.cat([rl["obs"], nu, zd], -1))) - teach["candidate"]) ** 2).mean()
        ag.g_optim.zero_grad(set_to_none=True)
        g_loss.backward()
        ag.g_optim.step()
        xi_loss = ((ag.perturb(rl["obs"], teach["candidate"], zd) - teach["perturbed"]) ** 2).mean()
        ag.xi_optim.zero_grad(set_to_none=True)
        xi_loss.backward()
        ag.xi_optim.step()
        out = {"q_loss": q_loss.item(), "kl": kl.item(), "triplet": triplet.item(), "g_loss": g_loss.item(),
               "xi_loss": xi_loss.item(), "kept_fraction": (count.sum() / (B * (B - 1) * C)).item()}
        bad = [k for k, v in out.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(f"MBML loss {bad} is not finite")
        return out

    # ---------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"bcq": self.bcq.state_dict(), "rewards": self.rewards.state_dict(), "agent": self.agent.state_dict(),
                "optim": {"bcq": {n: getattr(self.bcq, n).state_dict() for n in ("actor_optim", "critic_optim", "vae_optim")},
                          "rewards": self.rewards.optim.state_dict(),
                          "agent": {n: getattr(self.agent, n).state_dict() for n in ("q_optim", "g_optim", "xi_optim")}},
                "generators": {"bcq": [g.get_state() for g in self.bcq.generators],
                               "agent": self.agent.generator.get_state()},
                "rng": self.rng.bit_generator.state, "done": dict(self.done), "rows": self.rows,
                "config": self.cfg.to_dict(), "seed": self.seed, "dataset": str(self.data.tasks.tolist()),
                "data_fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict[str, Any], where: str = "checkpoint") -> None:
        saved, wanted = state["config"], self.cfg.to_dict()
        diff = sorted(k for k in wanted if k not in ("eval_every", "checkpoint_every") and saved.get(k) != wanted[k])
        same_data = (state["dataset"] == str(self.data.tasks.tolist())
                     and state.get("data_fingerprint", self.fingerprint) == self.fingerprint)
        if diff or state["seed"] != self.seed or not same_data:
            raise ConfigError(f"{where}: made with a different configuration, seed or dataset (fields {diff}); "
                              "only eval_every and checkpoint_every may change on resume. Delete it or use another name.")
        self.bcq.load_state_dict(state["bcq"])
        self.rewards.load_state_dict(state["rewards"])
        self.agent.load_state_dict(state["agent"])
        for n, s in state["optim"]["bcq"].items():
            getattr(self.bcq, n).load_state_dict(s)
        self.rewards.optim.load_state_dict(state["optim"]["rewards"])
        for n, s in state["optim"]["agent"].items():
            getattr(self.agent, n).load_state_dict(s)
        for g, s in zip(self.bcq.generators, state["generators"]["bcq"]):
            g.set_state(s.cpu())  # a generator state is a CPU byte tensor, wherever the checkpoint was mapped
        self.agent.generator.set_state(state["generators"]["agent"].cpu())
        self.rng.bit_generator.state = state["rng"]
        self.done, self.rows = dict(state["done"]), state["rows"]

    def _save(self, checkpoint: str | os.PathLike[str] | None) -> None:
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save(self.state_dict(), tmp)

    def evaluate_now(self, method: str = "mbml") -> None:
        ev = evaluate(self.agent, self.domain, self.eval_tasks, self.seed, self.cfg.num_exp_traj_eval, use_next_obs=True,
                      inputs=self.inputs)
        summary = ev.groupby(["episode", "metric"])["value"].mean().reset_index()
        for r in summary.itertuples():
            self.rows.append({"domain": self.domain, "method": method, "variant": "offline", "seed": self.seed,
                              "episode": int(r.episode), "metric": r.metric, "value": float(r.value),
                              "iteration": self.done["distill"]})

    def totals(self) -> dict[str, int]:
        """Steps of each phase in a finished run (``done`` equals this when training has ended)."""
        c = self.cfg
        return {"bcq": c.bcq_iterations, "reward": c.reward_updates, "distill": c.distill_steps}

    def train(self, checkpoint: str | os.PathLike[str] | None = None, progress: bool = True,
              evaluate_during: bool = True, method: str = "mbml") -> pd.DataFrame:
        """Run (or resume) the three phases; evaluate every ``eval_every`` distillation steps and at
        the end (``evaluate_during=False`` trains without touching the environment), as ``method``."""
        c = self.cfg
        if checkpoint is not None and Path(checkpoint).is_file():
            self.load_state_dict(torch.load(checkpoint, map_location=self.device, weights_only=False), str(checkpoint))
        totals = self.totals()
        steps = {"bcq": self.bcq_step, "reward": self.reward_step, "distill": self.distill_step}
        for phase in self.PHASES:
            bar = tqdm(total=totals[phase], initial=self.done[phase], desc=f"MBML {phase}", disable=not progress)
            while self.done[phase] < totals[phase]:
                out = steps[phase]()
                self.done[phase] += 1
                bar.update()
                k = self.done[phase]
                if phase == "distill" and evaluate_during and (k % c.eval_every == 0 or k == totals[phase]):
                    self.evaluate_now(method)
                    if isinstance(out, dict):
                        bar.set_postfix(triplet=f"{out['triplet']:.3g}", q=f"{out['q_loss']:.3g}")
                if k % c.checkpoint_every == 0 or k == totals[phase]:
                    self._save(checkpoint)
            bar.close()
        return pd.DataFrame(self.rows)


SETTING_NAMES = {"bcq_iterations": "bcqit", "bcq_actor_hidden": "bcqa", "bcq_critic_hidden": "bcqc",
                 "bcq_vae_hidden": "bcqv", "distill_steps": "ds", "encoder_hidden": "ench", "q_hidden": "qh",
                 "g_hidden": "gh", "xi_hidden": "xih", "reward_members": "rm", "reward_hidden": "rh"}
"""Short names of :class:`MBMLConfig` fields in a run's name (``--mbml bcq_iterations=50000`` → ``_bcqit50000``)."""

UNNAMED = ("eval_every", "checkpoint_every")
"""Settings that never name a run (it is evaluated or saved more often under the same name)."""


def named_settings(domain: str, profile: str, settings: Any) -> tuple[tuple[str, Any], tuple[tuple[str, Any], ...]]:
    """``(given, named)`` for ``--mbml FIELD=VALUE`` settings (:func:`~borel_lib.baselines.common.given_and_named`)."""
    return given_and_named(MBMLConfig, domain, profile, settings, UNNAMED)


def run_tag(domain: str, seed: int, init_state: str | None = None, profile: str = "quick",
            eval_split: str = DEFAULT_SPLIT, image: tuple[tuple[str, Any], ...] = (),
            settings: tuple[tuple[str, Any], ...] = ()) -> str:
    """``mbml_<domain>_<init_state>[_<image overrides>][_<settings>][_validation]_seed<seed>``: the initial-state
    variant of the data, the protocol's default included (as in BOReL's run names), the checked non-default
    image-stage overrides (e.g. ``_propriofull``), the named settings (:func:`named_settings`) and the evaluation
    split if not ``test``."""
    from borel_lib.pipeline import resolve_init_state

    return (f"mbml_{domain}_{resolve_init_state(domain, profile, init_state)}{image_tag(image)}"
            f"{setting_parts(settings, SETTING_NAMES)}{split_suffix(eval_split)}_seed{seed}")


def run_mbml(domain: str = "semicircle", profile: str | None = None, seed: int = 0, progress: bool = True,
             device: str = "auto", init_state: str | None = None, eval_split: str = DEFAULT_SPLIT,
             image: tuple[tuple[str, Any], ...] = (), settings: tuple[tuple[str, Any], ...] = ()) -> pd.DataFrame:
    """Collect (cached) → BCQ → reward models → encoder + distillation → evaluation, for one seed;
    writes ``mbml_<domain>_<init_state>[_<settings>][_validation]_seed<seed>.csv`` (per-evaluation rows, best/final rows, task
    identification rows with episode 0) with its config beside it. ``init_state``: the initial-state
    variant of the collection to train on (Ant-Semi-circle: Table 1's datasets; the paper's Figure 3 uses
    ``uniform``); ``None`` = the collection protocol's default, as for BOReL. ``eval_split``: its evaluation
    tasks (:func:`borel_lib.tasks.eval_tasks`; in the name and command if not ``test``). ``image``: image-stage
    overrides (image domains only; the data are then :func:`~borel_lib.baselines.common.image_inputs`').
    ``settings``: :class:`MBMLConfig` overrides, ``--mbml FIELD=VALUE``, most of which name the run
    (:func:`named_settings`)."""
    from borel_lib.collect import run_collection
    from borel_lib.config import resolve_profile
    from borel_lib.device import get_device
    from borel_lib.image_features import check_image_run
    from borel_lib.pipeline import dataset_overrides
    from borel_lib.results import write_results
    from borel_lib.seeding import seed_everything

    profile = resolve_profile(profile)
    given, named = named_settings(domain, profile, settings)
    cfg = MBMLConfig.for_domain(domain, profile, **dict(given))
    data = dataset_overrides(domain, profile, init_state)  # checks init_state before any work
    image = check_image_run(domain, profile, "latent", dict(image))
    tag = run_tag(domain, seed, init_state, profile, eval_split, image, named)
    command = baseline_command("mbml", domain, profile, seed, {},
                               "".join(f" --init-state {v}" for v in data.values()) + split_flag(eval_split)
                               + image_flags(image) + setting_flags("mbml", given))
    with run_lock(profile, tag, "MBML"):  # a second process given this run waits, then resumes its checkpoint
        check_same_run(tag, profile, cfg, command, checkpoint_path(profile, tag))
        seed_everything(seed)
        dataset, _ = run_collection(domain, profile, progress=progress, **data)
        dev = get_device(device)
        dataset, inputs = image_inputs(domain, profile, seed, dev, progress, image, dataset)  # Reacher-Image: BOReL's
        trainer = MBMLTrainer(dataset, cfg, seed, dev, eval_split, inputs)
        method = "mbml" + setting_parts(named, SETTING_NAMES)  # a run with settings is its own method
        rows = trainer.train(checkpoint_path(profile, tag), progress=progress, method=method)
        df = summarise(rows, trainer.env.eval_episodes)
        ident = task_identification(trainer)
        df = pd.concat([df, pd.DataFrame([{"domain": domain, "method": method, "variant": "offline", "seed": seed,
                                           "episode": 0, "metric": k, "value": v, "iteration": cfg.distill_steps}
                                          for k, v in ident.items()])], ignore_index=True)
        write_results(df, tag, config=cfg, profile=profile, command=command)
        write_trajectories(trainer.agent, domain, trainer.eval_tasks, seed, cfg.num_exp_traj_eval, True, False,
                           f"{tag}_traj", method, "offline", cfg, profile, command, cfg.distill_steps, inputs)
    return df


def _run_cli(args) -> int:
    from borel_lib.cli import parse_overrides
    from borel_lib.config import resolve_profile
    from borel_lib.image_features import ImageEncoderConfig, check_image_run

    settings = tuple(parse_overrides(args.mbml, MBMLConfig, "mbml").items())
    named_settings(args.domain, resolve_profile(args.profile), settings)  # run_mbml checks init_state before any work
    image = tuple(parse_overrides(args.image, ImageEncoderConfig, "image").items())
    check_image_run(args.domain, resolve_profile(args.profile), "latent", dict(image))
    torch.set_num_threads(1)
    df = run_mbml(args.domain, args.profile, args.seed, progress=not args.no_progress, device=args.device,
                  init_state=args.init_state, eval_split=args.eval_split, image=image, settings=settings)
    print(df[df.metric.str.startswith(("best_", "final_", "task_id"))].to_string(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.baselines.mbml``; returns the exit code (2 on a user error)."""
    from borel_lib import cli

    parser = baseline_parser(
        "mbml", "Offline MBML baseline on BOReL's dataset (paper §6); collects the dataset if missing and "
        "resumes a killed run.",
        outputs="  results:     data/results/<profile>/baselines/<domain>/mbml_<domain>_<variant>[_<settings>][_validation]_seed<seed>.csv"
                " and .config.json\n"
                "  checkpoint:  data/checkpoints/<profile>/mbml_<domain>_<variant>[_<settings>][_validation]_seed<seed>.pt\n"
                "  dataset:     the collection's, data/datasets/<profile>/ (see python -m borel_lib.collect --help)\n"
                "  (profile smoke: the same under build/smoke/)", domains=DOMAINS)
    parser.add_argument("--init-state", default=None, metavar="VARIANT",
                        help="initial-state variant of the collection to train on (Ant-Semi-circle: uniform, "
                             "exclude_semicircle, fixed; default: the domain's collection protocol's; the run's "
                             "files then carry it: mbml_<domain>_<variant>_seed<seed>)")
    parser.add_argument("--mbml", action="append", default=[], metavar="FIELD=VALUE",
                        help="an MBMLConfig setting, e.g. bcq_iterations=50000 (repeatable; a non-default one names "
                             "the run, _bcqit50000, apart from eval_every and checkpoint_every)")
    add_split_argument(parser)
    add_image_argument(parser)
    return cli.main(_run_cli, parser, argv)


if __name__ == "__main__":  # run the imported module's main, so its classes are borel_lib.baselines.mbml.*, not __main__.*
    from borel_lib.baselines.mbml import main as _main

    raise SystemExit(_main())
