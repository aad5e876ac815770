"""What a trained PEARL's task inference does, checked without new training (ours; issue 30's diagnostics).

PEARL can fail to infer the task for three different reasons, which its returns alone do not tell apart: its
context holds no information (on a sparse domain few context transitions carry a reward), its encoder does not
read the information that is there (the posterior stays at the prior or drifts where the policy never saw z), or
its policy does not act on a confident posterior (episode 2 does not go back to a goal episode 1 found).
:func:`pearl_diagnostics` measures each on a finished run's checkpoint:

- **context information** (training): over the training tasks' encoder buffers (the recent data contexts are
  drawn from), the share of transitions that reach the goal (the sparse reward's events, whatever reward the
  context holds) and the share of tasks whose buffer has none;
- **the posterior** (the test protocol, :func:`~borel_lib.baselines.common.evaluate`): the mean standard deviation
  and the mean |mean| of q(z | c) given episode 1, over the latent dimensions and the test tasks (the prior has 1
  and 0); the same for the tasks where episode 1 found the goal;
- **acting on it** (the same trials, :func:`borel_lib.evaluation.search_metrics` on the arc domains): the goal
  found in episode 1, episode 2 reaching the goal (``success_ep2``), and reaching it directly after episode 1
  found it (``search_then_go``) — "does posterior sampling go to the goal seen in episode 1";
- **two stage swaps**: the training tasks reached with z from their own training contexts instead of episode 1's
  (:func:`own_context_success`: "cannot read episode 1" or "did not learn"), and the test protocol with episode
  1's z drawn from the training posteriors instead of the prior (:func:`training_posterior_episode1`: are prior
  samples the problem).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from borel_lib.baselines.common import evaluate

ARC_DOMAINS = ("semicircle",)
"""Domains whose trials :func:`borel_lib.evaluation.search_metrics` scores (a goal on the arc)."""


def context_information(trainer: Any) -> dict[str, float]:
    """Share of the encoder buffers' transitions (all tasks pooled) that reach their task's goal, and share of the
    tasks (with data) whose buffer has none."""
    hits, sizes = [], []
    for t in range(trainer.cfg.n_train_tasks):
        n = int(trainer.enc_buffers.size[t])
        if n:
            hits.append(int(np.sum(trainer.env.is_success(trainer.enc_buffers.data[t]["next_obs"][:n],
                                                          trainer.train_tasks[t]))))
            sizes.append(n)
    if not sizes:
        return {"context_goal_share": float("nan"), "context_tasks_without_goal": float("nan")}
    return {"context_goal_share": sum(hits) / sum(sizes),
            "context_tasks_without_goal": float(np.mean(np.asarray(hits) == 0))}


@torch.no_grad()
def posterior_and_search(trainer: Any) -> dict[str, float]:
    """The test protocol on the run's test tasks, recording the posterior episode 2 samples from (module docstring)."""
    if trainer.cfg.num_exp_traj_eval != 1:  # episode 2 must be the one that samples from the posterior
        raise ValueError(f"pearl_diagnostics needs num_exp_traj_eval=1 (episode 2 from the posterior of episode 1); "
                         f"this run has {trainer.cfg.num_exp_traj_eval}")
    agent = trainer.agent
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = agent.posterior

    def spy(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, var = original(context)
        seen.append((mu, var))
        return mu, var

    agent.posterior = spy
    try:
        record: dict[str, Any] = {}
        ev = evaluate(agent, trainer.domain, trainer.eval_tasks, trainer.seed, trainer.cfg.num_exp_traj_eval,
                      trainer.cfg.use_next_obs_in_context, record=record, inputs=trainer.inputs,
                      context_reward=trainer.context_reward)
    finally:
        agent.posterior = original
    mu, var = seen[0]  # episode 2's: every transition of episode 1
    std = var.sqrt().mean(-1).cpu().numpy()
    mean_abs = mu.abs().mean(-1).cpu().numpy()
    success = ev[ev.metric == "success"].pivot_table(index="task", columns="episode", values="value")
    out = {"posterior_std_ep2": float(std.mean()), "posterior_mean_abs_ep2": float(mean_abs.mean()),
           "success_ep1": float(success[1].mean()), "success_ep2": float(success[2].mean())}
    if trainer.domain in ARC_DOMAINS:
        from borel_lib.evaluation import search_metrics

        sm = search_metrics(trainer.domain, trainer.eval_tasks, record)
        found = sm.found_ep1.to_numpy() > 0
        out.update({"found_ep1": float(found.mean()), "search_then_go": float(sm.search_then_go.mean())})
        if found.any():  # the posterior's spread where episode 1 saw the goal (no row when it never did)
            out["posterior_std_ep2_found"] = float(std[found].mean())
    return out


@torch.no_grad()
def own_context_success(trainer: Any) -> dict[str, float]:
    """The stage swap: on the training tasks with data, z = the posterior mean given a context drawn from the task's
    own encoder buffer (the training distribution of contexts) instead of the test protocol's episode 1; one
    episode from the fixed start with the deterministic policy. High here and low at test: the encoder does not
    read episode-1 contexts; low here too: the encoder or the policy did not learn."""
    from borel_lib.envs.batched import batched_trial_for

    idx = np.flatnonzero(trainer.enc_buffers.size > 0)
    if not len(idx):
        return {}
    mu, _ = trainer.agent.posterior(trainer.sample_context(idx))
    trial = batched_trial_for(trainer.env, len(idx), episodes=1)
    states = trial.reset(trainer.train_tasks[idx], seeds=range(trainer.seed, trainer.seed + len(idx)))
    reached = np.zeros(len(idx), dtype=bool)
    for _t in range(trainer.H):
        out = trial.step(trainer.agent.act(trainer.inputs(states), mu, deterministic=True))
        reached |= trainer.env.is_success(out.next_obs[:, :-1], trainer.train_tasks[idx])
        states = out.obs
    return {"success_own_context_train": float(reached.mean())}


@torch.no_grad()
def training_posterior_episode1(trainer: Any) -> dict[str, float]:
    """The second swap: the test protocol with episode 1's z drawn from the *training* posteriors (the posterior
    mean of a training task's own context, a task drawn uniformly per test task) instead of N(0, I): a
    Thompson sample over the training goals. Lifts episode 2: prior samples were the problem; does not: the encoder
    cannot read a first episode spent away from the goal."""
    idx = np.flatnonzero(trainer.enc_buffers.size > 0)
    if not len(idx):
        return {}
    agent = trainer.agent
    mu, _ = agent.posterior(trainer.sample_context(idx))
    gen = torch.Generator(device=agent.device).manual_seed(trainer.seed + 40_000)
    original = agent.prior

    def training_prior(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(0, len(idx), (n,), generator=gen, device=agent.device)
        return mu[pick].clone(), torch.full_like(mu[pick], 1e-8)  # z = that task's posterior mean

    agent.prior = training_prior
    try:
        ev = evaluate(agent, trainer.domain, trainer.eval_tasks, trainer.seed, trainer.cfg.num_exp_traj_eval,
                      trainer.cfg.use_next_obs_in_context, inputs=trainer.inputs, context_reward=trainer.context_reward)
    finally:
        agent.prior = original
    success = ev[ev.metric == "success"].groupby("episode").value.mean()
    return {"success_ep1_training_prior": float(success[1]), "success_ep2_training_prior": float(success[2])}


def pearl_diagnostics(trainer: Any) -> pd.DataFrame:
    """Every diagnostic of the module docstring for a trained :class:`~borel_lib.baselines.pearl.PEARLTrainer`
    (its checkpoint loaded), as tidy rows (``episode`` 0, ``iteration`` the checkpoint's)."""
    values = {**context_information(trainer), **posterior_and_search(trainer), **own_context_success(trainer),
              **training_posterior_episode1(trainer)}
    return pd.DataFrame([{"domain": trainer.domain, "metric": k, "value": v, "iteration": trainer.iteration}
                         for k, v in values.items()])
