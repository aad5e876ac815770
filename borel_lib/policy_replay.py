"""Policy replaying (paper §4, Proposition 3; §6, Figure 4): trials of other tasks' trained policies.

When tasks differ in their transitions (Wind, Escape-Room), reward relabelling cannot help: it swaps rewards,
not dynamics, and each task's own logged trials show only the states its own agent visited, so the data may
not tell the tasks apart. Proposition 3's remedy is to roll out, in each task's MDP, the trained policies of
*other* tasks. :func:`collect_policy_replay`
does this at collection time: for every task and replayed trial, the saved final policy (or an intermediate
one) of a uniformly drawn other task acts in this task's environment, with this task's dynamics and rewards.
:func:`run_policy_replay` writes the result beside the own-policy dataset as
``datasets/<profile>/<dataset_name>_policy_replay`` (``python -m borel_lib.collect DOMAIN --policy-replay``),
and ``relabelling="policy_replay"`` mixes its trials into the VAE's data (:mod:`borel_lib.relabel`).

Each replayed trial's randomness is a function of ``(seed, trial)`` alone, and the partially written dataset
is checkpointed, so a killed replay resumes and writes the same dataset as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.collect import CollectConfig, dataset_name, override_flags, run_collection
from borel_lib.collector import Collector
from borel_lib.config import Config, ConfigError, check_choice, check_positive, check_seed, resolve_profile
from borel_lib.datasets import DatasetError, DatasetWriter, OfflineDataset, dataset_lock, load_dataset
from borel_lib.envs import make_env

POLICY_CHOICES = ("final", "saved")
"""Allowed values of :attr:`PolicyReplayConfig.policies`."""


@dataclasses.dataclass(frozen=True)
class PolicyReplayConfig(Config):
    """Policy replaying at collection time (paper §4 Proposition 3, §6): how many replayed trials per
    task, and whose policies act. The paper gives no number of replayed trials; ``n_trials`` is ours."""

    PRESETS = {"smoke": {"n_trials": 3}, "quick": {"n_trials": 40}}

    n_trials: int = 100
    """Replayed trials per task (ours; the VAE takes each mixed trial's first k/2 episodes from them)."""
    policies: str = "final"
    """Which saved policies act: ``final`` (the collection's last policies, the paper's "trained RL
    policy of another MDP") or ``saved`` (every saved iteration after the warm-up, drawn uniformly per
    trial: intermediate policies too, for more coverage)."""
    seed: int = 1
    """Seed of the replay draws (source tasks, start states, SAC action noise), per trial."""
    checkpoint_every: int = 5
    """Replayed trials between resumable checkpoints of the partially written dataset."""

    def validate(self) -> None:
        check_choice(self.policies, "policies", POLICY_CHOICES)
        check_seed(self.seed)
        self.check_positive_fields("n_trials", "checkpoint_every")


def _replay_trial_randomness(seed: int, trial: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Everything random in replayed trial ``trial``, a function of ``(seed, trial)`` only (so a resumed
    run draws the same): source tasks (a uniform *other* task), env seeds, torch seeds, a file draw."""
    rng = np.random.default_rng([seed, trial])
    src = rng.integers(0, n - 1, size=n)
    src = src + (src >= np.arange(n))
    env_seeds = rng.integers(0, 2**31 - 1, size=n)
    torch_seeds = rng.integers(0, 2**31 - 1, size=n)
    return src, env_seeds, torch_seeds, int(rng.integers(0, 2**31 - 1))


def collect_policy_replay(config: CollectConfig, policies_file: str | os.PathLike[str] | list[Any],
                          dataset_path: str | os.PathLike[str], n_trials: int, profile: str = "quick",
                          command: str = "", seed: int = 1, overwrite: bool = False, progress: bool = True,
                          checkpoint_every: int = 5, stop_after: int | None = None,
                          extra_manifest: dict[str, Any] | None = None) -> Path:
    """Policy replaying (§4, Proposition 3): for every task i and trial, a uniformly drawn *other*
    task j's saved policy acts in task i's environment (task i's dynamics *and* rewards: the batched
    trial steps task i); ``source_task[i, trial] = j`` and ``iteration[i, trial]`` is the saved
    policy's collection iteration.

    ``policies_file`` is a ``policies_iter*.pt`` of a collection run with the same ``config`` (same
    tasks), or a list of them (each trial draws one uniformly, for every task). SAC policies sample
    actions; DQN policies act greedily. Each trial's randomness depends only on ``(seed, trial)``, and
    the partially written dataset is checkpointed every ``checkpoint_every`` trials: a killed run
    resumes (same ``seed``, files and ``n_trials``) and writes the same dataset. The finished dataset
    appears at ``dataset_path`` atomically; an existing one is replaced only with ``overwrite``.
    ``stop_after`` stops after that many trials of this call (tests simulate a kill); ``extra_manifest``
    adds fields to the manifest.
    """
    check_positive(n_trials, "n_trials")
    check_positive(checkpoint_every, "checkpoint_every")
    files = [Path(f) for f in (policies_file if isinstance(policies_file, list | tuple) else [policies_file])]
    if not files:
        raise ConfigError("policies_file: give at least one policies_iter*.pt file")
    col = Collector(config, dataset_path, files[0].parent, profile=profile, command=command)
    states = []
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no saved policies (run the collection first: python -m borel_lib.collect "
                                    f"{config.domain} --profile {profile})")
        state = torch.load(f, map_location=col.device, weights_only=False)
        if not np.allclose(np.asarray(state["tasks"]), col.tasks):
            raise ConfigError(f"{f}: its tasks differ from this config's tasks (different seed or domain?)")
        states.append(state)
    net = col.agent.q if config.discrete else col.agent.actor
    N = config.n_tasks
    if config.shared_agent:
        raise ConfigError("policy replaying swaps per-task policies; a shared_agent=True collection has one "
                          "(its task-conditioned policy would need the other task's goal): not supported")
    if N < 2:
        raise ConfigError("policy replaying needs at least 2 tasks")
    shapes = {name: (N, n_trials) + shape[2:] for name, shape in col.shapes.items()}
    shapes["source_task"] = (N, n_trials)
    manifest = {**col.manifest, "n_trials": n_trials, "collection_mode": "policy_replay", "replay_seed": seed,
                "policies": [f"{f.name} (iteration {st['iteration']})" for f, st in zip(files, states)],
                "notes": "source_task = the task whose saved policy acted; iteration = its collection iteration",
                **(extra_manifest or {})}
    with dataset_lock(dataset_path, owner="borel_lib.collect policy replay"):
        writer, start = None, 0
        try:  # resume an interrupted run of the same replay
            old = DatasetWriter.open(dataset_path)
            same = json.loads(json.dumps(manifest, default=str)) == json.loads(json.dumps(old.manifest, default=str))
            if same and old.shapes == {k: tuple(v) for k, v in shapes.items()}:
                writer, start = old, int(old.progress.get("trials_done", 0))
        except DatasetError:
            pass
        if writer is None:
            writer = DatasetWriter(dataset_path, shapes, manifest, overwrite=overwrite,
                                   dtypes={"iteration": "int32", "source_task": "int32"})
        done_now = 0
        for m in tqdm(range(start, n_trials), desc=f"policy replay {config.domain}", disable=not progress,
                      initial=start, total=n_trials):
            src, env_seeds, torch_seeds, file_draw = _replay_trial_randomness(seed, m, N)
            state = states[file_draw % len(states)]
            index = torch.as_tensor(src, device=col.device)
            net.load_state_dict({k: v.to(col.device)[index] for k, v in state["state_dict"].items()})
            for g, s in zip(col.agent.generators, torch_seeds):
                g.manual_seed(int(s))
            col.trial.reset(col.tasks, seeds=env_seeds)
            rec = col.run_trial("policy", epsilon=0.0)
            writer.write(trials=m, source_task=src.astype(np.int32),
                         iteration=np.full(N, state["iteration"], np.int32), **rec)
            done_now += 1
            if (m + 1) % checkpoint_every == 0 or m + 1 == n_trials:
                writer.checkpoint(trials_done=m + 1)
            if stop_after is not None and done_now >= stop_after and m + 1 < n_trials:
                return Path(dataset_path)
        return writer.finalize()


def policy_files(config: CollectConfig, checkpoint_dir: str | os.PathLike[str], which: str = "final") -> list[Path]:
    """The saved policies of a finished collection that policy replaying uses: the last iteration's
    (``final``) or every saved iteration after the warm-up (``saved``)."""
    check_choice(which, "policies", POLICY_CHOICES)
    directory = Path(checkpoint_dir)
    final = directory / f"policies_iter{config.iterations:05d}.pt"
    if which == "final":
        return [final]
    saved = sorted(p for p in directory.glob("policies_iter*.pt") if int(p.stem[len("policies_iter"):]) > 0)
    return saved or [final]


def replay_dataset_name(config: CollectConfig, profile: str) -> str:
    """Directory name of a collection's policy-replay dataset: ``<dataset_name>_policy_replay``."""
    return f"{dataset_name(config, profile)}_policy_replay"


def replay_outcomes(dataset: OfflineDataset) -> pd.DataFrame:
    """Tidy per-trial outcomes of a dataset (own or replayed): episode returns and trial success of
    every task and trial, with ``source_task`` (whose policy acted) and ``iteration`` columns."""
    env = make_env(dataset.manifest["domain"])
    H, N, M = dataset.manifest["horizon"], dataset.n_tasks, dataset.n_trials
    returns = np.asarray(dataset.rewards).reshape(N, M, -1, H).sum(-1)
    success = env.is_success(np.asarray(dataset.next_obs)[..., :-1], dataset.tasks[:, None, None, :]).any(-1)
    src = dataset.arrays.get("source_task", np.repeat(np.arange(N)[:, None], M, axis=1))
    it = dataset.arrays["iteration"]
    mode = dataset.manifest["collection_mode"]
    rows = []
    for i in range(N):
        for m in range(M):
            base = {"domain": dataset.manifest["domain"], "method": "dqn" if dataset.manifest["domain"] == "gridworld" else "sac", "variant": mode,
                    "seed": dataset.manifest["seed"], "task": i, "trial": m, "source_task": int(src[i, m]),
                    "iteration": int(it[i, m])}
            for e in range(returns.shape[-1]):
                rows.append({**base, "episode": e + 1, "metric": "return", "value": float(returns[i, m, e])})
            rows.append({**base, "episode": 0, "metric": "success", "value": float(success[i, m])})
    return pd.DataFrame(rows)


def load_policy_replay(domain: str, profile: str | None = None, **overrides: Any) -> OfflineDataset:
    """The finished policy-replay dataset of ``domain``'s collection (``overrides`` as for
    :func:`borel_lib.collect.run_collection`, e.g. ``init_state``); :class:`FileNotFoundError` naming the
    command that makes it if it is missing."""
    from borel_lib.paths import datasets_dir

    profile = resolve_profile(profile)
    path = datasets_dir(profile) / replay_dataset_name(CollectConfig.for_domain(domain, profile, **overrides), profile)
    if not path.is_dir():
        command = f"python -m borel_lib.collect {domain} --profile {profile}" + override_flags(overrides) + " --policy-replay"
        raise FileNotFoundError(f"{path}: no policy-replay dataset (relabelling='policy_replay' mixes its trials "
                                f"into the VAE's data); make it first with: {command}")
    return load_dataset(path)


def run_policy_replay(domain: str, profile: str | None = None, progress: bool = True,
                      replay: PolicyReplayConfig | None = None, **overrides: Any):
    """The policy-replay dataset of ``domain``'s collection (collected, resumed or loaded from cache),
    beside the own-policy one: ``datasets/<profile>/<dataset_name>_policy_replay``. Runs the own
    collection first if needed (:func:`borel_lib.collect.run_collection`; ``overrides`` go to its config).
    Writes the replayed trials' outcomes to ``collect_<dataset_name>_policy_replay.csv``. Returns
    ``(replay_dataset, outcomes_dataframe)``."""
    from borel_lib.paths import checkpoints_dir, datasets_dir
    from borel_lib.results import read_results, write_results

    profile = resolve_profile(profile)
    replay = replay or PolicyReplayConfig.for_profile(profile)
    run_collection(domain, profile, progress=progress, **overrides)
    cfg = CollectConfig.for_domain(domain, profile, **overrides)
    name = replay_dataset_name(cfg, profile)
    path = datasets_dir(profile) / name
    files = policy_files(cfg, checkpoints_dir(profile) / dataset_name(cfg, profile), replay.policies)
    command = f"python -m borel_lib.collect {domain} --profile {profile} --policy-replay" + override_flags(overrides)
    if path.is_dir():
        ds = load_dataset(path)
        if ds.manifest.get("replay_config") == replay.to_dict() and CollectConfig.upgrade(ds.manifest["config"]) == cfg.to_dict():
            try:
                return ds, read_results(f"collect_{name}", profile)
            except FileNotFoundError:
                pass
    collect_policy_replay(cfg, files, path, replay.n_trials, profile=profile, command=command, seed=replay.seed,
                          overwrite=True, progress=progress, checkpoint_every=replay.checkpoint_every,
                          extra_manifest={"replay_config": replay.to_dict()})
    ds = load_dataset(path)
    outcomes = replay_outcomes(ds)
    write_results(outcomes, f"collect_{name}", config={"collection": cfg.to_dict(), "policy_replay": replay.to_dict()},
                  profile=profile, command=command)
    return ds, outcomes
