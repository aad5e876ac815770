"""The baselines' shared evaluation protocol on unseen tasks (BOReL paper §6 "Main Results"), and what else
PEARL (:mod:`~borel_lib.baselines.pearl`) and MBML (:mod:`~borel_lib.baselines.mbml`) both use: the base of
their configs (:class:`BaselineConfig`: values per domain and per profile), their context transitions, result
tables, checkpoints and command line.

- **Test protocol as BOReL compares it** (:func:`evaluate`): one k-episode trial per unseen task from
  the fixed start with the deterministic policy; z is drawn at the start of every episode and held
  for the episode — from the prior in episode 1, from the posterior given *all* transitions of the
  trial so far afterwards (the context accumulates across episodes). This is PEARL's official protocol
  with ``num_exp_traj_eval = 1``; the official cheetah setting (2) would score both of BOReL's
  episodes with prior samples. MBML is tested the same way (its own official test differs:
  :mod:`~borel_lib.baselines.mbml`, step 4).
- **Context transitions** (:func:`context_features`): (s, a, r) — plus s' where the task changes the
  transitions — as one array, the input of :class:`~borel_lib.baselines.task_encoder.ContextEncoder`.
- **What the networks see** (:class:`Inputs`, :func:`image_inputs`): the environment's flat states without the
  episode-end flag; on Reacher-Image, what BOReL's learnt parts see of them (:mod:`borel_lib.image_features`:
  the seed's frozen image encoder, trained once on the collection's frames and shared with BOReL, renders and
  encodes every state; by default the joint velocities and the image features, no joint angles). The reward,
  success and the recorded trajectories stay on the true states.
- **Result tables**: :func:`summarise` adds the ``best_*`` rows the figures plot (the evaluation with the
  highest return over BOReL's episodes) and ``final_*`` rows; :func:`write_trajectories` writes one more
  evaluation's trials of the final agent, so the figures can draw them without a checkpoint.
- **Command line** (:func:`baseline_parser`, :func:`baseline_command`): the shared rules of
  :mod:`borel_lib.cli`, and the command recorded beside a run's results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
import torch

from borel_lib.agents import EnsembleMLP
from borel_lib.config import Config, check_choice, check_positive, resolve_profile
from borel_lib.envs import make_env
from borel_lib.envs.batched import batched_trial_for

B = TypeVar("B", bound="BaselineConfig")


@dataclasses.dataclass(frozen=True)
class BaselineConfig(Config):
    """Base of the baselines' configs: the two settings of the shared test protocol (:func:`evaluate`), the
    domains a baseline runs on, and its values per domain and per (profile, domain), layered by
    :meth:`for_domain`."""

    num_exp_traj_eval: int = 1
    """Test episodes that draw z from the prior before the posterior is used (1: BOReL's comparison)."""
    n_eval_tasks: int = 20
    """Unseen evaluation tasks (one trial each)."""

    DOMAIN: ClassVar[dict[str, dict[str, Any]]] = {}
    """Values per domain, on top of the profile's ``PRESETS``; its keys are the domains the baseline runs on."""
    PROFILE_DOMAIN: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}
    """Values per (profile, domain), on top of ``DOMAIN``'s."""

    @classmethod
    def for_domain(cls: type[B], domain: str, profile: str | None = None, **overrides: Any) -> B:
        """The profile's values with ``DOMAIN``'s for ``domain``, then ``PROFILE_DOMAIN``'s, then ``overrides``."""
        check_choice(domain, "domain", tuple(cls.DOMAIN))
        profile = resolve_profile(profile)
        return cls.for_layers(profile, cls.DOMAIN.get(domain), cls.PROFILE_DOMAIN.get((profile, domain)), overrides)

    def validate(self) -> None:
        check_positive(self.n_eval_tasks, "n_eval_tasks")
        check_positive(self.num_exp_traj_eval, "num_exp_traj_eval", allow_zero=True)


def single_forward(net: EnsembleMLP, x: torch.Tensor) -> torch.Tensor:
    """Apply a one-member :class:`EnsembleMLP` to ``(..., in)``."""
    return net(x.reshape(1, -1, x.shape[-1]))[0].reshape(*x.shape[:-1], -1)


def context_features(obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                     use_next_obs: bool) -> np.ndarray:
    """Context transitions (s, a, r[, s']) as one array ``(..., context_dim)``."""
    parts = [obs, actions, rewards[..., None]] + ([next_obs] if use_next_obs else [])
    return np.concatenate(parts, -1).astype(np.float32)


# ------------------------------------------------------------------------------- what is seen
class Inputs:
    """What a baseline's networks see of flat environment states with the episode-end flag ``(..., d + 1)``
    (module docstring): the states without the flag, or, with an ``observe`` (Reacher-Image:
    :class:`~borel_lib.image_features.ImageObserver`), the observed vector's ``columns``
    (:func:`~borel_lib.image_features.learnt_columns`; ``None``: all) without the flag. ``fingerprint`` names
    the observed data (the features and ``proprio``), so a checkpoint made on other features is refused."""

    def __init__(self, observe: Callable[[np.ndarray], np.ndarray] | None = None, columns: list[int] | None = None,
                 fingerprint: str | None = None):
        self.observe, self.columns, self.fingerprint = observe, columns, fingerprint

    def __call__(self, states: np.ndarray) -> np.ndarray:
        if self.observe is None:
            return states[..., :-1]
        seen = self.observe(np.asarray(states))
        return (seen if self.columns is None else seen[..., self.columns])[..., :-1]

    def pair(self, obs: np.ndarray, next_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What is seen of a step's ``obs`` (the states to act on next) and ``next_obs``: one observation when
        their states are equal (inside an episode; the flag is not seen), so each state is rendered once."""
        if self.observe is None:
            return obs[:, :-1], next_obs[:, :-1]
        nxt = self(next_obs)
        return (nxt if np.array_equal(obs[..., :-1], next_obs[..., :-1]) else self(obs)), nxt

    def dim(self, state_dim: int) -> int:
        """Width of what is seen of states of ``state_dim`` numbers (plus the flag)."""
        return int(self(np.zeros((1, state_dim + 1), np.float32)).shape[-1])


def image_inputs(domain: str, profile: str, seed: int, device: str | torch.device = "cpu", progress: bool = True,
                 image: tuple[tuple[str, Any], ...] = (), dataset: Any = None) -> tuple[Any, Inputs]:
    """``(dataset view, Inputs)`` of a run: for an image domain, BOReL's image stage for ``seed``
    (:func:`borel_lib.image_features.observed_data` on ``dataset``, default the collection's, collected or
    loaded from cache: the same encoder and features as BOReL's run of the seed, never a second encoder) and
    :class:`Inputs` seeing its :func:`~borel_lib.image_features.learnt_columns`; for any other domain
    ``(dataset, Inputs())``: the states as they are. ``image``: overrides of the image stage (``--image``)."""
    from borel_lib.image_features import IMAGE_DOMAINS, learnt_columns, observed_data

    if domain not in IMAGE_DOMAINS:
        return dataset, Inputs()
    if dataset is None:
        from borel_lib.collect import run_collection

        dataset = run_collection(domain, profile, progress=progress)[0]
    view, observe = observed_data(dataset, profile, seed, device, progress, image)
    return view, Inputs(observe, learnt_columns(view.manifest), view.fingerprint)


def image_tag(image: tuple[tuple[str, Any], ...]) -> str:
    """The part of a baseline's run name for its image-stage overrides (``_propriofull``; empty without)."""
    return setting_parts(image, {})


def image_flags(image: tuple[tuple[str, Any], ...]) -> str:
    """The command-line form of image-stage overrides (`` --image proprio=full``)."""
    return setting_flags("image", image)


def given_and_named(config_cls: Any, domain: str, profile: str, settings: Any,
                    unnamed: tuple[str, ...]) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
    """``(given, named)`` for a baseline's ``--<baseline> FIELD=VALUE`` settings, both sorted: ``given`` those not
    equal to the profile's value for ``domain`` (the run's command; unknown fields and bad values raise one
    :class:`ConfigError` from ``config_cls.for_domain``), ``named`` those of them that name the run (not ``unnamed``)."""
    settings = dict(settings)
    base = config_cls.for_domain(domain, profile, **settings)
    default = config_cls.for_domain(domain, profile)
    given = tuple(sorted((k, v) for k, v in settings.items() if getattr(base, k) != getattr(default, k)))
    return given, tuple((k, v) for k, v in given if k not in unnamed)


def setting_parts(settings: tuple[tuple[str, Any], ...], short: dict[str, str]) -> str:
    """The part of a baseline's run name for the config settings that name it (``--pearl FIELD=VALUE``):
    ``_<short name><value>`` each, tuples joined by x (``(("context_reward", "dense"),)`` → ``_ctxdense``)."""
    return "".join(f"_{short.get(k, k)}{'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in settings)


def setting_flags(flag: str, settings: tuple[tuple[str, Any], ...]) -> str:
    """The command-line form of those settings (`` --pearl context_reward=dense``)."""
    return "".join(f" --{flag} {k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in settings)


# -------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(agent: Any, domain: str, tasks: np.ndarray, seed: int, num_exp_traj_eval: int = 1,
             use_next_obs: bool = False, oracle: bool = False, record: dict[str, Any] | None = None,
             inputs: Inputs | None = None, context_reward: Any = None, init_state: str = "fixed") -> pd.DataFrame:
    """One k-episode trial per task from the fixed start (module docstring, test protocol; or ``init_state``): z drawn
    once at the start of every episode — prior for the first ``num_exp_traj_eval`` episodes, then the
    posterior given all transitions of the trial so far (context (s, a, r[, s']) with
    ``use_next_obs``) — and the deterministic policy. Returns per-task, per-episode ``return`` and
    ``success`` rows. ``record`` receives ``z`` ``(n, T, L)`` and the trajectories as
    :func:`borel_lib.evaluation.evaluate` records them: ``actions``, ``rewards``, ``next_obs`` (with the
    episode-end flag) ``(n, T, ·)``.

    ``agent`` needs ``device``, ``prior(n)``, ``posterior(context)``, ``sample_z(mu, var, generator)``
    and ``act(obs, z, deterministic=True)``: :class:`~borel_lib.baselines.pearl_agent.PEARLAgent` and
    :class:`~borel_lib.baselines.mbml_models.MBMLAgent` both have them. ``inputs``: what the agent and its
    context see of the states (:class:`Inputs`; default the states without the flag); success and ``record``
    are on the true states. ``context_reward``: the reward the context holds, ``f(states, actions, next_states,
    tasks, reward)`` on the true states without the flag (PEARL's ``context_reward="dense"``); default the
    environment's. ``init_state``: the episodes' initial-state variant (default the test protocol's fixed start;
    a collection's own variant compares an agent with its logged trials, ``scripts/mbml_teachers.py``)."""
    see = inputs if inputs is not None else Inputs()
    env = make_env(domain, init_state=init_state)
    n = len(tasks)
    trial = batched_trial_for(env, n)
    states = trial.reset(np.asarray(tasks), seeds=range(seed, seed + n))
    obs = see(states)
    gen = torch.Generator(device=agent.device).manual_seed(seed + 20_000)  # eval draws leave training's stream alone
    goal = torch.as_tensor(np.asarray(tasks), dtype=torch.float32, device=agent.device)
    returns, success = np.zeros((n, trial.k)), np.zeros((n, trial.k), dtype=bool)
    context: list[np.ndarray] = []
    zs, trace = [], {"actions": [], "rewards": [], "next_obs": []}
    for e in range(trial.k):
        if oracle:
            z = goal
        elif e < num_exp_traj_eval or not context:
            z = agent.sample_z(*agent.prior(n), generator=gen)
        else:
            ctx = torch.as_tensor(np.stack(context, 1), device=agent.device)
            z = agent.sample_z(*agent.posterior(ctx), generator=gen)
        for _t in range(trial.H):
            a = agent.act(obs, z, deterministic=True)
            out = trial.step(a)
            returns[:, e] += out.reward
            success[:, e] |= env.is_success(out.next_obs[:, :-1], trial.tasks)
            seen_obs, nxt = see.pair(out.obs, out.next_obs)
            r_ctx = (out.reward if context_reward is None
                     else context_reward(states[:, :-1], a, out.next_obs[:, :-1], trial.tasks, out.reward))
            context.append(context_features(obs, a, r_ctx, nxt, use_next_obs))
            zs.append(z.detach().cpu().numpy())
            for key, value in (("actions", a), ("rewards", out.reward), ("next_obs", out.next_obs)):
                trace[key].append(np.asarray(value))
            obs, states = seen_obs, out.obs
    if record is not None:
        record["z"] = np.stack(zs, 1)
        record.update({key: np.stack(v, 1) for key, v in trace.items()})
    rows = [{"task": i, "episode": e + 1, "metric": m, "value": float(v[i, e])}
            for i in range(n) for e in range(trial.k) for m, v in (("return", returns), ("success", success))]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ result tables
def summarise(rows: pd.DataFrame, eval_episodes: int) -> pd.DataFrame:
    """The per-evaluation rows plus ``best_*`` rows (the evaluation with the highest mean return over
    the first ``eval_episodes`` episodes, the paper's metric; a secondary column: figures and tables compare
    every method on the mean of its last 10 % of evaluations, :func:`borel_lib.results.evaluation_summary`) and
    ``final_*`` rows (the last evaluation). Extra columns say which iteration they come from."""
    ret = rows[(rows.metric == "return") & (rows.episode <= eval_episodes)]
    by_eval = ret.groupby("iteration")["value"].mean()
    best_it, last_it = int(by_eval.idxmax()), int(rows.iteration.max())
    extra = []
    for label, it in (("best", best_it), ("final", last_it)):
        sel = rows[rows.iteration == it].copy()
        sel["metric"] = label + "_" + sel["metric"]
        extra.append(sel)
    return pd.concat([rows, *extra], ignore_index=True)


def write_trajectories(agent: Any, domain: str, tasks: np.ndarray, seed: int, num_exp_traj_eval: int, use_next_obs: bool,
                       oracle: bool, name: str, method: str, variant: str, config: Any, profile: str, command: str,
                       iteration: int, inputs: Inputs | None = None, context_reward: Any = None) -> None:
    """One more evaluation of the final agent, its trials written as ``<name>.csv``
    (:func:`borel_lib.pipeline.trajectory_table` columns plus ``method``, ``variant``, ``seed``, ``iteration``), so the
    figures can draw what a Thompson-sampling agent does in episodes 1 and 2 without a checkpoint. The tasks
    and z draws are the last evaluation's (PEARL's trials are that evaluation's exactly, a test checks it);
    MBML samples its candidate actions from its own generator, so its returns here can differ a little."""
    from borel_lib.pipeline import trajectory_table
    from borel_lib.results import write_results

    record: dict[str, Any] = {}
    evaluate(agent, domain, tasks, seed, num_exp_traj_eval, use_next_obs=use_next_obs, oracle=oracle, record=record,
             inputs=inputs, context_reward=context_reward)
    table = trajectory_table(domain, tasks, record).assign(method=method, variant=variant, seed=seed, iteration=iteration)
    write_results(table, name, config=config, profile=profile, command=command)


def check_same_run(tag: str, profile: str, config: Config, command: str, checkpoint: Path,
                   grows: tuple[str, ...] = (), ignored: tuple[str, ...] = ("checkpoint_every",),
                   directory: str | os.PathLike[str] | None = None) -> None:
    """Provenance rule of every run that writes a result table (PEARL, MBML, the online learners): a result
    table and its config are always written together by one run. If results of run ``tag`` exist (under
    ``directory``, default the profile's results root), made with other settings than ``config``, raise a
    one-line :class:`ConfigError` naming them, the command that made them and how to replace them, before any
    work; a run never rewrites another run's table under its own settings. Allowed: the same settings (a rerun,
    or a resumed run), or a larger value of a ``grows`` field (e.g. PEARL's ``iterations``) when the run's
    ``checkpoint`` is there to continue from (the continued run then holds every evaluation its new config
    makes). ``ignored`` fields never count. Call it under the run's :func:`run_lock`."""
    import json

    from borel_lib.config import ConfigError
    from borel_lib.results import result_path

    table, meta = result_path(tag, profile, directory), result_path(tag, profile, directory, kind="config")
    if not (table.is_file() and meta.is_file()):
        return
    try:
        saved_json = json.loads(meta.read_text(encoding="utf-8"))
        saved = type(config).upgrade(saved_json["values"])
    except (ValueError, KeyError, TypeError):
        return  # an unreadable config: the run writes both files again
    new = config.to_dict()
    differ = [k for k in new if k not in ignored and saved.get(k) != new[k]]
    grown = [k for k in differ if k in grows and checkpoint.is_file()
             and isinstance(saved.get(k), (int, float)) and new[k] > saved[k]]
    if not differ or differ == grown:
        return
    what = ", ".join(f"{k} {saved.get(k)!r}, not {new[k]!r}" for k in differ if k not in grown)
    made_by = saved_json.get("command") or "an earlier command"
    files = [str(checkpoint)] if checkpoint.is_file() else []
    files.append(f"{table.parent}/{tag}.*")
    if any(table.parent.glob(f"{tag}_traj.*")):  # PEARL's and MBML's trajectories (the online runs have none)
        files.append(f"{table.parent}/{tag}_traj.*")
    raise ConfigError(f"{table}: run {tag} exists with other settings ({what}), made by `{made_by}`; a run never "
                      f"rewrites another's results. Keep them (rerun `{made_by}`), or replace them: "
                      f"rm {' '.join(files)}; then rerun: {command}")


def checkpoint_path(profile: str, tag: str) -> Path:
    """Where the run ``tag`` keeps its resumable checkpoint: ``<checkpoints>/<tag>.pt`` (the folder is made when
    the first checkpoint is written)."""
    from borel_lib.paths import checkpoints_dir

    return checkpoints_dir(profile) / f"{tag}.pt"


@contextlib.contextmanager
def run_lock(profile: str, tag: str, what: str) -> Iterator[Path]:
    """Hold run ``tag``'s lock while the block runs (PEARL, MBML and the online learners, as BOReL's
    :func:`borel_lib.pipeline.run_borel` holds its run's): the lock file ``.<tag>.run.lock`` beside its
    checkpoint (:func:`borel_lib.io.file_lock`, of its own). A second process given the same run says once
    on stderr which process (pid) holds it and waits for it, then resumes from its checkpoint, instead of
    training beside it and racing on the checkpoint and the table; ``what`` names the learner there."""
    from borel_lib.io import file_lock

    with file_lock(checkpoint_path(profile, tag).with_name(f".{tag}.run.lock"), purpose=f"{what} run {tag}") as path:
        yield path


# ------------------------------------------------------------------------------- command line
def baseline_parser(module: str, description: str, outputs: str, domains: tuple[str, ...]):
    """The command line shared by the baselines (:mod:`borel_lib.cli`) of ``python -m borel_lib.baselines.<module>``:
    domain (one of ``domains``), --profile, --seed, --device, --debug; ``outputs`` names the files the command
    writes (shown by ``--help``)."""
    from borel_lib import cli

    parser = cli.make_parser(f"python -m borel_lib.baselines.{module}", description, outputs)
    parser.add_argument("domain", choices=domains, help="domain to run on")
    cli.add_profile_argument(parser)
    cli.add_seed_argument(parser, default=0, help="seed of tasks, networks and environments")
    cli.add_device_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def baseline_command(module: str, domain: str, profile: str, seed: int, overrides: dict[str, Any],
                     flags: str = "") -> str:
    """The command that regenerates a baseline's results (recorded beside them):
    ``python -m borel_lib.baselines.<module> ...``."""
    return (f"python -m borel_lib.baselines.{module} {domain} --profile {profile} --seed {seed}{flags}"
            + "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items()))
