"""Delimited text exports, streamed with pyarrow's CSV reader.

Every value is read as text exactly as written (the adapter's parsers type it later), so nothing
is guessed. The encoding is settled before parsing by one streaming pass that also hashes the
file: a declared encoding list is tried in order, so cp1252 exports (which are not latin-1:
€ ’ “ ” – œ) are transcoded correctly.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv

from federate.errors import InputError, Location
from federate.readers.base import ROW_COLUMN, Reader, Reject, Source, file_version

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    size: int
    encoding: str
    ends_with_newline: bool
    odd_quotes: bool  # an odd count of quote characters: maybe cut inside a quoted value


def inspect_file(
    path: Path, encodings: tuple[str, ...], relpath: str, quote: bytes = b'"'
) -> FileFacts:
    """Hash the file and find the first declared encoding that decodes all of it. The pass that
    hashes tries the first encoding; a later one is tried (by rereading) only if it fails. Its
    steps release the GIL (hashing, Arrow's UTF-8 check, numpy's count), so files are inspected
    side by side (``CsvReader.prepare``)."""
    digest = hashlib.sha256()
    size = 0
    last = b""
    nul_at = -1
    quotes = 0
    first: _Utf8Check | codecs.IncrementalDecoder
    utf8 = codecs.lookup(encodings[0]).name in ("utf-8", "utf-8-sig")
    first = _Utf8Check() if utf8 else codecs.getincrementaldecoder(encodings[0])()
    quote_byte = quote[0]
    failed: dict[str, int] = {}
    with path.open("rb") as fh:
        head = fh.read(len(codecs.BOM_UTF8))
        fh.seek(0)
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            quotes += int(np.count_nonzero(np.frombuffer(chunk, np.uint8) == quote_byte))
            if nul_at < 0 and (pos := chunk.find(b"\x00")) >= 0:
                nul_at = size + pos
            if encodings[0] not in failed:
                try:
                    first.decode(chunk)
                except UnicodeDecodeError as exc:
                    failed[encodings[0]] = size + exc.start
            size += len(chunk)
            last = chunk[-1:]
    if encodings[0] not in failed:
        try:
            first.decode(b"", final=True)
        except UnicodeDecodeError:
            failed[encodings[0]] = size
    if utf8 and encodings[0] in failed:  # Arrow's check says only that it fails: find where
        at = _decode_fails_at(path, encodings[0])
        failed[encodings[0]] = size if at is None else at
        if head.startswith(codecs.BOM_UTF8):
            # The file declares itself UTF-8: read as a fallback encoding, its mark would turn
            # the first column's name into "ï»¿..." and report that column missing instead.
            at = failed[encodings[0]]
            raise InputError(
                f"the file starts with a UTF-8 byte-order mark but is not valid UTF-8 from byte "
                f"{at} (line {_line_of(path, at)}): re-export it as UTF-8, or without the mark",
                code="wrong-encoding",
                where=Location(file=relpath),
            )
    if size == 0:
        raise InputError("the file is empty", code="empty-file", where=Location(file=relpath))
    if nul_at >= 0:
        raise InputError(
            f"the file holds NUL bytes (first at byte {nul_at}): it is binary or UTF-16, "
            f"not text in one of {', '.join(encodings)}",
            code="wrong-encoding",
            where=Location(file=relpath),
        )
    encoding = encodings[0] if encodings[0] not in failed else None
    for enc in encodings[1:]:
        if encoding is not None:
            break
        position = _decode_fails_at(path, enc)
        if position is None:
            encoding = enc
        else:
            failed[enc] = position
    if encoding is None:
        where = ", ".join(f"{enc} fails at byte {pos}" for enc, pos in failed.items())
        raise InputError(
            f"the file is not in a declared encoding ({where})",
            code="wrong-encoding",
            where=Location(file=relpath),
        )
    return FileFacts(digest.hexdigest(), size, encoding, last in (b"\n", b"\r"), quotes % 2 == 1)


class _Utf8Check:
    """Python's UTF-8 decoder, answering only whether the bytes decode (Arrow's SIMD check,
    ~3x faster and without building the text). A character cut by a chunk's end is carried on
    to the next chunk."""

    def __init__(self) -> None:
        self._pending = b""

    def decode(self, chunk: bytes, final: bool = False) -> None:
        data = self._pending + chunk if self._pending else chunk
        cut = len(data) if final else _complete(data)
        offsets = pa.py_buffer(np.array([0, cut], dtype=np.int32).tobytes())
        text = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])
        try:
            text.validate(full=True)
        except pa.ArrowInvalid:
            raise UnicodeDecodeError("utf-8", data, 0, cut, "invalid UTF-8") from None
        self._pending = data[cut:]


def _complete(data: bytes) -> int:
    """Where a character that the end of ``data`` cuts short begins (``len(data)`` if none)."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte < 0x80:
            return n
        if byte >= 0xC0:  # a lead byte: how long its character is
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return n if back >= need else n - back
    return n


def _line_of(path: Path, position: int) -> int:
    """The line (from 1) holding byte ``position``."""
    lines = 1
    with path.open("rb") as fh:
        while position > 0 and (chunk := fh.read(min(_CHUNK, position))):
            lines += chunk.count(b"\n")
            position -= len(chunk)
    return lines


def _decode_fails_at(path: Path, encoding: str) -> int | None:
    """The byte at which ``encoding`` fails to decode the file, or None when it decodes all."""
    decoder = codecs.getincrementaldecoder(encoding)()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return size + exc.start
            size += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return size
    return None


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
        try:
            rows = csv.reader(
                io.StringIO(text, newline=""), delimiter=self.delimiter, quotechar=self.quote
            )
            header = next(rows, [])
        except csv.Error as exc:
            raise InputError(
                f"the header row cannot be read: {exc}", code="no-header", where=where
            ) from None
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
        if len(header) == 1 and self.delimiter not in text.splitlines()[0]:
            raise InputError(
                f"the header has no {self.delimiter!r} delimiter: is this the right file or "
                "the right export settings?",
                code="wrong-delimiter",
                where=where,
            )
        return header

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        header = self.columns(source)
        facts = self.facts(source)
        numbers = _RecordNumbers(rejects)
        reader = self._open(source, len(header), numbers.skip_invalid)
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
                if out.num_rows:
                    yield out
        except pa.ArrowInvalid as exc:
            raise _unparseable(exc, facts, source.relpath) from None
        _check_not_truncated(facts, tail, numbers.next_row - 1, rejects, source.relpath)

    def _open(
        self, source: Source, width: int, on_invalid: Callable[[pa_csv.InvalidRow], str]
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
                invalid_row_handler=on_invalid,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(width)},
                strings_can_be_null=False,
            ),
        )


class _RecordNumbers:
    """The record number (from 1, the header) of each row pyarrow yields: pyarrow gives none.
    Records are consecutive, except those the invalid-row handler took (rejected, not yielded)."""

    def __init__(self, rejects: list[Reject]) -> None:
        self.rejects = rejects
        self.pending: list[int] = []  # records skipped, not yet passed by a batch
        self.next_row = 1

    def skip_invalid(self, row: pa_csv.InvalidRow) -> str:
        """pyarrow's invalid-row handler: reject the record and skip it."""
        self.pending.append(row.number)
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
        self.pending[:] = [r for r in self.pending if r >= self.next_row]
        return rows


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
    facts: FileFacts, tail: list[object], last_record: int, rejects: list[Reject], relpath: str
) -> None:
    """A file cut short can still parse: cut inside a quoted value (which then runs on to the
    end of the file), or inside its last record (short of fields, with no final line break)."""
    if facts.odd_quotes and any(isinstance(v, str) and v.endswith(("\n", "\r")) for v in tail):
        raise InputError(
            "the file ends inside a quoted value (an odd number of quote characters): "
            "it looks truncated",
            code="truncated-file",
            where=Location(file=relpath, row=last_record),
        )
    last = max([last_record, *(r.row for r in rejects)])
    if rejects and not facts.ends_with_newline and rejects[-1].row == last:
        raise InputError(
            f"the last record is incomplete ({rejects[-1].detail}) and the file does not end "
            "with a line break: the file looks truncated",
            code="truncated-file",
            where=Location(file=relpath, row=last),
        )


def _arrow_message(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0]
    return msg.removeprefix("CSV parse error: ")
