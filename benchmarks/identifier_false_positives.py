"""How often the identifier gate flags what is not an identifier.

Every text column goes through ``scan_values`` as free text (the strictest setting: the phone
detectors run too), column by column as the gate scans them:

* the simulated trial: every site's raw export, read by its adapter's reader (every file, every
  column, the dropped identifier columns included) and again raw (every CSV cell, every XML
  attribute and ItemData value: a reader may leave identifier fields out), and the truth
  Parquet files;
* the real corpus (``../shared/corpus``): every CSV (REDCap projects included), the SDTM and
  SPSS files pyreadstat reads, and every sheet of the Excel workbook.

A hit in a column that holds identifiers on purpose (one the adapter drops, one whose name
says so: ``names_an_identifier``, or a contact column: phone, e-mail), or on an identifier such
a column holds, is expected; any other is a false positive, listed. Exits 1 if there is any.

    .venv/bin/python benchmarks/identifier_false_positives.py [--synth DIR | --patients N]
        [--corpus DIR]

Without ``--synth``, a fresh ``federate synth`` (seed 2012, ``--patients``, default 144) is
written to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.privacy.identifiers import Hit, names_an_identifier, scan_values
from federate.readers.base import ROW_COLUMN, Reject, Source

REPO = Path(__file__).resolve().parent.parent
CONTACT = re.compile(r"phone|telephone|^tel|email|e_mail|mail", re.IGNORECASE)
# The simulated exports' identifier columns as the files name them (the adapters drop them).
SYNTH_IDENTIFIERS = re.compile(r"UniqueIdentifier|DateOfBirth|CPR-nummer|F.dselsdato")


@dataclass(frozen=True)
class Column:
    where: str  # file (and part)
    name: str
    values: pa.Array
    expected: bool  # holds identifiers on purpose


@dataclass
class Tally:
    cells: int = 0
    distinct: int = 0
    columns: int = 0
    seconds: float = 0.0  # CPU time in scan_values
    expected: list[tuple[str, str, Hit]] = field(default_factory=list)
    false: list[tuple[str, str, Hit]] = field(default_factory=list)


def _strings(array: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    if not pa.types.is_string(array.type):
        return None
    text = array.drop_null()
    return text.filter(pc.not_equal(text, "")) if len(text) else None


def export_columns(root: Path) -> Iterator[Column]:
    """Every text column of every file of every site's export, read by the site's reader."""
    for adapter in registry.adapters():
        folder = root / "exports" / adapter.name
        dropped = {(tm.file, tm.part): set(tm.dropped) for tm in adapter.tables}
        for (file, part), drop in dropped.items():
            path = folder / file
            if not path.exists():
                continue
            rejects: list[Reject] = []
            batches = list(adapter.reader.batches(Source(path, file, part), rejects))
            if not batches:
                continue
            table = pa.Table.from_batches(batches)
            where = f"{adapter.name}/{file}" + (f"[{part}]" if part else "")
            for name in table.column_names:
                values = _strings(table.column(name)) if name != ROW_COLUMN else None
                if values is not None:
                    expected = name in drop or names_an_identifier(name)
                    yield Column(where, name, values, expected)


def _read_csv(path: Path) -> pa.Table:
    """Every cell as text: UTF-8 (BOM or not) or else cp1252, ";" or "," as the header says."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    header = text.split("\n", 1)[0]
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in header else ","))
    names = [f"{i}:{h}" for i, h in enumerate(rows[0])] if rows else []
    columns = {
        name: pa.array([r[i] if i < len(r) and r[i] else None for r in rows[1:]], pa.string())
        for i, name in enumerate(names)
    }
    return pa.table(columns)


def raw_columns(root: Path) -> Iterator[Column]:
    """The text files of the exports read raw, as the readers may leave columns out (REDCap's
    identifier fields, ODM attributes): every CSV cell, every XML attribute and ItemData."""
    for path in sorted((root / "exports").rglob("*.csv")):
        yield from _table_columns(f"{path.relative_to(root)} (raw)", _read_csv(path))
    for path in sorted((root / "exports").rglob("*.xml")):
        found: dict[str, list[str]] = {}
        for _, element in ElementTree.iterparse(path):
            tag = element.tag.rsplit("}", 1)[-1]
            for attribute, value in element.attrib.items():
                name = attribute.rsplit("}", 1)[-1]
                if tag == "ItemData" and name == "Value":
                    name = element.attrib.get("ItemOID", name)
                found.setdefault(f"{tag}@{name}", []).append(value)
            if element.text and element.text.strip():
                found.setdefault(tag, []).append(element.text.strip())
        for name, values in found.items():
            table = pa.table({name: pa.array(values, pa.string())})
            yield from _table_columns(f"{path.relative_to(root)} (raw)", table)


def parquet_columns(root: Path) -> Iterator[Column]:
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        for name in table.column_names:
            values = _strings(table.column(name))
            if values is not None:
                yield Column(path.name, name, values, names_an_identifier(name))


def _table_columns(where: str, table: pa.Table) -> Iterator[Column]:
    for name in table.column_names:
        values = _strings(table.column(name))
        if values is not None:
            expected = names_an_identifier(name) or bool(CONTACT.search(name))
            expected = expected or bool(SYNTH_IDENTIFIERS.search(name))
            yield Column(where, name, values, expected)


def corpus_columns(root: Path) -> Iterator[Column]:
    """Every CSV cell as text (DuckDB, all VARCHAR); SDTM, SPSS and Stata files through
    pyreadstat; every sheet of the Excel workbooks through calamine."""
    import pyreadstat
    from python_calamine import CalamineWorkbook

    for path in sorted(root.rglob("*.csv")):
        try:
            table = duckdb.read_csv(str(path), all_varchar=True).to_arrow_table()
        except duckdb.Error:
            table = _read_csv(path)  # what DuckDB's sniffer cannot read, csv can
        yield from _table_columns(str(path.relative_to(root)), table)
    readers = {".xpt": pyreadstat.read_xport, ".sav": pyreadstat.read_sav}
    readers |= {".sas7bdat": pyreadstat.read_sas7bdat, ".dta": pyreadstat.read_dta}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in readers):
        try:
            frame, _ = readers[path.suffix.lower()](str(path), output_format="dict")
        except Exception as exc:  # a file pyreadstat cannot read is skipped, and said
            print(f"  skipped {path.relative_to(root)}: {exc}")
            continue
        arrays = {
            k: pa.array([v if isinstance(v, str) else None for v in vs], pa.string())
            for k, vs in frame.items()
        }
        yield from _table_columns(str(path.relative_to(root)), pa.table(arrays))
    for path in sorted(root.rglob("*.xlsx")):
        book = CalamineWorkbook.from_path(str(path))
        for sheet in book.sheet_names:
            rows = book.get_sheet_by_name(sheet).to_python()
            if len(rows) < 2:
                continue
            header = [str(h) for h in rows[0]]
            arrays = {
                f"{i}:{h}": pa.array(
                    [str(r[i]) if i < len(r) and r[i] != "" else None for r in rows[1:]],
                    pa.string(),
                )
                for i, h in enumerate(header)
            }
            yield from _table_columns(f"{path.relative_to(root)}[{sheet}]", pa.table(arrays))


def measure(columns: Iterator[Column]) -> Tally:
    """Scans each column; a hit elsewhere on an identifier also found in an identifier column
    (an audit trail repeating it) is expected too."""
    tally = Tally()
    for column in columns:
        tally.columns += 1
        tally.cells += len(column.values)
        tally.distinct += len(column.values.unique())
        start = time.process_time()
        hits = scan_values(column.values, free_text=True)
        tally.seconds += time.process_time() - start
        for hit in hits:
            (tally.expected if column.expected else tally.false).append(
                (column.where, column.name, hit)
            )
    known = {hit.match for _, _, hit in tally.expected}
    tally.expected += [f for f in tally.false if f[2].match in known]
    tally.false = [f for f in tally.false if f[2].match not in known]
    return tally


def _grouped(hits: list[tuple[str, str, Hit]]) -> dict[tuple[str, str, str], list[Hit]]:
    groups: dict[tuple[str, str, str], list[Hit]] = {}
    for where, name, hit in hits:
        groups.setdefault((where, name, hit.kind), []).append(hit)
    return groups


def report(title: str, tally: Tally) -> None:
    """The tally, the false-positive rate per distinct value scanned, and every hit."""
    rate = len(tally.false) / tally.distinct if tally.distinct else 0.0
    print(
        f"{title}: {tally.columns:,} text columns, {tally.cells:,} cells, {tally.distinct:,} "
        f"distinct values scanned; {len(tally.expected)} expected hit(s) in identifier or "
        f"contact columns; {len(tally.false)} false positive(s) ({rate:.4%} of distinct values); "
        f"{tally.seconds:.2f} s CPU in scan_values"
    )
    for (where, name, kind), hits in sorted(_grouped(tally.false).items()):
        shown = ", ".join(repr(h.value[:60]) for h in hits[:3])
        print(f"  FALSE     {where} {name}: {len(hits)} {kind}, e.g. {shown}")
    for (where, name, kind), hits in sorted(_grouped(tally.expected).items()):
        print(f"  expected  {where} {name}: {len(hits)} {kind}")


def main() -> int:
    corpus = Path(os.environ.get("FEDERATE_CORPUS", REPO.parent / "shared" / "corpus"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", type=Path, help="a `federate synth` output folder")
    parser.add_argument("--patients", type=int, default=144, help="for a fresh synth")
    parser.add_argument("--corpus", type=Path, default=corpus)
    args = parser.parse_args()
    tallies = []
    with tempfile.TemporaryDirectory() as tmp:
        synth = args.synth
        if synth is None:
            synth = Path(tmp) / "synth"
            command = [sys.executable, "-m", "federate", "synth", "--out", str(synth)]
            command += ["--patients", str(args.patients)]
            subprocess.run(command, check=True, capture_output=True)
        tallies.append(("synth exports, through the readers", measure(export_columns(synth))))
        tallies.append(("synth exports, CSV and XML raw", measure(raw_columns(synth))))
        tallies.append(("synth truth", measure(parquet_columns(synth / "truth"))))
    tallies.append(("corpus", measure(corpus_columns(args.corpus))))
    for title, tally in tallies:
        report(title, tally)
    return 1 if any(tally.false for _, tally in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
