"""On-policy VariBAD (Zintgraf et al., ICLR 2020), trained online: the learner BOReL's §6 claim is measured
against. ``python -m borel_lib.online.varibad_ppo DOMAIN --profile P --seed S`` writes
``online_varibad_ppo_<domain>_seed<S>`` (:mod:`borel_lib.online.loop`). Written from the facts of the
official implementation; no code copied.

**One iteration** (:meth:`VariBADPPO.iterate`): ``n_envs`` tasks from the prior run ``policy_num_steps``
steps each (whole trials: 60 on Gridworld = one trial of 4 x 15, 120 on the Semi-circle = one trial of
2 x 60) with stochastic actions, the belief run online by the current encoder (no gradient), every finished
trial added to the VAE buffer. Once ``precollect_steps`` steps were taken: the policy's input statistics are
refreshed from the batch, returns by GAE, the PPO epochs (:func:`borel_lib.online.ppo.ppo_update`), then
``vae_updates`` VAE steps on whole trials from the buffer (:func:`borel_lib.online.common.varibad_elbo`).

**The two losses are kept apart**, as in every official VariBAD configuration (``rlloss_through_encoder``
False): PPO sees the belief as data (computed without gradient while acting), its optimiser holds the policy's
parameters only, and the encoder learns from the ELBO alone.

**Defaults (``paper``)**: the official values. Gridworld: 16 processes x 60 steps, 2 epochs of 4 minibatches,
clip 0.05, Adam 7e-4, value 0.5, entropy 0.01, γ 0.95, GAE λ 0.95, gradient norm 0.5, rewards normalised, the
policy's embeddings 16 and 16 and actor and critic [32]; 2e7 frames. Semi-circle (the official point-robot
values): 8 minibatches, clip 0.1, entropy 0.001, γ 0.99, λ 0.9, embeddings 64 and 64, actor and critic
[128, 128, 128], GAE cut at every episode end (the official proper time limits); 5e7 frames.

**Differences from the official code**, each deliberate: the Semi-circle is the BOReL paper's (H = 60, k = 2,
reward 1 inside the goal radius) rather than VariBAD's point robot (H = 100, k = 3, 1 − distance inside), and
a PPO batch is one whole trial per process (120 steps, not 200), so trials never end mid-batch and every
trial's first belief is exactly the prior; actions reach the environment clipped to the action box, and the
belief is given the clipped action (the official code encoded the unclipped one); evaluation does not touch
the reward-normalisation statistics; new trials are sampleable by the VAE at once; VariBAD's first update
also waited for iteration > 0 (immaterial once ``precollect_steps`` exceeds one iteration). The ``quick``
profile cuts the budget (:data:`borel_lib.online.common.SHARED_PROFILE_DOMAIN`) and adds the trial's clock to
the hyper-state (``time_input``, as both quick learners do), and on the Semi-circle it lets GAE run across
episode boundaries (``cut_at_episode_end`` False): the official cut stops the credit for what episode 1
found from reaching episode 1's actions, which is what the BAMDP rewards.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from borel_lib.config import ConfigError
from borel_lib.online.common import OnlineConfig, merge_presets
from borel_lib.online.loop import OnlineTrainer, learner_entry_points
from borel_lib.online.ppo import BeliefPolicy, ReturnNormaliser, gae, ppo_update


@dataclasses.dataclass(frozen=True)
class VariBADPPOConfig(OnlineConfig):
    """On-policy VariBAD (module docstring): the shared budget and belief of
    :class:`~borel_lib.online.common.OnlineConfig` and PPO's settings (defaults: the official Gridworld's)."""

    policy_num_steps: int = 60
    """Steps per process per iteration, a whole number of trials (Semi-circle 120)."""
    ppo_epochs: int = 2
    """PPO epochs per iteration."""
    ppo_minibatches: int = 4
    """Minibatches per epoch (Semi-circle 8)."""
    ppo_clip: float = 0.05
    """PPO's ratio clip, reused for the value clip (Semi-circle 0.1)."""
    policy_lr: float = 7e-4
    """Adam learning rate of the policy."""
    policy_eps: float = 1e-8
    """Adam epsilon of the policy."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus (Semi-circle 0.001)."""
    gamma: float = 0.95
    """Discount (Semi-circle 0.99)."""
    gae_lambda: float = 0.95
    """GAE λ (Semi-circle 0.9)."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip of the policy."""
    norm_rewards: bool = True
    """Divide PPO's rewards by the running std of the discounted return."""
    cut_at_episode_end: bool = False
    """Zero the advantage at every episode end and restart GAE there (the official point robot)."""
    policy_state_embed: int = 16
    """The policy's tanh embedding of the state (Semi-circle 64)."""
    policy_latent_embed: int = 16
    """The policy's tanh embedding of [μ, log σ²] (Semi-circle 64)."""
    actor_hidden: tuple[int, ...] = (32,)
    """Hidden tanh layers of the actor (Semi-circle 128 x 3)."""
    critic_hidden: tuple[int, ...] = (32,)
    """Hidden tanh layers of the critic (Semi-circle 128 x 3)."""
    norm_inputs: bool = True
    """Normalise the policy's state and belief inputs by running statistics."""

    PRESETS = merge_presets({"smoke": {"ppo_minibatches": 2, "policy_state_embed": 4, "policy_latent_embed": 4,
                                       "actor_hidden": (8,), "critic_hidden": (8,)}})
    DOMAIN = {"semicircle": {"policy_num_steps": 120, "ppo_minibatches": 8, "ppo_clip": 0.1, "entropy_coef": 0.001,
                             "gamma": 0.99, "gae_lambda": 0.9, "cut_at_episode_end": True, "policy_state_embed": 64,
                             "policy_latent_embed": 64, "actor_hidden": (128, 128, 128),
                             "critic_hidden": (128, 128, 128)}}
    PROFILE_DOMAIN = {("quick", "semicircle"): {"cut_at_episode_end": False}}

    def validate(self) -> None:
        super().validate()
        self.check_positive_fields("policy_num_steps", "ppo_epochs", "ppo_minibatches", "ppo_clip",
                                   "policy_lr", "policy_eps", "max_grad_norm", "policy_state_embed",
                                   "policy_latent_embed")
        self.check_positive_fields("value_coef", "entropy_coef", allow_zero=True)
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be in [0, 1]")


class DeterministicActor:
    """The policy acting deterministically (argmax / the mean, clipped to the action box) for evaluation."""

    def __init__(self, policy: BeliefPolicy, device: torch.device):
        self.policy, self.device = policy, device

    @torch.no_grad()
    def act(self, hyper: np.ndarray) -> np.ndarray:
        a, _ = self.policy.act(torch.as_tensor(hyper, dtype=torch.float32, device=self.device), deterministic=True)
        a = a.cpu().numpy()
        return a if self.policy.discrete else np.clip(a, -1.0, 1.0)


class VariBADPPO(OnlineTrainer):
    """On-policy VariBAD (module docstring)."""

    method = "varibad_ppo"
    config_class = VariBADPPOConfig

    def __init__(self, domain: str, config: VariBADPPOConfig, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(domain, config, seed, device)
        if config.policy_num_steps % self.T:
            raise ConfigError(f"policy_num_steps={config.policy_num_steps} must be a whole number of trials "
                              f"({self.T} steps on {domain})")
        c = config
        obs_dim = self.env.observation_space.shape[0] + 1
        self.policy_net = BeliefPolicy(
            obs_dim, 2 * c.latent_dim, 2 if c.time_input else 0, c.policy_state_embed, c.policy_latent_embed,
            c.actor_hidden, c.critic_hidden, n_actions=self.n_actions,
            act_dim=None if self.discrete else self.env.action_space.shape[0], norm_inputs=c.norm_inputs).to(self.device)
        self.optim = torch.optim.Adam(self.policy_net.parameters(), lr=c.policy_lr, eps=c.policy_eps)
        self.reward_norm = ReturnNormaliser(c.n_envs, c.gamma)

    # ----------------------------------------------------------------------------------- acting
    def _act(self, hyper: np.ndarray, t: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        a, v = self.policy_net.act(torch.as_tensor(hyper, device=self.device), self.gen)
        a = a.cpu().numpy()
        env_a = a if self.discrete else np.clip(a, -1.0, 1.0)
        return env_a, {"hyper": hyper, "raw_action": a.reshape(len(a), -1).astype(np.float32),
                       "value": v.cpu().numpy()}

    def policy(self) -> DeterministicActor:
        return DeterministicActor(self.policy_net, self.device)

    # ---------------------------------------------------------------------------------- one step
    def iterate(self) -> None:
        cfg = self.cfg
        chunks = []
        for _ in range(cfg.policy_num_steps // self.T):
            tr = self.run_trials(self._act)
            self.trials.add(obs=tr["obs"], actions=tr["actions"], rewards=tr["rewards"], next_obs=tr["next_obs"])
            chunks.append(tr)
        if self.env_steps < cfg.precollect_steps:
            return

        def time_major(key: str) -> torch.Tensor:  # (n, T, ·) chunks -> (S, n, ·)
            return torch.as_tensor(np.concatenate([np.swapaxes(c[key], 0, 1) for c in chunks]), device=self.device)

        hyper, actions, values, rewards = (time_major(k) for k in ("hyper", "raw_action", "value", "rewards"))
        t = np.arange(len(rewards)) % self.T
        trial_end = torch.as_tensor((t == self.T - 1).astype(np.float32), device=self.device)[:, None].expand_as(rewards)
        episode_end = torch.as_tensor((t % self.H == self.H - 1).astype(np.float32),
                                      device=self.device)[:, None].expand_as(rewards)
        if cfg.norm_rewards:
            rewards = torch.stack([self.reward_norm(rewards[i], bool(t[i] == self.T - 1)) for i in range(len(rewards))])
        returns = gae(rewards, values, trial_end, episode_end, cfg.gamma, cfg.gae_lambda, cfg.cut_at_episode_end)
        flat_hyper = hyper.reshape(-1, hyper.shape[-1])
        self.policy_net.update_normalisers(flat_hyper)
        losses = ppo_update(self.policy_net, self.optim, flat_hyper, actions.reshape(-1, actions.shape[-1]).squeeze(-1)
                            if self.discrete else actions.reshape(-1, actions.shape[-1]), values.reshape(-1),
                            returns.reshape(-1), cfg.ppo_epochs, cfg.ppo_minibatches, cfg.ppo_clip, cfg.value_coef,
                            cfg.entropy_coef, cfg.max_grad_norm, self.gen)
        self.log_losses(losses)
        for _ in range(cfg.vae_updates):
            self.vae_step(self.trials)

    # ------------------------------------------------------------------------------- checkpoints
    def learner_state(self) -> dict[str, Any]:
        return {"policy": self.policy_net.state_dict(), "optim": self.optim.state_dict(),
                "reward_norm": self.reward_norm.state_dict()}

    def load_learner_state(self, state: dict[str, Any]) -> None:
        self.policy_net.load_state_dict(state["policy"])
        self.optim.load_state_dict(state["optim"])
        self.reward_norm.load_state_dict(state["reward_norm"])


run_varibad_ppo, main = learner_entry_points(
    VariBADPPO, "On-policy VariBAD (PPO on the belief-augmented state), trained online; resumes a killed run.")


if __name__ == "__main__":  # run the imported module's main, so classes are borel_lib.online.varibad_ppo.*
    from borel_lib.online.varibad_ppo import main as _main

    raise SystemExit(_main())
