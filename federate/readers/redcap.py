"""REDCap records exports (``data.csv``), read through the project's data dictionary.

One table per form: ``Source.part`` names the form (instrument). ``columns`` gives the record id,
REDCap's system columns present (event, repeat instrument and instance, data access group), and
the form's columns by field name (a checkbox as ``field___code``, then ``form_complete``);
``batches`` yields the form's rows (rule in ``redcap_values``) with ``__source_row`` = the record
number in the file (header = 1). ``part=None`` reads every row and column.

* Both export flavours give **raw codes**: in a label export, headers are matched to fields
  through the dictionary (labels repeat) and choice labels, Checked/Unchecked, Yes/No,
  Incomplete/Unverified/Complete, event and instrument labels are decoded, so an adapter declares
  raw codes once. A value that is no label of its list is kept as exported (the adapter's code
  list reports it). Event labels need ``events`` or ``event_file`` (REDCap's events export);
  instrument labels are matched to form names, or declared in ``instruments``; data access group
  names are decoded only where ``groups`` declares them.
* Values are **text exactly as exported**: dates as the export wrote them (YYYY-MM-DD, or the
  export's D-M-Y), numbers with the export's decimal mark (number_comma_decimal keeps its comma).
  The adapter's locale parses them; the validation types are in ``data_dictionary(source)``.
* Fields flagged ``Identifier? = y`` and ``redcap_survey_identifier`` are never yielded, and are
  listed in ``source_facts`` (``identifier_fields_dropped``). A column the dictionary does not
  know stops the run (it could be an unflagged identifier).
"""

from __future__ import annotations

import csv
import difflib
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from federate.errors import InputError, Location
from federate.readers.base import ROW_COLUMN, Reader, Reject, Source, file_version
from federate.readers.csv import CsvReader
from federate.readers.redcap_dictionary import (
    SURVEY_IDENTIFIER,
    SYSTEM_LABELS,
    Column,
    Dictionary,
    read_dictionary,
)
from federate.readers.redcap_header import Header, match_header, read_header
from federate.readers.redcap_values import (
    REPEAT,
    Decoder,
    event_resolver,
    instrument_resolver,
    lenient,
    rows_of_form,
    strict,
)


@dataclass(frozen=True)
class _NamedCsv(CsvReader):
    """The records file streamed with its header replaced by field names (labels repeat)."""

    names: Callable[[Source], list[str]] | None = field(default=None, compare=False)

    def columns(self, source: Source) -> list[str]:
        assert self.names is not None
        return self.names(source)


@dataclass(frozen=True)
class _Plan:
    keep: list[str]  # columns yielded, in order
    members: list[Column]  # the form's columns in the file (identifiers too): its rows
    dropped: list[str]  # identifying columns of the part, never yielded


@dataclass(frozen=True)
class RedcapReader(Reader):
    """An adapter maps each form it needs: ``TableMap(file=reader.records, part="<form>")``.
    The dictionary (and any ``event_file``) sits beside the records in the export folder."""

    records: str = "data.csv"
    dictionary: str = "dictionary.csv"
    flavour: Literal["raw", "label"] = "raw"
    delimiter: str = ","
    encodings: tuple[str, ...] = ("utf-8",)
    events: Mapping[str, str] = field(default_factory=dict)  # event label -> unique event name
    event_file: str | None = None  # REDCap's events export, beside the records
    instruments: Mapping[str, str] = field(default_factory=dict)  # instrument label -> form
    groups: Mapping[str, str] = field(default_factory=dict)  # group name -> unique group name
    block_size: int = 1 << 20
    format: str = field(default="redcap")
    _csv: _NamedCsv = field(init=False, compare=False, repr=False)
    _cache: dict[str, tuple[Dictionary, Header]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        named = _NamedCsv(
            delimiter=self.delimiter,
            encodings=self.encodings,
            block_size=self.block_size,
            names=lambda source: list(self._state(source)[1].names),
        )
        object.__setattr__(self, "_csv", named)

    def describe(self) -> str:
        return (
            f"REDCap records export {self.records} ({self.flavour} values, delimiter "
            f"{self.delimiter!r}, encoding {' or '.join(self.encodings)}) with its data "
            f"dictionary {self.dictionary} beside it; one table per form"
        )

    def companions(self, source: Source) -> list[str]:
        return [self.dictionary, *([self.event_file] if self.event_file else [])]

    def data_dictionary(self, source: Source) -> Dictionary:
        """The project's data dictionary (fields, choices, validation types, identifiers)."""
        return self._state(source)[0]

    def forms(self, source: Source) -> list[str]:
        return self.data_dictionary(source).forms

    def columns(self, source: Source) -> list[str]:
        return self._plan(source).keep

    def source_facts(self, source: Source) -> dict[str, str]:
        dictionary, header = self._state(source)
        return {
            "encoding": self._csv.facts(source).encoding,
            "flavour": self.flavour,
            "headers": "field labels" if header.labels else "field names",
            "dictionary": dictionary.relpath,
            "dictionary_sha256": dictionary.sha256,
            "identifier_fields_dropped": ",".join(self._plan(source).dropped),
            # REDCap's own bookkeeping columns: neither data nor unknown.
            "system_columns": ",".join(
                c
                for c in self.columns(source)
                if c.startswith("redcap_") or c.endswith("_complete")
            ),
        }

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        plan = self._plan(source)
        decoders = self._decoders(source, plan)
        needed = list(dict.fromkeys([*plan.keep, *(c.name for c in plan.members)]))
        for batch in self._csv.batches(source, rejects):
            rows = batch.column(ROW_COLUMN)
            cols = {name: batch.column(name) for name in needed}
            for name, decode in decoders.items():
                cols[name] = decode(cols[name], rows)
            out = pa.RecordBatch.from_arrays(
                [*(cols[k] for k in plan.keep), rows], names=[*plan.keep, ROW_COLUMN]
            )
            if source.part is not None:
                out = out.filter(rows_of_form(cols, source.part, plan.members))
            if out.num_rows:
                yield out

    # -- the export's layout ---------------------------------------------------------------

    def _state(self, source: Source) -> tuple[Dictionary, Header]:
        if not source.path.is_file():
            raise InputError(
                f"the REDCap export has no records file {source.relpath}",
                code="missing-file",
                where=Location(file=source.relpath),
            )
        dict_source = _beside(source, self.dictionary, "data dictionary")
        key = f"{file_version(source.path)}|{file_version(dict_source.path)}"
        if key not in self._cache:
            dictionary = read_dictionary(dict_source.path, dict_source.relpath, self.encodings)
            encoding = self._csv.facts(source).encoding
            cells = read_header(source.path, encoding, self.delimiter, '"', source.relpath)
            self._cache[key] = (dictionary, match_header(cells, dictionary, source.relpath))
        return self._cache[key]

    def _plan(self, source: Source) -> _Plan:
        dictionary, header = self._state(source)
        by_name = {c.name: c for c in dictionary.columns()}
        form = source.part
        if form is not None and form not in dictionary.forms:
            close = difflib.get_close_matches(form, dictionary.forms, n=1)
            raise InputError(
                f"{dictionary.relpath} has no form {form!r}"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; its forms: {', '.join(dictionary.forms)}",
                code="unknown-form",
                where=Location(file=source.relpath),
            )
        rid = dictionary.record_id
        system = [n for n in header.names if n in SYSTEM_LABELS]
        members = [
            by_name[n]
            for n in header.names
            if n in by_name and n != rid and (form is None or by_name[n].form == form)
        ]
        hidden = {c.name for c in members if c.identifier} | ({SURVEY_IDENTIFIER} & set(system))
        if by_name[rid].identifier:
            hidden.add(rid)  # privacy first: the adapter then cannot find its patient id
        shown = [rid, *system, *(c.name for c in members)]
        keep = [n for n in shown if n not in hidden]
        dropped = [n for n in shown if n in hidden]
        if self.flavour == "label":
            for col in members:
                if col.clash and col.name in keep:
                    raise InputError(
                        f"field {col.name!r} gives two codes the label {col.clash!r}: a label "
                        "export of it cannot be decoded; export raw values",
                        code="ambiguous-label",
                        where=Location(file=dictionary.relpath, column=col.name),
                    )
            if "redcap_event_name" in system and not (self.events or self.event_file):
                raise InputError(
                    "a label export of a longitudinal project names events by their labels: "
                    "declare the reader's events={label: unique_event_name} or event_file "
                    "(REDCap's events export)",
                    code="undeclared-events",
                    where=Location(file=source.relpath, row=1, column="redcap_event_name"),
                )
        return _Plan(keep, members, dropped)

    def _decoders(self, source: Source, plan: _Plan) -> dict[str, Decoder]:
        if self.flavour == "raw":
            return {}
        dictionary, header = self._state(source)
        decoders: dict[str, Decoder] = {c.name: lenient(c.codes) for c in plan.members if c.codes}
        if "redcap_data_access_group" in header.names and self.groups:
            decoders["redcap_data_access_group"] = lenient(
                {k.strip().lower(): v for k, v in self.groups.items()}
            )
        if REPEAT in header.names:
            decoders[REPEAT] = strict(
                instrument_resolver(self.instruments, dictionary.forms),
                REPEAT,
                source.relpath,
                "declare the reader's instruments={label: form_name}",
            )
        if "redcap_event_name" in header.names:
            events = _read_events(source, self.event_file) if self.event_file else []
            decoders["redcap_event_name"] = strict(
                event_resolver(self.events, events),
                "redcap_event_name",
                source.relpath,
                "declare it in the reader's events={label: unique_event_name} or event_file",
            )
        return decoders


def _beside(source: Source, name: str, what: str) -> Source:
    """A file of the export folder next to the records, matched case-insensitively."""
    folder = source.path.parent
    relpath = posixpath.join(posixpath.dirname(source.relpath), name)
    if (folder / name).is_file():
        return Source(folder / name, relpath)
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    for other in files:
        if other.lower() == name.lower():
            return Source(folder / other, posixpath.join(posixpath.dirname(relpath), other))
    close = difflib.get_close_matches(name.lower(), [f.lower() for f in files], n=1, cutoff=0.8)
    raise InputError(
        f"the REDCap export has no {what} {name} beside {source.relpath}"
        + (
            f" (did you mean {files[[f.lower() for f in files].index(close[0])]!r}?)"
            if close
            else ""
        )
        + f"; files present: {', '.join(files) or 'none'}",
        code="missing-file",
        where=Location(file=relpath),
    )


def _read_events(source: Source, name: str) -> list[tuple[str, str, str]]:
    """REDCap's events export: (event name, arm number, unique event name)."""
    events = _beside(source, name, "events export")
    try:
        with events.path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(
            f"the events export cannot be read: {exc}",
            code="bad-events",
            where=Location(file=events.relpath),
        ) from None
    wanted = ("event_name", "arm_num", "unique_event_name")
    if not rows or any(k not in rows[0] for k in wanted):
        raise InputError(
            f"this is not a REDCap events export: it needs columns {', '.join(wanted)}",
            code="bad-events",
            where=Location(file=events.relpath, row=1),
        )
    return [(r["event_name"], r["arm_num"].strip(), r["unique_event_name"].strip()) for r in rows]
