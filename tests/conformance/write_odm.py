"""CDISC ODM 1.3 exports, written with lxml as OpenClinica 3.x writes a full extract: the
study's metadata (item groups, items, code lists whose decodes are the spec's codes), then one
``ClinicalData`` per site-level study, subjects with their ``OpenClinica:StudySubjectID``, study
events (repeated where a visit repeats), forms, and item-group occurrences (repeated where a form
holds several). The declaration says where each table lives: a ``part`` is an item group, a
column ``ITEM@decode`` is a coded item read through its code list, ``StudyOID`` and
``StudyEventOID`` are keys the writer places the occurrence under."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from federate.adapters.parsers import Code, Date, Decimal, Integer, PartialDate
from federate.readers.odm import DECODE_SUFFIX, OdmReader
from tests.conformance.cells import SUBJECT, Cell
from tests.conformance.grammar import Grammar
from tests.conformance.tabular import EXTRA, Sheet
from tests.conformance.truth import LOCAL
from tests.conformance.write_csv import Written

ODM = "http://www.cdisc.org/ns/odm/v1.3"
OC = "http://www.openclinica.org/ns/odm_ext_v130/v3.1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
KEYS = ("StudyOID", "StudyEventOID")
LOG_EVENT = "SE_REGISTRO"  # where forms the spec gives no event are entered


@dataclass(frozen=True)
class OdmStyle:
    encoding: str = "UTF-8"  # or ISO-8859-1: the XML declaration says which
    typed_numbers: bool = False  # numbers as ODM float/integer items, '.' decimal (ODM's own)
    removed: bool = False  # OpenClinica's removed subjects, events, forms and groups kept
    bilingual: bool = False  # code lists decoded in English and Spanish, English first
    item_case: bool = False  # (never drawn) ItemOIDs in another case


def _e(tag: str, parent: etree._Element | None = None, **attrs: str) -> etree._Element:
    name = f"{{{ODM}}}{tag}"
    if parent is None:  # the root declares ODM's namespace and OpenClinica's prefix
        elem = etree.Element(name, nsmap={None: ODM, "OpenClinica": OC})
    else:
        elem = etree.SubElement(parent, name)
    for k, v in attrs.items():
        elem.set(k, v)
    return elem


@dataclass
class Item:
    oid: str
    data_type: str
    codes: dict[str, str] = field(default_factory=dict)  # decode text (lower) -> coded value
    decodes: list[tuple[str, str]] = field(default_factory=list)  # (coded value, decode text)


def items_of(sheet: Sheet, grammar: Grammar, style: OdmStyle) -> dict[str, Item]:
    """The group's items: a coded one's code list spells the spec's codes (in one case per
    export, as the study's designer typed them)."""
    out: dict[str, Item] = {}
    for column in sheet.columns:
        if column in KEYS or column.startswith("OpenClinica:") or column in sheet.tm.dropped:
            continue
        oid = column.removesuffix(DECODE_SUFFIX)
        parsers = [p for p in sheet.tm.fields.values() if p.source == column]
        p = parsers[0] if parsers else None
        if column.endswith(DECODE_SUFFIX) and isinstance(p, Code):
            item = Item(oid, "integer")
            for n, key in enumerate(p.mapping, start=1):
                text = grammar.case(key)
                item.codes[key.lower()] = str(n)
                item.decodes.append((str(n), text))
            out[oid] = item
            continue
        shared = len(parsers) > 1
        kind = "text"
        if isinstance(p, Date) and p.formats == ("%Y-%m-%d",):
            kind = "date"
        elif isinstance(p, PartialDate):
            kind = "text"
        elif isinstance(p, Integer):
            kind = "integer"
        elif isinstance(p, Decimal) and style.typed_numbers and not shared:
            kind = "text" if _odm_number_forbidden(sheet, column) else "float"
        out[oid] = Item(oid, kind)
    return out


def _odm_number_forbidden(sheet: Sheet, column: str) -> bool:
    """Whether a value the site's text rules forbid was put into the column that is a number
    in ODM's own form ("12.5", misgrouped for Spain's '.' grouping, is 12.5 in a real item): the
    item is then a text item, where the rules forbid it."""
    return any(
        (cell := r.cells.get(column)) is not None
        and cell.as_text
        and re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", cell.text.strip()) is not None
        for r in sheet.records
    )


def value_of(item: Item, cell: Cell) -> str:
    """The ItemData value: a coded value, a float in ODM's own form, or the text as written."""
    if cell.as_text or not cell.text:
        return cell.text
    if item.codes:
        return item.codes[cell.text.strip().lower()]
    if item.data_type == "float":
        return repr(float(cell.value))
    return cell.text


@dataclass
class Occ:
    """One item-group occurrence, before its place in the file is known."""

    sheet: Sheet
    index: int  # its record in the sheet
    centre: str
    subject: str
    event: str
    form: str


def metadata(
    study: etree._Element, sheets: list[Sheet], items: dict[str, dict[str, Item]], style: OdmStyle
) -> None:
    mdv = _e("MetaDataVersion", study, OID="v1.0.0", Name="MetaDataVersion_v1.0.0")
    for sheet in sheets:
        group = _e("ItemGroupDef", mdv, OID=sheet.tm.part or "", Name=sheet.tm.table)
        group.set("Repeating", "Yes")
        for oid in items[sheet.tm.table]:
            _e("ItemRef", group, ItemOID=oid, Mandatory="No")
    done: set[str] = set()
    for table_items in items.values():
        for item in table_items.values():
            if item.oid in done:
                continue
            done.add(item.oid)
            idef = _e("ItemDef", mdv, OID=item.oid, Name=item.oid, DataType=item.data_type)
            if item.decodes:
                _e("CodeListRef", idef, CodeListOID=f"CL_{item.oid}")
    for table_items in items.values():
        for item in table_items.values():
            if not item.decodes or f"CL_{item.oid}" in done:
                continue
            done.add(f"CL_{item.oid}")
            cl = _e("CodeList", mdv, OID=f"CL_{item.oid}", Name=item.oid, DataType="integer")
            for code, text in item.decodes:
                entry = _e("CodeListItem", cl, CodedValue=code)
                decode = _e("Decode", entry)
                if style.bilingual:
                    en = _e("TranslatedText", decode)
                    en.set(XML_LANG, "en")
                    en.text = f"[en] {text}"
                tt = _e("TranslatedText", decode)
                tt.set(XML_LANG, "es")
                tt.text = text


def write_odm(
    reader: OdmReader, sheets: list[Sheet], folder: Path, style: OdmStyle, grammar: Grammar
) -> Written:
    rng = grammar.rng
    items = {s.tm.table: items_of(s, grammar, style) for s in sheets}
    root = _e("ODM", FileType="Snapshot", FileOID="MESEMS_ES", ODMVersion="1.3")
    root.set("CreationDateTime", "2020-01-01T00:00:00")
    study = _e("Study", root, OID="S_MESEMSES")
    metadata(study, sheets, items, style)
    subjects = sheets[0]
    centre_of = {r.row[LOCAL]: _key(r.cells["StudyOID"]) for r in subjects.records}
    occs = [_occ(s, i, centre_of) for s in sheets for i in range(len(s.records))]
    order = {c: n for n, c in enumerate(dict.fromkeys(centre_of.values()))}
    locals_ = {r.row[LOCAL]: n for n, r in enumerate(subjects.records)}
    occs.sort(key=lambda o: (order[o.centre], locals_[o.subject], o.event, o.form))
    ordinals: dict[str, int] = {}
    numbers: dict[tuple[str, int], int] = {}
    clinical: dict[str, etree._Element] = {}
    subject_elems: dict[str, etree._Element] = {}
    events: dict[tuple[str, str], etree._Element] = {}
    forms: dict[tuple[str, str, str], etree._Element] = {}
    repeats: dict[tuple[str, str, str, str], int] = {}
    for occ in occs:
        sheet, record = occ.sheet, occ.sheet.records[occ.index]
        if occ.centre not in clinical:
            clinical[occ.centre] = _e(
                "ClinicalData", root, StudyOID=occ.centre, MetaDataVersionOID="v1.0.0"
            )
        if occ.subject not in subject_elems:
            subject_elems[occ.subject] = _subject(clinical[occ.centre], subjects, occ.subject)
        ev = events.get((occ.subject, occ.event))
        if ev is None:
            ev = _e(
                "StudyEventData", subject_elems[occ.subject], StudyEventOID=occ.event.split("#")[0]
            )
            if "#" in occ.event:
                ev.set("StudyEventRepeatKey", occ.event.split("#")[1])
            events[(occ.subject, occ.event)] = ev
        fm = forms.get((occ.subject, occ.event, occ.form))
        if fm is None:
            fm = _e("FormData", ev, FormOID=occ.form)
            fm.set(f"{{{OC}}}Version", "v1.0")
            forms[(occ.subject, occ.event, occ.form)] = fm
        slot = (occ.subject, occ.event, occ.form, sheet.tm.part or "")
        repeats[slot] = repeats.get(slot, 0) + 1
        group = _e("ItemGroupData", fm, ItemGroupOID=sheet.tm.part or "")
        group.set("ItemGroupRepeatKey", str(repeats[slot]))
        group.set("TransactionType", "Insert")
        for oid, item in items[sheet.tm.table].items():
            cell = record.cells.get(oid + DECODE_SUFFIX) or record.cells.get(oid)
            if cell is None or cell.text == "":
                continue
            _e("ItemData", group, ItemOID=oid, Value=value_of(item, cell))
        part = sheet.tm.part or ""
        ordinals[part] = ordinals.get(part, 0) + 1
        numbers[(sheet.tm.table, occ.index)] = ordinals[part]
    if style.removed:
        _removed(root, rng)
    path = folder / sheets[0].tm.file
    etree.ElementTree(root).write(
        str(path), xml_declaration=True, encoding=style.encoding, pretty_print=True
    )
    written = Written({}, {}, {})
    for sheet in sheets:
        written.files[sheet.tm.table] = sheet.tm.file
        written.numbers[sheet.tm.table] = [
            numbers[(sheet.tm.table, i)] for i in range(len(sheet.records))
        ]
        written.texts[sheet.tm.table] = [
            {c: cell.text for c, cell in r.cells.items()} for r in sheet.records
        ]
    return written


def _key(cell: Cell) -> str:
    assert isinstance(cell.parser, Code)
    return next(k for k in cell.parser.mapping if k.lower() == cell.text.strip().lower())


def _occ(sheet: Sheet, index: int, centre_of: dict[str, str]) -> Occ:
    record = sheet.records[index]
    local = record.row[LOCAL]
    cell = record.cells.get("StudyEventOID")
    event = _key(cell) if cell is not None and cell.text.strip() else LOG_EVENT
    if event.endswith("NOPROGRAMADA"):  # a repeating event: one per unscheduled visit
        event += f"#{index + 1}"
    return Occ(sheet, index, centre_of[local], local, event, "F_" + (sheet.tm.part or "")[3:])


def _subject(parent: etree._Element, subjects: Sheet, local: str) -> etree._Element:
    record = next(r for r in subjects.records if r.row[LOCAL] == local)
    elem = _e("SubjectData", parent, SubjectKey=f"SS_{local.replace('-', '')}")
    for column, cell in record.cells.items():
        if column.startswith("OpenClinica:") and (cell.field in (SUBJECT, EXTRA)):
            elem.set(f"{{{OC}}}{column.split(':', 1)[1]}", cell.text)
    elem.set(f"{{{OC}}}Status", "available")
    return elem


def _removed(root: etree._Element, rng: random.Random) -> None:
    """What OpenClinica keeps after a user removed it, flagged, after every live occurrence (so
    live records keep their numbers): a removed subject with a form of every group, and a
    removed item group in a live form. Their values must never pool."""
    clinical = list(root.iter(f"{{{ODM}}}ClinicalData"))[-1]
    ghost = _e("SubjectData", clinical, SubjectKey="SS_REMOVED")
    ghost.set(f"{{{OC}}}StudySubjectID", "ES-REMOVED-1")
    ghost.set(f"{{{OC}}}Status", "removed")
    event = _e("StudyEventData", ghost, StudyEventOID=LOG_EVENT)
    event.set(f"{{{OC}}}Status", "removed")
    seen: set[str] = set()
    for group in list(root.iter(f"{{{ODM}}}ItemGroupData")):
        oid = group.get("ItemGroupOID", "")
        if oid in seen:
            continue
        seen.add(oid)
        form = _e("FormData", event, FormOID="F_REMOVED")
        form.set(f"{{{OC}}}Status", "invalid")
        form.append(etree.fromstring(etree.tostring(group)))
    groups = list(root.iter(f"{{{ODM}}}ItemGroupData"))
    last = [g for g in groups if g.get("ItemGroupOID") == groups[0].get("ItemGroupOID")][-1]
    copy = etree.fromstring(etree.tostring(last))
    copy.set(f"{{{OC}}}Removed", "Yes")
    copy.set("ItemGroupRepeatKey", str(rng.randint(50, 99)))
    last.addnext(copy)
