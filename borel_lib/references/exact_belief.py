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

Ant-Semi-circle (:data:`MUJOCO_EXACT_DOMAINS`) is the Semi-circle's case on the torso position: goals on
the same unit arc, the sparse reward 1[‖xy(s') − g‖ ≤ 0.2] − 0.1‖a‖², whose control term is known from the
action, so a transition rules out the candidates whose goal term disagrees with the observed reward. Same
candidates and features as the Semi-circle. (The goal-known step counts of the search metrics are the point
robot's, so those metrics stay on :data:`EXACT_DOMAINS`.)

Reacher-Image (also :data:`MUJOCO_EXACT_DOMAINS`): the target angle θ ~ U[0, π/2] on the radius-0.15 quarter
circle, discretised into ``n_candidates`` equally spaced angles; the dense reward −‖tip(s') − g‖ − 0.1‖a‖² is a
deterministic function of s' (the stored proprioceptive state, by forward kinematics), a and g. A candidate is
consistent with a transition if its predicted reward is within ``atol`` = 0.15·Δθ/2 + 1e-5 of the observed one:
‖tip − g(θ)‖ is 0.15-Lipschitz in θ, so the grid angle nearest to the true target is never ruled out (exact up
to the grid; 1e-5 covers float32 storage). Each reward says how far the target is from the fingertip, so a few
steps with the fingertip in different places leave only the candidates near the true angle. Features: the mass
in ``n_bins`` sectors of the quarter circle. The images are not needed: the state they show is stored.

Smooth read-out (``readout="mean"``, the arc domains: Semi-circle, Ant-Semi-circle, Reacher-Image,
Escape-Room). Instead of the sector masses, four posterior moments of the goal angle θ: E[cos θ], E[sin θ]
(the posterior mean goal on the unit arc; its length is 1 exactly when the goal is known), E[u] and E[u²]
with u = θ / span ∈ [0, 1] (the mean and spread of the angle). A goal-conditioned collector sees its goal as
a point; this read-out gives the offline learner the same kind of input once the goal is known, and varies
smoothly with the posterior, where one-hot sectors leave every sector to be learnt on its own. (Ours, beyond
the paper: an oracle variant for diagnosing the learner.)

Transition domains (§4, Figure 4; :data:`TRANSITION_EXACT_DOMAINS`). There the rewards are the same for
every task and the transitions identify it, so a candidate is ruled out by a step whose next state it
would not produce. Only (a_j, r_j, s'_j) are used, as above: the step's start state is the previous
step's s', so the first step of every episode (from a fresh start state) carries no information.

- **Escape-Room**: candidates are ``n_candidates`` equally spaced opening angles on [0, π], features the
  mass in ``n_bins`` sectors. A step identifies only where its free motion s + 0.1a meets the wall
  (:meth:`~borel_lib.envs.point_robot.EscapeRoomEnv.wall_contact`); there each candidate's
  ``transition`` is compared with the observed s'. Exact up to the angle grid.
- **Wind**: candidates are the centres of a ``wind_cells`` × ``wind_cells`` grid of cells over
  [−0.08, 0.08]²; a step reveals the wind w = s' − (s + 0.1a) exactly and keeps the one cell that holds
  it (exact up to the grid). Features: the posterior mean of w and of w² per axis (4 numbers, scaled by
  the largest wind), enough for the policy to know the wind and whether it is known yet.
"""

from __future__ import annotations

import numpy as np

from borel_lib.envs import make_env

EXACT_DOMAINS = ("gridworld", "semicircle")
"""Goal domains with an exact belief (rewards identify the task)."""
TRANSITION_EXACT_DOMAINS = ("wind", "escape_room")
"""Transition domains with an exact belief (next states identify the task; module docstring)."""
MUJOCO_EXACT_DOMAINS = ("ant_semicircle", "reacher_image")
"""MuJoCo goal domains with an exact belief (module docstring, "Ant-Semi-circle" and "Reacher-Image")."""
ALL_EXACT_DOMAINS = EXACT_DOMAINS + TRANSITION_EXACT_DOMAINS + MUJOCO_EXACT_DOMAINS
"""Every domain :class:`ExactBelief` takes."""
READOUTS = ("sectors", "mean")
"""Feature read-outs of the exact posterior: the domain's default (sector masses, cell probabilities, wind
moments) or, on :data:`ARC_DOMAINS`, the posterior moments of the goal angle (module docstring)."""
ARC_DOMAINS = ("semicircle", "ant_semicircle", "reacher_image", "escape_room")
"""Domains whose tasks are an angle on an arc: the ones with the ``mean`` read-out."""


class ExactBelief:
    """Exact posterior over a finite candidate task set (module docstring), batched over trials.

    ``trials`` computes the posterior after every prefix of whole logged trials in one vectorised pass
    (state relabelling); ``reset``/``step``/``features`` update it online (evaluation); both give the
    same numbers for the same transitions."""

    def __init__(self, domain: str, n_candidates: int = 360, n_bins: int = 20, wind_cells: int = 32,
                 readout: str = "sectors"):
        if domain not in ALL_EXACT_DOMAINS:
            raise ValueError(f"exact belief: domain {domain!r} has none; allowed values: {', '.join(ALL_EXACT_DOMAINS)}")
        if readout not in READOUTS or (readout == "mean" and domain not in ARC_DOMAINS):
            allowed = READOUTS if domain in ARC_DOMAINS else READOUTS[:1]
            raise ValueError(f"exact belief: readout={readout!r} for {domain}; allowed values: {', '.join(allowed)}")
        self.readout = readout
        self.domain = domain
        self.env = make_env(domain)
        self.atol = 1e-5
        """How far a candidate's predicted reward may be from the observed one (goal domains)."""
        self.transitions = domain in TRANSITION_EXACT_DOMAINS
        if domain == "wind":
            w = self.env.max_wind
            self.cell = 2 * w / wind_cells
            centres = -w + (np.arange(wind_cells) + 0.5) * self.cell
            self.candidates = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
            c = self.candidates / w
            self.pool = np.concatenate([c, c * c], 1).astype(np.float32)  # E[w/w_max], E[(w/w_max)^2]
        elif domain == "gridworld":
            self.candidates = self.env.candidate_goals().astype(np.float32)
            self.pool = np.eye(len(self.candidates), dtype=np.float32)  # features = the cell posterior
        else:
            if n_candidates < n_bins or n_candidates % n_bins:
                raise ValueError(f"exact belief: n_candidates={n_candidates} must be a multiple of n_bins={n_bins}")
            span, radius = (np.pi / 2, self.env.target_radius) if domain == "reacher_image" else (np.pi, 1.0)
            angles = (np.arange(n_candidates) + 0.5) / n_candidates * span
            self.angles = angles
            self.candidates = (angles[:, None] if domain == "escape_room" else
                               (radius * np.stack([np.cos(angles), np.sin(angles)], -1)).astype(np.float32))
            self.pool = np.kron(np.eye(n_bins, dtype=np.float32), np.ones((n_candidates // n_bins, 1), np.float32))
            if domain == "reacher_image":  # module docstring: the grid's reward error, plus float32 rounding
                self.atol = radius * span / n_candidates / 2 + 1e-5
            if readout == "mean":  # E[cos θ], E[sin θ], E[u], E[u²] with u = θ / span
                u = angles / span
                self.pool = np.stack([np.cos(angles), np.sin(angles), u, u * u], 1).astype(np.float32)
        self.n_candidates = len(self.candidates)
        self.dim = self.pool.shape[1]

    # ------------------------------------------------------------------------------ likelihood
    def inconsistent(self, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                     obs: np.ndarray | None = None) -> np.ndarray:
        """1 where a transition rules a candidate out: ``(..., C)`` for inputs ``(..., ·)`` (``next_obs``
        with the episode-end flag last, as stored). Goal domains: by its reward. Transition domains: by its
        next state from ``obs`` (states without the flag; NaN rows = unknown start, uninformative)."""
        if self.transitions:
            return self._inconsistent_transitions(np.asarray(obs, np.float32), np.asarray(actions, np.float32),
                                                  np.asarray(next_obs, np.float32)[..., :-1])
        nxt = np.asarray(next_obs, np.float32)[..., None, :-1]
        # the point robots' rewards ignore s and a; Ant's control term is a function of a alone
        acts = np.asarray(actions, np.float32)[..., None, :] if self.domain in MUJOCO_EXACT_DOMAINS else None
        predicted = self.env.reward(nxt, acts, nxt, self.candidates)
        rtol = 0.0 if self.domain == "reacher_image" else 1e-5  # numpy's default elsewhere
        return ~np.isclose(predicted, np.asarray(rewards, np.float32)[..., None], atol=self.atol, rtol=rtol)

    def _inconsistent_transitions(self, s: np.ndarray, a: np.ndarray, s2: np.ndarray) -> np.ndarray:
        shape = s.shape[:-1]
        s, a, s2 = s.reshape(-1, 2), a.reshape(-1, 2), s2.reshape(-1, 2)
        known = np.all(np.isfinite(s), -1)
        out = np.zeros((len(s), self.n_candidates), bool)
        if self.domain == "wind":
            w = s2[known] - self.env.transition(s[known], a[known], np.zeros(2))  # the revealed wind
            out[known] = np.abs(w[:, None, :] - self.candidates[None]).max(-1) > self.cell / 2 + 1e-6
        else:  # escape_room: only steps whose free motion meets the wall depend on the opening
            idx = np.flatnonzero(known)
            idx = idx[self.env.wall_contact(s[idx], a[idx])]
            for chunk in np.array_split(idx, max(1, len(idx) // 4096)):
                pred = self.env.transition(s[chunk, None], a[chunk, None], self.candidates[None])  # (K, C, 2)
                out[chunk] = ~np.all(np.isclose(pred, s2[chunk, None], atol=1e-5), -1)
        return out.reshape(*shape, self.n_candidates)

    def _previous_states(self, next_obs: np.ndarray) -> np.ndarray:
        """Each step's start state from the stored trial ``(..., T, ·)``: the previous step's s', NaN at
        an episode's first step (its start state is not part of the belief's input)."""
        nxt = np.asarray(next_obs, np.float32)
        prev = np.full(nxt.shape[:-1] + (nxt.shape[-1] - 1,), np.nan, np.float32)
        prev[..., 1:, :] = np.where(nxt[..., :-1, -1:] == 0, nxt[..., :-1, :-1], np.nan)
        return prev

    @staticmethod
    def _posterior(mismatches: np.ndarray) -> np.ndarray:
        """Uniform over the candidates with the fewest mismatches (all-consistent ones when any)."""
        alive = mismatches == mismatches.min(-1, keepdims=True)
        return (alive / alive.sum(-1, keepdims=True)).astype(np.float32)

    # ------------------------------------------------------------------------ whole trials
    def posterior_trials(self, actions, rewards, next_obs) -> np.ndarray:
        """The candidate posterior after every prefix: ``(M, T + 1, C)`` for trials ``(M, T, ·)``
        (index 0 is the prior)."""
        obs = self._previous_states(next_obs) if self.transitions else None
        bad = self.inconsistent(actions, rewards, next_obs, obs).astype(np.int32)
        counts = np.concatenate([np.zeros_like(bad[:, :1]), np.cumsum(bad, 1)], 1)
        return self._posterior(counts)

    def trials(self, actions, rewards, next_obs) -> np.ndarray:
        """Belief features after every prefix: ``(M, T + 1, dim)``."""
        return self.posterior_trials(actions, rewards, next_obs) @ self.pool

    # ------------------------------------------------------------------------------- online
    def reset(self, n: int):
        """The online state of ``n`` trials: mismatch counts per candidate, ``(n, C)`` (transition domains:
        with the last s' and its episode-end flag, ``(counts, (n, obs_dim + 1))``)."""
        counts = np.zeros((n, self.n_candidates), np.int32)
        return (counts, np.full((n, 3), np.nan, np.float32)) if self.transitions else counts

    def step(self, state, actions, rewards, next_obs):
        if not self.transitions:
            return state + self.inconsistent(actions, rewards, next_obs)
        counts, last = state
        nxt = np.asarray(next_obs, np.float32)
        prev = np.where(last[:, -1:] == 0, last[:, :-1], np.nan)
        return counts + self.inconsistent(actions, rewards, nxt, prev), nxt.copy()

    def posterior(self, state) -> np.ndarray:
        return self._posterior(state[0] if self.transitions else state)

    def features(self, state) -> np.ndarray:
        return self.posterior(state) @ self.pool
