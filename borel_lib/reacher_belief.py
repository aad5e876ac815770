"""Reacher-Image: the learnt belief over the target angle against the exact one (issue 32; beyond the paper).

The paper's Reacher-Image agent must learn its belief from images (§6, domain 5). Its target lies at an angle
θ ~ U[0, π/2] on the radius-0.15 quarter circle, and the dense reward −‖tip(s') − g‖ − 0.1‖a‖² says after every
step how far the fingertip is from it. Two beliefs over θ are put on the same ``n_bins`` equal sectors of the
quarter circle after every step of a trial:

- **exact**: the posterior of :class:`~borel_lib.references.exact_belief.ExactBelief` over its 360 candidate
  angles, summed per sector (its ``trials`` features with ``n_bins`` bins: :func:`exact_angle_belief`).
- **learnt**: what the VAE's Gaussian belief over its latent task m says about θ, read through its reward
  decoder (:func:`implied_angle_belief`). Every latent m is a task: the decoder gives its reward at any state.
  Reacher-Image's reward is largest where the fingertip is on the target, so the target angle of a latent m is
  the sector whose centre, reached by the still arm (:func:`probe_states`: a = 0, s = s', velocities 0, its
  image rendered and encoded by the run's frozen encoder exactly as evaluation sees a state), gets the highest
  decoded reward. The learnt belief over θ is where the latents of the belief N(μ, σ²) put the target: the
  histogram of that sector over ``samples`` draws of m (the same standard-normal draws for every belief, so the
  result is a deterministic function of μ and σ).

Both are compared by their total variation (0 = identical, 1 = disjoint), and by the error of their mean angle.

The trials (:data:`ROLLOUTS`) are the same for every VAE: the goal-known arm controller of
:mod:`borel_lib.references.reacher_scripted` (which reads the true state, never the VAE) from the fixed start, on
the run's fresh test-split targets (:func:`borel_lib.tasks.eval_tasks`, the targets BOReL is scored on), driven by

- ``sweep``: in each of the k = 2 episodes the controller's target moves at constant speed from angle 0 to π/2
  along the quarter circle (:class:`QuarterCircleSweep`): the path is the same whatever the target, so the only
  thing that tells the target is the rewards, the information the exact posterior uses. This is the clean
  comparison.
- ``goal_known``: the controller is given the true target (the oracle's trials). The path itself then points at
  the target, a cue the exact posterior ignores but a VAE trained on goal-reaching logs may read from the images.

:func:`angle_belief_tables` makes the two tables ``scripts/reacher_belief.py`` writes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from borel_lib.config import ConfigError, check_choice
from borel_lib.envs.reacher_image import ReacherImageEnv
from borel_lib.vae import BeliefVAE, seen_columns

ANGLE_BINS = 45
"""Sectors of the quarter circle (2° each); must divide the exact belief's 360 candidates."""
LATENT_SAMPLES = 256
"""Draws of the latent task per belief (:func:`implied_angle_belief`)."""
ROLLOUTS = ("sweep", "goal_known")
"""The trials beliefs are compared on (module docstring)."""
PICTURED_TASKS = 3
"""Tasks whose whole beliefs (every sector, every step) go into the ``_bins`` table (the others: scalars only)."""


def angle_bin_centres(n_bins: int = ANGLE_BINS) -> np.ndarray:
    """Centres of ``n_bins`` equal sectors of [0, π/2] (radians)."""
    return (np.arange(n_bins) + 0.5) / n_bins * np.pi / 2


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1 or 360 % n_bins:
        raise ConfigError(f"n_bins={n_bins!r} must be a positive divisor of the exact belief's 360 candidates "
                          "(e.g. 36, 45, 60, 90)")


# ------------------------------------------------------------------------------------- the two beliefs
def exact_angle_belief(actions, rewards, next_obs, n_bins: int = ANGLE_BINS) -> np.ndarray:
    """The exact posterior over the target angle in ``n_bins`` sectors after every prefix of trials ``(M, T, ·)``:
    ``(M, T + 1, n_bins)`` (index 0: the uniform prior). ``next_obs`` are stored or observed states (the
    proprioceptive state first, the episode-end flag last)."""
    from borel_lib.references.exact_belief import ExactBelief

    _check_bins(n_bins)
    return ExactBelief("reacher_image", n_bins=n_bins).trials(actions, rewards, next_obs)


def probe_states(n_bins: int = ANGLE_BINS) -> np.ndarray:
    """The still arm with its fingertip at every sector centre of the quarter circle: stored states
    ``(n_bins, 7)`` (cos q1, cos q2, sin q1, sin q2, zero velocities, flag 0; the elbow-up pose the goal-known
    controller reaches from the fixed start)."""
    from borel_lib.references.reacher_scripted import target_angles

    _check_bins(n_bins)
    angles = angle_bin_centres(n_bins)
    q = target_angles(ReacherImageEnv.target_radius * np.stack([np.cos(angles), np.sin(angles)], -1))[0]
    return np.concatenate([np.cos(q), np.sin(q), np.zeros((n_bins, 3))], -1).astype(np.float32)  # q = (q1, q2)


@torch.no_grad()
def implied_angle_belief(vae: BeliefVAE, mu, logvar, probe_obs: np.ndarray, samples: int = LATENT_SAMPLES,
                         seed: int = 0, chunk: int = 2**16) -> np.ndarray:
    """The learnt belief over the sectors (module docstring) at beliefs N(``mu``, exp ``logvar``) ``(S, latent)``:
    ``(S, n_bins)``. ``probe_obs``: the observed still poses of :func:`probe_states` ``(n_bins, obs_dim)`` (passed
    through the run's observer). The ``samples`` standard-normal draws come from ``seed``, the same for every row."""
    device = vae.encoder.mu.weight.device
    pts = seen_columns(torch.as_tensor(np.asarray(probe_obs), dtype=torch.float32, device=device), vae.state_columns)
    mu = torch.as_tensor(np.asarray(mu), dtype=torch.float32, device=device)
    std = (0.5 * torch.as_tensor(np.asarray(logvar), dtype=torch.float32, device=device)).exp()
    eps = torch.randn(samples, mu.shape[-1], generator=torch.Generator().manual_seed(seed)).to(device)
    B = len(pts)
    act_dim = vae.encoder.action_emb.in_features if vae.encoder.action_emb is not None else 1
    out, step = [], max(1, chunk // (samples * B))
    for i in range(0, len(mu), step):
        z = mu[i : i + step, None] + std[i : i + step, None] * eps[None]  # (s, K, latent)
        s, K = z.shape[:2]
        zz = z[:, :, None].expand(-1, -1, B, -1)
        p = pts[None, None].expand(s, K, -1, -1)
        reward = vae.reward_decoder(zz, p, torch.zeros(s, K, B, act_dim, device=device), p)  # (s, K, B)
        best = torch.nn.functional.one_hot(reward.argmax(-1), B).float()
        out.append(best.mean(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, B), np.float32)


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """½ Σ |p − q| over the last axis."""
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(-1)


def mean_angle_error(belief: np.ndarray, target_angle: np.ndarray) -> np.ndarray:
    """|E[θ] − θ*| in degrees for beliefs ``(..., n_bins)`` and true angles ``(...,)`` (radians)."""
    centres = angle_bin_centres(belief.shape[-1])
    return np.degrees(np.abs(belief @ centres - target_angle))


# ------------------------------------------------------------------------------------------ the trials
@dataclasses.dataclass(frozen=True)
class QuarterCircleSweep:
    """The ``sweep`` trials' script as a belief for :func:`~borel_lib.evaluation.evaluate`: ``features`` = the
    controller's target, at angle π/2 · (step + 1) / H on the quarter circle in every episode (step counted
    within it). The same for every task; no observation changes it."""

    horizon: int = ReacherImageEnv.horizon
    radius: float = ReacherImageEnv.target_radius
    dim: int = 2

    def reset(self, n: int) -> np.ndarray:
        return np.zeros(n, np.int64)

    def step(self, state, actions, rewards, next_obs) -> np.ndarray:
        return state + 1

    def features(self, state) -> np.ndarray:
        angle = (np.asarray(state) % self.horizon + 1) / self.horizon * np.pi / 2
        return (self.radius * np.stack([np.cos(angle), np.sin(angle)], -1)).astype(np.float32)


def rollout(kind: str, tasks: np.ndarray, observe, seed: int = 0) -> dict[str, np.ndarray]:
    """One trial per task of the goal-known controller driven by ``kind`` (:data:`ROLLOUTS`), through
    :func:`~borel_lib.evaluation.evaluate` with ``observe`` (the run's image observer): its record (``actions``,
    ``rewards``, ``next_obs`` observed, ``(n, T, ·)``)."""
    from borel_lib.evaluation import evaluate
    from borel_lib.references.ant_scripted import KnownGoal
    from borel_lib.references.reacher_scripted import IKReacher

    check_choice(kind, "rollout", ROLLOUTS)
    script = QuarterCircleSweep() if kind == "sweep" else KnownGoal(tasks)
    record: dict[str, Any] = {}
    evaluate(script, IKReacher(), "reacher_image", tasks, seed=seed, record=record, observe=observe)
    return record


# -------------------------------------------------------------------------------------- a run's VAE
def load_vae(spec, dataset, device: str | torch.device = "cpu") -> BeliefVAE:
    """The finished belief VAE of run ``spec`` (:class:`borel_lib.pipeline.RunSpec`), read from its checkpoint
    without writing anything; ``dataset`` is the observed data it was trained on
    (:func:`borel_lib.image_features.observed_data`). Refuses a VAE still training or trained on other data."""
    from borel_lib.image_features import learnt_columns

    ck = spec.vae_checkpoint()
    if not ck.is_file():
        raise FileNotFoundError(f"{ck}: no trained VAE; run `{spec.command}` first")
    state = torch.load(ck, map_location=device, weights_only=False)
    config = spec.vae_config()
    if state["epoch"] < config.epochs:
        raise ValueError(f"{ck}: the VAE is at epoch {state['epoch']} of {config.epochs} (still training?); "
                         f"finish it with `{spec.command}`")
    if state.get("dataset", dataset.fingerprint) != dataset.fingerprint:
        raise ValueError(f"{ck}: the VAE was trained on other data than {dataset.path} (collected again since?)")
    vae = BeliefVAE(dataset.obs.shape[-1], dataset.actions.shape[-1], config, device=device,
                    state_columns=learnt_columns(dataset.manifest))
    vae.load_state_dict(state["model"])
    return vae.eval()


# ------------------------------------------------------------------------------------------ the tables
def angle_belief_tables(spec, n_tasks: int = 20, n_bins: int = ANGLE_BINS, pictured: int = PICTURED_TASKS,
                        samples: int = LATENT_SAMPLES, device: str | torch.device = "cpu",
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For the VAE of finished run ``spec``, on its first ``n_tasks`` test targets and every :data:`ROLLOUTS`
    trial: (1) per task and step ``t`` (transitions seen, 0 = the prior; ``episode`` 1 up to t = H) the metrics
    ``tv`` (learnt vs exact), ``angle_error`` and ``angle_error_exact`` (degrees, of the mean angle) and
    ``p_target`` (the learnt belief's mass in the true target's sector); (2) for the first ``pictured`` tasks
    both beliefs in every sector (``p_vae``, ``p_exact``; columns ``bin``, ``angle`` its centre in degrees). Both tidy, with columns ``vae`` (the VAE's tag), ``task``,
    ``t`` and ``target`` (the true angle, degrees)."""
    from borel_lib.image_features import observed_data
    from borel_lib.pipeline import collection
    from borel_lib.tasks import eval_tasks

    if spec.domain != "reacher_image" or spec.belief != "vae":
        raise ConfigError(f"angle_belief_tables: a Reacher-Image run with a VAE belief, not {spec.tag!r}")
    _check_bins(n_bins)
    dataset, observe = observed_data(collection(spec, progress=False), spec.profile, spec.seed, device, False,
                                     spec.image)
    vae = load_vae(spec, dataset, device)
    probe_obs = observe(probe_states(n_bins))
    tasks = eval_tasks("reacher_image", spec.seed, n_tasks, "test")
    target = np.arctan2(tasks[:, 1], tasks[:, 0])
    true_bin = np.minimum((target / (np.pi / 2) * n_bins).astype(int), n_bins - 1)
    H = ReacherImageEnv.horizon
    scalars, bins = [], []
    for kind in ROLLOUTS:
        rec = rollout(kind, tasks, observe, seed=spec.seed)
        mu, logvar = vae.encode_trials(rec["actions"], rec["rewards"], rec["next_obs"])
        n, T1, L = mu.shape
        learnt = implied_angle_belief(vae, mu.reshape(-1, L), logvar.reshape(-1, L), probe_obs, samples,
                                      seed=spec.seed).reshape(n, T1, n_bins)
        exact = exact_angle_belief(rec["actions"], rec["rewards"], rec["next_obs"], n_bins)
        t = np.tile(np.arange(T1), n)
        base = {"domain": spec.domain, "method": spec.method, "variant": kind, "seed": spec.seed,
                "episode": np.maximum(t - 1, 0) // H + 1, "vae": spec.vae_tag, "task": np.repeat(np.arange(n), T1),
                "t": t, "target": np.repeat(np.degrees(target), T1)}
        for metric, value in (("tv", total_variation(learnt, exact)),
                              ("angle_error", mean_angle_error(learnt, target[:, None])),
                              ("angle_error_exact", mean_angle_error(exact, target[:, None])),
                              ("p_target", learnt[np.arange(n), :, true_bin])):
            scalars.append(pd.DataFrame({**base, "metric": metric, "value": value.reshape(-1)}))
        m = min(pictured, n)
        for metric, value in (("p_vae", learnt), ("p_exact", exact)):
            cell = {k: np.repeat(v[: m * T1], n_bins) if isinstance(v, np.ndarray) else v for k, v in base.items()}
            bins.append(pd.DataFrame({**cell, "metric": metric, "value": value[:m].reshape(-1),
                                      "bin": np.tile(np.arange(n_bins), m * T1),
                                      "angle": np.tile(np.degrees(angle_bin_centres(n_bins)), m * T1)}))
    return pd.concat(scalars, ignore_index=True), pd.concat(bins, ignore_index=True)


TABLES = ("belief_reacher_image_angle_traj", "belief_reacher_image_angle_bins_traj")
"""The two result tables of :func:`write_angle_belief_tables` (scalars per step; both beliefs per sector)."""


def write_angle_belief_tables(specs, profile: str, command: str, n_tasks: int = 20,
                              device: str | torch.device = "cpu") -> list[Path]:
    """:func:`angle_belief_tables` for every VAE of ``specs`` (runs sharing a VAE count once), written as the two
    :data:`TABLES` of ``profile`` with one config (every VAE's config, the bins, the draws, the trials) and
    ``command``; returns their paths. A one-line error if ``specs`` holds no Reacher-Image VAE."""
    from borel_lib.results import write_results

    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise ConfigError(f"n_tasks={n_tasks!r} must be a positive integer")
    chosen = {s.vae_tag: s for s in specs if s.domain == "reacher_image" and s.belief == "vae"}
    if not chosen:
        raise ConfigError(f"no Reacher-Image run with a VAE belief in {profile}: run "
                          f"`python -m borel_lib.pipeline reacher_image --profile {profile}` first")
    frames = [angle_belief_tables(spec, n_tasks=n_tasks, device=device) for spec in chosen.values()]
    config = {"vae": {tag: spec.vae_config().to_dict() for tag, spec in chosen.items()}, "n_tasks": n_tasks,
              "eval_split": "test", "angle_bins": ANGLE_BINS, "latent_samples": LATENT_SAMPLES,
              "pictured_tasks": PICTURED_TASKS, "rollouts": list(ROLLOUTS), "controller": "IKReacher(kp=1, kd=0.1)"}
    return [write_results(pd.concat([f[i] for f in frames], ignore_index=True), name, config=config,
                          profile=profile, command=command) for i, name in enumerate(TABLES)]
