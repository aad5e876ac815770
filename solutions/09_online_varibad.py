"""Solutions to the exercises of notebook 09 (online meta-RL: off-policy against on-policy VariBAD).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/09_online_varibad.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np
import torch

from borel_lib.envs import make_env
from borel_lib.online.common import trial_hyper_states, varibad_elbo
from borel_lib.online.ppo import gae
from borel_lib.references.scripted import semicircle_search_then_go
from borel_lib.state_relabel import hyper_state
from borel_lib.vae import BeliefVAE, VAEConfig


def _discounted(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def exercise_1() -> dict[str, float]:
    """PPO's returns (``gae``) at the two ends of λ, on a random rollout of 3 trials × 10 steps that ends
    at the trial's end, with random value estimates.

    Expected: λ = 1 gives the discounted Monte-Carlo return of each step, whatever the values; λ = 0
    gives the one-step target r_t + γ V_{t+1} (just r_t at the trial's last step, where nothing follows).
    Episode ends inside the trial do not cut anything: the BAMDP trial is one long episode."""
    g = torch.Generator().manual_seed(0)
    S, n, gamma = 10, 3, 0.9
    rewards, values = torch.randn(S, n, generator=g), torch.randn(S, n, generator=g)
    trial_end = torch.zeros(S, n)
    trial_end[-1] = 1.0
    episode_end = torch.zeros(S, n)
    episode_end[4] = 1.0  # an episode boundary in the middle of the trial
    mc = gae(rewards, values, trial_end, episode_end, gamma, lam=1.0)
    assert torch.allclose(mc, _discounted(rewards, gamma), atol=1e-5)
    td = gae(rewards, values, trial_end, episode_end, gamma, lam=0.0)
    expected = rewards + gamma * torch.cat([values[1:], torch.zeros(1, n)])
    assert torch.allclose(td, expected, atol=1e-6)
    return {"return of step 0, λ=1": float(mc[0, 0]), "return of step 0, λ=0": float(td[0, 0])}


def exercise_2() -> dict[str, int]:
    """Online hyper-states are offline hyper-states: build them for two scripted Semi-circle trials with
    ``trial_hyper_states`` (the online learners') and check them against ``hyper_state`` (state relabelling's).

    Expected: s⁺_t = [s_t, b_t, clock_t] equals ``hyper_state`` row for row, and the next hyper-state
    after episode 1's last step is the hyper-state episode 2 starts in (the reset state, the belief kept,
    the clock), not the flagged end state; after the trial's last step it is the flagged final state."""
    env = make_env("semicircle")
    H, k = env.horizon, env.episodes_per_trial
    rec: dict[str, np.ndarray] = {}
    semicircle_search_then_go(env.sample_tasks(2, np.random.default_rng(0)), record=rec)
    T = rec["rewards"].shape[1]
    feats = np.random.default_rng(1).normal(size=(2, T + 1, 4)).astype(np.float32)  # any belief features
    s_plus, next_plus = trial_hyper_states(rec["obs"], rec["next_obs"], feats, True, H, k)
    assert np.array_equal(s_plus, hyper_state(rec["obs"], feats[:, :-1], np.arange(T), H, k))
    assert np.array_equal(next_plus[:, H - 1], s_plus[:, H])
    assert next_plus[0, H - 1, 2] == 0 and rec["next_obs"][0, H - 1, 2] == 1  # the flag: reset state, not the end
    assert np.array_equal(next_plus[:, -1, :3], rec["next_obs"][:, -1])
    return {"hyper-state width": s_plus.shape[-1], "steps": T}


def exercise_3() -> dict[str, float]:
    """The official VariBAD ELBO (``varibad_elbo``, the online learners') against BOReL's (``BeliefVAE.loss``)
    on the same Semi-circle VAE, batch and random draw.

    Expected: the KL terms are equal, and the reconstruction terms differ by exactly a factor T (the
    trial length, 120): with the MSE reward head the official code sums the squared errors over every
    (t, j) pair, BOReL's averages over the decoded transitions j (mean over j, sum over t)."""
    torch.manual_seed(0)
    env = make_env("semicircle")
    rec: dict[str, np.ndarray] = {}
    semicircle_search_then_go(env.sample_tasks(3, np.random.default_rng(0)), record=rec)
    batch = {k: torch.as_tensor(v) for k, v in rec.items()}
    T = batch["rewards"].shape[1]
    vae = BeliefVAE(obs_dim=3, act_dim=2, config=VAEConfig.for_domain("semicircle", "smoke", decode_subset=None))
    with torch.no_grad():
        _, official = varibad_elbo(vae, batch, kl_weight=0.1, kl_batch_sum=False, generator=torch.Generator().manual_seed(1))
        _, borel = vae.loss(batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"],
                            generator=torch.Generator().manual_seed(1))
    ratio = float(official["vae_recon"] / borel["recon"])
    assert torch.isclose(official["vae_kl"], borel["kl"]) and np.isclose(ratio, T, rtol=1e-4), ratio
    return {"T": T, "reconstruction ratio": ratio}


EXERCISES = (exercise_1, exercise_2, exercise_3)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
