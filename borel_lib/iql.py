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

**A mixture policy** (ours; ``components`` = ``iql_components`` > 1): where the logged actions of one hyper-state
are several distinct behaviours of equal value (on Ant-Semi-circle at the prior belief: the collectors' walks
towards goals all along the arc), advantage-weighted regression onto one Gaussian fits their average, which may be
no behaviour at all (a gait averaged over directions does not walk). With K components the policy is
``π(a | s) = Σ_k w_k(s) N(a; tanh(μ_k(s)), σ_k(s)²)`` (a mixture density network, Bishop 1994) and the same
weighted log-likelihood is maximised, so each mode of the logged actions can keep a component of its own. The
deterministic action is the mean tanh(μ_k) of the heaviest component (one mode, not their average); a sampled
action first draws a component by its weight. The components' initial means are spread uniformly in
[−1/2, 1/2] before the tanh (identical components would stay identical under the symmetric loss), and their
initial σ is about 0.22 (the midpoint of the ``tanh`` log-std range; with the clamped one a raw log-std near 0
starts every component at σ ≈ 1, wide enough to cover all the modes, and the fit can settle on the symmetric
saddle where every component sits on their average: ``tests/test_iql.py`` shows it). K = 1 is the IQL
authors' policy, bit for bit.

**SAC's actor on IQL's critics** (ours; ``extraction`` = ``iql_extraction`` = ``"sac"``): the value and the critics
are learnt in-sample as above, but the policy is SAC's tanh-squashed Gaussian trained by SAC's reparametrised step,
``E[α log π(ã | s) − min Q(s, ã)]``, ã ~ π (α fixed or tuned towards ``target_entropy``; optionally TD3+BC's term,
``bc_weight``). Advantage-weighted regression is mean-seeking: where one hyper-state's logged actions are walks in
many directions (Ant-Semi-circle at the prior belief) it fits their average. Maximising a critic is mode-seeking: the
actor settles on one of the good behaviours. Because the critics never back up a policy action, the values the actor
climbs are not inflated by bootstrapping out-of-distribution actions (what made SAC's own critics overshoot the goal);
the actor still queries them off the data at the current state. Chosen with ``--rl iql_extraction=sac``.

Chosen with ``OfflineRLConfig(algo="iql")`` (``--rl algo=iql``; ``--rl iql_components=K`` for the mixture);
everything else about the offline stage (meta-batches, hyper-states, evaluation) is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from borel_lib.agents import (
    EnsembleMLP,
    EnsembleSAC,
    SACConfig,
    descend,
    per_member,
    soft_update,
    tanh_gaussian,
    td_error_loss,
)

WEIGHT_CLIP = 100.0
"""Largest advantage weight exp(β·A) (the IQL authors' clip)."""
MIXTURE_INIT_SPREAD = 0.5
"""The mixture components' initial means (before the tanh) are drawn uniformly in ±this (module docstring)."""


EXTRACTIONS = ("awr", "sac")
"""How the policy is extracted from IQL's critics: advantage-weighted regression (the IQL authors') or SAC's actor
(ours; module docstring)."""


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """``|τ − 1(diff < 0)| · diff²`` averaged over the last dimension: the asymmetric squared loss whose
    minimiser over a constant V is the τ-expectile of the targets (``diff = target − V``)."""
    weight = torch.where(diff < 0, 1.0 - expectile, expectile)
    return (weight * diff.pow(2)).mean(-1)


class EnsembleIQL(EnsembleSAC):
    """E independent IQL learners (module docstring) with EnsembleSAC's networks plus a state value V."""

    def __init__(self, obs_dim: int, act_dim: int, seeds: Sequence[int], config: SACConfig,
                 expectile: float = 0.9, temperature: float = 10.0, device: torch.device | str = "cpu",
                 components: int = 1, extraction: str = "awr"):
        if extraction not in EXTRACTIONS:
            raise ValueError(f"extraction={extraction!r}: allowed values are {EXTRACTIONS}")
        if config.target_entropy is not None and extraction == "awr":
            raise ValueError(f"target_entropy={config.target_entropy}: IQL's weighted regression has no entropy term "
                             "(set it to None, or extraction='sac')")
        if int(components) < 1:
            raise ValueError(f"components={components}: the policy needs at least one Gaussian")
        if extraction == "sac" and int(components) != 1:
            raise ValueError(f"components={components}: SAC's actor (extraction='sac') is one tanh-Gaussian")
        super().__init__(obs_dim, act_dim, seeds, config, device)
        self.expectile, self.temperature, self.extraction = float(expectile), float(temperature), extraction
        self.components = int(components)
        if self.components > 1:
            self._init_mixture_actor()
        self.value = EnsembleMLP(self.E, obs_dim, config.hidden, 1, last_init=3e-3)
        self.value.reset_parameters(self.generators)
        self.value.to(self.device)
        self.value_optim = torch.optim.Adam(self.value.parameters(), lr=config.critic_lr)

    # --------------------------------------------------------------------------------- policy
    def _init_mixture_actor(self) -> None:
        """The actor's output becomes K × (mean, log-std) and K logits; member i's weights (and its components'
        spread initial means) come from generator i, as every other network's."""
        K, A = self.components, self.act_dim
        self.actor = EnsembleMLP(self.E, self.obs_dim, self.config.hidden, K * (2 * A + 1), last_init=1e-3)
        self.actor.reset_parameters(self.generators)
        with torch.no_grad():
            spread = per_member(self.generators, lambda g: torch.rand(K, A, generator=g, device=g.device))
            bias = self.actor.layers[-1].bias  # (E, 1, K·2A + K): the means are the first K·A outputs
            bias[:, 0, : K * A] = ((2 * spread - 1) * MIXTURE_INIT_SPREAD).reshape(self.E, K * A).to(bias)
            if self.config.log_std != "tanh":  # σ ≈ 0.22 at the start, the tanh parametrisation's midpoint
                bias[:, 0, K * A : 2 * K * A] = sum(self.TANH_LOG_STD) / 2
        self.actor.to(self.device)
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=self.config.actor_lr)

    def _mixture(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The mixture's log-weights ``(E, B, K)``, pre-tanh means and log-stds ``(E, B, K, A)``."""
        K, A = self.components, self.act_dim
        out = self.actor(obs)
        mean = out[..., : K * A].unflatten(-1, (K, A))
        log_std = self._log_std(out[..., K * A : 2 * K * A].unflatten(-1, (K, A)))
        return torch.log_softmax(out[..., 2 * K * A :], -1), mean, log_std

    def _dist(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std of the policy's Gaussian; for a mixture those of its heaviest component."""
        if self.components == 1:
            return super()._dist(obs)
        log_w, mean, log_std = self._mixture(obs)
        k = log_w.argmax(-1)[..., None, None].expand(*mean.shape[:-2], 1, mean.shape[-1])
        return mean.gather(-2, k)[..., 0, :], log_std.gather(-2, k)[..., 0, :]

    def _sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A sampled action (for a mixture: a component drawn by its weight, then its tanh-Gaussian; the
        returned log-probability is that component's); noise per member."""
        if self.components == 1:
            return super()._sample(obs)
        log_w, mean, log_std = self._mixture(obs)
        shape = log_w.shape[1:]
        u = per_member(self.generators, lambda g: torch.rand(shape[:-1] + (1,), generator=g, device=g.device))
        k = (log_w.exp().cumsum(-1) < u).sum(-1).clamp(max=self.components - 1)
        k = k[..., None, None].expand(*mean.shape[:-2], 1, mean.shape[-1])
        noise = per_member(self.generators,
                           lambda g: torch.randn(mean.shape[1:-2] + mean.shape[-1:], generator=g, device=g.device))
        return tanh_gaussian(mean.gather(-2, k)[..., 0, :], log_std.gather(-2, k)[..., 0, :], noise)

    def log_prob(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """log π(a | s) ``(E, B)`` of given actions under the IQL authors' policy: a Gaussian *in action space*
        with mean tanh(μ(s)) and the actor's σ(s) (module docstring); with ``components`` > 1 the mixture of
        such Gaussians."""
        if self.components == 1:
            mean, log_std = self._dist(obs)
            z = (action - torch.tanh(mean)) / log_std.exp()
            return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_w, mean, log_std = self._mixture(obs)
        z = (action[..., None, :] - torch.tanh(mean)) / log_std.exp()
        per_component = (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return torch.logsumexp(log_w + per_component, -1)

    @torch.no_grad()
    def select(self, obs: torch.Tensor, candidates: int, generators: Sequence[torch.Generator],
               spread: float = 1.0) -> torch.Tensor:
        """The best of the policy's deterministic action and ``candidates`` actions drawn from its action-space density
        (a component by its weight, then its Gaussian, clipped to the action box), by the critics' min Q: IDQL's
        selection (Hansen-Estruch et al., 2023, "IDQL: Implicit Q-Learning as an Actor-Critic Method with Diffusion
        Policies"), which acts in the data's support like weighted regression but picks one mode where the mean would
        average them. ``obs`` ``(E, B, d)``; ``generators`` one per member (evaluation's own, so training's are
        untouched); ``spread`` scales the candidates' σ (1 = the policy's own). Returns ``(E, B, A)``."""
        obs = obs.to(self.device, torch.float32)
        E, B, A, N = obs.shape[0], obs.shape[1], self.act_dim, int(candidates)
        if self.components == 1:
            log_w = torch.zeros(E, B, 1, device=self.device)
            mean, log_std = (t[..., None, :] for t in super()._dist(obs))
        else:
            log_w, mean, log_std = self._mixture(obs)
        u = per_member(generators, lambda g: torch.rand(B, N, 1, generator=g, device=g.device))
        k = (log_w.exp().cumsum(-1)[..., None, :] < u).sum(-1).clamp(max=log_w.shape[-1] - 1)  # (E, B, N)
        pick = k[..., None].expand(E, B, N, A)
        noise = per_member(generators, lambda g: torch.randn(B, N, A, generator=g, device=g.device))
        drawn = torch.tanh(mean).gather(-2, pick) + float(spread) * log_std.exp().gather(-2, pick) * noise
        heaviest = log_w.argmax(-1)[..., None, None].expand(E, B, 1, A)  # _dist's choice, without a second forward
        first = torch.tanh(mean.gather(-2, heaviest))  # the deterministic action is always a candidate
        cand = torch.cat([first, drawn.clamp(-1.0, 1.0)], -2)  # (E, B, N + 1, A)
        q, _ = self._q(self.critic, obs[..., None, :].expand(E, B, N + 1, obs.shape[-1]).reshape(E, -1, obs.shape[-1]),
                       cand.reshape(E, -1, A))
        best = q.reshape(E, B, N + 1).argmax(-1)
        return cand.gather(-2, best[..., None, None].expand(E, B, 1, A))[..., 0, :]

    def update(self, batch: dict[str, torch.Tensor], cql_alpha: float = 0.0, cql_samples: int = 10,
               bc_weight: float = 0.0) -> dict[str, torch.Tensor]:
        """One value, critic and actor step for every member (module docstring); per-member losses ``(E,)``.
        ``cql_alpha`` is SAC's option and must be 0 here; ``bc_weight`` only with SAC's actor."""
        if cql_alpha:
            raise ValueError("IQL takes no cql_alpha (its critics never evaluate an action the data did not take)")
        if bc_weight and self.extraction == "awr":
            raise ValueError("IQL's weighted regression takes no bc_weight (it learns from the data's actions only)")
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
            target = rew + batch.get("discount", cfg.gamma) * (1 - done) * self.value(nxt)[..., 0]  # n-step: γ^k
        _, q_both = self._q(self.critic, obs, act)
        critic_loss_m = td_error_loss(q_both, torch.cat([target, target]), cfg.td_loss)
        critic_loss = critic_loss_m[: self.E] + critic_loss_m[self.E :]
        descend(self.critic_optim, critic_loss, cfg.max_grad_norm)
        soft_update(self.critic_target, self.critic, cfg.tau)

        out = {"value_loss": value_loss.detach(), "advantage": adv.mean(-1)}
        if self.extraction == "sac":
            alpha = self.alpha() if self.auto_alpha else cfg.alpha
            actor_loss, logp = self._actor_step(obs, act, alpha, bc_weight, out)
            out["log_pi"] = logp.detach().mean(-1)
        else:
            weight = torch.exp(self.temperature * adv).clamp(max=WEIGHT_CLIP)
            actor_loss = -(weight * self.log_prob(obs, act)).mean(-1)
            descend(self.actor_optim, actor_loss, cfg.max_grad_norm)
            out["weight_clipped"] = (weight >= WEIGHT_CLIP).float().mean(-1)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), **out}

    def full_state_dict(self) -> dict[str, Any]:
        return {**super().full_state_dict(), "value_optim": self.value_optim.state_dict()}

    def load_full_state_dict(self, state: dict[str, Any]) -> None:
        super().load_full_state_dict(state)
        self.value_optim.load_state_dict(state["value_optim"])
