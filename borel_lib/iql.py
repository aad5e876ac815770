"""Implicit Q-learning on hyper-states: an in-sample offline learner for BOReL's stage 3 (ours; paper §3.2).

The paper trains SAC (with CQL for Table 1) on the state-relabelled data. On Ant-Semi-circle our offline SAC,
given the true goal instead of a belief (``scripts/probe_ant_goal_known.py``), walks to the goal disc but does
not stay in it: its actor maximises a critic that is queried at actions the data never took, and those
extrapolated values favour moving on. Implicit Q-learning (Kostrikov, Nair & Levine, "Offline Reinforcement
Learning with Implicit Q-Learning", ICLR 2022) never queries an action outside the data:

- a state value V(s) is fitted by *expectile* regression (expectile ``iql_expectile`` = τ) to the target critics'
  min Q(s, a) at the data's own actions: ``L_V = E |τ − 1(Q − V < 0)| · (Q − V)²``, so V approaches the best
  value the data's actions reach in s as τ → 1 (τ = 0.5 is the mean: SARSA);
- the twin critics regress on ``r + γ (1 − d) V(s')`` (no action is sampled at s');
- the policy is extracted by advantage-weighted regression on the data's actions:
  ``L_π = −E exp(β (Q(s, a) − V(s))) · log π(a | s)`` with temperature β = ``iql_temperature`` and the weight
  clipped at 100, as the authors' code does.

The AntMaze settings of the IQL paper (the closest published task: an Ant reaching goals from logged
navigation data, sparse reward) are the defaults: τ = 0.9, β = 10. Their other AntMaze choices are not taken:
the reward shift r − 1 (ours keeps the domains' rewards, so the returns stay the paper's metric) and the
cosine learning-rate decay of the actor. The networks, their initialisation, the tanh-Gaussian policy, the
deterministic action tanh(mean) and the soft target update are :class:`~borel_lib.agents.EnsembleSAC`'s. As in
the IQL authors' code, the policy whose log-likelihood the actor maximises is a Gaussian in *action space*,
N(tanh(μ(s)), σ(s)²), not the tanh-squashed Gaussian SAC samples from: under the squashed one a logged action
near ±1 (the collectors' SAC saturates often) has ``atanh(a)`` far out, and those few actions pulled the mean
into saturation (a first goal-known Ant probe, stopped at 6k updates: control costs grew from −38 to −64 per
episode, no goal reached). No entropy term, so no α.

Chosen with ``OfflineRLConfig(algo="iql")`` (``--rl algo=iql``); everything else about the offline stage
(meta-batches, hyper-states, evaluation) is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from borel_lib.agents import EnsembleMLP, EnsembleSAC, SACConfig, descend, soft_update, td_error_loss

WEIGHT_CLIP = 100.0
"""Largest advantage weight exp(β·A) (the IQL authors' clip)."""


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """``|τ − 1(diff < 0)| · diff²`` averaged over the last dimension: the asymmetric squared loss whose
    minimiser over a constant V is the τ-expectile of the targets (``diff = target − V``)."""
    weight = torch.where(diff < 0, 1.0 - expectile, expectile)
    return (weight * diff.pow(2)).mean(-1)


class EnsembleIQL(EnsembleSAC):
    """E independent IQL learners (module docstring) with EnsembleSAC's networks plus a state value V."""

    def __init__(self, obs_dim: int, act_dim: int, seeds: Sequence[int], config: SACConfig,
                 expectile: float = 0.9, temperature: float = 10.0, device: torch.device | str = "cpu"):
        if config.target_entropy is not None:
            raise ValueError(f"target_entropy={config.target_entropy}: IQL has no entropy term (set it to None)")
        super().__init__(obs_dim, act_dim, seeds, config, device)
        self.expectile, self.temperature = float(expectile), float(temperature)
        self.value = EnsembleMLP(self.E, obs_dim, config.hidden, 1, last_init=3e-3)
        self.value.reset_parameters(self.generators)
        self.value.to(self.device)
        self.value_optim = torch.optim.Adam(self.value.parameters(), lr=config.critic_lr)

    def log_prob(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """log π(a | s) ``(E, B)`` of given actions under the IQL authors' policy: a Gaussian *in action space*
        with mean tanh(μ(s)) and the actor's σ(s) (module docstring)."""
        mean, log_std = self._dist(obs)
        z = (action - torch.tanh(mean)) / log_std.exp()
        return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def update(self, batch: dict[str, torch.Tensor], cql_alpha: float = 0.0, cql_samples: int = 10,
               bc_weight: float = 0.0) -> dict[str, torch.Tensor]:
        """One value, critic and actor step for every member (module docstring); per-member losses ``(E,)``.
        ``cql_alpha`` and ``bc_weight`` are SAC's options and must be 0 here."""
        if cql_alpha or bc_weight:
            raise ValueError("IQL takes no cql_alpha or bc_weight (its policy learns from the data's actions only)")
        cfg = self.config
        obs, act, rew = batch["obs"], batch["actions"], batch["rewards"]
        nxt, done = batch["next_obs"], batch["dones"]
        with torch.no_grad():
            q_data, _ = self._q(self.critic_target, obs, act)
        v = self.value(obs)[..., 0]
        value_loss = expectile_loss(q_data - v, self.expectile)
        descend(self.value_optim, value_loss, cfg.max_grad_norm)

        with torch.no_grad():  # the updated V, as the IQL authors' code: for the actor's advantage and the backup
            adv = q_data - self.value(obs)[..., 0]
            target = rew + cfg.gamma * (1 - done) * self.value(nxt)[..., 0]
        _, q_both = self._q(self.critic, obs, act)
        critic_loss_m = td_error_loss(q_both, torch.cat([target, target]), cfg.td_loss)
        critic_loss = critic_loss_m[: self.E] + critic_loss_m[self.E :]
        descend(self.critic_optim, critic_loss, cfg.max_grad_norm)
        soft_update(self.critic_target, self.critic, cfg.tau)

        weight = torch.exp(self.temperature * adv).clamp(max=WEIGHT_CLIP)
        actor_loss = -(weight * self.log_prob(obs, act)).mean(-1)
        descend(self.actor_optim, actor_loss, cfg.max_grad_norm)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "value_loss": value_loss.detach(), "advantage": adv.mean(-1),
                "weight_clipped": (weight >= WEIGHT_CLIP).float().mean(-1)}

    def full_state_dict(self) -> dict[str, Any]:
        return {**super().full_state_dict(), "value_optim": self.value_optim.state_dict()}

    def load_full_state_dict(self, state: dict[str, Any]) -> None:
        super().load_full_state_dict(state)
        self.value_optim.load_state_dict(state["value_optim"])
