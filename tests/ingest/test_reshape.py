"""Engine mechanisms the non-CSV-shaped sites need: keeping a form's rows, pivoting long
findings to one row per visit, typed cells, optional files and files skipped whole."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from federate.adapters.declaration import Keep, LocalId, Pivot, SiteAdapter, SkipFiles, TableMap
from federate.adapters.parsers import Code, Const, Date, Decimal, Integer, Locale, YearOf
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from federate.readers.base import ROW_COLUMN, Reader, Reject, Source
from federate.readers.csv import CsvReader

ID = LocalId("USUBJID", upper=False)
SUBJECTS = TableMap(
    "subjects",
    "dm.csv",
    subject=ID,
    fields={
        "centre": Const("FR-PAR"),
        "sex": Code("SEX", {"F": "F", "M": "M"}),
        "birth_year": YearOf(Date("BRTHDTC")),
        "ms_course": Const("RRMS"),
        "diagnosis_date": Date("DIAGDTC"),
        "eligibility_version": Const("T-1"),
    },
)
EDSS = TableMap(
    "edss",
    "qs.csv",
    subject=ID,
    keep=Keep("QSCAT", ("EDSS",), "another questionnaire"),
    pivot=Pivot(
        by=("USUBJID", "QSDTC"),
        name="QSTESTCD",
        value="QSSTRESC",
        tests=("EDSS", "PYRAMID"),
        carry=("QSEVAL",),
    ),
    fields={
        "assessment_date": Date("QSDTC"),
        "edss": Decimal("EDSS", places=1),
        "fs_pyramidal": Integer("PYRAMID"),
        "rater_blinded": Code("QSEVAL", {"BLINDED": True, "OPEN": False}),
    },
)
ADAPTER = SiteAdapter(
    name="testland",
    country="tl",
    version="0",
    title="test",
    reader=CsvReader(delimiter=","),
    locale=Locale(date_formats=("%Y-%m-%d",)),
    tables=(
        SUBJECTS,
        TableMap(
            "visits",
            "sv.csv",
            subject=ID,
            optional=True,
            fields={"visit_code": Const("W0"), "week": Const(0), "visit_date": Date("SVSTDTC")},
        ),
        EDSS,
    ),
    skip=(SkipFiles("vs*.csv", "vital signs: not in the shared schema"),),
)

FILES = {
    "dm.csv": (
        "USUBJID,SEX,BRTHDTC,DIAGDTC\nA1,F,1980-02-03,2010-01-01\nA2,M,1975-05-06,2009-03-04\n"
    ),
    "sv.csv": "USUBJID,SVSTDTC\nA1,2014-01-10\nA2,2014-02-01\n",
    "qs.csv": (
        "USUBJID,QSCAT,QSTESTCD,QSSTRESC,QSDTC,QSEVAL\n"
        "A1,EDSS,EDSS,3.5,2014-01-10,BLINDED\n"
        "A1,EDSS,PYRAMID,2,2014-01-10,BLINDED\n"
        "A1,MSQOL,Q1,4,2014-01-10,OPEN\n"
        "A2,EDSS,EDSS,0.5,2014-02-01,OPEN\n"
        "A2,EDSS,PYRAMID,1,2014-02-01,OPEN\n"
        "A1,EDSS,EDSS,4.0,2014-02-07,BLINDED\n"
    ),
    "vs.csv": "USUBJID,VSTESTCD\nA1,SYSBP\nA1,DIABP\nA2,SYSBP\n",
}


def write(folder: Path, skip: tuple[str, ...] = ()) -> Path:
    folder.mkdir()
    for name, text in FILES.items():
        if name not in skip:
            (folder / name).write_text(text)
    return folder


def test_keep_pivot_and_skipped_files(tmp_path: Path) -> None:
    result = ingest(ADAPTER, write(tmp_path / "x"), tmp_path / "b", SiteKey(bytes(32), tmp_path))
    sources = {s["path"]: s for s in result.manifest["sources"]}
    qs = sources["qs.csv"]
    assert (qs["rows_read"], qs["rows_mapped"], qs["rows_quarantined"], qs["rows_skipped"]) == (
        6,
        2,
        1,
        3,
    )
    assert qs["skipped_reasons"] == {"another questionnaire": 1, "merged-into-record": 2}
    vs = sources["vs.csv"]
    assert (vs["rows_read"], vs["rows_skipped"], vs["table"]) == (3, 3, "")
    edss = pq.read_table(tmp_path / "b" / "tables" / "edss.parquet").to_pylist()
    assert [(e["edss"], e["fs_pyramidal"], e["rater_blinded"], e["source_row"]) for e in edss] == [
        (3.5, 2, True, 2),
        (4.0, None, True, 7),
    ]
    assert [e["visit_code"] for e in edss] == ["W0", "W4"]  # by window: day 28 from W0
    (bad,) = result.quarantine.to_pylist()
    assert (bad["source_row"], bad["column"], bad["value"], bad["reason"]) == (
        5,
        "EDSS",
        "0.5",
        "not-in-code-list",
    )


def test_optional_file_may_be_missing(tmp_path: Path) -> None:
    result = ingest(
        ADAPTER,
        write(tmp_path / "x", skip=("sv.csv",)),
        tmp_path / "b",
        SiteKey(bytes(32), tmp_path),
    )
    assert "sv.csv" not in {s["path"] for s in result.manifest["sources"]}
    assert {w["reason"] for w in result.warnings.to_pylist()} == {"no-baseline-visit"}


@dataclass(frozen=True)
class TypedReader(Reader):
    """A reader of a typed format (as SAS or SPSS files are): numbers and dates, not text."""

    format: str = "typed"

    def columns(self, source: Source) -> list[str]:
        return ["USUBJID", "SEX", "BRTHDTC", "DIAGDTC"]

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        yield pa.RecordBatch.from_pydict(
            {
                "USUBJID": pa.array([101.0, 102.0]),
                "SEX": pa.array([1, 2]),
                "BRTHDTC": pa.array([dt.date(1980, 2, 3), dt.date(1975, 5, 6)]),
                "DIAGDTC": pa.array([dt.datetime(2010, 1, 1, 12), None]),
                ROW_COLUMN: pa.array([1, 2], pa.int64()),
            }
        )


def test_typed_cells_read_like_text(tmp_path: Path) -> None:
    subjects = TableMap(
        "subjects",
        "dm.csv",
        subject=ID,
        fields={**SUBJECTS.fields, "sex": Code("SEX", {"1": "F", "2": "M"})},
    )
    adapter = SiteAdapter(
        name="typed",
        country="ty",
        version="0",
        title="t",
        reader=TypedReader(),
        locale=Locale(decimal=",", group=".", date_formats=("%d/%m/%Y",)),
        tables=(subjects,),
    )
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "dm.csv").write_text("typed")
    result = ingest(adapter, tmp_path / "x", tmp_path / "b", SiteKey(bytes(32), tmp_path))
    rows = pq.read_table(tmp_path / "b" / "tables" / "subjects.parquet").to_pylist()
    assert [(r["sex"], r["birth_year"], r["diagnosis_date"]) for r in rows[:1]] == [
        ("F", 1980, dt.date(2010, 1, 1))
    ]
    assert [q["reason"] for q in result.quarantine.to_pylist()] == ["required-missing"]
    from federate.privacy.pseudonym import pseudonym

    assert rows[0]["subject_id"] == pseudonym(SiteKey(bytes(32), tmp_path), "ty", "101")


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    subjects = TableMap(
        "subjects", "dm.csv", subject=ID, fields=SUBJECTS.fields, optional_columns=("BRTHDTC",)
    )
    adapter = SiteAdapter(
        name="opt",
        country="op",
        version="0",
        title="t",
        reader=CsvReader(delimiter=","),
        locale=Locale(date_formats=("%Y-%m-%d",)),
        tables=(subjects,),
    )
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "dm.csv").write_text("USUBJID,SEX,DIAGDTC\nA1,F,2010-01-01\n")
    result = ingest(adapter, folder, tmp_path / "b", SiteKey(bytes(32), tmp_path))
    (bad,) = result.quarantine.to_pylist()
    assert (bad["column"], bad["reason"]) == ("BRTHDTC", "required-missing")


def test_visits_by_window_without_a_subjects_table(tmp_path: Path) -> None:
    """An export without a subjects table still assigns visits by each patient's W0 (the lookup
    finds W0 by the patient's pseudonym, as the pass's join did, not through ``__ids``)."""
    edss = TableMap(
        "edss",
        "ed.csv",
        subject=ID,
        fields={
            "assessment_date": Date("DTC"),
            "edss": Decimal("EDSS", places=1),
            "rater_blinded": Const(True),
        },
    )
    adapter = dataclasses.replace(ADAPTER, tables=(ADAPTER.tables[1], edss), skip=())
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "sv.csv").write_text(FILES["sv.csv"])
    (folder / "ed.csv").write_text("USUBJID,DTC,EDSS\nA1,2014-01-10,3.5\nA1,2014-02-07,4.0\n")
    result = ingest(adapter, folder, tmp_path / "b", SiteKey(bytes(32), tmp_path))
    rows = pq.read_table(tmp_path / "b" / "tables" / "edss.parquet").to_pylist()
    assert [r["visit_code"] for r in rows] == ["W0", "W4"]
    assert result.warnings.num_rows == 0
