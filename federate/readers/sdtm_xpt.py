"""What readstat cannot say about a SAS transport (XPT v5/v8) file: its text encoding and whether
it is whole.

XPT records no encoding, so the observation area is scanned once with numpy: only character
fields are looked at (numeric fields are IBM floats, any byte goes), and only records holding a
byte >= 0x80 are decoded, in every declared encoding. The same pass finds a record cut short by
truncation (readstat silently drops it) and a second dataset in the file (readstat reads only the
first). Layout comes from the NAMESTR records (type and length of each variable).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from federate.errors import InputError, Location

LIBRARY = (
    b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!",
)
_MEMBER = b"HEADER RECORD*******MEMB"  # MEMBER (v5) or MEMBV8
_NAMESTR = (
    b"HEADER RECORD*******NAMESTR HEADER RECORD",
    b"HEADER RECORD*******NAMSTV8 HEADER RECORD",
)
_OBS = b"HEADER RECORD*******OBS"  # OBS (v5) or OBSV8, which also states the record count
_SCAN_BYTES = 4 << 20
RECORD = 80  # every record of a transport file, header or data, is 80 bytes
_PAD = np.frombuffer(b" \x00", dtype=np.uint8)  # the last 80-byte record is padded with blanks


@dataclass(frozen=True)
class Layout:
    obs_start: int
    row_length: int
    char_fields: tuple[tuple[int, int], ...]  # (offset, width) of each character variable
    nobs: int | None  # v8 states it; v5 does not


@dataclass(frozen=True)
class Scan:
    encoding: str
    nobs: int | None


def layout(path: Path, ncols: int) -> Layout | None:
    """The observation layout, or None when the header is not the plain one-member shape."""
    with path.open("rb") as fh:
        head = fh.read(8192 + ncols * 800)  # namestrs (140 B) and v8 long labels (<= 300 B)
    member = head.find(_MEMBER)
    starts = [p for p in (head.find(tag) for tag in _NAMESTR) if p >= 0]
    if member < 0 or not starts:
        return None
    size_field = head[member + 74 : member + 78]
    ns_size = int(size_field) if size_field.isdigit() else 140
    first = starts[0] + 80
    # Fields lie in NAMESTR order, one after the other: readstat ignores the stated position
    # (npos), and some writers state it in another order (pyreadstat's dates_xpt_v8.xpt).
    fields: list[tuple[int, int, int]] = []  # (type, length, offset)
    offset = 0
    for i in range(ncols):
        rec = head[first + i * ns_size : first + (i + 1) * ns_size]
        if len(rec) < 6:
            return None
        ntype, _, nlng = struct.unpack(">hhh", rec[:6])
        fields.append((ntype, nlng, offset))
        offset += nlng
    obs = head.find(_OBS, first + ncols * ns_size)
    if obs < 0 or offset <= 0:
        return None
    v8 = head[obs + 20 : obs + 25] == b"OBSV8"
    count = head[obs + 48 : obs + 80].split() if v8 else []
    return Layout(
        obs_start=obs + 80,
        row_length=offset,
        char_fields=tuple((pos, length) for ntype, length, pos in fields if ntype == 2),
        nobs=int(count[0]) if count and count[0].isdigit() else None,
    )


def check_whole(path: Path, relpath: str) -> None:
    """The format is 80-byte records, the last padded with blanks: a file of another size was
    cut, and a cut at the end of an observation would otherwise read as a shorter file."""
    size = path.stat().st_size
    if size % RECORD:
        raise InputError(
            f"the file is {size} bytes, not a whole number of the format's {RECORD}-byte "
            "records: it looks truncated",
            code="truncated-file",
            where=Location(file=relpath),
        )


def scan(path: Path, lay: Layout, encodings: tuple[str, ...], relpath: str) -> Scan:
    """Settle the encoding (the first declared one that decodes every character field) and check
    that the file is whole."""
    width = lay.row_length
    rows_per_read = max(1, _SCAN_BYTES // width)
    char_idx = np.concatenate(
        [np.arange(off, off + w) for off, w in lay.char_fields] or [np.empty(0, np.int64)]
    )
    failed: dict[str, int] = {}
    row0 = 0
    prev = b""
    with path.open("rb") as fh:
        fh.seek(lay.obs_start)
        while buf := fh.read(rows_per_read * width):
            if _MEMBER in buf or _MEMBER in prev[-32:] + buf[:32]:
                raise InputError(
                    "the transport file holds more than one dataset: SDTM needs one file per "
                    "dataset (only the first would be read)",
                    code="multi-dataset-xpt",
                    where=Location(file=relpath),
                )
            n = len(buf) // width
            rows = np.frombuffer(buf, dtype=np.uint8, count=n * width).reshape(n, width)
            if char_idx.size:
                high = np.flatnonzero((rows[:, char_idx] >= 0x80).any(axis=1))
                if high.size:
                    _try_decode(rows[high], lay.char_fields, encodings, failed, row0 + high)
            tail = np.frombuffer(buf[n * width :], dtype=np.uint8)
            if tail.size and not np.isin(tail, _PAD).all():
                raise InputError(
                    f"the file ends inside record {row0 + n + 1}: it looks truncated",
                    code="truncated-file",
                    where=Location(file=relpath),
                )
            row0 += n
            prev = buf
    if lay.nobs is not None and lay.nobs > row0:
        raise InputError(
            f"the file states {lay.nobs} records but holds {row0}: it looks truncated",
            code="truncated-file",
            where=Location(file=relpath),
        )
    ok = [enc for enc in encodings if enc not in failed]
    if not ok:
        where = ", ".join(f"{enc} fails at record {row}" for enc, row in failed.items())
        raise InputError(
            f"the file's text is not in a declared encoding ({where})",
            code="wrong-encoding",
            where=Location(file=relpath),
        )
    return Scan(ok[0], lay.nobs)


def _try_decode(
    rows: np.ndarray,
    fields: tuple[tuple[int, int], ...],
    encodings: tuple[str, ...],
    failed: dict[str, int],
    record_index: np.ndarray,
) -> None:
    """Decode each character field of ``rows`` (one newline-separated run per variable, so a
    sequence cannot span two fields) in every encoding not yet failed."""
    sep = np.full((rows.shape[0], 1), 0x0A, dtype=np.uint8)
    for off, w in fields:
        run = np.hstack([rows[:, off : off + w], sep]).tobytes()
        for enc in encodings:
            if enc in failed:
                continue
            try:
                run.decode(enc)
            except UnicodeDecodeError as exc:
                failed[enc] = int(record_index[exc.start // (w + 1)]) + 1


def chunk_files(path: Path, lay: Layout, rows: int) -> Iterator[tuple[bytes, int]]:
    """The file as stand-alone transport files of ``rows`` records each (its header, then the
    records), with the number of whole records in each. readstat's ``row_offset`` re-reads every
    record before the offset, which makes chunked reading quadratic; a chunk file does not.
    v8 states its record count, which readstat stops at, so its padding is left out; v5 keeps
    the file's own tail, where readstat tells padding from records."""
    left = lay.nobs
    with path.open("rb") as fh:
        header = fh.read(lay.obs_start)
        while left != 0:
            want = rows if left is None else min(rows, left)
            data = fh.read(want * lay.row_length)
            if not data:
                return
            n = len(data) // lay.row_length
            left = None if left is None else left - n
            yield header + data, n
