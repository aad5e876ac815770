"""What the two online learners share (:mod:`borel_lib.online`): the configuration of budget, evaluation and
belief, the belief VAE and VariBAD's ELBO, the buffer of whole trials.

**The belief** is :class:`borel_lib.vae.BeliefVAE` (GRU encoder over (a, s', r) with the episode-end flag in
s', never reset inside a trial, prior = the heads at the zero hidden state), sized as the official VariBAD
code sizes it (``paper`` profile): Gridworld embeddings a/s/r 0/8/8, GRU 64, latent 5, reward decoder z →
[32, 32] → 25 Bernoulli cells; Semi-circle 16/32/16, GRU 128, latent 5, decoder [z, e(s')] → [64, 32] → 1
with squared error (VariBAD's point-robot values). Its loss is **VariBAD's ELBO** (:func:`varibad_elbo`),
not :meth:`BeliefVAE.loss` (BOReL's), which differs in two places: the squared-error reconstruction is summed
over the decoded transitions j (BOReL: averaged over j), and the KL weight is VariBAD's per domain (Gridworld
0.01, Semi-circle 1.0) with the KL *summed over the trajectories of a batch* while the reconstruction is
averaged (``kl_batch_sum``, the official code's aggregation: the effective per-trajectory KL weight is
``kl_weight`` × ``vae_batch_trials``, 0.25 on Gridworld). Every posterior q_t (t = 0..T, q_0 the prior)
gives one reparameterised sample that decodes every transition of the trial (past and future); the KL is
Σ_t KL(q_t ‖ q_{t−1}) with q_{−1} = N(0, I). One Adam (learning rate 1e-3) over encoder and decoders.

**The VAE buffer** (:class:`TrialBuffer`) holds whole trials only (VariBAD: 100,000 on Gridworld, 10,000
elsewhere); each VAE step draws ``vae_batch_trials`` of them uniformly without replacement (VariBAD 25 and
15). The newest trials are sampleable at once (the official buffer made them so only after the next insert).

**Acting.** Every iteration runs ``n_envs`` new tasks from the prior (one trial each, or several for PPO) in
one :class:`~borel_lib.envs.batched.BatchedTrial`; the belief starts at the prior at every trial's first step
and is never reset between its episodes (the official code fed the last transition of the previous trial
into the first belief of a new one when a trial ended mid-batch; here trials never end mid-batch). The
hyper-state is :func:`borel_lib.state_relabel.hyper_state`: [s with the episode-end flag, μ, log σ²] and, with
``time_input``, the trial's clock (not in VariBAD; the ``quick`` profile uses it, as quick offline BOReL does).

The training loop, checkpoints and result tables are in :mod:`borel_lib.online.loop`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch

from borel_lib.config import Config, check_choice, check_positive, resolve_profile
from borel_lib.envs import make_env
from borel_lib.state_relabel import hyper_state
from borel_lib.vae import BeliefVAE, VAEConfig, gaussian_kl, grid_cell_index

DOMAINS = ("gridworld", "semicircle")
"""Domains the online learners run on."""


@dataclasses.dataclass(frozen=True)
class OnlineConfig(Config):
    """Budget, evaluation and belief VAE of an online learner (defaults: VariBAD's Gridworld, ``paper``)."""

    env_steps: int = 20_000_000
    """Environment steps of the whole run, shared by both learners at a profile (VariBAD: Gridworld 2e7,
    its point robot 5e7)."""
    eval_every_steps: int = 500 * 960
    """Environment steps between evaluations (VariBAD: every 500 updates of 960 steps on Gridworld)."""
    n_envs: int = 16
    """Tasks stepped in parallel, a new task from the prior for every trial (VariBAD's 16 processes)."""
    n_eval_tasks: int = 20
    """Evaluation tasks of the continuous domains (Gridworld: all 21 goals)."""
    time_input: bool = False
    """Append the trial's clock ((t mod H)/H, episode/k) to the hyper-state (VariBAD: no)."""
    state_embed: int = 8
    """Encoder embedding of s' (Semi-circle 32)."""
    action_embed: int = 0
    """Encoder embedding of a (0 = not an input: Gridworld; Semi-circle 16)."""
    reward_embed: int = 8
    """Encoder embedding of r (Semi-circle 16)."""
    gru_hidden: int = 64
    """GRU hidden size (Semi-circle 128)."""
    latent_dim: int = 5
    """Belief latent dimension."""
    decoder_hidden: tuple[int, ...] = (32, 32)
    """Hidden layers of the reward decoder (Semi-circle 64, 32)."""
    vae_lr: float = 1e-3
    """Adam learning rate of the VAE."""
    kl_weight: float = 0.01
    """Weight of the KL terms (Semi-circle 1.0)."""
    kl_batch_sum: bool = True
    """Sum the KL over a batch's trajectories (the official aggregation) instead of averaging it."""
    decode_subset: int | None = None
    """None: decode every (t, j) pair (VariBAD on Gridworld and the point robot); K: K random pairs per trial,
    rescaled to an unbiased estimate."""
    vae_batch_trials: int = 25
    """Trials per VAE step (Semi-circle 15)."""
    vae_buffer_trials: int = 100_000
    """Capacity of the buffer of whole trials (Semi-circle 10,000)."""
    vae_updates: int = 3
    """VAE steps per iteration."""
    precollect_steps: int = 5000
    """Environment steps before the first update (VariBAD 5000)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    DOMAIN: ClassVar[dict[str, dict[str, Any]]] = {}
    PROFILE_DOMAIN: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}

    def validate(self) -> None:
        super().validate()
        self.check_positive_fields("env_steps", "eval_every_steps", "n_envs", "n_eval_tasks", "state_embed",
                                   "reward_embed", "gru_hidden", "latent_dim", "vae_lr", "vae_batch_trials",
                                   "vae_buffer_trials")
        self.check_positive_fields("action_embed", "kl_weight", "vae_updates", "precollect_steps",
                                   allow_zero=True)
        if self.decode_subset is not None:
            check_positive(self.decode_subset, "decode_subset")

    @classmethod
    def for_domain(cls, domain: str, profile: str | None = None, **overrides: Any):
        """Defaults (paper, Gridworld) → the profile's ``PRESETS`` → the per-domain values of :data:`SHARED_DOMAIN`
        and the learner's ``DOMAIN`` (giving way to a field the preset sets) → the per-(profile, domain) values
        of :data:`SHARED_PROFILE_DOMAIN` and the learner's ``PROFILE_DOMAIN`` → ``overrides``."""
        check_choice(domain, "domain", DOMAINS)
        profile = resolve_profile(profile)
        dom = {**SHARED_DOMAIN.get(domain, {}), **cls.DOMAIN.get(domain, {})}
        prof_dom = {**SHARED_PROFILE_DOMAIN.get((profile, domain), {}), **cls.PROFILE_DOMAIN.get((profile, domain), {})}
        return cls.for_layers(profile, dom, prof_dom, overrides, domain_yields=lambda name, value: True)


SHARED_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"env_steps": 360, "eval_every_steps": 240, "n_envs": 2, "n_eval_tasks": 3, "time_input": True,
              "state_embed": 4, "reward_embed": 4, "gru_hidden": 8, "decoder_hidden": (8,), "vae_batch_trials": 2,
              "vae_buffer_trials": 50, "vae_updates": 1, "precollect_steps": 0, "decode_subset": 256},
    "quick": {"time_input": True, "vae_buffer_trials": 10_000},
}
"""The profiles' cuts of the shared fields (each learner adds its own). ``quick``: the budgets of
:data:`SHARED_PROFILE_DOMAIN`, a 10,000-trial buffer, the trial's clock in the hyper-state."""

SHARED_DOMAIN: dict[str, dict[str, Any]] = {
    "gridworld": {},
    "semicircle": {"env_steps": 50_000_000, "eval_every_steps": 76_800, "state_embed": 32, "action_embed": 16,
                   "reward_embed": 16, "gru_hidden": 128, "decoder_hidden": (64, 32), "kl_weight": 1.0,
                   "vae_batch_trials": 15, "vae_buffer_trials": 10_000},
}
"""VariBAD's per-domain values (Semi-circle: those of its sparse point robot, evaluated every 40 iterations of
1,920 steps, close to its 25 updates of 3,200)."""

SHARED_PROFILE_DOMAIN: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "gridworld"): {"env_steps": 3_000_000, "eval_every_steps": 96_000},
    ("quick", "semicircle"): {"env_steps": 2_000_000, "eval_every_steps": 96_000, "decode_subset": 2048},
}
"""Quick budgets per domain, the same for both learners: 15 % and 4 % of VariBAD's frames. Measured on this 2-core
machine under load, one thread: an iteration of 960 Gridworld steps took 0.25 s of CPU for PPO (3 VAE steps
0.16 s of it) and 0.3 s for the off-policy learner with 40 DQN steps (1.8 ms each; the quick default is 160),
3 VAE steps and relabelling 1/5 of the time; an iteration of 1,920 Semi-circle steps 0.4 s for PPO and 18 ms
per SAC step. The Semi-circle VAE decodes 2,048 random (t, j) pairs per trial instead of all 14,520."""


def merge_presets(own: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A learner's ``PRESETS``: :data:`SHARED_PRESETS` with its own fields added per profile."""
    names = set(SHARED_PRESETS) | set(own)
    return {p: {**SHARED_PRESETS.get(p, {}), **own.get(p, {})} for p in names}


# --------------------------------------------------------------------------------------- the belief
def vae_config(cfg: OnlineConfig, domain: str) -> VAEConfig:
    """The :class:`~borel_lib.vae.VAEConfig` of ``cfg``: Gridworld's Bernoulli cell decoder on z, else the
    squared-error decoder on [z, e(s')] (VariBAD's point robot)."""
    grid = domain == "gridworld"
    return VAEConfig(state_embed=cfg.state_embed, action_embed=cfg.action_embed, reward_embed=cfg.reward_embed,
                     gru_hidden=cfg.gru_hidden, latent_dim=cfg.latent_dim,
                     decoder="bernoulli_cells" if grid else "mse", decoder_inputs=("z",) if grid else ("z", "next_obs"),
                     decoder_hidden=cfg.decoder_hidden, kl_weight=cfg.kl_weight, lr=cfg.vae_lr,
                     decode_subset=cfg.decode_subset)


def grid_cells(pos: torch.Tensor) -> torch.Tensor:
    """Cell ids of 5x5 Gridworld positions (the Bernoulli decoder's heads)."""
    return grid_cell_index(pos, 5)


def build_vae(domain: str, cfg: OnlineConfig, device: torch.device) -> BeliefVAE:
    """The belief VAE of ``cfg`` for ``domain`` (observations carry the episode-end flag; Gridworld's
    actions are one-hot)."""
    env = make_env(domain)
    discrete = not env.action_space.shape
    act_dim = env.action_space.n if discrete else env.action_space.shape[0]
    return BeliefVAE(env.observation_space.shape[0] + 1, act_dim, vae_config(cfg, domain),
                     cell_index=grid_cells if domain == "gridworld" else None,
                     goal_reward=getattr(env, "goal_reward", 1.0), device=device)


def varibad_elbo(vae: BeliefVAE, batch: dict[str, torch.Tensor], kl_weight: float, kl_batch_sum: bool,
                 decode_subset: int | None = None, generator: torch.Generator | None = None):
    """VariBAD's negative ELBO on whole trials ``(B, T, ·)`` (module docstring): (loss, parts)."""
    obs, actions, rewards, next_obs = batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"]
    B, T = rewards.shape
    mu, logvar = vae.encoder(actions, rewards, next_obs)  # (B, T + 1, L), index 0 = prior
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator, device=mu.device)
    if decode_subset is None:
        tz = torch.arange(T + 1, device=mu.device).repeat_interleave(T)[None].expand(B, -1)
        tj = torch.arange(T, device=mu.device).repeat(T + 1)[None].expand(B, -1)
        scale = 1.0
    else:
        tz = torch.randint(T + 1, (B, decode_subset), generator=generator, device=mu.device)
        tj = torch.randint(T, (B, decode_subset), generator=generator, device=mu.device)
        scale = (T + 1) * T / decode_subset
    rows = torch.arange(B, device=mu.device)[:, None]
    zz = z[rows, tz]
    if vae.config.decoder == "bernoulli_cells":
        logit = vae.reward_decoder(zz).gather(-1, vae.cell_index(next_obs[rows, tj])[..., None])[..., 0]
        target = (rewards[rows, tj] == vae.goal_reward).float()
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logit, target, reduction="none")
    else:
        pred = vae.reward_decoder(zz, obs[rows, tj], actions[rows, tj], next_obs[rows, tj])
        recon = (pred - rewards[rows, tj]) ** 2
    recon = recon.sum(-1) * scale  # summed over every (t, j) pair: (B,)
    prev_mu = torch.cat([torch.zeros_like(mu[:, :1]), mu[:, :-1]], 1)
    prev_lv = torch.cat([torch.zeros_like(logvar[:, :1]), logvar[:, :-1]], 1)
    kl = gaussian_kl(mu, logvar, prev_mu, prev_lv).sum(-1)  # Σ_t KL(q_t ‖ q_{t-1}): (B,)
    total = recon.mean() + kl_weight * (kl.sum() if kl_batch_sum else kl.mean())
    return total, {"vae_recon": recon.mean().detach(), "vae_kl": kl.mean().detach()}


# ------------------------------------------------------------------------------------------- trials
class TrialBuffer:
    """A ring buffer of whole trials: every field an array ``(capacity, T, ·)`` (numpy, float32), grown on
    demand up to ``capacity``; when full, the oldest trials are overwritten."""

    def __init__(self, capacity: int):
        check_positive(capacity, "capacity")
        self.capacity = int(capacity)
        self.data: dict[str, np.ndarray] = {}
        self.size = 0
        self.ptr = 0

    def _reserve(self, fields: dict[str, np.ndarray], needed: int) -> None:
        alloc = len(next(iter(self.data.values()))) if self.data else 0
        if needed <= alloc:
            return
        new = min(self.capacity, max(needed, 2 * alloc, 64))
        grown = {k: np.zeros((new, *np.shape(v)[1:]), np.float32) for k, v in fields.items()}
        for k, v in self.data.items():
            grown[k][: self.size] = v[: self.size]
        self.data = grown

    def add(self, **fields: np.ndarray) -> None:
        """Add n trials (every field ``(n, T, ...)``, the same fields every time)."""
        n = len(next(iter(fields.values())))
        if self.data and set(fields) != set(self.data):
            raise ValueError(f"TrialBuffer.add: fields {sorted(fields)} differ from the buffer's {sorted(self.data)}")
        self._reserve(fields, min(self.capacity, self.size + n))
        idx = (self.ptr + np.arange(n)) % self.capacity
        for k, v in fields.items():
            self.data[k][idx] = v
        self.ptr = int((self.ptr + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``min(n, size)`` stored trials, uniform without replacement."""
        return rng.choice(self.size, size=min(n, self.size), replace=False)

    def view(self, name: str) -> np.ndarray:
        """The stored trials of field ``name`` ``(size, T, ...)`` (a view: writing to it changes the buffer)."""
        return self.data[name][: self.size]

    def state_dict(self) -> dict[str, Any]:
        return {"data": {k: v[: self.size].copy() for k, v in self.data.items()}, "size": self.size, "ptr": self.ptr,
                "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.ptr, self.data = 0, 0, {}
        if state["size"]:
            self._reserve(state["data"], state["size"])
            for k, v in state["data"].items():
                self.data[k][: state["size"]] = v
        self.size, self.ptr = int(state["size"]), int(state["ptr"])


def trial_hyper_states(obs: np.ndarray, next_obs: np.ndarray, feats: np.ndarray, time_input: bool, horizon: int,
                       episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Hyper-states of whole trials ``(M, T, ·)`` with beliefs ``feats`` ``(M, T + 1, F)`` (after every prefix),
    as :func:`borel_lib.state_relabel.relabel_states` builds them: s⁺_t = [s_t, b_t(, time_t)] and the BAMDP's
    next hyper-state s'⁺_t = [s_{t+1}, b_{t+1}(, time_{t+1})], where s_{t+1} is the next episode's start state
    after an episode's last step and the flagged final state after the trial's last step."""
    T = obs.shape[1]
    steps = np.arange(T + 1) if time_input else None
    nxt = np.concatenate([obs[:, 1:], next_obs[:, -1:]], 1)
    return (hyper_state(obs, feats[:, :-1], None if steps is None else steps[:-1], horizon, episodes),
            hyper_state(nxt, feats[:, 1:], None if steps is None else steps[1:], horizon, episodes))
