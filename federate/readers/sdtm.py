"""CDISC SDTM datasets: one file per dataset (``ae.xpt``, ``lbch.xpt``...) as SAS transport (XPT
v5 or v8), sas7bdat or CSV.

* Columns are typed where the format is (see ``sdtm_sas``); CSV values stay text as written,
  except that a blank, or ``.`` in a variable SDTM declares numeric, is missing (null).
* ``--DTC`` variables are character in SDTM: partial (``2014-03``, ``2014``) and timed
  (``2014-01-16T13:17``) values are yielded exactly as recorded, for the adapter's date parsers.
* ``ROW_COLUMN`` is the 1-based record number in the dataset: XPT and sas7bdat have no header
  row, so the first record is 1; in CSV the header is record 1 (the CSV reader's convention).
* XPT records no encoding: the declared ``encodings`` are tried in order (default UTF-8, then
  cp1252); sas7bdat records its own. ``source_facts`` reports the one used.
* When ``supp<name>.<ext>`` lies beside ``<name>.<ext>`` (``suppae.xpt``; ``supplbch.xpt`` for a
  split dataset, per SDTMIG), its qualifiers become extra columns, one per QNAM, after the
  dataset's own; RDOMAIN is matched against the DOMAIN column (see ``sdtm_supp``). A SUPP file
  read on its own is just its records, so an adapter can count it with ``SkipFiles``.
"""

from __future__ import annotations

import codecs
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import InputError, Location
from federate.readers.base import ROW_COLUMN, Reader, Reject, Source, file_version
from federate.readers.csv import CsvReader
from federate.readers.sdtm_sas import SasFile, blank_to_null, open_sas, sas_batches
from federate.readers.sdtm_supp import Supp, sdtm_numeric

_KINDS = {".xpt": "xpt", ".xpt5": "xpt", ".xpt8": "xpt", ".sas7bdat": "sas7bdat", ".csv": "csv"}
_EXTENSIONS = (".xpt", ".sas7bdat", ".csv")  # a dataset's names, as a site sends it
# SDTMIG's identifier variables: the dataset's own bookkeeping, neither data nor unknown.
_IDENTIFIERS = re.compile(
    r"^(STUDYID|DOMAIN|RDOMAIN|USUBJID|POOLID|SPDEVID|[A-Z]{2}(SEQ|GRPID|REFID|SPID|LNKID|LNKGRP))$"
)


def dataset_kind(path: Path) -> str | None:
    return _KINDS.get(path.suffix.lower())


@dataclass(frozen=True)
class SdtmReader(Reader):
    encodings: tuple[str, ...] = ("utf-8", "cp1252")
    delimiter: str = ","  # CSV datasets only
    merge_supp: bool = True
    chunk_rows: int = 1 << 15
    format: str = field(default="sdtm")
    # Per-file caches (keyed by path, size, mtime); not init fields, so replace() starts afresh.
    _sas: dict[str, SasFile] = field(default_factory=dict, init=False, compare=False, repr=False)
    _supps: dict[str, Supp] = field(default_factory=dict, init=False, compare=False, repr=False)
    _csv: CsvReader = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.encodings:
            raise ValueError("SdtmReader needs at least one encoding")
        for enc in self.encodings:
            codecs.lookup(enc)  # a misspelt encoding fails when the adapter is declared
        # One CSV reader, so its per-file facts (encoding, hash) are worked out once.
        object.__setattr__(self, "_csv", CsvReader(self.delimiter, encodings=self.encodings))

    def describe(self) -> str:
        return (
            "CDISC SDTM, one file per dataset: SAS transport (.xpt v5/v8), .sas7bdat, or .csv "
            f"(delimiter {self.delimiter!r}), each named after its dataset with any of these "
            f"extensions (dm.xpt, dm.sas7bdat or dm.csv); XPT/CSV text in "
            f"{' or '.join(self.encodings)}"
            + ("; SUPP-- qualifiers merged onto their parent records" if self.merge_supp else "")
        )

    def file_names(self, declared: str) -> tuple[str, ...]:
        """``dm.xpt`` may be sent as ``dm.sas7bdat`` or ``dm.csv``."""
        stem = Path(declared).stem
        return tuple(dict.fromkeys([declared, *(stem + ext for ext in _EXTENSIONS)]))

    def columns(self, source: Source) -> list[str]:
        own = self._own_columns(source)
        if supp := self._supp(source):
            supp.check_names(own, source.relpath)
            return [*own, *supp.qnams]
        return own

    def source_facts(self, source: Source) -> dict[str, str]:
        kind = _kind(source)
        own = self._own_columns(source)
        facts = {
            "format": kind,
            "system_columns": ",".join(c for c in own if _IDENTIFIERS.match(c.strip().upper())),
        }
        if kind == "csv":
            facts.update(self._csv.source_facts(source))
        else:
            sas = self._sas_file(source)
            facts["encoding"] = sas.encoding_name
            if sas.dataset:
                facts["dataset"] = sas.dataset
            facts |= {f"shown_as.{name}": shown for name, shown in sas.shown.items()}
        if supp := self._supp(source):
            header = {c.upper() for c in own}
            absent = [v for v in supp.idvars() if v and v.upper() not in header]
            facts |= {
                "supp_file": supp.relpath,
                "supp_records": str(supp.table.num_rows),
                "supp_qnams": ",".join(supp.qnams),
            }
            if supp.duplicates:
                facts["supp_duplicates"] = str(supp.duplicates)
            if absent:
                facts["supp_idvar_not_in_dataset"] = ",".join(absent)
        return facts

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        supp = self._supp(source)
        if supp is None:
            yield from self._records(source, rejects)
            return
        header = self._own_columns(source)
        supp.check_names(header, source.relpath)
        names = [*header, *supp.qnams, ROW_COLUMN]
        domain = Path(source.relpath).stem.upper()  # for a dataset without a DOMAIN column
        for batch in self._records(source, rejects):
            extra = supp.merge(batch, domain)
            arrays = [*batch.columns[:-1], *extra, batch.column(ROW_COLUMN)]
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    def _own_columns(self, source: Source) -> list[str]:
        if _kind(source) == "csv":
            return self._csv.columns(source)
        return list(self._sas_file(source).schema.names)

    def _records(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        if _kind(source) != "csv":
            sas = self._sas_file(source)
            yield from sas_batches(sas, source.path, source.relpath, self.chunk_rows)
            return
        for batch in self._csv.batches(source, rejects):
            yield pa.RecordBatch.from_arrays(
                [
                    col if name == ROW_COLUMN else _csv_missing(col, sdtm_numeric(name))
                    for name, col in zip(batch.schema.names, batch.columns, strict=True)
                ],
                names=batch.schema.names,
            )

    def _sas_file(self, source: Source) -> SasFile:
        key = file_version(source.path)
        if key not in self._sas:
            self._sas[key] = open_sas(source.path, source.relpath, self.encodings)
        return self._sas[key]

    def _supp(self, source: Source) -> Supp | None:
        path = _supp_path(source.path) if self.merge_supp else None
        if path is None:
            return None
        key = file_version(path)
        if key not in self._supps:
            relpath = posixpath.join(posixpath.dirname(source.relpath), path.name)
            supp_source = Source(path, relpath)
            rejects: list[Reject] = []
            supp = Supp.load(self._records(supp_source, rejects), relpath)
            if rejects:
                raise InputError(
                    f"the SUPP-- dataset has {len(rejects)} malformed record(s): its "
                    "qualifiers cannot be merged reliably",
                    code="bad-supp",
                    where=Location(file=relpath, row=rejects[0].row),
                )
            self._supps[key] = supp
        return self._supps[key]


def _csv_missing(col: pa.Array, numeric: bool) -> pa.Array:
    """Blank is missing, as in SAS; so is ``.`` in a numeric variable (SAS writes it so)."""
    if not numeric:
        return blank_to_null(col)
    missing = pc.is_in(pc.utf8_trim_whitespace(col), value_set=pa.array(["", "."]))
    return pc.if_else(missing, pa.scalar(None, col.type), col)


def _kind(source: Source) -> str:
    kind = dataset_kind(source.path)
    if kind is None:
        raise InputError(
            f"an SDTM dataset must be {', '.join(sorted(_KINDS))}, not {source.path.suffix!r}",
            code="unknown-format",
            where=Location(file=source.relpath),
        )
    return kind


def _supp_path(path: Path) -> Path | None:
    """``suppxx.*`` beside ``xx.*`` (same extension first); none for a SUPP file itself."""
    stem = path.stem.lower()
    if stem.startswith("supp") or not path.parent.is_dir():
        return None
    found = [
        p
        for p in path.parent.iterdir()
        if p.stem.lower() == "supp" + stem and dataset_kind(p) and p.is_file()
    ]
    found.sort(key=lambda p: (p.suffix.lower() != path.suffix.lower(), p.name))
    return found[0] if found else None
