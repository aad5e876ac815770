"""Per-task DQN and SAC agents, trained for all N tasks at once (paper §3.1, §6 "Data collection").

The paper's data is the full training log of one conventional RL agent per task: DQN on Gridworld, SAC
on the continuous domains (authors' settings; differences: ``docs/differences.md``).
On a small CPU the speed lever is to stack the N agents into one model whose weights carry a leading
*member* dimension (``torch.baddbmm``), updated by one optimizer step. The agents stay mathematically
independent:

- every member's loss depends only on its own parameters and data, and the total loss is the *sum* of
  the members' losses, so member i's gradient is exactly its own;
- Adam is element-wise, so one Adam over stacked parameters equals N separate Adams;
- every member has its own ``torch.Generator`` (initial weights, minibatch indices, SAC noise,
  ε-greedy), so an ensemble of N equals N single-member runs with the same member seeds (tested, up to
  float round-off of batched matmuls).

SAC follows the authors' code: twin Q with target networks, fixed entropy weight α, soft target
update after every critic step, hidden layers initialised fan-in uniform with bias 0.1, last layers
U(±3e-3) (Q) and U(±1e-3) (policy), log-std clamped to [-20, 2], deterministic action tanh(mean).
DQN is plain DQN (no double Q) with a soft-updated target network, as in the authors' code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from borel_lib.config import Config, ConfigError, check_choice, check_positive, check_tau


# ----------------------------------------------------------------------------------- layers
class EnsembleLinear(nn.Module):
    """E independent linear layers: ``(E, B, in) -> (E, B, out)``."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """E independent ReLU MLPs with the authors' initialisation (see module docstring)."""

    def __init__(self, members: int, in_features: int, hidden: Sequence[int], out_features: int,
                 last_init: float = 3e-3):
        super().__init__()
        sizes = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.members = members
        self.last_init = last_init

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        """Initialise member i's weights from ``generators[i]`` only (members are independent)."""
        with torch.no_grad():
            for i, gen in enumerate(generators):
                for j, layer in enumerate(self.layers):
                    fan_in, fan_out = layer.weight.shape[1:]
                    last = j == len(self.layers) - 1
                    bound = self.last_init if last else 1.0 / math.sqrt(fan_in)
                    w = torch.rand(fan_in, fan_out, generator=gen, device=gen.device) * 2 * bound - bound
                    layer.weight[i].copy_(w)
                    if last:
                        b = torch.rand(fan_out, generator=gen, device=gen.device) * 2 * bound - bound
                        layer.bias[i, 0].copy_(b)
                    else:
                        layer.bias[i].fill_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu_(layer(x))
        return self.layers[-1](x)


def make_generators(seeds: Sequence[int], device: torch.device) -> list[torch.Generator]:
    """One generator per member, on ``device``."""
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(s))
        gens.append(g)
    return gens


def per_member(generators: Sequence[torch.Generator], fn) -> torch.Tensor:
    """``fn(generator)`` for every member's generator, stacked along a leading member dimension."""
    return torch.stack([fn(g) for g in generators])


def cql_penalty_discrete(q_all: torch.Tensor, q_data: torch.Tensor) -> torch.Tensor:
    """CQL(H) for discrete actions, exact: log Σ_a exp Q(s, a) − Q(s, a_data). ``q_all``: ``(..., A)``;
    ``q_data``: ``(...)``; returns ``(...)``."""
    return torch.logsumexp(q_all, -1) - q_data


def cql_penalty(q_unif: torch.Tensor, log_p_unif: torch.Tensor, q_pi: torch.Tensor, log_p_pi: torch.Tensor,
                q_data: torch.Tensor) -> torch.Tensor:
    """CQL(H) for continuous actions: log E_mix[exp Q(s, a)] − Q(s, a_data), estimated by importance
    sampling with n uniform and n policy actions per state: log(1/(2n) Σ exp(Q(s, a_u) − log p_u) +
    exp(Q(s, a_π) − log π)) − Q(s, a_data). ``q_unif``, ``q_pi``: ``(..., n)``; ``q_data``: ``(...)``;
    returns ``(...)``. (The authors' version omitted the exponential.)"""
    n = q_unif.shape[-1]
    stacked = torch.cat([q_unif - log_p_unif, q_pi - log_p_pi], -1)
    return torch.logsumexp(stacked, -1) - math.log(2 * n) - q_data


def tanh_gaussian(mean: torch.Tensor, log_std: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reparameterised tanh-Gaussian action ``tanh(mean + exp(log_std) * noise)`` and its
    log-probability (summed over the last dimension, with the tanh change of variables)."""
    action = torch.tanh(mean + log_std.exp() * noise)
    log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    return action, log_prob - torch.log1p(-action.pow(2) + 1e-6).sum(-1)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak update in place: ``target ← (1 − tau) · target + tau · source``, parameter by parameter."""
    with torch.no_grad():
        t_params = list(target.parameters())
        torch._foreach_mul_(t_params, 1.0 - tau)
        torch._foreach_add_(t_params, list(source.parameters()), alpha=tau)


def descend(optim: torch.optim.Optimizer, member_losses: torch.Tensor, max_grad_norm: float | None = None) -> None:
    """One optimiser step on the sum of the members' losses (members share no parameters, so each member's
    gradient is that of its own loss). ``max_grad_norm``: each member's gradient (over every parameter of the
    optimiser whose first dimension is the member) scaled down to at most this norm before the step, as
    :func:`torch.nn.utils.clip_grad_norm_` does for one network; None = no clipping."""
    optim.zero_grad(set_to_none=True)
    member_losses.sum().backward()
    if max_grad_norm is not None:
        clip_member_grad_norm([p for g in optim.param_groups for p in g["params"]], max_grad_norm)
    optim.step()


def clip_member_grad_norm(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale the gradients of stacked ensemble parameters (first dimension = member) so that each member's
    global gradient norm is at most ``max_norm``; returns the members' norms before clipping ``(members,)``."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    sq = sum(g.detach().pow(2).reshape(g.shape[0], -1).sum(-1) for g in grads)
    norms = sq.sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.reshape(-1, *([1] * (g.dim() - 1))))
    return norms


def td_error_loss(q: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Per-member TD loss ``(members,)`` of predictions ``q`` against ``target`` ``(members, B)``: the mean
    squared error (``mse``, the authors') or the Huber loss with δ = 1 (``huber``, DQN's own: Mnih et al.
    2015 clip the error's gradient to [−1, 1]). See :data:`TD_LOSS_CHOICES`."""
    if kind == "huber":
        return F.smooth_l1_loss(q, target, reduction="none", beta=1.0).mean(-1)
    return ((q - target) ** 2).mean(-1)


# ----------------------------------------------------------------------------------- replay
class EnsembleReplay:
    """Per-member replay buffers as tensors ``(E, capacity, dim)``; members fill in lockstep."""

    FIELDS = ("obs", "actions", "rewards", "next_obs", "dones")

    def __init__(self, members: int, capacity: int, obs_dim: int, act_dim: int, device: torch.device):
        check_positive(capacity, "capacity")
        self.capacity, self.members, self.device = int(capacity), members, device
        self.data = {
            "obs": torch.zeros(members, capacity, obs_dim, device=device),
            "actions": torch.zeros(members, capacity, act_dim, device=device),
            "rewards": torch.zeros(members, capacity, device=device),
            "next_obs": torch.zeros(members, capacity, obs_dim, device=device),
            "dones": torch.zeros(members, capacity, device=device),
        }
        self.size = 0
        self.ptr = 0

    def add(self, **batch: torch.Tensor) -> None:
        """Add T transitions per member: every field ``(E, T, ...)``; oldest entries are overwritten."""
        missing = set(self.FIELDS) - set(batch)
        if missing:
            raise ValueError(f"EnsembleReplay.add: missing fields {sorted(missing)}")
        T = batch["rewards"].shape[1]
        idx = (self.ptr + torch.arange(T, device=self.device)) % self.capacity
        for name in self.FIELDS:
            value = torch.as_tensor(batch[name], dtype=torch.float32, device=self.device)
            self.data[name][:, idx] = value.reshape(self.data[name][:, idx].shape)
        self.ptr = (self.ptr + T) % self.capacity
        self.size = min(self.size + T, self.capacity)

    def sample(self, batch_size: int, generators: Sequence[torch.Generator]) -> dict[str, torch.Tensor]:
        """``batch_size`` transitions per member, uniform over each member's filled entries."""
        if self.size == 0:
            raise RuntimeError("EnsembleReplay.sample: the buffer is empty")
        idx = per_member(generators, lambda g: torch.randint(self.size, (batch_size,), generator=g, device=g.device))
        rows = torch.arange(self.members, device=self.device)[:, None]
        return {name: t[rows, idx] for name, t in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"data": {k: v[:, : self.size].clone() for k, v in self.data.items()}, "size": self.size, "ptr": self.ptr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.ptr = int(state["size"]), int(state["ptr"])
        for k, v in state["data"].items():
            self.data[k][:, : self.size] = v.to(self.device)


# ----------------------------------------------------------------------------------- configs
@dataclasses.dataclass(frozen=True)
class SACHyperparameters(Config):
    """The SAC hyperparameters of data collection (:class:`SACConfig`), of offline RL on hyper-states
    (:class:`borel_lib.offline_rl.OfflineRLConfig`) and of off-policy VariBAD online
    (:class:`borel_lib.online.varibad_offpolicy.OffPolicyVariBADConfig`), declared once; defaults: the authors'
    Semi-circle values (offline RL overrides ``hidden``, off-policy VariBAD its own four). :meth:`sac_hyperparameters` hands them to a :class:`SACConfig`."""

    hidden: tuple[int, ...] = (32, 32)
    """Hidden layer sizes of the actor and each critic (data collection: Semi-circle 32x32; MuJoCo 128x128)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy (offline RL on Ant: 3e-5)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin critics (of the Q network when offline RL trains DQN)."""
    gamma: float = 0.9
    """Discount (Semi-circle 0.9; other domains 0.99)."""
    alpha: float = 0.01
    """SAC's entropy weight (Semi-circle 0.01; MuJoCo 0.2): fixed, as in the paper, unless
    :attr:`target_entropy` is set; then its starting value."""
    tau: float = 0.005
    """Soft target-update rate, applied after every critic step."""
    target_entropy: float | None = None
    """None (the paper): α stays fixed. A number H̄: automatic entropy tuning (Haarnoja et al., 2018, "Soft
    Actor-Critic Algorithms and Applications", §5): each member learns log α by Adam (the actor's learning
    rate) on −log α · (log π(a|s) + H̄), e.g. H̄ = −act_dim."""
    alpha_lr: float | None = None
    """Adam learning rate of log α when ``target_entropy`` is set; None = the actor's learning rate
    (CleanRL uses 1e-3, the critics' rate)."""
    log_std: str = "clamp"
    """How the policy's raw log-std output becomes log σ: ``clamp`` (the authors': clipped to [−20, 2], so an
    untrained policy has σ ≈ 1) or ``tanh`` (CleanRL's: −5 + 3.5·(tanh(x) + 1), smooth in [−5, 2], σ ≈ 0.22 at
    the start). See :data:`LOG_STD_CHOICES`."""
    td_loss: str = "mse"
    """Loss on the TD error of the critics (of DQN's Q network): ``mse`` (the authors') or ``huber`` (δ = 1,
    DQN's own, Mnih et al. 2015: a large TD error no longer gives a large gradient). See
    :data:`TD_LOSS_CHOICES`."""
    max_grad_norm: float | None = None
    """Clip each network's gradient norm (per ensemble member) to this value before every step; None (the
    authors') = no clipping. Stable-Baselines3's DQN uses 10."""

    def validate(self) -> None:
        self.check_positive_fields("actor_lr", "critic_lr")
        check_tau(self.tau)
        check_positive(self.alpha, "alpha", allow_zero=True)
        if self.alpha_lr is not None:
            check_positive(self.alpha_lr, "alpha_lr")
        check_choice(self.log_std, "log_std", LOG_STD_CHOICES)
        check_choice(self.td_loss, "td_loss", TD_LOSS_CHOICES)
        if self.max_grad_norm is not None:
            check_positive(self.max_grad_norm, "max_grad_norm")
        if not (isinstance(self.hidden, tuple) and self.hidden):
            raise ConfigError(f"hidden={self.hidden!r} must be a non-empty tuple of layer sizes, e.g. (256, 256)")
        for size in self.hidden:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ConfigError(f"hidden={self.hidden!r}: every layer size must be an integer >= 1")
        if not 0 <= self.gamma < 1:
            raise ConfigError(f"gamma={self.gamma!r} must be in [0, 1)")

    def sac_hyperparameters(self) -> dict[str, Any]:
        """The shared SAC fields with their values: ``SACConfig(**config.sac_hyperparameters())``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(SACHyperparameters)}


@dataclasses.dataclass(frozen=True)
class SACConfig(SACHyperparameters):
    """SAC of the data-collection agents (paper defaults: the authors' Semi-circle column): the shared
    :class:`SACHyperparameters` and the options below."""

    batch_size: int = 256
    """Transitions per member per update."""

    def validate(self) -> None:
        super().validate()
        check_positive(self.batch_size, "batch_size")


LOG_STD_CHOICES = ("clamp", "tanh")
"""Allowed values of :attr:`SACHyperparameters.log_std`."""

TD_LOSS_CHOICES = ("mse", "huber")
"""Allowed values of :attr:`SACHyperparameters.td_loss` and :attr:`DQNConfig.td_loss`."""

CALIBRATED_SAC = dict(hidden=(256, 256), critic_lr=1e-3, alpha=0.2, target_entropy=-8.0, alpha_lr=1e-3, log_std="tanh")
"""The SAC settings whose mean action walks on Gymnasium's Ant-v5 within the CPU budgets of the quick
profile (``scripts/probe_sac_gym_ant.py``, ``data/results/quick/probes/gym_ant/probe_sac_gym_ant_calibrated_*.csv``;
CleanRL's ``sac_continuous_action.py`` settings: 256×256, critic lr 1e-3, automatic α towards −|A| = −8 with
lr 1e-3, log-std squashed by tanh into [−5, 2]). The authors' (α fixed at 0.2, 128×128, lr 3e-4, clamped
log-std) hold a standing posture with the mean action at the same budgets; the ``paper`` profile keeps them."""


@dataclasses.dataclass(frozen=True)
class DQNConfig(Config):
    """DQN of the Gridworld data-collection agents (authors' values)."""

    hidden: tuple[int, ...] = (16, 16)
    """Hidden layer sizes of the Q network."""
    lr: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount."""
    tau: float = 0.005
    """Soft target-update rate, every update."""
    batch_size: int = 256
    """Transitions per member per update."""
    td_loss: str = "mse"
    """Loss on the TD error: ``mse`` (the authors') or ``huber`` (δ = 1, Mnih et al. 2015)."""
    max_grad_norm: float | None = None
    """Clip each member's gradient norm to this value before every step (None = no clipping, the authors')."""

    def validate(self) -> None:
        check_tau(self.tau)
        self.check_positive_fields("lr", "batch_size")
        check_choice(self.td_loss, "td_loss", TD_LOSS_CHOICES)
        if self.max_grad_norm is not None:
            check_positive(self.max_grad_norm, "max_grad_norm")
        if not 0 <= self.gamma < 1:
            raise ConfigError(f"gamma={self.gamma!r} must be in [0, 1)")


# --------------------------------------------------------------------------------------- SAC
class EnsembleSAC(nn.Module):
    """E independent SAC agents with actions in [-1, 1]^act_dim (see module docstring)."""

    LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
    TANH_LOG_STD = (-5.0, 2.0)

    def __init__(self, obs_dim: int, act_dim: int, seeds: Sequence[int], config: SACConfig = SACConfig(),
                 device: torch.device | str = "cpu"):
        super().__init__()
        self.E, self.obs_dim, self.act_dim, self.config = len(seeds), obs_dim, act_dim, config
        self.device = torch.device(device)
        self.seeds = [int(s) for s in seeds]
        self.generators = make_generators(self.seeds, self.device)
        self.actor = EnsembleMLP(self.E, obs_dim, config.hidden, 2 * act_dim, last_init=1e-3)
        self.critic = EnsembleMLP(2 * self.E, obs_dim + act_dim, config.hidden, 1, last_init=3e-3)
        self.actor.reset_parameters(self.generators)
        # member i's twin critics are members i and E + i, both initialised from generator i
        self._init_critics()
        self.critic_target = EnsembleMLP(2 * self.E, obs_dim + act_dim, config.hidden, 1)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.auto_alpha = config.target_entropy is not None
        if self.auto_alpha:  # a parameter only when tuned, so fixed-α checkpoints keep their keys
            self.log_alpha = nn.Parameter(torch.full((self.E,), math.log(max(config.alpha, 1e-8))))
        self.to(self.device)
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_optim = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr)
        if self.auto_alpha:
            self.alpha_optim = torch.optim.Adam([self.log_alpha], lr=config.alpha_lr or config.actor_lr)

    def _init_critics(self) -> None:
        with torch.no_grad():
            q1 = EnsembleMLP(self.E, self.obs_dim + self.act_dim, self.config.hidden, 1, last_init=3e-3)
            q2 = EnsembleMLP(self.E, self.obs_dim + self.act_dim, self.config.hidden, 1, last_init=3e-3)
            q1.reset_parameters(self.generators)
            q2.reset_parameters(self.generators)
            for l_all, l1, l2 in zip(self.critic.layers, q1.layers, q2.layers):
                l_all.weight.copy_(torch.cat([l1.weight, l2.weight]))
                l_all.bias.copy_(torch.cat([l1.bias, l2.bias]))

    # --------------------------------------------------------------------------------- policy
    def _log_std(self, raw: torch.Tensor) -> torch.Tensor:
        """The actor's raw log-std output in its range: squashed into :attr:`TANH_LOG_STD` (``log_std="tanh"``)
        or clamped to [LOG_STD_MIN, LOG_STD_MAX]."""
        if self.config.log_std == "tanh":
            lo, hi = self.TANH_LOG_STD
            return lo + 0.5 * (hi - lo) * (torch.tanh(raw) + 1)
        return raw.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def _dist(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.actor(obs)
        return out[..., : self.act_dim], self._log_std(out[..., self.act_dim :])

    def _sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised tanh-Gaussian action and its log-probability, noise per member."""
        mean, log_std = self._dist(obs)
        shape = mean.shape[1:]
        noise = per_member(self.generators, lambda g: torch.randn(shape, generator=g, device=g.device))
        return tanh_gaussian(mean, log_std, noise)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Actions ``(E, B, act_dim)`` for observations ``(E, B, obs_dim)`` (or ``(E, obs_dim)``)."""
        squeeze = obs.dim() == 2
        obs = obs.to(self.device, torch.float32)
        if squeeze:
            obs = obs[:, None]
        if deterministic:
            action = torch.tanh(self._dist(obs)[0])
        else:
            action = self._sample(obs)[0]
        return action[:, 0] if squeeze else action

    def alpha(self) -> torch.Tensor:
        """Each member's current entropy weight ``(E, 1)`` (the fixed ``config.alpha`` unless tuned)."""
        if self.auto_alpha:
            return self.log_alpha.detach().exp()[:, None]
        return torch.full((self.E, 1), float(self.config.alpha), device=self.device)

    # --------------------------------------------------------------------------------- update
    def _q(self, net: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action], -1)
        q = net(torch.cat([x, x]))[..., 0]
        return torch.minimum(q[: self.E], q[self.E :]), q

    def update(self, batch: dict[str, torch.Tensor], cql_alpha: float = 0.0,
               cql_samples: int = 10, bc_weight: float = 0.0) -> dict[str, torch.Tensor]:
        """One critic and one actor step for every member; returns per-member losses ``(E,)``.

        ``cql_alpha > 0`` adds ``cql_alpha`` times the CQL(H) penalty (:func:`cql_penalty`, with
        ``cql_samples`` uniform and policy actions per state) to each twin critic's loss (offline RL).
        ``bc_weight > 0`` adds behaviour cloning to the actor's loss as TD3+BC does (Fujimoto & Gu, 2021):
        ``bc_weight · mean|Q| · ‖tanh(μ(s)) − a‖²``, the policy's mean action against the data's, the batch's
        mean |Q| (no gradient) keeping the two terms' ratio free of the reward scale (TD3+BC's α is
        ``bc_weight = 1 / (α · act_dim)``, as its squared error averages over action dimensions and this one
        sums them: α = 2.5 is 0.05 for 8 actions)."""
        cfg = self.config
        obs, act, rew = batch["obs"], batch["actions"], batch["rewards"]
        nxt, done = batch["next_obs"], batch["dones"]
        alpha = self.alpha() if self.auto_alpha else cfg.alpha  # the float keeps fixed-α runs bit-identical
        with torch.no_grad():
            next_a, next_logp = self._sample(nxt)
            q_next, _ = self._q(self.critic_target, nxt, next_a)
            # an n-step batch (OfflineRLConfig.n_step) carries its own discount γ^k per transition
            target = rew + batch.get("discount", cfg.gamma) * (1 - done) * (q_next - alpha * next_logp)
        _, q_both = self._q(self.critic, obs, act)
        critic_loss_m = td_error_loss(q_both, torch.cat([target, target]), cfg.td_loss)  # (2E,)
        critic_loss = critic_loss_m[: self.E] + critic_loss_m[self.E :]
        out = {}
        if cql_alpha > 0:
            pen = self._cql_penalty(obs, q_both, cql_samples)
            out["cql_penalty"] = pen.detach()
            critic_loss = critic_loss + cql_alpha * pen
        descend(self.critic_optim, critic_loss, cfg.max_grad_norm)
        soft_update(self.critic_target, self.critic, cfg.tau)

        actor_loss, logp = self._actor_step(obs, act, alpha, bc_weight, out)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "log_pi": logp.detach().mean(-1), **out}

    def _actor_step(self, obs: torch.Tensor, act: torch.Tensor, alpha: torch.Tensor | float, bc_weight: float,
                    out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """SAC's actor step, E[α log π(ã|s) − min Q(s, ã)] with ã ~ π reparametrised (plus the TD3+BC term
        when ``bc_weight`` > 0), then α's step when tuned; returns the per-member actor loss and log π(ã|s).
        Extra logs go into ``out``."""
        cfg = self.config
        new_a, logp = self._sample(obs)
        q_pi, _ = self._q(self.critic, obs, new_a)
        actor_loss = (alpha * logp - q_pi).mean(-1)
        if bc_weight > 0:
            bc = ((torch.tanh(self._dist(obs)[0]) - act) ** 2).sum(-1).mean(-1)
            out["bc_loss"] = bc.detach()
            actor_loss = actor_loss + bc_weight * q_pi.detach().abs().mean(-1) * bc
        descend(self.actor_optim, actor_loss, cfg.max_grad_norm)
        if self.auto_alpha:
            alpha_loss = -(self.log_alpha[:, None] * (logp.detach() + cfg.target_entropy)).mean(-1)
            descend(self.alpha_optim, alpha_loss)
            out["alpha"] = self.alpha()[:, 0]
        return actor_loss, logp

    def _cql_penalty(self, obs: torch.Tensor, q_data: torch.Tensor, n: int) -> torch.Tensor:
        """Per-member CQL(H) penalty ``(E,)``, summed over the twin critics (``q_data``: ``(2E, B)``)."""
        E, B = obs.shape[:2]
        rep = obs[:, :, None].expand(-1, -1, n, -1).reshape(E, B * n, -1)
        a_unif = per_member(self.generators, lambda g: torch.rand(B * n, self.act_dim, generator=g,
                                                                   device=g.device)) * 2 - 1
        log_p_unif = torch.full((2 * E, B, n), -self.act_dim * math.log(2.0), device=obs.device)
        with torch.no_grad():
            a_pi, log_p_pi = self._sample(rep)
        _, q_u = self._q(self.critic, rep, a_unif)
        _, q_p = self._q(self.critic, rep, a_pi)
        pen = cql_penalty(q_u.reshape(2 * E, B, n), log_p_unif, q_p.reshape(2 * E, B, n),
                          torch.cat([log_p_pi, log_p_pi]).reshape(2 * E, B, n), q_data).mean(-1)
        return pen[:E] + pen[E:]

    # ----------------------------------------------------------------------------- persistence
    def full_state_dict(self) -> dict[str, Any]:
        """Networks, targets, optimizers and generator states: a bit-exact resume point."""
        return {"model": self.state_dict(), "actor_optim": self.actor_optim.state_dict(),
                "critic_optim": self.critic_optim.state_dict(),
                **({"alpha_optim": self.alpha_optim.state_dict()} if self.auto_alpha else {}),
                "generators": [g.get_state() for g in self.generators], "seeds": self.seeds}

    def load_full_state_dict(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        self.actor_optim.load_state_dict(state["actor_optim"])
        self.critic_optim.load_state_dict(state["critic_optim"])
        if self.auto_alpha:
            self.alpha_optim.load_state_dict(state["alpha_optim"])
        for g, s in zip(self.generators, state["generators"]):
            g.set_state(s.cpu())  # a generator state is a CPU byte tensor, wherever the checkpoint was mapped

    def actor_state(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member``'s policy weights (for saving one task's policy, e.g. policy replaying)."""
        return {k: v[member : member + 1].detach().cpu().clone() for k, v in self.actor.state_dict().items()}


# --------------------------------------------------------------------------------------- DQN
class EnsembleDQN(nn.Module):
    """E independent DQN agents over ``n_actions`` discrete actions (see module docstring)."""

    def __init__(self, obs_dim: int, n_actions: int, seeds: Sequence[int], config: DQNConfig = DQNConfig(),
                 device: torch.device | str = "cpu"):
        super().__init__()
        self.E, self.n_actions, self.config = len(seeds), n_actions, config
        self.device = torch.device(device)
        self.seeds = [int(s) for s in seeds]
        self.generators = make_generators(self.seeds, self.device)
        self.q = EnsembleMLP(self.E, obs_dim, config.hidden, n_actions, last_init=3e-3)
        self.q.reset_parameters(self.generators)
        self.q_target = EnsembleMLP(self.E, obs_dim, config.hidden, n_actions)
        self.q_target.load_state_dict(self.q.state_dict())
        self.to(self.device)
        self.optim = torch.optim.Adam(self.q.parameters(), lr=config.lr)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, epsilon: float = 0.0) -> torch.Tensor:
        """ε-greedy integer actions ``(E, B)`` for observations ``(E, B, obs_dim)`` (or ``(E,)``)."""
        squeeze = obs.dim() == 2
        obs = obs.to(self.device, torch.float32)
        if squeeze:
            obs = obs[:, None]
        greedy = self.q(obs).argmax(-1)
        if epsilon > 0:
            B = obs.shape[1]
            u = per_member(self.generators, lambda g: torch.rand(B, generator=g, device=g.device))
            rand = per_member(self.generators, lambda g: torch.randint(self.n_actions, (B,), generator=g, device=g.device))
            greedy = torch.where(u < epsilon, rand, greedy)
        return greedy[:, 0] if squeeze else greedy

    def update(self, batch: dict[str, torch.Tensor], cql_alpha: float = 0.0,
               double: bool = False) -> dict[str, torch.Tensor]:
        """One DQN step for every member (actions stored as integer values in ``actions[..., 0]``).

        ``cql_alpha > 0`` adds ``cql_alpha`` times the discrete CQL(H) penalty
        (:func:`cql_penalty_discrete`) to each member's loss (offline RL, Kumar et al. 2020). ``double``
        uses the double-DQN target (van Hasselt et al. 2016): the online network picks the next action,
        the target network values it."""
        cfg = self.config
        a = batch["actions"][..., 0].long()
        with torch.no_grad():
            q_next_all = self.q_target(batch["next_obs"])
            if double:
                q_next = q_next_all.gather(-1, self.q(batch["next_obs"]).argmax(-1, keepdim=True))[..., 0]
            else:
                q_next = q_next_all.max(-1).values
            target = batch["rewards"] + batch.get("discount", cfg.gamma) * (1 - batch["dones"]) * q_next
        q_all = self.q(batch["obs"])
        q = q_all.gather(-1, a[..., None])[..., 0]
        loss = td_error_loss(q, target, cfg.td_loss)
        out = {"q_loss": loss.detach()}
        if cql_alpha > 0:
            pen = cql_penalty_discrete(q_all, q).mean(-1)
            out["cql_penalty"] = pen.detach()
            loss = loss + cql_alpha * pen
        descend(self.optim, loss, cfg.max_grad_norm)
        soft_update(self.q_target, self.q, cfg.tau)
        return out

    def full_state_dict(self) -> dict[str, Any]:
        return {"model": self.state_dict(), "optim": self.optim.state_dict(),
                "generators": [g.get_state() for g in self.generators], "seeds": self.seeds}

    def load_full_state_dict(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        for g, s in zip(self.generators, state["generators"]):
            g.set_state(s.cpu())  # a generator state is a CPU byte tensor, wherever the checkpoint was mapped
