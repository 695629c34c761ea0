"""The truth: simulated tables in exactly the shared Arrow schema, as a bundle would hold them.

For a site with a registered adapter the truth is what ingesting its clean export must give:
``subject_id`` is the pseudonym of the normalised local id under the site's (deterministic) key,
``source_file``/``source_row`` point at the row in the export (header = record 1), values are
quantised as the export writes them (``Decimal.places``), a ``Const`` field holds the constant,
a partial date's ``NAME_raw`` is the text its parser's inverse writes, and a shared column the
adapter does not map is empty, unless the engine fills it: a visit assigned by window, and the
schema's derived columns (computed here as the engine computes them). Other sites get
``<table>.csv`` and their partial dates in their own notation (``practice``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Const, Decimal, Locale, Text
from federate.privacy.pseudonym import Pseudonymiser, SiteKey
from federate.schema import Schema, Table
from federate.synth import partial
from federate.synth.base import PATIENT, SiteTrial
from federate.synth.derived import DERIVED
from federate.synth.practice import Practice, practice

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


def _kept(table: Table, tm: TableMap | None, locale: Locale | None) -> set[str]:
    """Columns whose simulated value ingest reproduces though no field of their own names them:
    the extra outputs of multi-column parsers, and a visit the engine assigns by window."""
    if tm is None or locale is None:
        return set()
    kept = {
        out
        for name, parser in tm.fields.items()
        for out in list(parser.outputs(name, "v", locale))[1:]
    }
    if table.visit_date and "visit_code" not in tm.fields:
        kept.add("visit_code")
    return kept


def _raw_dates(
    arrays: dict[str, pa.Array],
    table: Table,
    tm: TableMap | None,
    locale: Locale | None,
    local: Practice,
) -> None:
    """Each partial date's NAME_raw: the text the export writes for it."""
    names = set(table.names)
    for col in table.own_columns:
        raw, precision = f"{col.name}_raw", f"{col.name}_precision"
        if raw not in names or precision not in names:
            continue
        if tm is None or locale is None:
            arrays[raw] = partial.render(arrays[col.name], arrays[precision], local.partial_formats)
        elif (parser := tm.fields.get(col.name)) is not None:
            # PartialDate's inverse draws nothing: any generator gives the same text.
            rng = np.random.default_rng(0)
            arrays[raw] = parser.render_columns(arrays, col.name, locale, rng)


def _empty(table: Table) -> pa.Table:
    fields = [pa.field(c.name, c.dtype.arrow) for c in table.own_columns]
    return pa.table(
        {PATIENT: pa.array([], pa.int64()), **{f.name: pa.array([], f.type) for f in fields}}
    )


def site_truth(
    schema: Schema, trial: SiteTrial, adapter: SiteAdapter | None, key: SiteKey, country: str
) -> SiteTruth:
    pseudonymise = Pseudonymiser(key, country)
    local = practice(trial.site.name)
    locale = adapter.locale if adapter else None
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
        kept = _kept(table, tm, locale)
        for col in table.own_columns:
            values = (
                own.column(col.name).combine_chunks()
                if col.name in own.column_names
                else pa.nulls(n, col.dtype.arrow)
            )
            values = pc.cast(values, col.dtype.arrow)
            arrays[col.name] = (
                values if col.name in kept else _conform(values, col.name, tm, col.dtype.arrow)
            )
        _raw_dates(arrays, table, tm, locale, local)
        for name in table.derived:
            derive = DERIVED.get((table.name, name))
            if derive is None:
                raise NotImplementedError(f"the simulator cannot derive {table.name}.{name} yet")
            arrays[name] = pc.cast(derive(arrays), table.column(name).dtype.arrow)
        arrow = schema.arrow_schema(table)
        tables[table.name] = pa.Table.from_arrays([arrays[f.name] for f in arrow], schema=arrow)
        patients[table.name] = patient
    return SiteTruth(tables, patients)
