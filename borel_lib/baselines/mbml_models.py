"""MBML's learned models besides its BCQ teachers (:mod:`~borel_lib.baselines.bcq`): the per-task
reward-model ensembles that relabel transitions across tasks (MBML paper §4; step 2 of
:mod:`~borel_lib.baselines.mbml`) and the distilled multi-task student with its task encoder, the agent
tested on unseen tasks (step 3; BOReL paper §6).

Written from the MBML paper and a reading of what its official implementation does; no code copied.

- :class:`RewardEnsembles`: per task an ensemble of ``reward_members`` MLPs on (s, a), trained on that
  task's transitions; where tasks differ in transitions (Wind) they predict the state change instead (the
  official code's next-state ensembles). Their mean relabels, their std filters
  (:meth:`~borel_lib.baselines.mbml.MBMLTrainer.distill_step`).
- :class:`MBMLAgent`: the PEARL-style product-of-Gaussians encoder (:mod:`borel_lib.baselines.task_encoder`)
  over (s, a, r, s') and the distilled Q_D(s, a, z), G_D(s, ν, z), ξ_D(s, ã, z); it acts like BCQ:
  ``bcq_candidates`` G_D samples perturbed by ξ_D, the argmax of Q_D.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from borel_lib.agents import EnsembleMLP, make_generators
from borel_lib.baselines.bcq import member_forward
from borel_lib.baselines.common import single_forward
from borel_lib.baselines.task_encoder import ContextEncoder, sample_gaussian

if TYPE_CHECKING:
    from borel_lib.baselines.mbml import MBMLConfig


class RewardEnsembles(nn.Module):
    """``reward_members`` MLPs on (s, a) per task, stacked: member ``i * K + k`` is task i's k-th. They
    predict the reward (``out_dim`` 1) or, where tasks differ in transitions, the state change s' − s
    (``out_dim`` = the state's dimension; the official code's next-state ensembles)."""

    def __init__(self, n_tasks: int, in_dim: int, config: MBMLConfig, seed: int, device: torch.device | str,
                 out_dim: int = 1):
        super().__init__()
        self.N, self.K = n_tasks, config.reward_members
        self.net = EnsembleMLP(self.N * self.K, in_dim, config.reward_hidden, out_dim)
        self.net.reset_parameters(make_generators([seed * 100_003 + m for m in range(self.N * self.K)],
                                                  torch.device("cpu")))
        self.to(device)
        self.optim = torch.optim.Adam(self.net.parameters(), lr=config.lr)

    def update(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """One MSE step; ``x`` ``(N, b, in)`` and targets ``y`` ``(N, b)`` (reward) or ``(N, b, out_dim)``:
        task i's members share its minibatch."""
        y = y[..., None] if y.dim() == 2 else y
        pred = self.net(x.repeat_interleave(self.K, 0))
        loss = ((pred - y.repeat_interleave(self.K, 0)) ** 2).sum(-1).mean(1).sum()
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.optim.step()
        return loss.item() / (self.N * self.K)

    @torch.no_grad()
    def predict(self, tasks: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ensemble mean ``(B, n)`` (reward) or ``(B, n, out_dim)`` and std ``(B, n)`` (the largest over
        output dimensions) of tasks ``tasks`` ``(B,)`` on inputs ``(B, n, in)``."""
        members = (tasks[:, None] * self.K + torch.arange(self.K, device=tasks.device)).reshape(-1)
        pred = member_forward(self.net, members, x.repeat_interleave(self.K, 0))
        pred = pred.reshape(len(tasks), self.K, x.shape[1], -1)
        mean, std = pred.mean(1), pred.std(1, unbiased=False).amax(-1)
        return (mean[..., 0] if mean.shape[-1] == 1 else mean), std


class MBMLAgent(nn.Module):
    """Encoder + distilled Q_D, G_D, ξ_D: the multi-task policy tested on unseen tasks."""

    def __init__(self, obs_dim: int, act_dim: int, config: MBMLConfig, seed: int, device: torch.device | str):
        super().__init__()
        c = config
        self.cfg, self.act_dim, self.latent_dim, self.nu_dim = c, act_dim, c.latent_dim, 2 * act_dim
        self.device = torch.device(device)
        self.context_dim = 2 * obs_dim + act_dim + 1
        self.encoder = ContextEncoder(self.context_dim, c.latent_dim, c.encoder_hidden, seed)
        L = c.latent_dim
        self.q_d = EnsembleMLP(1, obs_dim + act_dim + L, c.q_hidden, 1)
        self.g_d = EnsembleMLP(1, obs_dim + self.nu_dim + L, c.g_hidden, act_dim)
        self.xi_d = EnsembleMLP(1, obs_dim + act_dim + L, c.xi_hidden, act_dim)
        for k, net in enumerate((self.q_d, self.g_d, self.xi_d)):
            net.reset_parameters(make_generators([seed + 1 + k], torch.device("cpu")))
        self.to(self.device)
        self.q_optim = torch.optim.Adam([*self.encoder.parameters(), *self.q_d.parameters()], lr=c.lr)
        self.g_optim = torch.optim.Adam(self.g_d.parameters(), lr=c.lr)
        self.xi_optim = torch.optim.Adam(self.xi_d.parameters(), lr=c.lr)
        self.generator = make_generators([seed + 4], self.device)[0]

    def prior(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.zeros(n, self.latent_dim, device=self.device),
                torch.ones(n, self.latent_dim, device=self.device))

    def posterior(self, context: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(context, mask)

    def sample_z(self, mu: torch.Tensor, var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_gaussian(mu, var, generator or self.generator)

    def student(self, obs: torch.Tensor, nu: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G_D's candidate and ξ_D's perturbed action, inputs ``(..., ·)``."""
        cand = torch.tanh(single_forward(self.g_d, torch.cat([obs, nu, z], -1)))
        return cand, self.perturb(obs, cand, z)

    def perturb(self, obs: torch.Tensor, cand: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        pert = cand + self.cfg.bcq_phi * torch.tanh(single_forward(self.xi_d, torch.cat([obs, cand, z], -1)))
        return pert.clamp(-1.0, 1.0)

    def q(self, obs: torch.Tensor, act: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return single_forward(self.q_d, torch.cat([obs, act, z], -1))[..., 0]

    @torch.no_grad()
    def act(self, obs: np.ndarray, z: torch.Tensor, deterministic: bool = True) -> np.ndarray:
        """BCQ-style action: ``bcq_candidates`` G_D samples perturbed by ξ_D, the argmax of Q_D."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        n, m = o.shape[0], self.cfg.bcq_candidates
        o_rep, z_rep = o[:, None].expand(n, m, o.shape[-1]), z[:, None].expand(n, m, z.shape[-1])
        nu = torch.randn((n, m, self.nu_dim), generator=self.generator, device=self.device).clamp(-0.5, 0.5)
        _, a = self.student(o_rep, nu, z_rep)
        best = self.q(o_rep, a, z_rep).argmax(1)
        return a[torch.arange(n, device=self.device), best].detach().cpu().numpy()
