"""The study definition an ODM file carries (its ``MetaDataVersion`` s and ``BasicDefinitions``).

Definitions are merged over every MetaDataVersion in the file: OpenClinica writes one per site,
each ``Include`` -ing the parent study's, so an item group's columns are the union of its
``ItemRef`` s wherever it is defined (first definition wins for items and code lists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class ItemDef:
    oid: str
    name: str
    data_type: str  # ODM DataType: text, integer, float, date, partialDate, ...
    length: str | None = None
    significant_digits: str | None = None
    codelist: str | None = None  # CodeListOID
    units: tuple[str, ...] = ()  # MeasurementUnitOIDs allowed for the item
    question: str | None = None


@dataclass
class ItemGroupDef:
    oid: str
    name: str
    repeating: str | None = None
    items: list[str] = field(default_factory=list)  # ItemOIDs, in ItemRef order


@dataclass(frozen=True)
class CodeList:
    oid: str
    name: str
    data_type: str
    decodes: dict[str, str | None]  # CodedValue -> Decode text (None for an EnumeratedItem)
    # CodedValue -> the labels its Decode offers when none is to be read (see ``translation``)
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasurementUnit:
    oid: str
    name: str
    symbol: str | None


@dataclass
class Metadata:
    item_groups: dict[str, ItemGroupDef] = field(default_factory=dict)
    items: dict[str, ItemDef] = field(default_factory=dict)
    codelists: dict[str, CodeList] = field(default_factory=dict)
    units: dict[str, MeasurementUnit] = field(default_factory=dict)

    def unit_text(self, oid: str) -> str:
        """How a unit reads: its symbol, else its name, else its OID."""
        unit = self.units.get(oid)
        return (unit.symbol or unit.name or oid) if unit else oid


def _lang(text: Any) -> str:
    """A TranslatedText's language: its own xml:lang, else its nearest ancestor's ("" if none)."""
    for elem in (text, *text.iterancestors()):
        lang = elem.get(XML_LANG)
        if lang is not None:
            return str(lang).strip()
    return ""


def translation(elem: Any, tag: str, language: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The TranslatedText of ``elem`` in ``language`` (exactly, else by its primary subtag: "es"
    takes "es-ES"), else the untagged one, else the only one. The first of these that has any
    text decides: when it holds two different texts, nothing is guessed and every text on
    offer is returned instead, with its language (``es "Mujer"``), and no text."""
    if elem is None:
        return None, ()
    texts = [(_lang(t), " ".join((t.text or "").split())) for t in elem.iterchildren(tag)]
    want = (language or "").strip().lower()
    tiers = []
    if want:
        tiers.append([x for lang, x in texts if lang.lower() == want])
        primary = want.split("-")[0]
        tiers.append([x for lang, x in texts if lang.lower().split("-")[0] == primary])
    tiers += [[x for lang, x in texts if not lang], [x for _, x in texts]]
    for tier in tiers:
        if len(set(tier)) == 1:
            return tier[0], ()
        if tier:
            return None, tuple(f'{lang or "untagged"} "{x}"' for lang, x in texts)
    return None, ()


def translated(elem: Any, tag: str, language: str | None) -> str | None:
    """``translation``'s text: None when there is none or the choice is ambiguous."""
    return translation(elem, tag, language)[0]


def read_units(basic: Any, ns: str, into: Metadata, language: str | None) -> None:
    t = _tags(ns)
    for mu in basic.iterchildren(t("MeasurementUnit")):
        oid = mu.get("OID", "")
        symbol = translated(mu.find(t("Symbol")), t("TranslatedText"), language)
        into.units.setdefault(oid, MeasurementUnit(oid, mu.get("Name", ""), symbol))


def read_metadata(mdv: Any, ns: str, into: Metadata, language: str | None) -> None:
    t = _tags(ns)
    text = t("TranslatedText")
    for ig in mdv.iterchildren(t("ItemGroupDef")):
        oid = ig.get("OID", "")
        group = into.item_groups.setdefault(oid, ItemGroupDef(oid, ig.get("Name", oid)))
        group.repeating = group.repeating or ig.get("Repeating")
        for ref in ig.iterchildren(t("ItemRef")):
            if (item := ref.get("ItemOID")) and item not in group.items:
                group.items.append(item)
    for it in mdv.iterchildren(t("ItemDef")):
        oid = it.get("OID", "")
        cl = it.find(t("CodeListRef"))
        into.items.setdefault(
            oid,
            ItemDef(
                oid,
                it.get("Name", oid),
                it.get("DataType", "text"),
                it.get("Length"),
                it.get("SignificantDigits"),
                cl.get("CodeListOID") if cl is not None else None,
                tuple(
                    u.get("MeasurementUnitOID", "")
                    for u in it.iterchildren(t("MeasurementUnitRef"))
                ),
                translated(it.find(t("Question")), text, language),
            ),
        )
    for cl in mdv.iterchildren(t("CodeList")):
        decodes: dict[str, str | None] = {}
        ambiguous: dict[str, tuple[str, ...]] = {}
        for entry in cl.iterchildren(t("CodeListItem"), t("EnumeratedItem")):
            code = entry.get("CodedValue", "")
            decodes[code], offered = translation(entry.find(t("Decode")), text, language)
            if offered:
                ambiguous[code] = offered
        oid = cl.get("OID", "")
        into.codelists.setdefault(
            oid,
            CodeList(oid, cl.get("Name", oid), cl.get("DataType", "text"), decodes, ambiguous),
        )


def _tags(ns: str) -> Any:
    return (lambda local: f"{{{ns}}}{local}") if ns else (lambda local: local)
