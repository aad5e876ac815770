"""The exact Bayesian belief over tasks: BOReL's belief oracle (beyond the paper).

BOReL (§3) replaces the Bayes-optimal agent's belief b_t = p(task | h_t) by the VariBAD VAE's
approximate posterior. On the reward-varying goal domains the exact posterior is cheap, so the same
pipeline can run with it instead (``--belief exact``): that separates what the learnt belief costs from
what offline RL costs, and it is the ceiling for the learnt belief.

Prior and likelihood. Tasks are a finite candidate set with a uniform prior: Gridworld's 21 goal cells
(exact), and for the Semi-circle the goal angle θ ~ U[0, π] discretised into ``n_candidates`` equally
spaced angles (exact up to that discretisation). Rewards are a deterministic function of (s', task), so
the likelihood of a transition under candidate c is 1 if ``env.reward(s, a, s', c)`` equals the observed
reward and 0 otherwise, and the posterior after t transitions is uniform over the candidates consistent
with all of them. The belief uses the transitions (a_j, r_j, s'_j) only, the information the VAE encoder
also receives (the start state of an episode is not used).

Discretisation guard. On the arc, a rewarded s' near the edge of a goal disc may be consistent with
no candidate centre; then the posterior keeps the candidates with the fewest inconsistent observations
(the maximum-likelihood set), which is the exact posterior whenever any candidate is fully consistent.

Features. A policy sees the posterior as a fixed-length vector: Gridworld the probabilities of the 21
cells; Semi-circle the posterior mass in ``n_bins`` equal arc sectors (the fine posterior pooled).
"""

from __future__ import annotations

import numpy as np

from borel_lib.envs import make_env

EXACT_DOMAINS = ("gridworld", "semicircle")
"""Domains with an exact belief."""


class ExactBelief:
    """Exact posterior over a finite candidate task set (module docstring), batched over trials.

    ``trials`` computes the posterior after every prefix of whole logged trials in one vectorised pass
    (state relabelling); ``reset``/``step``/``features`` update it online (evaluation); both give the
    same numbers for the same transitions."""

    def __init__(self, domain: str, n_candidates: int = 360, n_bins: int = 20):
        if domain not in EXACT_DOMAINS:
            raise ValueError(f"exact belief: domain {domain!r} has none; allowed values: {', '.join(EXACT_DOMAINS)}")
        self.domain = domain
        self.env = make_env(domain)
        if domain == "gridworld":
            self.candidates = self.env.candidate_goals().astype(np.float32)
            self.pool = np.eye(len(self.candidates), dtype=np.float32)  # features = the cell posterior
        else:
            if n_candidates < n_bins or n_candidates % n_bins:
                raise ValueError(f"exact belief: n_candidates={n_candidates} must be a multiple of n_bins={n_bins}")
            angles = (np.arange(n_candidates) + 0.5) / n_candidates * np.pi
            self.angles = angles
            self.candidates = np.stack([np.cos(angles), np.sin(angles)], -1).astype(np.float32)
            self.pool = np.kron(np.eye(n_bins, dtype=np.float32), np.ones((n_candidates // n_bins, 1), np.float32))
        self.n_candidates = len(self.candidates)
        self.dim = self.pool.shape[1]

    # ------------------------------------------------------------------------------ likelihood
    def inconsistent(self, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """1 where a transition's reward rules a candidate out: ``(..., C)`` for inputs ``(..., ·)``
        (``next_obs`` with the episode-end flag last, as stored)."""
        nxt = np.asarray(next_obs, np.float32)[..., None, :-1]
        predicted = self.env.reward(nxt, None, nxt, self.candidates)  # these rewards ignore s and a
        return ~np.isclose(predicted, np.asarray(rewards, np.float32)[..., None], atol=1e-5)

    @staticmethod
    def _posterior(mismatches: np.ndarray) -> np.ndarray:
        """Uniform over the candidates with the fewest mismatches (all-consistent ones when any)."""
        alive = mismatches == mismatches.min(-1, keepdims=True)
        return (alive / alive.sum(-1, keepdims=True)).astype(np.float32)

    # ------------------------------------------------------------------------ whole trials
    def posterior_trials(self, actions, rewards, next_obs) -> np.ndarray:
        """The candidate posterior after every prefix: ``(M, T + 1, C)`` for trials ``(M, T, ·)``
        (index 0 is the prior)."""
        bad = self.inconsistent(actions, rewards, next_obs).astype(np.int32)
        counts = np.concatenate([np.zeros_like(bad[:, :1]), np.cumsum(bad, 1)], 1)
        return self._posterior(counts)

    def trials(self, actions, rewards, next_obs) -> np.ndarray:
        """Belief features after every prefix: ``(M, T + 1, dim)``."""
        return self.posterior_trials(actions, rewards, next_obs) @ self.pool

    # ------------------------------------------------------------------------------- online
    def reset(self, n: int) -> np.ndarray:
        """The online state of ``n`` trials: mismatch counts per candidate, ``(n, C)``."""
        return np.zeros((n, self.n_candidates), np.int32)

    def step(self, state: np.ndarray, actions, rewards, next_obs) -> np.ndarray:
        return state + self.inconsistent(actions, rewards, next_obs)

    def posterior(self, state: np.ndarray) -> np.ndarray:
        return self._posterior(state)

    def features(self, state: np.ndarray) -> np.ndarray:
        return self._posterior(state) @ self.pool
