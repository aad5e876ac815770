"""Atomic file writes and lock files: a half-written table, dataset or checkpoint is never left behind, and
two processes never do the same expensive step at once.

Everything is written to a temporary name in the destination folder and renamed into place only
once complete (``os.replace`` is atomic on POSIX within one file system). :func:`file_lock` is the one lock
of the project: one lock file per purpose, held with ``flock`` (released by the system when its process dies),
naming its holder (pid, host, purpose), removed on release.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``, on error delete it.

    ``suffix`` defaults to the destination's suffix, so writers that pick a format from the file
    name (matplotlib, pandas, torch) keep working.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.name}.tmp-", suffix=dest.suffix if suffix is None else suffix, dir=dest.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual permissions
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class LockedError(FileExistsError):
    """A lock taken with ``wait=False`` (:func:`file_lock`) is held by another live process."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def lock_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Who holds (or last held) the lock file ``path``: ``{"pid", "host", "purpose"}``, or ``None`` if the file
    is missing or says nothing. A lock file of borel_lib before issue 35 (``"<pid> <owner>"``, the dataset
    writer's, never held with ``flock``) is read too, marked ``"legacy": True``."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if isinstance(info, dict) and isinstance(info.get("pid"), int):
        return {"pid": info["pid"], "host": str(info.get("host", "")), "purpose": str(info.get("purpose", ""))}
    first, _, rest = text.partition(" ")
    if not first.isdigit():
        return None
    return {"pid": int(first), "host": socket.gethostname(), "purpose": rest.strip(), "legacy": True}


def describe_holder(holder: dict[str, Any] | None) -> str:
    """``"pid 123 on host-a (borel_lib.collect semicircle)"``, or ``"another process"`` if unknown."""
    if not holder:
        return "another process"
    return f"pid {holder['pid']} on {holder['host'] or 'an unknown host'}" + (
        f" ({holder['purpose']})" if holder.get("purpose") else "")


def _kill_hint(holder: dict[str, Any] | None) -> str:
    if holder and holder.get("host") == socket.gethostname():
        return f"kill {holder['pid']}"
    return "stop that process" + (f" on {holder['host']}" if holder and holder.get("host") else "")


def _created_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` (and its parents); return the folders this call created, deepest first."""
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], purpose: str = "", wait: bool = True,
              on_held: Callable[[dict[str, Any] | None], BaseException] | None = None) -> Iterator[Path]:
    """Hold the lock file ``path`` for one ``purpose`` while the block runs; yields its path.

    Each purpose has a lock file of its own (collecting a sweep's dataset once, writing a dataset, training one
    VAE, one BOReL run, one sweep), so two locks never share a file. The lock is an exclusive ``flock`` on the
    file, which the system releases when its process dies, however it dies; the file holds the holder's pid,
    host and purpose (:func:`lock_holder`), written only once the lock is taken, so nobody ever truncates
    another's. ``wait=True``: if another process holds it, say so once on stderr and wait; ``wait=False``:
    raise ``on_held(holder)`` (default: a one-line :class:`LockedError` naming the holder and how to stop it).
    A lock file left by a dead process is taken over with a one-line note on stderr. On release the file is
    removed, and so are the folders this call created if they are empty (a failed run leaves nothing).
    """
    path = Path(path)
    created = _created_dirs(path.parent)
    try:
        fd = _acquire(path, purpose, wait, on_held or _default_held(path, purpose), created)
    except BaseException:  # held (wait=False) or interrupted while waiting: leave no folder behind
        _remove_empty(created)
        raise
    try:
        yield path
    finally:
        if _same_file(fd, path):
            path.unlink(missing_ok=True)
        os.close(fd)  # releases the flock
        _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (a run wrote into it), or gone
            break


def _acquire(path: Path, purpose: str, wait: bool, on_held: Callable[[dict[str, Any] | None], BaseException],
             created: list[Path]) -> int:
    """:func:`file_lock`'s loop: the descriptor of the lock file ``path``, locked and naming this process."""
    import fcntl

    announced = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # never O_TRUNC: the file may be another's
        except FileNotFoundError:  # a holder releasing the lock removed the folder it had created
            created += [d for d in _created_dirs(path.parent) if d not in created]
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = lock_holder(path)
                if not wait:
                    raise on_held(holder) from None
                if not announced:
                    print(f"waiting for the lock {path}{f' ({purpose})' if purpose else ''}: held by "
                          f"{describe_holder(holder)}", file=sys.stderr, flush=True)
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not _same_file(fd, path):  # the holder removed it on release: lock the file now at ``path``
                os.close(fd)
                fd = -1
                continue
            previous = lock_holder(path)
            if previous and previous.get("legacy") and previous["pid"] != os.getpid() and _pid_alive(previous["pid"]):
                if not wait:  # a writer of an older borel_lib (no flock) still runs
                    raise on_held(previous)
                if not announced:
                    print(f"waiting for the lock {path}: held by {describe_holder(previous)}", file=sys.stderr,
                          flush=True)
                    announced = True
                os.close(fd)
                fd = -1
                time.sleep(1.0)
                continue
            if previous:
                print(f"note: taking over the lock {path} left by {describe_holder(previous)}, which is no longer "
                      "running", file=sys.stderr, flush=True)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose}) + "\n")
                      .encode(), 0)
            return fd
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise


def _default_held(path: Path, purpose: str) -> Callable[[dict[str, Any] | None], BaseException]:
    def held(holder: dict[str, Any] | None) -> BaseException:
        return LockedError(f"{path}: {describe_holder(holder)} holds this lock{f' ({purpose})' if purpose else ''}; "
                           f"wait for it to finish, or {_kill_hint(holder)}")
    return held


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as indented, key-sorted JSON (stable diffs)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 24) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks (dataset arrays, the results manifest)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
