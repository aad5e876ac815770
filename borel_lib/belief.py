"""BOReL stage 1, the belief (paper §2 "The VariBAD Algorithm", §3.2, §4).

:func:`train_vae` fits the belief VAE (:mod:`borel_lib.vae`) on whole trials, each minibatch passed
through :func:`borel_lib.relabel.sample_trials` (``reward_relabelling``, ``policy_replay`` with the
collection's policy-replay dataset, or ``none``), and checkpoints every epoch so a killed run resumes.

A *belief* is what the later stages consume: an object with ``dim``, ``trials(actions, rewards,
next_obs) -> (M, T + 1, dim)`` (features after every prefix of logged trials, for state relabelling)
and ``reset(n)`` / ``step(state, actions, rewards, next_obs)`` / ``features(state) -> (n, dim)`` (the
same features online, for evaluation). :class:`VAEBelief` is BOReL's learnt belief;
:class:`borel_lib.references.exact_belief.ExactBelief` is the exact posterior (the oracle). :func:`make_belief`
builds either.

VAE features: ``latent`` is the authors' [μ, log σ²] of the 5-d posterior (10 numbers); ``decoded``
is what the reward decoder reads off μ, the same kind of vector as the exact belief's: on Gridworld the
goal-cell distribution of the Bernoulli decoder (25 numbers), on the Semi-circle the MSE decoder's
predicted reward at the centres of ``ARC_SECTORS`` equal arc sectors (20 numbers; the exact belief's
features are the posterior mass of the same sectors); on the Ant the same, with the robot's standing pose moved
to each centre as the decoded next state (:func:`decode_template`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.config import check_choice
from borel_lib.datasets import OfflineDataset
from borel_lib.envs import make_env
from borel_lib.image_features import learnt_columns
from borel_lib.io import atomic_path
from borel_lib.relabel import RELABEL_MODES, replay_arrays, sample_trials
from borel_lib.vae import BeliefVAE, VAEConfig, goal_cell_probs, grid_cell_index, reward_map

BELIEFS = ("vae", "exact")
"""Belief kinds of the pipeline: the learnt VAE (BOReL) or the exact posterior (the oracle)."""

VAE_FEATURES = ("latent", "decoded")
"""What a policy sees of the VAE belief (module docstring)."""
FEATURES = VAE_FEATURES + ("mean",)
"""Every ``features`` value of a run: :data:`VAE_FEATURES`, and ``mean``, the exact belief's smooth read-out on the
arc domains (:mod:`borel_lib.references.exact_belief`; the exact belief's default features are its sector masses)."""

ARC_SECTORS = 20
"""Semi-circle ``decoded`` features: the predicted reward at the centres of this many equal arc sectors."""


def decode_template(domain: str | None) -> np.ndarray | None:
    """The next state the MSE decoder is read at, before its x, y are set to a candidate goal
    (:func:`borel_lib.vae.reward_map`): ``domain``'s fixed-start observation (flag 0), on the Ant its standing
    pose at rest, on the point robots [0, 0, 0]; ``None`` (no domain) keeps the point robot's."""
    if domain is None:
        return None
    obs, _ = make_env(domain, init_state="fixed").reset(seed=0)
    return np.append(np.asarray(obs, np.float64).reshape(-1), 0.0)  # the episode-end flag, as the trial env adds it


def arc_sector_centres(n: int = ARC_SECTORS) -> np.ndarray:
    """``(n, 2)`` centres of ``n`` equal sectors of the unit upper semi-circle (angle (k + ½)π/n)."""
    angles = (np.arange(n) + 0.5) / n * np.pi
    return np.stack([np.cos(angles), np.sin(angles)], -1).astype(np.float32)


def _trial_batch_tensors(batch, device) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(getattr(batch, k), device=device) for k in ("obs", "actions", "rewards", "next_obs")}


def train_vae(dataset: OfflineDataset, config: VAEConfig, relabelling: str = "reward_relabelling", seed: int = 0,
              checkpoint: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu",
              progress: bool = True, n_actions: int | None = None,
              replay: OfflineDataset | None = None) -> tuple[BeliefVAE, pd.DataFrame]:
    """Fit the belief VAE on ``dataset``; resumes from ``checkpoint`` (saved after every epoch), which
    must come from the same configuration, relabelling, seed and data (only ``epochs`` may grow; a
    checkpoint saved before datasets were fingerprinted is taken as made on ``dataset``).

    Returns the VAE and a table of per-epoch losses. ``n_actions`` one-hot encodes integer actions
    (Gridworld). ``relabelling='policy_replay'`` needs ``replay``, the policy-replay dataset of the same
    collection (:func:`borel_lib.policy_replay.run_policy_replay`): the first k/2 episodes of every training
    trial come from its trials of the same task (:func:`borel_lib.relabel.sample_trials`)."""
    check_choice(relabelling, "relabelling", RELABEL_MODES)
    replay_arr = _replay_for(relabelling, dataset, replay, n_actions)
    env = make_env(dataset.manifest["domain"])
    N, M = dataset.n_tasks, dataset.n_trials
    k, H = dataset.manifest["episodes_per_trial"], dataset.manifest["horizon"]
    obs_dim = dataset.obs.shape[-1]
    act_dim = n_actions or dataset.actions.shape[-1]
    torch.manual_seed(seed)
    cell_index = None
    if config.decoder == "bernoulli_cells":
        size = int(round(math.sqrt(config.n_cells)))

        def cell_index(s: torch.Tensor) -> torch.Tensor:
            return grid_cell_index(s, size)

    vae = BeliefVAE(obs_dim, act_dim, config, cell_index=cell_index, goal_reward=getattr(env, "goal_reward", 1.0),
                    device=device, state_columns=learnt_columns(dataset.manifest))  # Reacher-Image: no joint angles
    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=torch.device(device)).manual_seed(seed)
    start_epoch, log = 0, []
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        saved, wanted = type(config).upgrade(state.get("config", {})), config.to_dict()
        diff = sorted(key for key in set(saved) | set(wanted) if key != "epochs" and saved.get(key) != wanted.get(key))
        if state.get("dataset", dataset.fingerprint) != dataset.fingerprint:
            raise ValueError(f"{checkpoint}: the VAE checkpoint was trained on other data than {dataset.path} "
                             "(the dataset was collected again since); delete the checkpoint to train on this data")
        if diff or state.get("relabelling", relabelling) != relabelling or state.get("seed", seed) != seed:
            detail = ", ".join(f"{key}: checkpoint {saved.get(key)!r} vs now {wanted.get(key)!r}" for key in diff)
            raise ValueError(f"{checkpoint}: the VAE checkpoint was trained with a different configuration "
                             f"({detail or 'relabelling or seed differ'}); only 'epochs' may change on resume. "
                             "Delete the checkpoint or use another checkpoint path.")
        vae.load_state_dict(state["model"])
        vae.optim.load_state_dict(state["optim"])
        rng.bit_generator.state = state["rng"]
        gen.set_state(state["gen"].cpu())  # a generator state is a CPU byte tensor, wherever the checkpoint was mapped
        start_epoch, log = state["epoch"], state["log"]
    arrays = dict(dataset.arrays)
    if n_actions:
        arrays["actions"] = dataset.one_hot_actions(n_actions)
    per_epoch = math.ceil(M / config.trials_per_task) * math.ceil(N / config.tasks_per_batch)
    bar = tqdm(range(start_epoch, config.epochs), desc="VAE", disable=not progress, initial=start_epoch,
               total=config.epochs)
    for epoch in bar:
        losses = []
        for _ in range(per_epoch):
            tasks = rng.choice(N, size=min(config.tasks_per_batch, N), replace=False)
            ti = np.repeat(tasks, config.trials_per_task)
            mi = rng.integers(0, M, size=ti.size)
            batch = sample_trials(arrays, ti, mi, tasks=dataset.tasks, episodes=k, horizon=H, mode=relabelling,
                                  reward_fn=env.reward, rng=rng, varies=env.varies, replay=replay_arr)
            losses.append(vae.train_step(_trial_batch_tensors(batch, device), generator=gen))
        row = {"epoch": epoch + 1, **{key: float(np.mean([x[key] for x in losses])) for key in losses[0]}}
        log.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}")
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": vae.state_dict(), "optim": vae.optim.state_dict(), "rng": rng.bit_generator.state,
                            "gen": gen.get_state(), "epoch": epoch + 1, "log": log, "config": config.to_dict(),
                            "relabelling": relabelling, "seed": seed, "dataset": dataset.fingerprint}, tmp)
    return vae, pd.DataFrame(log)


def _replay_for(relabelling: str, dataset: OfflineDataset, replay: OfflineDataset | None,
                n_actions: int | None = None) -> dict[str, np.ndarray] | None:
    """The ``replay=`` arrays of :func:`borel_lib.relabel.sample_trials` for ``relabelling`` (checked
    against ``dataset``); ``None`` unless ``policy_replay``, which needs ``replay``."""
    if relabelling != "policy_replay":
        if replay is not None:
            raise ValueError(f"a policy-replay dataset is used by relabelling='policy_replay' only, not {relabelling!r}")
        return None
    if replay is None:
        raise ValueError("relabelling='policy_replay' needs replay=<the policy-replay dataset of this collection> "
                         "(python -m borel_lib.collect <domain> --profile <profile> --policy-replay)")
    return replay_arrays(dataset, replay, n_actions)


@torch.no_grad()
def belief_identification(vae: BeliefVAE, dataset: OfflineDataset, times: tuple[int, ...], last_trials: int = 20,
                          n_actions: int | None = None) -> dict[int, float]:
    """How well the belief identifies the task on the logged data: a VAE diagnostic.

    For the last ``last_trials`` trials of every task (the collection agents' late, goal-reaching
    trials) the frozen encoder runs over the trial and the belief mean after ``t`` transitions is
    decoded, for each ``t`` in ``times``. Gridworld (Bernoulli cell decoder): the fraction of trials
    whose most likely goal cell is the true goal (1 = perfect, 1/21 = chance). Continuous goal domains
    (MSE decoder, goal on the unit semicircle): the mean absolute angle error, in radians, of the arc
    point with the highest predicted reward (0 = perfect, about 1.05 = a uniform guess)."""
    N, M, _ = dataset.rewards.shape
    m = np.arange(max(0, M - last_trials), M)
    ts = list(times)
    L = vae.config.latent_dim
    actions = dataset.one_hot_actions(n_actions) if n_actions else dataset.actions
    goals = torch.as_tensor(np.asarray(dataset.tasks, dtype=np.float32))
    angles = np.linspace(0.0, np.pi, 181)
    arc = np.stack([np.cos(angles), np.sin(angles)], -1)
    scores = np.empty((N, len(ts)))
    for i in range(N):  # one task's trials at a time keeps memory flat; all times are decoded in one call
        mu, _ = vae.encode_trials(np.asarray(actions[i])[m], np.asarray(dataset.rewards[i])[m],
                                  np.asarray(dataset.next_obs[i])[m])
        beliefs = mu[:, ts].reshape(-1, L)  # (trials * times, L)
        if vae.config.decoder == "bernoulli_cells":
            size = int(round(math.sqrt(vae.config.n_cells)))
            hit = goal_cell_probs(vae, beliefs).argmax(-1) == grid_cell_index(goals[i], size).item()
            scores[i] = hit.reshape(len(m), len(ts)).mean(0)
        else:
            best = angles[reward_map(vae, beliefs, arc).argmax(-1)].reshape(len(m), len(ts))
            scores[i] = np.abs(best - math.atan2(goals[i, 1], goals[i, 0])).mean(0)
    return {t: float(v) for t, v in zip(ts, scores.mean(0))}


class VAEBelief:
    """The learnt belief of a trained :class:`~borel_lib.vae.BeliefVAE` (module docstring).

    ``n_actions`` one-hot encodes integer actions (Gridworld) as the encoder was trained on them."""

    def __init__(self, vae: BeliefVAE, n_actions: int | None = None, features: str = "latent",
                 domain: str | None = None):
        check_choice(features, "belief features", VAE_FEATURES)
        self.vae, self.n_actions, self.kind = vae, n_actions, features
        # the state the decoded MSE features are read at (the Ant's standing pose; see decode_template)
        self.template = decode_template(domain) if features == "decoded" and vae.config.decoder == "mse" else None
        self.device = vae.encoder.mu.weight.device
        L = vae.config.latent_dim
        self.points = arc_sector_centres() if vae.config.decoder == "mse" else None  # decoded MSE features
        if features == "latent":
            self.dim = 2 * L
        else:
            self.dim = vae.config.n_cells if self.points is None else len(self.points)

    def _actions(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions)
        if not self.n_actions:
            return a.astype(np.float32)
        idx = a[..., 0] if (a.ndim and a.shape[-1] == 1) else a
        return np.eye(self.n_actions, dtype=np.float32)[idx.astype(np.int64)]

    def _features(self, mu: torch.Tensor, logvar: torch.Tensor) -> np.ndarray:
        if self.kind == "decoded":
            shape, flat = mu.shape[:-1], mu.reshape(-1, mu.shape[-1])
            if self.points is None:
                return goal_cell_probs(self.vae, flat).reshape(*shape, -1)
            return reward_map(self.vae, flat, self.points, template=self.template).reshape(*shape, -1)
        return torch.cat([mu, logvar], -1).cpu().numpy()

    def trials(self, actions, rewards, next_obs) -> np.ndarray:
        mu, lv = self.vae.encode_trials(self._actions(actions), np.asarray(rewards), np.asarray(next_obs))
        return self._features(mu, lv)

    @torch.no_grad()
    def reset(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.vae.encoder.prior(n, self.device)

    @torch.no_grad()
    def step(self, state, actions, rewards, next_obs):
        def t(x):
            return torch.as_tensor(np.asarray(x, np.float32), device=self.device)

        n = len(rewards)
        return self.vae.encoder.step(state[2], t(self._actions(np.asarray(actions).reshape(n, -1))),
                                     t(rewards), t(next_obs))

    def features(self, state) -> np.ndarray:
        return self._features(state[0], state[1])

    def mean(self, state) -> np.ndarray:
        """The posterior mean μ ``(n, latent)`` (for pictures of the belief)."""
        return state[0].cpu().numpy()


def make_belief(kind: str, vae: BeliefVAE | None = None, domain: str | None = None, n_actions: int | None = None,
                features: str = "latent"):
    """A belief for the later stages: ``vae`` (needs ``vae``) or ``exact`` (needs ``domain``; ``features="mean"``
    gives its smooth read-out, any other value its default features)."""
    from borel_lib.references.exact_belief import ExactBelief

    check_choice(kind, "belief", BELIEFS)
    if kind == "exact":
        return ExactBelief(domain, readout="mean" if features == "mean" else "sectors")
    if vae is None:
        raise ValueError("belief='vae' needs a trained VAE")
    return VAEBelief(vae, n_actions, features, domain)


# ------------------------------------------------------------------ the learnt belief vs the exact one
@torch.no_grad()
def implied_goal_distribution(vae: BeliefVAE, mu: np.ndarray | torch.Tensor, exact) -> np.ndarray:
    """The distribution over the exact belief's candidate goals that the VAE's reward decoder implies
    at belief means ``mu`` ``(S, latent)``: ``(S, C)``. Gridworld: the Bernoulli decoder's probability that
    the goal is at each candidate cell, renormalised. Semi-circle: the MSE decoder's predicted reward at
    each candidate point of the arc (clipped at 0), renormalised; it estimates the posterior mass within
    the goal radius of the point, so compare it with :func:`exact_goal_window`, not with the raw posterior."""
    if vae.config.decoder == "bernoulli_cells":
        size = int(round(math.sqrt(vae.config.n_cells)))
        cells = grid_cell_index(torch.as_tensor(exact.candidates), size).numpy()
        p = goal_cell_probs(vae, mu)[:, cells]
    else:
        p = np.clip(reward_map(vae, mu, exact.candidates, template=decode_template(exact.domain)), 0.0, None)
    total = p.sum(-1, keepdims=True)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[-1])


def exact_goal_window(exact, posterior: np.ndarray) -> np.ndarray:
    """The exact posterior in the form :func:`implied_goal_distribution` gives: itself on Gridworld; on
    the arc, the mass within the goal radius of each candidate point, renormalised."""
    if exact.domain == "gridworld":
        return posterior
    radius = exact.env.goal_radius
    d = np.linalg.norm(exact.candidates[:, None] - exact.candidates[None], axis=-1)
    window = posterior @ (d <= radius).astype(np.float32)
    return window / window.sum(-1, keepdims=True)


def belief_tv(belief: VAEBelief, exact, actions, rewards, next_obs) -> np.ndarray:
    """Total variation ``(M, T + 1)`` between the VAE-implied and the exact goal distribution after every
    prefix of trials ``(M, T, ·)`` (0 = identical, 1 = disjoint)."""
    mu, _ = belief.vae.encode_trials(belief._actions(actions), np.asarray(rewards), np.asarray(next_obs))
    M, T1, L = mu.shape
    p = implied_goal_distribution(belief.vae, mu.reshape(-1, L), exact)
    q = exact_goal_window(exact, exact.posterior_trials(actions, rewards, next_obs).reshape(M * T1, -1))
    return 0.5 * np.abs(p - q).sum(-1).reshape(M, T1)
