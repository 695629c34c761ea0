"""What a bundle may hold, checked before any of its files is parsed (issue 23).

A bundle holds exactly its manifest: ``manifest.json``, ``manifest.sig`` and the files the
manifest lists, each a regular file. A symbolic link anywhere inside it (it could point at any
file of the machine that receives it), a FIFO or a device, a file the manifest does not list (a
second ``manifest.json`` in a folder) or a folder holding no listed file is refused, naming its
path. The manifest and its signature are JSON read with bounds: a size, and a nesting depth
(a deeply nested manifest exhausted Python's recursion, a crash rather than a refusal).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from federate.errors import IntegrityError, Location

MAX_MANIFEST_BYTES = 16 << 20  # a manifest lists sources and files: a few megabytes at most
MAX_SIGNATURE_BYTES = 64 << 10
MAX_JSON_DEPTH = 32  # the manifest nests five deep
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def inventory(bundle: Path) -> dict[str, int]:
    """Every regular file under ``bundle`` (its path relative to the bundle -> its size), found
    without following any link; a link, or anything but a file or a folder, is refused."""
    found: dict[str, int] = {}
    folders = [bundle]
    while folders:
        folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                rel = path.relative_to(bundle).as_posix()
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    raise IntegrityError(
                        "the bundle holds a symbolic link: a bundle holds only its own files",
                        code="symlink-in-bundle",
                        where=Location(file=rel),
                    )
                if stat.S_ISDIR(mode):
                    folders.append(path)
                    found.setdefault(rel + "/", 0)
                elif stat.S_ISREG(mode):
                    found[rel] = entry.stat(follow_symlinks=False).st_size
                else:
                    raise IntegrityError(
                        "the bundle holds something that is not a file (a FIFO, a socket or a "
                        "device)",
                        code="not-a-file",
                        where=Location(file=rel),
                    )
    return found


def check_listed(found: dict[str, int], listed: set[str]) -> None:
    """The bundle holds exactly ``listed`` (and the folders they are in): anything else is
    refused, naming it; a listed file that is missing too."""
    folders = {
        "/".join(name.split("/")[:i]) + "/"
        for name in listed
        for i in range(1, name.count("/") + 1)
    }
    for name in sorted(found):
        if name not in listed and name not in folders:
            what = "a folder" if name.endswith("/") else "a file"
            raise IntegrityError(
                f"{what} in the bundle is not listed in its manifest: a bundle holds exactly "
                "the files its manifest lists",
                code="unlisted-file",
                where=Location(file=name.rstrip("/")),
            )
    for name in sorted(listed - set(found)):
        raise IntegrityError(
            "a file listed in the manifest is missing",
            code="missing-file",
            where=Location(file=name),
        )


def load_json(path: Path, name: str, limit: int) -> Any:
    """A JSON file of the bundle, refused (exit 3, naming it) past ``limit`` bytes or
    ``MAX_JSON_DEPTH`` levels of nesting, or when it is not JSON."""
    where = Location(file=name)
    try:
        size = path.stat().st_size
        if size > limit:
            raise IntegrityError(
                f"{name} is {size:,} bytes, more than the {limit:,} it may be",
                code="bad-manifest",
                where=where,
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise IntegrityError(
            f"{name} cannot be read: {exc.strerror}", code="bad-manifest", where=where
        ) from None
    depth = nesting(raw)
    if depth > MAX_JSON_DEPTH:
        raise IntegrityError(
            f"{name} nests {depth} levels deep, more than the {MAX_JSON_DEPTH} it may",
            code="bad-manifest",
            where=where,
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise IntegrityError(
            f"{name} is not JSON: {str(exc)[:200]}", code="bad-manifest", where=where
        ) from None


def nesting(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (strings left out), without
    parsing it: the brackets alone, counted in one vectorised pass."""
    import numpy as np

    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())
