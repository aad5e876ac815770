"""BOReL, the whole offline pipeline for one domain and seed (paper §3.2, §4, §6).

Collection (cached, :mod:`borel_lib.collect`) → stage 1, the belief (:mod:`borel_lib.belief`: the VAE
trained with or without reward relabelling, or the exact posterior of :mod:`borel_lib.references.exact_belief`)
→ stage 2, state relabelling (:mod:`borel_lib.state_relabel`) → stage 3, offline RL on hyper-states
(:mod:`borel_lib.offline_rl`) → stage 4, evaluation on unseen tasks (:mod:`borel_lib.evaluation`).

One run is named by a :class:`RunSpec`; ``python -m borel_lib.pipeline DOMAIN ...`` runs one (see
``--help``). Every stage checkpoints, so a killed run resumes; the results are tidy CSVs in
``data/results/<profile>/`` with the resolved config and the command beside them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import image_features
from borel_lib.belief import (
    BELIEFS,
    FEATURES,
    VAE_FEATURES,
    VAEBelief,
    belief_identification,
    belief_tv,
    make_belief,
    train_vae,
)
from borel_lib.config import ConfigError, check_choice, resolve_profile
from borel_lib.envs import make_env
from borel_lib.envs.reacher_image import fingertip
from borel_lib.evaluation import evaluate, search_metrics
from borel_lib.image_features import image_config_entry, learnt_columns, observed_data
from borel_lib.io import atomic_path
from borel_lib.offline_rl import RL_DOMAIN, OfflineAgent, OfflineRLConfig
from borel_lib.references.exact_belief import ALL_EXACT_DOMAINS, ARC_DOMAINS, EXACT_DOMAINS, ExactBelief
from borel_lib.relabel import RELABEL_MODES
from borel_lib.state_relabel import HyperStates, relabel_states
from borel_lib.tasks import check_split, eval_tasks, split_flag, split_suffix
from borel_lib.vae import VAEConfig

__all__ = ["BELIEFS", "HyperStates", "OfflineAgent", "OfflineRLConfig", "RunSpec", "VAEBelief", "belief_identification",
           "evaluate", "load_run_belief", "load_trained", "make_belief", "relabel_states", "run_borel", "search_metrics", "train_vae"]

_SHORT = {"time_input": "ti", "goal_terminal": "gt", "double_dqn": "dd", "cql_alpha": "cql", "gamma": "g",
          "batch_per_task": "b", "meta_batch": "mb", "hidden": "h", "critic_lr": "clr", "actor_lr": "alr",
          "alpha": "a", "updates": "u", "mixed_copies": "mix", "lr_final": "lrf", "mixed_borrow": "borrow",
          "raw_logs": "raw", "target_entropy": "te", "alpha_lr": "alphalr", "log_std": "logstd",
          "td_loss": "td", "max_grad_norm": "gn", "bc_weight": "bc", "algo": "", "iql_expectile": "iqltau",
          "iql_temperature": "iqlbeta", "iql_components": "iqlk", "iql_extraction": "iqlx", "iql_select": "iqlsel", "iql_select_spread": "iqlspread", "epochs": "ep", "kl_weight": "kl", "latent_dim": "lat", "decode_subset": "ds",
          "gru_hidden": "gru", "lr": "lr", "trials_per_task": "tpt", "tasks_per_batch": "tpb", "n_step": "ns"}


_VAE_METHOD = {"reward_relabelling": "borel_rr", "none": "borel_no_rr", "policy_replay": "borel_pr"}
"""Result-table method of a VAE-belief run, by relabelling (BOReL with RR / without / with policy replaying)."""


def _override_text(value: Any, sep: str) -> Any:
    """An override's value in a run's name or command: a tuple joined by ``sep``, a boolean as 0 or 1."""
    return sep.join(map(str, value)) if isinstance(value, tuple) else (int(value) if isinstance(value, bool) else value)


def _override_parts(overrides: tuple[tuple[str, Any], ...]) -> list[str]:
    """Short name parts of a run tag for config overrides (``updates=40000`` → ``u40000``)."""
    parts = [(_SHORT.get(key, key), _override_text(value, "x")) for key, value in overrides]
    return [f"{short}{value:g}" if isinstance(value, float) else f"{short}{value}" for short, value in parts]


def _override_args(flag: str, overrides: tuple[tuple[str, Any], ...]) -> str:
    """The command-line form of config overrides (`` --rl updates=40000``)."""
    return "".join(f" --{flag} {key}={_override_text(value, ',')}" for key, value in overrides)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What names one BOReL run: its results file, checkpoints and command."""

    domain: str
    """Domain short name: a key of :data:`borel_lib.offline_rl.RL_DOMAIN` (``gridworld``, ``semicircle``,
    ``wind``, ``escape_room``, ``cheetah_vel``, ``ant_semicircle``)."""
    profile: str = "quick"
    """smoke, quick or paper."""
    belief: str = "vae"
    """``vae`` (BOReL) or ``exact`` (the exact-posterior oracle)."""
    relabelling: str = "reward_relabelling"
    """How the VAE's training trials are mixed (``none``; ``reward_relabelling``, for domains whose tasks
    differ in rewards; ``policy_replay``, with the collection's policy-replay dataset); unused by ``exact``."""
    seed: int = 0
    """Seed of the VAE, the offline RL and the evaluation tasks."""
    features: str = "latent"
    """What the policy sees of the belief: VAE ``latent`` [μ, log σ²] or ``decoded`` goal-cell probabilities;
    exact belief: its default features (``latent``, the field's default) or ``mean``, the smooth read-out of the
    arc domains (:mod:`borel_lib.references.exact_belief`)."""
    rl: tuple[tuple[str, Any], ...] = ()
    """Offline-RL config overrides (sorted ``(field, value)`` pairs) on top of the profile's values."""
    vae: tuple[tuple[str, Any], ...] = ()
    """Belief-VAE config overrides (sorted ``(field, value)`` pairs) on top of the profile's values
    (``belief='vae'`` only; runs with the same relabelling, seed and VAE overrides share one VAE)."""
    init_state: str | None = None
    """Initial-state variant of the collection whose dataset the run trains on (paper §6, Table 1:
    ``uniform``, ``exclude_semicircle``, ``fixed``, as the domain allows); ``None`` = the domain's
    collection protocol default (:class:`borel_lib.collect.CollectConfig`), to which it resolves. The
    resolved variant is part of every name of the run (results, checkpoints), the default included; only
    the command leaves the default out."""
    image: tuple[tuple[str, Any], ...] = ()
    """Image-stage overrides (:class:`~borel_lib.image_features.ImageEncoderConfig`; image domains), as :attr:`rl`."""
    eval_split: str = "test"
    """Evaluation tasks (:mod:`borel_lib.tasks`): ``test`` (reported results) or ``validation`` (for choosing
    settings; in the run's name, command and config, never in a ``test`` run's: those names are unchanged)."""
    last_trials: int | None = None
    """Train on the last N trials of every task's log only (the converged collectors' data, where the paper's
    ambiguity argument applies; :meth:`~borel_lib.datasets.OfflineDataset.last_trials`); ``None``: the whole logs.
    In the run's names after the initial-state variant (``_last20``) and its command (``--last-trials 20``)."""
    collection: tuple[tuple[str, Any], ...] = ()
    """Collection-length overrides (:data:`borel_lib.collect.LENGTH_FIELDS`: ``iterations``, ``updates_per_iter``)
    naming another collection of the variant than the profile's, e.g. one closer to the paper's length; in the
    run's names after the variant (``_it300_upi500``) and its command (``--collection iterations=300``)."""

    def __post_init__(self) -> None:
        check_choice(self.domain, "domain", tuple(sorted(RL_DOMAIN)))
        object.__setattr__(self, "profile", resolve_profile(self.profile))
        object.__setattr__(self, "init_state", resolve_init_state(self.domain, self.profile, self.init_state))
        check_choice(self.belief, "belief", BELIEFS)
        check_choice(self.relabelling, "relabelling", RELABEL_MODES)
        varies = _env_class(self.domain).varies
        if self.belief == "vae" and self.relabelling == "reward_relabelling" and varies != "reward":
            raise ConfigError(f"relabelling='reward_relabelling' applies only where tasks differ in rewards (paper §4); "
                              f"{self.domain}'s tasks differ in {varies}s: use --relabelling policy_replay or none")
        if self.belief == "exact" and self.domain not in ALL_EXACT_DOMAINS:
            raise ConfigError(f"belief='exact': {self.domain} has no exact belief; allowed domains: "
                              f"{', '.join(ALL_EXACT_DOMAINS)}")
        check_choice(self.features, "features", FEATURES)
        check_split(self.eval_split, self.domain)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**31:
            raise ConfigError(f"seed={self.seed!r} must be an integer in [0, 2**31)")
        if self.last_trials is not None and (isinstance(self.last_trials, bool) or not isinstance(self.last_trials, int)
                                             or self.last_trials < 1):
            raise ConfigError(f"last_trials={self.last_trials!r} (--last-trials) must be a positive integer or None")
        from borel_lib.collect import CollectConfig, length_overrides

        pairs = _override_pairs(self.collection, "collection")
        object.__setattr__(self, "collection", length_overrides(self.domain, self.profile, self.init_state, pairs))
        if self.last_trials is not None:

            if self.domain in image_features.IMAGE_DOMAINS:  # its image encoder is shared by the whole logs' runs
                raise ConfigError(f"last_trials (--last-trials) does not apply to {self.domain}: its image encoder is "
                                  "trained once on the whole logs and shared by every run of the seed")

            logged = CollectConfig.for_domain(self.domain, self.profile, **self.collect_overrides).trials_per_task
            if self.last_trials > logged:
                raise ConfigError(f"last_trials={self.last_trials} (--last-trials) is more than the {logged} trials per "
                                  f"task of {self.domain}'s {self.profile} collection; allowed: 1 to {logged}")
        if self.belief == "vae" and self.features not in VAE_FEATURES:
            raise ConfigError(f"features={self.features!r} applies to the exact belief only; the VAE belief's: "
                              f"{', '.join(VAE_FEATURES)}")
        allowed = ("latent", "mean") if self.domain in ARC_DOMAINS else ("latent",)
        if self.belief == "exact" and self.features not in allowed:
            raise ConfigError(f"belief='exact' on {self.domain}: features={self.features!r}; allowed values: "
                              f"{', '.join(allowed)} (latent: its default features; mean: on {', '.join(ARC_DOMAINS)})")
        vae_features = self.features if self.belief == "vae" else "latent"  # the image rule is about the VAE's
        object.__setattr__(self, "image", image_features.check_image_run(self.domain, self.profile, vae_features,
                                                                         _override_pairs(self.image, "image")))
        rl = {k: tuple(v) if isinstance(v, list) else v for k, v in _override_pairs(self.rl, "rl").items()}
        self.rl_config_with(rl)  # validates the overrides' names and values now, before any work
        base = OfflineRLConfig.for_domain(self.domain, self.profile)
        # an override equal to the profile's value is no override: the run keeps its plain name
        object.__setattr__(self, "rl", tuple(sorted((k, v) for k, v in rl.items() if getattr(base, k) != v)))
        vae = {k: tuple(v) if isinstance(v, list) else v for k, v in _override_pairs(self.vae, "vae").items()}
        if vae and self.belief != "vae":
            raise ConfigError("vae overrides apply to the VAE belief only (belief='vae')")
        VAEConfig.for_domain(self.domain, self.profile, **vae)  # validates names and values now
        vae_base = VAEConfig.for_domain(self.domain, self.profile)
        object.__setattr__(self, "vae", tuple(sorted((k, v) for k, v in vae.items() if getattr(vae_base, k) != v)))

    @classmethod
    def from_config(cls, run: dict[str, Any]) -> RunSpec:
        """The spec recorded as ``values["run"]`` in a run's config file (JSON lists back to override pairs)."""
        return cls(**{**run, **{k: tuple(map(tuple, run.get(k, ()))) for k in ("rl", "vae", "image", "collection")}})

    def rl_config_with(self, rl: dict[str, Any]) -> OfflineRLConfig:
        return OfflineRLConfig.for_domain(self.domain, self.profile, **rl)

    def rl_config(self) -> OfflineRLConfig:
        return self.rl_config_with(dict(self.rl))

    def vae_config(self) -> VAEConfig:
        """The run's belief-VAE configuration (the profile's, with :attr:`vae` applied)."""
        return VAEConfig.for_domain(self.domain, self.profile, **dict(self.vae))

    @property
    def discrete(self) -> bool:
        return self.domain == "gridworld"

    @property
    def n_actions(self) -> int | None:
        return 5 if self.discrete else None

    @property
    def collect_overrides(self) -> dict[str, Any]:
        """Keyword overrides of :func:`borel_lib.collect.run_collection` naming the run's dataset
        (empty for the protocol's default initial states, so default runs keep their commands)."""
        return {**dataset_overrides(self.domain, self.profile, self.init_state), **dict(self.collection)}

    @property
    def vae_tag(self) -> str:
        """``<domain>_<init_state>_<relabelling>[_<image overrides>][_<vae overrides>]_seed<seed>`` (the initial-state variant
        always, the collection protocol's default included: ``ant_semicircle_exclude_semicircle_...``)."""
        return "_".join([self.domain, *self._data_parts, self.relabelling, *_override_parts(self.image + self.vae)]) + f"_seed{self.seed}"

    @property
    def _data_parts(self) -> list[str]:
        """The dataset's parts of the run's names: the initial-state variant, the collection's length if not the
        profile's (``it300``, ``upi500``), then ``last<N>`` if set."""
        from borel_lib.collect import length_parts

        return [self.init_state, *length_parts(self.collection)] + (
            [f"last{self.last_trials}"] if self.last_trials is not None else [])

    @property
    def tag(self) -> str:
        """``<domain>_<init_state>_<exact|relabelling>[_<image overrides>][_<vae overrides>][_decoded][_<rl overrides>][_validation]_seed<seed>``
        (e.g. ``gridworld_uniform_reward_relabelling_seed0``; the initial-state variant always; the split if not test)."""
        parts = [self.domain, *self._data_parts, "exact" if self.belief == "exact" else self.relabelling,
                 *_override_parts(self.image + self.vae)]
        if self.features != "latent":
            parts.append(self.features)
        return "_".join(parts + _override_parts(self.rl)) + split_suffix(self.eval_split) + f"_seed{self.seed}"

    @property
    def method(self) -> str:
        base = "borel_exact" if self.belief == "exact" else _VAE_METHOD[self.relabelling]
        rl = self.rl_config()  # a CQL or IQL learner is its own method in the tables (Table 1's "+ CQL" rows)
        return base + ("" if self.features == "latent" else f"_{self.features}") + ("_cql" if rl.cql_alpha else "") + (
            "_iql" if rl.algo == "iql" else "")

    @property
    def command(self) -> str:
        cmd = f"python -m borel_lib.pipeline {self.domain} --profile {self.profile}" + "".join(
            f" --init-state {v}" for v in dataset_overrides(self.domain, self.profile, self.init_state).values()) + (
            _override_args("collection", self.collection)) + (
            f" --last-trials {self.last_trials}" if self.last_trials is not None else "") + f" --belief {self.belief}"
        if self.belief == "vae":
            cmd += f" --relabelling {self.relabelling}"
        cmd += f" --features {self.features}" if self.features != "latent" else ""
        cmd += f" --seed {self.seed}" + split_flag(self.eval_split)
        return cmd + _override_args("image", self.image) + _override_args("vae", self.vae) + _override_args("rl", self.rl)

    def checkpoint_dir(self) -> Path:
        from borel_lib.paths import checkpoints_dir

        return checkpoints_dir(self.profile, create=False) / f"borel_{self.tag}"  # made by the run's lock

    def vae_checkpoint(self) -> Path:
        """Shared by every run of this seed and relabelling (the VAE ignores the RL settings)."""
        from borel_lib.paths import checkpoints_dir

        return checkpoints_dir(self.profile, create=False) / f"vae_{self.vae_tag}" / "vae.pt"


def _env_class(domain: str) -> type:
    """The domain's environment class (its class attributes, without building a simulator)."""
    import importlib

    from borel_lib.envs import domain_info

    module, name = domain_info(domain).entry_point.split(":")
    return getattr(importlib.import_module(module), name)


def _override_pairs(value: Any, field: str) -> dict[str, Any]:
    """``value`` (a sequence of ``(name, value)`` pairs, or a mapping) as a dict; ConfigError naming ``field``
    for anything else (e.g. ``None`` or the string ``"tau=0.1"``)."""
    if isinstance(value, dict):
        return dict(value)
    ok = isinstance(value, (tuple, list)) and all(
        isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], str) for p in value)
    if not ok:
        raise ConfigError(f"{field}={value!r} must be (name, value) pairs, e.g. (('updates', 1000),) "
                          f"(command line: --{field} name=value)")
    return dict(value)


def resolve_init_state(domain: str, profile: str, init_state: str | None) -> str:
    """The initial-state variant of ``domain``'s collection a run trains on: ``init_state`` checked against
    the domain's variants (clear error naming them), or the collection protocol's default if ``None``."""
    resolved = _default_init_state(domain, profile) if init_state is None else init_state
    allowed = _env_class(domain).init_state_options
    if resolved not in allowed:
        raise ConfigError(f"init_state={resolved!r} (--init-state) is not an initial-state variant of "
                          f"{domain}'s collection; allowed values: {', '.join(allowed)}")
    return resolved


def dataset_overrides(domain: str, profile: str, init_state: str | None) -> dict[str, str]:
    """Keyword overrides of :func:`borel_lib.collect.run_collection` naming the dataset of ``init_state``
    (checked by :func:`resolve_init_state`): empty for the protocol's default, so the commands of default
    runs keep no ``--init-state`` (BOReL's and MBML's; BOReL's run names carry the variant always,
    :attr:`RunSpec.tag`)."""
    resolved = resolve_init_state(domain, profile, init_state)
    return {} if resolved == _default_init_state(domain, profile) else {"init_state": resolved}


def _default_init_state(domain: str, profile: str) -> str:
    """The initial-state variant of ``domain``'s collection protocol for ``profile``."""
    from borel_lib.collect import CollectConfig

    return CollectConfig.for_domain(domain, profile).init_state


def collection(spec: RunSpec, progress: bool = True):
    """The run's own-policy dataset (collected, resumed or loaded from cache; :func:`borel_lib.collect.run_collection`),
    its last :attr:`RunSpec.last_trials` trials per task if set."""
    from borel_lib.collect import run_collection

    data = run_collection(spec.domain, spec.profile, progress=progress, **spec.collect_overrides)[0]
    return data if spec.last_trials is None else data.last_trials(spec.last_trials)


def policy_replay_data(spec: RunSpec):
    """The collection's policy-replay dataset for a ``policy_replay`` run (else ``None``); a clear error
    naming the collect command if it has not been made (it needs the finished collection's policies, so a
    run never starts it by itself)."""
    if spec.belief != "vae" or spec.relabelling != "policy_replay":
        return None
    from borel_lib.policy_replay import load_policy_replay

    return load_policy_replay(spec.domain, spec.profile, **spec.collect_overrides)


def finished_runs(profile: str | None = None, domain: str | None = None) -> list[RunSpec]:
    """The runs whose results are in the profile's results folder (read from their config files), on every
    evaluation split: filter on ``spec.eval_split`` for the test or the validation runs alone."""
    import json

    from borel_lib.results import find_results

    specs = []
    for path in find_results("borel_*", resolve_profile(profile), kind="config"):
        run = json.loads(path.read_text()).get("values", {}).get("run")
        if not run:
            continue
        spec = RunSpec.from_config(run)
        # the run's own results file (not its _final/_traj tables, not a run renamed since)
        if path.name == f"borel_{spec.tag}.config.json" and (domain is None or spec.domain == domain):
            specs.append(spec)
    return specs


def load_run_belief(spec: RunSpec, dataset, device, progress: bool, replay=None):
    """Stage 1 for a run: trains (or resumes) the VAE, or builds the exact belief (``replay``: the
    run's :func:`policy_replay_data`, looked up if not given). The run that trains the VAE writes its
    per-epoch losses, ``vae_<vae_tag>.csv``, with its own command, before releasing the VAE's lock; a run
    that only loads a VAE another run of the seed trained (BOReL + CQL after BOReL) leaves that table
    alone, unless it is missing."""
    if spec.belief == "exact":
        return make_belief("exact", domain=spec.domain, features=spec.features)
    from borel_lib.io import file_lock
    from borel_lib.results import result_path, write_results

    ck = spec.vae_checkpoint()
    replay = replay if replay is not None else policy_replay_data(spec)
    table = f"vae_{spec.vae_tag}"
    # runs sharing this VAE (another run of the seed, e.g. with CQL) wait for the first to train it, then load it
    with file_lock(ck.parent / ".train.lock", purpose=f"training the belief VAE {spec.vae_tag}"):
        before = torch.load(ck, map_location="cpu", weights_only=False)["epoch"] if ck.is_file() else 0
        vae, log = train_vae(dataset, spec.vae_config(), spec.relabelling, seed=spec.seed,
                             checkpoint=ck, device=device, progress=progress, n_actions=spec.n_actions, replay=replay)
        if len(log) > before or not result_path(table, spec.profile).is_file():
            method = _VAE_METHOD[spec.relabelling]  # one VAE, many runs
            write_results(log.assign(domain=spec.domain, method=method, variant="vae", seed=spec.seed, episode=0)
                          .melt(id_vars=["domain", "method", "variant", "seed", "episode", "epoch"], var_name="metric"),
                          table, config=spec.vae_config(), profile=spec.profile, command=spec.command)
    return VAEBelief(vae, spec.n_actions, spec.features, spec.domain)


def run_borel(spec: RunSpec, progress: bool = True, device: str = "auto", n_eval_tasks: int = 20) -> pd.DataFrame:
    """Collection (cached) → belief → state relabelling → offline RL → evaluation, for one run.

    Writes ``borel_<tag>.csv`` (tidy: mean over evaluation tasks per evaluation, column ``updates``),
    ``borel_<tag>_final.csv`` (per evaluation task at the last evaluation: returns, success and the
    search metrics of :func:`borel_lib.evaluation.search_metrics`), ``borel_<tag>_traj.csv`` (the last
    evaluation's trajectories, :func:`trajectory_table`) and, if this run trains the VAE,
    ``vae_<vae_tag>.csv`` (per-epoch losses, :func:`load_run_belief`), each with its config beside it, and
    returns the first. Checkpoints (VAE per epoch, agent per evaluation) make a killed run resume. Two processes given the same run (two sweeps
    sharing a cell, e.g. ``table1`` and ``fig3_ant``) take turns on a lock file in its checkpoint folder:
    the second resumes the finished agent instead of training it a second time beside the first."""
    from borel_lib.io import file_lock

    with file_lock(spec.checkpoint_dir() / ".run.lock", purpose=f"BOReL run {spec.tag}"):
        return _run_borel(spec, progress, device, n_eval_tasks)


def _run_borel(spec: RunSpec, progress: bool, device: str, n_eval_tasks: int) -> pd.DataFrame:
    """:func:`run_borel` under its run lock."""
    from borel_lib.device import get_device
    from borel_lib.results import write_results

    dev = get_device(device)
    rl_cfg = spec.rl_config()
    replay = policy_replay_data(spec)  # a missing policy-replay dataset stops the run before any work
    dataset, observe = observed_data(collection(spec, progress), spec.profile, spec.seed, dev, progress, spec.image)
    belief = load_run_belief(spec, dataset, dev, progress, replay)
    hs = relabel_states(belief, dataset, time_input=rl_cfg.time_input, goal_terminal=rl_cfg.goal_terminal,
                        mixed_copies=rl_cfg.mixed_copies, seed=spec.seed, replay=replay, raw_logs=rl_cfg.raw_logs,
                        borrow=rl_cfg.mixed_borrow)
    act_dim = 5 if spec.discrete else dataset.actions.shape[-1]
    agent = OfflineAgent(hs.obs.shape[-1], act_dim, spec.discrete, rl_cfg, spec.seed, dev)
    env = make_env(spec.domain)
    tasks = eval_tasks(spec.domain, spec.seed, n_eval_tasks, spec.eval_split)
    ck = spec.checkpoint_dir()
    ck.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    done = 0
    vae_cfg = spec.vae_config().to_dict() if spec.belief == "vae" else None
    if (ck / "agent.pt").is_file():
        state = torch.load(ck / "agent.pt", map_location=dev, weights_only=False)
        if OfflineRLConfig.upgrade(state.get("config")) not in (None, rl_cfg.to_dict()):
            raise ConfigError(f"{ck / 'agent.pt'}: made with another offline-RL config; delete {ck} to restart")
        if VAEConfig.upgrade(state.get("vae", vae_cfg)) != vae_cfg:  # the hyper-states it learnt from came from another VAE
            raise ConfigError(f"{ck / 'agent.pt'}: made on a belief VAE with another config; delete {ck} to restart")
        if state.get("dataset", dataset.fingerprint) != dataset.fingerprint:
            raise ConfigError(f"{ck / 'agent.pt'}: trained on other data than {dataset.path} (collected again since); "
                              f"delete {ck} to restart")
        agent.load_state_dict(state["agent"])
        done, rows = state["updates"], state["rows"]
    variant = dataset.manifest["init_state"]
    bar = tqdm(total=rl_cfg.updates, initial=done, desc=f"offline RL {spec.tag}", disable=not progress)
    ev = None
    while done < rl_cfg.updates or ev is None:
        for _ in range(min(rl_cfg.eval_every, rl_cfg.updates - done)):
            agent.anneal(done)
            agent.update(agent.sample(hs))
            done += 1
            bar.update()
        record: dict[str, Any] = {}
        agent.reset_selection()  # IDQL's candidates: the same draws at every evaluation and after a resume
        ev = evaluate(belief, agent, spec.domain, tasks, seed=spec.seed, time_input=rl_cfg.time_input, record=record,
                      observe=observe, columns=learnt_columns(dataset.manifest))
        if not rows or rows[-1]["updates"] != done:
            summary = ev.groupby(["episode", "metric"])["value"].mean().reset_index()
            rows += [{"domain": spec.domain, "method": spec.method, "variant": variant, "seed": spec.seed,
                      "episode": int(r.episode), "metric": r.metric, "value": float(r.value), "updates": done}
                     for r in summary.itertuples()]
            ret = summary[summary.metric == "return"]["value"]
            bar.set_postfix(paper_metric=f"{ret.iloc[: env.eval_episodes].mean():.2f}")
            with atomic_path(ck / "agent.pt") as tmp:
                torch.save({"agent": agent.state_dict(), "updates": done, "rows": rows, "config": rl_cfg.to_dict(),
                            "vae": vae_cfg, "dataset": dataset.fingerprint},
                           tmp)
    bar.close()
    run = {k: v for k, v in dataclasses.asdict(spec).items()  # no image entry, no test split, no slice: as before
           if (k, v) not in (("image", ()), ("eval_split", "test"), ("last_trials", None))}
    config = {"run": run, "offline_rl": rl_cfg.to_dict(), "dataset": dataset.manifest["config"],
              "vae": vae_cfg, **image_config_entry(spec.domain, spec.profile, spec.image)}
    df = pd.DataFrame(rows)
    write_results(df, f"borel_{spec.tag}", config=config, profile=spec.profile, command=spec.command)
    # the search metrics run the exact posterior along the evaluated trials: domains that have one
    search = search_metrics(spec.domain, tasks, record) if spec.domain in EXACT_DOMAINS else pd.DataFrame(
        {"task": np.arange(len(tasks))})
    if spec.belief == "vae" and spec.domain in EXACT_DOMAINS:  # how far the learnt belief is from the exact one
        tv = belief_tv(belief, ExactBelief(spec.domain), record["actions"], record["rewards"], record["next_obs"])
        H = env.horizon
        search["belief_tv_ep1"], search["belief_tv_end"] = tv[:, : H + 1].mean(1), tv[:, -1]
    final = _final_table(spec, ev, search, tasks, variant, done)
    write_results(final, f"borel_{spec.tag}_final", config=config, profile=spec.profile, command=spec.command)
    write_results(trajectory_table(spec.domain, tasks, record).assign(method=spec.method, variant=variant,
                                                                      seed=spec.seed, updates=done),
                  f"borel_{spec.tag}_traj", config=config, profile=spec.profile, command=spec.command)
    return df


def _final_table(spec: RunSpec, ev: pd.DataFrame, search: pd.DataFrame, tasks: np.ndarray, variant: str,
                 updates: int) -> pd.DataFrame:
    """Per-task rows of the last evaluation: per-episode return/success and the search metrics."""
    search_long = search.melt(id_vars="task", var_name="metric").assign(episode=0)
    out = pd.concat([ev, search_long], ignore_index=True)
    out["task_x"] = tasks[out.task, 0]
    out["task_y"] = tasks[out.task, 1] if tasks.shape[1] > 1 else np.nan  # 1-d tasks (an angle, a velocity)
    return out.assign(domain=spec.domain, method=spec.method, variant=variant, seed=spec.seed, updates=updates)[
        ["domain", "method", "variant", "seed", "task", "task_x", "task_y", "episode", "metric", "value", "updates"]]


def _probe_trials(spec: RunSpec, dataset) -> dict[str, dict[str, np.ndarray]]:
    """The trials :func:`belief_vs_exact` probes a belief on."""
    from borel_lib.references.ant_scripted import search_trials
    from borel_lib.references.scripted import gridworld_sweep_trials, semicircle_search_then_go

    if spec.domain == "gridworld":
        scripted = gridworld_sweep_trials(ExactBelief("gridworld").env.candidate_goals())
    elif spec.domain == "ant_semicircle":  # the collection's own goal-conditioned walker, given arc waypoints
        scripted = search_trials(spec.profile, spec.init_state, eval_tasks(spec.domain, 0))
    else:
        scripted = {}
        semicircle_search_then_go(eval_tasks("semicircle", 0), record=scripted)
    M = dataset.n_trials
    out = {"scripted_search": scripted}
    for name, sl in (("logged_late", slice(M - 5, M)), ("logged_early", slice(0, 5))):
        out[name] = {k: np.asarray(getattr(dataset, k)[:, sl]).reshape(-1, *getattr(dataset, k).shape[2:])
                     for k in ("actions", "rewards", "next_obs")}
    return out


def belief_vs_exact(spec: RunSpec, device: str = "auto") -> pd.DataFrame:
    """Total variation between the goal distribution implied by ``spec``'s trained VAE and the exact
    posterior (:func:`borel_lib.belief.belief_tv`) after every step ``t`` of three kinds of trials,
    averaged over trials (tidy; ``variant`` = the kind):

    - ``scripted_search``: searches that are not told where to go (Gridworld: a serpentine sweep for each
      of the 21 goals, :func:`borel_lib.references.scripted.gridworld_sweep_trials`; Semi-circle: the
      search-then-go script for the 20 evaluation goals; Ant-Semi-circle: its version walked by the run's
      collection's goal-conditioned SAC, :func:`borel_lib.references.ant_scripted.search_trials`). These are the
      beliefs exploration needs: cells or arc segments ruled out, the goal not yet found.
    - ``logged_late`` / ``logged_early``: the last / first 5 logged trials of every task (training data:
      goal-reaching trials / random warm-up)."""
    from borel_lib.device import get_device

    if spec.belief != "vae":
        raise ValueError("belief_vs_exact compares a VAE belief; this run uses the exact one")
    dev = get_device(device)
    dataset = collection(spec, progress=False)
    belief = load_run_belief(spec, dataset, dev, progress=False)
    exact = ExactBelief(spec.domain)
    frames = []
    for kind, tr in _probe_trials(spec, dataset).items():
        tv = belief_tv(belief, exact, tr["actions"], tr["rewards"], tr["next_obs"]).mean(0)
        frames.append(pd.DataFrame({"domain": spec.domain, "method": spec.method, "variant": kind, "seed": spec.seed,
                                    "episode": 0, "metric": "tv", "value": tv, "t": np.arange(len(tv))}))
    return pd.concat(frames, ignore_index=True)


def trajectory_table(domain: str, tasks: np.ndarray, record: dict[str, np.ndarray]) -> pd.DataFrame:
    """The evaluated trials as a tidy table (what trajectory and belief figures draw, so they never
    need a checkpoint): per task and step ``t`` (0-based within the trial; ``episode`` 1..k), the next
    position ``x``, ``y``, the ``reward``, and ``support``, the fraction of the prior's candidate goals
    the exact posterior still allows after the step."""
    env = make_env(domain)
    n, T = record["rewards"].shape
    exact = ExactBelief(domain) if domain in ALL_EXACT_DOMAINS else None
    xy = fingertip(record["next_obs"]) if domain == "reacher_image" else record["next_obs"][..., :2]  # arm: the tip
    cols = {"x": xy[..., 0], "y": xy[..., 1], "reward": record["rewards"]}
    if exact is not None:
        post = exact.posterior_trials(record["actions"], record["rewards"], record["next_obs"])[:, 1:]
        cols["support"] = (post > 0).mean(-1)
    t = np.tile(np.arange(T), n)
    frames = [pd.DataFrame({"domain": domain, "task": np.repeat(np.arange(n), T), "t": t,
                            "episode": t // env.horizon + 1, "metric": name, "value": v.reshape(-1)})
              for name, v in cols.items()]
    return pd.concat(frames, ignore_index=True)


def load_trained(spec: RunSpec, device: str = "auto") -> tuple[Any, OfflineAgent]:
    """The belief and agent of a finished :func:`run_borel` run, from its checkpoints."""
    from borel_lib.device import get_device

    dev = get_device(device)
    ck = spec.checkpoint_dir() / "agent.pt"
    if not ck.is_file():
        raise FileNotFoundError(f"{ck}: run `{spec.command}` first")
    dataset, _ = observed_data(collection(spec, progress=False), spec.profile, spec.seed, dev, False, spec.image)
    belief = load_run_belief(spec, dataset, dev, progress=False)
    rl_cfg = spec.rl_config()
    obs_dim = image_features.learnt_dim(dataset) + belief.dim + (2 if rl_cfg.time_input else 0)
    agent = OfflineAgent(obs_dim, spec.n_actions or dataset.actions.shape[-1], spec.discrete, rl_cfg, spec.seed, dev)
    agent.load_state_dict(torch.load(ck, map_location=dev, weights_only=False)["agent"])
    return belief, agent


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m borel_lib.pipeline`` (:mod:`borel_lib.pipeline_cli`); returns the exit code."""
    from borel_lib.pipeline_cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # run the imported module's main, so its classes are borel_lib.pipeline.*, not __main__.*
    from borel_lib.pipeline import main as _main

    raise SystemExit(_main())
