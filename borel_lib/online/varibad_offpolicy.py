"""Off-policy VariBAD trained online (BOReL paper §3.2 and §6: "off-policy VariBAD ... improves meta-RL in
the online setting"): the belief of on-policy VariBAD (:mod:`borel_lib.online.varibad_ppo`, the same VAE,
ELBO, buffer and VAE schedule) with this project's off-policy learners, DQN on Gridworld and SAC on the
Semi-circle (:class:`borel_lib.offline_rl.OfflineAgent`, the learner of offline BOReL), trained from a replay
of the agent's own trials. ``python -m borel_lib.online.varibad_offpolicy DOMAIN --profile P --seed S``
writes ``online_varibad_offpolicy_<domain>_seed<S>`` (:mod:`borel_lib.online.loop`).

**One iteration** (:meth:`VariBADOffPolicy.iterate`): one trial of ``n_envs`` new tasks from the prior, the
belief run online by the current encoder; uniformly random actions for the first ``precollect_steps`` steps
(BOReL's initial pool), then ε-greedy DQN (ε linear from ``eps_start`` to ``eps_end`` over
``eps_decay_steps`` steps) or SAC's stochastic policy. The trials go into one buffer of whole trials, the
replay, which is also the VAE's buffer: raw transitions and the hyper-states s⁺ = [s, μ, log σ²(, time)] and
s'⁺ built as :func:`borel_lib.state_relabel.relabel_states` builds them
(:func:`~borel_lib.online.common.trial_hyper_states`: after an episode's last step the next hyper-state
holds the next episode's start state; the trial's last step is terminal, and with ``goal_terminal`` so is a
step that reaches the goal). Then, once ``precollect_steps`` steps were taken: every ``relabel_every``
iterations the hyper-states of *every stored trial* are recomputed with the current encoder (**state
relabelling of the replay**, as offline BOReL relabels its data with the trained encoder; BOReL's online code
kept the beliefs computed at collection time, stale as the encoder changed: ``relabel_every=0``); then
``rl_updates`` DQN / SAC steps on batches of ``batch_size`` transitions uniform over the replay; then
``vae_updates`` VAE steps. The RL loss never reaches the encoder (the hyper-states are data).

**Defaults (``paper``)**: BOReL's online values scaled to an iteration of 16 trials: Gridworld DQN [100, 100],
learning rate 7e-5, γ 0.99, batch 16 x 256, 160 updates per iteration (BOReL: 250 per 25 trials, 0.17 per
environment step), ε 1 → 0.1 over 1.5M steps (BOReL: 1,000 iterations of 25 trials), 19,200 random steps
(BOReL: 20 trials for each of 16 tasks), goal terminal; Semi-circle SAC [128, 128], learning rates 7e-5,
γ 0.9, α 0.01, 640 updates per iteration (BOReL: 1,000 per 25 trials), 48,000 random steps. The VAE is
VariBAD's (the same for both learners: a comparison of the RL learners, not of the beliefs). BOReL's online
Gridworld DQN trained on privileged oracle-belief rewards; here it trains on the environment's reward, like
every other learner of this project. The ``quick`` profile uses the offline learner's measured quick settings
(:data:`borel_lib.offline_rl.RL_PROFILE_DOMAIN`: learning rate 3e-4, Gridworld 64 x 64, batch 8 x 128, the
trial's clock), the same 3 VAE steps per iteration as quick on-policy VariBAD, and relabels every 5 iterations
(:data:`OFFPOLICY_PROFILE_DOMAIN`). Gridworld keeps BOReL's 0.17 DQN updates per environment step (160 per
iteration): a first quick run with 40 (0.04 per step) was update-starved (paper's metric 1.7 at 864k steps,
35k updates, where on-policy VariBAD had 2.2, and 4–6 from 1M steps on). The Semi-circle's SAC gets 160 per
iteration of 1,920 steps (0.08 per step, a quarter of BOReL's: SAC steps cost 18 ms on one core, so BOReL's
ratio would make a quick run about 3 h of CPU). Quick Gridworld's DQN uses the Huber loss and clips its
gradient norm at 10 (DQN's usual guards, Stable-Baselines3's defaults): with the authors' squared error, two
of three quick seeds diverged (seed 1: the Q loss reached 1.6e5 near 1.3M steps; seed 2: 0.06 at 770k steps,
2.7e3 at 1.25M; the paper's metric fell from 8 to about −1 and never recovered), seed 0 did not (8.14).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from borel_lib.agents import SACHyperparameters
from borel_lib.config import ConfigError
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig
from borel_lib.online.common import OnlineConfig, merge_presets, trial_hyper_states
from borel_lib.online.loop import OnlineTrainer, learner_entry_points
from borel_lib.state_relabel import HyperStates


@dataclasses.dataclass(frozen=True)
class OffPolicyVariBADConfig(OnlineConfig, SACHyperparameters):
    """Off-policy VariBAD online (module docstring): the shared budget and belief of
    :class:`~borel_lib.online.common.OnlineConfig`, the learner's :class:`~borel_lib.agents.SACHyperparameters`
    (the DQN uses ``hidden``, ``critic_lr``, ``gamma`` and ``tau``) and its other settings (defaults: BOReL's
    online Gridworld)."""

    hidden: tuple[int, ...] = (100, 100)
    """Hidden layers of Q (and SAC's policy) (Semi-circle 128 x 128)."""
    actor_lr: float = 7e-5
    critic_lr: float = 7e-5
    gamma: float = 0.99
    """Discount (Semi-circle 0.9)."""
    double_dqn: bool = False
    """Double-DQN target (BOReL: plain DQN)."""
    goal_terminal: bool = True
    """A step that reaches the goal ends the Bellman backup (BOReL's convention)."""
    batch_size: int = 16 * 256
    """Transitions per update, uniform over the replay (BOReL: 16 tasks x 256)."""
    rl_updates: int = 160
    """DQN / SAC steps per iteration (Semi-circle 640)."""
    eps_start: float = 1.0
    """DQN's ε at the start."""
    eps_end: float = 0.1
    """DQN's final ε."""
    eps_decay_steps: int = 1_500_000
    """Environment steps over which ε falls linearly."""
    relabel_every: int = 1
    """Iterations between state relabellings of the whole replay (0 = never: BOReL's online code)."""

    PRESETS = merge_presets({"smoke": {"hidden": (8, 8), "batch_size": 32, "rl_updates": 2, "eps_decay_steps": 240,
                                       "relabel_every": 1}})
    DOMAIN = {"gridworld": {"vae_updates": 13, "precollect_steps": 19_200},
              "semicircle": {"hidden": (128, 128), "gamma": 0.9, "rl_updates": 640, "vae_updates": 16,
                             "precollect_steps": 48_000}}
    PROFILE_DOMAIN = {
        ("quick", "gridworld"): {"hidden": (64, 64), "critic_lr": 3e-4, "batch_size": 1024, "vae_updates": 3,
                                 "precollect_steps": 9_600, "eps_decay_steps": 500_000, "relabel_every": 5,
                                 "td_loss": "huber", "max_grad_norm": 10.0},
        ("quick", "semicircle"): {"critic_lr": 3e-4, "actor_lr": 3e-4, "batch_size": 1024, "rl_updates": 160,
                                  "vae_updates": 3, "precollect_steps": 19_200, "relabel_every": 5},
    }

    def validate(self) -> None:
        super().validate()
        self.check_positive_fields("batch_size", "eps_decay_steps")
        self.check_positive_fields("rl_updates", "relabel_every", allow_zero=True)
        if not 0 <= self.eps_end <= self.eps_start <= 1:
            raise ConfigError(f"need 0 <= eps_end <= eps_start <= 1; got {self.eps_end}, {self.eps_start}")

    def rl_config(self) -> OfflineRLConfig:
        """The :class:`~borel_lib.offline_rl.OfflineRLConfig` of the learner (one "task": the replay)."""
        return OfflineRLConfig(**self.sac_hyperparameters(), meta_batch=1, batch_per_task=self.batch_size,
                               double_dqn=self.double_dqn, time_input=self.time_input, goal_terminal=self.goal_terminal)


OFFPOLICY_PROFILE_DOMAIN = OffPolicyVariBADConfig.PROFILE_DOMAIN
"""The ``quick`` cuts of the off-policy learner per domain (module docstring)."""


class VariBADOffPolicy(OnlineTrainer):
    """Off-policy VariBAD online (module docstring)."""

    method = "varibad_offpolicy"
    config_class = OffPolicyVariBADConfig

    def __init__(self, domain: str, config: OffPolicyVariBADConfig, seed: int = 0, device: str | torch.device = "cpu"):
        super().__init__(domain, config, seed, device)
        act_dim = self.n_actions if self.discrete else self.env.action_space.shape[0]
        self.agent = OfflineAgent(self.state_dim + 2 * config.latent_dim, act_dim, self.discrete, config.rl_config(),
                                  seed=seed, device=self.device)

    # ----------------------------------------------------------------------------------- acting
    def epsilon(self) -> float:
        c = self.cfg
        return max(c.eps_end, c.eps_start - (c.eps_start - c.eps_end) * self.env_steps / c.eps_decay_steps)

    def _act_random(self, hyper: np.ndarray, t: int) -> tuple[np.ndarray, dict]:
        n = len(hyper)
        if self.discrete:
            return self.rng.integers(0, self.n_actions, n), {}
        return self.rng.uniform(-1.0, 1.0, (n, self.env.action_space.shape[0])).astype(np.float32), {}

    def _act(self, hyper: np.ndarray, t: int) -> tuple[np.ndarray, dict]:
        x = torch.as_tensor(hyper, dtype=torch.float32, device=self.device)[None]
        if self.discrete:
            a = self.agent.agent.act(x, epsilon=self.epsilon())
        else:
            a = self.agent.agent.act(x, deterministic=False)
        return a[0].cpu().numpy(), {}

    def policy(self) -> OfflineAgent:
        return self.agent

    # ---------------------------------------------------------------------------------- the replay
    def dones(self, next_obs: np.ndarray, tasks: np.ndarray | None = None) -> np.ndarray:
        """1 at a trial's last step and, with ``goal_terminal``, where a step reaches the goal ``(M, T)``."""
        d = np.zeros(next_obs.shape[:2], np.float32)
        d[:, -1] = 1.0
        if self.cfg.goal_terminal:
            d = np.maximum(d, self.env.is_success(next_obs[..., :-1], tasks[:, None, :]).astype(np.float32))
        return d

    def relabel(self) -> None:
        """State relabelling of the whole replay: every stored trial's hyper-states recomputed with the current
        encoder (module docstring)."""
        b = self.trials
        feats = self.belief.trials(b.view("actions"), b.view("rewards"), b.view("next_obs"))
        hobs, hnext = trial_hyper_states(b.view("obs"), b.view("next_obs"), feats, self.cfg.time_input, self.H, self.k)
        b.view("hobs")[:] = hobs
        b.view("hnext")[:] = hnext

    def replay(self) -> HyperStates:
        """The replay as state-relabelled data of one task ``(1, size, T, ·)`` (views, no copies)."""
        v = self.trials.view
        return HyperStates(v("hobs")[None], v("actions")[None], v("rewards")[None], v("hnext")[None], v("dones")[None])

    # ---------------------------------------------------------------------------------- one step
    def iterate(self) -> None:
        cfg = self.cfg
        warmup = self.env_steps < cfg.precollect_steps
        tr = self.run_trials(self._act_random if warmup else self._act)
        hobs, hnext = trial_hyper_states(tr["obs"], tr["next_obs"], tr["feats"], cfg.time_input, self.H, self.k)
        self.trials.add(obs=tr["obs"], actions=tr["actions"], rewards=tr["rewards"], next_obs=tr["next_obs"],
                        hobs=hobs, hnext=hnext, dones=self.dones(tr["next_obs"], self.trial.tasks))
        if self.env_steps < cfg.precollect_steps:
            return
        if cfg.relabel_every and self.iteration % cfg.relabel_every == 0:
            self.relabel()
        data = self.replay()
        for _ in range(cfg.rl_updates):
            self.log_losses(self.agent.update(self.agent.sample(data)))
        for _ in range(cfg.vae_updates):
            self.vae_step(self.trials)

    # ------------------------------------------------------------------------------- checkpoints
    def learner_state(self) -> dict[str, Any]:
        return self.agent.state_dict()

    def load_learner_state(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state)


run_varibad_offpolicy, main = learner_entry_points(
    VariBADOffPolicy, "Off-policy VariBAD (DQN / SAC on relabelled hyper-states from a replay of its own trials), "
    "trained online; resumes a killed run.")


if __name__ == "__main__":  # run the imported module's main, so classes are borel_lib.online.varibad_offpolicy.*
    from borel_lib.online.varibad_offpolicy import main as _main

    raise SystemExit(_main())
