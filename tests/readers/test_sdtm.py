"""The SDTM reader: the real CDISC pilot datasets, XPT encodings, SAS types, SUPP-- merging and
files that cannot be read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat
import pytest

from federate.errors import InputError
from federate.readers.base import ROW_COLUMN, Reject, Source
from federate.readers.sdtm import SdtmReader
from tests.conftest import corpus_root

PILOT = corpus_root() / "sdtm" / "cdiscpilot_update2"
SPSS = corpus_root() / "spss"
PILOT_ROWS = {
    "dm": 306, "ae": 961, "ex": 591, "sv": 3559, "cm": 7510, "ds": 596,
    "vs": 29643, "lbch": 32740, "lbhe": 21927, "lbur": 4913,
}  # fmt: skip
READER = SdtmReader(chunk_rows=5000)
Columns = dict[str, list[Any]]  # small chunks: several batches per pilot file


def read(
    path: Path, reader: SdtmReader = READER, relpath: str | None = None
) -> tuple[pa.Table, list[Reject]]:
    rejects: list[Reject] = []
    batches = list(reader.batches(Source(path, relpath or path.name), rejects))
    assert len({b.schema for b in batches}) <= 1, "every batch must share one schema"
    return pa.Table.from_batches(batches), rejects


def write_xpt(
    path: Path,
    data: Columns,
    version: Literal[5, 8] = 5,
    formats: dict[str, str] | None = None,
    replace: dict[bytes, bytes] | None = None,
) -> Path:
    """An XPT written by pyreadstat (always UTF-8), with placeholder bytes swapped afterwards
    (same length) to plant bytes of another encoding."""
    pyreadstat.write_xport(
        pl.DataFrame(data),
        path,
        file_format_version=version,
        table_name=path.stem.upper()[:8],
        variable_format=formats or {},
    )
    raw = path.read_bytes()
    for old, new in (replace or {}).items():
        assert len(old) == len(new)
        raw = raw.replace(old, new)
    path.write_bytes(raw)
    return path


# --- the CDISC pilot study, as released ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PILOT_ROWS))
def test_pilot_dataset_reads_like_pyreadstat_whole_file(name: str) -> None:
    path = PILOT / f"{name}.xpt"
    table, rejects = read(path)
    df, meta = pyreadstat.read_xport(path, output_format="polars", disable_datetime_conversion=True)
    assert not rejects
    assert table.num_rows == df.height == PILOT_ROWS[name]
    assert table.column_names == [*meta.column_names, ROW_COLUMN]
    assert READER.columns(Source(path, path.name)) == meta.column_names
    rows = table.column(ROW_COLUMN).to_numpy()
    assert np.array_equal(rows, np.arange(1, df.height + 1))
    for col in meta.column_names:
        want = df.get_column(col).to_arrow()
        if meta.readstat_variable_types[col] == "string":
            want = want.cast(pa.string())
            want = pc.if_else(pc.equal(want, ""), pa.scalar(None, pa.string()), want)
        assert table.column(col).combine_chunks().equals(want.cast(table.schema.field(col).type))
    facts = READER.source_facts(Source(path, path.name))
    facts.pop("system_columns")
    assert facts == {"format": "xpt", "encoding": "utf-8", "dataset": name.upper()}


def test_sdtm_identifier_variables_are_system_columns() -> None:
    """SDTMIG's identifier variables (STUDYID, DOMAIN, USUBJID, --SEQ, --SPID...) are the
    dataset's bookkeeping: never warned of as unknown columns."""
    facts = READER.source_facts(Source(PILOT / "ae.xpt", "ae.xpt"))
    assert facts["system_columns"] == "STUDYID,DOMAIN,USUBJID,AESEQ,AESPID"
    facts = READER.source_facts(Source(PILOT / "dm.xpt", "dm.xpt"))
    assert facts["system_columns"] == "STUDYID,DOMAIN,USUBJID"


def test_pilot_types_follow_sas_types() -> None:
    table, _ = read(PILOT / "ae.xpt")
    assert table.schema.field("AETERM").type == pa.string()
    assert table.schema.field("AESEQ").type == pa.float64()
    assert table.schema.field("AESOCCD").type == pa.float64()  # MedDRA codes are numeric
    for col in table.column_names[:-1]:
        if table.schema.field(col).type == pa.string():
            assert not pc.any(pc.equal(table.column(col), "")).as_py(), f"{col} holds ''"
    # SAS missing: blank character and missing numeric values are null.
    assert table.column("AEENDTC").null_count == 472
    assert table.column("AEENDY").null_count > 0


def _count(table: pa.Table, col: str, pattern: str) -> int:
    return int(pc.sum(pc.match_substring_regex(table.column(col), pattern)).as_py() or 0)


def test_pilot_partial_and_timed_dates_survive_as_text() -> None:
    ae, _ = read(PILOT / "ae.xpt")
    cm, _ = read(PILOT / "cm.xpt")
    lb, _ = read(PILOT / "lbch.xpt")
    dm, _ = read(PILOT / "dm.xpt")
    assert ae.schema.field("AESTDTC").type == pa.string()
    assert _count(ae, "AESTDTC", r"^\d{4}-\d{2}$") == 13  # known to the month
    assert _count(ae, "AESTDTC", r"^\d{4}$") == 11  # known to the year
    assert _count(cm, "CMSTDTC", r"^\d{4}$") == 3731
    assert _count(cm, "CMSTDTC", r"^\d{4}-\d{2}$") == 1723
    assert _count(lb, "LBDTC", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$") == 32617
    assert _count(dm, "RFPENDTC", r"T\d{2}:\d{2}$") == 150
    assert "2013-12-26T14:45" in lb.column("LBDTC").to_pylist()[:3]


# --- encodings: XPT records none -------------------------------------------------------------

VERBATIMS: Columns = {"AETERM": ["c#phal#e", "maux d#oreille", "fatigue"], "AESEQ": [1.0, 2.0, 3.0]}
CP1252 = {b"c#phal#e": "céphalée".encode("cp1252"), b"d#oreille": "d’oreille".encode("cp1252")}


@pytest.mark.parametrize("version", [5, 8])
def test_cp1252_bytes_fall_back_to_cp1252(tmp_path: Path, version: Literal[5, 8]) -> None:
    path = write_xpt(tmp_path / "ae.xpt", VERBATIMS, version, replace=CP1252)
    table, _ = read(path)
    assert table.column("AETERM").to_pylist() == ["céphalée", "maux d’oreille", "fatigue"]
    assert READER.source_facts(Source(path, "ae.xpt"))["encoding"] == "cp1252"
    with pytest.raises(InputError) as err:
        read(path, SdtmReader(encodings=("utf-8",)))
    assert err.value.code == "wrong-encoding"
    assert "utf-8 fails at record 1" in str(err.value)


@pytest.mark.parametrize("version", [5, 8])
def test_utf8_text_stays_utf8(tmp_path: Path, version: Literal[5, 8]) -> None:
    terms = ["céphalée", "maux d’oreille", "fatigue"]
    path = write_xpt(tmp_path / "ae.xpt", {"AETERM": terms, "AESEQ": [1.0, 2.0, 3.0]}, version)
    table, _ = read(path)
    assert table.column("AETERM").to_pylist() == terms
    assert READER.source_facts(Source(path, "ae.xpt"))["encoding"] == "utf-8"


def test_a_later_cp1252_byte_decides_the_whole_file(tmp_path: Path) -> None:
    terms = ["ok"] * 300 + ["c#phal#e"]
    path = write_xpt(tmp_path / "ae.xpt", {"AETERM": terms}, replace=CP1252)
    table, _ = read(path, SdtmReader(chunk_rows=64))
    assert table.column("AETERM").to_pylist()[-1] == "céphalée"
    assert table.column(ROW_COLUMN).to_pylist()[-1] == 301


# --- SAS types -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [5, 8])
def test_numeric_dates_become_dates(tmp_path: Path, version: Literal[5, 8]) -> None:
    data: Columns = {
        "USUBJID": ["01", "02", ""],
        "BRTHDT": [dt.date(1980, 3, 1), None, dt.date(1959, 12, 31)],
        "AGE": [44.0, None, 64.5],
    }
    path = write_xpt(tmp_path / "dm.xpt", data, version, formats={"BRTHDT": "DATE9."})
    table, _ = read(path)
    assert table.schema.field("BRTHDT").type == pa.date32()
    assert table.column("BRTHDT").to_pylist() == data["BRTHDT"]
    assert table.column("AGE").to_pylist() == [44.0, None, 64.5]
    assert table.column("USUBJID").to_pylist() == ["01", "02", None]


@pytest.mark.parametrize(
    "relpath",
    [
        "basic/sample.sas7bdat",
        "basic/sample_bincompressed.sas7bdat",
        "basic/date_test.sas7bdat",
        "basic/sample.xpt",
        "basic/dates_xpt_v8.xpt",
        "basic/sas.xpt5",
        "basic/sas.xpt8",
        "ínternátionál/sample.sas7bdat",
    ],
)
def test_sas_files_type_dates_as_pyreadstat_does(relpath: str) -> None:
    path = SPSS / relpath
    table, _ = read(path, SdtmReader(chunk_rows=3))
    fn = pyreadstat.read_sas7bdat if path.suffix == ".sas7bdat" else pyreadstat.read_xport
    df, _ = fn(path, output_format="polars")
    assert table.num_rows == df.height
    for col in df.columns:
        want = df.get_column(col).to_arrow()
        got = table.column(col).combine_chunks()
        if pa.types.is_time(want.type) or pa.types.is_null(want.type):
            want = want.cast(got.type)
        elif pa.types.is_large_string(want.type):
            want = pc.if_else(pc.equal(want, ""), None, want).cast(pa.string())
        assert got.equals(want), col


def test_sas7bdat_reports_its_own_encoding_and_types_all_missing_columns() -> None:
    facts = READER.source_facts(Source(SPSS / "basic/date_test.sas7bdat", "d.sas7bdat"))
    assert facts["format"] == "sas7bdat" and facts["encoding"] == "WINDOWS-1252"
    table, _ = read(SPSS / "missing_data/missing_test.sas7bdat")
    assert {table.schema.field(c).type for c in table.column_names[:-1]} == {pa.float64()}


# --- CSV -------------------------------------------------------------------------------------


def test_csv_dataset_keeps_text_and_reads_sas_missing_numbers(tmp_path: Path) -> None:
    path = tmp_path / "ae.csv"
    path.write_bytes(
        "USUBJID,AESEQ,AETERM,AESTDTC\n01,1,Céphalée,2014-03\n02,.,.,2014\n03,2,,\n".encode(
            "cp1252"
        )
    )
    table, rejects = read(path)
    assert not rejects
    assert table.column("AESEQ").to_pylist() == ["1", None, "2"]
    assert table.column("AETERM").to_pylist() == ["Céphalée", ".", None]  # "." is text here
    assert table.column("AESTDTC").to_pylist() == ["2014-03", "2014", None]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 3, 4]  # header = record 1
    facts = READER.source_facts(Source(path, "ae.csv"))
    assert facts == {"format": "csv", "encoding": "cp1252", "system_columns": "USUBJID,AESEQ"}


# --- SUPP-- ------------------------------------------------------------------------------------

AE: Columns = {
    "STUDYID": ["S"] * 4,
    "DOMAIN": ["AE"] * 4,
    "USUBJID": ["01", "01", "02", "03"],
    "AESEQ": [1.0, 2.0, 1.0, 1.0],
    "AETERM": ["headache", "nausea", "fatigue", "rash"],
}
SUPPAE_ROWS = [
    # RDOMAIN, USUBJID, IDVAR, IDVARVAL, QNAM, QVAL
    ("AE", "01", "AESEQ", "1", "AETRTEM", "Y"),
    ("AE", "01", "AESEQ", "2.0", "AETRTEM", "N"),  # numeric spelling differs from 2
    ("AE", "02", "AESEQ", " 1", "AETRTEM", "Y"),
    ("AE", "01", "", "", "AEREPORT", "by phone"),  # subject level: every record of 01
    ("AE", "09", "AESEQ", "1", "AETRTEM", "Y"),  # no parent record
    ("AE", "02", "AESEQ", "1", "AETRTEM", "N"),  # repeats a pair: the first wins
    ("AE", "02", "AESPID", "X", "AESOSP", "other"),  # IDVAR the dataset lacks
    ("CM", "01", "AESEQ", "1", "AETRTEM", "?"),  # another domain's record
]
SUPP_COLUMNS = ["RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL"]
SUPPAE: Columns = {c: [r[i] for r in SUPPAE_ROWS] for i, c in enumerate(SUPP_COLUMNS)}


def _check_merged(table: pa.Table) -> None:
    assert table.column_names == [*AE, "AETRTEM", "AEREPORT", "AESOSP", ROW_COLUMN]
    assert table.column("AETRTEM").to_pylist() == ["Y", "N", "Y", None]
    assert table.column("AEREPORT").to_pylist() == ["by phone", "by phone", None, None]
    assert table.column("AESOSP").to_pylist() == [None] * 4
    assert table.column("AETERM").to_pylist() == AE["AETERM"]
    assert table.column(ROW_COLUMN).to_pylist()[0] in (1, 2)


@pytest.mark.parametrize("version", [5, 8])
def test_supp_qualifiers_merge_onto_parent_records(tmp_path: Path, version: Literal[5, 8]) -> None:
    path = write_xpt(tmp_path / "ae.xpt", AE, version)
    write_xpt(tmp_path / "suppae.xpt", SUPPAE, version)
    reader = SdtmReader(chunk_rows=2)  # the merge works batch by batch
    table, _ = read(path, reader, "export/ae.xpt")
    _check_merged(table)
    assert table.column(ROW_COLUMN).to_pylist() == [1, 2, 3, 4]
    assert reader.columns(Source(path, "export/ae.xpt")) == [*AE, "AETRTEM", "AEREPORT", "AESOSP"]
    facts = reader.source_facts(Source(path, "export/ae.xpt"))
    assert facts["supp_file"] == "export/suppae.xpt"
    assert facts["supp_qnams"] == "AETRTEM,AEREPORT,AESOSP"
    assert facts["supp_records"] == "8"
    assert facts["supp_duplicates"] == "1"
    assert facts["supp_idvar_not_in_dataset"] == "AESPID"
    # Read on its own (an adapter's SkipFiles counts it), a SUPP file is just its records.
    supp, _ = read(tmp_path / "suppae.xpt", reader)
    assert supp.num_rows == len(SUPPAE_ROWS)
    off, _ = read(path, SdtmReader(merge_supp=False))
    assert off.column_names == [*AE, ROW_COLUMN]


def test_supp_merges_onto_csv_datasets_by_sdtm_numeric_names(tmp_path: Path) -> None:
    def csv(rows: Columns) -> str:
        cols = list(rows)
        lines = [",".join(cols)] + [
            ",".join("" if v is None else f"{v:g}" if isinstance(v, float) else v for v in rec)
            for rec in zip(*rows.values(), strict=True)
        ]
        return "\n".join(lines) + "\n"

    (tmp_path / "ae.csv").write_text(csv(AE), encoding="utf-8")
    (tmp_path / "suppae.csv").write_text(csv(SUPPAE), encoding="utf-8")
    table, _ = read(tmp_path / "ae.csv", SdtmReader(chunk_rows=2))
    _check_merged(table)
    assert table.column("AESEQ").to_pylist() == ["1", "2", "1", "1"]


def test_split_dataset_merges_its_own_supp(tmp_path: Path) -> None:
    lb: Columns = {"DOMAIN": ["LB", "LB"], "USUBJID": ["01", "01"], "LBSEQ": [7.0, 8.0]}
    supp: Columns = {
        "RDOMAIN": ["LB"], "USUBJID": ["01"], "IDVAR": ["LBSEQ"], "IDVARVAL": ["8"],
        "QNAM": ["LBFAST"], "QVAL": ["Y"],
    }  # fmt: skip
    write_xpt(tmp_path / "supplbch.xpt", supp)
    table, _ = read(write_xpt(tmp_path / "lbch.xpt", lb))
    assert table.column("LBFAST").to_pylist() == [None, "Y"]


def test_supp_qualifier_named_like_a_parent_column_is_refused(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "ae.xpt", AE)
    clash = {**SUPPAE, "QNAM": ["AETERM"] * len(SUPPAE_ROWS)}
    write_xpt(tmp_path / "suppae.xpt", clash)
    with pytest.raises(InputError) as err:
        read(path)
    assert err.value.code == "supp-name-clash"


# --- files that cannot be read -----------------------------------------------------------------


def _truncated_v8(tmp_path: Path) -> Path:
    """Cut at a record boundary: only v8's stated record count can tell."""
    path = write_xpt(tmp_path / "ae.xpt", {"AETERM": ["x" * 80] * 10}, version=8)
    raw = path.read_bytes()
    obs = raw.index(b"HEADER RECORD*******OBSV8") + 80
    (tmp_path / "cut.xpt").write_bytes(raw[: obs + 5 * 80])
    return tmp_path / "cut.xpt"


def _cut_after_an_observation(tmp_path: Path) -> Path:
    """The pilot's AE cut right after its 40th observation: whole observations, but not a whole
    number of the format's 80-byte records (issue 23: 40 of 103 AEs read, all accepted)."""
    raw = (PILOT / "ae.xpt").read_bytes()
    _, meta = pyreadstat.read_xport(str(PILOT / "ae.xpt"), metadataonly=True)
    width = sum(meta.variable_storage_width.values())
    first = raw.index(b"HEADER RECORD*******OBS") + 80
    cut = first + 40 * width
    assert cut % 80  # else nothing in the file could tell
    (tmp_path / "ae.xpt").write_bytes(raw[:cut])
    return tmp_path / "ae.xpt"


def _two_datasets(tmp_path: Path) -> Path:
    raw = write_xpt(tmp_path / "ae.xpt", {"AETERM": ["x"] * 3}).read_bytes()
    (tmp_path / "two.xpt").write_bytes(raw + raw[240:])  # a second MEMBER after the first
    return tmp_path / "two.xpt"


def _cut(tmp_path: Path) -> Path:
    raw = write_xpt(tmp_path / "ae.xpt", {"AETERM": ["abc"] * 50, "AESEQ": [1.0] * 50}).read_bytes()
    (tmp_path / "cut.xpt").write_bytes(raw[: len(raw) - 300])
    return tmp_path / "cut.xpt"


def _bytes(name: str, data: bytes) -> Any:
    def make(tmp_path: Path) -> Path:
        (tmp_path / name).write_bytes(data)
        return tmp_path / name

    return make


def _corpus_prefix(name: str, source: Path, size: int) -> Any:
    return _bytes(name, source.read_bytes()[:size])


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_bytes("ae.xpt", b""), "empty-file"),
        (_bytes("ae.xpt", b"USUBJID,AETERM\n01,headache\n"), "not-xpt"),
        (_bytes("ae.xpt", np.random.default_rng(7).bytes(4000)), "not-xpt"),
        (_corpus_prefix("ae.xpt", SPSS / "basic/sample.sav", 10_000), "not-xpt"),
        (_corpus_prefix("ae.xpt", PILOT / "ae.xpt", 1000), "unreadable-file"),
        (_corpus_prefix("ae.xpt", PILOT / "ae.xpt", 240_000), "truncated-file"),
        (_cut, "truncated-file"),
        (_truncated_v8, "truncated-file"),
        (_cut_after_an_observation, "truncated-file"),
        (_two_datasets, "multi-dataset-xpt"),
        (_corpus_prefix("x.sas7bdat", SPSS / "basic/sample.sas7bdat", 3000), "unreadable-file"),
        (_bytes("x.sas7bdat", b"not a dataset"), "not-sas7bdat"),
        (_bytes("ae.sav", b"$FL2"), "unknown-format"),
    ],
)
def test_unreadable_files_raise_input_error(tmp_path: Path, make: Any, code: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as err:
        READER.columns(Source(path, path.name))
        read(path)
    assert err.value.code == code
    message = str(err.value)
    assert path.name in message and "\n" not in message and "Traceback" not in message


def test_unparsed_header_falls_back_to_readstat_for_the_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("federate.readers.sdtm_sas.layout", lambda path, ncols: None)
    path = write_xpt(tmp_path / "ae.xpt", VERBATIMS, replace=CP1252)
    reader = SdtmReader()
    table, _ = read(path, reader)
    assert table.column("AETERM").to_pylist()[0] == "céphalée"
    assert reader.source_facts(Source(path, "ae.xpt"))["encoding"] == "cp1252"


def test_dataset_without_records_has_columns_and_no_batches(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema={"USUBJID": pl.String, "AESEQ": pl.Float64})
    pyreadstat.write_xport(empty, tmp_path / "ae.xpt", table_name="AE")
    source = Source(tmp_path / "ae.xpt", "ae.xpt")
    assert READER.columns(source) == ["USUBJID", "AESEQ"]
    assert list(READER.batches(source, [])) == []


def test_supp_without_its_key_columns_is_refused(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "ae.xpt", AE)
    write_xpt(tmp_path / "suppae.xpt", {k: v for k, v in SUPPAE.items() if k != "QVAL"})
    with pytest.raises(InputError) as err:
        READER.columns(Source(path, "ae.xpt"))
    assert err.value.code == "bad-supp" and "QVAL" in str(err.value)


def test_date_beyond_any_calendar_is_an_input_error(tmp_path: Path) -> None:
    data: Columns = {"USUBJID": ["01"], "BRTHDT": [1e12]}
    path = write_xpt(tmp_path / "dm.xpt", data, formats={"BRTHDT": "DATE9."})
    with pytest.raises(InputError) as err:
        read(path)
    assert err.value.code == "bad-sas-date" and "BRTHDT" in str(err.value)


@pytest.mark.parametrize(("fmt", "shown"), [("DATE9.", "%d%^b%Y"), ("DDMMYY8.", "%d/%m/%y"),
                                            ("E8601DA10.", "%Y-%m-%d")])  # fmt: skip
def test_a_date_variable_says_how_sas_shows_it(tmp_path: Path, fmt: str, shown: str) -> None:
    """The value 'as exported' of a SAS date is the date as its format shows it."""
    data: Columns = {"USUBJID": ["01"], "BRTHDT": [dt.date(1980, 3, 1)], "AGE": [44.0]}
    path = write_xpt(tmp_path / "dm.xpt", data, 8, formats={"BRTHDT": fmt})
    facts = SdtmReader().source_facts(Source(path, "dm.xpt"))
    assert facts["shown_as.BRTHDT"] == shown
    assert "shown_as.AGE" not in facts
