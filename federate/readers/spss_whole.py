"""Whether an SPSS system file (.sav) is whole when its header does not say how many cases it
holds (``ncases`` -1, which the format allows): readstat then reads a cut file silently to its
last whole case. The layout is the system-file format's (PSPP's "System File Format"): a
176-byte file header, dictionary records up to the termination record (type 999), then the
data: each case one 8-byte slot per variable record, either as they are (no compression) or as
bytecode (blocks of eight one-byte codes, each block followed by the 8-byte values of its code
253s). A cut anywhere but at the end of a case is found; a cut exactly there cannot be.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import IO

from federate.errors import InputError, Location

_HEADER = 176
_RAW = 253  # a code whose value follows the block as 8 bytes
_PADDING, _END = 0, 252  # codes that stand for no value


def check_whole(path: Path, relpath: str) -> None:
    """Refuse (exit 2) a .sav that states no case count and does not end at a case's end."""
    with path.open("rb") as fh:
        head = fh.read(_HEADER)
        if len(head) < _HEADER or head[:4] != b"$FL2":
            return  # not a plain system file (a .zsav states its blocks): readstat's to judge
        order = "<" if struct.unpack("<i", head[64:68])[0] in (2, 3) else ">"
        compression, _, ncases = struct.unpack(order + "iii", head[72:84])
        if ncases >= 0 or compression not in (0, 1):
            return  # a stated count is checked against the cases read (spss.py)
        slots, start = _dictionary(fh, order)
    data = path.stat().st_size - start
    if slots <= 0:
        whole = False
    elif compression == 0:
        whole = data % (8 * slots) == 0
    else:
        values = _bytecode_values(path, start, data)
        whole = values >= 0 and values % slots == 0
    if not whole:
        raise InputError(
            "the SPSS system file does not end at the end of a case (its header states no "
            "case count): it looks truncated",
            code="truncated-file",
            where=Location(file=relpath),
        )


def _dictionary(fh: IO[bytes], order: str) -> tuple[int, int]:
    """(8-byte slots per case, offset where the data start): the dictionary records walked."""
    slots = 0

    def ints(n: int) -> tuple[int, ...]:
        raw = fh.read(4 * n)
        if len(raw) < 4 * n:
            raise EOFError
        return struct.unpack(f"{order}{n}i", raw)

    try:
        while True:
            (kind,) = ints(1)
            if kind == 2:  # a variable (or a long string's continuation): one slot
                slots += 1
                _, labelled, missing, _, _ = ints(5)
                fh.seek(8, 1)  # name
                if labelled:
                    (length,) = ints(1)
                    fh.seek((length + 3) // 4 * 4, 1)
                fh.seek(8 * abs(missing), 1)
            elif kind == 3:  # value labels
                (count,) = ints(1)
                for _ in range(count):
                    fh.seek(8, 1)
                    length = fh.read(1)[0]
                    fh.seek((length + 8) // 8 * 8 - 1, 1)
            elif kind == 4:  # the variables the labels are for
                (count,) = ints(1)
                fh.seek(4 * count, 1)
            elif kind == 6:  # documents
                (lines,) = ints(1)
                fh.seek(80 * lines, 1)
            elif kind == 7:  # an extension record
                _, size, count = ints(3)
                fh.seek(size * count, 1)
            elif kind == 999:
                ints(1)
                return slots, fh.tell()
            else:
                raise EOFError
    except (EOFError, IndexError):
        return 0, 0  # the dictionary itself is cut or unknown: refused as not whole


def _bytecode_values(path: Path, start: int, size: int) -> int:
    """How many values a bytecode data stream holds; -1 when it ends inside a block."""
    if size % 8:
        return -1
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(size)
    values = at = 0
    while at < size:  # one step per command block (eight values), not per value
        codes = data[at : at + 8]
        values += 8 - codes.count(_PADDING) - codes.count(_END)
        at += 8 * (1 + codes.count(_RAW))
        if _END in codes:
            break
    return values if at == size else -1
