"""What a site's OpenClinica ODM extract holds, gathered from its rendered table maps before a
line is written (``export_odm`` describes the file): each table map's item group (items, code
lists, data types, values) and, per patient, the site-level study, the SubjectData attributes
and the events, each event's forms and the rows filed in them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import LocalId, SiteAdapter, TableMap
from federate.adapters.parsers import Code, Date, Integer, Parser
from federate.readers.odm import DECODE_SUFFIX, UNIT_SUFFIX
from federate.readers.odm_walk import KEYS
from federate.synth.base import UNSCHEDULED

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap

# Where tables that name no visit are filed (shared visit code), and the Common event of logs.
HOME_VISIT = {"subjects": "SCR", "randomisation": "W0"}
PERIOD_VISIT = {1: "W0", 2: "W24"}  # infusions: crossover period -> visit
LOG_EVENT = "SE_REGISTROS"
_LEADING_ZEROS = (r"^0(\d)/", r"\1/"), (r"/0(\d)/", r"/\1/")


def _key(spec: LocalId, value: str) -> str:
    """The local id as the engine normalises it (what makes rows one patient)."""
    v = value.strip().upper() if spec.upper else value.strip()
    return v.zfill(spec.zero_pad) if spec.zero_pad and v.isdigit() else v


def item_name(oid: str) -> str:
    """OpenClinica item OIDs are I_<CRF>_<NAME>: the item's name is the last part."""
    parts = oid.split("_", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "I" else oid


def _labels(parser: Code) -> list[str]:
    """A code list's labels: the site code of each shared value, in declaration order."""
    first: dict[object, str] = {}
    for label, shared in parser.mapping.items():
        first.setdefault(shared, label)
    return list(first.values())


def _day_first(parser: Parser, adapter: SiteAdapter) -> bool:
    """A Date typed into a text item day first (OpenClinica's own date items are ISO)."""
    if not isinstance(parser, Date):
        return False
    return (parser.formats or adapter.locale.date_formats)[0].startswith("%d/%m")


def _data_type(parsers: list[Parser], adapter: SiteAdapter) -> str:
    if not parsers:
        return "text"
    if all(isinstance(p, Integer) for p in parsers):
        return "integer"
    if all(isinstance(p, Date) and not _day_first(p, adapter) for p in parsers):
        return "date"
    return "text"


@dataclass
class Group:
    """One table map's item group: its items, code lists and rows."""

    tm: TableMap
    form: str
    items: dict[str, str]  # rendered column -> ItemOID
    codes: dict[str, dict[str, str]]  # ItemOID -> label (lower case) -> coded value
    codelists: dict[str, str]  # ItemOID -> CodeListOID
    data_types: dict[str, str]  # ItemOID -> ODM DataType
    columns: dict[str, list[str | None]]  # rendered column -> values
    repeating: bool = False


@dataclass
class Event:
    rank: int  # its visit's place in the protocol (an unknown OID keeps its row's visit's)
    start: dt.date | None = None
    forms: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # form -> (group, row)


@dataclass
class Subject:
    study: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    sex: str | None = None
    events: dict[tuple[str, int | None], Event] = field(default_factory=dict)


class Study:
    """Everything the file holds, gathered from the rendered table maps."""

    def __init__(self, adapter: SiteAdapter, rendered: list[RenderedMap]) -> None:
        self.adapter = adapter
        self.parent = f"S_MESEMS{adapter.country.upper()}"
        self.visit_event = self._visit_events()
        self.unscheduled = self.visit_event.get(UNSCHEDULED)
        self.codelists: dict[tuple[str, ...], str] = {}  # labels -> CodeListOID
        self.codelist_names: dict[str, str] = {}  # CodeListOID -> its first item's name
        self.dropped = {d for tm in adapter.tables for d in tm.dropped}
        self.groups = [self._group(r) for r in rendered]
        self.subjects: dict[str, Subject] = {}
        for g, r in enumerate(rendered):
            self._place(g, r)
        self._number_repeats()

    def _visit_events(self) -> dict[str, str]:
        """Shared visit code -> event OID, from the adapter's StudyEventOID code list."""
        for tm in self.adapter.tables:
            for parser in tm.fields.values():
                if isinstance(parser, Code) and parser.source == "StudyEventOID":
                    inverse: dict[str, str] = {}
                    for oid, visit in parser.mapping.items():
                        inverse.setdefault(str(visit), oid.upper())
                    return inverse
        return {}

    def _group(self, r: RenderedMap) -> Group:
        tm = r.tm
        if tm.part is None or not tm.part.upper().startswith("IG_"):
            raise ValueError(f"{tm.table}: an ODM table map names its item group OID as part")
        feeds: dict[str, list[Parser]] = defaultdict(list)
        for parser in tm.fields.values():
            if parser.source:
                feeds[parser.source].append(parser)
        columns = {c: v.to_pylist() for c, v in r.columns.items()}
        for column, parsers in feeds.items():
            if all(_day_first(p, self.adapter) for p in parsers):
                values = r.columns[column]
                for pattern, replacement in _LEADING_ZEROS:
                    values = pc.replace_substring_regex(values, pattern, replacement)
                columns[column] = values.to_pylist()
        items: dict[str, str] = {}
        codes: dict[str, dict[str, str]] = {}
        codelists: dict[str, str] = {}
        data_types: dict[str, str] = {}
        for column in r.columns:
            if "/" in column:
                raise NotImplementedError(f"{column}: attributes of a named level")
            if column in (k for k, _ in KEYS) or ":" in column:
                continue  # structure and SubjectData attributes
            if column.endswith(UNIT_SUFFIX):
                raise NotImplementedError(f"{column}: measurement units are not written yet")
            oid = column.removesuffix(DECODE_SUFFIX)
            items[column] = oid
            parsers = feeds.get(column, [])
            if column.endswith(DECODE_SUFFIX):
                labels = [label for p in parsers if isinstance(p, Code) for label in _labels(p)]
                codes[oid] = {label.lower(): str(i) for i, label in enumerate(labels, start=1)}
                codelists[oid] = self.codelists.setdefault(
                    tuple(labels), f"CL_{len(self.codelists) + 1}"
                )
                self.codelist_names.setdefault(codelists[oid], item_name(oid))
                data_types[oid] = "integer"
            else:
                data_types[oid] = _data_type(parsers, self.adapter)
        form = "F_" + tm.part.upper().split("_")[1] + "_V10"
        return Group(tm, form, items, codes, codelists, data_types, columns)

    def _subject(self, key: str) -> Subject:
        return self.subjects.setdefault(key, Subject())

    def _place(self, g: int, r: RenderedMap) -> None:
        tm, group = r.tm, self.groups[g]
        if tm.subject is None:
            raise ValueError(f"{tm.table}: an ODM row needs the subject's local id")
        ids = group.columns[tm.subject.source]
        keys = [_key(tm.subject, str(v or "")) for v in ids]
        events, ranks = self._events(group, r.truth)
        # A row's date dates its event only when the row names its visit (not a diagnosis).
        named = "StudyEventOID" in group.columns or "visit_code" in r.truth.column_names
        dates = _first_date(tm, r.truth) if named else [None] * r.truth.num_rows
        attributes = [c for c in group.columns if ":" in c]
        studies = group.columns.get("StudyOID") or [None] * len(keys)
        for row, key in enumerate(keys):
            subject = self._subject(key)
            for name in attributes:
                value = group.columns[name][row]
                if value is not None:
                    subject.attributes.setdefault(name, value)
            if subject.study is None and (study := studies[row]):
                subject.study = study.upper()
            if tm.table == "subjects" and "sex" in r.truth.column_names:
                subject.sex = (r.truth.column("sex")[row].as_py() or "").lower() or None
            date = dates[row]
            repeat = date.toordinal() if events[row] == self.unscheduled and date else None
            event = subject.events.setdefault((events[row], repeat), Event(ranks[row]))
            if date and (event.start is None or date < event.start):
                event.start = date
            event.forms.setdefault(group.form, []).append((g, row))

    def _events(self, group: Group, truth: pa.Table) -> tuple[list[str], list[int]]:
        """Each row's event OID as written, and the rank of the event its truth visit names:
        an injected unknown OID then sits next to the event it replaced, so no row moves."""
        table, n = group.tm.table, truth.num_rows
        if "visit_code" in truth.column_names:
            visits = truth.column("visit_code").to_pylist()
        elif table == "infusions":
            visits = [PERIOD_VISIT.get(p) for p in truth.column("period").to_pylist()]
        else:
            visits = [HOME_VISIT.get(table)] * n
        canonical = [self.visit_event.get(str(v), LOG_EVENT) for v in visits]
        written = group.columns.get("StudyEventOID")
        oids = [(v or LOG_EVENT).upper() for v in written] if written else canonical
        order = self.protocol()
        return oids, [order.index(c) if c in order else len(order) for c in canonical]

    def protocol(self) -> list[str]:
        return [*dict.fromkeys(self.visit_event.values()), LOG_EVENT]

    def _number_repeats(self) -> None:
        """Unscheduled visits get repeat keys 1, 2... in date order (placed by date ordinal);
        an item group found twice in one form is marked repeating."""
        for subject in self.subjects.values():
            renumbered: dict[tuple[str, int | None], Event] = {}
            repeats = Counter[str]()
            for (oid, repeat), event in sorted(
                subject.events.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
            ):
                if oid == self.unscheduled:
                    repeats[oid] += 1
                    repeat = repeats[oid]
                renumbered[(oid, repeat)] = event
            subject.events = renumbered
            for event in subject.events.values():
                for rows in event.forms.values():
                    by_group = Counter(g for g, _ in rows)
                    for g, count in by_group.items():
                        self.groups[g].repeating |= count > 1

    def event_order(self) -> list[str]:
        """The events the file holds: protocol order, then the logs, then any other."""
        order = self.protocol()
        seen = {oid for s in self.subjects.values() for oid, _ in s.events}
        return [oid for oid in order if oid in seen] + sorted(seen - set(order))

    def studies(self) -> list[str]:
        """Site-level study OIDs in the adapter's order (else just the parent study)."""
        used = {s.study or self.parent for s in self.subjects.values()}
        declared = [
            oid.upper()
            for tm in self.adapter.tables
            for p in tm.fields.values()
            if isinstance(p, Code) and p.source == "StudyOID"
            for oid in p.mapping
        ]
        return [s for s in dict.fromkeys(declared) if s in used] + sorted(used - set(declared))


def _first_date(tm: TableMap, truth: pa.Table) -> list[dt.date | None]:
    """The row's own date (visit, scan, assessment): the first Date field of the map."""
    for name, parser in tm.fields.items():
        if isinstance(parser, Date) and name in truth.column_names:
            values: list[dt.date | None] = truth.column(name).to_pylist()
            return values
    return [None] * truth.num_rows
