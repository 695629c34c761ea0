"""Durable file operations for the warehouse: fsync'd copies, atomic JSON replace, a lock.

A rename is atomic but not durable until the directory holding it is fsync'd, and a file's
bytes are not on disk until the file is; publishing fsyncs both, in that order.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from federate.errors import UsageError

CRASH_ENV = "FEDERATE_TEST_CRASH_AT"


def crash_point(step: str) -> None:
    """Die here, like a power cut, when the tests ask for it (never set in normal use)."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_durably(src_root: Path, dest_root: Path, names: Iterable[str]) -> None:
    """Copy the listed relative paths, then fsync every file and every folder made."""
    dirs = {dest_root}
    for name in names:
        dest = dest_root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dirs.update(p for p in dest.parents if dest_root in (p, *p.parents))
        shutil.copyfile(src_root / name, dest)
        fsync_file(dest)
    for folder in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(folder)


def write_json_atomic(path: Path, data: Any, *, step: str = "json") -> None:
    """Write a temp file beside ``path``, fsync it, os.replace it in, fsync the folder."""
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    payload = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        crash_point(f"before-{step}-replace")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    crash_point(f"after-{step}-replace")
    fsync_dir(path.parent)


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def locked(lock_file: Path, *, timeout: float = 30.0) -> Iterator[None]:
    """An exclusive flock: released by the kernel even if the holder is killed."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UsageError(
                        f"{lock_file.parent} is busy: another pool command holds {lock_file.name}",
                        code="locked",
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
