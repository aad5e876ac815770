"""Profiles and configuration.

Three profiles run the same code path at different sizes:

- ``smoke``: tiny sizes; every phase really runs once (CI runs every notebook this way);
- ``quick``: the default for a laptop CPU; shows the paper's qualitative result in minutes;
- ``paper``: the paper's (authors' code's) hyperparameters; meant for a CUDA GPU.

Every stage's configuration is a frozen dataclass deriving from :class:`Config`. The dataclass
defaults are the paper's values, each field carries a docstring (an attribute docstring right under
the field), and the class attribute ``PRESETS`` holds the ``smoke`` and ``quick`` overrides side by
side, so the reductions are visible in one place. :meth:`Config.for_profile` resolves a profile
(argument, else ``$BOREL_PROFILE``, else ``quick``), applies its preset and then explicit overrides,
and validates every name. :meth:`Config.save_json` writes the resolved config next to results.

Every field's value is checked against its type annotation before the class's own range checks
(:func:`check_field_types`: integers are integers, not bools or floats; numbers are finite; ``X | None``
admits ``None``; a ``tuple[int, ...]`` holds layer sizes, at least one, each an integer >= 1), so no
config, whichever way it is built, holds a value of the wrong kind.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import math
import numbers
import os
import textwrap
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

PROFILES: tuple[str, ...] = ("smoke", "quick", "paper")
"""The three run sizes, smallest first."""

DEFAULT_PROFILE = "quick"
"""What a person running a notebook gets without saying anything."""

PROFILE_ENV_VAR = "BOREL_PROFILE"
"""Environment variable read when no profile is given explicitly."""


SEED_LIMIT = 2**31
"""Seeds are integers ``0 <= seed < SEED_LIMIT`` everywhere (configs and command lines)."""


class ConfigError(ValueError):
    """A bad profile name, field name or field value."""


def resolve_profile(profile: str | None = None) -> str:
    """Return a valid profile name: ``profile`` if given, else ``$BOREL_PROFILE``, else ``quick``.

    Raises :class:`ConfigError` naming the source of a bad value and the allowed values.
    """
    if profile is None:
        raw = os.environ.get(PROFILE_ENV_VAR)
        source = f"environment variable {PROFILE_ENV_VAR}"
        if raw is None or raw.strip() == "":
            return DEFAULT_PROFILE
    else:
        raw, source = profile, "parameter PROFILE"
    if not isinstance(raw, str):
        raise ConfigError(f"{source} must be a string, one of {', '.join(PROFILES)}; got {raw!r}")
    value = raw.strip().lower()
    if value not in PROFILES:
        raise ConfigError(f"unknown profile {raw!r} from {source}; allowed values: {', '.join(PROFILES)}")
    return value


C = TypeVar("C", bound="Config")


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class of every stage's configuration (frozen; paper values as field defaults).

    Subclasses are ``@dataclasses.dataclass(frozen=True)`` with one attribute docstring per field,
    may set ``PRESETS = {"smoke": {...}, "quick": {...}}`` (the ``paper`` profile uses the defaults
    unless it is listed too) and may override :meth:`validate` to check value ranges.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    RENAMED: ClassVar[dict[str, str]] = {}
    """Old field name → what replaced it: an override naming the old field fails with an error that says so
    (the class's :meth:`upgrade` maps saved configs that still hold it)."""

    def __post_init__(self) -> None:
        check_field_types(self)
        self.validate()

    def validate(self) -> None:
        """Check field values; raise :class:`ConfigError` naming the field and the allowed values."""

    # ----------------------------------------------------------------------------------------- build
    @classmethod
    def for_profile(cls: type[C], profile: str | None = None, **overrides: Any) -> C:
        """The config of ``profile`` (resolved as in :func:`resolve_profile`) with ``overrides``."""
        profile = resolve_profile(profile)
        for name, preset in cls.PRESETS.items():
            if name not in PROFILES:
                raise ConfigError(f"{cls.__name__}.PRESETS has unknown profile {name!r}; allowed: {PROFILES}")
            cls._check_names(preset, f"{cls.__name__}.PRESETS[{name!r}]")
        values = dict(cls.PRESETS.get(profile, {}))
        cls._check_names(overrides, f"{cls.__name__} override")
        values.update(overrides)
        return cls(**values)

    @classmethod
    def for_layers(cls: type[C], profile: str | None = None, domain: dict[str, Any] | None = None,
                   profile_domain: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
                   domain_yields: Callable[[str, Any], bool] | None = None) -> C:
        """The one way every stage layers its settings: the class defaults (paper values), then the
        profile's ``PRESETS``, then the stage's per-``domain`` values, then its per-(profile, domain)
        values, then ``overrides``. ``domain_yields(name, value)``: True where a per-domain value gives way
        to a field the profile's preset sets (offline RL and the VAE keep the profile's reductions)."""
        profile = resolve_profile(profile)
        preset = cls.PRESETS.get(profile, {})
        dom = {k: v for k, v in (domain or {}).items()
               if not (domain_yields is not None and k in preset and domain_yields(k, v))}
        return cls.for_profile(profile, **{**dom, **(profile_domain or {}), **(overrides or {})})

    @classmethod
    def _check_names(cls, values: dict[str, Any], what: str) -> None:
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            renamed = "".join(f"; {name} is now {cls.RENAMED[name]}" for name in unknown if name in cls.RENAMED)
            raise ConfigError(f"{what}: unknown field(s) {unknown}{renamed}; {cls.__name__} fields are: "
                              f"{', '.join(allowed)}")

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (names validated)."""
        self._check_names(changes, f"{type(self).__name__}.replace")
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------------------------ describe
    def to_dict(self) -> dict[str, Any]:
        """Field values as plain JSON-able Python objects (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_plain))

    @classmethod
    def upgrade(cls, saved: dict[str, Any] | None) -> dict[str, Any] | None:
        """``saved`` (a :meth:`to_dict` written by an earlier version) with the fields added since then at
        their class defaults, so that a checkpoint or dataset made before a new option existed still
        matches the config that leaves the option at its default."""
        if saved is None:
            return None
        defaults = json.loads(json.dumps({f.name: f.default for f in dataclasses.fields(cls)
                                          if f.default is not dataclasses.MISSING}, default=_plain))
        return {**defaults, **saved}

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Each field's attribute docstring, read from the source of the class and its bases."""
        docs: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if dataclasses.is_dataclass(klass) and klass is not object:
                docs.update(_attribute_docstrings(klass))
        return {f.name: docs.get(f.name, "") for f in dataclasses.fields(cls)}

    def describe(self) -> str:
        """A readable table: field, value, and what it means."""
        docs = self.field_docs()
        rows = [f"{type(self).__name__}"]
        for name, value in self.to_dict().items():
            rows.append(f"  {name} = {value!r}  # {docs.get(name, '')}")
        return "\n".join(rows)

    def diff_from_paper(self) -> dict[str, tuple[Any, Any]]:
        """Fields whose value differs from the paper default: ``{name: (paper, this)}``."""
        paper = type(self).for_profile("paper").to_dict()
        mine = self.to_dict()
        return {k: (paper[k], mine[k]) for k in mine if mine[k] != paper[k]}

    def check_positive_fields(self, *names: str, allow_zero: bool = False) -> None:
        """:func:`check_positive` on each named field (one ``validate`` line for a list of sizes and rates)."""
        for name in names:
            check_positive(getattr(self, name), name, allow_zero=allow_zero)

    # ---------------------------------------------------------------------------------------- save
    def save_json(self, path: str | os.PathLike[str], profile: str | None = None, **extra: Any) -> Path:
        """Write the resolved config (values, field docs, class, profile, package version) as JSON,
        atomically."""
        from borel_lib import __version__
        from borel_lib.io import write_json

        payload = {
            "config_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "profile": resolve_profile(profile) if profile is not None else None,
            "borel_lib_version": __version__,
            "values": self.to_dict(),
            "docs": self.field_docs(),
            **extra,
        }
        return write_json(path, payload)

    @classmethod
    def load_json(cls: type[C], path: str | os.PathLike[str]) -> C:
        """Read a config written by :meth:`save_json` (validates class and field names)."""
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err})") from err
        if "values" not in payload:
            raise ConfigError(f"{path}: missing field 'values' (not a borel_lib config file)")
        values = payload["values"]
        cls._check_names(values, str(path))
        field_types = {f.name: f.type for f in dataclasses.fields(cls)}
        for name, value in list(values.items()):
            if isinstance(value, list) and "tuple" in str(field_types[name]):
                values[name] = tuple(value)
        return cls(**values)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


@functools.cache
def _attribute_docstrings(klass: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):
        return {}
    tree = ast.parse(source)
    cls_node = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if cls_node is None:
        return {}
    docs: dict[str, str] = {}
    body = cls_node.body
    for node, nxt in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def check_choice(value: Any, field: str, allowed: tuple[Any, ...]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{field}={value!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")


def check_positive(value: Any, field: str, *, allow_zero: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite positive (or non-negative) number."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and (value >= 0 if allow_zero else value > 0))
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{field}={value!r} must be a finite number {bound}")


def check_tau(value: Any, field: str = "tau") -> None:
    """Raise :class:`ConfigError` unless ``value`` is a soft target-update rate in (0, 1]."""
    check_positive(value, field)
    if value > 1:
        raise ConfigError(f"{field}={value!r} must be in (0, 1] (the soft target-update rate)")


def check_seed(value: Any, field: str = "seed") -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer ``0 <= value < 2**31`` (the project's
    one seed rule)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < SEED_LIMIT
    if not ok:
        raise ConfigError(f"{field}={value!r} must be an integer 0 <= {field} < 2**31")


INT_LIMIT = 2**63
"""Integer fields lie in ``-2**63 <= value < 2**63`` (what a tensor or an array index can hold)."""


@functools.cache
def _field_hints(klass: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(klass)
    return tuple((f.name, hints.get(f.name, Any)) for f in dataclasses.fields(klass))


def _kind_error(value: Any, hint: Any) -> str | None:
    """Why ``value`` does not fit the annotation ``hint`` (None if it does, or if the hint is not checked)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        reasons = [_kind_error(value, a) for a in others]
        if any(r is None for r in reasons):
            return None
        return reasons[0] + (" or None" if type(None) in args and len(others) == 1 else "")
    if hint is bool:
        return None if isinstance(value, bool) else "must be True or False"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return "must be an integer"
        return None if -INT_LIMIT <= value < INT_LIMIT else "must be an integer of at most 63 bits"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return "must be a finite number"
        return None if math.isfinite(value) else "must be a finite number"
    if hint is str:
        return None if isinstance(value, str) else "must be a string"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if args[0] is int:
            ok = (isinstance(value, tuple) and len(value) > 0
                  and all(_kind_error(v, int) is None and v >= 1 for v in value))
            return None if ok else "must be a non-empty tuple of layer sizes, each an integer >= 1, e.g. (256, 256)"
        if not isinstance(value, tuple):
            return "must be a tuple"
        bad = next((r for r in (_kind_error(v, args[0]) for v in value) if r is not None), None)
        return None if bad is None else f"must be a tuple, each entry {bad.removeprefix('must be ')}"
    return None


def check_field_types(config: Config) -> None:
    """Raise :class:`ConfigError` unless every field of ``config`` fits its type annotation (see the module
    docstring); the message names the class, the field and the rule, on one line."""
    for name, hint in _field_hints(type(config)):
        value = getattr(config, name)
        reason = _kind_error(value, hint)
        if reason is not None:
            raise ConfigError(f"{type(config).__name__}.{name}={value!r} {reason}")
