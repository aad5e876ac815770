"""Fault injection on every config (issue 35): bad values for every field of every frozen ``Config``
dataclass in ``borel_lib`` (found by walking the package, so a new config is covered without editing this
file), and for the pipeline's :class:`~borel_lib.pipeline.RunSpec`.

The bad values are generated from each field's type annotation (a string for a number, a bool or a float
for an integer, NaN and ±inf, ``None`` where the field is not optional, lists and empty or non-integer
layer tuples) and from its documented range, declared once below in :data:`RANGE` (zero and negative sizes,
out-of-range fractions and discounts, τ outside (0, 1], seeds outside ``0 <= seed < 2**31``, unknown
choices, values too large to mean anything). Each must raise :class:`~borel_lib.config.ConfigError` with a
one-line message that names the field. Values that look bad but are legitimate (``None`` meaning "the
default", a negative target entropy) are an explicit allow-list (:data:`ACCEPTED`) and must build.

Every field must have a declared range: a field added without one fails
:func:`test_every_field_has_a_declared_range`. Plain parametrisation (deterministic, no extra dependency).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import pkgutil
import typing
from typing import Any

import pytest

import borel_lib
from borel_lib.config import Config, ConfigError

NAN, INF = float("nan"), float("inf")


def _config_classes() -> list[type[Config]]:
    found: dict[str, type[Config]] = {}
    for info in pkgutil.walk_packages(borel_lib.__path__, "borel_lib."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and issubclass(obj, Config)
                    and obj is not Config and obj.__module__ == info.name):
                found[obj.__qualname__] = obj
    return [found[name] for name in sorted(found)]


CLASSES = _config_classes()
BY_NAME = {cls.__qualname__: cls for cls in CLASSES}


@functools.cache
def _base(cls: type) -> Any:
    """A valid config to corrupt: the smoke profile's, on Semi-circle where the class has per-domain values."""
    if cls.__name__ == "RunSpec":
        return cls("semicircle", "smoke")
    if hasattr(cls, "for_domain"):
        try:
            return cls.for_domain("semicircle", "smoke")
        except ConfigError:  # a base class without domains of its own (BaselineConfig)
            pass
    return cls.for_profile("smoke")


# ----------------------------------------------------------------------------------- declared ranges
# size: integer >= 1 · count: integer >= 0 · rate: number > 0 · weight: number >= 0 · real: any finite number
# discount: [0, 1) · unit: [0, 1] · tau: (0, 1] · seed: 0 <= seed < 2**31 · choice: one of a closed set
# flag: a bool · layers: a non-empty tuple of integers >= 1 · inputs: decoder inputs, 'z' among them
RANGE: dict[str, str] = {
    # SAC / DQN / offline RL / off-policy VariBAD
    "hidden": "layers", "actor_lr": "rate", "critic_lr": "rate", "lr": "rate", "gamma": "discount",
    "alpha": "weight", "tau": "tau", "target_entropy": "real", "alpha_lr": "rate", "log_std": "choice",
    "batch_size": "size", "meta_batch": "size", "batch_per_task": "size", "updates": "size", "eval_every": "size",
    "cql_alpha": "weight", "cql_samples": "size", "double_dqn": "flag", "time_input": "flag",
    "mixed_copies": "count", "mixed_borrow": "choice", "raw_logs": "flag", "lr_final": "unit",
    "goal_terminal": "flag", "td_loss": "choice", "bc_weight": "weight", "algo": "choice", "iql_expectile": "unit",
    "iql_temperature": "rate", "iql_components": "size", "iql_extraction": "choice", "iql_select": "count",
    "iql_select_spread": "rate", "n_step": "size",
    # baselines
    "num_exp_traj_eval": "count", "n_eval_tasks": "size", "heldout_trials": "count", "bcq_iterations": "size",
    "bcq_batch": "size", "bcq_actor_hidden": "layers", "bcq_critic_hidden": "layers", "bcq_vae_hidden": "layers",
    "bcq_phi": "rate", "bcq_lambda": "unit", "bcq_candidates": "size", "reward_members": "size",
    "reward_hidden": "layers", "reward_updates": "size", "reward_batch": "size", "std_threshold": "rate",
    "latent_dim": "size", "encoder_hidden": "layers", "q_hidden": "layers", "g_hidden": "layers",
    "xi_hidden": "layers", "tasks_per_step": "size", "context_size": "size", "margin": "weight",
    "kl_beta": "weight", "distill_steps": "size", "checkpoint_every": "size", "n_train_tasks": "size",
    "reward_scale": "rate", "kl_lambda": "weight", "policy_reg": "weight", "embedding_batch_size": "size",
    "use_next_obs_in_context": "flag", "iterations": "size", "num_initial_steps": "count",
    "num_tasks_sample": "size", "num_steps_prior": "count", "num_steps_posterior": "count",
    "num_extra_rl_steps_posterior": "count", "train_steps_per_iter": "count", "rl_reward": "choice",
    "context_reward": "choice",
    # collection and policy replay
    "domain": "choice", "n_tasks": "size", "init_state": "choice", "warmup_trials": "count",
    "trials_per_iter": "size", "updates_per_iter": "count", "epsilon_iters": "count", "goal_bonus": "weight",
    "progress_bonus": "weight", "goal_relabel": "unit", "shared_agent": "flag", "seed": "seed", "device": "choice",
    "n_trials": "size", "policies": "choice",
    # online VariBAD
    "env_steps": "size", "eval_every_steps": "size", "n_envs": "size", "state_embed": "size",
    "action_embed": "count", "reward_embed": "size", "gru_hidden": "size", "decoder_hidden": "layers",
    "vae_lr": "rate", "kl_weight": "weight", "kl_batch_sum": "flag", "decode_subset": "size",
    "vae_batch_trials": "size", "vae_buffer_trials": "size", "vae_updates": "count", "precollect_steps": "count",
    "rl_updates": "count", "eps_start": "unit", "eps_end": "unit", "eps_decay_steps": "size",
    "relabel_every": "count", "policy_num_steps": "size", "ppo_epochs": "size", "ppo_minibatches": "size",
    "ppo_clip": "rate", "policy_lr": "rate", "policy_eps": "rate", "value_coef": "weight",
    "entropy_coef": "weight", "gae_lambda": "unit", "max_grad_norm": "rate", "norm_rewards": "flag",
    "cut_at_episode_end": "flag", "policy_state_embed": "size", "policy_latent_embed": "size",
    "actor_hidden": "layers", "critic_hidden": "layers", "norm_inputs": "flag",
    # the belief VAE
    "decoder": "choice", "decoder_inputs": "inputs", "n_cells": "size", "state_decoder": "flag", "epochs": "size",
    "tasks_per_batch": "size", "trials_per_task": "size",
    # the image encoder (Reacher-Image)
    "channels": "layers", "pool_frames": "size", "foreground_weight": "rate", "proprio": "choice",
    # the exact Gridworld
    "size": "size", "horizon": "size", "episodes": "size", "excluded_corner": "count", "goal_reward": "real",
    "step_reward": "real",
    # the pipeline's RunSpec
    "profile": "choice", "belief": "choice", "relabelling": "choice", "features": "choice",
    "rl": "overrides", "vae": "overrides", "last_trials": "size", "collection": "overrides",
}
"""Each field's documented range, by name (a name means the same in every config)..."""
RANGE_BY_CLASS: dict[tuple[str, str], str] = {
    ("VariBADPPOConfig", "gamma"): "unit",  # PPO on a finite trial: γ = 1 is allowed
    ("ImageEncoderConfig", "features"): "size",  # image features per frame (RunSpec's features is a choice)
}
"""...except where one class documents another range."""

BAD_IN_RANGE: dict[str, list[Any]] = {
    "size": [0, -1], "count": [-1], "rate": [0.0, -1e-3], "weight": [-0.5], "real": [],
    "discount": [-0.1, 1.0, 1.5], "unit": [-0.1, 1.5, 1e9], "tau": [0.0, -0.1, 1.5],
    "seed": [-1, 2**31, 2**40], "choice": ["no_such_choice", ""], "flag": [],
    "layers": [(), (0,), (-4,), (32, 0)], "inputs": [(), ("next_obs",), ("z", "no_such_input")],
    "overrides": [],
}
"""Values outside each range (sizes of zero, negative counts, fractions beyond 1, ...)."""

EXTRA_BAD: dict[tuple[str, str], list[Any]] = {
    ("MBMLConfig", "tasks_per_step"): [1],  # the triplet loss pairs tasks
    ("PEARLConfig", "num_tasks_sample"): [10**6],  # more than n_train_tasks
    ("GridSpec", "size"): [1, 100],  # 100: 2^(100²-4) belief masks
    ("GridSpec", "excluded_corner"): [4, 10**6],  # >= size (smoke: 4)
    ("OffPolicyVariBADConfig", "eps_start"): [0.05],  # below eps_end (smoke: 0.1)
    ("RunSpec", "rl"): [(("no_such_field", 1),), (("tau", 2.0),), (("updates", 0),), (("gamma", NAN),),
                        (("hidden", ()),), (("lr_final", "x"),), (("seed", 3),)],
    ("RunSpec", "vae"): [(("no_such_field", 1),), (("epochs", 0),), (("lr", "x"),), (("kl_weight", -1.0),),
                         (("decoder", "no_such_decoder"),)],
    ("RunSpec", "init_state"): ["center"],
    ("RunSpec", "last_trials"): [10**6],  # more than the collection's trials per task
    ("RunSpec", "collection"): [(("n_tasks", 3),), (("iterations", 0),), (("updates_per_iter", -1),),
                                (("iterations", "x"),)],  # a length field only, a positive count
}
"""Bad values particular to one field of one class (cross-field limits)."""

@dataclasses.dataclass(frozen=True)
class As:
    """An accepted ``value`` that the config stores normalised, as ``stored``."""

    value: Any
    stored: Any


ACCEPTED: dict[tuple[str, str], list[Any]] = {
    # None means "the default": α fixed / the policy's learning rate / the lr field / every (t, j) pair
    ("*", "target_entropy"): [None, -8.0, -3],  # negative: a target entropy H̄ is usually negative
    ("*", "alpha_lr"): [None],
    ("SACConfig", "max_grad_norm"): [None, 10.0],  # None: no clipping (the authors')
    ("DQNConfig", "max_grad_norm"): [None, 10.0],
    ("OfflineRLConfig", "max_grad_norm"): [None, 10.0],
    ("OffPolicyVariBADConfig", "max_grad_norm"): [None, 10.0],
    ("CollectConfig", "max_grad_norm"): [None, 10.0],
    ("*", "decode_subset"): [None],
    ("RunSpec", "init_state"): [As(None, "uniform")],
    ("RunSpec", "last_trials"): [None],  # the whole logs  # the collection protocol's default variant, resolved
    ("RunSpec", "profile"): [As(None, "quick")],  # $BOREL_PROFILE, else quick (the test unsets BOREL_PROFILE)
    ("RunSpec", "rl"): [As([("tau", 0.1)], (("tau", 0.1),))],  # a JSON list of pairs, stored as sorted tuples
    ("RunSpec", "vae"): [As([["epochs", 7]], (("epochs", 7),))],
    ("RunSpec", "collection"): [As([["iterations", 300]], (("iterations", 300),)), As((("iterations", 3),), ())],  # 3: smoke's own
    ("*", "step_reward"): [-0.1, 0],  # a cost per step is a negative reward
    ("*", "gamma"): [0.0],  # a myopic learner is a legal (if odd) choice
    ("VariBADPPOConfig", "gamma"): [1.0],  # undiscounted PPO on a finite trial
    ("*", "seed"): [0, 2**31 - 1],  # both ends of the one seed rule
}
"""Values that look bad but are legitimate (``(class or '*', field)``); each must build and keep its value."""

# Known gaps in files another helper is editing: fixed by the lead after them; strict, so a fix shows up.
XFAIL: dict[tuple[str, str, str], str] = {}
"""``(class, field, repr(value))`` → reason (the file and check missing)."""


def _range(cls_name: str, field: str) -> str | None:
    return RANGE_BY_CLASS.get((cls_name, field), RANGE.get(field))


def _accepted(cls_name: str, field: str) -> list[Any]:
    return ACCEPTED.get((cls_name, field), []) + ACCEPTED.get(("*", field), [])


def _type_bad(hint: Any) -> list[Any]:
    """Values of the wrong kind for the annotation ``hint``."""
    args = typing.get_args(hint)
    optional = type(None) in args
    inner = next((a for a in args if a is not type(None)), hint) if optional else hint
    bad: list[Any] = [] if optional else [None]
    if inner is int:
        bad += ["1", True, 2.5, NAN, 2**63, [1]]
    elif inner is float:
        bad += ["0.1", True, NAN, INF, -INF, (0.1,)]
    elif inner is bool:
        bad += ["yes", 1, 0.0]
    elif inner is str:
        bad += [1, ("a",), True]
    elif typing.get_origin(inner) is tuple:
        item = typing.get_args(inner)[0]
        if item is int:
            bad += [[32, 32], 32, "32,32", (2.5,), (True,), ("32",), (NAN,), (2**63,)]
        elif item is str:
            bad += [["z"], "z", ("z", 1)]
        else:  # RunSpec's (field, value) override pairs
            bad += [[("tau", 0.1)], "tau=0.1", (("tau",),)]
    return bad


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def _cases() -> tuple[list[Any], list[Any]]:
    from borel_lib.pipeline import RunSpec

    bad_cases, ok_cases = [], []
    for cls in [*CLASSES, RunSpec]:
        name = cls.__qualname__
        for field, hint in _fields(cls):
            allowed = [a.value if isinstance(a, As) else a for a in _accepted(name, field)]
            for value in _accepted(name, field):
                shown = value.value if isinstance(value, As) else value
                ok_cases.append(pytest.param(cls, field, value, id=f"{name}.{field}={shown!r}"))
            kind = _range(name, field)
            values = _type_bad(hint) + BAD_IN_RANGE.get(kind, []) + EXTRA_BAD.get((name, field), [])
            seen: list[Any] = []
            for value in values:
                if any(_same(value, v) for v in seen) or any(_same(value, v) for v in allowed):
                    continue
                seen.append(value)
                reason = XFAIL.get((name, field, repr(value)))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                bad_cases.append(pytest.param(cls, field, value, marks=marks, id=f"{name}.{field}={value!r}"))
    return bad_cases, ok_cases


BAD_CASES, OK_CASES = _cases()


def _expected_name(field: str, value: Any) -> str:
    """The name the error must mention: the field, or for RunSpec's overrides the overridden field."""
    if field in ("rl", "vae") and isinstance(value, tuple) and value and isinstance(value[0], tuple) and value[0]:
        return str(value[0][0])
    return field


def test_the_walk_finds_every_config():
    """The discovery is not vacuous: the stage configs are all there."""
    names = set(BY_NAME)
    assert {"CollectConfig", "VAEConfig", "OfflineRLConfig", "SACConfig", "DQNConfig", "PEARLConfig", "MBMLConfig",
            "VariBADPPOConfig", "OffPolicyVariBADConfig", "PolicyReplayConfig", "GridSpec"} <= names, names
    assert len(BAD_CASES) > 1000 and len(OK_CASES) > 10


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_every_field_has_a_declared_range(cls):
    missing = [f for f, _ in _fields(cls) if _range(cls.__qualname__, f) is None]
    assert not missing, f"{cls.__qualname__}: declare the range of {missing} in RANGE (tests/{__name__}.py)"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_the_base_config_is_valid(cls):
    base = _base(cls)
    assert dataclasses.replace(base) == base


@pytest.mark.parametrize(("cls", "field", "value"), BAD_CASES)
def test_a_bad_value_is_refused_on_one_line_naming_the_field(cls, field, value):
    base = _base(cls)
    with pytest.raises(ConfigError) as caught:
        base.replace(**{field: value}) if isinstance(base, Config) else dataclasses.replace(base, **{field: value})
    message = str(caught.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    assert _expected_name(field, value).lower() in message.lower(), f"does not name {field!r}: {message}"
    assert len(message) < 600, f"too long for one line: {message}"


@pytest.mark.parametrize(("cls", "field", "value"), OK_CASES)
def test_a_legitimate_odd_value_is_accepted(monkeypatch, cls, field, value):
    monkeypatch.delenv("BOREL_PROFILE", raising=False)
    given, stored = (value.value, value.stored) if isinstance(value, As) else (value, value)
    base = _base(cls)
    built = base.replace(**{field: given}) if isinstance(base, Config) else dataclasses.replace(base, **{field: given})
    assert _same(getattr(built, field), stored)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_the_json_round_trip_keeps_a_valid_config(tmp_path, cls):
    """The type checks accept what ``save_json`` writes (tuples come back from JSON lists)."""
    base = _base(cls)
    assert type(base).load_json(base.save_json(tmp_path / "c.json")) == base
