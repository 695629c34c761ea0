"""The site bundle: what a site sends to the central team.

    BUNDLE/
      manifest.json            site, versions, operator, UTC time, sources with row accounting,
                               and the SHA-256 of every other file
      manifest.sig             the site's Ed25519 signature of manifest.json
      report.json              validation report (warnings, quarantine summary, unknown columns)
      tables/<table>.parquet   one file per shared table, schema version in its metadata
      quarantine.parquet       failed rows, one record per failure (also quarantine.csv, and
                               quarantine.xlsx with one sheet per table for the coordinator)

A bundle is written into a staging folder beside its destination and moved into place only
when complete, so a failed run leaves the previous bundle untouched.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from federate.errors import IntegrityError, Location, UsageError

if TYPE_CHECKING:  # pyarrow is imported where used: the command line imports this module
    import pyarrow as pa  # (through federate.query.roles) only to build its options
    import pyarrow.parquet as pq

    from federate.schema import Schema

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # Ed25519 signature of manifest.json (federate.bundle.signing)
REPORT = "report.json"
REPORT_HTML = "report.html"  # the data-quality report a coordinator reads (federate.quality)
QUARANTINE = "quarantine.parquet"
QUARANTINE_CSV = "quarantine.csv"
QUARANTINE_XLSX = "quarantine.xlsx"
TABLES_DIR = "tables"
MANIFEST_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def table_path(bundle: Path, table: str) -> Path:
    return bundle / TABLES_DIR / f"{table}.parquet"


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    # Dictionary pages only where they pay (codes, ids, units): tried on a column of numbers or
    # row numbers, they are built and then abandoned in every row group (a fifth of the CPU).
    text = [f.name for f in schema if pa.types.is_string(f.type)]
    return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=text)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")


def read_manifest(bundle: Path) -> dict[str, Any]:
    """The manifest, read with bounds (size, nesting: ``contents.load_json``)."""
    from federate.bundle.contents import MAX_MANIFEST_BYTES, load_json

    path = bundle / MANIFEST
    if not path.is_file():
        raise UsageError(f"{bundle} is not a bundle: it has no {MANIFEST}", code="not-a-bundle")
    data = load_json(path, MANIFEST, MAX_MANIFEST_BYTES)
    if not isinstance(data, dict):
        raise IntegrityError(f"{path} is not a manifest object", code="bad-manifest")
    return data


def seal(bundle: Path) -> dict[str, str]:
    """SHA-256 of every file in the bundle except the manifest and its signature."""
    return {
        rel: sha256_file(path)
        for path in sorted(bundle.rglob("*"))
        if path.is_file()
        and (rel := path.relative_to(bundle).as_posix()) not in (MANIFEST, SIGNATURE)
    }


def verify(bundle: Path, schema: Schema) -> dict[str, Any]:
    """Check a bundle end to end before it is trusted; return its manifest. In this order, so
    nothing is parsed that the signature does not cover: the bundle holds only files (no link,
    FIFO or device), the signature verifies over the manifest's bytes (with the key it names:
    which key the warehouse trusts is checked when it publishes), the manifest is read with
    bounds, the bundle holds exactly the files it lists, each with its SHA-256; only then are
    the tables opened."""
    import pyarrow.parquet as pq

    from federate.bundle.contents import check_listed, inventory
    from federate.bundle.signing import check_intact

    found = inventory(bundle)
    if MANIFEST not in found:
        raise UsageError(f"{bundle} is not a bundle: it has no {MANIFEST}", code="not-a-bundle")
    check_intact(bundle, SIGNATURE in found)
    manifest = read_manifest(bundle)
    for key in ("site", "submission_id", "schema", "files", "tables"):
        if key not in manifest:
            raise IntegrityError(
                f"manifest lacks {key!r}", code="bad-manifest", where=Location(file=MANIFEST)
            )
    version = manifest["schema"].get("version")
    if manifest["schema"].get("name") != schema.name or version != schema.version:
        raise IntegrityError(
            f"bundle is schema {manifest['schema']}, the warehouse holds "
            f"{schema.name} {schema.version}",
            code="schema-version",
        )
    expected: dict[str, str] = manifest["files"]
    check_listed(found, {MANIFEST, SIGNATURE, *expected})
    for name in sorted(expected):
        if sha256_file(bundle / name) != expected[name]:
            raise IntegrityError(
                "checksum mismatch: the file changed after the bundle was sealed",
                code="checksum",
                where=Location(file=name),
            )
    for table in schema:
        info = manifest["tables"].get(table.name)
        if info is None:
            continue
        if info.get("file") != f"{TABLES_DIR}/{table.name}.parquet":
            raise IntegrityError(
                f"manifest lists table {table.name} as {info.get('file')!r}, not "
                f"{TABLES_DIR}/{table.name}.parquet",
                code="bad-manifest",
                where=Location(file=MANIFEST),
            )
        path = bundle / info["file"]
        meta = pq.read_metadata(path)
        file_schema = pq.read_schema(path)
        want = schema.arrow_schema(table)
        if not file_schema.remove_metadata().equals(want.remove_metadata()):
            raise IntegrityError(
                f"table {table.name} does not have the shared schema's columns",
                code="schema-mismatch",
                where=Location(file=info["file"]),
            )
        stamped = (file_schema.metadata or {}).get(b"federate.schema_version", b"").decode()
        if stamped != schema.version:
            raise IntegrityError(
                f"table {table.name} is stamped schema {stamped!r}",
                code="schema-version",
                where=Location(file=info["file"]),
            )
        if meta.num_rows != info["rows"]:
            raise IntegrityError(
                f"table {table.name} holds {meta.num_rows} rows, the manifest says {info['rows']}",
                code="row-count",
                where=Location(file=info["file"]),
            )
    return manifest


@contextmanager
def staged_dir(dest: Path) -> Iterator[Path]:
    """Yield a fresh staging folder beside ``dest``; on success swap it into place. It is
    removed on any failure or interrupt; one a killed run left is removed by the next run into
    the same place (``clean_leftovers``)."""
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(dest)
    stage = dest.parent / f".{dest.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        yield stage
        replace_dir(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


_LEFTOVER = re.compile(r"\.(?:staging|old)-(?:(\d+)-)?[0-9a-f]{8}(?:\.spill)?")


def clean_leftovers(dest: Path) -> None:
    """Remove the staging folders (and their spill folders, and replaced bundles) that runs
    into ``dest`` left when they were killed: those whose process is gone (a folder of an older
    version, whose name holds no process, is taken as left too)."""
    prefix = f".{dest.name}"
    for path in dest.parent.glob(f"{glob.escape(prefix)}.*"):
        found = _LEFTOVER.fullmatch(path.name[len(prefix) :])
        if found is None or (found[1] is not None and _alive(int(found[1]))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def replace_dir(new: Path, dest: Path) -> None:
    """Move ``new`` to ``dest``; an existing ``dest`` is removed only after the move."""
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.replace(dest, old)
    os.replace(new, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
