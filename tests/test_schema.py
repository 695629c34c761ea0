"""One declaration, three derivations: Arrow schema, pandera schemas and the data dictionary
agree, and every declared rule rejects a value that breaks it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandera.errors
import polars as pl
import pyarrow as pa
import pytest

from federate.adapters import registry
from federate.schema import DType, Table

SCHEMA = registry.schema()
TABLES = [t.name for t in SCHEMA]


def valid_value(table: Table, name: str) -> Any:
    col = table.column(name)
    if col.codes:
        return col.codes[0]
    if col.pattern:
        return {
            "site": "italy",
            "subject_id": "it-" + "a" * 26,
            "centre": "IT-GEN",
            "meddra_pt_code": "10019211",
            "meddra_version": "16.1",
            "atc_code": "L04AA23",
            "atc_code_current": "L04AG03",
            "atc_version": "2019",
        }[name]
    samples: dict[DType, Any] = {
        DType.STRING: "x",
        DType.INT: 1,
        DType.FLOAT: 1.0,
        DType.DATE: dt.date(2015, 6, 1),
        DType.BOOL: True,
    }
    value = col.min if col.min is not None else samples[col.dtype]
    return value


def one_row(table: Table, **override: Any) -> pl.DataFrame:
    row = {name: valid_value(table, name) for name in table.names}
    row.update(override)
    arrow = pa.Table.from_pylist([row], schema=SCHEMA.arrow_schema(table))
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.mark.parametrize("name", TABLES)
def test_derivations_agree(name: str) -> None:
    table = SCHEMA.table(name)
    arrow = SCHEMA.arrow_schema(table)
    hard = SCHEMA.pandera_schema(table)
    dictionary = [r for r in SCHEMA.dictionary() if r["table"] == name]
    assert arrow.names == list(hard.columns) == [r["column"] for r in dictionary] == table.names
    for field, col in zip(arrow, table.columns, strict=True):
        assert field.type == col.dtype.arrow
        assert field.nullable == (not col.required)
        assert hard.columns[col.name].nullable == (not col.required)
        assert str(hard.columns[col.name].dtype) == str(
            pl.from_arrow(pa.array([], field.type)).dtype
        )
    for row in dictionary:
        assert row["type"] == table.column(row["column"]).dtype.value
    assert table.names[0] == "site"
    assert table.names[-3:] == ["submission_id", "source_file", "source_row"]
    meta = arrow.metadata
    assert meta[b"federate.schema_version"] == SCHEMA.version.encode()
    assert meta[b"federate.table"] == name.encode()


@pytest.mark.parametrize("name", TABLES)
def test_valid_row_passes(name: str) -> None:
    table = SCHEMA.table(name)
    SCHEMA.pandera_schema(table).validate(one_row(table))


def breaking_values(table: Table) -> list[tuple[str, Any, str]]:
    """(column, value that breaks one declared rule, expected reason) for every rule."""
    cases: list[tuple[str, Any, str]] = []
    for col in table.columns:
        if col.required:
            cases.append((col.name, None, "required-missing"))
        if col.codes is not None:
            bad = {DType.STRING: "NOT-A-CODE", DType.INT: 999, DType.FLOAT: 999.5}[col.dtype]
            cases.append((col.name, bad, "not-in-code-list"))
        if col.pattern is not None:
            cases.append((col.name, "Not Matching!", "bad-format"))
        for bound, step in ((col.min, -1), (col.max, 1)):
            if bound is None:
                continue
            if isinstance(bound, dt.date):
                value: Any = bound + dt.timedelta(days=step)
            else:
                value = bound + step
            cases.append((col.name, value, "out-of-range"))
    return cases


@pytest.mark.parametrize(
    ("name", "column", "value", "reason"),
    [(t.name, *case) for t in SCHEMA for case in breaking_values(t)],
)
def test_every_rule_rejects_a_breaking_value(
    name: str, column: str, value: Any, reason: str
) -> None:
    table = SCHEMA.table(name)
    frame = (
        one_row(table, **{column: value})
        if value is not None
        else one_row(table).with_columns(
            pl.lit(None)
            .cast(pl.from_arrow(pa.array([], table.column(column).dtype.arrow)).dtype)
            .alias(column)
        )
    )
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        SCHEMA.pandera_schema(table).validate(frame, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases.get_column("column").to_list()) == {column}
    checks = cases.get_column("check").to_list()
    if reason == "required-missing":
        assert checks == ["not_nullable"]
    else:
        assert all(c.startswith(reason + "|") for c in checks), checks


@pytest.mark.parametrize("name", TABLES)
def test_soft_rules_only_warn(name: str) -> None:
    table = SCHEMA.table(name)
    soft = SCHEMA.pandera_schema(table, soft=True)
    for col in table.columns:
        for bound, step in ((col.warn_min, -1), (col.warn_max, 1)):
            if bound is None:
                continue
            assert not isinstance(bound, str | bool | dt.date)
            frame = one_row(table, **{col.name: bound + step})
            SCHEMA.pandera_schema(table).validate(frame)  # hard rules accept it
            with pytest.raises(pandera.errors.SchemaErrors):
                soft.validate(frame, lazy=True)


def test_restricted_columns_are_the_allocation() -> None:
    restricted = {(t.name, c) for t in SCHEMA for c in t.restricted_columns}
    assert ("randomisation", "sequence") in restricted
    assert ("infusions", "product") in restricted
    assert ("infusions", "dose_million_cells_per_kg") in restricted
    assert all(t in ("randomisation", "infusions") for t, _ in restricted)


def _probes(table: Table, name: str) -> list[Any]:
    """Values on both sides of every rule of one column, and a missing one."""
    col = table.column(name)
    values: list[Any] = [None, valid_value(table, name)]
    step = {DType.INT: 1, DType.FLOAT: 0.001, DType.DATE: dt.timedelta(days=1)}
    for bound in (col.min, col.max, col.warn_min, col.warn_max):
        if bound is not None and col.dtype in step:
            values += [bound - step[col.dtype], bound, bound + step[col.dtype]]  # type: ignore[operator]
    if col.codes:
        values += list(col.codes)
        values.append({DType.STRING: "NOT-A-CODE", DType.INT: 99}.get(col.dtype))
    if col.pattern:
        good = valid_value(table, name)
        values += [good + "X", "X" + good, "", " " + good]
        # Digits of other scripts: polars' \d takes them, DuckDB's does not (patterns say [0-9]).
        for digits in ("０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩"):
            values.append(good.translate(str.maketrans("0123456789", digits)))
    return values


@pytest.mark.parametrize("name", TABLES)
def test_sql_predicates_agree_with_pandera(name: str) -> None:
    """The streaming pass trusts the SQL twin of every rule to pick the rows pandera must see:
    on values either side of every bound, code and pattern, both say the same."""
    import duckdb

    table = SCHEMA.table(name)
    con = duckdb.connect()
    for col in table.columns:
        for soft in (False, True):
            predicate = col.violation_sql("v", soft=soft)
            schema = SCHEMA.pandera_schema(table, soft=soft)
            for value in _probes(table, col.name):
                frame = one_row(table).with_columns(
                    pl.Series(col.name, [value], dtype=col.dtype.polars)
                )
                try:
                    schema.validate(frame, lazy=True)
                    pandera_says = False
                except pandera.errors.SchemaErrors as exc:  # other columns' soft rules aside
                    failed = exc.failure_cases.get_column("column").to_list()
                    pandera_says = col.name in failed
                arrow = pa.table({"v": pa.array([value], col.dtype.arrow)})
                con.register("probe", arrow)
                sql_says = bool(
                    predicate and con.execute(f"SELECT {predicate} FROM probe").fetchall()[0][0]
                )
                assert sql_says == pandera_says, (name, col.name, soft, value, predicate)
