"""The site conformance suite, generated for every registered site: the simulated truth,
written as the site's local export, read back by its adapter, bundled and pooled, equals the
truth on every table, every column and every row.

The simulator writes each export with the adapter's own inverse (``Parser.render``), so this
suite shows the pool is whole, not that the adapter keeps its published spec. That is
``tests/conformance/``: exports written from the spec by writers that share nothing with the
parsers, explored property-based over what the spec allows, and written by hand from
``docs/sites/SITE.md``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter
from federate.adapters.parsers import Decimal
from federate.ingest.run import ingest
from federate.privacy.pseudonym import load_key
from federate.query.roles import Role
from federate.query.sandbox import run_query
from federate.synth import SynthResult
from federate.synth import run as synth_run
from federate.warehouse import publish

SITES = registry.site_names()
SCHEMA = registry.schema()
IGNORED = {"submission_id"}  # differs by construction: the truth is not a submission


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synth_run(tmp_path_factory.mktemp("trial"), seed=7, patients=144)


@pytest.fixture(scope="module")
def pooled(trial: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    wh = tmp_path_factory.mktemp("wh") / "warehouse"
    for site in SITES:
        adapter = registry.adapter(site)
        key = load_key(site, trial.keys[site])
        result = ingest(adapter, trial.export_dir(site), wh.parent / f"bundle-{site}", key)
        assert result.exit_code == 0, result.quarantine.slice(0, 5).to_pylist()
        publish.add(result.bundle, wh)
    return wh


def tolerance(adapter: SiteAdapter, table: str, column: str) -> float:
    """Half a unit of the last decimal the export carries (0 for exact columns)."""
    try:
        parser = adapter.table_map(table).fields.get(column)
    except KeyError:
        return 0.0
    if isinstance(parser, Decimal):
        return 0.5 * 10.0**-parser.places + 1e-9
    return 0.0


def differences(truth: pa.Table, got: pa.Table, tol: dict[str, float]) -> list[str]:
    order = [("source_file", "ascending"), ("source_row", "ascending")]
    truth, got = truth.sort_by(order), got.sort_by(order)
    found: list[str] = []
    if truth.num_rows != got.num_rows:
        found.append(f"{got.num_rows} rows pooled, {truth.num_rows} in the truth")
    if truth.column_names != got.column_names:
        found.append(f"columns {got.column_names} != {truth.column_names}")
        return found
    for name in truth.column_names:
        if name in IGNORED:
            continue
        want, have = truth.column(name).to_pylist(), got.column(name).to_pylist()
        for i, (w, h) in enumerate(zip(want, have, strict=False)):
            if not same(w, h, tol.get(name, 0.0)):
                row = truth.column("source_row")[i].as_py()
                found.append(f"{name} at record {row}: pooled {h!r}, truth {w!r}")
    return found


def same(want: Any, have: Any, tol: float) -> bool:
    if isinstance(want, float) and isinstance(have, float):
        return math.isclose(want, have, abs_tol=tol)
    return bool(want == have)


def site_truth(trial: SynthResult, site: str, table: str) -> pa.Table:
    truth = pq.read_table(trial.truth[table])
    return truth.filter(pa.compute.equal(truth.column("site"), site))


@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("table", [t.name for t in SCHEMA])
def test_pooled_equals_truth(trial: SynthResult, pooled: Path, site: str, table: str) -> None:
    adapter = registry.adapter(site)
    got = run_query(f"SELECT * FROM {table} WHERE site = '{site}'", pooled, role=Role.UNBLINDED)
    truth = site_truth(trial, site, table)
    assert truth.num_rows > 0
    tol = {c: tolerance(adapter, table, c) for c in truth.column_names}
    assert differences(truth, got, tol) == []


@pytest.mark.parametrize("site", SITES)
def test_counts_and_sums_equal_truth(trial: SynthResult, pooled: Path, site: str) -> None:
    for table in SCHEMA:
        numeric = [
            c.name
            for c in table.columns
            if c.dtype.value in ("int", "float") and c.name != "source_row"
        ]
        sums = ", ".join(f"sum({c}) AS {c}" for c in numeric)
        got = run_query(
            f"SELECT count(*) AS n{', ' + sums if sums else ''} FROM {table.name} "
            f"WHERE site = '{site}'",
            pooled,
            role=Role.UNBLINDED,
        ).to_pylist()[0]
        truth = site_truth(trial, site, table.name)
        assert got["n"] == truth.num_rows, table.name
        for c in numeric:
            want = pa.compute.sum(truth.column(c)).as_py()
            assert same(float(want or 0), float(got[c] or 0), 1e-6 * truth.num_rows + 0.01), c


def bump_first_value_csv(path: Path, adapter: SiteAdapter, column: str) -> None:
    """Add one to ``column`` in the first data record of a delimited export."""
    from federate.readers.csv import CsvReader, inspect_file

    reader = adapter.reader
    assert isinstance(reader, CsvReader)
    encoding = inspect_file(path, reader.encodings, path.name).encoding
    lines = path.read_bytes().decode(encoding).split("\n")
    header = lines[0].lstrip("\ufeff").strip().split(reader.delimiter)
    fields = lines[1].split(reader.delimiter)
    at = header.index(column)
    fields[at] = str(int(fields[at]) + 1)
    lines[1] = reader.delimiter.join(fields)
    path.write_bytes("\n".join(lines).encode(encoding))


def bump_first_value_excel(path: Path, adapter: SiteAdapter, column: str) -> None:
    """Add one to ``column`` in the first data row of the sheet that has it (openpyxl, full
    mode, so the workbook's other sheets and cells are saved as they were)."""
    import openpyxl

    from federate.readers import ExcelReader, Source

    reader = adapter.reader
    assert isinstance(reader, ExcelReader)
    tm = next(t for t in adapter.tables if t.file == path.name and column in t.source_columns())
    source = Source(path, path.name, tm.part)
    first = int(reader.source_facts(source)["header_row"]) + 1
    book = openpyxl.load_workbook(path)
    sheet = book[reader.source_facts(source)["sheet"]]
    cell = sheet.cell(first, reader.columns(source).index(column) + 1)
    cell.value = int(cell.value) + 1
    book.save(path)


def bump_record_2_spss(path: Path, adapter: SiteAdapter, column: str) -> None:
    """Add one to ``column`` in case 2 of an SPSS file: record 2, as the other mutators change
    (SAV cases count from 1; there is no header record). Written back with the file's own
    labels, missing codes and formats."""
    import polars as pl
    import pyreadstat

    frame, meta = pyreadstat.read_sav(str(path), output_format="polars", user_missing=True)
    assert isinstance(frame, pl.DataFrame)
    values = frame.get_column(column).to_list()
    values[1] += 1
    frame = frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label=meta.file_label or "",
        column_labels=meta.column_names_to_labels,
        variable_value_labels=meta.variable_value_labels,
        missing_ranges=meta.missing_ranges,
        variable_format=meta.original_variable_types,
        variable_measure=meta.variable_measure,
    )


def bump_record_2_odm(path: Path, adapter: SiteAdapter, column: str) -> None:
    """Add one to item ``column`` in record 2 of an ODM file: the second occurrence of the item
    group holding it (ODM records are item-group occurrences, counted from 1). One ItemData
    attribute changes; the rest of the XML is written back as it was."""
    from lxml import etree

    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    find = "//*[local-name()=$tag][@*[local-name()=$key]=$value]"
    item = tree.xpath(find, tag="ItemData", key="ItemOID", value=column)[0]
    group = item.getparent().get("ItemGroupOID")
    second = tree.xpath(find, tag="ItemGroupData", key="ItemGroupOID", value=group)[1]
    item = second.xpath("*[local-name()='ItemData'][@ItemOID=$oid]", oid=column)[0]
    item.set("Value", str(int(item.get("Value")) + 1))
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def bump_first_value_redcap(path: Path, adapter: SiteAdapter, column: str) -> None:
    """Add one to field ``column`` in the first data record of a REDCap records export; the
    header is matched through the data dictionary (a label export's header holds labels)."""
    import csv
    import io

    from federate.readers import RedcapReader, Source
    from federate.readers.csv import inspect_file
    from federate.readers.redcap_dictionary import text_encoding
    from federate.readers.redcap_header import match_header

    reader = adapter.reader
    assert isinstance(reader, RedcapReader)
    encoding = text_encoding(inspect_file(path, reader.encodings, path.name).encoding)
    lines = path.read_bytes().decode(encoding).split("\n")
    header, first = (next(csv.reader([line], delimiter=reader.delimiter)) for line in lines[:2])
    dictionary = reader.data_dictionary(Source(path, path.name))
    at = match_header([c.strip() for c in header], dictionary, path.name).names.index(column)
    first[at] = str(int(first[at]) + 1)
    out = io.StringIO()
    csv.writer(out, delimiter=reader.delimiter, lineterminator="\r").writerow(first)
    lines[1] = out.getvalue() if lines[1].endswith("\r") else out.getvalue()[:-1]
    path.write_bytes("\n".join(lines).encode(encoding))


def bump_record_2_sdtm(path: Path, adapter: SiteAdapter, column: str) -> None:
    """Add one to ``column`` in record 2 of an SDTM transport file (records count from 1). In a
    findings dataset the adapter pivots, ``column`` is a test code: the result of that test in
    the assessment whose first record is record 2 changes. Written back with pyreadstat, the
    dataset's name, label, variable labels and formats kept."""
    import polars as pl
    import pyreadstat

    tm = next(t for t in adapter.tables if t.file == path.name and column in t.source_columns())
    frame, meta = pyreadstat.read_xport(str(path), output_format="polars")
    assert isinstance(frame, pl.DataFrame)
    values = {name: frame.get_column(name).to_list() for name in frame.columns}
    row = 1
    if tm.pivot is not None:
        by, name = tm.pivot.by, tm.pivot.name
        row = next(
            i
            for i in range(frame.height)
            if values[name][i] == column and all(values[c][i] == values[c][1] for c in by)
        )
        column = tm.pivot.value
    values[column][row] += 1
    frame = frame.with_columns(pl.Series(column, values[column], dtype=frame.schema[column]))
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=meta.file_label or "",
        table_name=meta.table_name,
        column_labels={k: v for k, v in meta.column_names_to_labels.items() if v},
        variable_format={k: v for k, v in meta.original_variable_types.items() if v},
        file_format_version=5,
    )


# One mutator per export format (not per site): a new format adds one here.
MUTATORS = {
    "csv": bump_first_value_csv,
    "excel": bump_first_value_excel,
    "spss": bump_record_2_spss,
    "odm": bump_record_2_odm,
    "redcap": bump_first_value_redcap,
    "sdtm": bump_record_2_sdtm,
}


@pytest.mark.parametrize("site", SITES)
def test_negative_control_one_changed_value_is_caught(
    trial: SynthResult, site: str, tmp_path: Path
) -> None:
    """The comparison can fail: change one exported value and it must, exactly there."""
    adapter = registry.adapter(site)
    tm = adapter.table_map("mri")
    export = tmp_path / "export"
    export.mkdir()
    for path in trial.export_dir(site).iterdir():
        (export / path.name).write_bytes(path.read_bytes())
    gel = tm.fields["gel_count"].source
    assert gel is not None
    MUTATORS[adapter.format](export / tm.file, adapter, gel)
    ingest(adapter, export, tmp_path / "bundle", load_key(site, trial.keys[site]))
    got = pq.read_table(tmp_path / "bundle" / "tables" / "mri.parquet")
    found = differences(site_truth(trial, site, "mri"), got, {})
    assert len(found) == 1 and found[0].startswith("gel_count at record 2"), found
