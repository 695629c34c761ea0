"""REDCap records exports (``data.csv``), read through the project's data dictionary.

One table per form: ``Source.part`` names the form (instrument). ``columns`` gives the record id,
REDCap's system columns present (event, repeat instrument and instance, data access group), and
the form's columns by field name (a checkbox as ``field___code``, then ``form_complete``);
``batches`` yields the form's rows (rule in ``redcap_values``) with ``__source_row`` = the record
number in the file (header = 1). ``part=None`` reads every row and column.

* Headers are field names, in any case, or field labels, matched through the dictionary (labels
  repeat: "Complete?" once per form). A column that is no field of the dictionary is an extra
  column: listed among every form's columns (so the ingest ignores it with a warning, once per
  file: the source fact ``NO_PART``), never decoded nor read into any form's rows.
* Values give **raw codes** in either flavour. Which flavour a file has is read off its values
  (``redcap_profile``), never assumed: ``flavour`` says which the site's spec allows ("raw",
  "label" or "either"), and a file of the other is refused. Label values are decoded through
  the dictionary (choice labels, Checked/Unchecked, Yes/No, Incomplete/Unverified/Complete); a
  value that is no label of its list is kept as exported (the adapter's code list reports it).
* System columns give **unique names** whatever the file's flavour: events, data access groups
  and repeating instruments written as labels are decoded through REDCap's own derivation of
  unique names (``redcap_names``), or REDCap's events export (``event_file``); ``events``,
  ``instruments`` and ``groups`` (label -> name) are only for a project whose names REDCap did
  not derive from its current labels.
* A form never saved (its fields blank, its status Incomplete) is not yielded: each such row is
  a ``Reject`` marked deleted, skipped with the reason ``form-never-saved``.
* Values are **text exactly as exported**: dates as the export wrote them (YYYY-MM-DD, or the
  export's D-M-Y), numbers with the export's decimal mark (number_comma_decimal keeps its comma).
  The adapter's locale parses them; the validation types are in ``data_dictionary(source)``.
* Fields flagged ``Identifier? = y`` and ``redcap_survey_identifier`` are never yielded, and are
  listed in ``source_facts`` (``identifier_fields_dropped``).
"""

from __future__ import annotations

import csv
import difflib
import json
import posixpath
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from federate.errors import InputError, Location
from federate.readers.base import NO_PART, ROW_COLUMN, Reader, Reject, Source, file_version
from federate.readers.csv import CsvReader
from federate.readers.redcap_dictionary import (
    SURVEY_IDENTIFIER,
    SYSTEM_LABELS,
    Column,
    Dictionary,
    read_dictionary,
)
from federate.readers.redcap_header import Header, Sniffer, match_header, read_header
from federate.readers.redcap_names import event_names, group_names, instrument_names
from federate.readers.redcap_profile import (
    REPEAT,
    Flavour,
    Profile,
    evidence,
    profile,
    read_flavour,
)
from federate.readers.redcap_values import NEVER_SAVED, Decoder, exact, form_rows, lenient

EVENT, GROUP = "redcap_event_name", "redcap_data_access_group"
_EXPORT_NAME = {"raw": "raw data", "label": "labels"}  # REDCap's "CSV / Microsoft Excel (...)"


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
class _Reading:
    """What the whole file says about how to read it."""

    flavour: Flavour  # of its values ("raw" where nothing tells: decoding would change nothing)
    system: dict[str, dict[str, str]]  # system column -> value -> unique name


@dataclass(frozen=True)
class RedcapReader(Reader):
    """An adapter maps each form it needs: ``TableMap(file=reader.records, part="<form>")``.
    The dictionary (and any ``event_file``) sits beside the records in the export folder."""

    records: str = "data.csv"
    dictionary: str = "dictionary.csv"
    flavour: Literal["raw", "label", "either"] = "raw"  # what the site's spec allows
    delimiter: str = ","
    encodings: tuple[str, ...] = ("utf-8",)
    events: Mapping[str, str] = field(default_factory=dict)  # event label -> unique event name
    event_file: str | None = None  # REDCap's events export, beside the records
    instruments: Mapping[str, str] = field(default_factory=dict)  # instrument label -> form
    groups: Mapping[str, str] = field(default_factory=dict)  # group name -> unique group name
    block_size: int = 1 << 20
    format: str = field(default="redcap")
    # Caches per file version, never shared by a copy (``dataclasses.replace``) with other
    # settings; the lock lets one thread read a file whole while others wait for it.
    _csv: _NamedCsv = field(init=False, compare=False, repr=False)
    _cache: dict[str, tuple[Dictionary, Header]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _readings: dict[str, _Reading] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _lock: threading.RLock = field(
        default_factory=threading.RLock, init=False, compare=False, repr=False
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
        values = {"raw": "raw values", "label": "label values"}.get(
            self.flavour, "raw or label values"
        )
        return (
            f"REDCap records export {self.records} ({values}, delimiter {self.delimiter!r}, "
            f"encoding {' or '.join(self.encodings)}), its columns the fields of its data "
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
        """The form's columns, then the file's extra columns (no field: never yielded)."""
        return [*self._plan(source).keep, *self._state(source)[1].extra]

    def source_facts(self, source: Source) -> dict[str, str]:
        dictionary, header = self._state(source)
        return {
            "encoding": self._csv.facts(source).encoding,
            "flavour": self._reading(source).flavour,
            "headers": "field labels" if header.labels else "field names",
            "dictionary": dictionary.relpath,
            "dictionary_sha256": dictionary.sha256,
            NO_PART: json.dumps(list(header.extra)),
            "identifier_fields_dropped": ",".join(self._plan(source).dropped),
            # REDCap's own bookkeeping columns: neither data nor unknown.
            "system_columns": ",".join(
                c
                for c in self.columns(source)
                if (c.startswith("redcap_") or c.endswith("_complete")) and c not in header.extra
            ),
            **dictionary.choice_lists(self.columns(source)),
        }

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        plan = self._plan(source)
        decoders = self._decoders(source, plan)
        needed = list(dict.fromkeys([*plan.keep, *(c.name for c in plan.members)]))
        never_saved = (
            f"the form {source.part!r} was never saved on this row: its fields are blank, its "
            "status Incomplete or blank"
        )
        for batch in self._csv.batches(source, rejects):
            rows = batch.column(ROW_COLUMN)
            cols = {name: batch.column(name) for name in needed}
            for name, decode in decoders.items():
                cols[name] = decode(cols[name])
            out = pa.RecordBatch.from_arrays(
                [*(cols[k] for k in plan.keep), rows], names=[*plan.keep, ROW_COLUMN]
            )
            if source.part is not None:
                keep, unsaved = form_rows(cols, source.part, plan.members)
                rejects.extend(
                    Reject(row, NEVER_SAVED, never_saved, deleted=True)
                    for row in rows.filter(unsaved).to_pylist()
                )
                out = out.filter(keep)
            if out.num_rows:
                yield out

    # -- the export's layout ---------------------------------------------------------------

    def _state(self, source: Source) -> tuple[Dictionary, Header]:
        if not source.path.is_file():
            raise InputError(
                f"the REDCap export has no records file {source.relpath}: export the "
                f"project's records as {source.relpath} into the export folder",
                code="missing-file",
                where=Location(file=source.relpath),
            )
        key = self._key(source)
        dict_source = _beside(source, self.dictionary, "data dictionary")
        with self._lock:
            if key not in self._cache:
                dictionary = read_dictionary(dict_source.path, dict_source.relpath, self.encodings)
                encoding = self._csv.facts(source).encoding
                cells = read_header(source.path, encoding, self.delimiter, '"', source.relpath)
                sniff = Sniffer(source.path, encoding, '"', self.delimiter)
                header = match_header(cells, dictionary, source.relpath, sniff)
                self._cache[key] = (dictionary, header)
            return self._cache[key]

    def _key(self, source: Source) -> str:
        dict_source = _beside(source, self.dictionary, "data dictionary")
        return f"{file_version(source.path)}|{file_version(dict_source.path)}"

    def _reading(self, source: Source) -> _Reading:
        """How to read the file, from one pass over all of it (cached per file version)."""
        dictionary, header = self._state(source)
        key = self._key(source)
        with self._lock:
            if key not in self._readings:
                self._readings[key] = self._read_whole(source, dictionary, header)
            return self._readings[key]

    def _read_whole(self, source: Source, dictionary: Dictionary, header: Header) -> _Reading:
        present = set(header.names) - {dictionary.record_id}
        columns = [c for c in dictionary.columns() if c.name in present]
        forms = {f: [c for c in columns if c.form == f] for f in dictionary.forms}
        coded = [c.name for c in columns if c.codes] + [EVENT, GROUP, REPEAT]
        prof = profile(self._csv.batches(source, []), coded, forms)
        seen = evidence(prof, columns)
        found = read_flavour(seen, source.relpath)
        if found is not None and self.flavour not in ("either", found):
            example = seen.raw if found == "raw" else seen.label
            assert example is not None
            column, value, row = example
            raise InputError(
                f"this export has {found} values (row {row}, column {column!r} holds {value!r}), "
                f"but the site's spec asks for {self.flavour} values: export the records again "
                f"as 'CSV / Microsoft Excel ({_EXPORT_NAME[self.flavour]})'",
                code="wrong-flavour",
                where=Location(file=source.relpath, row=row, column=column, value=value),
            )
        return _Reading(found or "raw", self._system_names(source, dictionary, prof))

    def _system_names(
        self, source: Source, dictionary: Dictionary, prof: Profile
    ) -> dict[str, dict[str, str]]:
        def where(column: str) -> Callable[[str], Location]:
            return lambda value: Location(
                file=source.relpath, row=prof.first(column, value), column=column, value=value
            )

        events = _read_events(source, self.event_file) if self.event_file else []
        seen = {name: list(prof.seen.get(name, {})) for name in (EVENT, GROUP, REPEAT)}
        return {
            EVENT: event_names(seen[EVENT], self.events, events, where(EVENT)),
            GROUP: group_names(seen[GROUP], self.groups, where(GROUP)),
            REPEAT: instrument_names(
                seen[REPEAT], self.instruments, dictionary.forms, prof.filled, where(REPEAT)
            ),
        }

    def _plan(self, source: Source) -> _Plan:
        dictionary, header = self._state(source)
        by_name = {c.name: c for c in dictionary.columns()}
        form = source.part
        if form is not None and form not in dictionary.forms:
            close = difflib.get_close_matches(form, dictionary.forms, n=1)
            raise InputError(
                f"{dictionary.relpath} has no instrument {form!r}, which this site's export "
                "needs" + (f" (did you mean {close[0]!r}?)" if close else "") + f"; its "
                f"instruments: {', '.join(dictionary.forms)}. Is it the data dictionary of the "
                "trial's REDCap project?",
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
        return _Plan(keep, members, dropped)

    def _decoders(self, source: Source, plan: _Plan) -> dict[str, Decoder]:
        reading = self._reading(source)
        present = {*plan.keep, *(c.name for c in plan.members)}
        decoders = {n: exact(names) for n, names in reading.system.items() if n in present}
        if reading.flavour == "raw":
            return decoders
        for col in plan.members:
            if col.clash and col.name in plan.keep:
                raise InputError(
                    f"in {self.dictionary}, field {col.name!r} has two choices labelled "
                    f"{col.clash!r}, so a label export cannot tell them apart: export the "
                    "records as 'CSV / Microsoft Excel (raw data)'",
                    code="ambiguous-label",
                    where=Location(file=source.relpath, column=col.name),
                )
        return decoders | {c.name: lenient(c.codes) for c in plan.members if c.codes}


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
