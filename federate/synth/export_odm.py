"""Write a site's export as an OpenClinica 3.x CDISC ODM 1.3 full extract: one XML file holding
every table map, each table map's item group (``TableMap.part``) one table.

Nested as OpenClinica nests it: the parent study's metadata (events, forms, item groups, items,
code lists) and one site-level study per centre, then ClinicalData per site-level study >
SubjectData per patient > StudyEventData per visit > FormData per form > ItemGroupData per row.
A rendered column is placed by its name:

* ``StudyOID`` (per patient, from the subjects map) picks the ClinicalData; ``StudyEventOID``
  the event. The unscheduled visit's event repeats, one instance per date.
* ``prefix:Name`` (the local id, the identifying attributes the adapter drops) is a SubjectData
  attribute; the audit log repeats the dropped ones, as OpenClinica logs their corrections.
* ``ITEM@decode`` is written as the code of that label in a code list the metadata declares
  (case ignored, as the adapter matches it); any other column is an ItemData value.

Tables that name no visit are filed where an OpenClinica study keeps them: demographics at
screening, randomisation at baseline, infusions at baseline or week 24 by period, the logs
(relapses, adverse events, medication) in one Common event. Dates typed into text items in a
day-first format are written without leading zeros (d/m/yy), the Spanish habit; partial-date
items keep theirs (the CRF masks them as dd/mm/aa), as the truth records them.

The reader numbers a row by its item group's occurrence in the file (1, 2, ...): the writer
returns that number per truth row as the provenance. The file is written subject by subject.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import LocalId, SiteAdapter, TableMap
from federate.adapters.parsers import Code, Date, Integer, Parser
from federate.readers.odm import DECODE_SUFFIX, UNIT_SUFFIX
from federate.readers.odm_walk import KEYS
from federate.synth.base import UNSCHEDULED

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap, Written

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
VENDOR_NS = {
    "OpenClinica": "http://www.openclinica.org/ns/odm_ext_v130/v3.1",
    "OpenClinicaRules": "http://www.openclinica.org/ns/rules/v3.1",
}
METADATA_VERSION = "v1.0.0"
# Where tables that name no visit are filed (shared visit code), and the Common event of logs.
HOME_VISIT = {"subjects": "SCR", "randomisation": "W0"}
PERIOD_VISIT = {1: "W0", 2: "W24"}  # infusions: crossover period -> visit
LOG_EVENT = "SE_REGISTROS"
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;"}
    | {"\t": "&#9;"}
)
_LEADING_ZEROS = (r"^0(\d)/", r"\1/"), (r"/0(\d)/", r"/\1/")


def _attr(name: str, value: object) -> str:
    return f' {name}="{str(value).translate(_ESCAPES)}"'


def _key(spec: LocalId, value: str) -> str:
    """The local id as the engine normalises it (what makes rows one patient)."""
    v = value.strip().upper() if spec.upper else value.strip()
    return v.zfill(spec.zero_pad) if spec.zero_pad and v.isdigit() else v


def _item_name(oid: str) -> str:
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


def _event_name(oid: str) -> str:
    """SE_SEMANA12 -> Semana 12."""
    return re.sub(r"(\D)(\d)", r"\1 \2", oid.removeprefix("SE_").capitalize())


def _data_type(parsers: list[Parser], adapter: SiteAdapter) -> str:
    if not parsers:
        return "text"
    if all(isinstance(p, Integer) for p in parsers):
        return "integer"
    if all(isinstance(p, Date) and not _day_first(p, adapter) for p in parsers):
        return "date"
    return "text"


@dataclass
class _Group:
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
class _Event:
    rank: int  # its visit's place in the protocol (an unknown OID keeps its row's visit's)
    start: dt.date | None = None
    forms: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # form -> (group, row)


@dataclass
class _Subject:
    study: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    sex: str | None = None
    events: dict[tuple[str, int | None], _Event] = field(default_factory=dict)


class _Study:
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
        self.subjects: dict[str, _Subject] = {}
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

    def _group(self, r: RenderedMap) -> _Group:
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
                self.codelist_names.setdefault(codelists[oid], _item_name(oid))
                data_types[oid] = "integer"
            else:
                data_types[oid] = _data_type(parsers, self.adapter)
        form = "F_" + tm.part.upper().split("_")[1] + "_V10"
        return _Group(tm, form, items, codes, codelists, data_types, columns)

    def _subject(self, key: str) -> _Subject:
        return self.subjects.setdefault(key, _Subject())

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
            event = subject.events.setdefault((events[row], repeat), _Event(ranks[row]))
            if date and (event.start is None or date < event.start):
                event.start = date
            event.forms.setdefault(group.form, []).append((g, row))

    def _events(self, group: _Group, truth: pa.Table) -> tuple[list[str], list[int]]:
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
            renumbered: dict[tuple[str, int | None], _Event] = {}
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


def _metadata(study: _Study) -> Iterator[str]:
    events = study.event_order()
    forms_of: dict[str, dict[str, None]] = {oid: {} for oid in events}
    for subject in study.subjects.values():
        for (oid, _), event in subject.events.items():
            forms_of[oid].update(dict.fromkeys(event.forms))
    yield f'  <MetaDataVersion OID="{METADATA_VERSION}" Name="{METADATA_VERSION}">\n'
    yield "   <Protocol>\n"
    for n, oid in enumerate(events, start=1):
        yield f'    <StudyEventRef StudyEventOID="{oid}" OrderNumber="{n}" Mandatory="Yes"/>\n'
    yield "   </Protocol>\n"
    for oid in events:
        repeating = "Yes" if oid == study.unscheduled else "No"
        kind = {study.unscheduled: "Unscheduled", LOG_EVENT: "Common"}.get(oid, "Scheduled")
        yield (
            f"   <StudyEventDef{_attr('OID', oid)}{_attr('Name', _event_name(oid))}"
            f' Repeating="{repeating}" Type="{kind}">\n'
        )
        ordered = sorted(forms_of[oid], key=[g.form for g in study.groups].index)
        for form in ordered:
            yield f'    <FormRef FormOID="{form}" Mandatory="No"/>\n'
        yield "   </StudyEventDef>\n"
    for g in study.groups:
        oid = g.tm.part or ""
        name = _item_name("I_" + oid[3:])
        yield f'   <FormDef OID="{g.form}" Name="{name} - V1.0" Repeating="No">\n'
        yield f'    <ItemGroupRef ItemGroupOID="{oid}" Mandatory="Yes"/>\n   </FormDef>\n'
    for g in study.groups:
        oid = g.tm.part or ""
        repeating = "Yes" if g.repeating else "No"
        name = _item_name("I_" + oid[3:])
        yield f'   <ItemGroupDef OID="{oid}" Name="{name}" Repeating="{repeating}">\n'
        for n, item in enumerate(dict.fromkeys(g.items.values()), start=1):
            yield f'    <ItemRef ItemOID="{item}" OrderNumber="{n}" Mandatory="No"/>\n'
        yield "   </ItemGroupDef>\n"
    defined: set[str] = set()
    for g in study.groups:
        for item, kind in g.data_types.items():
            if item in defined:
                continue
            defined.add(item)
            yield (
                f'   <ItemDef OID="{item}" Name="{_item_name(item)}" DataType="{kind}"'
                f' SASFieldName="{_item_name(item)[:8]}">\n'
            )
            if item in g.codelists:
                yield f'    <CodeListRef CodeListOID="{g.codelists[item]}"/>\n'
            yield "   </ItemDef>\n"
    for labels, oid in study.codelists.items():
        name = study.codelist_names[oid]
        yield f'   <CodeList OID="{oid}" Name="{name}" DataType="integer">\n'
        for n, label in enumerate(labels, start=1):
            yield (
                f'    <CodeListItem CodedValue="{n}"><Decode><TranslatedText>'
                f"{label.translate(_ESCAPES)}</TranslatedText></Decode></CodeListItem>\n"
            )
        yield "   </CodeList>\n"
    yield "  </MetaDataVersion>\n"


def _subject_xml(
    study: _Study,
    key: str,
    subject: _Subject,
    ordinals: Counter[str],
    rows: Mapping[int, list[int]],
) -> Iterator[str]:
    """One SubjectData; records each row's occurrence ordinal in ``rows[group][row]``."""
    others = dict(subject.attributes)
    id_column = next(g.tm.subject.source for g in study.groups if g.tm.subject)
    local = others.pop(id_column, key)
    subject_key = "SS_" + re.sub(r"[^A-Za-z0-9]", "", local).upper()
    # In OpenClinica's order: study subject id, person id, status, then the rest.
    unique = {k: others[k] for k in ("OpenClinica:UniqueIdentifier",) if k in others}
    attributes = {
        "SubjectKey": subject_key,
        id_column: local,
        **unique,
        "OpenClinica:Status": "signed",
        **others,
        **({"OpenClinica:Sex": subject.sex} if subject.sex else {}),
    }
    yield f"  <SubjectData{''.join(_attr(k, v) for k, v in attributes.items())}>\n"
    birth = _iso(others.get("OpenClinica:DateOfBirth"))
    protocol = set(study.protocol())
    form_order = {g.form: n for n, g in enumerate(study.groups)}
    for (oid, repeat), event in sorted(
        subject.events.items(),
        key=lambda kv: (kv[1].rank, kv[1].start or dt.date.min, kv[0][0] not in protocol),
    ):
        head = _attr("StudyEventOID", oid)
        if event.start:
            head += _attr("OpenClinica:StartDate", event.start.isoformat())
        head += _attr("OpenClinica:Status", "completed")
        if birth and event.start:
            head += _attr("OpenClinica:SubjectAgeAtEvent", _age(birth, event.start))
        if repeat is not None:
            head += _attr("StudyEventRepeatKey", repeat)
        yield f"   <StudyEventData{head}>\n"
        for form, entries in sorted(event.forms.items(), key=lambda kv: form_order[kv[0]]):
            yield (
                f'    <FormData FormOID="{form}" OpenClinica:Version="V1.0"'
                ' OpenClinica:Status="data entry complete">\n'
            )
            repeat_keys = Counter[int]()
            for g, row in entries:
                group = study.groups[g]
                oid = group.tm.part or ""
                repeat_keys[g] += 1
                ordinals[oid] += 1
                rows[g][row] = ordinals[oid]
                yield (
                    f'     <ItemGroupData ItemGroupOID="{oid}"'
                    f' ItemGroupRepeatKey="{repeat_keys[g]}" TransactionType="Insert">\n'
                )
                for column, item in group.items.items():
                    value = group.columns[column][row]
                    if value is None:
                        continue  # OpenClinica leaves an empty item out
                    code = group.codes.get(item, {}).get(value.lower(), value)
                    yield f"      <ItemData{_attr('ItemOID', item)}{_attr('Value', code)}/>\n"
                yield "     </ItemGroupData>\n"
            yield "    </FormData>\n"
        yield "   </StudyEventData>\n"
    # The audit trail of the subject record repeats the identifying values it logged.
    logged = [v for k, v in others.items() if k in study.dropped]
    first = min((e.start for e in subject.events.values() if e.start), default=None)
    if logged and first:
        stamp = _attr("DateTimeStamp", f"{first.isoformat()}T09:30:00")
        yield f"   <OpenClinica:AuditLogs{_attr('EntityID', subject_key)}>\n"
        yield (
            f'    <OpenClinica:AuditLog{_attr("ID", f"AL_{subject_key}_1")} UserID="USR_2"'
            f'{stamp} AuditType="Subject created"/>\n'
        )
        for n, value in enumerate(logged, start=2):
            yield (
                f"    <OpenClinica:AuditLog{_attr('ID', f'AL_{subject_key}_{n}')}"
                f' UserID="USR_2"{stamp} AuditType="Subject value changed"'
                f' OldValue=""{_attr("NewValue", value)}/>\n'
            )
        yield "   </OpenClinica:AuditLogs>\n"
    yield "  </SubjectData>\n"


def _iso(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def write_odm_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    from federate.synth.writers import Written  # writers registers this module: import late

    files = {r.tm.file for r in rendered}
    parts = [(r.tm.part or "").upper() for r in rendered]
    if len(files) != 1 or len(set(parts)) != len(parts):
        raise ValueError("an ODM export is one file with one item group per table map")
    study = _Study(adapter, rendered)
    path = folder / files.pop()
    path.parent.mkdir(parents=True, exist_ok=True)
    last = max(
        (e.start for s in study.subjects.values() for e in s.events.values() if e.start),
        default=dt.date(2020, 1, 1),
    )
    created = (last + dt.timedelta(days=30)).isoformat()
    sites = study.studies()
    ordinals = Counter[str]()
    rows: dict[int, list[int]] = {g: [0] * r.truth.num_rows for g, r in enumerate(rendered)}
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        namespaces = "".join(_attr(f"xmlns:{p}", uri) for p, uri in VENDOR_NS.items())
        fh.write(
            f'<ODM xmlns="{ODM_NS}"{namespaces}'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            f' FileOID="Extract_All_DataD{created.replace("-", "")}080000+0000"'
            ' Description="Extract all data in the study"'
            f' CreationDateTime="{created}T08:00:00+00:00" FileType="Snapshot" ODMVersion="1.3"'
            f' xsi:schemaLocation="{ODM_NS} OpenClinica-ODM1-3-0-OC2-0.xsd">\n'
        )
        fh.write(
            f' <Study OID="{study.parent}">\n  <GlobalVariables>\n'
            f"   <StudyName>MESEMS ({adapter.country.upper()})</StudyName>\n"
            "   <StudyDescription>Ensayo cruzado de células madre mesenquimales en esclerosis "
            "múltiple</StudyDescription>\n"
            f"   <ProtocolName>MESEMS-{adapter.country.upper()}</ProtocolName>\n"
            "  </GlobalVariables>\n  <BasicDefinitions/>\n"
        )
        fh.writelines(_metadata(study))
        fh.write(" </Study>\n")
        for site in sites:
            if site == study.parent:
                continue
            text = site.translate(_ESCAPES)
            fh.write(
                f' <Study OID="{text}">\n  <GlobalVariables><StudyName>{text}</StudyName>'
                f"<StudyDescription/><ProtocolName>{text}</ProtocolName></GlobalVariables>\n"
                f'  <MetaDataVersion OID="{METADATA_VERSION}-{text}"'
                f' Name="{METADATA_VERSION}-{text}">\n'
                f'   <Include StudyOID="{study.parent}" MetaDataVersionOID="{METADATA_VERSION}"/>\n'
                "  </MetaDataVersion>\n </Study>\n"
            )
        for site in sites:
            mdv = METADATA_VERSION if site == study.parent else f"{METADATA_VERSION}-{site}"
            fh.write(
                f" <ClinicalData{_attr('StudyOID', site)}{_attr('MetaDataVersionOID', mdv)}>\n"
            )
            for key in sorted(
                k for k, s in study.subjects.items() if (s.study or study.parent) == site
            ):
                fh.writelines(_subject_xml(study, key, study.subjects[key], ordinals, rows))
            fh.write(" </ClinicalData>\n")
        fh.write("</ODM>\n")
    provenance = {
        r.tm.table: (
            pa.repeat(pa.scalar(r.tm.file, pa.string()), r.truth.num_rows),
            pa.array(rows[g], pa.int64()),
        )
        for g, r in enumerate(rendered)
    }
    return Written([path], provenance)
