"""Shared command-line helpers: argument types, help text, and one way to report a user error.

Every ``python -m borel_lib.<stage>`` command builds its parser with :func:`make_parser` (or
:func:`make_command_parser`, which adds the positional subject and ``--profile``) and runs through
:func:`main`, so all of them behave alike:

- argument types with one rule each (:func:`positive_int`, :func:`non_negative_int`,
  :func:`non_negative_float`, :func:`seed`: an integer ``0 <= seed < 2**31``, the rule of
  :func:`borel_lib.config.check_seed`; :func:`device`: a torch device this machine has), rejected by
  argparse with the flag's name and the rule;
- ``--help`` shows every default, the allowed values (argparse ``choices``) and where outputs go
  (the ``outputs`` text of :func:`make_parser`);
- ``--<flag> FIELD=VALUE`` config overrides parsed into typed values (:func:`parse_overrides`);
- a user error (a bad value, a missing input file, a stale or locked dataset: :data:`USER_ERRORS`)
  is printed as one line ``error: ...`` naming the cause and the command that fixes it, on stderr with exit
  code 2 (a :class:`CommandError`, e.g. a failed sweep cell: its own code) and no traceback, unless
  ``--debug`` is given, which re-raises it with its traceback;
- output piped into a reader that stops early (``... --list | head``) ends the command quietly with exit
  code 1, as Unix tools do, instead of a ``BrokenPipeError`` traceback.

Commands validate every input (build their configs) before any heavy work or any file is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from borel_lib.config import PROFILES, SEED_LIMIT, ConfigError, check_seed


class CommandError(RuntimeError):
    """A command failed for a cause its message names, with the command that fixes it (a failed sweep cell, a
    sweep stopped by a signal): reported like a user error, one line, with exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ValueError, FileNotFoundError, FileExistsError,
                                                 CommandError)
"""Exceptions that mean "the user asked for something impossible" (or a run failed for a cause the message
names), reported without a traceback. (:class:`borel_lib.datasets.DatasetError` is a ``ValueError``, a held
lock a ``FileExistsError``: :class:`borel_lib.io.LockedError`.)"""


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= 1")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= 0")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def seed(text: str) -> int:
    """argparse type: a seed, an integer ``0 <= seed < 2**31`` (the project's one seed rule)."""
    value = _integer(text)
    try:
        check_seed(value)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None
    return value


def device(text: str) -> str:
    """argparse type: a torch device spec (``auto``, ``cpu``, ``cuda``, ``cuda:N``) usable on this
    machine (:func:`borel_lib.device.get_device`), so asking for CUDA without one fails at once."""
    from borel_lib.device import get_device

    try:
        get_device(text)
    except (ValueError, RuntimeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows ``(default: ...)`` after every option that has a
    real default; an option whose default is ``None`` says in its help what it falls back to."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # identity, not ==: a default of 0 (== False) is still shown
        if "%(default)" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: %(default)s)"


def make_parser(prog: str, description: str, outputs: str) -> argparse.ArgumentParser:
    """A parser with the project's help format, an ``outputs`` paragraph in ``--help`` and the
    ``--debug`` flag. Add arguments with ``choices=`` for closed sets so ``--help`` lists them."""
    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=_HelpFormatter,
                                     epilog=f"outputs:\n{outputs}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return parser


def make_command_parser(prog: str, description: str, outputs: str, subject: str, choices: Iterable[str],
                        subject_help: str) -> argparse.ArgumentParser:
    """:func:`make_parser` for a command about one ``subject`` taken from ``choices`` (a domain, a sweep's
    grid) at a profile: the positional argument, its allowed values listed by ``--help``, then ``--profile``
    (:func:`add_profile_argument`). The pipeline's commands (collect, pipeline, sweep) begin so."""
    parser = make_parser(prog, description, outputs)
    parser.add_argument(subject, choices=sorted(choices), help=subject_help)
    add_profile_argument(parser)
    return parser


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    """``--profile`` with the allowed values; default: ``$BOREL_PROFILE``, else ``quick``."""
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="run size (default: $BOREL_PROFILE, else quick)")


def add_seed_argument(parser: argparse.ArgumentParser, default: int | None = None, help: str = "seed") -> None:
    """``--seed`` with the project's seed rule."""
    parser.add_argument("--seed", type=seed, default=default, help=f"{help}; an integer 0 <= seed < {SEED_LIMIT}")


def add_device_argument(parser: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """``--device`` checked by :func:`device`: ``auto`` (CUDA if present, else CPU), ``cpu``, ``cuda``
    or ``cuda:N``."""
    parser.add_argument("--device", type=device, default=default,
                        help="torch device: auto (CUDA if present, else CPU), cpu, cuda or cuda:N"
                             + ("" if default else " (default: auto)"))


def main(run: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
         argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and call ``run(args)``; return the exit code (0, or 2 on a user error).

    Bad arguments: argparse's usage line and ``error: ...`` (exit 2). A :data:`USER_ERRORS` raised by
    ``run``: one line ``error: ...`` on stderr and exit 2, or the traceback with ``--debug``.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad argument (2): already printed by argparse
        return int(stop.code or 0)
    try:
        code = run(args)
    except USER_ERRORS as err:
        if getattr(args, "debug", False):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return getattr(err, "exit_code", 2)
    except BrokenPipeError:  # stdout's reader went away: send what is still buffered nowhere, stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (e.g. captured)
            pass
        return 1
    return int(code or 0)


def parse_overrides(items: list[str], cls: type, flag: str) -> dict[str, Any]:
    """``["time_input=1", "gamma=0.95", "hidden=64,64", "decode_subset=none"]`` → typed overrides of the
    config class ``cls`` (given on the command line as ``--<flag> FIELD=VALUE``, e.g. ``borel --rl``)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise ConfigError(f"--{flag} {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        default = getattr(cls(), key)
        optional = "None" in str(fields[key].type)
        number = float if "float" in str(fields[key].type) else int  # the type of a None-default field
        try:
            if optional and raw.lower() == "none":
                out[key] = None
            elif isinstance(default, bool):
                if raw.lower() not in ("0", "1", "true", "false"):
                    raise ValueError
                out[key] = raw.lower() in ("1", "true")
            elif isinstance(default, tuple):
                kind = type(default[0]) if default else int
                out[key] = tuple(kind(x) for x in raw.split(","))
            elif default is None:
                out[key] = number(raw)
            else:
                out[key] = type(default)(raw)
        except ValueError:
            kind = f"none or {'a float' if number is float else 'an int'}" if default is None else type(default).__name__
            raise ConfigError(f"--{flag} {item!r}: {raw!r} is not a valid {kind}") from None
    return out
