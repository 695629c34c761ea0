"""The truth of a small trial at one site, drawn in the shared schema's own terms.

Values are drawn from the schema's rules (``schemas/``: code lists, bounds, patterns) narrowed
to what the site's declaration can say at all (a ``Code`` parser's targets, a ``Const``), never
from how the site writes them: that is ``grammar``'s job. The visit a site does not name is
the schema's window rule applied to the truth, and derived columns are the schema's own
``Derived`` expressions run over the truth, so the expected table is the schema's, not the
adapter's.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from federate.schemas.codelists import ATC_CROSSWALK, LAB_ANALYTES

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Code, Const, Decimal, Parser, PartialDate, Verbatim, YearOf
from federate.schema import Column, DType, Table

Row = dict[str, Any]
LOCAL = "_local"  # a truth row's patient: the normalised local id
SCHEDULE = {"W4": 28, "W12": 84, "W24": 168, "W28": 196, "W36": 252, "W48": 336}
# Free text as sites type it: accents, a delimiter, a quote, an apostrophe.
WORDS = (
    "cefalea",
    "nausée",
    "hovedpine",
    "huvudvärk",
    "dolor; leve",
    'febbre "alta"',
    "l'ulcère",
    "træthed",
    "Müdigkeit",
    "mareo",
    "infección urinaria",
    "rash",
)
DRUGS = ("natalizumab", "paracétamol", "ibuprofène", "Tysabri", "fingolimod", "baclofen")


@dataclass
class SiteTruth:
    site: str
    ids: list[str]  # normalised local ids, one per patient
    tables: dict[str, list[Row]] = field(default_factory=dict)  # shared table -> rows

    def rows(self, table: str) -> list[Row]:
        return self.tables.setdefault(table, [])


def parser_of(adapter: SiteAdapter, table: str, column: str) -> Parser | None:
    """The parser the site declares for a shared column (its first map of the table)."""
    tm = first_map(adapter, table)
    return None if tm is None else tm.fields.get(column)


def first_map(adapter: SiteAdapter, table: str) -> TableMap | None:
    return next((t for t in adapter.tables if t.table == table), None)


def targets(parser: Parser | None) -> list[Any] | None:
    """What a site's parser can produce at all (None: anything the schema allows)."""
    if isinstance(parser, Code):
        return list(dict.fromkeys(parser.mapping.values()))
    if isinstance(parser, Const):
        return [parser.value]
    return None


def allowed(adapter: SiteAdapter, table: str, column: str, value: Any) -> bool:
    got = targets(parser_of(adapter, table, column))
    return got is None or value in got


def draw_value(
    adapter: SiteAdapter, table: Table, col: Column, rng: random.Random, *, optional: float = 0.25
) -> Any:
    """A valid value for ``col`` the site can express (None where it cannot, or sometimes when
    the column is optional)."""
    parser = parser_of(adapter, table.name, col.name)
    if parser is None:
        return None
    if not col.required and rng.random() < optional:
        return None
    choices = targets(parser)
    if col.codes is not None:
        choices = [c for c in (choices or col.codes) if c in col.codes]
        plausible = [c for c in choices if _plausible(col, c)]
        choices = plausible or choices  # a warning costs a pandera pass: few of them
    if choices is not None:
        return rng.choice(choices) if choices else None
    special = _SPECIAL.get(col.name)
    if special is not None:
        return special(rng)
    if col.dtype is DType.INT:  # within the soft bounds too: a warning costs a pandera pass
        lo = col.warn_min if col.warn_min is not None else col.min or 0
        hi = col.warn_max if col.warn_max is not None else col.max if col.max is not None else 99
        return rng.randint(int(lo), int(hi))
    if col.dtype is DType.FLOAT:
        places = parser.places if isinstance(parser, Decimal) else 1
        lo = float(col.warn_min if col.warn_min is not None else col.min or 0.0)
        hi = float(col.warn_max if col.warn_max is not None else col.max or 100.0)
        return round(rng.uniform(lo, hi), places)
    if col.dtype is DType.BOOL:
        return rng.random() < 0.5
    raise AssertionError(f"no draw for {table.name}.{col.name}")


def _plausible(col: Column, value: Any) -> bool:
    low = col.warn_min is None or value >= col.warn_min
    return low and (col.warn_max is None or value <= col.warn_max)


def _digits(n: int) -> Any:
    return lambda rng: "".join(rng.choice(string.digits) for _ in range(n))


_SPECIAL: dict[str, Any] = {
    "meddra_pt_code": lambda rng: "100" + _digits(5)(rng),
    "meddra_version": lambda rng: f"{rng.randint(12, 27)}.{rng.choice('01')}",
    "atc_code": lambda rng: rng.choice([*ATC_CROSSWALK, *ATC_CROSSWALK.values(), "N02BE01"]),
    "atc_version": lambda rng: str(rng.randint(2005, 2024)),
    "lot_id": lambda rng: f"L-{rng.randint(1, 999):03d}",
    "verbatim_term": lambda rng: rng.choice(WORDS),
    "medication_verbatim": lambda rng: rng.choice(DRUGS),
}


def local_ids(adapter: SiteAdapter, n: int, rng: random.Random) -> list[str]:
    """Normalised local ids in the shape the site's ``LocalId`` implies: digits when it pads
    (the padding is the normalisation), else letters and digits."""
    tm = adapter.tables[0]
    assert tm.subject is not None
    pad = tm.subject.zero_pad
    start = rng.randint(1, 500)
    if pad:
        return [str(start + 7 * i).zfill(pad) for i in range(n)]
    prefix = adapter.country.upper()
    return [f"{prefix}-{start + 7 * i:03d}" for i in range(n)]


def window_code(day: int | None) -> str:
    if day is None:
        return "UNS"
    for code, (lo, hi) in registry.schema().visit_windows.items():
        if lo <= day <= hi:
            return code
    return "UNS"


def _partial(rng: random.Random, date: dt.date, end: bool = False) -> tuple[dt.date, str]:
    """A date known to the day, the month or the year: its lower bound and precision."""
    precision = rng.choice(("day", "day", "month", "year"))
    if precision == "month":
        return date.replace(day=1), precision
    if precision == "year":
        return date.replace(month=1, day=1), precision
    return date, precision


def _set_partial(row: Row, name: str, value: tuple[dt.date, str] | None) -> None:
    row[name], row[f"{name}_precision"] = value if value else (None, None)
    row[f"{name}_raw"] = None  # what the site wrote: filled by the writer


def draw_truth(adapter: SiteAdapter, rng: random.Random, patients: int = 3) -> SiteTruth:
    truth = SiteTruth(adapter.name, local_ids(adapter, patients, rng))
    schema = registry.schema()
    for local in truth.ids:
        _patient(adapter, truth, local, rng, schema)
    for name, rows in truth.tables.items():
        table = schema.table(name)
        for row in rows:
            for col in table.own_columns:
                if col.name not in row and col.name not in table.derived:
                    row[col.name] = draw_value(adapter, table, col, rng)
    _raw_labs(adapter, truth)
    return truth


def _raw_labs(adapter: SiteAdapter, truth: SiteTruth) -> None:
    """Where the site writes a lab result twice (SDTM's LBORRES as typed, LBSTRESN as
    reported), the text as exported is its own column: the original result, decimal comma."""
    raw, reported = (
        parser_of(adapter, "labs", "value_raw"),
        parser_of(adapter, "labs", "value_reported"),
    )
    if raw is None or reported is None or raw.source == reported.source:
        return
    for row in truth.rows("labs"):
        row["value_raw"] = f"{row['value_reported']:g}".replace(".", ",")
        row["unit_raw"] = row["unit_reported"]


def _patient(
    adapter: SiteAdapter, truth: SiteTruth, local: str, rng: random.Random, schema: Any
) -> None:
    w0 = dt.date(2012, 1, 1) + dt.timedelta(days=rng.randint(0, 7 * 365))
    visits = _visits(adapter, rng, w0)
    for code, date in visits:
        truth.rows("visits").append(
            {LOCAL: local, "visit_code": code, "visit_date": date, "week": _week(adapter, code)}
        )
    birth = rng.randint(1962, 1998)
    truth.rows("subjects").append(
        {
            LOCAL: local,
            "birth_year": birth,
            "diagnosis_date": w0 - dt.timedelta(days=rng.randint(200, 4000)),
        }
    )
    sequence = rng.choice(["MSC_PLACEBO", "PLACEBO_MSC"])
    truth.rows("randomisation").append(
        {
            LOCAL: local,
            "sequence": sequence,
            "randomisation_date": w0 - dt.timedelta(days=rng.randint(1, 20)),
        }
    )
    dates = dict(visits)
    for period, code in ((1, "W0"), (2, "W24")):
        if code not in dates or not allowed(adapter, "infusions", "period", period):
            continue
        product = "MSC" if (sequence == "MSC_PLACEBO") == (period == 1) else "PLACEBO"
        row: Row = {LOCAL: local, "period": period, "infusion_date": dates[code]}
        row["product"] = product
        if product == "PLACEBO":
            row |= {"dose_million_cells_per_kg": None, "viability_pct": None, "lot_id": None}
        truth.rows("infusions").append(row)
    _assessments(adapter, truth, local, visits, w0, rng)
    _logs(adapter, truth, local, w0, rng)


def _week(adapter: SiteAdapter, code: str) -> int | None:
    from federate.schemas.mesems_v1 import VISIT_WEEKS

    week = VISIT_WEEKS[code]
    return week if week is not None and allowed(adapter, "visits", "week", week) else None


def _visits(adapter: SiteAdapter, rng: random.Random, w0: dt.date) -> list[tuple[str, dt.date]]:
    visits = [("SCR", w0 - dt.timedelta(days=rng.randint(28, 56))), ("W0", w0)]
    for code in list(SCHEDULE)[: rng.randint(1, len(SCHEDULE))]:
        visits.append((code, w0 + dt.timedelta(days=SCHEDULE[code] + rng.randint(-5, 5))))
    if rng.random() < 0.5:  # an unscheduled visit, between two windows
        visits.append(("UNS", w0 + dt.timedelta(days=rng.choice((12, 50, 120, 220)))))
    return sorted(visits, key=lambda v: v[1])


def _assessments(
    adapter: SiteAdapter,
    truth: SiteTruth,
    local: str,
    visits: list[tuple[str, dt.date]],
    w0: dt.date,
    rng: random.Random,
) -> None:
    analytes = _lab_menu(adapter)
    for code, date in visits:
        named = window_code((date - w0).days)  # the visit a site that does not name it gets
        if rng.random() < 0.8:
            truth.rows("mri").append({LOCAL: local, "visit_code": code, "scan_date": date})
        for table, column in (("edss", "assessment_date"), ("msfc", "assessment_date")):
            if rng.random() < 0.6:
                visit = code if parser_of(adapter, table, "visit_code") else named
                truth.rows(table).append({LOCAL: local, "visit_code": visit, column: date})
        if code != "UNS" and analytes and rng.random() < 0.6:
            visit = code if parser_of(adapter, "labs", "visit_code") else named
            names = sorted({a for a, _ in analytes})
            for analyte in rng.sample(names, k=min(len(names), rng.randint(1, 3))):
                unit = rng.choice([u for a, u in analytes if a == analyte])
                truth.rows("labs").append(_lab(local, visit, date, analyte, unit, rng))


def _lab_menu(adapter: SiteAdapter) -> list[tuple[str, str]]:
    """(analyte, unit) pairs the site can write and the schema can harmonise."""
    analytes = targets(parser_of(adapter, "labs", "analyte")) or list(LAB_ANALYTES)
    units = targets(parser_of(adapter, "labs", "unit_reported")) or []
    return [(a, u) for a in analytes for u in LAB_ANALYTES[a].factors if u in units]


_LAB_RANGE = {"umol/L": (40, 120), "mg/dL": (0.5, 130), "g/dL": (11, 17), "g/L": (110, 170)}
_LAB_RANGE |= {"mmol/L": (3.5, 11), "U/L": (8, 60), "ukat/L": (0.1, 1.2), "/mm3": (800, 3500)}
_LAB_RANGE |= {"10^9/L": (0.8, 3.5), "10^3/uL": (0.8, 3.5)}


def _lab(local: str, visit: str, date: dt.date, analyte: str, unit: str, rng: random.Random) -> Row:
    lo, hi = _LAB_RANGE[unit]
    value = round(rng.uniform(lo, hi), rng.choice((0, 1, 2)))
    return {
        LOCAL: local,
        "visit_code": visit,
        "assessment_date": date,
        "analyte": analyte,
        "value_reported": value,
        "unit_reported": unit,
        "value_raw": None,  # what the site wrote: filled by the writer
        "unit_raw": None,
    }


def _logs(
    adapter: SiteAdapter, truth: SiteTruth, local: str, w0: dt.date, rng: random.Random
) -> None:
    """Relapses, adverse events and medication: distinct onsets, numbered events."""
    days = rng.sample(range(20, 1400, 31), k=6)  # distinct months: distinct raw onsets
    onsets: set[dt.date] = set()
    for i in range(rng.randint(0, 2)):
        row: Row = {LOCAL: local}
        onset = w0 + dt.timedelta(days=days[i])
        first = _partial(rng, onset)
        if first[0] in onsets:  # the key is the onset as written: keep it distinct
            first = (onset, "day")
        onsets.add(first[0])
        _set_partial(row, "onset_date", first)
        ends = rng.random() < 0.6
        _set_partial(row, "end_date", _partial(rng, onset + dt.timedelta(40)) if ends else None)
        truth.rows("relapses").append(row)
    for n in range(1, rng.randint(0, 3) + 1):
        row = {LOCAL: local, "ae_number": n}
        onset = w0 + dt.timedelta(days=days[2 + n])
        _set_partial(row, "onset_date", _partial(rng, onset))
        ends = rng.random() < 0.6
        _set_partial(row, "end_date", _partial(rng, onset + dt.timedelta(20)) if ends else None)
        serious = rng.random() < 0.3
        row["serious"] = serious
        if not serious:
            row |= {f"sae_{c}": None for c in _SAE}
        truth.rows("adverse_events").append(row)
    for drug in rng.sample(DRUGS, k=rng.randint(0, 2)):
        row = {LOCAL: local, "medication_verbatim": drug}
        start = dt.date(rng.randint(1995, 2011), rng.randint(1, 12), rng.randint(1, 28))
        _set_partial(row, "start_date", _partial(rng, start))
        stops = rng.random() < 0.5
        _set_partial(row, "end_date", _partial(rng, w0 + dt.timedelta(30)) if stops else None)
        truth.rows("conmeds").append(row)


_SAE = ("death", "life_threatening", "hospitalisation", "disability", "congenital_anomaly")
_SAE += ("other_important",)


def expected_table(adapter: SiteAdapter, table: Table, rows: list[Row]) -> pa.Table:
    """The rows as the pool must hold them: the shared columns in the schema's order, derived
    columns computed by the schema's own expressions (run here over the truth)."""
    own = [c for c in table.own_columns if c.name not in table.derived]
    data = {
        c.name: pa.array([r.get(c.name) for r in rows], c.dtype.arrow)
        for c in [*own, *(c for c in table.columns if c.name in _PROVENANCE)]
    }
    base = pa.table(data)
    if not table.derived:
        return base
    con = duckdb.connect()
    con.register("t", base)
    derived = ", ".join(f"{d.sql} AS {name}" for name, d in table.derived.items())
    return con.sql(f"SELECT *, {derived} FROM t").to_arrow_table()


_PROVENANCE = ("subject_id", "source_file", "source_row")


def partial_fields(tm: TableMap) -> list[str]:
    return [n for n, p in tm.fields.items() if isinstance(p, PartialDate)]


def verbatim_of(tm: TableMap, source: str) -> list[str]:
    return [n for n, p in tm.fields.items() if isinstance(p, Verbatim) and p.source == source]


def is_year_of(parser: Parser) -> bool:
    return isinstance(parser, YearOf)
