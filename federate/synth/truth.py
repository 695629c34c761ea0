"""The truth: simulated tables in exactly the shared Arrow schema, as a bundle would hold them.

For a site with a registered adapter the truth is what ingesting its clean export must give:
``subject_id`` is the pseudonym of the normalised local id under the site's (deterministic) key,
``source_file``/``source_row`` point at the row in the export (header = record 1), values are
quantised as the export writes them (``Decimal.places``), a ``Const`` field holds the constant,
and a shared column the adapter does not map is empty. Other sites get ``<table>.csv``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapter import Const, Decimal, SiteAdapter, TableMap, Text
from federate.pseudonym import Pseudonymiser, SiteKey
from federate.schema import Schema, Table
from federate.synth.trial import PATIENT, SiteTrial

SUBMISSION_ID = "truth"


def key_secret(seed: int, site: str) -> bytes:
    """A site's 32-byte pseudonymisation key, derived from the seed so truth is reproducible."""
    return hashlib.sha256(f"federate-synth-key\x00{seed}\x00{site}".encode()).digest()


def write_key(path: Path, secret: bytes) -> SiteKey:
    """Written as ``write_new_key`` does: hex, owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return SiteKey(secret, path)


@dataclass(frozen=True)
class SiteTruth:
    tables: dict[str, pa.Table]  # shared table -> rows in the shared Arrow schema
    patients: dict[str, np.ndarray]  # shared table -> patient index of each row


def source_file(adapter: SiteAdapter | None, table: str) -> str:
    if adapter is not None:
        for tm in adapter.tables:
            if tm.table == table:
                return tm.file
    return f"{table}.csv"


def _conform(values: pa.Array, name: str, tm: TableMap | None, dtype: pa.DataType) -> pa.Array:
    """What ingesting the site's export yields for this column."""
    if tm is None:
        return values
    parser = tm.fields.get(name)
    if parser is None:
        return pa.nulls(len(values), dtype)
    if isinstance(parser, Const):
        return pa.array([parser.value] * len(values), dtype)
    if isinstance(parser, Decimal):
        return pc.round(values, parser.places)
    if isinstance(parser, Text) and parser.upper:
        return pc.utf8_upper(values)
    return values


def _empty(table: Table) -> pa.Table:
    fields = [pa.field(c.name, c.dtype.arrow) for c in table.own_columns]
    return pa.table(
        {PATIENT: pa.array([], pa.int64()), **{f.name: pa.array([], f.type) for f in fields}}
    )


def site_truth(
    schema: Schema, trial: SiteTrial, adapter: SiteAdapter | None, key: SiteKey, country: str
) -> SiteTruth:
    pseudonymise = Pseudonymiser(key, country)
    tables: dict[str, pa.Table] = {}
    patients: dict[str, np.ndarray] = {}
    for table in schema:
        own = trial.tables.get(table.name, _empty(table))
        tm = next((t for t in adapter.tables if t.table == table.name), None) if adapter else None
        patient = own.column(PATIENT).to_numpy()
        n = own.num_rows
        arrays: dict[str, pa.Array] = {
            "site": pa.repeat(pa.scalar(trial.site.name, pa.string()), n),
            "subject_id": pseudonymise(pa.array(trial.people.local_id[patient], pa.string())),
            "submission_id": pa.repeat(pa.scalar(SUBMISSION_ID, pa.string()), n),
            "source_file": pa.repeat(pa.scalar(source_file(adapter, table.name), pa.string()), n),
            "source_row": pa.array(np.arange(2, n + 2), pa.int64()),
        }
        for col in table.own_columns:
            values = (
                own.column(col.name).combine_chunks()
                if col.name in own.column_names
                else pa.nulls(n, col.dtype.arrow)
            )
            arrays[col.name] = _conform(
                pc.cast(values, col.dtype.arrow), col.name, tm, col.dtype.arrow
            )
        arrow = schema.arrow_schema(table)
        tables[table.name] = pa.Table.from_arrays([arrays[f.name] for f in arrow], schema=arrow)
        patients[table.name] = patient
    return SiteTruth(tables, patients)
