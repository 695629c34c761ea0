"""The study definition of a site's OpenClinica ODM extract (``export_odm`` describes the file):
the parent study with its metadata (events, forms, item groups, items, code lists), then one
site-level study per centre, which includes the parent's metadata as OpenClinica writes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from federate.synth.study_odm import LOG_EVENT, Study, item_name
from federate.synth.xml_odm import attr, escape

METADATA_VERSION = "v1.0.0"


def metadata_version(site: str, study: Study) -> str:
    """The MetaDataVersionOID a study's ClinicalData names: a site-level study has its own."""
    return METADATA_VERSION if site == study.parent else f"{METADATA_VERSION}-{site}"


def study_definitions(study: Study, sites: list[str]) -> Iterator[str]:
    """The parent study, then each site-level study (``sites``, as ``Study.studies`` lists
    them) that is not the parent itself."""
    country = study.adapter.country.upper()
    yield (
        f' <Study OID="{study.parent}">\n  <GlobalVariables>\n'
        f"   <StudyName>MESEMS ({country})</StudyName>\n"
        "   <StudyDescription>Ensayo cruzado de células madre mesenquimales en esclerosis "
        "múltiple</StudyDescription>\n"
        f"   <ProtocolName>MESEMS-{country}</ProtocolName>\n"
        "  </GlobalVariables>\n  <BasicDefinitions/>\n"
    )
    yield from _metadata_version(study)
    yield " </Study>\n"
    for site in sites:
        if site == study.parent:
            continue
        text = escape(site)
        yield (
            f' <Study OID="{text}">\n  <GlobalVariables><StudyName>{text}</StudyName>'
            f"<StudyDescription/><ProtocolName>{text}</ProtocolName></GlobalVariables>\n"
            f'  <MetaDataVersion OID="{METADATA_VERSION}-{text}"'
            f' Name="{METADATA_VERSION}-{text}">\n'
            f'   <Include StudyOID="{study.parent}" MetaDataVersionOID="{METADATA_VERSION}"/>\n'
            "  </MetaDataVersion>\n </Study>\n"
        )


def _event_name(oid: str) -> str:
    """SE_SEMANA12 -> Semana 12."""
    return re.sub(r"(\D)(\d)", r"\1 \2", oid.removeprefix("SE_").capitalize())


def _metadata_version(study: Study) -> Iterator[str]:
    """The parent study's definitions: events in protocol order, forms, item groups, items
    and code lists, each declared once."""
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
            f"   <StudyEventDef{attr('OID', oid)}{attr('Name', _event_name(oid))}"
            f' Repeating="{repeating}" Type="{kind}">\n'
        )
        ordered = sorted(forms_of[oid], key=[g.form for g in study.groups].index)
        for form in ordered:
            yield f'    <FormRef FormOID="{form}" Mandatory="No"/>\n'
        yield "   </StudyEventDef>\n"
    for g in study.groups:
        oid = g.tm.part or ""
        name = item_name("I_" + oid[3:])
        yield f'   <FormDef OID="{g.form}" Name="{name} - V1.0" Repeating="No">\n'
        yield f'    <ItemGroupRef ItemGroupOID="{oid}" Mandatory="Yes"/>\n   </FormDef>\n'
    for g in study.groups:
        oid = g.tm.part or ""
        repeating = "Yes" if g.repeating else "No"
        name = item_name("I_" + oid[3:])
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
                f'   <ItemDef OID="{item}" Name="{item_name(item)}" DataType="{kind}"'
                f' SASFieldName="{item_name(item)[:8]}">\n'
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
                f"{escape(label)}</TranslatedText></Decode></CodeListItem>\n"
            )
        yield "   </CodeList>\n"
    yield "  </MetaDataVersion>\n"
