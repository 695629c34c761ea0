"""Render one shared table as a site's export columns, driven only by the adapter declaration.

Column order: the local id, then each field's source column, then the dropped identifier
columns. Values come from each parser's ``render()`` (``render_columns()`` for a parser that
fills several shared columns, such as a partial date); a column that feeds several fields (a lab
value kept both verbatim and as a number) is written once, by the first, and must read back to
the truth through every other, or writing stops. On top, the habits of real exports
(two-digit years, ids whose leading zeros a spreadsheet stripped, capitalised codes) are
applied to a random share of rows, but only where the adapter's own SQL reads the varied value
back to the same result: the clean export stays clean, and a habit an adapter cannot read yet
is reported as a note instead of written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Code, Date, Locale, Parser, YearOf
from federate.synth.base import People
from federate.synth.identifiers import GENERATORS

# Share of rows that get each habit.
TWO_DIGIT_YEAR = 0.12
STRIPPED_ZEROS = 0.15
LOWER_CASE_ID = 0.1
CAPITALISED_CODE = 0.05

# A YearOf field is exported as the full date of this People attribute.
FULL_DATES = {"birth_year": "birth_date"}

SqlOf = Callable[[str], str]  # column reference -> the adapter's parsing SQL


class ReadBack:
    """Runs an adapter's parsing SQL over rendered strings, as ingest will."""

    def __init__(self) -> None:
        self._con = duckdb.connect()

    def same(self, sql_of: SqlOf, variant: pa.Array, canonical: pa.Array) -> np.ndarray:
        """Rows where the variant parses to what the canonical rendering parses to."""
        self._con.register("rendered", pa.table({"v": variant, "c": canonical}))
        try:
            query = (
                f"SELECT ({sql_of('v')}) IS NOT DISTINCT FROM ({sql_of('c')}) AS same FROM rendered"
            )
            same = self._con.execute(query).fetchnumpy()["same"]
        finally:
            self._con.unregister("rendered")
        return np.asarray(same, dtype=bool)

    def unreadable(self, exprs: Mapping[str, str], written: pa.Array, truth: pa.Table) -> list[str]:
        """Shared columns (``exprs``: column -> the adapter's SQL over ``v``) that ``written``
        does not read back to in ``truth`` on every row."""
        expected = {f"e{i}": truth.column(c) for i, c in enumerate(exprs)}
        self._con.register("rendered", pa.table({"v": written, **expected}))
        try:
            checks = ", ".join(
                f"bool_and(({sql}) IS NOT DISTINCT FROM e{i})"
                for i, sql in enumerate(exprs.values())
            )
            row = self._con.execute(f"SELECT {checks} FROM rendered").fetchall()[0]
        finally:
            self._con.unregister("rendered")
        return [c for c, ok in zip(exprs, row, strict=True) if ok is False]


@dataclass
class Rendered:
    columns: dict[str, pa.Array]  # export column -> text (null = empty), in file order
    notes: list[str] = field(default_factory=list)


@dataclass
class _Renderer:
    adapter: SiteAdapter
    tm: TableMap
    rng: np.random.Generator
    readback: ReadBack
    notes: list[str] = field(default_factory=list)

    @property
    def locale(self) -> Locale:
        return self.adapter.locale

    def vary(
        self,
        canonical: pa.Array,
        variant: pa.Array,
        share: float,
        sql_of: SqlOf,
        habit: str,
        column: str,
    ) -> pa.Array:
        want = (self.rng.random(len(canonical)) < share) & pc.is_valid(canonical).to_numpy(
            zero_copy_only=False
        )
        if not want.any():
            return canonical
        ok = want & self.readback.same(sql_of, variant, canonical)
        if lost := int(want.sum() - ok.sum()):
            self.notes.append(
                f"{self.adapter.name} {self.tm.file}: {lost} {habit} value(s) of {column} "
                "written in the canonical form: the adapter does not read them back"
            )
        return pc.if_else(pa.array(ok), variant, canonical)

    def local_ids(self, ids: pa.Array) -> pa.Array:
        spec = self.tm.subject
        assert spec is not None

        def sql_of(ref: str) -> str:
            return spec.sql(ref)

        if spec.zero_pad:  # Excel drops leading zeros (an all-zero id would become empty)
            stripped = pc.utf8_ltrim(ids, characters="0")
            variant = pc.if_else(pc.equal(stripped, ""), ids, stripped)
            ids = self.vary(ids, variant, STRIPPED_ZEROS, sql_of, "stripped-zero", spec.source)
        if spec.upper:
            ids = self.vary(
                ids, pc.utf8_lower(ids), LOWER_CASE_ID, sql_of, "lower-case", spec.source
            )
        return ids

    def date(self, parser: Date, values: pa.Array) -> pa.Array:
        canonical = parser.render(values, self.locale, self.rng)
        formats = parser.formats or self.locale.date_formats
        short = next((f for f in formats if "%y" in f), None)
        if short is None:
            return canonical
        variant = Date(parser.source, (short,), parser.century_start).render(
            values, self.locale, self.rng
        )
        return self.vary(
            canonical,
            variant,
            TWO_DIGIT_YEAR,
            lambda ref: parser.sql(ref, self.locale),
            "two-digit-year",
            str(parser.source),
        )

    def reads_back(self, name: str, parser: Parser, written: pa.Array, truth: pa.Table) -> None:
        """Stop unless ``written`` reads back to the truth through ``parser`` (the clean export
        must ingest to the truth)."""
        exprs = parser.outputs(name, "v", self.locale)
        if lost := self.readback.unreadable(exprs, written, truth):
            raise ValueError(
                f"{self.adapter.name} {self.tm.file}: column {parser.source} does not read back "
                f"to the truth's {', '.join(lost)} through the adapter"
            )

    def field(self, parser: Parser, name: str, truth: pa.Table) -> pa.Array:
        if isinstance(parser, Date):
            return self.date(parser, truth.column(name).combine_chunks())
        shared = parser.outputs(name, "v", self.locale)
        if len(shared) > 1:
            columns = {c: truth.column(c).combine_chunks() for c in shared}
            written = parser.render_columns(columns, name, self.locale, self.rng)
            self.reads_back(name, parser, written, truth)
            return written
        rendered = parser.render(truth.column(name).combine_chunks(), self.locale, self.rng)
        if isinstance(parser, Code):
            return self.vary(
                rendered,
                pc.utf8_capitalize(rendered),
                CAPITALISED_CODE,
                lambda ref: parser.sql(ref, self.locale),
                "capitalised",
                str(parser.source),
            )
        return rendered


def render_table(
    adapter: SiteAdapter,
    tm: TableMap,
    truth: pa.Table,
    people: People,
    rng: np.random.Generator,
    readback: ReadBack,
) -> Rendered:
    """``truth``: the site's rows of the shared table in file order; ``people``: one entry per
    row (the row's patient)."""
    r = _Renderer(adapter, tm, rng, readback)
    columns: dict[str, pa.Array] = {}
    if tm.subject:
        columns[tm.subject.source] = r.local_ids(pa.array(people.local_id, pa.string()))
    for name, parser in tm.fields.items():
        if not parser.source:
            continue  # a Const
        if parser.source in columns:  # written for an earlier field: must read back here too
            r.reads_back(name, parser, columns[parser.source], truth)
        elif isinstance(parser, YearOf) and name in FULL_DATES:
            full = pa.array(getattr(people, FULL_DATES[name]), pa.date32())
            columns[parser.source] = r.date(parser.date, full)
        else:
            columns[parser.source] = r.field(parser, name, truth)
    for name in tm.dropped:
        generator = GENERATORS.get(name)
        columns[name] = generator(people) if generator else pa.nulls(len(people), pa.string())
    return Rendered(columns, r.notes)
