"""The Excel reader: the real SEND workbook against openpyxl, and workbooks with real habits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xlsxwriter

from federate.errors import InputError
from federate.readers import ROW_COLUMN, Reject, Source
from federate.readers.base import CELL
from federate.readers.excel import ExcelReader, cell_ref, column_letter, render, serial_date
from federate.readers.excel_package import Shown, date_format
from tests.conftest import corpus_root

WORKBOOK = corpus_root() / "excel" / "phuse_SEND_PC201708.xlsx"
SEND = ExcelReader(expect=("STUDYID",))  # RELREC has no DOMAIN column


def typed(path: Path, part: str | None, reader: ExcelReader | None = None) -> pa.Table:
    """The sheet as one table as the reader yields it: the reader's columns, each text or
    ``CELL``s (one schema for every batch)."""
    reader = reader or ExcelReader()
    source = Source(path, path.name, part)
    rejects: list[Reject] = []
    batches = list(reader.batches(source, rejects))
    assert rejects == []
    if not batches:
        fields = [pa.field(name, pa.string()) for name in reader.columns(source)]
        return pa.schema([*fields, pa.field(ROW_COLUMN, pa.int64())]).empty_table()
    table = pa.Table.from_batches(batches)
    assert table.column_names == [*reader.columns(source), ROW_COLUMN]
    assert all(t in (pa.string(), CELL) for t in table.schema.types[:-1])
    return table


def read(path: Path, part: str | None, reader: ExcelReader | None = None) -> pa.Table:
    """The sheet as one table of text: each cell as the site sees it."""
    table = typed(path, part, reader)
    return pa.table(
        {
            name: pc.struct_field(column, "text") if column.type == CELL else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )


Writer = Callable[[xlsxwriter.Workbook], None]


def workbook(tmp_path: Path, build: Writer, **options: Any) -> Path:
    path = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(path, options)
    build(book)
    book.close()
    return path


# --- the real workbook, cell by cell against openpyxl in full mode ---------------------------


@pytest.fixture(scope="module")
def openpyxl_book() -> Iterator[Any]:
    # Full mode: read-only mode trusts this workbook's wrong <dimension ref="A1"/>.
    with pytest.warns(UserWarning, match="no default style"):
        book = openpyxl.load_workbook(WORKBOOK, data_only=True)
    yield book
    book.close()


def test_every_sheet_matches_openpyxl(openpyxl_book: Any) -> None:
    for ws in openpyxl_book.worksheets:
        source = Source(WORKBOOK, WORKBOOK.name, ws.title)
        table = read(WORKBOOK, ws.title, SEND)
        expected = [
            (number, [render(v) for v in values])
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1)
            if any(v is not None and str(v).strip() for v in values)
        ]
        (header_row, header), *data = expected[1:]  # row 2 holds labels, row 3 the names
        assert SEND.source_facts(source) == {"sheet": ws.title, "header_row": str(header_row)}
        kept = [i for i, name in enumerate(header) if name]
        names = [header[i] for i in kept]
        assert SEND.columns(source) == table.column_names[:-1] == names, ws.title
        got = list(zip(*(table.column(n).to_pylist() for n in names), strict=True))
        assert got == [tuple(values[i] for i in kept) for _, values in data], ws.title
        blank = set(range(len(header))) - set(kept)
        assert all(values[i] is None for _, values in data for i in blank), ws.title
        assert table.column(ROW_COLUMN).to_pylist() == [n for n, _ in data], ws.title


@pytest.mark.parametrize(("sheet", "readme_count"), [("LB", 5750), ("MI", 4228), ("BW", 1753)])
def test_row_counts_exclude_the_label_and_header_rows(sheet: str, readme_count: int) -> None:
    # The corpus README counts openpyxl rows: the labels row (2) and the header row (3) too.
    table = read(WORKBOOK, sheet, SEND)
    assert table.num_rows == readme_count - 2
    assert table.column(ROW_COLUMN)[0].as_py() == 4
    assert table.column(ROW_COLUMN)[-1].as_py() == readme_count + 1  # row 1 is empty


def test_sheet_names_match_ignoring_case_and_the_default_header_is_the_first_row() -> None:
    source = Source(WORKBOOK, WORKBOOK.name, " lb ")
    reader = ExcelReader()
    assert reader.columns(source)[:2] == ["Study Identifier", "Domain Abbreviation"]
    assert reader.source_facts(source) == {"sheet": "LB", "header_row": "2"}
    assert SEND.cell_ref(Source(WORKBOOK, WORKBOOK.name, "LB"), 17, "lborres") == "LB!H17"


# --- workbooks with the habits of real sites --------------------------------------------------


def test_title_rows_blank_rows_and_blank_columns(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("Adverse events")
        ws.write("A1", "MESEMS London: adverse events (exported 03/02/2016)")
        ws.write_row("B3", ["Trial No", "AE term", None, "Onset"])
        ws.write_row("B4", [7, "Headache", None, "12/03/2015"])
        ws.write_row("B5", [8, "Nausea"])
        ws.write_row("B7", ["", "  "])  # spaces only: not a record
        ws.write_row("B8", [9, "Fatigue", None, "01/04/2015"])
        ws.write("A20", None, book.add_format({"bold": True}))  # formatting only

    path = workbook(tmp_path, build)
    reader = ExcelReader(expect=("trial no",))
    source = Source(path, path.name, "Adverse events")
    assert reader.columns(source) == ["Trial No", "AE term", "Onset"]
    table = read(path, "Adverse events", reader)
    assert table.to_pydict() == {
        "Trial No": ["7", "8", "9"],
        "AE term": ["Headache", "Nausea", "Fatigue"],
        "Onset": ["12/03/2015", None, "01/04/2015"],
        ROW_COLUMN: [4, 5, 8],
    }
    assert reader.cell_ref(source, 8, "Onset") == "'Adverse events'!E8"
    assert reader.source_facts(source) == {"sheet": "Adverse events", "header_row": "3"}


def test_row_numbers_are_excels_when_the_table_starts_far_from_a1(tmp_path: Path) -> None:
    # Pins python-calamine's iter_rows, which pads the rows above the used range.
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("Data")
        ws.write_row("D12", ["id", "value"])
        ws.write_row("D13", ["a", 1])
        ws.write_row("D15", ["b", 2])

    path = workbook(tmp_path, build)
    table = read(path, "Data", ExcelReader(batch_rows=1))
    assert table.column(ROW_COLUMN).to_pylist() == [13, 15]
    assert ExcelReader().cell_ref(Source(path, path.name, "Data"), 15, "VALUE") == "Data!E15"


def test_dates_as_date_cells_text_and_serial_numbers(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        day = book.add_format({"num_format": "dd/mm/yyyy"})
        stamp = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        ws = book.add_worksheet("Visits")
        ws.write_row("A1", ["id", "visit date", "note"])
        ws.write_datetime("B2", dt.datetime(2015, 3, 12), day)
        ws.write_string("B3", "12/03/2015")
        ws.write_number("B4", 42075)  # a date cell reformatted as General
        ws.write_number("B5", 42075.5)
        ws.write_datetime("B6", dt.datetime(2015, 3, 12, 10, 30), stamp)
        ws.write_number("B7", 0)  # not a date: left as the number it is
        ws.write_column("C2", [42075] * 6)
        ws.write_column("A2", [1, 2, 3, 4, 5, 6])

    path = workbook(tmp_path, build)
    table = typed(path, "Visits", ExcelReader(serial_dates=("Visit Date",)))
    day = dt.date(2015, 3, 12)
    # Each cell as the site sees it (a date cell through its format, without the time of day;
    # a serial number as the number it shows), and what it holds.
    assert table.column("visit date").to_pylist() == [
        {"text": "12/03/2015", "number": None, "date": day, "precision": "day"},
        {"text": "12/03/2015", "number": None, "date": None, "precision": None},  # text
        {"text": "42075", "number": None, "date": day, "precision": "day"},
        {"text": "42075.5", "number": None, "date": day, "precision": "day"},
        {"text": "12/03/2015", "number": None, "date": day, "precision": "day"},
        {"text": "0", "number": 0.0, "date": None, "precision": None},
    ]
    note = table.column("note").to_pylist()  # not declared a serial date: the number it is
    assert note == [{"text": "42075", "number": 42075.0, "date": None, "precision": None}] * 6


def test_serials_count_from_1904_in_mac_workbooks(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("Visits")
        ws.write_row("A1", ["id", "visit date"])
        ws.write_row("A2", [1, 40613])  # 2015-03-12 counted from 1904-01-01
        ws.write_datetime("B3", dt.datetime(2015, 3, 12), book.add_format({"num_format": "d/m/y"}))
        ws.write("A3", 2)

    path = workbook(tmp_path, build, date_1904=True)
    reader = ExcelReader(serial_dates=("visit date",))
    table = typed(path, "Visits", reader)
    cells = table.column("visit date").to_pylist()
    assert [c["date"] for c in cells] == [dt.date(2015, 3, 12)] * 2
    assert [c["text"] for c in cells] == ["40613", "12/3/15"]  # as the site sees them
    assert reader.source_facts(Source(path, path.name, "Visits"))["date_system"] == "1904"


def test_numbers_text_numbers_formulas_and_errors(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("Labs")
        ws.write_row("A1", ["Patient ID", "result", "flag"])
        ws.write_number("A2", 123)  # was "00123" before Excel stripped the zeros
        ws.write_string("A3", "00123")  # a number stored as text
        ws.write_column("B2", [5.6, 0.1 + 0.2, -0.0, 1e20])
        ws.write_formula("B6", "=B2*10", None, 56)
        ws.write_formula("B7", "=NA()", None, "#N/A")
        ws.write_formula("C2", '=IF(B2>5,"HIGH","")', None, "HIGH")
        ws.write_boolean("C3", True)
        ws.write_column("A4", [4, 5, 6, 7])

    path = workbook(tmp_path, build)
    table = read(path, "Labs")
    assert table.to_pydict() == {
        "Patient ID": ["123", "00123", "4", "5", "6", "7"],
        "result": ["5.6", "0.3", "0", "1e+20", "56", "#N/A"],
        "flag": ["HIGH", "TRUE", None, None, None, None],
        ROW_COLUMN: [2, 3, 4, 5, 6, 7],
    }


def test_hidden_and_readme_sheets_are_ignored(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        readme = book.add_worksheet("README")
        readme.write("A1", "Exported from MACRO; see the data dictionary")
        data = book.add_worksheet("Patients")
        data.write_row("A1", ["Trial No", "sex"])
        data.write_row("A2", [1, "F"])
        codes = book.add_worksheet("codes")
        codes.write_row("A1", ["code", "label"])
        codes.hide()

    path = workbook(tmp_path, build)
    assert read(path, "Patients").column("sex").to_pylist() == ["F"]
    assert read(path, "CODES").column_names == ["code", "label", ROW_COLUMN]
    with pytest.raises(
        InputError, match=r"2 visible sheets \(README, Patients, codes \(hidden\)\)"
    ):
        ExcelReader().columns(Source(path, path.name))


def test_without_a_part_the_only_visible_sheet_is_read(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        book.add_worksheet("Patients").write_row("A1", ["Trial No"])
        book.add_worksheet("lookups").hide()

    path = workbook(tmp_path, build)
    assert ExcelReader().columns(Source(path, path.name)) == ["Trial No"]


def test_a_missing_sheet_lists_the_sheets_present(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        book.add_worksheet("Patients").write("A1", "id")
        book.add_worksheet("Adverse events").write("A1", "id")

    path = workbook(tmp_path, build)
    with pytest.raises(InputError) as err:
        ExcelReader().columns(Source(path, "export.xlsx", "AE"))
    assert err.value.code == "missing-sheet"
    assert str(err.value) == (
        "the workbook has no sheet 'AE' (sheets present: Patients, Adverse events) "
        "(file export.xlsx)"
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"id,sex\n1,F\n", b"PK\x03\x04 cut short", b"<html>not a workbook</html>"],
    ids=["empty", "csv", "truncated-zip", "html"],
)
def test_a_file_that_is_not_a_workbook_is_bad_input(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        ExcelReader().columns(Source(path, "export.xlsx", "Patients"))
    assert err.value.code == "unreadable-workbook"
    assert "(file export.xlsx)" in str(err.value)


def test_a_cut_workbook_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(WORKBOOK.read_bytes()[:50_000])
    with pytest.raises(InputError, match="cannot be read as a workbook"):
        ExcelReader().columns(Source(path, "export.xlsx", "LB"))


def test_header_problems_name_the_sheet_and_row(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("AE")
        ws.write("A1", "Adverse events")
        ws.write_row("A3", ["id", "term", "Term"])
        book.add_worksheet("Empty")

    path = workbook(tmp_path, build)
    with pytest.raises(InputError, match=r"sheet 'AE': no row among the first 30 holds Trial No"):
        ExcelReader(expect=("Trial No",)).columns(Source(path, "x.xlsx", "AE"))
    with pytest.raises(InputError, match=r"repeats column\(s\) 'term' \(B3, C3\)"):
        ExcelReader(header_row=3).columns(Source(path, "x.xlsx", "AE"))
    with pytest.raises(InputError, match="declared header row 2 is blank"):
        ExcelReader(header_row=2).columns(Source(path, "x.xlsx", "AE"))
    with pytest.raises(InputError, match="sheet 'Empty' is empty"):
        ExcelReader().columns(Source(path, "x.xlsx", "Empty"))


def test_data_under_a_blank_header_is_kept_as_an_unknown_column(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("AE")
        ws.write_row("A1", ["id", "term"])
        ws.write_row("A2", [1, "Headache", None, "checked JS"])

    path = workbook(tmp_path, build)
    table = read(path, "AE")
    assert table.column_names == ["id", "term", "(column D)", ROW_COLUMN]
    assert table.column("(column D)").to_pylist() == ["checked JS"]


def test_many_batches_share_one_schema(tmp_path: Path) -> None:
    def build(book: xlsxwriter.Workbook) -> None:
        ws = book.add_worksheet("Labs")
        ws.write_row("A1", ["id", "value"])
        for row in range(1, 50):
            if row % 7:
                ws.write_row(row, 0, [row, row / 4])

    path = workbook(tmp_path, build)
    batches = list(ExcelReader(batch_rows=8).batches(Source(path, "x.xlsx", "Labs"), []))
    assert len(batches) > 5
    assert {b.schema for b in batches} == {batches[0].schema}
    rows = pa.Table.from_batches(batches).column(ROW_COLUMN).to_pylist()
    assert rows == [r + 1 for r in range(1, 50) if r % 7]


def test_a_formula_without_a_cached_value_reads_as_empty(tmp_path: Path) -> None:
    # openpyxl saves formulas without the value Excel would have computed: nothing to read.
    path = tmp_path / "export.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Data"
    ws.append(["id", "double"])
    ws.append([1, "=A2*2"])
    book.save(path)
    assert read(path, "Data").column("double").to_pylist() == [None]


# --- the canonical rendering and the A1 helper ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        (" 007 ", " 007 "),
        (123.0, "123"),
        (7, "7"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.3"),
        (1e15, "1e+15"),
        (True, "TRUE"),
        (dt.date(2015, 3, 12), "2015-03-12"),
        (dt.datetime(2015, 3, 12), "2015-03-12"),
        (dt.datetime(2015, 3, 12, 10, 29, 59, 999_500), "2015-03-12 10:30:00"),
        (dt.time(10, 30), "10:30:00"),
        (dt.timedelta(days=1, hours=12), "36:00:00"),
    ],
)
def test_render(value: Any, text: str | None) -> None:
    assert render(value) == text


def test_serial_dates() -> None:
    assert serial_date(42075) == "2015-03-12"
    assert serial_date(61) == "1900-03-01"
    assert serial_date(0) is None
    assert serial_date(3e6) is None


def test_a1_references() -> None:
    assert [column_letter(n) for n in (1, 26, 27, 52, 703, 16384)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "AAA",
        "XFD",
    ]
    assert cell_ref("LB", 17, 4) == "LB!D17"
    assert cell_ref("Adverse events", 17, 4) == "'Adverse events'!D17"
    assert cell_ref("O'Brien", 2, 1) == "'O''Brien'!A2"
    assert cell_ref("AB1", 2, 1) == "'AB1'!A2"
    assert cell_ref("2015", 2, 1) == "'2015'!A2"


# --- date cells as the site sees them, to the precision their format shows --------------------


def test_date_cells_are_known_to_what_their_format_shows(tmp_path: Path) -> None:
    """A workbook written with openpyxl, one column mixing date formats cell by cell (read
    beside the batches, two rows at a time): each cell's date, its precision and its text as
    the site sees it, without the time of day; never an invented day."""
    cells = [
        (dt.datetime(2014, 6, 12, 13, 45), "dd/mm/yyyy hh:mm", "12/06/2014", "day"),
        (dt.datetime(2014, 6, 1), "mmm-yy", "Jun-14", "month"),
        (dt.datetime(2014, 6, 15), "mmmm yyyy", "June 2014", "month"),  # the day unseen
        (dt.datetime(2014, 1, 1), "yyyy", "2014", "year"),
        (dt.datetime(2014, 6, 12), "mm-dd-yy", "12/06/2014", "day"),  # the system short date
        (dt.datetime(2014, 6, 12), "[$-809]dd mmmm yyyy;@", "12 June 2014", "day"),
        (dt.datetime(2014, 6, 12, 8, 30), "yyyy-mm-dd h:mm:ss", "2014-06-12", "day"),
    ]
    path = tmp_path / "export.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "AE"
    ws.append(["id", "onset", "term", "result"])
    for row, (value, fmt, _, _) in enumerate(cells, start=2):
        ws.cell(row, 1, f"P{row}")
        ws.cell(row, 2, value).number_format = fmt
        ws.cell(row, 3, "Headache")
        ws.cell(row, 4, 88.5 if row % 2 else 12).number_format = "0.00"
    ws.append(["P9", "06/2014", "Nausea", "5,6"])  # text cells: left to the text rules
    book.save(path)
    reader = ExcelReader(batch_rows=2, short_date="%d/%m/%Y")
    table = typed(path, "AE", reader)
    assert table.schema.field("term").type == pa.string()  # text only: text
    onset = table.column("onset").to_pylist()
    lower = {"day": lambda d: d.date(), "month": lambda d: d.date().replace(day=1),
             "year": lambda d: d.date().replace(month=1, day=1)}  # fmt: skip
    assert onset[:-1] == [
        {"text": text, "number": None, "date": lower[level](value), "precision": level}
        for value, _, text, level in cells
    ]
    assert onset[-1] == {"text": "06/2014", "number": None, "date": None, "precision": None}
    result = table.column("result").to_pylist()
    assert [(c["text"], c["number"]) for c in result] == [
        ("12", 12.0), ("88.5", 88.5), ("12", 12.0), ("88.5", 88.5), ("12", 12.0),
        ("88.5", 88.5), ("12", 12.0), ("5,6", None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "pattern", "precision"),
    [
        ("dd/mm/yyyy hh:mm", "%d/%m/%Y", "day"),
        ("mmm-yy", "%b-%y", "month"),
        ("yyyy", "%Y", "year"),
        ("m/d/yyyy", "%-m/%-d/%Y", "day"),
        ("hh:mm dd.mm.yyyy", "%d.%m.%Y", "day"),
        ('"Visit: "dd/mm/yyyy', "%d/%m/%Y", "day"),
        ("[$-F800]dddd, mmmm dd, yyyy", "%B %d, %Y", "day"),
    ],
)
def test_excel_date_formats(code: str, pattern: str, precision: str) -> None:
    assert date_format(code) == Shown(pattern, precision)


@pytest.mark.parametrize(
    "code",
    ["General", "0.00", "#,##0.00;[Red]-#,##0.00", "hh:mm", "[h]:mm", "mm:ss", "0.0E+00", "@"],
)
def test_number_and_time_formats_show_no_date(code: str) -> None:
    assert date_format(code) is None
