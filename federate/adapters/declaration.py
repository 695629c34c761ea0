"""The declaration of a site adapter: where each shared table comes from in the
site's export (``TableMap``), the local patient id, rows kept or pivoted, files
skipped, and the ``SiteAdapter`` that holds them with its reader and locale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from federate.adapters.parsers import Locale, Parser, _blank_to_null
from federate.sqltext import sql_str

if TYPE_CHECKING:
    from federate.readers.base import Reader


@dataclass(frozen=True)
class LocalId:
    """How a site's local patient id is normalised before it is pseudonymised."""

    source: str
    zero_pad: int | None = None  # restore leading zeros that spreadsheets strip
    upper: bool = True

    def sql(self, ref: str) -> str:
        v = _blank_to_null(ref)
        if self.upper:
            v = f"upper({v})"
        if self.zero_pad:
            v = (
                # lpad also truncates a longer id: pad only what is shorter.
                f"CASE WHEN regexp_full_match({v}, '[0-9]+') AND length({v}) < {self.zero_pad} "
                f"THEN lpad({v}, {self.zero_pad}, '0') ELSE {v} END"
            )
        return v


@dataclass(frozen=True)
class Keep:
    """Only rows whose ``column`` holds one of ``values`` belong to this table; the others are
    counted as skipped with ``reason`` (e.g. another REDCap form, a lab test the schema lacks).
    An empty string in ``values`` stands for a blank cell."""

    column: str
    values: tuple[str, ...]
    reason: str

    def sql(self, ref: str) -> str:
        # Codes match ignoring case, as the spec says of every code (``Code`` does the same).
        listed = ", ".join(sql_str(v.upper()) for v in self.values)
        return f"upper(coalesce(trim(CAST({ref} AS VARCHAR)), '')) IN ({listed})"


@dataclass(frozen=True)
class Pivot:
    """Long findings (one row per test, as in SDTM) to one row per ``by`` group: the value of
    each test in ``tests`` becomes a column named after the test code. The group's first record
    stands for it; the others are counted as skipped (``merged-into-record``)."""

    by: tuple[str, ...]
    name: str  # the column holding the test code, e.g. QSTESTCD
    value: str  # the column holding the result, e.g. QSSTRESC
    tests: tuple[str, ...]
    carry: tuple[str, ...] = ()  # other columns, constant within a group


@dataclass(frozen=True)
class TableMap:
    """Where one shared table comes from in the site's export."""

    table: str
    file: str
    fields: Mapping[str, Parser]
    subject: LocalId | None = None
    dropped: tuple[str, ...] = ()  # identifying columns the export carries: read, never written
    note: str = ""
    part: str | None = None  # a part of the file for its reader: a sheet, a form, a group
    keep: Keep | None = None
    pivot: Pivot | None = None
    optional: bool = False  # the export may lack the file (e.g. EDSS in QS or in RS)
    # Columns the file may lack (e.g. a SUPP-- qualifier some studies never collect): read as
    # empty, so a required shared column then quarantines its rows rather than the whole run.
    optional_columns: tuple[str, ...] = ()

    def input_columns(self) -> list[str]:
        """Columns the file must have (before any pivot)."""
        if self.pivot is None:
            cols = self.source_columns()
        else:
            p = self.pivot
            cols = [*p.by, p.name, p.value, *p.carry]
        if self.keep:
            cols.append(self.keep.column)
        return list(dict.fromkeys(cols))

    def source_columns(self) -> list[str]:
        """Columns the parsers read (after any pivot)."""
        cols = [self.subject.source] if self.subject else []
        cols += [p.source for p in self.fields.values() if p.source]
        return list(dict.fromkeys(cols))


@dataclass(frozen=True)
class SkipFiles:
    """Files the export carries that the shared schema has no place for: read and counted, every
    row skipped with ``reason``, so the accounting still covers them. A file that holds no rows
    at all (a Define-XML, its stylesheet: metadata beside the data) is declared ``read=False``:
    never opened, listed with its size and SHA-256 as skipped whole with ``reason``."""

    pattern: str  # a glob, matched case-insensitively against file names
    reason: str
    reader: Reader | None = None  # how to count its rows (default: the adapter's reader)
    read: bool = True  # False: not data, never opened (skipped whole, with ``reason``)


@dataclass(frozen=True)
class Spreadsheet:
    """How the site's spreadsheet program opens a CSV file, for the quarantine written back to
    the coordinator: a comma-decimal locale's Excel splits on ";", and reads UTF-8 as UTF-8
    only after a byte-order mark."""

    delimiter: str = ","
    bom: bool = False


@dataclass(frozen=True)
class SiteAdapter:
    """A country's export, declared: its reader, its locale, and a map per shared table."""

    name: str
    country: str  # ISO 3166 alpha-2, lower case; prefixes the pseudonyms
    version: str
    title: str
    reader: Reader
    locale: Locale
    tables: tuple[TableMap, ...]
    format: str = "csv"
    notes: tuple[str, ...] = field(default_factory=tuple)
    skip: tuple[SkipFiles, ...] = ()
    spreadsheet: Spreadsheet = Spreadsheet()

    def table_map(self, table: str) -> TableMap:
        """The (first) map of a shared table."""
        for tm in self.tables:
            if tm.table == table:
                return tm
        raise KeyError(f"site {self.name} has no map for table {table!r}")
