"""Export a borel_lib dataset to Minari (the Farama offline-RL dataset format).

One Minari episode per BOReL trial (k episodes of one task, the belief-relevant unit). Minari stores
T + 1 observations per episode, ``obs[0..T-1]`` and ``next_obs[T-1]``. At inner episode boundaries
the next state of the transition (the episode's flagged final state) differs from the next
observation (a fresh reset state). So the true ``next_obs`` of every step is also kept in the
episode's ``infos["next_obs"]``, together with ``infos["task"]`` (the task parameters),
``infos["task_index"]`` and ``infos["trial_index"]``. Terminations are all False (the domains never
end); the last step of a trial is a truncation.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces

from borel_lib.datasets import OfflineDataset


def to_minari(dataset: OfflineDataset, dataset_id: str, data_path: str | os.PathLike[str] | None = None,
              tasks: Any = None, trials: Any = None, description: str | None = None):
    """Write ``dataset`` (optionally a subset of task and trial indices) as Minari dataset ``dataset_id``
    (e.g. ``"borel/semicircle-quick-v0"``); ``data_path`` sets ``MINARI_DATASETS_PATH`` for the call.
    Returns the created ``MinariDataset``."""
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    old = os.environ.get("MINARI_DATASETS_PATH")
    if data_path is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(data_path)
    try:
        task_ids = np.arange(dataset.n_tasks)[tasks if tasks is not None else slice(None)]
        trial_ids = np.arange(dataset.n_trials)[trials if trials is not None else slice(None)]
        T = dataset.trial_length
        buffers = []
        for i in np.atleast_1d(task_ids):
            for m in np.atleast_1d(trial_ids):
                obs = np.asarray(dataset.obs[i, m], dtype=np.float32)
                nxt = np.asarray(dataset.next_obs[i, m], dtype=np.float32)
                task = np.broadcast_to(dataset.tasks[i].astype(np.float32), (T + 1, dataset.tasks.shape[1])).copy()
                buffers.append(EpisodeBuffer(
                    id=len(buffers), observations=np.concatenate([obs, nxt[-1:]]),
                    actions=np.asarray(dataset.actions[i, m], dtype=np.float32),
                    rewards=np.asarray(dataset.rewards[i, m], dtype=np.float32),
                    terminations=np.zeros(T, dtype=bool), truncations=np.arange(T) == T - 1,
                    infos={"task": task, "next_obs": np.concatenate([nxt[:1], nxt]),
                           "task_index": np.full(T + 1, i, np.int64), "trial_index": np.full(T + 1, m, np.int64)}))
        obs_dim, act_dim = dataset.obs.shape[-1], dataset.actions.shape[-1]
        return minari.create_dataset_from_buffers(
            dataset_id, buffers,
            observation_space=spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32),
            action_space=spaces.Box(-np.inf, np.inf, (act_dim,), np.float32),
            algorithm_name=f"borel_lib collection ({dataset.manifest['collection_mode']})",
            description=description or f"BOReL offline data, {dataset.manifest['domain']}, "
                                       f"init_state={dataset.manifest['init_state']}; one episode per trial",
        )
    finally:
        if data_path is not None:
            if old is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = old
