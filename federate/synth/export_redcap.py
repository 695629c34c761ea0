"""Write a site's REDCap export: the records file (``data.csv``) and, beside it, the project's
data dictionary, from the project declared in ``projects_redcap``.

Each table map is one instrument, and each of its truth rows lands on one record row, keyed as
REDCap keys it: (record, event, repeat instrument, instance). The event is the map's
``redcap_event_name`` column where the adapter reads one (the visit, the crossover period), else
the instrument's only event. A repeating instrument's instance is the map's
``redcap_repeat_instance`` where the adapter reads one (an AE log's numbering), else the row's
order within its record and event. On a repeating event, forms filled on the same day share an
instance. Rows sort as REDCap sorts them (record, event, the event's own row, then its repeating
instruments), and every row carries its record's data access group.

Flavours (``FLAVOUR``, default ``label``): a label export writes field labels as headers, and
choice, checkbox, status, event, instrument and group labels as values, with validated dates in
their field's order (date_dmy: dd-mm-yyyy); a raw export writes names and codes, and dates as
yyyy-mm-dd. Numbers keep the decimal mark of their validation (number_comma_decimal: a comma)
in both. No header cell holds a line break (the reader refuses one).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from federate.adapters.declaration import SiteAdapter
from federate.adapters.parsers import Locale
from federate.readers.redcap import RedcapReader
from federate.readers.redcap_dictionary import SYSTEM_LABELS, checkbox_suffix
from federate.synth.export_csv import NEWLINE, csv_bytes
from federate.synth.projects_redcap import PROJECTS, Instrument, Item, Project

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap, Written

FLAVOUR: Literal["raw", "label"] = "label"
DICTIONARY = "dictionary.csv"

EVENT, INSTRUMENT, INSTANCE, GROUP = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
)
STATUS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
COMPLETE = "2"
CHECKBOX = {"1": "Checked", "0": "Unchecked"}
FIXED = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}
LABEL_DATES = {"date_dmy": "%d-%m-%Y", "date_mdy": "%m-%d-%Y", "date_ymd": "%Y-%m-%d"}
RAW_DATE = "%Y-%m-%d"
# The 18 columns of a data dictionary downloaded from REDCap's Project Setup.
HEADINGS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

Key = tuple[str, str, str, int]  # record, event, repeat instrument ("": none), instance (0: none)


@dataclass(frozen=True)
class _Column:
    name: str
    label: str  # its header in a label export
    labels: Mapping[str, str]  # code -> label in a label export
    date: str = ""  # the date validation of a text field


def _columns(project: Project, groups: bool) -> list[_Column]:
    """The records file's columns, in the dictionary's order."""
    rid = project.instruments[0].items[0]
    out = [_Column(rid.name, rid.label, {})]
    repeats = project.repeating_events or any(i.repeating for i in project.instruments)
    system = [EVENT, *([INSTRUMENT, INSTANCE] if repeats else []), *([GROUP] if groups else [])]
    out += [_Column(name, SYSTEM_LABELS[name], {}) for name in system]
    for instrument in project.instruments:
        for item in instrument.items:
            if item.name != rid.name:
                out += _item_columns(item)
        out.append(_Column(f"{instrument.name}_complete", "Complete?", STATUS))
    return out


def _item_columns(item: Item) -> list[_Column]:
    if item.type == "checkbox":
        return [
            _Column(
                f"{item.name}___{checkbox_suffix(code)}", f"{item.label} (choice={label})", CHECKBOX
            )
            for code, label in item.codes().items()
        ]
    labels = FIXED.get(item.type, item.codes())
    date = item.validation if item.validation in LABEL_DATES else ""
    return [_Column(item.name, item.label, labels, date)]


@dataclass
class _Placement:
    """Where each row of each map lands: its key, then its record row."""

    project: Project
    keys: list[list[Key]]
    groups: dict[str, str]  # record -> unique group name
    damaged: dict[Key, str]  # record row -> its event name as written, where damaged

    def rows(self) -> tuple[list[Key], list[np.ndarray]]:
        events = {e: i for i, e in enumerate(self.project.events)}
        forms = {i.name: n for n, i in enumerate(self.project.instruments)}

        def order(key: Key) -> tuple[str, int, str, int, int]:
            record, event, form, instance = key
            return record, events.get(event, len(events)), event, forms.get(form, -1), instance

        rows = sorted({k for keys in self.keys for k in keys}, key=order)
        at = {k: n for n, k in enumerate(rows)}
        return rows, [np.array([at[k] for k in keys], np.int64) for keys in self.keys]


def _events(r: RenderedMap, locale: Locale) -> tuple[list[str], list[str]]:
    """(the event each row belongs to, its name as written) for a map that reads the event.
    The row's place comes from the truth through the adapter's own parser, so a name damaged
    on purpose (--inject-errors) stays on its record row; names are lower case in REDCap, which
    undoes a capitalised-code habit."""
    name, parser = next((n, p) for n, p in r.tm.fields.items() if p.source == EVENT)
    clean = parser.render(r.truth.column(name).combine_chunks(), locale, np.random.default_rng(0))
    return (
        [str(v).lower() for v in clean.to_pylist()],
        [str(v).lower() for v in r.columns[EVENT].to_pylist()],
    )


def _place(project: Project, rendered: list[RenderedMap], locale: Locale) -> _Placement:
    rid = project.record_id
    groups: dict[str, str] = {}
    plans: list[tuple[Instrument, list[str], list[str], list[str], list[Any]]] = []
    days: dict[tuple[str, str], set[dt.date]] = {}
    for r in rendered:
        instrument = project.instrument(str(r.tm.part))
        records = [str(v) for v in r.columns[rid].to_pylist()]
        if EVENT in r.columns:
            events, written = _events(r, locale)
        elif len(instrument.events) == 1:
            events = written = list(instrument.events) * len(records)
        else:
            raise ValueError(f"{instrument.name}: several events and no {EVENT} to choose one")
        if GROUP in r.columns:
            groups |= {
                rec: str(g).lower()
                for rec, g in zip(records, r.columns[GROUP].to_pylist(), strict=True)
                if g
            }
        when: list[Any] = [None] * len(records)
        if instrument.instance_date and not instrument.repeating:
            when = r.truth.column(instrument.instance_date).to_pylist()
            for rec, event, day in zip(records, events, when, strict=True):
                if event in project.repeating_events:
                    days.setdefault((rec, event), set()).add(day)
        plans.append((instrument, records, events, written, when))
    # A repeating event's instances are numbered by date, shared by every form filled that day.
    numbered = {
        group: {d: n for n, d in enumerate(sorted(ds), start=1)} for group, ds in days.items()
    }
    used = {group: len(ds) for group, ds in days.items()}
    taken: set[tuple[str, Key]] = set()
    keys: list[list[Key]] = []
    damaged: dict[Key, str] = {}
    for (instrument, records, events, written, when), r in zip(plans, rendered, strict=True):
        given = r.columns[INSTANCE].to_pylist() if INSTANCE in r.columns else None
        counts: dict[tuple[str, str], int] = {}
        form_keys: list[Key] = []
        for n, (rec, event) in enumerate(zip(records, events, strict=True)):
            form, instance = "", 0
            if instrument.repeating:
                form = instrument.name
                counts[(rec, event)] = counts.get((rec, event), 0) + 1
                instance = int(given[n]) if given is not None else counts[(rec, event)]
            elif event in project.repeating_events:
                instance = numbered[(rec, event)][when[n]]
                if (instrument.name, (rec, event, form, instance)) in taken:
                    # One form twice on the same day of a repeating event: another instance.
                    instance = used[(rec, event)] = used[(rec, event)] + 1
            key = (rec, event, form, instance)
            if (instrument.name, key) in taken:
                raise ValueError(f"the REDCap instrument {instrument.name} has two rows {key}")
            taken.add((instrument.name, key))
            if written[n] != event:
                damaged[key] = written[n]
            form_keys.append(key)
        keys.append(form_keys)
    return _Placement(project, keys, groups, damaged)


def _inverse(declared: Mapping[str, str]) -> dict[str, str]:
    """A reader's label -> name declaration turned round; a name declared as its own label
    (so that raw exports read too) is no label."""
    out: dict[str, str] = {}
    for label, name in declared.items():
        if label != name:
            out.setdefault(name, label)
    return out


class _Dates:
    """Rendered dates (in the adapter's formats) rewritten in an export's format."""

    def __init__(self, formats: tuple[str, ...]) -> None:
        self.formats = formats
        self._seen: dict[str, dt.date | None] = {}

    def parse(self, text: str) -> dt.date | None:
        if text not in self._seen:
            self._seen[text] = None
            for fmt in self.formats:
                try:
                    self._seen[text] = dt.datetime.strptime(text, fmt).date()
                    break
                except ValueError:
                    continue
        return self._seen[text]

    def rewrite(self, values: np.ndarray, fmt: str) -> np.ndarray:
        """Each date in ``fmt``; what is no date (an injected 31 February) stays as written."""
        out = values.copy()
        for n, text in enumerate(values.tolist()):
            if text is not None and (day := self.parse(str(text))) is not None:
                out[n] = day.strftime(fmt)
        return out


def _relabel(values: np.ndarray, labels: Mapping[str, str]) -> np.ndarray:
    """Codes to labels; a value that is no code of the list is written as it is."""
    return np.array([labels.get(v, v) if v is not None else None for v in values], dtype=object)


def write_dictionary(path: Path, project: Project) -> None:
    """The data dictionary as Project Setup downloads it: comma-separated, 18 columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=NEWLINE)
    writer.writerow(HEADINGS)
    yes = {True: "y", False: ""}
    for instrument in project.instruments:
        for f in instrument.items:
            writer.writerow(
                [
                    f.name,
                    instrument.name,
                    f.section,
                    f.type,
                    f.label,
                    f.choices,
                    f.note,
                    f.validation,
                    f.minimum,
                    f.maximum,
                    yes[f.identifier],
                    f.branching,
                    yes[f.required],
                    "",
                    "",
                    "",
                    "",
                    f.annotation,
                ]
            )
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_redcap_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    from federate.synth.writers import Written

    reader = adapter.reader
    assert isinstance(reader, RedcapReader)
    project = PROJECTS[adapter.name]
    placement = _place(project, rendered, adapter.locale)
    rows, at = placement.rows()
    columns = _columns(project, bool(placement.groups))
    by_name = {c.name: c for c in columns}
    values = {c.name: np.full(len(rows), None, dtype=object) for c in columns}
    system = {
        project.record_id: [k[0] for k in rows],
        EVENT: [placement.damaged.get(k, k[1]) for k in rows],
        INSTRUMENT: [k[2] for k in rows],
        INSTANCE: [str(k[3]) if k[3] else "" for k in rows],
        GROUP: [placement.groups.get(k[0]) for k in rows],
    }
    for name, column in system.items():
        if name in values:
            values[name][:] = column
    for r, where in zip(rendered, at, strict=True):
        instrument = project.instrument(str(r.tm.part))
        own = [c.name for i in instrument.items for c in _item_columns(i)]
        for name, array in r.columns.items():
            if name in system:
                continue
            if name not in own:
                raise ValueError(f"{name!r} is no field of the REDCap instrument {instrument.name}")
            values[name][where] = np.array(array.to_pylist(), dtype=object)
        for name in own:  # unticked choices of a checkbox the adapter does not read
            if name not in r.columns and by_name[name].labels is CHECKBOX:
                values[name][where] = "0"
        values[f"{instrument.name}_complete"][where] = COMPLETE

    dates = _Dates(adapter.locale.date_formats)
    headers = [c.name for c in columns]
    if FLAVOUR == "label":
        headers = [c.label for c in columns]
        system_labels = {
            EVENT: _inverse(reader.events),
            INSTRUMENT: _inverse(reader.instruments),
            GROUP: _inverse(reader.groups),
        }
        for c in columns:
            labels = system_labels.get(c.name, c.labels)
            if labels:
                values[c.name] = _relabel(values[c.name], labels)
            if c.date:
                values[c.name] = dates.rewrite(values[c.name], LABEL_DATES[c.date])
    else:
        for c in columns:
            if c.date:
                values[c.name] = dates.rewrite(values[c.name], RAW_DATE)

    folder.mkdir(parents=True, exist_ok=True)
    data = folder / reader.records
    head = io.StringIO()
    csv.writer(head, delimiter=reader.delimiter, lineterminator=NEWLINE).writerow(headers)
    body = csv_bytes(
        {c.name: pa.array(values[c.name], pa.string()) for c in columns},
        reader.delimiter,
        '"',
        header=False,
    )
    data.write_bytes(codecs.BOM_UTF8 + head.getvalue().encode("utf-8") + body)  # UTF-8 for Excel
    dictionary = folder / reader.dictionary
    write_dictionary(dictionary, project)

    provenance = {
        r.tm.table: (
            pa.array([reader.records] * len(where), pa.string()),
            pa.array(where + 2, pa.int64()),  # record 1 is the header
        )
        for r, where in zip(rendered, at, strict=True)
    }
    return Written([data, dictionary], provenance)
