"""The blinded area of the warehouse: every shared table without its restricted columns.

    WH/blinded/<site>/<submission_id>/<table>.parquet   written when the submission is published
    WH/blinded/<site>/<submission_id>/index.json        SHA-256 of each file (its own hash is in
                                                        the catalog)

Restricted columns (sequence, product, dose and the cell product) reveal allocation. They are
not hidden behind a view: the blinded role's connection is built only from these files, which
never held them, so no query of that role can reach them (and SQL cannot open a file).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.bundle.manifest import sha256_file, table_path
from federate.errors import IntegrityError, Location
from federate.schema import Schema, Table
from federate.sqltext import sql_ident
from federate.warehouse.catalog import BLINDED, Catalog, read_catalog
from federate.warehouse.fs import fsync_dir, fsync_file

__all__ = [
    "BLINDED",
    "INDEX",
    "blinded_differences",
    "blinded_schema",
    "current_blinded_files",
    "write_blinded",
]

INDEX = "index.json"


def blinded_schema(schema: Schema, table: Table) -> pa.Schema:
    full = schema.arrow_schema(table)
    keep = [f for f in full if not table.column(f.name).restricted]
    return pa.schema(keep, metadata=full.metadata)


def write_blinded(bundle: Path, dest: Path, tables: list[str]) -> str:
    """Project each table of the (verified) ``bundle`` into ``dest``, batch by batch; return
    the SHA-256 of the index. Files are fsync'd before the caller renames ``dest`` into place."""
    schema = registry.schema()
    dest.mkdir(parents=True)
    index: dict[str, str] = {}
    for name in tables:
        target = blinded_schema(schema, schema.table(name))
        source = pq.ParquetFile(table_path(bundle, name))
        out = dest / f"{name}.parquet"
        with pq.ParquetWriter(out, target, compression="zstd") as writer:
            for batch in source.iter_batches(columns=target.names):
                writer.write_batch(batch.cast(target))
        index[name] = sha256_file(out)
    (dest / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", "utf-8")
    for path in dest.iterdir():
        fsync_file(path)
    fsync_dir(dest)
    return sha256_file(dest / INDEX)


def blinded_files(folder: Path, index_sha256: str, relpath: str) -> dict[str, Path]:
    """The files of one submission's blinded copy, after checking its index against the
    catalog (``verify_blinded`` checks every file against the index)."""
    index_path = folder / INDEX
    if not index_sha256:
        raise IntegrityError(
            f"{relpath} has no blinded copy (published by an older federate): add it again",
            code="no-blinded-copy",
        )
    if not index_path.is_file() or sha256_file(index_path) != index_sha256:
        raise IntegrityError(
            "a blinded copy changed or vanished since it was published",
            code="warehouse-tampered",
            where=Location(file=f"{relpath}/{INDEX}"),
        )
    index: dict[str, str] = json.loads(index_path.read_text("utf-8"))
    return {name: folder / f"{name}.parquet" for name in index}


def verify_blinded(folder: Path, index_sha256: str, relpath: str) -> None:
    """Every file against the index, and no restricted column in any of them."""
    schema = registry.schema()
    files = blinded_files(folder, index_sha256, relpath)
    index: dict[str, str] = json.loads((folder / INDEX).read_text("utf-8"))
    for name, path in files.items():
        where = Location(file=f"{relpath}/{name}.parquet")
        if not path.is_file() or sha256_file(path) != index[name]:
            raise IntegrityError(
                "a blinded file changed since it was published",
                code="warehouse-tampered",
                where=where,
            )
        restricted = set(schema.table(name).restricted_columns)
        if restricted & set(pq.read_schema(path).names):
            raise IntegrityError(
                "a blinded file holds restricted columns", code="blinding-broken", where=where
            )


def blinded_differences(
    submission: Path, folder: Path, tables: list[str], relpath: str
) -> list[str]:
    """Recompute the blinded copy from the (verified, signed) ``submission`` and compare it,
    value by value and row by row, with the one in ``folder``: each difference as one line
    naming the file. Values, not bytes: another pyarrow may write the same table differently."""
    schema = registry.schema()
    index: dict[str, str] = json.loads((folder / INDEX).read_text("utf-8"))
    problems = []
    if sorted(index) != sorted(tables):
        problems.append(
            f"{relpath}/{INDEX} lists tables {sorted(index)}; the submission has {sorted(tables)}"
        )
    with duckdb.connect(":memory:") as con:
        for name in sorted(set(index) & set(tables)):
            target = blinded_schema(schema, schema.table(name))
            shown = f"{relpath}/{name}.parquet"
            source, copy = table_path(submission, name), folder / f"{name}.parquet"
            try:
                found = pq.read_schema(copy)
            except (OSError, pa.ArrowException) as exc:
                problems.append(f"{shown} cannot be read: {exc}")
                continue
            if [(f.name, f.type) for f in found] != [(f.name, f.type) for f in target]:
                problems.append(f"{shown} does not have the blinded columns of table {name}")
                continue
            try:
                problems += _value_differences(con, source, copy, target.names, shown)
            except duckdb.Error as exc:
                problems.append(f"{shown} cannot be compared with its recomputation: {exc}")
    return problems


def _value_differences(
    con: duckdb.DuckDBPyConnection, source: Path, copy: Path, columns: list[str], shown: str
) -> list[str]:
    """Row by row (the copy keeps the source's order): rows and values that differ."""
    counts = con.execute(
        "SELECT (SELECT count(*) FROM read_parquet($a)), (SELECT count(*) FROM read_parquet($b))",
        {"a": str(source), "b": str(copy)},
    ).fetchall()[0]
    if counts[0] != counts[1]:
        return [f"{shown} has {counts[1]} rows; recomputed from the signed submission: {counts[0]}"]
    tests = ", ".join(
        f"count(*) FILTER (WHERE a.{sql_ident(c)} IS DISTINCT FROM b.{sql_ident(c)})"
        for c in columns
    )
    differing = con.execute(
        f"SELECT {tests} FROM (SELECT {', '.join(map(sql_ident, columns))} FROM "
        "read_parquet($a)) AS a POSITIONAL JOIN read_parquet($b) AS b",
        {"a": str(source), "b": str(copy)},
    ).fetchall()[0]
    changed = [
        f"{c} ({n} of {counts[0]} rows)" for c, n in zip(columns, differing, strict=True) if n
    ]
    if not changed:
        return []
    return [
        f"{shown} differs from the blinded copy recomputed from the signed submission, in "
        f"column(s) {', '.join(changed)}"
    ]


def current_blinded_files(warehouse: Path, catalog: Catalog | None = None) -> dict[str, list[Path]]:
    """Per shared table, the blinded files of every site's current submission."""
    catalog = catalog or read_catalog(warehouse)
    files: dict[str, list[Path]] = {t.name: [] for t in registry.schema()}
    for sub in catalog.current_submissions():
        found = blinded_files(warehouse / sub.blinded_path, sub.blinded_sha256, sub.blinded_path)
        for table, path in found.items():
            if not path.is_file():
                raise IntegrityError(
                    f"submission {sub.submission_id} lost a blinded file",
                    code="warehouse-tampered",
                    where=Location(file=f"{sub.blinded_path}/{path.name}"),
                )
            files[table].append(path)
    return files
