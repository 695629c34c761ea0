"""The bare DuckDB baseline for a CSV site's export.

    python benchmarks/bare_duckdb.py plan italy EXPORT_DIR OUT_DIR STATEMENTS.json
    python benchmarks/bare_duckdb.py run STATEMENTS.json     # the timed child

One ``COPY (SELECT ... FROM read_csv(...)) TO 'table.parquet'`` per form: every column the
adapter maps, cast to the shared schema's type with the same date formats and decimal mark,
zstd-compressed, DuckDB's default thread count (as ``federate ingest`` uses) - and nothing
else: no code lists, no pseudonyms, no validation, no quarantine, no whole-submission rules,
no identifier scan, no manifest. It is the floor a conversion of these files cannot beat.

The statements are planned once, outside the timing, from the adapter's declaration; the timed
child imports DuckDB and nothing else (importing federate's registry would charge the baseline
with pandera's and polars' start-up, ~0.9 s, which a bare conversion does not pay).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from federate.adapters.declaration import SiteAdapter, TableMap
    from federate.adapters.parsers import Locale, Parser
    from federate.schema import DType

_SHAPES = {"%d": r"\d{1,2}", "%m": r"\d{1,2}", "%Y": r"\d{4}", "%y": r"\d{2}"}


def _date(col: str, formats: tuple[str, ...]) -> str:
    from federate.sqltext import sql_str

    """The first format whose shape matches, as the engine reads dates: DuckDB's own %Y would
    otherwise read the "12" of 02/02/12 as the year 12."""
    tries = []
    for fmt in formats:
        shape = re.escape(fmt)
        for token, digits in _SHAPES.items():
            shape = shape.replace(re.escape(token), digits)
        tries.append(
            f"CASE WHEN regexp_full_match({col}, {sql_str(shape)}) "
            f"THEN try_strptime({col}, {sql_str(fmt)}) END"
        )
    return f"CAST(coalesce({', '.join(tries)}) AS DATE)"


def expressions(name: str, parser: Parser, locale: Locale, dtype: DType) -> list[str]:
    """The cast alone, named as the shared column(s)."""
    from federate.adapters.parsers import Code, Date, Decimal, Integer, PartialDate, YearOf
    from federate.schema import DType
    from federate.sqltext import sql_ident, sql_str

    col = sql_ident(parser.source or "")
    out = sql_ident(name)
    if isinstance(parser, Integer):
        return [f"TRY_CAST({col} AS BIGINT) AS {out}"]
    if isinstance(parser, Decimal):
        v = col
        if locale.group:
            v = f"replace({v}, {sql_str(locale.group)}, '')"
        if locale.decimal != ".":
            v = f"replace({v}, {sql_str(locale.decimal)}, '.')"
        return [f"TRY_CAST({v} AS DOUBLE) AS {out}"]
    if isinstance(parser, Date):
        formats = parser.formats or locale.date_formats
        return [f"{_date(col, formats)} AS {out}"]
    if isinstance(parser, PartialDate):
        formats = (*locale.date_formats, *locale.month_formats, *locale.year_formats)
        return [
            f"{_date(col, formats)} AS {out}",
            f"{col} AS {sql_ident(name + '_raw')}",
        ]
    if isinstance(parser, YearOf):
        formats = parser.date.formats or locale.date_formats
        return [f"year({_date(col, formats)}) AS {out}"]
    if isinstance(parser, Code) and dtype is DType.BOOL:
        # A yes/no column needs its words to become a boolean: that is the type, not a mapping.
        yes = ", ".join(sql_str(k.lower()) for k, v in parser.mapping.items() if v is True)
        return [f"lower({col}) IN ({yes}) AS {out}"]
    return [f"{col} AS {out}"]  # Text, Verbatim and other codes stay text


def select(tm: TableMap, adapter: SiteAdapter) -> str:
    from federate.adapters import registry
    from federate.adapters.parsers import Const
    from federate.schema import DType
    from federate.sqltext import sql_ident

    table = registry.schema().table(tm.table)
    types = {c.name: c.dtype for c in table.columns}
    exprs = [f"{sql_ident(tm.subject.source)} AS local_id"] if tm.subject else []
    for name, parser in tm.fields.items():
        if isinstance(parser, Const) or parser.source is None:
            continue
        exprs += expressions(name, parser, adapter.locale, types.get(name, DType.STRING))
    return ",\n  ".join(exprs)


def plan(site: str, export_dir: Path, out: Path, statements: Path) -> None:
    """Write the COPY statements, and where they write, to ``statements`` for ``run``."""
    planned = {"out": str(out), "statements": copies(site, export_dir, out)}
    statements.write_text(json.dumps(planned, indent=1), "utf-8")


def copies(site: str, export_dir: Path, out: Path) -> list[str]:
    from federate.adapters import registry
    from federate.sqltext import sql_str

    adapter = registry.adapter(site)
    delimiter = getattr(adapter.reader, "delimiter", ",")
    return [
        f"COPY (SELECT {select(tm, adapter)}\nFROM read_csv({sql_str(str(export_dir / tm.file))}, "
        f"delim={sql_str(delimiter)}, header=true, all_varchar=true, quote='\"')) "
        f"TO {sql_str(str(out / f'{tm.table}.parquet'))} (FORMAT parquet, COMPRESSION zstd)"
        for tm in adapter.tables
    ]


def run(statements: Path) -> None:
    import duckdb

    planned = json.loads(statements.read_text("utf-8"))
    Path(planned["out"]).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for sql in planned["statements"]:
        con.execute(sql)


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        run(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["plan"])
    parser.add_argument("site")
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("statements", type=Path)
    args = parser.parse_args()
    plan(args.site, args.export_dir, args.out, args.statements)


if __name__ == "__main__":
    main()
