"""One writer per working directory: an advisory lock file that names its holder.

``workdir_lock(directory, stage)`` takes an exclusive ``flock`` on ``DIRECTORY/.biobridge.lock`` for the
duration of a stage (``prepare``, ``encode``, ``train``, ...) and writes the holder (pid, host, stage, command,
start time) into it. A second process that asks for the lock gets ``LockedError`` naming the holder, at once
(no waiting). The lock dies with its process (a killed run never leaves a stale lock: the kernel releases
``flock`` locks), and it is re-entrant within one process (a benchmark that trains through ``pipeline.train``
keeps its own lock). Readers (``evaluate``, ``retrieve``) take no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from biobridge.errors import LockedError

__all__ = ["LOCK_FILE", "locked", "workdir_lock"]

LOCK_FILE = ".biobridge.lock"
_held: dict[str, int] = {}  # resolved lock path -> depth, for re-entrance within this process


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    parts = [f"pid {info.get('pid')}"]
    if info.get("host") and info.get("host") != socket.gethostname():
        parts.append(f"on {info['host']}")
    if info.get("stage"):
        parts.append(f"running {info['stage']}")
    if info.get("since"):
        parts.append(f"since {info['since']}")
    if info.get("command"):
        parts.append(f"({info['command'][:120]})")
    return " ".join(parts)


@contextlib.contextmanager
def workdir_lock(directory: str | Path, stage: str) -> Iterator[Path]:
    """Hold the working directory's lock while the block runs (see the module docstring)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / LOCK_FILE).resolve()
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"{directory} is in use by {_holder(path)}; wait for it to finish (or stop it) and rerun"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "stage": stage,
            "command": " ".join(sys.argv),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        _held[key] = 1
        try:
            yield path
        finally:
            _held.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def locked(stage: str, when: Callable[..., bool] | None = None):
    """Decorator: run the function under ``workdir_lock`` of its first argument (or ``workdir=``), when
    ``when(*args, **kwargs)`` (default: always) says this call writes."""

    def decorate(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            if when is not None and not when(*args, **kwargs):
                return function(*args, **kwargs)
            workdir = args[0] if args else kwargs["workdir"]
            with workdir_lock(workdir, stage):
                return function(*args, **kwargs)

        return run

    return decorate
