"""Worker: the SQL of every named analysis, through federate's sandboxed session and through a
bare DuckDB connection over the same Parquet files.

    python benchmarks/pooled_queries.py WAREHOUSE OUT.json [--repeat 3]

federate: ``sandbox.connect`` (catalog, one view per table over ``read_parquet`` of the role's
current files, role views, lock-down to exactly those files; the unblinded role also appends
to the audit log) and ``session.run`` of each part's SQL (with its statement check).
bare: ``duckdb.connect()``, one view per table over ``read_parquet`` of the same current files,
the same role views, ``code_labels`` and ``intake``, and the same SQL.
Both include opening the session, because every ``federate analyses run`` pays for it. The
statistics and disclosure control (``run_analysis`` as a whole) are timed apart, once.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from federate.analyses import ANALYSES, Analysis, run_analysis, sql
from federate.query import sandbox
from federate.query.roles import Role, views
from federate.warehouse.blind import current_blinded_files
from federate.warehouse.catalog import current_table_files


def bare_connect(wh: Path, role: Role) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    files = current_table_files(wh) if role is Role.UNBLINDED else current_blinded_files(wh)
    for table, paths in files.items():
        listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM read_parquet([{listed}])')
    # Two small relations the analyses read; built by the engine, as federate's session has them.
    con.register("code_labels", sandbox._code_labels())
    con.register("intake", sandbox._intake(wh))
    for statement in views(role):
        con.execute(statement)
    return con


def parts(analysis: Analysis, role: Role) -> list[tuple[str, str]]:
    return [
        (p.name, sql(p.sql_file))
        for p in analysis.parts
        if role is Role.UNBLINDED or not p.unblinded_only
    ]


def _execute(run: Callable[[str], Any], text: str) -> Any:
    """To an Arrow table: a bare relation runs when fetched; a session returns the table."""
    result = run(text)
    return result.to_arrow_table() if isinstance(result, duckdb.DuckDBPyRelation) else result


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def one_run(wh: Path, analysis: Analysis, role: Role, bare: bool) -> dict[str, float]:
    """Seconds: opening the session, then each part's SQL to an Arrow table."""
    start = time.perf_counter()
    run: Callable[[str], Any]
    if bare:
        run = bare_connect(wh, role).sql
    else:
        run = sandbox.connect(wh, role, purpose="benchmark", operator="benchmark").run
    out = {"connect": time.perf_counter() - start}
    for name, text in parts(analysis, role):
        out[name] = timed(functools.partial(_execute, run, text))
    return out


def operators(plan_json: str, top: int = 6) -> list[dict[str, Any]]:
    """The costliest operators of an ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan, flattened."""
    found: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        info = node.get("extra_info", {})
        detail = next(
            (
                str(info[k])
                for k in (
                    "Table",
                    "Function",
                    "Conditions",
                    "Aggregates",
                    "Groups",
                    "CTE Name",
                    "Projections",
                )
                if k in info
            ),
            "",
        )
        found.append(
            {
                "operator": node.get("name", "?"),
                "seconds": float(node.get("timing", 0.0)),
                "rows": int(node.get("intermediate_rows", 0)),
                "detail": detail[:90],
            }
        )
        for child in node.get("children", []):
            walk(child)

    for root in json.loads(plan_json).get("operator", []):
        walk(root)
    return sorted(found, key=lambda o: -o["seconds"])[:top]


def explain(wh: Path, analysis: Analysis, role: Role, part: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE of one part by both paths: the costliest operators of each."""
    text = "EXPLAIN (ANALYZE, FORMAT JSON) " + dict(parts(analysis, role))[part]
    plans: dict[str, Any] = {"part": part}
    plans["bare"] = operators(bare_connect(wh, role).sql(text).fetchall()[0][1])
    session = sandbox.connect(wh, role, purpose="benchmark", operator="benchmark")
    try:
        plans["federate"] = operators(session.con.sql(text).fetchall()[0][1])
    except duckdb.Error as exc:  # the sandbox may refuse profiling
        plans["federate"] = f"not available in the sandboxed session: {exc}"
    return plans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--role", default="unblinded", choices=[r.value for r in Role])
    args = parser.parse_args()
    role = Role(args.role)
    results: dict[str, Any] = {}
    for bare in (False, True):  # untimed warm-up: imports, the files in the page cache
        one_run(args.warehouse, ANALYSES[0], role, bare=bare)
    for analysis in ANALYSES:
        runs: dict[str, list[dict[str, float]]] = {"federate": [], "bare": []}
        for i in range(args.repeat):  # interleaved, first one path then the other goes first
            for bare in (i % 2 == 1, i % 2 == 0):
                runs["bare" if bare else "federate"].append(
                    one_run(args.warehouse, analysis, role, bare=bare)
                )
        medians = {
            path: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            for path, rs in runs.items()
        }
        totals = {path: [sum(r.values()) for r in rs] for path, rs in runs.items()}
        whole = timed(
            functools.partial(
                run_analysis, analysis.name, args.warehouse, role=role, operator="benchmark"
            )
        )
        slowest = max(
            medians["federate"], key=lambda k: -1 if k == "connect" else medians["federate"][k]
        )
        results[analysis.name] = {
            "parts": medians,
            "totals": totals,
            "run_analysis_s": whole,
            "slowest_part": slowest,
            "explain": explain(args.warehouse, analysis, role, slowest),
        }
    args.out.write_text(json.dumps(results, indent=2), "utf-8")


if __name__ == "__main__":
    main()
