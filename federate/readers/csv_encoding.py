"""A delimited file's encoding, settled before it is parsed, by one streaming pass that also
hashes it: a declared encoding list is tried in order, so cp1252 exports (which are not latin-1:
€ ’ “ ” – œ) are transcoded correctly, and UTF-16 (or UTF-32) is read when the site declares it.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from federate.errors import InputError, Location

_CHUNK = 1 << 20

# Encodings whose text holds NUL bytes (every ASCII character is 2 or 4 bytes wide). Declared as
# "utf-16" or "utf-32", the file must start with a byte-order mark (it says the byte order);
# declared with the order ("utf-16-le"), it is read without one.
_WIDE = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
_MARKS = {  # longest first: UTF-32-LE's mark starts with UTF-16-LE's
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
}


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    size: int
    encoding: str
    ends_with_newline: bool
    odd_quotes: bool  # an odd count of quote characters: maybe cut inside a quoted value


def is_wide(encoding: str) -> bool:
    return codecs.lookup(encoding).name in _WIDE


@dataclass
class _Pass:
    """What the hashing pass saw of the raw bytes."""

    sha256: str
    size: int
    head: bytes
    last: bytes
    nul_at: int
    quotes: int
    first_fails_at: int | None  # where the first declared encoding fails (None: it decodes)


def inspect_file(
    path: Path, encodings: tuple[str, ...], relpath: str, quote: bytes = b'"'
) -> FileFacts:
    """Hash the file and find the first declared encoding that decodes all of it. The pass that
    hashes tries the first encoding; a later one is tried (by rereading) only if it fails. Its
    steps release the GIL (hashing, Arrow's UTF-8 check, numpy's count), so files are inspected
    side by side (``CsvReader.prepare``)."""
    seen = _hash_pass(path, encodings[0], quote)
    where = Location(file=relpath)
    failed: dict[str, str] = {}
    if seen.first_fails_at is not None:
        failed[encodings[0]] = f"{encodings[0]} fails at byte {seen.first_fails_at}"
        if _utf8(encodings[0]) and seen.head.startswith(codecs.BOM_UTF8):
            # The file declares itself UTF-8: read as a fallback encoding, its mark would turn
            # the first column's name into "ï»¿..." and report that column missing instead.
            at = seen.first_fails_at
            raise InputError(
                f"the file starts with a UTF-8 byte-order mark but is not valid UTF-8 from byte "
                f"{at} (line {_line_of(path, at)}): re-export it as UTF-8, or without the mark",
                code="wrong-encoding",
                where=where,
            )
    if seen.size == 0:
        raise InputError("the file is empty", code="empty-file", where=where)
    if seen.nul_at >= 0 and not any(is_wide(e) for e in encodings):
        raise InputError(_nul_message(seen, encodings), code="wrong-encoding", where=where)
    for enc in encodings:
        if enc in failed:  # the first encoding, failed in the hashing pass
            continue
        if seen.nul_at >= 0 and not is_wide(enc):  # never text in UTF-8 or a one-byte encoding
            failed[enc] = f"{enc} text holds no NUL byte (the file has one at byte {seen.nul_at})"
        elif problem := _mark_problem(enc, seen.head):
            failed[enc] = problem
        elif is_wide(enc):
            return _wide_facts(path, enc, quote, seen, failed, where)
        elif enc != encodings[0] and (position := _decode_fails_at(path, enc)) is not None:
            failed[enc] = f"{enc} fails at byte {position}"
        else:
            newline = seen.last in (b"\n", b"\r")
            return FileFacts(seen.sha256, seen.size, enc, newline, seen.quotes % 2 == 1)
    raise InputError(
        f"the file is not in a declared encoding ({', '.join(failed.values())})",
        code="wrong-encoding",
        where=where,
    )


def _hash_pass(path: Path, first_encoding: str, quote: bytes) -> _Pass:
    """One read of the file: its hash, size, first bytes, last byte, first NUL, quote bytes,
    and whether ``first_encoding`` decodes it."""
    digest = hashlib.sha256()
    size, last, nul_at, quotes = 0, b"", -1, 0
    utf8 = _utf8(first_encoding)
    check: _Utf8Check | codecs.IncrementalDecoder
    check = _Utf8Check() if utf8 else codecs.getincrementaldecoder(first_encoding)()
    fails_at: int | None = None
    checking = not is_wide(first_encoding)  # a wide one is decoded by ``_wide_facts``
    quote_byte = quote[0]
    with path.open("rb") as fh:
        head = fh.read(8)
        fh.seek(0)
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            quotes += int(np.count_nonzero(np.frombuffer(chunk, np.uint8) == quote_byte))
            if nul_at < 0 and (pos := chunk.find(b"\x00")) >= 0:
                nul_at = size + pos
            if checking and fails_at is None:
                try:
                    check.decode(chunk)
                except UnicodeDecodeError as exc:
                    fails_at = size + exc.start
            size += len(chunk)
            last = chunk[-1:]
    if checking and fails_at is None:
        try:
            check.decode(b"", final=True)
        except UnicodeDecodeError:
            fails_at = size
    if utf8 and fails_at is not None:  # Arrow's check says only that it fails: find where
        at = _decode_fails_at(path, first_encoding)
        fails_at = size if at is None else at
    return _Pass(digest.hexdigest(), size, head, last, nul_at, quotes, fails_at)


def _utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _nul_message(seen: _Pass, encodings: tuple[str, ...]) -> str:
    """NUL bytes and no wide encoding declared: say what the file looks like, and what the
    export must be instead."""
    looks = (
        "UTF-16 or UTF-32 text"
        if any(seen.head.startswith(mark) for mark in _MARKS.values()) or seen.nul_at < 4
        else "a binary file, or UTF-16 text"
    )
    return (
        f"the file holds NUL bytes (first at byte {seen.nul_at}): it looks like {looks}, but "
        f"the export must be text in {' or '.join(encodings)}: re-export it in one of those"
    )


def _mark_problem(encoding: str, head: bytes) -> str | None:
    """Why a wide encoding cannot be the file's, from its byte-order mark (None: it can)."""
    name = codecs.lookup(encoding).name
    if name not in _WIDE:
        return None
    found = next((order for order, mark in _MARKS.items() if head.startswith(mark)), None)
    family = name[:6]  # utf-16 or utf-32
    if name == family:  # declared with a mark, which says the byte order
        if found is None or not found.startswith(family):
            return f"{encoding} needs a byte-order mark at the start, and the file has none"
        return None
    if found is not None and found.startswith(family) and found != name:
        return f"{encoding} is declared, but the file's byte-order mark says {found}"
    return None


def _wide_facts(
    path: Path, encoding: str, quote: bytes, seen: _Pass, failed: dict[str, str], where: Location
) -> FileFacts:
    """A wide encoding: decode the whole file, counting quotes and finding its last character
    as characters (its bytes say nothing: '"' is two bytes, one of them NUL)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    quote_char = quote.decode("ascii")
    quotes, size, last = 0, 0, ""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                text = decoder.decode(chunk)
                quotes += text.count(quote_char)
                last = text[-1:] or last
                size += len(chunk)
            last = decoder.decode(b"", final=True)[-1:] or last
    except UnicodeError as exc:  # a UnicodeDecodeError, or UTF-16's own complaints
        at = size + exc.start if isinstance(exc, UnicodeDecodeError) else size
        failed[encoding] = f"{encoding} fails at byte {at}"
        raise InputError(
            f"the file is not in a declared encoding ({', '.join(failed.values())})",
            code="wrong-encoding",
            where=where,
        ) from None
    return FileFacts(seen.sha256, seen.size, encoding, last in ("\n", "\r"), quotes % 2 == 1)


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
