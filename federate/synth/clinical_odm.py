"""The clinical data of a site's OpenClinica ODM extract (``export_odm`` describes the file):
one ClinicalData per site-level study > SubjectData per patient > StudyEventData per visit >
FormData per form > ItemGroupData per row, then the subject's audit log. Writing a row numbers
it as the reader will: by its item group's occurrence in the file (1, 2, ...).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from federate.synth.metadata_odm import metadata_version
from federate.synth.study_odm import Event, Study, Subject
from federate.synth.xml_odm import attr


@dataclass
class Occurrences:
    """Each truth row's number in the file (the writer's provenance), counted as it is written."""

    rows: dict[int, list[int]]  # item group (its index in Study.groups) -> truth row -> number
    counts: Counter[str] = field(default_factory=Counter)  # ItemGroupOID -> rows written

    def count(self, g: int, oid: str, row: int) -> None:
        self.counts[oid] += 1
        self.rows[g][row] = self.counts[oid]


def clinical_data(study: Study, sites: list[str], occurrences: Occurrences) -> Iterator[str]:
    """One ClinicalData per site-level study (``Study.studies``), its subjects by local id."""
    for site in sites:
        mdv = metadata_version(site, study)
        yield f" <ClinicalData{attr('StudyOID', site)}{attr('MetaDataVersionOID', mdv)}>\n"
        for key in sorted(
            k for k, s in study.subjects.items() if (s.study or study.parent) == site
        ):
            yield from _subject_xml(study, key, study.subjects[key], occurrences)
        yield " </ClinicalData>\n"


def _subject_xml(
    study: Study, key: str, subject: Subject, occurrences: Occurrences
) -> Iterator[str]:
    """One SubjectData: its attributes, its events in visit order, its audit log."""
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
    yield f"  <SubjectData{''.join(attr(k, v) for k, v in attributes.items())}>\n"
    birth = _iso(others.get("OpenClinica:DateOfBirth"))
    for (oid, repeat), event in _in_visit_order(study, subject):
        yield from _event_xml(study, oid, repeat, event, birth, occurrences)
    yield from _audit_logs(study, subject, subject_key, others)
    yield "  </SubjectData>\n"


def _in_visit_order(study: Study, subject: Subject) -> list[tuple[tuple[str, int | None], Event]]:
    """The subject's events by their visit's place in the protocol, then by date; at the same
    place, an event OID the protocol does not know comes after the one it knows."""
    protocol = set(study.protocol())
    return sorted(
        subject.events.items(),
        key=lambda kv: (kv[1].rank, kv[1].start or dt.date.min, kv[0][0] not in protocol),
    )


def _event_xml(
    study: Study,
    oid: str,
    repeat: int | None,
    event: Event,
    birth: dt.date | None,
    occurrences: Occurrences,
) -> Iterator[str]:
    """One StudyEventData; its forms in the order of the study's item groups."""
    head = attr("StudyEventOID", oid)
    if event.start:
        head += attr("OpenClinica:StartDate", event.start.isoformat())
    head += attr("OpenClinica:Status", "completed")
    if birth and event.start:
        head += attr("OpenClinica:SubjectAgeAtEvent", _age(birth, event.start))
    if repeat is not None:
        head += attr("StudyEventRepeatKey", repeat)
    yield f"   <StudyEventData{head}>\n"
    form_order = {g.form: n for n, g in enumerate(study.groups)}
    for form, entries in sorted(event.forms.items(), key=lambda kv: form_order[kv[0]]):
        yield (
            f'    <FormData FormOID="{form}" OpenClinica:Version="V1.0"'
            ' OpenClinica:Status="data entry complete">\n'
        )
        repeat_keys = Counter[int]()
        for g, row in entries:
            repeat_keys[g] += 1
            yield from _item_group_xml(study, g, row, repeat_keys[g], occurrences)
        yield "    </FormData>\n"
    yield "   </StudyEventData>\n"


def _item_group_xml(
    study: Study, g: int, row: int, repeat_key: int, occurrences: Occurrences
) -> Iterator[str]:
    """Row ``row`` of item group ``g``: its items, a label written as its code."""
    group = study.groups[g]
    oid = group.tm.part or ""
    occurrences.count(g, oid, row)
    yield (
        f'     <ItemGroupData ItemGroupOID="{oid}"'
        f' ItemGroupRepeatKey="{repeat_key}" TransactionType="Insert">\n'
    )
    for column, item in group.items.items():
        value = group.columns[column][row]
        if value is None:
            continue  # OpenClinica leaves an empty item out
        code = group.codes.get(item, {}).get(value.lower(), value)
        yield f"      <ItemData{attr('ItemOID', item)}{attr('Value', code)}/>\n"
    yield "     </ItemGroupData>\n"


def _audit_logs(
    study: Study, subject: Subject, subject_key: str, others: dict[str, str]
) -> Iterator[str]:
    """The audit trail of the subject record repeats the identifying values it logged."""
    logged = [v for k, v in others.items() if k in study.dropped]
    first = min((e.start for e in subject.events.values() if e.start), default=None)
    if logged and first:
        stamp = attr("DateTimeStamp", f"{first.isoformat()}T09:30:00")
        yield f"   <OpenClinica:AuditLogs{attr('EntityID', subject_key)}>\n"
        yield (
            f'    <OpenClinica:AuditLog{attr("ID", f"AL_{subject_key}_1")} UserID="USR_2"'
            f'{stamp} AuditType="Subject created"/>\n'
        )
        for n, value in enumerate(logged, start=2):
            yield (
                f"    <OpenClinica:AuditLog{attr('ID', f'AL_{subject_key}_{n}')}"
                f' UserID="USR_2"{stamp} AuditType="Subject value changed"'
                f' OldValue=""{attr("NewValue", value)}/>\n'
            )
        yield "   </OpenClinica:AuditLogs>\n"


def _iso(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
