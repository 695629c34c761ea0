"""What a site's export holds for the ingest: the files its adapter declares, found before any
work is done, and the files it skips whole (counted, never mapped)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from federate.adapters.declaration import SiteAdapter, SkipFiles, TableMap
from federate.errors import InputError, Location, UsageError
from federate.readers.base import Source


@dataclass(frozen=True)
class ExportFiles:
    found: list[tuple[TableMap, Source]]  # each declared file present, in declared order
    skipped: list[tuple[SkipFiles, Source]]  # files no table reads: read only to be counted


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
    used = {source.relpath.lower() for _, source in found}
    skipped = [
        (rule, source)
        for rule in adapter.skip
        for source in matching_files(export_dir, rule.pattern)
        if source.relpath.lower() not in used
    ]
    return ExportFiles(found, skipped)


def find_source(
    export_dir: Path, name: str, part: str | None = None, names: tuple[str, ...] = ()
) -> Source:
    """The declared file, matched case-insensitively (Windows exports vary the case); or, where
    the reader reads it in other formats (``names``), the one of them the export holds."""
    wanted = {n.lower(): n for n in names or (name,)}
    files = sorted(p for p in export_dir.iterdir() if p.is_file())
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


def matching_files(export_dir: Path, pattern: str) -> list[Source]:
    return [
        Source(p, p.name)
        for p in sorted(export_dir.iterdir())
        if p.is_file() and fnmatch.fnmatch(p.name.lower(), pattern.lower())
    ]
