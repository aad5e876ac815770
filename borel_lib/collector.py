"""The batched collection engine: :class:`Collector` runs one :class:`~borel_lib.collect.CollectConfig`.

All N agents train at once: the tasks step together in a :class:`~borel_lib.envs.batched.BatchedTrial`
(MuJoCo: a :class:`~borel_lib.envs.batched.BatchedMujocoTrial`, one model, one ``MjData`` per task), the
agents are one :class:`~borel_lib.agents.EnsembleSAC`/:class:`~borel_lib.agents.EnsembleDQN` (or one shared,
task-conditioned SAC: ``CollectConfig.shared_agent``), and every trial is streamed into an on-disk dataset
(:mod:`borel_lib.datasets`). Dense-reward domains (Ant, Wind) store the sparse evaluation reward while the
agents learn from the dense one (:meth:`Collector.training_rewards`, :meth:`Collector.relabel_goals`).
Reacher-Image's agents act on the proprioceptive state, and every trial's images are rendered from the stored
states into the dataset's uint8 ``images`` array (:meth:`Collector.trial_images`).

A killed run resumes from its last checkpoint (agents, optimizers, replay buffers, every generator, the
partially written dataset) and produces the same dataset as an uninterrupted run. The protocols, the
dataset names and the command line are :mod:`borel_lib.collect`; policy replaying, which acts with the saved
policies of a finished collection, is :mod:`borel_lib.policy_replay`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.agents import DQNConfig, EnsembleDQN, EnsembleReplay, EnsembleSAC, SACConfig
from borel_lib.config import ConfigError
from borel_lib.datasets import IMAGE_NOTE, DatasetError, DatasetWriter, dataset_lock, load_dataset, temp_dir
from borel_lib.device import get_device
from borel_lib.envs import domain_info, make_env
from borel_lib.envs.batched import MUJOCO_BATCHABLE, BatchedMujocoTrial, BatchedTrial, state_shape
from borel_lib.io import atomic_path
from borel_lib.seeding import spawn_generators

if TYPE_CHECKING:  # the config is defined beside the protocols, which build on this module
    from borel_lib.collect import CollectConfig


def collection_tasks(config: CollectConfig) -> np.ndarray:
    """The tasks a collection trains on, a function of its config: ``env.training_tasks`` seeded by
    ``config.seed`` (21 distinct goals for Gridworld)."""
    task_rng, _ = spawn_generators(config.seed, 2)
    return make_env(config.domain, init_state=config.init_state).training_tasks(config.n_tasks, task_rng)


def agent_config(config: CollectConfig) -> SACConfig | DQNConfig:
    """The collecting agents' config: SAC gets the shared SAC fields whole (``sac_hyperparameters()``); Gridworld's
    DQN gets ``hidden``, ``critic_lr`` (its Q network's rate), ``gamma``, ``tau``, ``td_loss`` and ``max_grad_norm``.
    Both take the collection's ``batch_size``."""
    if config.discrete:
        return DQNConfig(hidden=config.hidden, lr=config.critic_lr, gamma=config.gamma, tau=config.tau,
                         batch_size=config.batch_size, td_loss=config.td_loss, max_grad_norm=config.max_grad_norm)
    return SACConfig(**config.sac_hyperparameters(), batch_size=config.batch_size)


def _doc(fn: Any) -> str:
    """The first line of ``fn``'s docstring (a reward's formula, for the dataset manifest)."""
    return (fn.__doc__ or "").strip().splitlines()[0]


def _save_torch(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


class Collector:
    """A resumable batched collection run writing ``dataset_path`` (see module docstring)."""

    def __init__(self, config: CollectConfig, dataset_path: str | os.PathLike[str],
                 checkpoint_dir: str | os.PathLike[str], profile: str = "quick", command: str = ""):
        self.cfg = config
        self.dataset_path = Path(dataset_path)
        self.ckpt_dir = Path(checkpoint_dir)  # created by the first checkpoint, never by a rejected run
        self.device = get_device(config.device)
        cfg = config
        self.env = make_env(cfg.domain, init_state=cfg.init_state,
                            **({"reward_mode": "dense"} if cfg.dense_collection else {}))
        trial_cls = BatchedMujocoTrial if cfg.domain in MUJOCO_BATCHABLE else BatchedTrial
        self.trial = trial_cls(self.env, cfg.n_tasks)
        self.tasks = collection_tasks(cfg)
        _, seed_rng = spawn_generators(cfg.seed, 2)
        self.env_seeds = [int(s) for s in seed_rng.integers(0, 2**31 - 1, size=cfg.n_tasks)]
        agent_seeds = [int(s) for s in seed_rng.integers(0, 2**31 - 1, size=cfg.n_tasks)]
        obs_dim = state_shape(self.env)[0] + 1  # Reacher-Image: the proprioceptive state (the agents' input)
        self.members = 1 if cfg.shared_agent else cfg.n_tasks
        if cfg.shared_agent:  # the shared agent sees the task too (not stored in the dataset)
            agent_seeds = agent_seeds[:1]
            self.agent_obs_dim = obs_dim + self.tasks.shape[1]
        else:
            self.agent_obs_dim = obs_dim
        if cfg.discrete:
            self.act_dim = 1
            self.agent = EnsembleDQN(obs_dim, 5, agent_seeds, agent_config(cfg), self.device)
        else:
            self.act_dim = self.env.action_space.shape[0]
            self.agent = EnsembleSAC(self.agent_obs_dim, self.act_dim, agent_seeds, agent_config(cfg), self.device)
        T = self.trial.trial_length
        per_member = cfg.trials_per_task * T * (cfg.n_tasks if cfg.shared_agent else 1)
        self.replay = EnsembleReplay(self.members, per_member, self.agent_obs_dim, self.act_dim, self.device)
        N, M = cfg.n_tasks, cfg.trials_per_task
        self.shapes = {"obs": (N, M, T, obs_dim), "actions": (N, M, T, self.act_dim), "rewards": (N, M, T),
                       "next_obs": (N, M, T, obs_dim), "iteration": (N, M)}
        if cfg.dense_collection:
            self.shapes.update(reward_goal=(N, M, T), reward_ctrl=(N, M, T))
        self.images = hasattr(self.env, "images")  # Reacher-Image: the dataset stores what BOReL sees
        if self.images:
            self.shapes["images"] = (N, M, T + self.trial.k) + tuple(self.env.observation_space["image"].shape)
        self.manifest = {
            "domain": cfg.domain, "env_id": domain_info(cfg.domain).env_id, "tasks": self.tasks.tolist(),
            "n_tasks": N, "n_trials": M, "episodes_per_trial": self.trial.k, "horizon": self.trial.H,
            "trial_length": T, "init_state": cfg.init_state, "collection_mode": "own_policy", "profile": profile,
            "config": cfg.to_dict(), "seed": cfg.seed, "created_by": command,
            "notes": "iteration -1 = random warm-up trials" + (
                f"; rewards = the sparse evaluation reward ({_doc(self.env.sparse_reward)}); the agents trained on "
                f"the dense reward reward_goal + reward_ctrl ({_doc(self.env.dense_reward)})"
                if cfg.dense_collection else "") + (f"; {IMAGE_NOTE}" if self.images else ""),
        }
        self.curves: list[dict[str, Any]] = []
        self.trials_done = 0
        self.iteration = 0  # next learning iteration to run
        self.writer: DatasetWriter | None = None

    # ------------------------------------------------------------------------------ acting
    def _random_actions(self) -> torch.Tensor:
        gens = self.agent.generators
        if self.cfg.discrete:
            return torch.stack([torch.randint(5, (), generator=g, device=g.device) for g in gens])
        if self.cfg.shared_agent:
            g = gens[0]
            return torch.rand(self.cfg.n_tasks, self.act_dim, generator=g, device=g.device) * 2 - 1
        return torch.stack([torch.rand(self.act_dim, generator=g, device=g.device) * 2 - 1 for g in gens])

    def agent_inputs(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The agents' observations ``(members, B, dim)`` for per-task observations ``(N, B, obs_dim)`` (or
        ``(N, obs_dim)``: then ``(members, dim)``): the shared agent sees each task appended and all tasks
        as one batch; per-task agents see their own task's observations."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if not self.cfg.shared_agent:
            return o
        single = o.dim() == 2
        o = o[:, None] if single else o
        task = torch.as_tensor(self.tasks, dtype=torch.float32, device=self.device)[:, None].expand(-1, o.shape[1], -1)
        o = torch.cat([o, task], -1).reshape(1, -1, self.agent_obs_dim)
        return o[0] if single else o

    def act(self, obs: np.ndarray, mode: str, epsilon: float = 0.0) -> np.ndarray:
        """Every task's action for observations ``(N, obs_dim)``: ``random``, ``policy`` (exploring: SAC
        samples, DQN ε-greedy) or ``deterministic`` (SAC's mean action). SAC: ``(N, act_dim)``; DQN: ``(N,)``
        action indices."""
        if mode == "random":
            a = self._random_actions()
        elif self.cfg.discrete:
            a = self.agent.act(self.agent_inputs(obs), epsilon=epsilon)
        else:
            x = self.agent_inputs(obs)
            a = self.agent.act(x[None] if self.cfg.shared_agent else x, deterministic=mode == "deterministic")
        a = a.detach().cpu().numpy()
        return a.reshape(self.cfg.n_tasks, self.act_dim) if self.cfg.shared_agent else a

    def run_trial(self, mode: str, epsilon: float = 0.0) -> dict[str, np.ndarray]:
        """One k-episode trial for all tasks with ``mode`` random or policy; arrays ``(N, T, ...)``."""
        N, T = self.cfg.n_tasks, self.trial.trial_length
        obs = self.trial.reset(self.tasks)  # per-task generators continue their streams
        rec = {"obs": np.zeros((N, T, obs.shape[-1]), np.float32), "actions": np.zeros((N, T, self.act_dim), np.float32),
               "rewards": np.zeros((N, T), np.float32), "next_obs": np.zeros((N, T, obs.shape[-1]), np.float32)}
        if self.cfg.dense_collection:
            rec.update(reward_goal=np.zeros((N, T), np.float32), reward_ctrl=np.zeros((N, T), np.float32))
        for t in range(T):
            a = self.act(obs, mode, epsilon)
            out = self.trial.step(a)
            rec["obs"][:, t] = obs
            rec["actions"][:, t] = a.reshape(N, self.act_dim)
            rec["rewards"][:, t] = out.reward
            rec["next_obs"][:, t] = out.next_obs
            if self.cfg.dense_collection:  # store the evaluation reward; the agents learn from the dense one
                rec["rewards"][:, t] = self.env.sparse_reward(obs[:, :-1], a, out.next_obs[:, :-1], self.tasks)
                rec["reward_goal"][:, t] = out.info["reward_goal"]
                rec["reward_ctrl"][:, t] = out.info["reward_ctrl"]
            obs = out.obs
        if self.images:
            rec["images"] = self.trial_images(rec["obs"], rec["next_obs"])
        return rec

    def trial_images(self, obs: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """The frames ``(N, k·(H + 1), h, w, 3)`` uint8 of trials ``(N, T, ·)``: per episode the start state's
        image, then every step's next state's (:func:`borel_lib.datasets.frame_indices`), rendered in one call
        from the stored states (the image is a function of the state alone, :meth:`ReacherImageEnv.images`)."""
        N, H, k = obs.shape[0], self.trial.H, self.trial.k
        start = obs[:, ::H, None, :]  # (N, k, 1, dim): each episode's start state
        steps = next_obs.reshape(N, k, H, -1)
        states = np.concatenate([start, steps], 2).reshape(N, k * (H + 1), -1)
        return self.env.images(states)

    def training_rewards(self, rec: dict[str, np.ndarray]) -> np.ndarray:
        """The rewards the agents learn from: the dense sum ``reward_goal + reward_ctrl`` for Ant and Wind
        (the authors' trick), plus ``goal_bonus`` × 1[goal reached at s'] and ``progress_bonus`` × the speed
        towards the goal when set; else the stored rewards."""
        if "reward_goal" not in rec:
            return rec["rewards"]
        r = rec["reward_goal"] + rec["reward_ctrl"]
        if not (self.cfg.goal_bonus or self.cfg.progress_bonus):
            return r
        nxt = np.asarray(rec["next_obs"])[..., :-1]  # (N, T, dim) or a dataset's (N, M, T, dim)
        tasks = np.asarray(self.tasks).reshape(len(self.tasks), *[1] * (nxt.ndim - 2), -1)
        if self.cfg.goal_bonus:
            reached = self.env.is_success(nxt, tasks)
            r = r + np.float32(self.cfg.goal_bonus) * reached.astype(np.float32)
        if self.cfg.progress_bonus:
            goals = tasks.astype(np.float32)
            before = np.abs(np.asarray(rec["obs"])[..., :2] - goals).sum(-1)
            after = np.abs(nxt[..., :2] - goals).sum(-1)
            r = r + np.float32(self.cfg.progress_bonus / self.env.dt) * (before - after).astype(np.float32)
        return r

    def relabel_goals(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Multi-goal relabelling of the shared Ant agent's minibatch (``goal_relabel``): a fraction of its
        transitions get a uniformly drawn training goal as the goal input of s and s', and the dense reward
        −‖xy(s') − g‖₁ − 0.1‖a‖² (plus ``goal_bonus``/``progress_bonus``, as :meth:`training_rewards`) for that
        goal. Draws from the agent's generator; returns a new batch."""
        g = self.agent.generators[0]
        obs, nxt = batch["obs"].clone(), batch["next_obs"].clone()
        B, d = obs.shape[1], self.tasks.shape[1]
        relabel = torch.rand(B, generator=g, device=g.device) < self.cfg.goal_relabel
        tasks = torch.as_tensor(self.tasks, dtype=torch.float32, device=obs.device)
        drawn = tasks[torch.randint(len(tasks), (B,), generator=g, device=g.device)]
        goal = torch.where(relabel[:, None], drawn, obs[0, :, -d:])
        obs[0, :, -d:], nxt[0, :, -d:] = goal, goal
        after = (nxt[0, :, :2] - goal).abs().sum(-1)
        dense = -after - self.env.ctrl_cost_weight * batch["actions"][0].pow(2).sum(-1)
        if self.cfg.goal_bonus:  # the same shaping terms as training_rewards, for the drawn goal
            dense = dense + self.cfg.goal_bonus * ((nxt[0, :, :2] - goal).norm(dim=-1) <= self.env.goal_radius).float()
        if self.cfg.progress_bonus:
            dense = dense + self.cfg.progress_bonus / self.env.dt * ((obs[0, :, :2] - goal).abs().sum(-1) - after)
        rewards = torch.where(relabel, dense, batch["rewards"][0])[None]
        return {**batch, "obs": obs, "next_obs": nxt, "rewards": rewards}

    def _record(self, rec: dict[str, np.ndarray], iteration: int) -> float:
        """Write one trial of every task to the dataset, replay and learning curves; return the
        fraction of tasks whose goal was reached."""
        m = self.trials_done
        assert self.writer is not None
        self.writer.write(trials=m, iteration=np.full(self.cfg.n_tasks, iteration, np.int32), **rec)
        shape = (self.members, -1)  # the shared agent's buffer takes every task's trial
        self.replay.add(obs=self.agent_inputs(rec["obs"]).reshape(*shape, self.agent_obs_dim),
                        actions=torch.as_tensor(rec["actions"]).reshape(*shape, self.act_dim),
                        rewards=torch.as_tensor(self.training_rewards(rec)).reshape(shape),
                        next_obs=self.agent_inputs(rec["next_obs"]).reshape(*shape, self.agent_obs_dim),
                        dones=torch.zeros(rec["rewards"].shape).reshape(shape))
        H = self.trial.H
        success = self.env.is_success(rec["next_obs"][..., :-1], self.tasks[:, None, :])
        ep_returns = rec["rewards"].reshape(self.cfg.n_tasks, -1, H).sum(-1)
        for i in range(self.cfg.n_tasks):
            base = {"domain": self.cfg.domain, "method": "dqn" if self.cfg.discrete else "sac",
                    "variant": self.cfg.init_state, "seed": self.cfg.seed, "task": i, "trial": m,
                    "iteration": iteration}
            for e in range(ep_returns.shape[1]):
                self.curves.append({**base, "episode": e + 1, "metric": "return", "value": float(ep_returns[i, e])})
            if self.cfg.dense_collection:
                dense = self.training_rewards(rec)[i].reshape(-1, H).sum(-1)
                for e in range(dense.shape[0]):
                    self.curves.append({**base, "episode": e + 1, "metric": "dense_return", "value": float(dense[e])})
            self.curves.append({**base, "episode": 0, "metric": "success", "value": float(success[i].any())})
        self.trials_done += 1
        return float(success.any(-1).mean())

    # ------------------------------------------------------------------------- checkpoints
    def _ckpt_path(self) -> Path:
        return self.ckpt_dir / "collector.pt"

    def save_checkpoint(self) -> None:
        assert self.writer is not None
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.writer.checkpoint(trials_done=self.trials_done, iteration=self.iteration)
        state = {"agent": self.agent.full_state_dict(), "replay": self.replay.state_dict(),
                 "env_rngs": [g.bit_generator.state for g in self.trial._rngs], "curves": self.curves,
                 "trials_done": self.trials_done, "iteration": self.iteration, "config": self.cfg.to_dict(),
                 "tasks": self.tasks}
        _save_torch(state, self._ckpt_path())
        _save_torch(self.policy_state(), self.ckpt_dir / f"policies_iter{self.iteration:05d}.pt")

    def policy_state(self) -> dict[str, Any]:
        """All tasks' current policies (the ensemble's acting network), for policy replaying."""
        net = self.agent.q if self.cfg.discrete else self.agent.actor
        return {"state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "iteration": self.iteration,
                "tasks": self.tasks, "config": self.cfg.to_dict()}

    def load_policies(self, iteration: int, hint: str = "") -> None:
        """Act with the policies saved at collection ``iteration`` (``policies_iter<iteration>.pt``) and reset
        every agent's sampling generator to its task index (probes compare modes on the same noise);
        FileNotFoundError naming the file if that iteration was not saved. ``hint``: how to make it."""
        path = self.ckpt_dir / f"policies_iter{int(iteration):05d}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no saved policies at iteration {iteration}" + (f" ({hint})" if hint else ""))
        net = self.agent.q if self.cfg.discrete else self.agent.actor
        net.load_state_dict(torch.load(path, map_location=self.device, weights_only=False)["state_dict"])
        for task, g in enumerate(self.agent.generators):
            g.manual_seed(task)

    def _load_state(self) -> dict[str, Any] | None:
        """The checkpoint of this collection, or None; raises if it belongs to another config."""
        path = self._ckpt_path()
        if not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        if type(self.cfg).upgrade(state["config"]) != self.cfg.to_dict() or not np.array_equal(state.get("tasks"), self.tasks):
            if self.extendable() is not None:
                raise ConfigError(f"{self.ckpt_dir}: this collection finished with iterations="
                                  f"{state['iteration']}; rerun with --extend (extend=True) to continue it to "
                                  f"iterations={self.cfg.iterations}, or --restart to collect again")
            raise ConfigError(f"{self.ckpt_dir}: the checkpoint in this folder was made with a different config or "
                              "task set; rerun with --restart (restart=True) to discard it and collect again")
        return state

    def _finished(self, state: dict[str, Any] | None) -> bool:
        """True if ``state`` is this collection's final checkpoint and its dataset is on disk with the
        same config (a kill landed after the dataset was finalised): restore the curves from it."""
        if state is None or state["iteration"] < self.cfg.iterations or not self.dataset_path.is_dir():
            return False
        try:
            manifest = load_dataset(self.dataset_path, verify=False, check_finite=False).manifest
        except DatasetError:
            return False
        if type(self.cfg).upgrade(manifest["config"]) != self.cfg.to_dict() or not np.array_equal(manifest["tasks"], self.tasks):
            return False
        self.curves, self.trials_done, self.iteration = state["curves"], state["trials_done"], state["iteration"]
        return True

    def discard_state(self) -> None:
        """Delete this collection's checkpoint folder and interrupted writer (``--restart``). The finished
        dataset, if any, stays usable until the new run replaces it atomically."""
        if self.ckpt_dir.is_dir():
            for f in [self._ckpt_path(), *self.ckpt_dir.glob("policies_iter*.pt"), *self.ckpt_dir.glob(".*.tmp-*")]:
                f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # keep a folder that holds files we did not write
                self.ckpt_dir.rmdir()
        shutil.rmtree(temp_dir(self.dataset_path), ignore_errors=True)

    def _resume(self, state: dict[str, Any] | None) -> bool:
        if state is None:
            return False
        if not (temp_dir(self.dataset_path) / "writer.json").is_file():
            raise DatasetError(f"{self.ckpt_dir}: a collection checkpoint exists but its interrupted dataset "
                               f"{temp_dir(self.dataset_path)} does not (the dataset was finished with another "
                               "config, or removed); rerun with --restart (restart=True) to discard the stale "
                               "checkpoint folder and collect again")
        self.writer = DatasetWriter.open(self.dataset_path)
        self._restore(state)
        return True

    def _restore(self, state: dict[str, Any]) -> None:
        """Load agents, replay buffers, environment generators and curves from a checkpoint."""
        self.agent.load_full_state_dict(state["agent"])
        self.replay.load_state_dict(state["replay"])
        self.trial._rngs = [np.random.Generator(np.random.PCG64()) for _ in state["env_rngs"]]
        for g, s in zip(self.trial._rngs, state["env_rngs"]):
            g.bit_generator.state = s
        self.curves, self.trials_done, self.iteration = state["curves"], state["trials_done"], state["iteration"]

    def extendable(self, source: Collector | None = None) -> dict[str, Any] | None:
        """The final checkpoint of a finished collection that differs from this config only by fewer
        ``iterations`` (so :meth:`extend` can continue it), else None: this collection's own folders, or
        ``source``'s (a shorter collection stored under another name, see :func:`borel_lib.collect.dataset_name`)."""
        src = self if source is None else source
        path = src._ckpt_path()
        if not path.is_file() or not src.dataset_path.is_dir():
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        old, new = type(self.cfg).upgrade(state["config"]), self.cfg.to_dict()
        same = {k: v for k, v in old.items() if k != "iterations"} == {k: v for k, v in new.items() if k != "iterations"}
        if not (same and np.array_equal(state.get("tasks"), self.tasks) and old["iterations"] < new["iterations"]
                and state["iteration"] == old["iterations"]):
            return None
        try:
            manifest = load_dataset(src.dataset_path, verify=False, check_finite=False).manifest
        except DatasetError:
            return None
        return state if type(self.cfg).upgrade(manifest["config"]) == old else None

    def extend(self, progress: bool = True, stop_after: int | None = None, source: Collector | None = None) -> Path:
        """Continue a finished collection made with fewer ``iterations`` (all else equal) to this config's
        ``iterations``; returns the dataset's path.

        The finished dataset's trials are copied into a new writer, the final checkpoint's agents, replay
        buffers (which never wrap: their capacity is every trial) and generators are restored, and the run
        goes on as if ``iterations`` had been the larger number from the start: on CPU the result is the
        dataset an uninterrupted run with the larger ``iterations`` writes. The shorter collection is this
        one's folders (replaced when the longer dataset is finalised) or ``source``'s (left as it is); a kill
        during the extension resumes like any collection."""
        src = self if source is None else source
        with dataset_lock(self.dataset_path, owner=f"borel_lib.collect {self.cfg.domain} (extend)"):
            state = self.extendable(source)
            if state is None:
                raise ConfigError(f"{src.dataset_path}: no finished collection of this config with fewer iterations "
                                  f"(and its final checkpoint in {src.ckpt_dir}) to extend to "
                                  f"iterations={self.cfg.iterations}")
            old = load_dataset(src.dataset_path)
            self.writer = DatasetWriter(self.dataset_path, self.shapes, self.manifest, overwrite=True)
            m = int(state["trials_done"])
            for name, arr in self.writer.arrays.items():
                arr[:, :m] = old.arrays[name][:, :m]
            self._restore(state)
            self.replay.ptr = self.replay.size  # the short buffer was full (its pointer wrapped to 0); this one is not
            if source is not None:  # policy replaying reads every saved policy from this collection's folder
                self.ckpt_dir.mkdir(parents=True, exist_ok=True)
                for f in sorted(source.ckpt_dir.glob("policies_iter*.pt")):
                    shutil.copyfile(f, self.ckpt_dir / f.name)
            self.save_checkpoint()  # from here on a kill resumes the longer collection
            return self._run(self._load_state(), True, progress, stop_after)

    # ---------------------------------------------------------------------------------- run
    def run(self, overwrite: bool = False, progress: bool = True, stop_after: int | None = None,
            restart: bool = False) -> Path:
        """Collect (resuming if a checkpoint exists); returns the finished dataset's path.

        Holds the dataset's lock file while running (a second writer gets a clear error). ``restart``
        discards a stale checkpoint and interrupted writer first. A run whose dataset was finalised
        just before a kill returns it at once, its learning curves restored from the final checkpoint.
        ``stop_after`` stops after that many learning iterations of this call (tests simulate a kill)."""
        with dataset_lock(self.dataset_path, owner=f"borel_lib.collect {self.cfg.domain}"):
            if restart:
                self.discard_state()
            state = self._load_state()
            if self._finished(state):
                return self.dataset_path
            return self._run(state, overwrite, progress, stop_after)

    def _run(self, state: dict[str, Any] | None, overwrite: bool, progress: bool, stop_after: int | None) -> Path:
        cfg = self.cfg
        if not self._resume(state):
            self.writer = DatasetWriter(self.dataset_path, self.shapes, self.manifest, overwrite=overwrite)
            self.trial.reset(self.tasks, seeds=self.env_seeds)
            for _ in range(cfg.warmup_trials):
                self._record(self.run_trial("random"), iteration=-1)
            self.save_checkpoint()
        bar = tqdm(range(self.iteration, cfg.iterations), desc=f"collect {cfg.domain}", disable=not progress,
                   initial=self.iteration, total=cfg.iterations)
        done_now = 0
        for it in bar:
            eps = max(0.0, 1.0 - it / cfg.epsilon_iters) if (cfg.discrete and cfg.epsilon_iters) else 0.0
            succ = [self._record(self.run_trial("policy", epsilon=eps), iteration=it)
                    for _ in range(cfg.trials_per_iter)]
            for _ in range(cfg.updates_per_iter):
                batch = self.replay.sample(cfg.batch_size, self.agent.generators)
                losses = self.agent.update(self.relabel_goals(batch) if cfg.goal_relabel else batch)
                if not all(torch.isfinite(v).all() for v in losses.values()):
                    raise FloatingPointError(f"non-finite loss at iteration {it}; last good checkpoint: {self._ckpt_path()}")
            self.iteration = it + 1
            bar.set_postfix(success=f"{np.mean(succ):.2f}", eps=f"{eps:.2f}")
            if self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations:
                self.save_checkpoint()
            done_now += 1
            if stop_after is not None and done_now >= stop_after and self.iteration < cfg.iterations:
                return self.dataset_path
        assert self.writer is not None
        path = self.writer.finalize()
        return path

    def learning_curves(self) -> pd.DataFrame:
        """Tidy per-task learning curves: one row per task, trial, episode and metric."""
        return pd.DataFrame(self.curves)
