"""Write a site's export as delimited text, the way its systems write it.

Delimiter and quote come from the adapter's ``CsvReader``. Encodings: when the reader accepts
both UTF-8 and a legacy code page, the patient register (the file that carries identifiers,
typically kept in an older Windows system) is written in the code page and the CRF forms (web
EDC exports) in UTF-8 with a byte-order mark. Lines end with CRLF, and only fields that need it
are quoted. Lines are assembled with Arrow compute kernels, a chunk of rows at a time.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import TableMap
from federate.readers.csv import CsvReader

NEWLINE = "\r\n"
UTF8_BOM = "utf-8-sig"
CHUNK_ROWS = 1 << 18


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def encoding_for(reader: CsvReader, tm: TableMap) -> str:
    """The encoding a file is written in (see the module docstring); deterministic."""
    utf8 = any(_is_utf8(e) for e in reader.encodings)
    legacy = next((e for e in reader.encodings if not _is_utf8(e)), None)
    if legacy and (tm.dropped or not utf8):
        return legacy
    return UTF8_BOM if utf8 else reader.encodings[0]


def _fields(values: pa.Array, delimiter: str, quote: str) -> pa.Array:
    """Text as written in a field: empty for null, quoted (quotes doubled) only if needed."""
    text = pc.fill_null(pc.cast(values, pa.string()), "")
    special = pc.match_substring_regex(text, "[" + re.escape(delimiter + quote) + "\r\n]")
    quoted = pc.binary_join_element_wise(
        quote, pc.replace_substring(text, quote, quote * 2), quote, ""
    )
    return pc.if_else(special, quoted, text)


def _joined(lines: pa.Array) -> bytes:
    """The UTF-8 bytes of all lines back to back, straight from the Arrow buffers."""
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(
        lines.buffers()[1], np.int32, count=len(lines) + 1, offset=4 * lines.offset
    )
    return bytes(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def csv_bytes(
    columns: Mapping[str, pa.Array], delimiter: str, quote: str, *, header: bool = True
) -> bytes:
    """UTF-8 text of the rows (and header) in ``columns``."""
    names = pa.array(list(columns), pa.string())
    head = delimiter.join(_fields(names, delimiter, quote).to_pylist()) + NEWLINE
    fields = [_fields(v, delimiter, quote) for v in columns.values()]
    lines = pc.binary_join_element_wise(*fields, delimiter)
    body = _joined(pc.binary_join_element_wise(lines, NEWLINE, ""))
    return (head.encode("utf-8") if header else b"") + body


def write_csv(
    path: Path, columns: Mapping[str, pa.Array], reader: CsvReader, encoding: str
) -> None:
    """Write ``columns`` (equal-length text arrays, file order) to ``path`` in ``encoding``."""
    n = len(next(iter(columns.values()))) if columns else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        if encoding == UTF8_BOM:
            fh.write(codecs.BOM_UTF8)
        for start in range(0, max(n, 1), CHUNK_ROWS):
            chunk = {k: v.slice(start, CHUNK_ROWS) for k, v in columns.items()}
            data = csv_bytes(chunk, reader.delimiter, reader.quote, header=start == 0)
            fh.write(data if _is_utf8(encoding) else data.decode("utf-8").encode(encoding))
