"""The reader interface every export format implements (CSV, REDCap, Excel, SDTM, SPSS, ODM).

Frozen contract:

* ``columns(source)`` returns the file's column names as the site wrote them (header order),
  or raises ``InputError`` naming the file when it cannot be read at all.
* ``batches(source, rejects)`` yields ``pyarrow.RecordBatch`` es in file order. Each carries the
  export's columns (strings for text formats; typed where the format is typed; ``CELL`` where
  one column mixes text, number and date cells) and
  ``ROW_COLUMN``, the int64 record number a coordinator would look for (for CSV the header is
  record 1, so data starts at 2). Records the reader cannot split into columns are not yielded:
  each is appended to ``rejects`` with its record number, so accounting still adds up.
  Records the source system itself deleted but still exports (OpenClinica's removed subjects,
  forms and item groups; a REDCap form never saved) are not yielded either: each is appended
  to ``rejects`` as a ``Reject`` with ``deleted=True`` and a declared reason code, and is
  counted as skipped with that reason, never quarantined.
* A column the reader decodes through the file's own code list (SPSS value labels, an ODM
  ``CodeList``, REDCap's choices) holds each value's label, or, for a value the list lacks, the
  value as written: never null, so the adapter's ``Code`` quarantines it as ``unknown-code``
  showing it. The reader names the list in ``source_facts`` under ``CODE_LIST + column``, in
  the export's own terms, and the quarantine's rule quotes it.
* A reader never writes anywhere, and never loads the whole file into memory.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from federate.errors import InputError, Location

ROW_COLUMN = "__source_row"
# A source fact: CODE_LIST + column -> the code list a decoded column is read through.
CODE_LIST = "code_list."
_CODES_SHOWN = 20
# A column whose cells may each hold text, a number or a date (a spreadsheet's): ``text`` is the
# cell as the site sees it, ``number`` a number cell's value, ``date`` a date cell's date (the
# lower bound) to the ``precision`` its format shows (day, month or year).
CELL = pa.struct(
    [("text", pa.string()), ("number", pa.float64()), ("date", pa.date32()),
     ("precision", pa.string())]
)  # fmt: skip


# A source fact (``Reader.source_facts``) of a file read in parts (REDCap's forms): the columns
# that belong to no part (no field of the project), as a JSON list. Each part lists them among
# its columns; the ingest warns of them once for the file, not once per part.
NO_PART = "columns_of_no_part"


@dataclass(frozen=True)
class Source:
    """One file of an export. ``relpath`` (posix, relative to the export folder) is what travels.
    ``part`` names a part of the file for readers of multi-part files (a sheet, a form)."""

    path: Path
    relpath: str
    part: str | None = None


@dataclass(frozen=True)
class Reject:
    """A record the reader could not split into the file's columns (quarantined), or one the
    source system deleted (``deleted``: skipped with ``reason``, e.g. ``removed-in-source``).
    A record that holds no value at all (a blank line) is skipped the same way
    (``blank-record``): no data, so nothing to quarantine. ``column`` names the column at fault
    when the reader can tell (a typed format's value that is not of its column's type)."""

    row: int
    reason: str
    detail: str
    deleted: bool = False
    column: str | None = None


def code_list_text(what: str, codes: list[tuple[str, str | None]]) -> str:
    """A code list as the rule of its quarantine quotes it: ``what`` (which list, in the export's
    terms), then its first codes with their labels (a code without one is its own label)."""
    if not codes:
        return f"{what}: no codes"
    shown = ", ".join(
        code if label is None else f"{code} = {label}" for code, label in codes[:_CODES_SHOWN]
    )
    more = len(codes) - _CODES_SHOWN
    return f"{what}: {shown}" + (f", … ({more} more)" if more > 0 else "")


def file_version(path: Path, relpath: str | None = None) -> str:
    """A key that changes when the file does: readers cache what they learn per file version."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(
            f"the file cannot be opened: {exc.strerror}",
            code="unreadable-file",
            where=Location(file=relpath or path.name),
        ) from None
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


class Reader(ABC):
    format: str = "?"
    # Whether two tables read by this reader may be staged at once. Not for a reader that
    # parses in Python, under the GIL: its two tables only take turns (ODM, 1,000 Spanish
    # patients: 13.6 s one table at a time, 16.6 s side by side).
    side_by_side: ClassVar[bool] = True

    @abstractmethod
    def columns(self, source: Source) -> list[str]: ...

    @abstractmethod
    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]: ...

    def source_facts(self, source: Source) -> dict[str, str]:
        """What the reader found out about a file (e.g. its encoding), for the manifest."""
        return {}

    def file_names(self, declared: str) -> tuple[str, ...]:
        """The names an adapter's declared file may have in the export: the declared one, then
        the same name in this reader's other formats (``dm.xpt``: ``dm.sas7bdat``...)."""
        return (declared,)

    def prepare(self, sources: list[Source]) -> None:  # noqa: B027 - a hook, empty by default
        """Called with sources before any of them is read (the subjects' first, then the others,
        on a thread beside the subjects table's staging): a reader that inspects whole files
        first may do so side by side here. It must be safe beside ``batches`` of another file."""

    def companions(self, source: Source) -> list[str]:
        """Names of the files beside ``source`` this reader reads with it (REDCap's data
        dictionary): part of the export, though no table map names them."""
        return []

    def sha256(self, source: Source) -> str:
        """The file's SHA-256 for the manifest; a reader that already read the file says it."""
        digest = hashlib.sha256()
        with source.path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def describe(self) -> str:
        """One line for coordinators: what files this reader expects."""
        return self.format
