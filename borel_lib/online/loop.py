"""The online training loop both learners share (:mod:`borel_lib.online`), their result tables and command line.

**The loop** (:class:`OnlineTrainer`): iterations until ``env_steps`` environment steps (every step counts:
random warm-up, exploration and PPO rollouts alike); an evaluation before training and whenever the count
crosses a multiple of ``eval_every_steps`` (and at the end): :func:`borel_lib.evaluation.evaluate` on the
tasks of :func:`borel_lib.pipeline.eval_tasks` (Gridworld: its 21 goals; Semi-circle: 20 unseen goals),
one k-episode trial per task from the fixed start with the deterministic policy and the belief carried
across episodes. ``cpu_seconds`` is the process CPU time spent in training iterations (evaluations
excluded), summed over the runs of a resumed job; it is measured, so it is the one column a resumed run does
not reproduce. A checkpoint is written at every evaluation; a killed run resumes from the last one and
repeats the iterations after it exactly (all generators are saved).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib.belief import VAEBelief
from borel_lib.config import ConfigError, check_choice, resolve_profile
from borel_lib.envs import make_env
from borel_lib.envs.batched import make_batched_trial
from borel_lib.io import atomic_path
from borel_lib.online.common import DOMAINS, OnlineConfig, TrialBuffer, build_vae, varibad_elbo
from borel_lib.state_relabel import hyper_state


# ------------------------------------------------------------------------------------------ the loop
class OnlineTrainer:
    """The shared online loop (module docstring). A learner subclass sets ``method`` and ``config_class`` and
    implements :meth:`iterate` (one iteration: acting, then updates), :meth:`policy` (the deterministic actor
    for evaluation: ``act(hyper) -> actions``) and :meth:`learner_state` / :meth:`load_learner_state`."""

    method: ClassVar[str] = "online"
    config_class: ClassVar[type[OnlineConfig]] = OnlineConfig
    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = ("env_steps", "eval_every_steps")
    """Config fields a resumed run may change."""

    def __init__(self, domain: str, config: OnlineConfig, seed: int = 0, device: str | torch.device = "cpu"):
        from borel_lib.pipeline import eval_tasks

        check_choice(domain, "domain", DOMAINS)
        self.domain, self.cfg, self.seed, self.device = domain, config, seed, torch.device(device)
        self.env = make_env(domain, init_state="fixed")
        self.trial = make_batched_trial(domain, config.n_envs, init_state="fixed")
        self.k, self.H, self.T = self.trial.k, self.trial.H, self.trial.trial_length
        self.discrete = self.trial.discrete
        self.n_actions = int(self.env.action_space.n) if self.discrete else None
        self.state_dim = self.env.observation_space.shape[0] + 1 + (2 if config.time_input else 0)
        torch.manual_seed(seed)  # the default layer initialisations draw from the global generator
        self.vae = build_vae(domain, config, self.device)
        self.belief = VAEBelief(self.vae, self.n_actions, "latent")
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.eval_tasks = eval_tasks(domain, seed, config.n_eval_tasks)
        self.trials = TrialBuffer(config.vae_buffer_trials)
        self.iteration, self.env_steps, self.cpu_seconds = 0, 0, 0.0
        self.rows: list[dict[str, Any]] = []
        self.losses: dict[str, list[float]] = {}

    # ----------------------------------------------------------------------------------- acting
    def vae_actions(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the encoder takes them: one-hot on Gridworld, else as executed."""
        if self.n_actions is None:
            return np.asarray(actions, np.float32)
        return np.eye(self.n_actions, dtype=np.float32)[np.asarray(actions)[..., 0].astype(np.int64)]

    @torch.no_grad()
    def run_trials(self, act) -> dict[str, np.ndarray]:
        """One trial of ``n_envs`` new tasks from the prior with ``act(hyper, t) -> (env_actions, extras)``, the
        belief run online by the current encoder. Returns ``obs``, ``actions`` (as executed, ``(n, T, 1)`` on
        Gridworld), ``rewards``, ``next_obs``, ``feats`` ``(n, T + 1, 2L)`` and every extra, stacked over time."""
        cfg, n = self.cfg, self.cfg.n_envs
        tasks = self.env.sample_tasks(n, self.rng)
        obs = self.trial.reset(tasks, seeds=[0] * n)  # the fixed start: no random start states
        state = self.belief.reset(n)
        feats = [self.belief.features(state)]
        rec: dict[str, list[np.ndarray]] = {"obs": [], "actions": [], "rewards": [], "next_obs": []}
        for t in range(self.T):
            hyper = hyper_state(obs, feats[-1], t if cfg.time_input else None, self.H, self.k)
            a, extras = act(hyper, t)
            out = self.trial.step(a)
            state = self.belief.step(state, a, out.reward, out.next_obs)
            feats.append(self.belief.features(state))
            a_store = np.asarray(a, np.float32).reshape(n, -1)
            for key, value in (("obs", obs), ("actions", a_store), ("rewards", out.reward), ("next_obs", out.next_obs),
                               *extras.items()):
                rec.setdefault(key, []).append(np.asarray(value))
            obs = out.obs
        self.env_steps += n * self.T
        return {**{k: np.stack(v, 1).astype(np.float32) for k, v in rec.items()}, "feats": np.stack(feats, 1)}

    # ------------------------------------------------------------------------------------ the VAE
    def vae_step(self, buffer: TrialBuffer) -> None:
        """One VAE step on ``vae_batch_trials`` whole trials of ``buffer``."""
        if buffer.size == 0:
            return
        idx = np.sort(buffer.sample(self.cfg.vae_batch_trials, self.rng))
        batch = {"obs": buffer.view("obs")[idx], "actions": self.vae_actions(buffer.view("actions")[idx]),
                 "rewards": buffer.view("rewards")[idx], "next_obs": buffer.view("next_obs")[idx]}
        batch = {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}
        c = self.cfg
        loss, parts = varibad_elbo(self.vae, batch, c.kl_weight, c.kl_batch_sum, c.decode_subset, self.gen)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"VAE loss is {loss.item()}")
        self.vae.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.vae.optim.step()
        self.log_losses({"vae_loss": loss.item(), **{k: v.item() for k, v in parts.items()}})

    def log_losses(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self.losses.setdefault(k, []).append(float(v))

    # -------------------------------------------------------------------------- learner interface
    def iterate(self) -> None:
        raise NotImplementedError

    def policy(self):
        raise NotImplementedError

    def learner_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_learner_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # -------------------------------------------------------------------------------- evaluation
    def evaluate(self) -> None:
        """Evaluate on the evaluation tasks (module docstring) and append the tidy rows, with the mean of the
        training losses since the previous evaluation as ``episode = 0`` rows."""
        from borel_lib.evaluation import evaluate

        ev = evaluate(self.belief, self.policy(), self.domain, self.eval_tasks, seed=self.seed,
                      time_input=self.cfg.time_input)
        base = {"domain": self.domain, "method": self.method, "variant": "online", "seed": self.seed,
                "iteration": self.iteration, "env_steps": self.env_steps, "cpu_seconds": round(self.cpu_seconds, 2)}
        for (episode, metric), value in ev.groupby(["episode", "metric"])["value"].mean().items():
            self.rows.append({**base, "episode": int(episode), "metric": metric, "value": float(value)})
        for metric, values in sorted(self.losses.items()):
            self.rows.append({**base, "episode": 0, "metric": metric, "value": float(np.mean(values))})
        self.losses = {}

    def final_trials(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The current policy's evaluation trials again, recorded (issue 33: what each learner's episode-1
        search looks like): ``(final, traj)``. ``final``: per task and episode ``return`` and ``success``, and
        as ``episode = 0`` rows the search metrics of :func:`borel_lib.evaluation.search_metrics`
        (``found_ep1``, ``direct_ep2``, ``search_then_go``, ...), with the task's goal as ``task_x``,
        ``task_y``; ``traj``: :func:`borel_lib.pipeline.trajectory_table` (positions, rewards, the exact
        posterior's support per step). The same tasks, seeds and deterministic policy as :meth:`evaluate`,
        so the returns are those of the last evaluation."""
        from borel_lib.evaluation import evaluate, search_metrics
        from borel_lib.pipeline import trajectory_table

        record: dict[str, Any] = {}
        ev = evaluate(self.belief, self.policy(), self.domain, self.eval_tasks, seed=self.seed,
                      time_input=self.cfg.time_input, record=record)
        search = search_metrics(self.domain, self.eval_tasks, record).melt(id_vars="task", var_name="metric")
        base = {"domain": self.domain, "method": self.method, "variant": "online", "seed": self.seed,
                "iteration": self.iteration, "env_steps": self.env_steps}
        final = pd.concat([ev, search.assign(episode=0)], ignore_index=True).assign(**base)
        final = final[[*base, "task", "episode", "metric", "value"]]
        final["task_x"], final["task_y"] = self.eval_tasks[final.task, 0], self.eval_tasks[final.task, 1]  # the goal
        traj = trajectory_table(self.domain, self.eval_tasks, record).assign(**base)
        return final, traj

    def paper_metric(self) -> float:
        """The last evaluation's mean return over the first ``eval_episodes`` episodes (the paper's metric)."""
        last = [r for r in self.rows if r["iteration"] == self.iteration and r["metric"] == "return"
                and 1 <= r["episode"] <= self.env.eval_episodes]
        return float(np.mean([r["value"] for r in last])) if last else float("nan")

    # ------------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"vae": self.vae.state_dict(), "vae_optim": self.vae.optim.state_dict(), "learner": self.learner_state(),
                "rng": self.rng.bit_generator.state, "gen": self.gen.get_state(), "trials": self.trials.state_dict(),
                "iteration": self.iteration, "env_steps": self.env_steps, "cpu_seconds": self.cpu_seconds,
                "rows": self.rows, "losses": self.losses, "config": self.cfg.to_dict(), "seed": self.seed,
                "method": self.method, "domain": self.domain}

    def load_state_dict(self, state: dict[str, Any], where: str = "checkpoint") -> None:
        saved, wanted = type(self.cfg).upgrade(state["config"]), self.cfg.to_dict()
        diff = sorted(k for k in wanted if k not in self.RESUMABLE_CHANGES and saved.get(k) != wanted[k])
        same_run = (state["seed"], state["method"], state["domain"]) == (self.seed, self.method, self.domain)
        if diff or not same_run:
            raise ConfigError(f"{where}: made with a different configuration ({diff or 'seed, method or domain'}); only "
                              f"{', '.join(self.RESUMABLE_CHANGES)} may change on resume. Delete the checkpoint.")
        self.vae.load_state_dict(state["vae"])
        self.vae.optim.load_state_dict(state["vae_optim"])
        self.load_learner_state(state["learner"])
        self.rng.bit_generator.state = state["rng"]
        self.gen.set_state(state["gen"].cpu())  # a generator state is a CPU byte tensor, wherever the checkpoint was mapped
        self.trials.load_state_dict(state["trials"])
        self.iteration, self.env_steps, self.cpu_seconds = state["iteration"], state["env_steps"], state["cpu_seconds"]
        self.rows, self.losses = state["rows"], state["losses"]

    def save(self, checkpoint: str | os.PathLike[str] | None) -> None:
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save(self.state_dict(), tmp)

    # ------------------------------------------------------------------------------------- train
    def train(self, checkpoint: str | os.PathLike[str] | None = None, progress: bool = True,
              stop_after: int | None = None, command: str = "") -> pd.DataFrame:
        """Run to ``env_steps`` (resuming from ``checkpoint`` if it exists) and return the evaluation rows.
        ``stop_after``: return after that many iterations of this call without a checkpoint, as a killed
        process would (a test of resuming). A checkpoint of a run with a larger budget that is already past
        ``env_steps`` is refused, as PEARL refuses one past its iterations (its rows are of a longer run than
        this config says): a one-line :class:`ConfigError` saying how to keep or replace it (``command``: this
        run's, for the message)."""
        cfg = self.cfg
        if checkpoint is not None and Path(checkpoint).is_file():
            state = torch.load(checkpoint, map_location=self.device, weights_only=False)
            budget = state.get("config", {}).get("env_steps")
            if isinstance(budget, int) and budget > cfg.env_steps and state["env_steps"] > cfg.env_steps:
                raise ConfigError(f"{checkpoint}: this run is already at {state['env_steps']} environment steps, past "
                                  f"env_steps={cfg.env_steps}; keep it (rerun with --env-steps {budget}), or replace "
                                  f"it: rm {checkpoint}; then rerun" + (f": {command}" if command else ""))
            self.load_state_dict(state, str(checkpoint))
        if not self.rows:
            self.evaluate()  # the untrained agent: the curves start at 0 steps
            self.save(checkpoint)
        bar = tqdm(total=cfg.env_steps, initial=min(self.env_steps, cfg.env_steps), desc=self.method,
                   disable=not progress, unit="step")
        done = 0
        while self.env_steps < cfg.env_steps:
            before = self.env_steps
            start = time.process_time()
            self.iterate()
            self.cpu_seconds += time.process_time() - start
            self.iteration += 1
            done += 1
            bar.update(self.env_steps - before)
            if self.env_steps // cfg.eval_every_steps > before // cfg.eval_every_steps or self.env_steps >= cfg.env_steps:
                self.evaluate()
                self.save(checkpoint)
                bar.set_postfix(paper_metric=f"{self.paper_metric():.2f}")
            if stop_after is not None and done >= stop_after:
                break
        bar.close()
        return pd.DataFrame(self.rows)


# --------------------------------------------------------------------------------- runs and results
def run_tag(method: str, domain: str, seed: int) -> str:
    """The result name ``online_<method>_<domain>_seed<S>``."""
    return f"online_{method}_{domain}_seed{seed}"


def result_table(rows: pd.DataFrame, eval_episodes: int) -> pd.DataFrame:
    """The evaluation rows with ``best_*`` and ``final_*`` rows of return and success added
    (:func:`borel_lib.baselines.common.summarise`: the best evaluation by the paper's metric, and the last)."""
    from borel_lib.baselines.common import summarise

    scored = rows.metric.isin(["return", "success"])
    return pd.concat([summarise(rows[scored], eval_episodes), rows[~scored]], ignore_index=True)


def command(module: str, domain: str, profile: str, seed: int, overrides: dict[str, Any]) -> str:
    """The command that regenerates a run's table."""
    return (f"python -m borel_lib.online.{module} {domain} --profile {profile} --seed {seed}"
            + "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items()))


def run_online(trainer_class: type[OnlineTrainer], module: str, domain: str, profile: str | None = None, seed: int = 0,
               progress: bool = True, device: str = "auto", directory: str | os.PathLike[str] | None = None,
               **overrides: Any) -> pd.DataFrame:
    """Train one learner for one seed (resuming a killed run from its checkpoint), write its table
    ``online_<method>_<domain>_seed<S>`` with the config beside it, and return the table. The rules of PEARL's
    runs: the run's lock is held throughout (a second process given the same run waits, then resumes), and a
    run never rewrites the table and config of a run made with other settings (a one-line error before any
    work, :func:`borel_lib.baselines.common.check_same_run`); a larger ``env_steps`` continues the run from
    its checkpoint."""
    from borel_lib.baselines.common import check_same_run, checkpoint_path, run_lock
    from borel_lib.device import get_device
    from borel_lib.results import write_results
    from borel_lib.seeding import seed_everything

    profile = resolve_profile(profile)
    cfg = trainer_class.config_class.for_domain(domain, profile, **overrides)
    tag = run_tag(trainer_class.method, domain, seed)
    cmd = command(module, domain, profile, seed, overrides)
    with run_lock(profile, tag, f"online {trainer_class.method}"):
        check_same_run(tag, profile, cfg, cmd, checkpoint_path(profile, tag), grows=("env_steps",),
                       directory=directory)
        seed_everything(seed)
        trainer = trainer_class(domain, cfg, seed, get_device(device))
        rows = trainer.train(checkpoint_path(profile, tag), progress=progress, command=cmd)
        df = result_table(rows, trainer.env.eval_episodes)
        for suffix, table in zip(("_final", "_traj"), trainer.final_trials()):  # the last policy's trials
            write_results(table, tag + suffix, config=cfg, profile=profile, command=cmd, directory=directory)
        write_results(df, tag, config=cfg, profile=profile, command=cmd, directory=directory)
    return df


def learner_entry_points(trainer_class: type[OnlineTrainer], description: str) -> tuple[Callable[..., pd.DataFrame],
                                                                                        Callable[..., int]]:
    """A learner module's two entry points: ``run_<method>(domain, profile, seed, progress, device, **overrides)``,
    which trains one seed (resuming a killed run) and writes ``online_<method>_<domain>_seed<S>``
    (:func:`run_online`), and ``main(argv)``, its command line (:func:`online_main`, ``description`` for
    ``--help``). The module is named after the learner's ``method``."""
    method = trainer_class.method

    def run(domain: str = "gridworld", profile: str | None = None, seed: int = 0, progress: bool = True,
            device: str = "auto", **overrides: Any) -> pd.DataFrame:
        return run_online(trainer_class, method, domain, profile, seed, progress, device, **overrides)

    def main(argv: list[str] | None = None) -> int:
        return online_main(trainer_class, method, description, argv)

    run.__name__ = run.__qualname__ = f"run_{method}"
    run.__doc__ = (f"Train {trainer_class.__name__} for one seed (resuming a killed run) and write "
                   f"``online_{method}_<domain>_seed<S>``.")
    main.__doc__ = f"Entry point of ``python -m borel_lib.online.{method}``."
    return run, main


def online_main(trainer_class: type[OnlineTrainer], module: str, description: str, argv: list[str] | None) -> int:
    """The command line ``python -m borel_lib.online.<module> DOMAIN [--profile P] [--seed S] [--env-steps N]``."""
    from borel_lib import cli

    parser = cli.make_parser(
        f"python -m borel_lib.online.{module}", description,
        outputs=f"  results:     data/results/<profile>/<family>/<domain>/online_{trainer_class.method}_<domain>_seed<seed>.csv"
                " and .config.json (borel_lib.results.result_path)\n"
                f"  checkpoint:  data/checkpoints/<profile>/online_{trainer_class.method}_<domain>_seed<seed>.pt\n"
                "  (profile smoke: the same under build/smoke/)")
    parser.add_argument("domain", choices=DOMAINS, help="domain to run on")
    cli.add_profile_argument(parser)
    cli.add_seed_argument(parser, default=0, help="seed of tasks, networks and environments")
    cli.add_device_argument(parser)
    parser.add_argument("--env-steps", type=cli.positive_int, default=None,
                        help="environment-step budget (default: the profile's)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run(args) -> int:
        overrides = {"env_steps": args.env_steps} if args.env_steps is not None else {}
        trainer_class.config_class.for_domain(args.domain, resolve_profile(args.profile), **overrides)  # checked first
        torch.set_num_threads(1)
        df = run_online(trainer_class, module, args.domain, args.profile, args.seed, progress=not args.no_progress,
                        device=args.device, **overrides)
        last = df[(df.metric == "final_return")]
        print(last[["episode", "value", "env_steps", "cpu_seconds"]].to_string(index=False))
        return 0

    return cli.main(run, parser, argv)

