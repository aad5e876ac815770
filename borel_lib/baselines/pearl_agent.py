"""PEARL's agent (Rakelly et al. 2019; PEARL paper §4): the context encoder and the SAC on (s, z) that
:class:`~borel_lib.baselines.pearl.PEARLTrainer` meta-trains online (BOReL paper §6 "Main Results").

Written from the PEARL paper and a reading of what its official implementation does; no code copied.

- **Task inference** (PEARL §4.1): :class:`~borel_lib.baselines.task_encoder.ContextEncoder` maps each context
  transition (s, a, r) — plus s' with ``use_next_obs_in_context`` — to a Gaussian factor; the
  posterior q(z | c) is their product. z is drawn with the reparameterisation trick.
- **RL** (PEARL §4.2-4.3): SAC on (s, z) with twin Q(s, a, z), a state value V(s, z) and a target
  V (the official code's variant: it has no target Qs). Q regresses on
  ``reward_scale · r + γ V_target(s', z)``; V on min Q(s, ã, z) − log π(ã | s, z); the policy minimises
  log π − min Q plus 1e-3 · (mean² + log-std²). The entropy weight is 1 (``reward_scale`` plays 1/α).
  The step order is the official one: Q and encoder step, V step, Polyak update of the target V,
  policy step; all Adam at 3e-4.
- **Gradient flow**: the encoder learns only from the Q (Bellman) loss through z and from the KL
  information bottleneck ``kl_lambda · KL(q(z|c) ‖ N(0, I))``, *summed* over tasks and latent dims;
  the policy and V see z detached.
- ``oracle_task`` (``task_dim`` given): z is replaced by the true task vector (no encoder, no KL).
- :class:`TaskBuffers`: the per-task replay buffers the trainer fills (RL data and recent context data).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from borel_lib.agents import EnsembleMLP, make_generators, soft_update, tanh_gaussian
from borel_lib.baselines.common import single_forward
from borel_lib.baselines.task_encoder import ContextEncoder, kl_to_prior, sample_gaussian

if TYPE_CHECKING:
    from borel_lib.baselines.pearl import PEARLConfig


class PEARLAgent(nn.Module):
    """Encoder, policy, twin Q, V and target V of PEARL (module docstring).

    This is written here rather than reusing :class:`~borel_lib.agents.EnsembleSAC` because PEARL's
    SAC differs in ways that class cannot express: the critic loss carries the encoder's gradient and
    the KL term, the actor and V must see z detached, there is a V network with the only target
    network, and the policy has its own regularisers. The layers (:class:`EnsembleMLP`, with the
    official initialisation) and the tanh-Gaussian are shared with it.
    """

    LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0

    def __init__(self, obs_dim: int, act_dim: int, context_dim: int, config: PEARLConfig, seed: int = 0,
                 device: torch.device | str = "cpu", task_dim: int | None = None):
        super().__init__()
        self.cfg, self.act_dim, self.device = config, act_dim, torch.device(device)
        self.oracle = task_dim is not None
        L = task_dim if self.oracle else config.latent_dim
        self.latent_dim = L
        init = make_generators([seed, seed + 1, seed + 2, seed + 3], torch.device("cpu"))
        self.encoder = None if self.oracle else ContextEncoder(context_dim, L, config.encoder_hidden, seed + 4)
        self.policy = EnsembleMLP(1, obs_dim + L, config.hidden, 2 * act_dim, last_init=1e-3)
        self.q = EnsembleMLP(2, obs_dim + act_dim + L, config.hidden, 1, last_init=3e-3)
        self.v = EnsembleMLP(1, obs_dim + L, config.hidden, 1, last_init=3e-3)
        self.policy.reset_parameters(init[:1])
        self.q.reset_parameters(init[1:3])
        self.v.reset_parameters(init[3:])
        self.v_target = EnsembleMLP(1, obs_dim + L, config.hidden, 1)
        self.v_target.load_state_dict(self.v.state_dict())
        self.to(self.device)
        q_params = list(self.q.parameters()) + ([] if self.encoder is None else list(self.encoder.parameters()))
        self.q_optim = torch.optim.Adam(q_params, lr=config.lr)
        self.v_optim = torch.optim.Adam(self.v.parameters(), lr=config.lr)
        self.policy_optim = torch.optim.Adam(self.policy.parameters(), lr=config.lr)
        self.generator = make_generators([seed + 5], self.device)[0]

    # ------------------------------------------------------------------------------ inference
    def posterior(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | c) for contexts ``(B, C, context_dim)``: mean and variance ``(B, L)``."""
        assert self.encoder is not None
        return self.encoder(context)

    def prior(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.zeros(n, self.latent_dim, device=self.device),
                torch.ones(n, self.latent_dim, device=self.device))

    def sample_z(self, mu: torch.Tensor, var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One z per row (reparameterised)."""
        return sample_gaussian(mu, var, generator or self.generator)

    # --------------------------------------------------------------------------------- policy
    def _dist(self, obs: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = single_forward(self.policy, torch.cat([obs, z], -1))
        return out[..., : self.act_dim], out[..., self.act_dim :].clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def _sample(self, obs: torch.Tensor, z: torch.Tensor):
        mean, log_std = self._dist(obs, z)
        noise = torch.randn(mean.shape, generator=self.generator, device=self.device)
        action, logp = tanh_gaussian(mean, log_std, noise)
        return action, logp, mean, log_std

    @torch.no_grad()
    def act(self, obs: np.ndarray, z: torch.Tensor, deterministic: bool = False) -> np.ndarray:
        """Actions ``(n, act_dim)`` for observations ``(n, obs_dim)`` and latents ``(n, L)``."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        a = torch.tanh(self._dist(o, z)[0]) if deterministic else self._sample(o, z)[0]
        return a.detach().cpu().numpy()

    def _q(self, obs: torch.Tensor, act: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, act, z], -1)
        flat = x.reshape(1, -1, x.shape[-1])
        return self.q(torch.cat([flat, flat]))[..., 0].reshape(2, *x.shape[:-1])

    # --------------------------------------------------------------------------------- update
    def update(self, batch: dict[str, torch.Tensor], context: torch.Tensor | None,
               tasks: torch.Tensor | None = None) -> dict[str, float]:
        """One PEARL step. ``batch`` fields ``(B, b, ·)`` (``rl_rewards`` the SAC reward), ``context``
        ``(B, C, context_dim)``; ``tasks`` ``(B, task_dim)`` replaces z in oracle mode."""
        cfg = self.cfg
        obs, act, nxt = batch["obs"], batch["actions"], batch["next_obs"]
        B, b = obs.shape[:2]
        if self.oracle:
            z_task, kl = tasks, torch.zeros((), device=self.device)
        else:
            mu, var = self.posterior(context)
            z_task = self.sample_z(mu, var)
            kl = cfg.kl_lambda * kl_to_prior(mu, var).sum()
        z = z_task[:, None].expand(B, b, z_task.shape[-1])
        zd = z.detach()
        with torch.no_grad():
            target = cfg.reward_scale * batch["rl_rewards"] + cfg.gamma * single_forward(self.v_target, torch.cat([nxt, zd], -1))[..., 0]
        q_pred = self._q(obs, act, z)
        q_loss = ((q_pred - target) ** 2).mean((1, 2)).sum()
        self.q_optim.zero_grad(set_to_none=True)
        (q_loss + kl).backward()
        self.q_optim.step()

        new_a, logp, mean, log_std = self._sample(obs, zd)
        min_q = self._q(obs, new_a, zd).min(0).values
        v_pred = single_forward(self.v, torch.cat([obs, zd], -1))[..., 0]
        v_loss = ((v_pred - (min_q - logp).detach()) ** 2).mean()
        self.v_optim.zero_grad(set_to_none=True)
        v_loss.backward()
        self.v_optim.step()
        soft_update(self.v_target, self.v, cfg.tau)

        policy_loss = (logp - min_q).mean() + cfg.policy_reg * (mean.pow(2).mean() + log_std.pow(2).mean())
        self.policy_optim.zero_grad(set_to_none=True)
        policy_loss.backward()
        self.policy_optim.step()
        out = {"q_loss": q_loss.item(), "kl": kl.item(), "v_loss": v_loss.item(), "policy_loss": policy_loss.item()}
        bad = [k for k, v in out.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(f"PEARL loss {bad} is not finite")
        return out

    # ---------------------------------------------------------------------------- persistence
    def full_state_dict(self) -> dict[str, Any]:
        return {"model": self.state_dict(), "q_optim": self.q_optim.state_dict(), "v_optim": self.v_optim.state_dict(),
                "policy_optim": self.policy_optim.state_dict(), "generator": self.generator.get_state()}

    def load_full_state_dict(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        for name in ("q_optim", "v_optim", "policy_optim"):
            getattr(self, name).load_state_dict(state[name])
        self.generator.set_state(state["generator"].cpu())


class TaskBuffers:
    """One growable replay buffer per task (numpy, on the CPU): arrays ``(capacity, dim)`` per field."""

    FIELDS = ("obs", "actions", "rewards", "rl_rewards", "next_obs")

    def __init__(self, n_tasks: int):
        self.data: list[dict[str, np.ndarray] | None] = [None] * n_tasks
        self.size = np.zeros(n_tasks, dtype=np.int64)

    def add(self, task: int, **fields: np.ndarray) -> None:
        """Append T transitions (every field ``(T, ...)``) to ``task``'s buffer."""
        T = len(fields["rewards"])
        store, n = self.data[task], int(self.size[task])
        if store is None or n + T > len(store["rewards"]):
            cap = max(2 * (n + T), 256)
            grown = {k: np.zeros((cap, *np.shape(v)[1:]), np.float32) for k, v in fields.items()}
            if store is not None:
                for k in grown:
                    grown[k][:n] = store[k][:n]
            store = self.data[task] = grown
        for k in self.FIELDS:
            store[k][n : n + T] = fields[k]
        self.size[task] = n + T

    def clear(self, task: int) -> None:
        self.size[task] = 0

    def sample(self, tasks: np.ndarray, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch`` transitions per task in ``tasks`` (uniform, with replacement): arrays ``(B, batch, ...)``."""
        out: dict[str, list[np.ndarray]] = {k: [] for k in self.FIELDS}
        for t in tasks:
            if self.size[t] == 0:
                raise RuntimeError(f"TaskBuffers.sample: task {t}'s buffer is empty")
            idx = rng.integers(0, self.size[t], batch)
            for k in self.FIELDS:
                out[k].append(self.data[t][k][idx])
        return {k: np.stack(v) for k, v in out.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size.copy(),
                "data": [None if d is None else {k: v[: self.size[i]].copy() for k, v in d.items()}
                         for i, d in enumerate(self.data)]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size = np.zeros(len(state["size"]), np.int64)
        self.data = [None] * len(state["size"])
        for i, d in enumerate(state["data"]):
            if d is not None and len(d["rewards"]):
                self.add(i, **d)
