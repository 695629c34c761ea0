"""The declaration language of the shared schema.

One declaration (``Table`` and ``Column``) yields the Arrow schema written to Parquet, the pandera
schemas that validate it (hard rules quarantine, soft rules warn) and the data dictionary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from federate.sqltext import sql_literal, sql_str

if TYPE_CHECKING:
    import pandera.polars as pa_pl


class DType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    BOOL = "bool"

    @property
    def arrow(self) -> pa.DataType:
        return _ARROW[self]

    @property
    def polars(self) -> Any:
        import polars as pl  # only when validating with pandera: ~0.1 s to import

        return getattr(pl, _POLARS[self])


_ARROW = {
    DType.STRING: pa.string(),
    DType.INT: pa.int64(),
    DType.FLOAT: pa.float64(),
    DType.DATE: pa.date32(),
    DType.BOOL: pa.bool_(),
}
_POLARS = {
    DType.STRING: "Utf8",
    DType.INT: "Int64",
    DType.FLOAT: "Float64",
    DType.DATE: "Date",
    DType.BOOL: "Boolean",
}

Scalar = str | int | float | bool | dt.date
RULE_SEP = "|"


@dataclass(frozen=True)
class Column:
    """One column of a shared table, with every rule a value must obey."""

    name: str
    dtype: DType
    description: str
    required: bool = True
    unit: str | None = None
    codes: tuple[Scalar, ...] | None = None  # closed code list (hard)
    min: Scalar | None = None  # impossible below (hard)
    max: Scalar | None = None  # impossible above (hard)
    warn_min: Scalar | None = None  # implausible or ineligible below (soft: a warning)
    warn_max: Scalar | None = None
    pattern: str | None = None  # full-match regex for strings (hard)
    restricted: bool = False  # reveals allocation: never shown to a blinded user
    free_text: bool = False  # scanned for phone numbers too, not only national ids
    code_labels: dict[str, str] = field(default_factory=dict)

    def hard_rules(self) -> list[tuple[str, str, pa_pl.Check]]:
        """(reason code, human rule, pandera check) for every hard rule but nullability."""
        import pandera.polars as pa_pl  # imported when a row needs pandera (~0.4 s)

        rules = []
        if self.codes is not None:
            listed = "one of " + ", ".join(str(c) for c in self.codes)
            rules.append(self._rule("not-in-code-list", listed, pa_pl.Check.isin, self.codes))
        if self.min is not None:
            rules.append(self._rule("out-of-range", f">= {self.min}", pa_pl.Check.ge, self.min))
        if self.max is not None:
            rules.append(self._rule("out-of-range", f"<= {self.max}", pa_pl.Check.le, self.max))
        if self.pattern is not None:
            # pandera's str_matches anchors only the start: anchor the end too (a full match).
            full = f"^(?:{self.pattern})$"
            rules.append(
                self._rule("bad-format", f"matches {self.pattern}", pa_pl.Check.str_matches, full)
            )
        return rules

    def soft_rules(self) -> list[tuple[str, str, pa_pl.Check]]:
        import pandera.polars as pa_pl

        rules = []
        if self.warn_min is not None:
            rules.append(
                self._rule("implausible", f">= {self.warn_min}", pa_pl.Check.ge, self.warn_min)
            )
        if self.warn_max is not None:
            rules.append(
                self._rule("implausible", f"<= {self.warn_max}", pa_pl.Check.le, self.warn_max)
            )
        return rules

    def _rule(
        self, reason: str, text: str, make: Callable[..., pa_pl.Check], arg: object
    ) -> tuple[str, str, pa_pl.Check]:
        # The error string carries our reason code and rule back out of pandera's failure_cases.
        return reason, text, make(arg, error=f"{reason}{RULE_SEP}{self.name} {text}")

    def violation_sql(self, ref: str, *, soft: bool = False) -> str | None:
        """A DuckDB predicate true when ``ref`` breaks a hard rule (soft: a soft rule) of this
        column, nullability included; the SQL twin of ``hard_rules``/``soft_rules``, which a
        test holds equal. The streaming pass uses it to find the rows that need pandera."""
        tests = []
        if soft:
            if self.warn_min is not None:
                tests.append(f"{ref} < {sql_literal(self.warn_min)}")
            if self.warn_max is not None:
                tests.append(f"{ref} > {sql_literal(self.warn_max)}")
        else:
            if self.codes is not None:
                listed = ", ".join(sql_literal(c) for c in self.codes)
                tests.append(f"{ref} NOT IN ({listed})")
            if self.min is not None:
                tests.append(f"{ref} < {sql_literal(self.min)}")
            if self.max is not None:
                tests.append(f"{ref} > {sql_literal(self.max)}")
            if self.pattern is not None:
                tests.append(f"NOT regexp_full_match({ref}, {sql_str(self.pattern)})")
        # A missing value breaks no value rule (pandera skips nulls), only nullability.
        broken = [f"coalesce({t}, false)" for t in tests]
        if self.required and not soft:
            broken.insert(0, f"{ref} IS NULL")
        return " OR ".join(broken) or None

    def rule_text(self) -> str:
        """Every rule in one line, for the data dictionary."""
        parts = ["required" if self.required else "optional"]
        parts += [text for _, text, _ in self.hard_rules()]
        parts += [f"warn unless {text}" for _, text, _ in self.soft_rules()]
        return "; ".join(parts)


PRECISIONS = ("day", "month", "year")


def partial_date(
    name: str, description: str, *, required: bool = True, min: dt.date | None = None
) -> tuple[Column, Column, Column]:
    """A date that may be known only to the month or year ("March 2014", "2014"): stored one way
    everywhere, as its lower bound, its precision and the value exactly as exported."""
    return (
        Column(
            name,
            DType.DATE,
            f"{description} The first day it can be when only the month or year is known.",
            required=required,
            min=min,
        ),
        Column(
            f"{name}_precision",
            DType.STRING,
            f"How much of {name} is known: day, month or year.",
            required=required,
            codes=PRECISIONS,
        ),
        Column(f"{name}_raw", DType.STRING, f"{name} exactly as exported.", required=required),
    )


def _provenance() -> tuple[Column, ...]:
    return (
        Column("submission_id", DType.STRING, "Submission that delivered the row."),
        Column(
            "source_file", DType.STRING, "File in the site's export, relative to the export folder."
        ),
        Column(
            "source_row",
            DType.INT,
            "Record number in that file (the header is record 1).",
            min=1,
        ),
    )


SITE = Column("site", DType.STRING, "Registered site name, e.g. italy.", pattern=r"[a-z][a-z_]*")
SUBJECT_ID = Column(
    "subject_id",
    DType.STRING,
    "Pseudonym: site prefix and base32 HMAC-SHA256 of the site's normalised local id.",
    pattern=r"[a-z]{2}-[a-z2-7]{26}",
)
PROVENANCE = ("site", "submission_id", "source_file", "source_row")


@dataclass(frozen=True)
class Derived:
    """A column computed from other shared columns of the same row (a DuckDB expression).

    Declared in the schema, not in adapters, so every site derives it the same way; when every
    input is present but the expression gives NULL, the row is quarantined with ``reason``."""

    sql: str
    inputs: tuple[str, ...]
    reason: str
    rule: str


@dataclass(frozen=True)
class Table:
    """A shared table: its own columns (declared) framed by site and provenance columns."""

    name: str
    description: str
    own_columns: tuple[Column, ...]
    key: tuple[str, ...]
    per_subject: bool = True
    derived: Mapping[str, Derived] = field(default_factory=dict)
    # An assessment table names its date column: the visit is assigned from it by window
    # when the site's export does not say which visit it was.
    visit_date: str | None = None
    # Key values whose distributions the data-quality reports draw, so an implausible value or
    # a site on another scale stands out; a long table names the column that says what each
    # row measures (one distribution per analyte, not one of every analyte mixed).
    profile: tuple[str, ...] = ()
    profile_by: str | None = None

    @property
    def columns(self) -> tuple[Column, ...]:
        subject = (SUBJECT_ID,) if self.per_subject else ()
        return (SITE, *subject, *self.own_columns, *_provenance())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def restricted_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.restricted]


@dataclass(frozen=True)
class Schema:
    name: str
    version: str
    tables: tuple[Table, ...]
    # Days from W0 per visit, for assessments whose export does not name the visit.
    visit_windows: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise KeyError(f"unknown table {name!r} (known: {known})")

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)

    def metadata(self, table: Table) -> dict[bytes, bytes]:
        return {
            b"federate.schema": self.name.encode(),
            b"federate.schema_version": self.version.encode(),
            b"federate.table": table.name.encode(),
        }

    def arrow_schema(self, table: Table) -> pa.Schema:
        fields = [pa.field(c.name, c.dtype.arrow, nullable=not c.required) for c in table.columns]
        return pa.schema(fields, metadata=self.metadata(table))

    def pandera_schema(self, table: Table, *, soft: bool = False) -> pa_pl.DataFrameSchema:
        """Hard rules (soft=False) decide quarantine; soft rules only warn."""
        import pandera.polars as pa_pl

        columns = {}
        for col in table.columns:
            rules = col.soft_rules() if soft else col.hard_rules()
            checks = [check for _, _, check in rules]
            columns[col.name] = pa_pl.Column(
                col.dtype.polars,
                checks=checks,
                nullable=soft or not col.required,
                required=True,
            )
        return pa_pl.DataFrameSchema(columns, strict=True, ordered=True, name=table.name)

    def dictionary(self) -> list[dict[str, str]]:
        """The data dictionary, one row per column, derived from the declaration."""
        rows = []
        for table in self.tables:
            for col in table.columns:
                rows.append(
                    {
                        "table": table.name,
                        "column": col.name,
                        "type": col.dtype.value,
                        "unit": col.unit or "",
                        "rules": col.rule_text(),
                        "restricted": "yes" if col.restricted else "",
                        "description": col.description,
                    }
                )
        return rows


def rule_reason(check: str, column: str) -> tuple[str, str]:
    """Our stable reason code and readable rule for a pandera failure_cases ``check`` entry."""
    if RULE_SEP in check:
        reason, rule = check.split(RULE_SEP, 1)
        return reason, rule
    if check == "not_nullable":
        return "required-missing", f"{column} is required"
    if check.startswith("dtype"):
        return "wrong-type", f"{column}: {check}"
    return "failed-check", f"{column}: {check}"
