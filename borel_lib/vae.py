"""The VariBAD belief VAE used by BOReL (paper §2 "The VariBAD Algorithm", §3.2 state relabelling).

Encoder q(m | h_{:t}): one-layer ReLU embeddings of the action, the *next* state (with the episode-end
flag) and the reward, concatenated, fed to a single-layer GRU that runs over the whole k-episode trial
(never reset inside it), and linear heads giving the mean and log-variance of a Gaussian latent
(5-d). The prior q_0 is the heads applied to the zero hidden state, learnt through the biases; it does
not depend on the data. GRU weights are orthogonal with zero biases. (Authors' settings:
``docs/differences.md``.)

Decoders: an MSE reward head for continuous domains (inputs chosen among z, s', a, s, with its own
embeddings), the multi-head Bernoulli over grid cells for Gridworld (z → one logit per cell, target
1[r = goal reward] at the cell of s'), and an optional next-state decoder for the transition-varying
domains (Wind, Escape-Room).

ELBO (per trajectory of length T): a reparameterised z_t ~ q_t for every t = 0..T, and *every* z_t
decodes *every* transition j = 1..T (past and future). MSE heads: mean over j, sum over t; Bernoulli:
sum over j and t. KL: Σ_t KL(q_t ‖ q_{t-1}) with q_{-1} = N(0, I), weight 0.05. The loss is the
reconstruction plus 0.05·KL, averaged over trajectories. With ``decode_subset=K`` only K random (t, j)
pairs per trajectory are decoded, rescaled so the estimate is unbiased (a speed option; the paper
decodes everything).

Tensors are batch-first: ``(B, T, dim)``; posteriors ``(B, T + 1, latent)`` with the prior at index 0.

``state_columns`` (Reacher-Image, :func:`borel_lib.image_features.learnt_columns`): the VAE is given whole
states (its Bernoulli targets are functions of the true state), but its state embeddings of s and s' and its
state decoder see only these columns of them; ``None`` (every other domain): all columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from borel_lib.config import Config, ConfigError, check_choice, check_positive


@dataclasses.dataclass(frozen=True)
class VAEConfig(Config):
    """The belief VAE (defaults: the authors' Semi-circle values)."""

    state_embed: int = 32
    """Embedding size of the (next) state in the encoder."""
    action_embed: int = 16
    """Embedding size of the action (0 = the action is not an input; Gridworld)."""
    reward_embed: int = 16
    """Embedding size of the reward (Gridworld 8)."""
    gru_hidden: int = 128
    """GRU hidden size (Gridworld 64)."""
    latent_dim: int = 5
    """Dimension of the Gaussian belief latent m."""
    decoder: str = "mse"
    """Reward decoder: ``mse`` (continuous domains) or ``bernoulli_cells`` (Gridworld)."""
    decoder_inputs: tuple[str, ...] = ("z", "next_obs")
    """MSE decoder inputs among z, next_obs, action, obs (Semi-circle: z, s'; MuJoCo: all four)."""
    decoder_hidden: tuple[int, ...] = (32, 32)
    """Hidden layers of the reward decoder."""
    n_cells: int = 25
    """Bernoulli decoder: number of grid cells (5x5)."""
    state_decoder: bool = False
    """Also decode the next state from (z, s, a): for transition-varying domains (Wind, Escape-Room)."""
    kl_weight: float = 0.05
    """Weight of the KL terms."""
    lr: float = 3e-4
    """Adam learning rate."""
    epochs: int = 100
    """Training epochs over the dataset."""
    tasks_per_batch: int = 8
    """Tasks per minibatch."""
    trials_per_task: int = 8
    """Trials per task per minibatch."""
    decode_subset: int | None = None
    """None: decode all (t, j) pairs (paper); K: an unbiased estimate from K random pairs per trial."""

    PRESETS = {"smoke": {"epochs": 1, "gru_hidden": 16, "state_embed": 8, "action_embed": 4, "reward_embed": 4,
                         "decoder_hidden": (8,), "tasks_per_batch": 2, "trials_per_task": 2},
               "quick": {"epochs": 10, "decode_subset": 1024}}

    def validate(self) -> None:
        check_choice(self.decoder, "decoder", ("mse", "bernoulli_cells"))
        self.check_positive_fields("state_embed", "reward_embed", "gru_hidden", "latent_dim", "lr", "epochs",
                                   "tasks_per_batch", "trials_per_task", "n_cells")
        check_positive(self.action_embed, "action_embed", allow_zero=True)
        check_positive(self.kl_weight, "kl_weight", allow_zero=True)
        bad = [i for i in self.decoder_inputs if i not in ("z", "next_obs", "action", "obs")]
        if bad or "z" not in self.decoder_inputs:
            raise ConfigError(f"decoder_inputs={self.decoder_inputs!r}: must contain 'z' and only z, next_obs, action, obs")
        if self.decode_subset is not None:
            check_positive(self.decode_subset, "decode_subset")

    @classmethod
    def for_domain(cls, domain: str, profile: str | None = None, **overrides: Any) -> VAEConfig:
        """The authors' VAE for ``domain`` with the profile's reductions."""
        per_domain = {
            "gridworld": dict(state_embed=32, action_embed=0, reward_embed=8, gru_hidden=64, decoder="bernoulli_cells",
                              decoder_inputs=("z",)),
            "semicircle": dict(),
            "wind": dict(state_decoder=True),
            "escape_room": dict(state_decoder=True),
            "cheetah_vel": dict(decoder_inputs=("z", "next_obs", "action", "obs"), tasks_per_batch=4),
            "ant_semicircle": dict(decoder_inputs=("z", "next_obs", "action", "obs"), tasks_per_batch=4),
            # ours: the states hold the frozen image features (borel_lib.image_features), so s' is embedded with them
            "reacher_image": dict(decoder_inputs=("z", "next_obs", "action", "obs"), tasks_per_batch=4),
        }
        if domain not in per_domain:
            raise ValueError(f"no VAE settings for domain {domain!r}; available: {', '.join(per_domain)}")
        from borel_lib.config import resolve_profile

        profile = resolve_profile(profile)
        return cls.for_layers(profile, per_domain[domain], _PROFILE_DOMAIN.get((profile, domain)), overrides,
                              domain_yields=lambda name, value: value != 0)  # 0 = an input switched off stays off


_PROFILE_DOMAIN: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "gridworld"): {"epochs": 100},
    ("quick", "semicircle"): {"epochs": 60},
    ("quick", "wind"): {"epochs": 50},
    ("quick", "reacher_image"): {"epochs": 100},
}
"""Per-domain profile reductions that differ from the profile's ``PRESETS``. Quick Gridworld and
Semi-circle VAEs get more epochs than the generic 10. Measured during development with the metric of
:func:`borel_lib.pipeline.belief_identification` (last 100 trials per task): at 10 epochs the Gridworld
VAE put its most likely goal cell on the true goal in 33 % of the late, goal-reaching logged trials,
at 30 epochs in 79 % and still rising; no agent can search with the 10-epoch belief.
``scripts/probe_beliefs.py`` reports the metric for the committed runs. Semi-circle: 30 epochs at first;
60 measured better on the reward-relabelled VAE of seed 0 (loss 6.86 -> 5.45, still falling at 30;
total variation to the exact posterior, ``scripts/belief_vs_exact.py``: scripted sweeps 0.68 -> 0.66,
late logged trials 0.72 -> 0.67). Gridworld: 50 epochs at first; 100 measured better on all three seeds
(``--vae epochs=100``, each resumed from its 50-epoch checkpoint): BOReL with RR 5.70 +- 0.46 -> 6.38 +- 0.20,
total variation to the exact posterior on scripted sweeps 0.23 -> 0.19 (seed 0) and 0.40 -> 0.20 (seed 2). Escape-Room (issue 12) keeps the generic 10 epochs: measured on
one core shared with another training, an Escape-Room VAE (40 tasks x 220 trials, next-state decoder,
with or without the policy-replay trials) takes about 6 of a run's 9 minutes. Not tuned. Wind (issue 31):
10 epochs at first (loss 7.26); chosen on the validation tasks with policy replaying, seed 0, at 60k SAC
updates: 10 epochs 10.95 on the paper's metric (the learner plateaus there however long it trains), 50
epochs (loss 3.12) 34.15, the exact belief 42.80. So 50, with the 60k updates of
:data:`borel_lib.offline_rl.RL_PROFILE_DOMAIN`; a run takes about 50 min on one core (VAE about 35). Reacher-Image
(issue 32): 10 epochs at first, and the belief carried almost nothing about the target (``scripts/reacher_belief.py``,
seed 0, 20 test targets, the scripted sweep: the mean angle of the learnt belief 21 deg from the target after
episode 1, as far as the prior; the exact posterior 0.5 deg); the loss was still falling (0.34 at epoch 10). At
100 epochs (loss 0.054; about 11 min on one loaded core) the same measure is 4.5 deg."""


def _columns(state_columns: list[int] | None) -> torch.Tensor | None:
    return None if state_columns is None else torch.as_tensor(state_columns, dtype=torch.long)


def seen_columns(states: torch.Tensor, columns: torch.Tensor | None) -> torch.Tensor:
    """The columns of ``states`` ``(..., obs_dim)`` the VAE learns from (``None``: all; module docstring)."""
    return states if columns is None else states.index_select(-1, columns)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class BeliefEncoder(nn.Module):
    """GRU encoder q(m | h_{:t}) (see module docstring)."""

    def __init__(self, obs_dim: int, act_dim: int, config: VAEConfig, state_columns: list[int] | None = None):
        super().__init__()
        c = config
        self.config = c
        self.register_buffer("state_columns", _columns(state_columns), persistent=False)  # moves with it; not saved
        self.state_emb = nn.Linear(obs_dim if state_columns is None else len(state_columns), c.state_embed)
        self.action_emb = nn.Linear(act_dim, c.action_embed) if c.action_embed > 0 else None
        self.reward_emb = nn.Linear(1, c.reward_embed)
        in_size = c.state_embed + c.reward_embed + c.action_embed
        self.gru = nn.GRU(in_size, c.gru_hidden, num_layers=1, batch_first=True)
        for name, p in self.gru.named_parameters():
            if "weight" in name:
                nn.init.orthogonal_(p)
            else:
                nn.init.zeros_(p)
        self.mu = nn.Linear(c.gru_hidden, c.latent_dim)
        self.logvar = nn.Linear(c.gru_hidden, c.latent_dim)

    def embed(self, actions: torch.Tensor, rewards: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        seen = seen_columns(next_obs, self.state_columns)
        parts = [torch.relu(self.state_emb(seen)), torch.relu(self.reward_emb(rewards[..., None]))]
        if self.action_emb is not None:
            parts.insert(0, torch.relu(self.action_emb(actions)))
        return torch.cat(parts, -1)

    def prior(self, batch_size: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(μ_0, logvar_0, h_0) from the zero hidden state, shapes ``(B, latent)`` and ``(1, B, hidden)``."""
        device = device or self.mu.weight.device
        h = torch.zeros(1, batch_size, self.config.gru_hidden, device=device)
        return self.mu(h[0]), self.logvar(h[0]), h

    def forward(self, actions: torch.Tensor, rewards: torch.Tensor, next_obs: torch.Tensor):
        """Posteriors for every prefix: μ, logvar ``(B, T + 1, latent)`` (index 0 = prior)."""
        B = rewards.shape[0]
        mu0, lv0, h0 = self.prior(B, rewards.device)
        out, _ = self.gru(self.embed(actions, rewards, next_obs), h0)
        mu = torch.cat([mu0[:, None], self.mu(out)], 1)
        logvar = torch.cat([lv0[:, None], self.logvar(out)], 1)
        return mu, logvar

    def step(self, h: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor):
        """One online belief update: returns (μ, logvar, new h) for inputs ``(B, ·)`` (evaluation)."""
        x = self.embed(action[:, None], reward[:, None], next_obs[:, None])
        out, h = self.gru(x, h)
        return self.mu(out[:, 0]), self.logvar(out[:, 0]), h


class MSERewardDecoder(nn.Module):
    """Deterministic reward head on [z, emb(s'), emb(a), emb(s)] (a chosen subset)."""

    def __init__(self, obs_dim: int, act_dim: int, config: VAEConfig):
        super().__init__()
        self.inputs = config.decoder_inputs
        size = config.latent_dim
        self.next_emb = nn.Linear(obs_dim, config.state_embed) if "next_obs" in self.inputs else None
        self.obs_emb = nn.Linear(obs_dim, config.state_embed) if "obs" in self.inputs else None
        self.act_emb = nn.Linear(act_dim, max(config.action_embed, 1)) if "action" in self.inputs else None
        for emb in (self.next_emb, self.obs_emb, self.act_emb):
            size += emb.out_features if emb is not None else 0
        self.net = _mlp([size, *config.decoder_hidden, 1])

    def forward(self, z, obs, actions, next_obs) -> torch.Tensor:
        parts = [z]
        if self.next_emb is not None:
            parts.append(torch.relu(self.next_emb(next_obs)))
        if self.act_emb is not None:
            parts.append(torch.relu(self.act_emb(actions)))
        if self.obs_emb is not None:
            parts.append(torch.relu(self.obs_emb(obs)))
        return self.net(torch.cat(parts, -1))[..., 0]


class BernoulliCellRewardDecoder(nn.Module):
    """Multi-head Bernoulli: z -> one logit per grid cell, "is the reward at this cell" (Gridworld)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.net = _mlp([config.latent_dim, *config.decoder_hidden, config.n_cells])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def gaussian_kl(mu_q, logvar_q, mu_p, logvar_p) -> torch.Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) summed over the last dimension."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1).sum(-1)


class BeliefVAE(nn.Module):
    """Encoder, decoders and optimizer; :meth:`loss` is the ELBO of the module docstring."""

    def __init__(self, obs_dim: int, act_dim: int, config: VAEConfig, cell_index: Callable | None = None,
                 goal_reward: float = 1.0, device: torch.device | str = "cpu", state_columns: list[int] | None = None):
        super().__init__()
        self.config = config
        self.encoder = BeliefEncoder(obs_dim, act_dim, config, state_columns)
        self.register_buffer("state_columns", _columns(state_columns), persistent=False)
        obs_dim = obs_dim if state_columns is None else len(state_columns)  # the decoders see the same columns
        if config.decoder == "bernoulli_cells":
            if cell_index is None:
                raise ValueError("decoder='bernoulli_cells' needs cell_index(next_obs) -> cell ids")
            self.reward_decoder: nn.Module = BernoulliCellRewardDecoder(config)
        else:
            self.reward_decoder = MSERewardDecoder(obs_dim, act_dim, config)
        self.state_decoder = _mlp([config.latent_dim + obs_dim + act_dim, *config.decoder_hidden, obs_dim]) \
            if config.state_decoder else None
        self.cell_index, self.goal_reward = cell_index, goal_reward
        self.to(device)
        self.optim = torch.optim.Adam(self.parameters(), lr=config.lr)

    def loss(self, obs, actions, rewards, next_obs, generator: torch.Generator | None = None):
        """(total loss, parts) for a batch ``(B, T, ·)``; see the module docstring."""
        c = self.config
        B, T = rewards.shape
        mu, logvar = self.encoder(actions, rewards, next_obs)  # (B, T+1, L)
        seen_obs, seen_next = (seen_columns(x, self.state_columns) for x in (obs, next_obs))  # the learnt inputs
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + (0.5 * logvar).exp() * eps
        if c.decode_subset is None:
            tz = torch.arange(T + 1, device=mu.device).repeat_interleave(T)[None].expand(B, -1)
            tj = torch.arange(T, device=mu.device).repeat(T + 1)[None].expand(B, -1)
            scale = 1.0
        else:
            K = c.decode_subset
            tz = torch.randint(T + 1, (B, K), generator=generator, device=mu.device)
            tj = torch.randint(T, (B, K), generator=generator, device=mu.device)
            scale = (T + 1) * T / K
        rows = torch.arange(B, device=mu.device)[:, None]
        zz = z[rows, tz]
        if c.decoder == "bernoulli_cells":
            logits = self.reward_decoder(zz)  # (B, P, cells)
            cells = self.cell_index(next_obs[rows, tj])
            logit = logits.gather(-1, cells[..., None])[..., 0]
            target = (rewards[rows, tj] == self.goal_reward).float()
            recon = nn.functional.binary_cross_entropy_with_logits(logit, target, reduction="none").sum(-1) * scale
        else:
            pred = self.reward_decoder(zz, seen_obs[rows, tj], actions[rows, tj], seen_next[rows, tj])
            recon = ((pred - rewards[rows, tj]) ** 2).sum(-1) * scale / T  # mean over j, sum over t
        if self.state_decoder is not None:
            x = torch.cat([zz, seen_obs[rows, tj], actions[rows, tj]], -1)
            recon = recon + ((self.state_decoder(x) - seen_next[rows, tj]) ** 2).sum(-1).sum(-1) * scale / T
        mu_prev = torch.cat([torch.zeros_like(mu[:, :1]), mu[:, :-1]], 1)
        lv_prev = torch.cat([torch.zeros_like(logvar[:, :1]), logvar[:, :-1]], 1)
        kl = gaussian_kl(mu, logvar, mu_prev, lv_prev).sum(-1)
        total = (recon + c.kl_weight * kl).mean()
        return total, {"recon": recon.mean().detach(), "kl": kl.mean().detach()}

    def train_step(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> dict[str, float]:
        total, parts = self.loss(batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"], generator)
        if not torch.isfinite(total):
            raise FloatingPointError(f"VAE loss is {total.item()} (recon {parts['recon']}, kl {parts['kl']})")
        self.optim.zero_grad(set_to_none=True)
        total.backward()
        self.optim.step()
        return {"loss": total.item(), **{k: v.item() for k, v in parts.items()}}

    @torch.no_grad()
    def encode_trials(self, actions, rewards, next_obs, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen-encoder beliefs for state relabelling: μ, logvar ``(B, T + 1, latent)`` on CPU."""
        mus, lvs = [], []
        device = self.encoder.mu.weight.device
        for i in range(0, rewards.shape[0], batch_size):
            sl = slice(i, i + batch_size)
            mu, lv = self.encoder(*(torch.as_tensor(x[sl] if isinstance(x, torch.Tensor) else np.array(x[sl]),
                                                    dtype=torch.float32, device=device)
                                    for x in (actions, rewards, next_obs)))
            mus.append(mu.cpu())
            lvs.append(lv.cpu())
        return torch.cat(mus), torch.cat(lvs)


@torch.no_grad()
def reward_map(vae: BeliefVAE, mu: torch.Tensor, points: np.ndarray, flag: float = 0.0,
               template: np.ndarray | None = None) -> np.ndarray:
    """The MSE decoder's predicted reward at next states ``points`` ``(G, 2)`` for belief means ``mu``
    ``(S, latent)``: an ``(S, G)`` array (the paper's supplementary Figure 7 belief pictures), with action 0.
    A next state is ``template`` (a flagged observation; default the point robot's [0, 0, flag]) with its
    first two columns (x, y) set to the point and its last (the episode-end flag) to ``flag``: on the Ant,
    :func:`borel_lib.belief.decode_template`'s standing pose moved to the point. Beliefs are decoded in chunks
    of about 2**19 (belief, point) pairs, so any ``S`` fits in memory."""
    device = vae.encoder.mu.weight.device
    states = np.tile(np.zeros(3) if template is None else np.asarray(template, np.float64).reshape(-1),
                     (len(points), 1))
    states[:, :2], states[:, -1] = points, flag
    pts = torch.as_tensor(states, dtype=torch.float32, device=device)
    mu = torch.as_tensor(mu, dtype=torch.float32, device=device)
    step = max(1, 2**19 // len(points))
    out = []
    for i in range(0, len(mu), step):
        z = mu[i : i + step, None].expand(-1, len(points), -1)
        nxt = pts[None].expand(len(z), -1, -1)
        zeros_a = torch.zeros(*nxt.shape[:2], vae.encoder.action_emb.in_features if vae.encoder.action_emb else 1,
                              device=device)
        out.append(vae.reward_decoder(z, nxt, zeros_a, nxt).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(points)), np.float32)


def grid_cell_index(pos: torch.Tensor, size: int) -> torch.Tensor:
    """Cell id ``x * size + y`` of grid positions ``pos[..., :2]``: the Bernoulli decoder's head order."""
    return (pos[..., 0] * size + pos[..., 1]).round().long()


@torch.no_grad()
def goal_cell_probs(vae: BeliefVAE, mu: torch.Tensor | np.ndarray) -> np.ndarray:
    """Gridworld's belief over goal cells: the Bernoulli decoder's per-cell probability that the goal
    reward is there, at belief means ``mu`` ``(S, latent)``, normalised over cells: an ``(S, n_cells)``
    array. Cell ``x * size + y`` is grid position (x, y), as in the decoder's training targets."""
    if vae.config.decoder != "bernoulli_cells":
        raise ValueError(f"goal_cell_probs needs decoder='bernoulli_cells', this VAE has {vae.config.decoder!r}")
    device = vae.encoder.mu.weight.device
    p = torch.sigmoid(vae.reward_decoder(torch.as_tensor(mu, dtype=torch.float32, device=device)))
    return (p / p.sum(-1, keepdim=True)).cpu().numpy()
