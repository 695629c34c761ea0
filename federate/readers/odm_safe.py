"""Safe XML for ODM exports: a prolog check, a hardened incremental parser, readable errors.

Exports come from outside the coordinating centre, so an XML file is untrusted input: no DTD is
loaded, nothing is fetched over the network, no entity is expanded, and any ``<!ENTITY``
declaration (billion laughs, external entities) is refused before the parser sees it. A DOCTYPE
that only names a DTD (ODM 1.1 examples do) is allowed and never loaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from lxml import etree

from federate.errors import InputError, Location

_PROLOG_MAX = 1 << 20  # bytes read to find the root element; a real ODM prolog is < 1 KiB
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ROOT_START = re.compile(r"<[A-Za-z_:]")
_ENCODING = re.compile(r"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")


def _decode_head(head: bytes) -> str:
    """The prolog as text: markup there is ASCII, so only the UTF-16/32 layouts matter."""
    for bom, enc in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"<\x00?\x00", "utf-16-le"),
        (b"\x00<\x00?", "utf-16-be"),
    ):
        if head.startswith(bom):
            return head.decode(enc, errors="replace")
    return head.decode("latin-1")


def check_prolog(path: Path, relpath: str) -> tuple[str | None, str]:
    """Refuse entity declarations; return the DOCTYPE (if any) and the declared encoding."""
    where = Location(file=relpath)
    try:
        with path.open("rb") as fh:
            head = fh.read(_PROLOG_MAX)
    except OSError as exc:
        raise InputError(
            f"the file cannot be read: {exc.strerror}", code="unreadable-file", where=where
        ) from None
    if not head.strip():
        raise InputError("the file is empty", code="empty-file", where=where)
    text = _COMMENT.sub("", _decode_head(head))
    declared = _ENCODING.match(text.lstrip("\ufeff"))
    encoding = declared.group(1) if declared else "UTF-8 (not declared)"
    start = text.find("<!DOCTYPE")
    root = _ROOT_START.search(text, start if start >= 0 else 0)
    if start < 0 or (root is not None and root.start() < start):
        return None, encoding
    doctype = text[start : root.start() if root else len(text)]
    if "<!ENTITY" in doctype:
        raise InputError(
            "the XML declares entities (<!ENTITY in its DOCTYPE): entity expansion and "
            "external entities are refused for safety; export the file without a DTD subset",
            code="unsafe-xml",
            where=where,
        )
    if root is None and len(head) == _PROLOG_MAX:
        raise InputError(
            f"no root element in the first {_PROLOG_MAX} bytes: this is not an ODM export",
            code="not-odm",
            where=where,
        )
    return " ".join(doctype.split())[:200], encoding


def iterparse(
    fh: IO[bytes],
    events: tuple[str, ...] = ("start", "end"),
    tags: Sequence[str] | None = None,
) -> Any:
    """lxml's incremental parser with every expansion and network feature off. With ``tags``,
    lxml reports only those elements' events: every other element is still parsed (and checked)
    in C, but costs no Python."""
    return etree.iterparse(
        fh,
        events=events,
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,  # keeps libxml2's limits on depth and text size
        remove_comments=True,
        remove_pis=True,
    )


def has_entities(root: Any) -> bool:
    """Belt and braces after the prolog check: the parser's own view of the DTD subset."""
    dtd = root.getroottree().docinfo.internalDTD
    return dtd is not None and any(True for _ in dtd.iterentities())


def xml_error(exc: etree.XMLSyntaxError, path: Path, relpath: str) -> InputError:
    """A parser error as one line naming the line, and saying so when the file is cut short."""
    msg = next(iter((exc.msg or str(exc)).strip().splitlines()), "unknown error")
    line, where = exc.lineno or 0, Location(file=relpath)
    if line == 0 or "Start tag expected" in msg or "Document is empty" in msg:
        return InputError(f"the file is not XML ({msg})", code="not-xml", where=where)
    if "encoding" in msg or "UTF-8" in msg:
        return InputError(
            f"the XML at line {line} is not in its declared encoding: {msg}",
            code="wrong-encoding",
            where=where,
        )
    at_end = "Premature end" in msg or _at_end(path, line, exc.position[1] if exc.position else 0)
    return InputError(
        f"the XML cannot be parsed at line {line}: {msg}"
        + (" (the file ends there: it looks truncated)" if at_end else ""),
        code="truncated-file" if at_end else "malformed-xml",
        where=where,
    )


def _at_end(path: Path, line: int, column: int) -> bool:
    """Whether the parser stopped at the very end of the file (so the file is cut short)."""
    lines, tail = 0, b""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-4096:]
    text = tail.rstrip(b"\r\n")
    last_line = lines - tail[len(text) :].count(b"\n") + 1
    return line >= last_line and column >= len(text.rsplit(b"\n", 1)[-1])
