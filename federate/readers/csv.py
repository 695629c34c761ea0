"""Delimited text exports, streamed with pyarrow's CSV reader.

Every value is read as text exactly as written (the adapter's parsers type it later), so nothing
is guessed. The encoding is settled before parsing (``csv_encoding``): a declared encoding list
is tried in order. Record numbers are the rows a coordinator finds in the file (Excel's row, an
editor's line when no value spans lines): blank lines count. A record without a single value
(a blank line, or only delimiters: ``;;;;``) is no data: it is skipped as ``blank-record``,
counted, never quarantined.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from federate.errors import InputError, Location
from federate.readers.base import ROW_COLUMN, Reader, Reject, Source, file_version
from federate.readers.csv_encoding import FileFacts, _Utf8Check, inspect_file

__all__ = ["BLANK_RECORD", "CsvReader", "FileFacts", "_Utf8Check", "inspect_file"]

BLANK_RECORD = "blank-record"
# Delimiters a file is often written with: a one-column header that splits on one of them is a
# file written with another delimiter than the spec's.
_OTHER_DELIMITERS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


@dataclass(frozen=True)
class CsvReader(Reader):
    delimiter: str = ","
    quote: str = '"'
    encodings: tuple[str, ...] = ("utf-8",)
    # pyarrow's reader runs up to 32 blocks ahead of its consumer: 1 MB blocks bound that to
    # ~32 MB whatever the file's size (8 MB blocks held 0.3 GB of a large export in memory).
    block_size: int = 1 << 20
    format: str = field(default="csv")
    _facts: dict[str, FileFacts] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        return (
            f"delimited text, delimiter {self.delimiter!r}, quote {self.quote!r}, "
            f"encoding {' or '.join(self.encodings)}"
        )

    def facts(self, source: Source) -> FileFacts:
        key = file_version(source.path, source.relpath)
        if key not in self._facts:
            self._facts[key] = inspect_file(
                source.path, self.encodings, source.relpath, self.quote.encode("ascii")
            )
        return self._facts[key]

    def sha256(self, source: Source) -> str:
        return self.facts(source).sha256  # hashed in the encoding pass: no second read

    def prepare(self, sources: list[Source]) -> None:
        """Inspect the files two at a time (a UTF-8 file's pass mostly releases the GIL)."""
        todo = {file_version(s.path, s.relpath): s for s in sources}
        todo = {k: s for k, s in todo.items() if k not in self._facts}
        pool = ThreadPoolExecutor(2, thread_name_prefix="inspect")
        try:
            for future in [pool.submit(self.facts, s) for s in todo.values()]:
                future.result()
        finally:  # after a failure (or Ctrl-C), the files not yet inspected are not
            pool.shutdown(cancel_futures=True)

    def source_facts(self, source: Source) -> dict[str, str]:
        return {"encoding": self.facts(source).encoding}

    def _pyarrow_encoding(self, source: Source) -> str:
        enc = self.facts(source).encoding
        return "utf8" if codecs.lookup(enc).name in ("utf-8", "utf-8-sig") else enc

    def columns(self, source: Source) -> list[str]:
        facts = self.facts(source)
        with source.path.open("rb") as fh:
            head = fh.read(1 << 16)
        text = head.decode(facts.encoding, errors="replace").lstrip("\ufeff")
        where = Location(file=source.relpath, row=1)
        header = _first_record(text, self.delimiter, self.quote, where)
        header = [h.strip() for h in header]
        if not any(header):
            raise InputError("the file has no header row", code="no-header", where=where)
        # A blank header cell (e.g. a trailing delimiter) names an unknown column, ignored
        # with a warning like any other; SQL has no empty names.
        header = [h or f"(column {i + 1})" for i, h in enumerate(header)]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise InputError(
                f"the header repeats column(s) {', '.join(dupes)}",
                code="duplicate-column",
                where=where,
            )
        if len(header) == 1:
            self._check_one_column(text, where)
        return header

    def _check_one_column(self, text: str, where: Location) -> None:
        """A one-column file is read as one; but a header that another common delimiter splits
        into several columns is a file written with the wrong delimiter."""
        for other, name in _OTHER_DELIMITERS.items():
            if other != self.delimiter and len(_first_record(text, other, self.quote, where)) > 1:
                raise InputError(
                    f"this file is separated by {name}, not by {self.delimiter!r}: export it "
                    f"with {self.delimiter!r} as the delimiter (or check it is the right file)",
                    code="wrong-delimiter",
                    where=where,
                )

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        header = self.columns(source)
        facts = self.facts(source)
        numbers = _RecordNumbers(rejects, self.delimiter, self.quote)
        reader = self._open(source, len(header), numbers)
        tail: list[object] = []  # the last record's values: is one cut inside its quotes?
        try:
            for batch in reader:
                n = batch.num_rows
                if n == 0:
                    continue
                rows = numbers.take(n)
                tail = [col[n - 1].as_py() for col in batch.columns]
                out = pa.RecordBatch.from_arrays(
                    [*batch.columns, pa.array(rows)], names=[*header, ROW_COLUMN]
                )
                if rows[0] == 1:  # the header record
                    out = out.slice(1)
                out = numbers.drop_blank(out, len(header))
                if out.num_rows:
                    yield out
        except pa.ArrowInvalid as exc:
            raise _unparseable(exc, facts, source.relpath) from None
        _check_not_truncated(facts, tail, numbers, source.relpath)

    def _open(
        self, source: Source, width: int, numbers: _RecordNumbers
    ) -> pa_csv.CSVStreamingReader:
        """pyarrow's streaming reader: every one of the ``width`` columns as text."""
        return pa_csv.open_csv(
            source.path,
            read_options=pa_csv.ReadOptions(
                use_threads=False,  # record numbers of malformed rows need serial parsing
                block_size=self.block_size,
                # The header is read as record 1 and dropped by batches(): skip_rows counts
                # lines, and a quoted header cell may span several.
                column_names=[f"c{i}" for i in range(width)],
                skip_rows=0,
                encoding=self._pyarrow_encoding(source),
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=self.delimiter,
                quote_char=self.quote,
                newlines_in_values=True,
                # Blank lines are records (rows of empty values): skipping them would shift
                # every later record number, and the invalid-row handler's numbers with them.
                ignore_empty_lines=False,
                invalid_row_handler=numbers.skip_invalid,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(width)},
                strings_can_be_null=False,
            ),
        )


def _first_record(text: str, delimiter: str, quote: str, where: Location) -> list[str]:
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote)
        return next(rows, [])
    except csv.Error as exc:
        raise InputError(
            f"the header row cannot be read: {exc}", code="no-header", where=where
        ) from None


class _RecordNumbers:
    """The record number (from 1, the header) of each row pyarrow yields: pyarrow gives none.
    Records are consecutive (blank lines included), except those the invalid-row handler took
    (rejected, not yielded). Also what ends the file: the last record and the last one that had
    the wrong number of fields."""

    def __init__(self, rejects: list[Reject], delimiter: str, quote: str) -> None:
        self.rejects = rejects
        self.pending: list[int] = []  # records skipped, not yet passed by a batch
        self.next_row = 1
        self.last_record = 0
        self.last_invalid: pa_csv.InvalidRow | None = None
        self._no_value = str.maketrans("", "", f"{delimiter}{quote} \t\r\n\u00a0")

    def skip_invalid(self, row: pa_csv.InvalidRow) -> str:
        """pyarrow's invalid-row handler: reject the record and skip it (a record with no
        value, only short of delimiters, is a blank record)."""
        self.pending.append(row.number)
        self.last_invalid = row
        self.last_record = max(self.last_record, row.number)
        if not row.text.translate(self._no_value):
            self.rejects.append(Reject(row.number, BLANK_RECORD, _BLANK, deleted=True))
        else:
            self.rejects.append(
                Reject(
                    row.number,
                    "malformed-row",
                    f"expected {row.expected_columns} fields, found {row.actual_columns}",
                )
            )
        return "skip"

    def take(self, n: int) -> npt.NDArray[np.int64]:
        """The numbers of the next batch's ``n`` rows (vectorised: no per-row Python)."""
        skipped = np.array(sorted(self.pending), dtype=np.int64)
        candidates = np.arange(self.next_row, self.next_row + n + len(skipped), dtype=np.int64)
        rows = candidates[~np.isin(candidates, skipped)][:n]
        self.next_row = int(rows[-1]) + 1
        self.last_record = max(self.last_record, int(rows[-1]))
        self.pending[:] = [r for r in self.pending if r >= self.next_row]
        return rows

    def drop_blank(self, batch: pa.RecordBatch, width: int) -> pa.RecordBatch:
        """``batch`` without its records that hold no value (each rejected as a blank record).
        Column by column, stopping at the first column with no blank cell: in most files the
        first column (the patient id) ends the check."""
        blank: pa.Array | None = None
        for col in batch.columns[:width]:
            empty = pc.or_(pc.equal(pc.binary_length(col), 0), pc.utf8_is_space(col))
            blank = empty if blank is None else pc.and_(blank, empty)
            if not pc.any(blank).as_py():
                return batch
        if blank is None:
            return batch
        for row in pc.filter(batch.column(width), blank).to_pylist():
            self.rejects.append(Reject(row, BLANK_RECORD, _BLANK, deleted=True))
        return batch.filter(pc.invert(blank))


_BLANK = "the record holds no value (a blank line, or only delimiters)"


def _unparseable(exc: pa.ArrowInvalid, facts: FileFacts, relpath: str) -> InputError:
    """pyarrow gave up on the file; without a final line break it is most likely cut short."""
    return InputError(
        f"the file cannot be parsed as CSV: {_arrow_message(exc)}"
        + (
            ""
            if facts.ends_with_newline
            else " (the file does not end with a line break: it may be truncated)"
        ),
        code="truncated-file" if not facts.ends_with_newline else "unparseable-csv",
        where=Location(file=relpath),
    )


def _check_not_truncated(
    facts: FileFacts, tail: list[object], numbers: _RecordNumbers, relpath: str
) -> None:
    """A file cut short can still parse: cut inside a quoted value (which then runs on to the
    end of the file), or inside its last record (short of fields, with no final line break).
    A last record with too many fields is not cut short: it is malformed (quarantined)."""
    last = numbers.last_record
    if facts.odd_quotes and any(isinstance(v, str) and v.endswith(("\n", "\r")) for v in tail):
        raise InputError(
            "the file ends inside a quoted value (an odd number of quote characters): "
            "it looks truncated",
            code="truncated-file",
            where=Location(file=relpath, row=last),
        )
    invalid = numbers.last_invalid
    if (
        invalid is not None
        and not facts.ends_with_newline
        and invalid.number == last
        and invalid.actual_columns < invalid.expected_columns
    ):
        raise InputError(
            f"the last record is incomplete (expected {invalid.expected_columns} fields, found "
            f"{invalid.actual_columns}) and the file does not end with a line break: the file "
            "looks truncated",
            code="truncated-file",
            where=Location(file=relpath, row=last),
        )


def _arrow_message(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0]
    return msg.removeprefix("CSV parse error: ")
