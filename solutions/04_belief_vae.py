"""Solutions to the exercises of notebook 04 (the belief VAE, with and without reward relabelling).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/04_belief_vae.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np
import torch

from borel_lib.envs import make_env
from borel_lib.references.scripted import semicircle_search_then_go
from borel_lib.relabel import sample_trials
from borel_lib.vae import BeliefVAE, VAEConfig, gaussian_kl


def search_logs(n_tasks: int = 4, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One scripted search trial per Semi-circle task, laid out as a dataset's arrays
    ``(n_tasks, 1 trial, T, ·)`` (observations with the episode-end flag), and the tasks."""
    tasks = make_env("semicircle").sample_tasks(n_tasks, np.random.default_rng(seed))
    rec: dict[str, np.ndarray] = {}
    semicircle_search_then_go(tasks, record=rec)
    return {k: v[:, None] for k, v in rec.items()}, tasks


def _sample(arrays, tasks, mode: str, borrow: str = "half", varies: str = "reward", seed: int = 0):
    env = make_env("semicircle")
    n = len(tasks)
    return sample_trials(arrays, np.arange(n), np.zeros(n, np.int64), tasks=tasks, episodes=env.episodes_per_trial,
                         horizon=env.horizon, mode=mode, reward_fn=env.reward, rng=np.random.default_rng(seed),
                         varies=varies, borrow=borrow)


def exercise_1() -> dict[str, int]:
    """Draw a minibatch of the scripted Semi-circle trials with ``mode="none"`` and with
    ``mode="reward_relabelling"``; compare episode by episode.

    Expected: ``none`` returns the logged trials unchanged (``source_task`` is the trial's own task).
    ``reward_relabelling`` replaces episode 1 (the first k/2 = 1 episodes) of every trial with another
    task's episode 1, and its rewards are exactly task i's reward function on the borrowed transitions;
    episode 2 is untouched."""
    arrays, tasks = search_logs()
    env = make_env("semicircle")
    H, n = env.horizon, len(tasks)
    plain = _sample(arrays, tasks, "none")
    assert np.array_equal(plain.rewards, arrays["rewards"][:, 0]) and np.array_equal(plain.source_task[:, 0], np.arange(n))
    rr = _sample(arrays, tasks, "reward_relabelling")
    assert np.all(rr.source_task[:, 0] != np.arange(n)) and np.array_equal(rr.source_task[:, 1], np.arange(n))
    ep1 = slice(0, H)
    own_reward = env.reward(rr.obs[:, ep1, :-1], rr.actions[:, ep1], rr.next_obs[:, ep1, :-1], tasks[:, None, :])
    assert np.array_equal(rr.rewards[:, ep1], own_reward)
    assert np.array_equal(rr.obs[:, ep1], arrays["obs"][rr.source_task[:, 0], 0, ep1])
    assert np.array_equal(rr.rewards[:, H:], arrays["rewards"][:, 0, H:])
    changed = int((rr.rewards[:, ep1] != arrays["rewards"][rr.source_task[:, 0], 0, ep1]).sum())
    return {"trials": n, "relabelled rewards that differ from the source task's": changed}


def exercise_2() -> dict[str, int]:
    """Set ``borrow="all"`` (beyond the paper: what state relabelling's mixed copies use).

    Expected: every episode of every trial is borrowed and relabelled, each from a task drawn uniformly
    from *all* tasks (the trial's own included), so over many draws some episodes come from the own task;
    every reward is still the trial's own task's reward of the borrowed transition."""
    arrays, tasks = search_logs()
    env = make_env("semicircle")
    n = len(tasks)
    own_drawn = 0
    for seed in range(20):
        batch = _sample(arrays, tasks, "reward_relabelling", borrow="all", seed=seed)
        own = env.reward(batch.obs[..., :-1], batch.actions, batch.next_obs[..., :-1], tasks[:, None, :])
        assert np.array_equal(batch.rewards, own)
        own_drawn += int((batch.source_task == np.arange(n)[:, None]).sum())
    total = 20 * n * env.episodes_per_trial
    assert 0 < own_drawn < total / 2, own_drawn  # about 1/n of the episodes
    return {"episodes drawn": total, "drawn from the own task": own_drawn}


def exercise_3() -> dict[str, str]:
    """Ask for reward relabelling on a domain whose tasks differ in transitions (``varies="transition"``,
    as Wind and Escape-Room).

    Expected: ``sample_trials`` refuses with one clear error that names policy replaying instead: a
    borrowed transition of another wind is not a transition of this task, whatever reward it gets."""
    arrays, tasks = search_logs()
    try:
        _sample(arrays, tasks, "reward_relabelling", varies="transition")
    except ValueError as err:
        message = str(err)
    else:
        raise AssertionError("reward relabelling on transition-varying tasks must be refused")
    assert "policy-replay" in message and "\n" not in message
    return {"error": message}


def exercise_4() -> dict[str, float]:
    """The KL terms of the ELBO and the prior belief of an untrained Semi-circle VAE.

    Expected: ``gaussian_kl(q, q) = 0``; ``KL(N(μ, I) ‖ N(0, I)) = ‖μ‖² / 2``; and the prior belief
    (index 0 of the encoder's output, before any transition) is the same for every trial, whatever its
    data: it comes from the zero hidden state, so the loss's first KL term, KL(q_0 ‖ N(0, I)), is the
    same number for every trial too."""
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.allclose(gaussian_kl(mu, logvar, mu, logvar), torch.zeros(3))
    zero = torch.zeros(3, 5)
    assert torch.allclose(gaussian_kl(mu, zero, zero, zero), 0.5 * (mu**2).sum(-1))
    arrays, _ = search_logs()
    vae = BeliefVAE(obs_dim=3, act_dim=2, config=VAEConfig.for_domain("semicircle", "smoke"))
    with torch.no_grad():
        m, lv = vae.encoder(*(torch.as_tensor(arrays[k][:, 0]) for k in ("actions", "rewards", "next_obs")))
    assert torch.equal(m[:, 0], m[:1, 0].expand_as(m[:, 0])) and not torch.equal(m[:, -1], m[:1, -1].expand_as(m[:, -1]))
    kl0 = gaussian_kl(m[:, 0], lv[:, 0], torch.zeros_like(m[:, 0]), torch.zeros_like(lv[:, 0]))
    assert torch.allclose(kl0, kl0[:1].expand_as(kl0))
    return {"KL(q_0 || N(0, I))": float(kl0[0])}


EXERCISES = (exercise_1, exercise_2, exercise_3, exercise_4)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
