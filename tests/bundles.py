"""Shared by the warehouse, query and analyses tests: Italian bundles from the hand-written
export, clones of them as other sites' submissions, an in-process CLI runner, and tree hashes
for "nothing changed" assertions."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.bundle.manifest import MANIFEST, SIGNATURE, seal, write_json
from federate.bundle.signing import load_signing_key
from federate.cli import main
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from federate.warehouse.catalog import CATALOG, read_catalog
from tests.italy_export import write_italy_export

# Rows of the hand-written export's other tables (tests/italy_export.py).
OTHER_TABLES = {"edss": 3, "msfc": 2, "relapses": 2, "adverse_events": 3, "conmeds": 3, "labs": 5}


def build_bundle(folder: Path, key: SiteKey, **replace: str) -> Path:
    """An Italian bundle in ``folder``/bundle from the hand-written export (``replace``: files)."""
    export = write_italy_export(folder / "export", **replace)
    return ingest(registry.adapter("italy"), export, folder / "bundle", key).bundle


def clone_bundle(bundle: Path, dest: Path, *, site: str, submission_id: str) -> Path:
    """The same rows as another site's submission, resealed (a site must be registered)."""
    schema = registry.schema()
    shutil.copytree(bundle, dest)
    manifest = json.loads((dest / MANIFEST).read_text("utf-8"))
    for name in manifest["tables"]:
        path = dest / "tables" / f"{name}.parquet"
        table = pq.read_table(path)
        for column, value in (("site", site), ("submission_id", submission_id)):
            index = table.schema.get_field_index(column)
            filled = pa.array([value] * table.num_rows, pa.string())
            table = table.set_column(index, table.schema.field(index), filled)
        pq.write_table(table.cast(schema.arrow_schema(schema.table(name))), path)
    manifest.update(site=site, submission_id=submission_id)
    manifest["files"] = seal(dest)
    write_json(dest / MANIFEST, manifest)
    resign(dest)
    return dest


def resign(bundle: Path) -> None:
    """Sign the manifest again with its site's key, as a site (or one holding its key) would."""
    site = json.loads((bundle / MANIFEST).read_text("utf-8"))["site"]
    key = load_signing_key(site, None)
    write_json(
        bundle / SIGNATURE,
        {
            "algorithm": "ed25519",
            "public_key": key.public,
            "signature": key.sign((bundle / MANIFEST).read_bytes()),
        },
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in process, exactly as `main` does: (exit code, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def json_error(out: str) -> dict[str, Any]:
    """The one JSON error a --format json run prints on stdout, and nothing else there."""
    error: dict[str, Any] = json.loads(out)
    assert set(error) == {"error", "code", "exit_code"} and error["exit_code"] in (2, 3, 70), out
    return error


def squeeze(text: str) -> str:
    """Text without whitespace: rich wraps a long one-line message on a narrow console."""
    return "".join(text.split())


def tree_hash(root: Path) -> str:
    """SHA-256 over every path and file content under ``root``, but the audit log (which
    records refusals too: see test_audit.py)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.name in ("audit.jsonl", "audit.head"):
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def published_state(root: Path) -> str:
    """What readers see: catalog.json and the files of every submission it lists."""
    digest = hashlib.sha256((root / CATALOG).read_bytes())
    for sub in read_catalog(root).submissions.values():
        digest.update(tree_hash(root / sub.path).encode())
    return digest.hexdigest()


def manifest_of(bundle: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((bundle / MANIFEST).read_text("utf-8"))
    return data
