"""`federate query --min-cell`: what a value is decides what is a count, not its Arrow type;
totals are found whatever their label; suppression adds, drops and moves no row and hides
every value of a suppressed row; the whole command keeps to --timeout; and a result the audit
cannot understand is refused (exit 3), never released. The first tests are the findings of
issue 22, item 4, each of which the query released or crashed on before."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from federate.errors import PrivacyError, UsageError
from federate.query.roles import Role
from federate.query.sandbox import Limits, run_query
from federate.query.secondary import Cells, Overtime, Relation, suppress
from tests.bundles import cli, squeeze
from tests.query.attacker import pinned, relations
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]


def _number(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _assert_small_counts_hidden(rows: list[dict[str, Any]], counts: list[str], k: int = 5) -> None:
    for row in rows:
        for c in counts:
            value = _number(row[c])
            assert value is None or value == 0 or value >= k, row
            assert (value is None) == row["suppressed"] or value == 0, row


def _attack(
    raw: list[dict[str, Any]],
    released: list[dict[str, Any]],
    dims: list[str],
    totals: list[frozenset[str]],
    count: str,
    order: list[tuple[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """The rows whose small count the reader pins from the released table."""
    values = [float(_number(r[count]) or 0) for r in raw]
    hidden = [r["suppressed"] for r in released]
    found = pinned(values, hidden, relations(raw, dims, totals), order=order or ())
    return [raw[i] for i in found]


# --- the findings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "men",
    [
        "sum(CASE WHEN sex = 'M' THEN 1 ELSE 0 END)",  # HUGEINT: a decimal(38, 0) in Arrow
        "sum((sex = 'M')::INTEGER)",
        "sum(CASE WHEN sex = 'M' THEN 1.0 ELSE 0 END)",  # a decimal with a scale
        "(count(*) FILTER (WHERE sex = 'M'))::DOUBLE",
        "count(DISTINCT subject_id) FILTER (WHERE sex = 'M') * 1.0",
        "(count(*) FILTER (WHERE sex = 'M'))::VARCHAR",
    ],
)
def test_a_count_written_as_a_sum_a_decimal_or_a_float_is_a_count(
    simulated: Simulated, men: str
) -> None:
    sql = (
        f"SELECT site, {men} AS men, sum(1) AS patients, avg(2013 - birth_year) AS mean_age "
        "FROM subjects GROUP BY site ORDER BY site"
    )
    raw = {r["site"]: r for r in run_query(sql, simulated.warehouse).to_pylist()}
    assert _number(raw["italy"]["men"]) == 3  # what was released
    rows = run_query(sql, simulated.warehouse, min_cell=5).to_pylist()
    italy = next(r for r in rows if r["site"] == "italy")
    assert italy["suppressed"] and italy["men"] is None and italy["mean_age"] is None
    _assert_small_counts_hidden(rows, ["men", "patients"])
    # A mean is a statistic: shown where its row is.
    assert all(r["mean_age"] == raw[r["site"]]["mean_age"] for r in rows if not r["suppressed"])


def test_a_null_key_is_not_taken_for_the_rollup_total(simulated: Simulated) -> None:
    data = "CASE WHEN range < 3 THEN NULL WHEN range < 13 THEN 'a' ELSE 'b' END"
    sql = f"SELECT {data} AS k, count(*) AS n FROM range(30) GROUP BY ROLLUP(k) ORDER BY n"
    truth = f"SELECT {data} AS k, count(*) AS n, GROUPING(k) AS g FROM range(30) "
    raw = run_query(truth + "GROUP BY ROLLUP(k) ORDER BY n", simulated.warehouse).to_pylist()
    assert [(r["k"], r["n"], r["g"]) for r in raw] == [
        (None, 3, 0), ("a", 10, 0), ("b", 17, 0), (None, 30, 1)
    ]  # fmt: skip
    rows = run_query(sql, simulated.warehouse, min_cell=5).to_pylist()
    assert rows[0]["suppressed"]
    totals = [frozenset({"k"}) if r["g"] else frozenset() for r in raw]
    assert _attack(raw, rows, ["k"], totals, "n") == []  # 30 - 10 - 17 gave the 3 back


def test_suppression_adds_no_row_and_keeps_the_order(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = (
        "SELECT site, sex, count(*) AS n FROM subjects GROUP BY ROLLUP(site, sex) "
        "ORDER BY n DESC, site NULLS FIRST, sex NULLS FIRST"
    )
    raw = run_query(sql, simulated.warehouse).to_pylist()
    args = ["--warehouse", str(simulated.warehouse), "--min-cell", "5", "--format", "json"]
    code, out, err = cli(capsys, "query", sql, *args)
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["site"], r["sex"]) for r in rows] == [(r["site"], r["sex"]) for r in raw]
    assert all(r["suppressed"] or r["n"] == t["n"] for r, t in zip(rows, raw, strict=True))
    assert any(r["suppressed"] for r in rows)


def test_a_total_labelled_all_gets_secondary_suppression(simulated: Simulated) -> None:
    sql = (
        "SELECT site, sex, count(*) AS n FROM subjects GROUP BY site, sex "
        "UNION ALL SELECT site, 'ALL', count(*) FROM subjects GROUP BY site "
        "UNION ALL SELECT 'ALL', 'ALL', count(*) FROM subjects ORDER BY site, sex"
    )
    raw = run_query(sql, simulated.warehouse).to_pylist()
    rows = run_query(sql, simulated.warehouse, min_cell=5).to_pylist()
    assert len(rows) == len(raw)
    _assert_small_counts_hidden(rows, ["n"])
    totals = [frozenset(d for d in ("site", "sex") if r[d] == "ALL") for r in raw]
    uk = {r["sex"]: r for r in rows if r["site"] == "uk"}
    assert uk["M"]["suppressed"] and (uk["F"]["suppressed"] or uk["ALL"]["suppressed"])
    assert _attack(raw, rows, ["site", "sex"], totals, "n") == []


_AGGREGATES = (
    "SELECT site, serious, count(*) AS events, max(onset_date) AS last_onset, "
    "any_value(verbatim_term) AS a_term FROM adverse_events GROUP BY site, serious ORDER BY ALL"
)


def test_every_value_of_a_suppressed_row_is_hidden(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_query(_AGGREGATES, simulated.warehouse, min_cell=5).to_pylist()
    hidden = [r for r in rows if r["suppressed"]]
    assert hidden and len(hidden) < len(rows)
    for row in hidden:
        assert (row["events"], row["last_onset"], row["a_term"]) == (None, None, None), row
        assert row["site"] is not None and row["serious"] is not None  # keys stay
    args = ["--warehouse", str(simulated.warehouse), "--min-cell", "5", "--format", "csv"]
    code, out, err = cli(capsys, "query", _AGGREGATES, *args)
    assert code == 0, err
    marked = [line for line in out.splitlines() if '"[c]"' in line]
    assert len(marked) == len(hidden)
    assert all(line.endswith('"[c]","[c]","[c]",true') for line in marked)


def test_a_list_or_struct_column_is_a_measure_not_an_internal_error(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = (
        "SELECT site, sex, count(*) AS n, list(subject_id ORDER BY subject_id) AS ids, "
        "{'n': count(*)} AS packed FROM subjects GROUP BY site, sex ORDER BY site, sex"
    )
    args = ["--warehouse", str(simulated.warehouse), "--min-cell", "5"]
    code, out, err = cli(capsys, "query", sql, *args, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert any(r["suppressed"] for r in rows)
    for row in rows:
        assert (row["ids"] is None) == row["suppressed"] == (row["packed"] is None), row
    code, out, err = cli(capsys, "query", sql, *args)
    assert code == 0 and "[c]" in out, err


# Quick to compute, slow to protect: a CUBE of 4,200 small cells.
_BIG = (
    "SELECT (range % 600)::VARCHAR AS a, (range % 7)::VARCHAR AS b, count(*) AS n "
    "FROM range(6000) GROUP BY CUBE(a, b)"
)


def test_the_time_limit_covers_the_suppression(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--warehouse", str(simulated.warehouse), "--min-cell", "5", "--timeout", "1"]
    started = time.monotonic()
    code, out, err = cli(capsys, "query", _BIG, *args)
    assert time.monotonic() - started < 4  # it ran past 300 s with --timeout 5
    assert (code, out) == (2, "") and "(sql-timeout)" in squeeze(err), err
    started = time.monotonic()
    with pytest.raises(UsageError, match="time limit") as caught:
        run_query(_BIG, simulated.warehouse, min_cell=5, limits=Limits(seconds=1))
    assert caught.value.code == "sql-timeout" and time.monotonic() - started < 4


# --- what else the audit must not be fooled by ---------------------------------------------


def test_the_order_of_rows_gives_back_no_suppressed_count(simulated: Simulated) -> None:
    """Sorted by the count, a hidden cell between two shown 9s is a 9: the total then gives
    back the small cell beside it, unless more is hidden."""
    parts = [("g0", "w", 9), ("g0", "z", 9), ("g1", "p", 3), ("g1", "q", 9), ("g1", "r", 9)]
    data = " UNION ALL ".join(f"SELECT '{g}' AS g, '{k}' AS k FROM range({n})" for g, k, n in parts)
    grouped = f"FROM ({data}) GROUP BY ROLLUP(g, k) ORDER BY n DESC, g NULLS FIRST, k NULLS FIRST"
    sql = f"SELECT g, k, count(*) AS n {grouped}"
    raw = run_query(
        f"SELECT g, k, count(*) AS n, GROUPING(g) AS gg, GROUPING(k) AS gk {grouped}",
        simulated.warehouse,
    ).to_pylist()
    rows = run_query(sql, simulated.warehouse, min_cell=5).to_pylist()
    assert [(r["g"], r["k"]) for r in rows] == [(r["g"], r["k"]) for r in raw]
    totals = [frozenset(d for d, g in (("g", r["gg"]), ("k", r["gk"])) if g) for r in raw]
    by_count = [(i + 1, i) for i in range(len(raw) - 1)]  # n descending
    assert _attack(raw, rows, ["g", "k"], totals, "n", order=by_count) == []


def test_an_all_arm_read_from_the_data_is_a_total(simulated: Simulated) -> None:
    """The unblinded allocation view has every patient under 'ALL' too: no label marks it as a
    total, its counts do."""
    sql = "SELECT site, arm, count(*) AS n FROM allocation GROUP BY site, arm ORDER BY site, arm"
    wh = simulated.warehouse
    raw = run_query(sql, wh, role=Role.UNBLINDED).to_pylist()
    rows = run_query(sql, wh, role=Role.UNBLINDED, min_cell=5).to_pylist()
    _assert_small_counts_hidden(rows, ["n"])
    totals = [frozenset({"arm"}) if r["arm"] == "ALL" else frozenset() for r in raw]
    assert _attack(raw, rows, ["site", "arm"], totals, "n") == []


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT subject_id, birth_year FROM subjects", "lists rows"),
        (
            "SELECT site, sex, count(*) AS n FROM subjects GROUP BY ROLLUP(site, sex) "
            "HAVING count(*) >= 5",
            "HAVING",
        ),
        (
            "SELECT * FROM (SELECT site, count(*) AS n FROM subjects GROUP BY site) WHERE n > 3",
            "WHERE",
        ),
        (
            "SELECT site, sex, count(*) AS n FROM subjects GROUP BY ROLLUP(site, sex) "
            "ORDER BY n DESC LIMIT 8",
            "LIMIT",
        ),
        ("SELECT site, count(*) AS n FROM subjects GROUP BY site INTERSECT SELECT 'x', 1", "UNION"),
    ],
)
def test_a_result_the_audit_cannot_understand_is_refused(
    simulated: Simulated, capsys: pytest.CaptureFixture[str], sql: str, why: str
) -> None:
    with pytest.raises(PrivacyError, match=why):
        run_query(sql, simulated.warehouse, min_cell=5)
    args = ["--warehouse", str(simulated.warehouse), "--min-cell", "5"]
    code, out, err = cli(capsys, "query", sql, *args)
    assert (code, out) == (3, "") and "nothingwasreleased" in squeeze(err), err
    assert run_query(sql, simulated.warehouse).num_rows >= 0  # without --min-cell: as before


def test_suppression_past_its_deadline_is_stopped() -> None:
    values = np.array([9.0, 3.0, 6.0])
    cells = Cells({"n": values}, values, 3, [Relation(0, [1, 2], "n")])
    with pytest.raises(Overtime):
        suppress(cells, 5, deadline=time.monotonic() - 1)
    assert suppress(cells, 5, deadline=time.monotonic() + 60).tolist() == [False, True, True]


def test_a_pinned_count_with_nothing_left_to_hide_it_is_refused() -> None:
    """The total and the other part are published elsewhere: 9 - 6 gives the 3 back, and no
    cell is left to suppress beside it. It used to be released all the same."""
    values = np.array([9.0, 3.0, 6.0])
    cells = Cells({"n": values}, values, 3, [Relation(0, [1, 2], "n")])
    with pytest.raises(PrivacyError, match="no cell is"):
        suppress(cells, 5, published=[True, False, True])
