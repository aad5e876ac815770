"""The per-task offline policies MBML distils: one BCQ agent (Fujimoto et al. 2019) per training task
(MBML paper §4, step 1 of :mod:`~borel_lib.baselines.mbml`; BOReL paper §6).

Written from the BCQ and MBML papers and a reading of what MBML's official implementation does; no code
copied. Every agent trains on its own task's transitions of the offline dataset. All N agents are stacked
into one :class:`EnsembleBCQ` (leading member dimension, as :mod:`borel_lib.agents` does for SAC): a
generative VAE over the data's actions, a perturbation network ξ(s, a) of at most ``bcq_phi`` and twin
critics whose target is ``λ min + (1 − λ) max`` over the target critics, maximised over ``bcq_candidates``
VAE actions. The official code keeps the BCQ checkpoint with the best *online* evaluation; that needs
environment steps, so we keep the final one. The trained agents are MBML's *teachers*
(:meth:`EnsembleBCQ.teacher`); :func:`member_forward` applies any one task's networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from borel_lib.agents import EnsembleMLP, make_generators, per_member, soft_update

if TYPE_CHECKING:
    from borel_lib.baselines.mbml import MBMLConfig


def member_forward(net: EnsembleMLP, members: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply the members ``members`` ``(B,)`` of ``net`` to inputs ``(B, n, in)`` (gathered weights)."""
    for j, layer in enumerate(net.layers):
        x = torch.baddbmm(layer.bias[members], x, layer.weight[members])
        if j < len(net.layers) - 1:
            x = torch.relu(x)
    return x


def _randn(generators, shape) -> torch.Tensor:
    return per_member(generators, lambda g: torch.randn(shape, generator=g, device=g.device))


class EnsembleBCQ(nn.Module):
    """N independent BCQ agents (module docstring); actions in [-1, 1]^act_dim."""

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: MBMLConfig,
                 device: torch.device | str = "cpu"):
        super().__init__()
        c = config
        self.E, self.act_dim, self.cfg, self.latent = len(seeds), act_dim, config, 2 * act_dim
        self.device = torch.device(device)
        self.generators = make_generators(seeds, self.device)
        cpu = make_generators(seeds, torch.device("cpu"))
        cpu2 = make_generators([s + 7919 for s in seeds], torch.device("cpu"))
        self.actor = EnsembleMLP(self.E, obs_dim + act_dim, c.bcq_actor_hidden, act_dim)
        self.critic = EnsembleMLP(2 * self.E, obs_dim + act_dim, c.bcq_critic_hidden, 1)
        self.vae_enc = EnsembleMLP(self.E, obs_dim + act_dim, c.bcq_vae_hidden, 2 * self.latent)
        self.vae_dec = EnsembleMLP(self.E, obs_dim + self.latent, c.bcq_vae_hidden, act_dim)
        self.actor.reset_parameters(cpu)
        self.critic.reset_parameters(cpu + cpu2)
        self.vae_enc.reset_parameters(cpu)
        self.vae_dec.reset_parameters(cpu)
        self.actor_target = EnsembleMLP(self.E, obs_dim + act_dim, c.bcq_actor_hidden, act_dim)
        self.critic_target = EnsembleMLP(2 * self.E, obs_dim + act_dim, c.bcq_critic_hidden, 1)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.to(self.device)
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=c.lr)
        self.critic_optim = torch.optim.Adam(self.critic.parameters(), lr=c.lr)
        self.vae_optim = torch.optim.Adam([*self.vae_enc.parameters(), *self.vae_dec.parameters()], lr=c.lr)

    def clipped_noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        """ν ~ N(0, I) clipped to ±0.5 per member: the VAE's sampling latent."""
        return _randn(self.generators, shape).clamp(-0.5, 0.5)

    def decode(self, obs: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.vae_dec(torch.cat([obs, nu], -1)))

    def perturb(self, net: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return (action + self.cfg.bcq_phi * torch.tanh(net(torch.cat([obs, action], -1)))).clamp(-1.0, 1.0)

    def _twin(self, net: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], -1)
        q = net(torch.cat([x, x]))[..., 0]
        return q[: self.E], q[self.E :]

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One VAE, critic and actor step for every member; inputs ``(E, b, ·)``."""
        c = self.cfg
        obs, act, rew, nxt = batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"]
        E, b = obs.shape[:2]
        out = self.vae_enc(torch.cat([obs, act], -1))
        mu, log_std = out[..., : self.latent], out[..., self.latent :].clamp(-4.0, 15.0)
        std = log_std.exp()
        recon = self.decode(obs, mu + std * _randn(self.generators, mu.shape[1:]))
        kl = -0.5 * (1 + 2 * log_std - mu.pow(2) - std.pow(2)).mean((1, 2))
        vae_loss = ((recon - act) ** 2).mean((1, 2)) + 0.5 * kl
        self.vae_optim.zero_grad(set_to_none=True)
        vae_loss.sum().backward()
        self.vae_optim.step()

        n = c.bcq_candidates
        with torch.no_grad():
            nxt_rep = nxt.repeat_interleave(n, 1)
            cand = self.perturb(self.actor_target, nxt_rep, self.decode(nxt_rep, self.clipped_noise((b * n, self.latent))))
            q1, q2 = self._twin(self.critic_target, nxt_rep, cand)
            tq = (c.bcq_lambda * torch.minimum(q1, q2) + (1 - c.bcq_lambda) * torch.maximum(q1, q2))
            target = rew + c.gamma * tq.reshape(E, b, n).max(-1).values  # no terminal states in these domains
        q1, q2 = self._twin(self.critic, obs, act)
        critic_loss = ((q1 - target) ** 2).mean(1) + ((q2 - target) ** 2).mean(1)
        self.critic_optim.zero_grad(set_to_none=True)
        critic_loss.sum().backward()
        self.critic_optim.step()

        with torch.no_grad():
            sampled = self.decode(obs, self.clipped_noise((b, self.latent)))
        actor_loss = -self._twin(self.critic, obs, self.perturb(self.actor, obs, sampled))[0].mean(1)
        self.actor_optim.zero_grad(set_to_none=True)
        actor_loss.sum().backward()
        self.actor_optim.step()
        soft_update(self.critic_target, self.critic, c.tau)
        soft_update(self.actor_target, self.actor, c.tau)
        return {"vae_loss": vae_loss.mean().item(), "critic_loss": critic_loss.mean().item(),
                "actor_loss": actor_loss.mean().item()}

    @torch.no_grad()
    def teacher(self, members: torch.Tensor, obs: torch.Tensor, act: torch.Tensor, nu: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        """For tasks ``members`` ``(B,)``: Q1(s, a), the decoder's candidate ã = G(s, ν) and the
        perturbed ξ(s, ã); inputs ``(B, b, ·)``."""
        q1 = member_forward(self.critic, members, torch.cat([obs, act], -1))[..., 0]
        cand = torch.tanh(member_forward(self.vae_dec, members, torch.cat([obs, nu], -1)))
        xi = (cand + self.cfg.bcq_phi * torch.tanh(member_forward(self.actor, members, torch.cat([obs, cand], -1))))
        return {"q1": q1, "candidate": cand, "perturbed": xi.clamp(-1.0, 1.0)}

    @torch.no_grad()
    def act(self, members: torch.Tensor, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """BCQ's action for tasks ``members`` ``(n,)`` at ``obs`` ``(n, d)``: ``bcq_candidates`` decoder
        samples (ν clipped to ±0.5) perturbed by ξ, the argmax of Q1."""
        n, m = obs.shape[0], self.cfg.bcq_candidates
        o = obs[:, None].expand(n, m, obs.shape[-1])
        nu = torch.randn((n, m, self.latent), generator=generator, device=obs.device).clamp(-0.5, 0.5)
        cand = torch.tanh(member_forward(self.vae_dec, members, torch.cat([o, nu], -1)))
        pert = (cand + self.cfg.bcq_phi * torch.tanh(member_forward(self.actor, members, torch.cat([o, cand], -1))))
        pert = pert.clamp(-1.0, 1.0)
        best = member_forward(self.critic, members, torch.cat([o, pert], -1))[..., 0].argmax(1)  # Q1: members < E
        return pert[torch.arange(n, device=obs.device), best]
