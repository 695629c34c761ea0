"""Named analyses: plain SQL files a statistician can read, run in a sandboxed session of one
role, with thin Python only where statistics need it (stats.py), and disclosure control on
every released table (federate.query.disclosure).

An analysis is a few parts, each one SQL file giving one table with a ``scope`` ('pooled',
then each site) and, for the unblinded role, an ``arm`` (the SQL reads the role's views, so
the blinded role's tables hold only the pooled-over-arms rows, and lose the column).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.analyses import estimates, labels
from federate.analyses.catalogue import ANALYSES, Analysis, Part
from federate.errors import UsageError
from federate.output import marked, plain, rows_as_json
from federate.query import disclosure, sandbox
from federate.query.roles import ALL, Role

__all__ = ["ANALYSES", "Analysis", "Part", "Result", "get", "listing", "run_analysis", "sql"]


def sql(file: str) -> str:
    return resources.files(__package__).joinpath(file).read_text("utf-8")


@dataclass(frozen=True)
class Result:
    analysis: Analysis
    role: Role
    min_cell: int
    parts: list[tuple[Part, pa.Table]] = field(default_factory=list)

    def part(self, name: str) -> pa.Table:
        return next(table for part, table in self.parts if part.name == name)

    def title(self, part: Part) -> str:
        by_arm = " by arm" if self.role is Role.UNBLINDED and part.by_arm else ""
        return part.title + by_arm + self._exposed_n(part)

    def _exposed_n(self, part: Part) -> str:
        """The N of the percentages, pooled, in the title: "(N exposed: MSC 69, ...)"."""
        if part.exposed is None or part.name == "exposure":
            return ""
        done = [table for p, table in self.parts if p.name == "exposure"]
        if not done:
            return ""
        pooled = [r for r in done[0].to_pylist() if r["scope"] == "pooled" and r["patients"]]
        if part.exposed == "all" or "arm" not in done[0].column_names:
            counts = [f"{r['patients']}" for r in pooled if r.get("arm", ALL) == ALL]
        else:
            counts = [f"{labels.arm(r['arm'])} {r['patients']}" for r in pooled]
        return f" (% of N exposed; N pooled: {', '.join(counts)})" if counts else ""

    def combined(self) -> pa.Table:
        """Every part in one table (CSV, Parquet): a ``part`` column, columns unified."""
        tables = [
            table.add_column(0, "part", pa.array([part.name] * table.num_rows, pa.string()))
            for part, table in self.parts
        ]
        joined = pa.concat_tables(tables, promote_options="default")
        about = {"analysis": self.analysis.name, "role": self.role.value}
        meta = {f"federate.{k}".encode(): v.encode() for k, v in about.items()}
        meta[b"federate.min_cell"] = str(self.min_cell).encode()
        return joined.replace_schema_metadata(meta)

    def csv(self) -> str:
        """Each part its own table (its own header line, in words) under a ``part`` column;
        numbers unquoted, suppressed measures [c], text quoted only where CSV needs it."""
        import csv
        import io

        sink = io.StringIO()
        writer = csv.writer(sink, lineterminator="\n")
        for n, (part, table) in enumerate(self.parts):
            shown = marked(labels.headed(table))
            if n:
                writer.writerow([])
            writer.writerow(["part", *shown.column_names])
            for row in shown.to_pylist():
                writer.writerow([part.name, *(_csv_cell(v) for v in row.values())])
        return sink.getvalue()

    def to_json(self) -> dict[str, object]:
        return {
            "analysis": self.analysis.name,
            "role": self.role.value,
            "min_cell": self.min_cell,
            "parts": [
                {"part": part.name, "title": self.title(part), "rows": rows_as_json(table)}
                for part, table in self.parts
            ],
        }


def _csv_cell(value: object) -> object:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return value


def get(name: str) -> Analysis:
    for analysis in ANALYSES:
        if analysis.name == name:
            return analysis
    names = [a.name for a in ANALYSES]
    hint = difflib.get_close_matches(name, names, n=1)
    suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
    raise UsageError(
        f"unknown analysis {name!r}.{suggestion} Known: {', '.join(names)}",
        code="unknown-analysis",
    )


def run_analysis(
    name: str,
    warehouse: Path,
    *,
    role: Role = Role.BLINDED,
    min_cell: int = disclosure.DEFAULT_MIN_CELL,
    limits: sandbox.Limits | None = None,
    operator: str | None = None,
) -> Result:
    """Run a named analysis over the current submissions of every site, as ``role``; every
    table released with disclosure control at ``min_cell``."""
    analysis = get(name)
    if min_cell < 1:
        raise UsageError("--min-cell must be at least 1", code="bad-min-cell")
    purpose = f"analysis {name} (min-cell {min_cell})"
    session = sandbox.connect(warehouse, role, limits, purpose=purpose, operator=operator)
    result = Result(analysis, role, min_cell)
    for part in analysis.parts:
        if part.unblinded_only and role is not Role.UNBLINDED:
            continue
        table = session.run(sql(part.sql_file))
        if part.compute is not None:
            table = part.compute(table)
        result.parts.append((part, _release(part, table, result)))
    for i, (part, table) in enumerate(result.parts):
        if part.exposed is not None:
            exposure = result.part("exposure")
            table = estimates.per_exposed(table, exposure, by_arm=part.exposed == "arm")
            result.parts[i] = (part, table)
    return result


def _release(part: Part, table: pa.Table, result: Result) -> pa.Table:
    k = result.min_cell
    if part.follows is not None:
        followed = result.part(part.follows)
        scopes, hidden = followed["scope"].to_pylist(), followed["suppressed"].to_pylist()
        shown = {s for s in scopes} - {s for s, h in zip(scopes, hidden, strict=True) if h}
        mask = np.array([s not in shown for s in table["scope"].to_pylist()], dtype=bool)
        values = tuple(c for c in table.column_names if c not in ("scope", "note"))
        return disclosure.apply(table, disclosure.Rule(("scope",), "", (), values), mask)
    rule = part.rule
    if "arm" in table.column_names and result.role is not Role.UNBLINDED:
        # Defence in depth: the blinded views give only 'ALL' rows already.
        table = table.filter(pc.equal(table["arm"], ALL)).drop_columns(["arm"])
        rule = rule.without("arm")
    table = disclosure.complete(table, rule)
    if "arm" not in table.column_names:
        return disclosure.apply(table, rule, disclosure.protect(table, rule, k))
    return disclosure.apply(table, rule, disclosure.linked_protect(table, rule, k, "arm", ALL))


def listing(
    name: str,
    warehouse: Path,
    *,
    limits: sandbox.Limits | None = None,
    operator: str | None = None,
) -> pa.Table:
    """The analysis's row-level listing: unblinded only, never a released table."""
    analysis = get(name)
    if analysis.listing is None:
        with_rows = ", ".join(a.name for a in ANALYSES if a.listing)
        raise UsageError(
            f"{name} has no row-level listing (those with one: {with_rows})", code="no-listing"
        )
    purpose = f"analysis {name} --rows (row-level listing)"
    session = sandbox.connect(warehouse, Role.UNBLINDED, limits, purpose=purpose, operator=operator)
    return session.run(sql(analysis.listing))
