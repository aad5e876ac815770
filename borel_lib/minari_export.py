"""Export a borel_lib dataset to Minari (the Farama offline-RL dataset format).

One Minari episode per BOReL trial (k episodes of one task, the belief-relevant unit). Minari stores
T + 1 observations per episode, ``obs[0..T-1]`` and ``next_obs[T-1]``. At inner episode boundaries
the next state of the transition (the episode's flagged final state) differs from the next
observation (a fresh reset state). So the true ``next_obs`` of every step is also kept in the
episode's ``infos["next_obs"]``, together with ``infos["task"]`` (the task parameters),
``infos["task_index"]`` and ``infos["trial_index"]``. Terminations are all False (the domains never
end); the last step of a trial is a truncation.

Spaces are the true ones of the trial environment (:class:`~borel_lib.envs.BAMDPTrial`): Gridworld
actions are ``Discrete(5)`` integers, continuous actions the domain's ``Box``, observations the MDP's
with the episode-end flag. The Minari dataset records an environment spec whose entry point is
:func:`borel_lib.envs.make_trial`, so ``MinariDataset.recover_environment()`` rebuilds the k-episode
trial environment of the collection (its ``init_state``) and ``recover_environment(eval_env=True)``
the evaluation one (``init_state="fixed"``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from borel_lib.datasets import OfflineDataset
from borel_lib.envs import domain_info, make_trial


def trial_spec(domain: str, init_state: str) -> EnvSpec:
    """A Gymnasium spec that builds the k-episode trial environment of ``domain`` (what one Minari
    episode of an export is)."""
    info = domain_info(domain)
    return EnvSpec(id=info.env_id.replace("-v", "Trial-v"), entry_point="borel_lib.envs:make_trial",
                   kwargs={"name_or_id": info.name, "init_state": init_state}, disable_env_checker=True)


DATASET_ID = re.compile(r"(?:[-\w][-\w/]*[-\w]+/)?[-\w]+?-v\d+")
"""A Minari dataset id, ``[namespace/]name-v<version>`` (Minari's own pattern, with the version required: Minari
reads one from every id it creates)."""


def minari_root(data_path: str | os.PathLike[str] | None = None) -> Path:
    """The Minari datasets folder: ``data_path``, else ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``."""
    root = data_path if data_path is not None else os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root else Path.home() / ".minari" / "datasets"


def check_dataset_id(dataset_id: str, data_path: str | os.PathLike[str] | None = None) -> Path:
    """The folder Minari dataset ``dataset_id`` would be written to; a one-line ``ValueError`` (before anything
    is written) if the id is malformed or a dataset of that id exists."""
    if not isinstance(dataset_id, str) or not DATASET_ID.fullmatch(dataset_id):
        raise ValueError(f"dataset_id {dataset_id!r}: a Minari id is [namespace/]name-v<version> of letters, digits, "
                         "'-' and '_', e.g. borel/semicircle-quick-v0")
    target = minari_root(data_path) / dataset_id
    if target.exists():
        raise ValueError(f"{target}: a Minari dataset {dataset_id!r} exists already; choose another id or version "
                         f"(e.g. -v{int(dataset_id.rsplit('-v', 1)[1]) + 1}), or replace it: rm -r {target}")
    return target


def to_minari(dataset: OfflineDataset, dataset_id: str, data_path: str | os.PathLike[str] | None = None,
              tasks: Any = None, trials: Any = None, description: str | None = None):
    """Write ``dataset`` (optionally a subset of task and trial indices) as Minari dataset ``dataset_id``
    (e.g. ``"borel/semicircle-quick-v0"``, checked first: :func:`check_dataset_id`); ``data_path`` sets
    ``MINARI_DATASETS_PATH`` for the call. Returns the created ``MinariDataset``. If the export fails, the
    folders it created are removed (no half-written dataset, no empty namespace folders)."""
    target = check_dataset_id(dataset_id, data_path)
    created = target  # the outermost folder on the way to the dataset that does not exist yet
    while not created.parent.exists():
        created = created.parent
    try:
        import minari
        from minari.data_collector.episode_buffer import EpisodeBuffer
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("to_minari needs the optional package minari: pip install 'borel_lib[minari]' "
                                  "(or pip install 'minari[hdf5]')") from err

    old = os.environ.get("MINARI_DATASETS_PATH")
    if data_path is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(data_path)
    try:
        task_ids = np.arange(dataset.n_tasks)[tasks if tasks is not None else slice(None)]
        trial_ids = np.arange(dataset.n_trials)[trials if trials is not None else slice(None)]
        T = dataset.trial_length
        domain = dataset.manifest["domain"]
        env_spec = trial_spec(domain, dataset.manifest["init_state"])
        trial = make_trial(domain)
        obs_space, act_space = trial.observation_space, trial.action_space
        discrete = isinstance(act_space, spaces.Discrete)
        buffers = []
        for i in np.atleast_1d(task_ids):
            for m in np.atleast_1d(trial_ids):
                obs = np.asarray(dataset.obs[i, m], dtype=np.float32)
                nxt = np.asarray(dataset.next_obs[i, m], dtype=np.float32)
                task = np.broadcast_to(dataset.tasks[i].astype(np.float32), (T + 1, dataset.tasks.shape[1])).copy()
                buffers.append(EpisodeBuffer(
                    id=len(buffers), observations=np.concatenate([obs, nxt[-1:]]).astype(obs_space.dtype),
                    actions=(np.asarray(dataset.actions[i, m, :, 0]).astype(np.int64) if discrete
                             else np.asarray(dataset.actions[i, m], dtype=act_space.dtype)),
                    rewards=np.asarray(dataset.rewards[i, m], dtype=np.float32),
                    terminations=np.zeros(T, dtype=bool), truncations=np.arange(T) == T - 1,
                    infos={"task": task, "next_obs": np.concatenate([nxt[:1], nxt]),
                           "task_index": np.full(T + 1, i, np.int64), "trial_index": np.full(T + 1, m, np.int64)}))
        return minari.create_dataset_from_buffers(
            dataset_id, buffers, env=env_spec, eval_env=trial_spec(domain, "fixed"),
            observation_space=obs_space, action_space=act_space,
            algorithm_name=f"borel_lib collection ({dataset.manifest['collection_mode']})",
            description=description or f"BOReL offline data, {dataset.manifest['domain']}, "
                                       f"init_state={dataset.manifest['init_state']}; one episode per trial",
        )
    except BaseException:
        shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        if data_path is not None:
            if old is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = old


def build_parser():
    """The ``python -m borel_lib.minari_export`` command line (see :mod:`borel_lib.cli`)."""
    from borel_lib import cli

    parser = cli.make_parser(
        "python -m borel_lib.minari_export",
        "Export a borel_lib dataset (a folder written by python -m borel_lib.collect) to Minari:\n"
        "one Minari episode per k-episode trial, true action space, recoverable environment.",
        outputs="  a Minari dataset named DATASET_ID under --data-path (default: $MINARI_DATASETS_PATH, "
                "else ~/.minari/datasets)")
    parser.add_argument("dataset", help="the borel_lib dataset folder, e.g. data/datasets/quick/semicircle_uniform_seed0")
    parser.add_argument("dataset_id", help="Minari id, e.g. borel/semicircle-quick-v0")
    parser.add_argument("--data-path", default=None, help="Minari datasets folder (default: Minari's)")
    parser.add_argument("--trials", type=cli.positive_int, default=None,
                        help="export only the first TRIALS trials of every task (default: all)")
    return parser


def _run_cli(args) -> int:
    from borel_lib.datasets import load_dataset

    check_dataset_id(args.dataset_id, args.data_path)  # before anything is read or written
    dataset = load_dataset(args.dataset)  # validated before anything is written
    if args.trials is not None and args.trials > dataset.n_trials:
        raise ValueError(f"--trials {args.trials}: the dataset has only {dataset.n_trials} trials per task")
    trials = slice(0, args.trials) if args.trials is not None else None
    out = to_minari(dataset, args.dataset_id, data_path=args.data_path, trials=trials)
    print(f"{args.dataset_id}: {out.total_episodes} episodes, {out.total_steps} steps")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.minari_export``; returns the exit code."""
    from borel_lib import cli

    return cli.main(_run_cli, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
