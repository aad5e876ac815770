"""Solutions to the exercises of notebook 05 (offline BOReL: state relabelling and offline RL).

Each ``exercise_k()`` runs the exercise at smoke size with library calls and asserts the outcome the
notebook states. Run them all with ``python solutions/05_offline_borel.py`` (about 15 s the first time:
exercise 3 collects the smoke Gridworld dataset under ``build/smoke/``; later runs load it).
"""

from __future__ import annotations

import numpy as np
import torch

from borel_lib.agents import DQNConfig, EnsembleDQN
from borel_lib.collect import run_collection
from borel_lib.envs import make_env
from borel_lib.pipeline import eval_tasks
from borel_lib.references.exact_belief import ExactBelief
from borel_lib.references.scripted import (
    gridworld_sweep_trials,
    semicircle_oracle,
    semicircle_search_then_go,
    semicircle_thompson,
)
from borel_lib.state_relabel import hyper_state, relabel_states


def _times_to_go_per_vector(vectors: np.ndarray, times_to_go: np.ndarray) -> dict[bytes, set[int]]:
    seen: dict[bytes, set[int]] = {}
    for v, ttg in zip(vectors.reshape(-1, vectors.shape[-1]), times_to_go.reshape(-1)):
        seen.setdefault(np.ascontiguousarray(v).tobytes(), set()).add(int(ttg))
    return seen


def exercise_1() -> dict[str, int]:
    """Remove the trial clock: build the hyper-states of the scripted Gridworld sweep (every goal, the exact
    belief) with ``t`` (the clock) and with ``t=None``, and count the hyper-states that occur with
    different amounts of trial time left.

    Expected: with the clock, none (the clock is part of the vector). Without it, many: e.g. the start of
    episode 2 and of episode 3 after a sweep that missed the goal show the same cell and the same belief
    (nothing new was ruled out), yet 3 and 2 episodes remain. A policy without the clock must act the same
    in both, and a Q-function must average their values, so it cannot be Bayes-optimal for a finite
    k-episode trial; that is why ``time_input`` exists."""
    env = make_env("gridworld")
    H, k = env.horizon, env.episodes_per_trial
    trials = gridworld_sweep_trials(env.candidate_goals())
    feats = ExactBelief("gridworld").trials(trials["actions"], trials["rewards"], trials["next_obs"])
    T = trials["rewards"].shape[1]
    steps = np.arange(T)
    times_to_go = np.broadcast_to(T - steps, trials["rewards"].shape)
    out = {}
    for name, t in (("with the clock", steps), ("without the clock", None)):
        vectors = hyper_state(trials["obs"], feats[:, :-1], t, H, k)
        seen = _times_to_go_per_vector(vectors, times_to_go)
        out[f"{name}: ambiguous hyper-states"] = sum(len(v) > 1 for v in seen.values())
    assert out["with the clock: ambiguous hyper-states"] == 0
    assert out["without the clock: ambiguous hyper-states"] > 0
    return out


def exercise_2() -> dict[str, float]:
    """The DQN Bellman target by hand: train a small DQN for 100 updates on a batch of random hyper-states
    (rewards around 1), then predict the loss its next update reports, once with every ``done = 1`` and
    once with every ``done = 0``.

    Expected: with ``done = 1`` the target is the reward alone, loss = mean (Q(s⁺, a) − r)²; with
    ``done = 0`` it is r + γ max_a' Q̄(s⁺', a') with the (soft-updated) target network Q̄. Both match the
    library's loss, and they differ by now, since Q̄ has learnt values well above zero."""
    rng = np.random.default_rng(0)
    B, d, A, gamma = 64, 6, 5, 0.9
    batch = {"obs": rng.normal(size=(1, B, d)), "next_obs": rng.normal(size=(1, B, d)),
             "actions": rng.integers(0, A, size=(1, B, 1)).astype(np.float64),
             "rewards": 1.0 + 0.1 * rng.normal(size=(1, B)), "dones": np.zeros((1, B))}
    tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in batch.items()}
    agent = EnsembleDQN(d, A, seeds=[0], config=DQNConfig(gamma=gamma, lr=1e-2, tau=0.1))
    for _ in range(100):
        agent.update(tensors)
    out = {}
    for done in (1.0, 0.0):
        tensors["dones"] = torch.full((1, B), done)
        with torch.no_grad():
            q = agent.q(tensors["obs"]).gather(-1, tensors["actions"].long())[..., 0]
            target = tensors["rewards"] + gamma * (1 - done) * agent.q_target(tensors["next_obs"]).max(-1).values
            predicted = float(((q - target) ** 2).mean())
        state = agent.full_state_dict()  # report the loss without keeping the step
        reported = float(agent.update(tensors)["q_loss"][0])
        agent.load_full_state_dict(state)
        assert np.isclose(reported, predicted, rtol=1e-5), (done, reported, predicted)
        out[f"loss, done={done:.0f}"] = reported
    assert abs(out["loss, done=1"] - out["loss, done=0"]) > 0.1
    return out


def exercise_3() -> dict[str, int]:
    """State-relabel the smoke Gridworld logs with the exact belief and the clock, and look at the last step
    of each episode.

    Expected: the next hyper-state after episode e's last step (t = eH − 1, e < k) is exactly the hyper-state
    the next episode starts in (t = eH: the reset cell, the belief kept, the clock), not the flagged end
    state; the only terminal transition is the trial's last one."""
    ds, _ = run_collection("gridworld", "smoke", progress=False)
    H, k = ds.manifest["horizon"], ds.manifest["episodes_per_trial"]
    data = relabel_states(ExactBelief("gridworld"), ds, time_input=True)
    T = data.rewards.shape[-1]
    for e in range(1, k):
        assert np.array_equal(data.next_obs[:, :, e * H - 1], data.obs[:, :, e * H])
    inside = [t for t in range(T - 1) if (t + 1) % H]
    assert np.array_equal(data.next_obs[:, :, inside], data.obs[:, :, [t + 1 for t in inside]])
    assert np.array_equal(np.flatnonzero(data.dones.reshape(-1, T).any(0)), [T - 1])
    assert np.all(data.dones[..., -1] == 1)
    return {"trials": int(np.prod(data.rewards.shape[:2])), "episode boundaries checked": k - 1}


def exercise_4() -> dict[str, float]:
    """Exploration is worth it: on the 20 Semi-circle evaluation goals, compare the goal-known oracle, the
    scripted search-then-go agent and Thompson sampling (5 seeds), episode by episode.

    Expected: in episode 1 search-then-go earns less than the oracle (it spends steps sweeping the arc),
    in episode 2 it is within 5 % of the oracle, and there it earns more than three times what Thompson
    sampling does (a sampled goal is rarely the true one, and a missed guess rules out only a small arc)."""
    tasks = eval_tasks("semicircle", 0)
    oracle, search = semicircle_oracle(tasks).mean(0), semicircle_search_then_go(tasks).mean(0)
    thompson = np.mean([semicircle_thompson(tasks, np.random.default_rng(s)) for s in range(5)], axis=0).mean(0)
    assert search[0] < oracle[0] and search[1] >= 0.95 * oracle[1] and search[1] > 3 * thompson[1]
    return {name: round(float(value), 2) for name, value in (
        ("oracle ep1", oracle[0]), ("oracle ep2", oracle[1]), ("search-then-go ep1", search[0]),
        ("search-then-go ep2", search[1]), ("Thompson ep1", thompson[0]), ("Thompson ep2", thompson[1]))}


EXERCISES = (exercise_1, exercise_2, exercise_3, exercise_4)

if __name__ == "__main__":
    for exercise in EXERCISES:
        print(f"{exercise.__name__}: {exercise()}")
