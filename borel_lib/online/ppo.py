"""VariBAD's policy network and its PPO step (:mod:`borel_lib.online.varibad_ppo`), written from the facts of
the official implementation (Zintgraf et al., ICLR 2020, ``lmzintgraf/varibad``).

**Policy** (:class:`BeliefPolicy`). Two inputs: the state s_t with its episode-end flag (and the trial's clock
with ``time_input``) and the belief [μ_t, log σ²_t]. Each is normalised by its own running mean and variance
(:class:`RunningMeanStd`, no clipping; updated from the batch just before each PPO update) and embedded by one
Linear + tanh layer (Gridworld 16 and 16, else 64 and 64), shared by actor and critic, which are separate tanh
MLPs on the concatenated embeddings (Gridworld [32], the point robot [128, 128, 128]). Hidden layers are
``normc``-initialised (each output unit's weights drawn N(0, 1) and scaled to norm 5/3) with zero bias; the
value head keeps PyTorch's default initialisation. Discrete actions: a categorical head, orthogonal with gain
0.01. Continuous actions: a Gaussian whose mean head is normc (gain 1) and whose log-std is one
state-independent parameter initialised at 0 (std floored at 1e-6); actions are unbounded (the environment
clips them; the belief sees the clipped action). Evaluation acts deterministically (argmax / the mean, clipped).

**PPO** (:func:`ppo_update`). Advantages by GAE(γ, λ) over the whole BAMDP trial (:func:`gae`): the only
terminal is the trial's end, so credit flows across episode boundaries; ``cut_at_episode_end`` reproduces the
official proper-time-limit handling of the point robot (the advantage of each episode's last step is zeroed
and GAE restarts there). Advantages are normalised over the whole batch. The "old" log-probabilities are
recomputed at update time with the current network after its input statistics were refreshed (the
official code does so too). For ``epochs`` passes over ``minibatches`` random minibatches: clipped ratio
loss L_clip, value loss L_V = 0.5 · max(Huber(V, R), Huber(V_old + clip(V − V_old, ±ε), R)) (the value clip
reuses the policy's ε), loss = ``value_coef`` · L_V + L_clip − ``entropy_coef`` · H, gradient norm clipped at
``max_grad_norm``, Adam (eps 1e-8). Rewards for PPO only are divided by the running standard deviation of the
discounted return (:class:`ReturnNormaliser`: no mean subtraction, clipped to ±10, the return reset at trial
end); the VAE sees raw rewards.
"""

from __future__ import annotations

import math

import torch
from torch import nn

TANH_GAIN = 5.0 / 3.0
"""``nn.init.calculate_gain("tanh")``: the normc scale of the hidden layers."""


def normc_(layer: nn.Linear, gain: float = 1.0) -> nn.Linear:
    """Each output unit's weights N(0, 1), rescaled to norm ``gain``; bias 0."""
    with torch.no_grad():
        layer.weight.normal_(0.0, 1.0)
        layer.weight.mul_(gain / layer.weight.pow(2).sum(1, keepdim=True).sqrt())
        layer.bias.zero_()
    return layer


class RunningMeanStd(nn.Module):
    """Running mean and variance of a stream of batches (the parallel update of Chan et al.), as buffers so
    they are saved with the network."""

    def __init__(self, dim: int | tuple[int, ...] = ()):
        super().__init__()
        shape = (dim,) if isinstance(dim, int) else dim
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold in a batch ``(B, *shape)``."""
        x = x.to(torch.float64)
        b_mean, b_var, b_count = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = b_mean - self.mean, self.count + b_count
        m2 = self.var * self.count + b_var * b_count + delta.pow(2) * self.count * b_count / total
        self.mean.add_(delta * b_count / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).to(x.dtype)


def tanh_mlp(sizes: list[int]) -> nn.Sequential:
    """Linear + tanh layers (normc, gain 5/3, zero bias) through ``sizes``."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [normc_(nn.Linear(a, b), TANH_GAIN), nn.Tanh()]
    return nn.Sequential(*layers)


class BeliefPolicy(nn.Module):
    """Actor and critic on (state, belief) (module docstring). ``n_actions`` for a categorical policy, else
    ``act_dim`` for a Gaussian one."""

    def __init__(self, obs_dim: int, latent_dim: int, time_dim: int, state_embed: int, latent_embed: int,
                 actor_hidden: tuple[int, ...], critic_hidden: tuple[int, ...], n_actions: int | None = None,
                 act_dim: int | None = None, norm_inputs: bool = True):
        super().__init__()
        if (n_actions is None) == (act_dim is None):
            raise ValueError("BeliefPolicy: give exactly one of n_actions (categorical) and act_dim (Gaussian)")
        self.obs_dim, self.latent_dim, self.norm_inputs = obs_dim, latent_dim, norm_inputs
        state_dim = obs_dim + time_dim
        self.discrete = n_actions is not None
        self.state_norm, self.latent_norm = RunningMeanStd(state_dim), RunningMeanStd(latent_dim)
        self.state_emb = tanh_mlp([state_dim, state_embed])
        self.latent_emb = tanh_mlp([latent_dim, latent_embed])
        joint = state_embed + latent_embed
        self.actor = tanh_mlp([joint, *actor_hidden])
        self.critic = tanh_mlp([joint, *critic_hidden])
        self.value_head = nn.Linear(([joint, *critic_hidden])[-1], 1)
        last = ([joint, *actor_hidden])[-1]
        if self.discrete:
            self.head = nn.Linear(last, n_actions)
            nn.init.orthogonal_(self.head.weight, gain=0.01)
            nn.init.zeros_(self.head.bias)
        else:
            self.head = normc_(nn.Linear(last, act_dim))
            self.log_std = nn.Parameter(torch.zeros(act_dim))

    def update_normalisers(self, hyper: torch.Tensor) -> None:
        """Refresh the input statistics from a batch of hyper-states ``(B, d)``."""
        state, latent = self.split(hyper)
        self.state_norm.update(state)
        self.latent_norm.update(latent)

    def split(self, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A hyper-state [s, μ, log σ²(, time)] as the state input [s(, time)] and the belief input [μ, log σ²]."""
        end = self.obs_dim + self.latent_dim
        return torch.cat([hyper[..., : self.obs_dim], hyper[..., end:]], -1), hyper[..., self.obs_dim : end]

    def forward(self, hyper: torch.Tensor):
        """(action-distribution parameters, value ``(B,)``)."""
        state, latent = self.split(hyper)
        if self.norm_inputs:
            state, latent = self.state_norm.normalise(state), self.latent_norm.normalise(latent)
        h = torch.cat([self.state_emb(state), self.latent_emb(latent)], -1)
        value = self.value_head(self.critic(h))[..., 0]
        out = self.head(self.actor(h))
        return out, value

    def _log_prob_entropy(self, out: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.discrete:
            logp_all = torch.log_softmax(out, -1)
            logp = logp_all.gather(-1, actions.long().reshape(-1, 1))[:, 0]
            return logp, -(logp_all.exp() * logp_all).sum(-1)
        std = self.log_std.exp().clamp_min(1e-6)
        logp = (-0.5 * ((actions - out) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + std.log()).sum().expand(out.shape[0])
        return logp, entropy

    @torch.no_grad()
    def act(self, hyper: torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = False):
        """(actions, values): sampled with ``generator`` (categorical ``(B,)`` long; Gaussian ``(B, act_dim)``,
        unbounded), or the argmax / mean with ``deterministic``."""
        out, value = self(hyper)
        if self.discrete:
            if deterministic:
                return out.argmax(-1), value
            return torch.multinomial(torch.softmax(out, -1), 1, generator=generator)[:, 0], value
        if deterministic:
            return out, value
        std = self.log_std.exp().clamp_min(1e-6)
        return out + std * torch.randn(out.shape, generator=generator, device=out.device), value

    def evaluate_actions(self, hyper: torch.Tensor, actions: torch.Tensor):
        """(log-probabilities, entropies, values) of ``actions`` at ``hyper``, with gradients."""
        out, value = self(hyper)
        logp, entropy = self._log_prob_entropy(out, actions)
        return logp, entropy, value


class ReturnNormaliser:
    """PPO's reward scaling (module docstring): r / sqrt(Var[discounted return] + 1e-8), clipped to ±10."""

    def __init__(self, n_envs: int, gamma: float):
        self.gamma = gamma
        self.rms = RunningMeanStd(())
        self.ret = torch.zeros(n_envs, dtype=torch.float64)

    def __call__(self, reward: torch.Tensor, trial_end: bool) -> torch.Tensor:
        self.ret = self.ret * self.gamma + reward.to(torch.float64)
        self.rms.update(self.ret)
        out = (reward / torch.sqrt(self.rms.var + 1e-8)).clamp(-10.0, 10.0).to(reward.dtype)
        if trial_end:
            self.ret.zero_()
        return out

    def state_dict(self) -> dict:
        return {"rms": self.rms.state_dict(), "ret": self.ret.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.rms.load_state_dict(state["rms"])
        self.ret = state["ret"].clone()


def gae(rewards: torch.Tensor, values: torch.Tensor, trial_end: torch.Tensor, episode_end: torch.Tensor,
        gamma: float, lam: float, cut_at_episode_end: bool = False) -> torch.Tensor:
    """Returns R_t = A_t + V_t by GAE for rollouts ``(S, n)`` that end at a trial's end; ``trial_end[t]`` /
    ``episode_end[t]`` are 1 where step t ended the trial / an episode (module docstring)."""
    S = rewards.shape[0]
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(S)):
        live = 1.0 - trial_end[t]
        next_value = values[t + 1] if t + 1 < S else torch.zeros_like(values[t])
        delta = rewards[t] + gamma * next_value * live - values[t]
        running = delta + gamma * lam * live * running
        if cut_at_episode_end:
            running = running * (1.0 - episode_end[t])
        returns[t] = running + values[t]
    return returns


def huber(x: torch.Tensor) -> torch.Tensor:
    """Huber loss of ``x`` with threshold 1 (PyTorch's smooth L1), elementwise."""
    return torch.nn.functional.smooth_l1_loss(x, torch.zeros_like(x), reduction="none")


def ppo_update(policy: BeliefPolicy, optim: torch.optim.Optimizer, hyper: torch.Tensor, actions: torch.Tensor,
               values: torch.Tensor, returns: torch.Tensor, epochs: int, minibatches: int, clip: float,
               value_coef: float, entropy_coef: float, max_grad_norm: float,
               generator: torch.Generator | None = None) -> dict[str, float]:
    """PPO epochs on a flat batch ``(N, ·)`` (module docstring); returns the mean losses. Only ``optim``'s
    parameters (the policy's) change: the belief inputs are data here."""
    with torch.no_grad():
        old_logp, _, _ = policy.evaluate_actions(hyper, actions)
    adv = returns - values
    adv = (adv - adv.mean()) / (adv.std() + 1e-5)
    N = hyper.shape[0]
    size = N // minibatches
    logs: dict[str, list[float]] = {"ppo_value_loss": [], "ppo_policy_loss": [], "ppo_entropy": []}
    for _ in range(epochs):
        perm = torch.randperm(N, generator=generator, device=hyper.device)
        for m in range(minibatches):
            idx = perm[m * size : (m + 1) * size if m < minibatches - 1 else N]
            logp, entropy, v = policy.evaluate_actions(hyper[idx], actions[idx])
            ratio = torch.exp(logp - old_logp[idx])
            surr = torch.minimum(ratio * adv[idx], ratio.clamp(1 - clip, 1 + clip) * adv[idx])
            policy_loss = -surr.mean()
            v_clipped = values[idx] + (v - values[idx]).clamp(-clip, clip)
            value_loss = 0.5 * torch.maximum(huber(v - returns[idx]), huber(v_clipped - returns[idx])).mean()
            loss = value_coef * value_loss + policy_loss - entropy_coef * entropy.mean()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
            optim.step()
            for k, x in (("ppo_value_loss", value_loss), ("ppo_policy_loss", policy_loss), ("ppo_entropy", entropy.mean())):
                logs[k].append(x.item())
    out = {k: float(sum(v) / len(v)) for k, v in logs.items()}
    if not all(math.isfinite(v) for v in out.values()):
        raise FloatingPointError(f"PPO loss is not finite: {out}")
    return out
