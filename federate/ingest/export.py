"""What a site's export holds for the ingest: the files its adapter declares, found before any
work is done, the files it skips whole (counted, never mapped), and the files nothing claims
(never read, but listed: nothing in the export folder is left out silently)."""

from __future__ import annotations

import difflib
import fnmatch
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from federate.adapters.declaration import SiteAdapter, SkipFiles, TableMap
from federate.errors import InputError, Location, UsageError
from federate.privacy.identifiers import scan_values
from federate.readers.base import Reader, Source

NOT_IN_SPEC = "not-in-spec"


@dataclass(frozen=True)
class ExportFiles:
    found: list[tuple[TableMap, Source]]  # each declared file present, in declared order
    skipped: list[tuple[SkipFiles, Source]]  # files no table reads: read only to be counted
    # Files no table, skip rule or reader claims: never read, listed as skipped whole.
    unclaimed: list[Source] = field(default_factory=list)


def check_paths(export_dir: Path, out: Path) -> None:
    if not export_dir.is_dir():
        raise UsageError(
            f"export folder {export_dir} does not exist or is not a folder", code="no-export"
        )
    exp, dest = export_dir.resolve(), out.resolve()
    if dest == exp or exp in dest.parents:
        raise UsageError(
            f"--out {out} is inside the export folder; ingest never writes into an export",
            code="out-in-export",
        )


def locate(adapter: SiteAdapter, export_dir: Path) -> ExportFiles:
    """Every declared file, or exit 2 with nothing written: a missing file stops the run before
    any work (and a missing column or an unreadable file likewise: ``Plans``)."""
    found: list[tuple[TableMap, Source]] = []
    for tm in adapter.tables:
        names = adapter.reader.file_names(tm.file)
        try:
            found.append((tm, find_source(export_dir, tm.file, tm.part, names)))
        except InputError:
            if tm.optional:
                continue
            raise
    _check_companions(adapter.reader, found)
    used = {source.relpath.lower() for _, source in found}
    skipped = [
        (rule, source)
        for rule in adapter.skip
        for source in matching_files(export_dir, rule.pattern)
        if source.relpath.lower() not in used
    ]
    claimed = used | {s.relpath.lower() for _, s in skipped} | _companions(adapter.reader, found)
    unclaimed = [s for s in every_file(export_dir) if s.relpath.lower() not in claimed]
    return ExportFiles(found, skipped, unclaimed)


def _check_companions(reader: Reader, found: list[tuple[TableMap, Source]]) -> None:
    """A file the reader reads beside a declared one (a REDCap data dictionary) is a file too:
    never a folder, nor a FIFO the reader would wait on for ever."""
    for _, source in found:
        for name in reader.companions(source):
            path = source.path.parent / name
            if (path.exists() or path.is_symlink()) and (kind := not_a_file(path)):
                raise InputError(
                    f"{name} is {kind}, not a file: the export must hold the file itself",
                    code="not-a-file",
                    where=Location(file=name),
                )


def _companions(reader: Reader, found: list[tuple[TableMap, Source]]) -> set[str]:
    """The files the reader reads beside the declared ones (lower case relative paths)."""
    names = set()
    for _, source in found:
        folder = posixpath.dirname(source.relpath)
        names |= {posixpath.join(folder, n).lower() for n in reader.companions(source)}
    return names


def every_file(export_dir: Path) -> list[Source]:
    """Every file in the export folder and the folders in it (symbolic links to folders not
    followed), in a stable order."""
    files = []
    for root, folders, names in os.walk(export_dir):
        folders.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file():
                files.append(Source(path, path.relative_to(export_dir).as_posix()))
    return files


def shown_name(relpath: str) -> str:
    """A file name as it may travel in the bundle: a national identifier, e-mail address or
    phone number in it is masked (people name files after patients)."""
    for hit in scan_values(pa.array([relpath]), free_text=True):
        relpath = relpath.replace(hit.match, hit.masked)
    return relpath


def unclaimed_hint(adapter: SiteAdapter, relpath: str) -> str:
    """What a coordinator should know of a file nothing claims, and the declared file it may
    have been meant to be."""
    declared = {tm.file.lower(): tm.file for tm in adapter.tables}
    close = difflib.get_close_matches(posixpath.basename(relpath).lower(), declared, n=1)
    return "a file the spec does not name: not read, not sent (listed with its SHA-256)" + (
        f"; if it is meant to be {declared[close[0]]}, give it that name" if close else ""
    )


def find_source(
    export_dir: Path, name: str, part: str | None = None, names: tuple[str, ...] = ()
) -> Source:
    """The declared file, matched case-insensitively (Windows exports vary the case); or, where
    the reader reads it in other formats (``names``), the one of them the export holds."""
    wanted = {n.lower(): n for n in names or (name,)}
    entries = sorted(export_dir.iterdir())
    for entry in entries:
        if entry.name.lower() in wanted and (kind := not_a_file(entry)):
            raise InputError(
                f"{entry.name} is {kind}, not a file: the export must hold the file itself",
                code="not-a-file",
                where=Location(file=entry.name),
            )
    files = [p for p in entries if p.is_file()]
    present = [p for p in files if p.name.lower() in wanted]
    if len({p.name.lower() for p in present}) > 1:
        raise InputError(
            f"the export has {' and '.join(p.name for p in present)}: the same form in "
            f"{len(present)} files; send one of them",
            code="ambiguous-file",
            where=Location(file=present[0].name),
        )
    if present:
        path = next((p for p in present if p.name == name), present[0])
        return Source(path, path.name, part)
    listed = ", ".join(p.name for p in files) or "none"
    expected = " or ".join(wanted.values())
    raise InputError(
        f"the export has no {expected} (files present: {listed})",
        code="missing-file",
        where=Location(file=name),
    )


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (a link is followed), found without
    opening it: a FIFO opened for reading would wait for a writer for ever."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "a link to nothing" if path.is_symlink() else "unreadable"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    return "a socket" if stat.S_ISSOCK(mode) else "a device"


def matching_files(export_dir: Path, pattern: str) -> list[Source]:
    return [
        Source(p, p.name)
        for p in sorted(export_dir.iterdir())
        if p.is_file() and fnmatch.fnmatch(p.name.lower(), pattern.lower())
    ]
