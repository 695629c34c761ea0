"""CDISC ODM 1.x XML exports (OpenClinica, and any ODM 1.1-1.3.2 ``ClinicalData``).

An ODM file holds many tables: each item group is one, named by ``Source.part`` (its
ItemGroupOID or its Name, matched case-insensitively). A row is one ``ItemGroupData``
occurrence; its columns are the ODM keys (StudyOID, SubjectKey, StudyEventOID,
StudyEventRepeatKey, FormOID, FormRepeatKey, ItemGroupRepeatKey), the vendor attributes the
reader is told to keep, and one column per ItemOID of the group: its ``ItemRef`` s in the
metadata, then any item the data holds that the metadata does not declare, so columns are stable
and nothing is lost. ``__source_row`` is the occurrence's 1-based ordinal among that group's
occurrences in the file; ``__source_line`` is the line of its start tag.

Values are text exactly as written: not trimmed (OpenClinica writes "35 Years "; the engine's
parsers trim, ``Verbatim`` keeps), codes kept as codes; except the items the metadata declares
``integer``, ``float`` or ``double``, which are numbers in XML Schema form whatever the locale and
become ``CELL`` columns: the text as written (what the site sees: "17.0") and the number
(``odm_values``: "10.4" is never read by a locale's text rules again; a record with a value not
in that form is quarantined, naming the item). Derived columns
are added next to an item, never instead of it: ``ITEM@unit`` (the unit's symbol, from the
ItemData's MeasurementUnitRef, else the item's only declared unit) for items with units, and
with ``decode=True`` ``ITEM@decode`` (the CodeListItem's Decode text in the reader's
``language``; a code without one, an EnumeratedItem's, is its own label; a value the list lacks
is yielded as written, never null, so the adapter's ``Code`` quarantines it showing the value,
and the facts name the list, ``code_list.ITEM@decode``; but a value that is no code of the list
and yet one of its labels (code 3 where the list labels code 2 "3") is not read as that label:
its record is quarantined, a label where a code is due or a code mistyped cannot be told; a
code list whose language cannot be told is refused) for coded items.

Records the source system deleted but still exports (OpenClinica's removed subjects, events,
forms and item groups, ``odm_removal``) are not rows: each occurrence under one is handed back
as a ``Reject(deleted=True)``, counted as skipped (``removed-in-source``).

Two passes: a survey (metadata, item groups, facts, well-formedness; cached per file) and one
pass per item group read, in which lxml hands Python only the structure's element ends and the
other groups' items are never looked at (``odm_walk.GroupWalk``). Not validated against the ODM
XSD: vendor exports never pass it, and validation needs the whole tree in memory. ODM 2.0 is
refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import InputError, Location
from federate.readers.base import (
    CELL,
    CODE_LIST,
    ROW_COLUMN,
    Reader,
    Reject,
    Source,
    code_list_text,
    file_version,
)
from federate.readers.odm_meta import CodeList, ItemGroupDef, Metadata
from federate.readers.odm_removal import OPENCLINICA_REMOVALS, REMOVED_REASON, Removal
from federate.readers.odm_values import (
    cells,
    label_not_code,
    label_problem,
    number_problem,
    number_type,
)
from federate.readers.odm_walk import KEYS, GroupWalk, Keep, Occurrence, OdmWalk, WalkInfo

LINE_COLUMN = "__source_line"
UNIT_SUFFIX = "@unit"
DECODE_SUFFIX = "@decode"

Getter = Callable[[Occurrence], str | None]


@dataclass
class GroupStats:
    rows: int = 0
    items: dict[str, None] = field(default_factory=dict)  # ItemOIDs seen, in order
    units: set[str] = field(default_factory=set)  # items that carry a MeasurementUnitRef
    padded: int = 0  # values with leading or trailing spaces (kept as written)
    undecoded: int = 0
    removed: int = 0  # occurrences the source system deleted (not rows)


@dataclass
class Survey:
    info: WalkInfo
    keeps: list[Keep]
    groups: dict[str, GroupStats]


@dataclass(frozen=True)
class OdmReader(Reader):
    keep_attributes: tuple[str, ...] = ()  # e.g. ("OpenClinica:StudySubjectID",)
    decode: bool = False
    language: str | None = None  # xml:lang of the decodes and unit symbols read (e.g. "es")
    # Vendor attributes marking records the source system deleted: skipped, never rows.
    removals: tuple[Removal, ...] = OPENCLINICA_REMOVALS
    batch_size: int = 4096
    format: str = field(default="odm")
    _surveys: dict[str, Survey] = field(default_factory=dict, compare=False, repr=False)
    side_by_side: ClassVar[bool] = False  # the XML walk is Python: one table at a time

    def describe(self) -> str:
        decoded = ""
        if self.decode:
            lang = f" in language `{self.language}` (xml:lang)" if self.language else ""
            decoded = f"; coded items also decoded{lang}"
        removed = ""
        if self.removals:
            flags = "; ".join(r.describe() for r in self.removals)
            removed = f"; records marked deleted ({flags}) are skipped as {REMOVED_REASON}"
        kept = f"; keeps {', '.join(self.keep_attributes)}" if self.keep_attributes else ""
        return (
            "CDISC ODM 1.x XML, one table per item group; values as written, except integer "
            "and float items, numbers in ODM's form whatever the locale ('.' decimal mark, "
            f"no grouping){decoded}{removed}{kept}"
        )

    def survey(self, source: Source) -> Survey:
        """One full pass (cached per file version): metadata, item groups and facts."""
        key = file_version(source.path, source.relpath)
        if key not in self._surveys:
            self._surveys[key] = self._survey(source)
        return self._surveys[key]

    def _survey(self, source: Source) -> Survey:
        walk = OdmWalk(source, self.keep_attributes, self.language, None, self.removals)
        groups: dict[str, GroupStats] = {}
        meta = walk.info.metadata
        for occ in walk:
            stats = groups.setdefault(occ.group, GroupStats())
            stats.rows += 1
            stats.removed += occ.removed is not None
            for oid, value in occ.items.items():
                stats.items.setdefault(oid)
                if value is not None and value != value.strip():
                    stats.padded += 1
                if self.decode and value is not None and not _decodable(meta, oid, value):
                    stats.undecoded += 1
            stats.units.update(occ.units)
        return Survey(walk.info, walk.keeps, groups)

    def metadata(self, source: Source) -> Metadata:
        return self.survey(source).info.metadata

    def item_group(self, source: Source) -> ItemGroupDef:
        """The item group ``source.part`` names, by OID or Name, case-insensitively."""
        survey = self.survey(source)
        defs = dict(survey.info.metadata.item_groups)
        for oid in survey.groups:
            defs.setdefault(oid, ItemGroupDef(oid, oid))
        listed = ", ".join(f"{g.oid} ({g.name})" for g in defs.values()) or "none"
        where = Location(file=source.relpath)
        if source.part is None:
            raise InputError(
                f"an ODM file holds one table per item group: name one as the part ({listed})",
                code="missing-part",
                where=where,
            )
        want = source.part.strip().lower()
        hits = [g for g in defs.values() if g.oid.lower() == want]
        hits = hits or [g for g in defs.values() if g.name.lower() == want]
        if len(hits) > 1:
            raise InputError(
                f"item group name {source.part!r} is ambiguous: use one of the OIDs "
                f"{', '.join(g.oid for g in hits)}",
                code="ambiguous-part",
                where=where,
            )
        if not hits:
            names = [*defs, *(g.name for g in defs.values())]
            close = difflib.get_close_matches(source.part, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"the file has no item group {source.part!r}.{hint} (item groups: {listed})",
                code="unknown-part",
                where=where,
            )
        return hits[0]

    def _layout(self, source: Source) -> tuple[ItemGroupDef, dict[str, Getter], dict[str, str]]:
        """The group, a getter per column, and the ODM number type of each number column."""
        survey, group = self.survey(source), self.item_group(source)
        meta = survey.info.metadata
        stats = survey.groups.get(group.oid, GroupStats())
        cols: dict[str, Getter] = {}
        types: dict[str, str] = {}
        for key, _ in KEYS[:2]:
            cols[key] = _key(key)
        for keep in survey.keeps:
            cols[keep.name] = _kept(keep.name)
        for key, _ in KEYS[2:]:
            cols[key] = _key(key)
        for oid in dict.fromkeys([*group.items, *stats.items]):
            if oid in cols:
                raise InputError(
                    f"item {oid!r} of item group {group.oid} has the name of another column",
                    code="duplicate-column",
                    where=Location(file=source.relpath),
                )
            cols[oid] = _item(oid)
            item = meta.items.get(oid)
            if kind := number_type(item):
                types[oid] = kind
            if (item and item.units) or oid in stats.units:
                only = item.units[0] if item and len(item.units) == 1 else None
                cols[oid + UNIT_SUFFIX] = _unit(oid, only, meta)
            if self.decode and item and item.codelist in meta.codelists:
                codes = meta.codelists[item.codelist]
                self._refuse_ambiguous(source, oid, codes.oid, codes.ambiguous)
                cols[oid + DECODE_SUFFIX] = _decode(oid, codes.decodes)
        return group, cols, types

    def _refuse_ambiguous(
        self, source: Source, item: str, codelist: str, ambiguous: dict[str, tuple[str, ...]]
    ) -> None:
        """A decode the site's language does not settle is refused, never guessed."""
        if not ambiguous:
            return
        code, offered = next(iter(ambiguous.items()))
        lang = self.language
        want = f"in the site's language ({lang})" if lang else "without a language"
        wanted = f'in {lang} (xml:lang="{lang}")' if lang else "without a language"
        raise InputError(
            f"code list {codelist} (item {item}) gives code {code!r} several labels "
            f"({', '.join(offered)}) and no single one {want}: which is meant cannot be told. "
            f"Export the study metadata with one label per code {wanted}",
            code="ambiguous-decode",
            where=Location(file=source.relpath),
        )

    def columns(self, source: Source) -> list[str]:
        return list(self._layout(source)[1])

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        group, cols, types = self._layout(source)
        meta = self.survey(source).info.metadata
        decoded = [c.removesuffix(DECODE_SUFFIX) for c in cols if c.endswith(DECODE_SUFFIX)]
        codes = {oid: meta.codelists[meta.items[oid].codelist or ""] for oid in decoded}
        names = [*cols, ROW_COLUMN, LINE_COLUMN]
        known = set(cols)
        rows: list[Occurrence] = []
        namespace = self.survey(source).info.namespace
        walk = GroupWalk(
            source, self.keep_attributes, self.language, group.oid, namespace, self.removals
        )
        for occ in walk:
            if occ.removed is not None:
                detail = f"deleted in the source system: {occ.removed}"
                rejects.append(Reject(occ.ordinal, REMOVED_REASON, detail, deleted=True))
                continue
            if occ.problem is None and not known.issuperset(occ.items):
                occ.problem = ("undeclared-item", "the file changed since it was surveyed")
            if occ.problem:
                rejects.append(Reject(occ.ordinal, *occ.problem))
                continue
            rows.append(occ)
            if len(rows) >= self.batch_size:
                yield _batch(rows, cols, names, (types, codes), rejects)
                rows = []
        if rows:
            yield _batch(rows, cols, names, (types, codes), rejects)

    def source_facts(self, source: Source) -> dict[str, str]:
        survey = self.survey(source)
        info = survey.info
        system = " ".join(
            v for k in ("SourceSystem", "SourceSystemVersion") if (v := info.root.get(k, ""))
        )
        facts = {
            "format": f"CDISC ODM {info.odm_version}",
            "xml_encoding": info.encoding,
            "file_type": info.root.get("FileType", "?")
            + (
                ": rows are transactions (Insert, Update, Remove), not applied by the reader"
                if info.root.get("FileType") == "Transactional"
                else ""
            ),
            "source_system": system or "not stated",
            "subjects": str(len(info.subjects)),
            "item_data": str(info.item_data),
            "values": "as written: not trimmed, codes not replaced; integer and float items "
            "also read as numbers in ODM's form ('.' decimal mark)",
            "deleted_records_marked_by": "; ".join(r.describe() for r in self.removals) or "none",
            "vendor_attributes_kept": ", ".join(k.name for k in survey.keeps) or "none",
            "vendor_attributes_dropped": ", ".join(sorted(info.dropped)) or "none",
            "elements_not_read": ", ".join(f"{n} ({c})" for n, c in sorted(info.not_read.items()))
            or "none",
            "xsd_validation": "not done (vendor exports never pass the strict ODM schema)",
        }
        if info.doctype:
            facts["doctype"] = f"{info.doctype} (DTD not loaded)"
        undeclared = sorted(set(survey.groups) - set(info.metadata.item_groups))
        if undeclared:
            facts["undeclared_item_groups"] = ", ".join(undeclared)
        if source.part is not None:
            group = self.item_group(source)
            stats = survey.groups.get(group.oid, GroupStats())
            facts["item_group"] = f"{group.oid} ({group.name})"
            facts["item_group_rows"] = str(stats.rows)
            facts["item_group_rows_removed_in_source"] = str(stats.removed)
            facts["values_with_outer_spaces"] = str(stats.padded)
            extra = [oid for oid in stats.items if oid not in group.items]
            if extra and group.oid in info.metadata.item_groups:
                facts["undeclared_items"] = ", ".join(extra)
            if self.decode:
                facts["undecoded_values"] = str(stats.undecoded)
            # The ODM keys, and coded items read through their @decode twin, are structure:
            # not to be reported as unknown columns when an adapter leaves them unused.
            columns = self.columns(source)
            decoded = {c.removesuffix(DECODE_SUFFIX) for c in columns if c.endswith(DECODE_SUFFIX)}
            facts |= _code_lists(info.metadata, sorted(decoded), self.language)
            structure = [c for c in columns if c in _STRUCTURE or c.endswith(UNIT_SUFFIX)]
            facts["system_columns"] = ",".join([*structure, *sorted(decoded)])
        return facts


_STRUCTURE = {
    "StudyOID",
    "SubjectKey",
    "StudyEventOID",
    "StudyEventRepeatKey",
    "FormOID",
    "FormRepeatKey",
    "ItemGroupRepeatKey",
}


def _key(key: str) -> Getter:
    return lambda occ: occ.keys.get(key)


def _kept(name: str) -> Getter:
    return lambda occ: occ.kept.get(name)


def _item(oid: str) -> Getter:
    return lambda occ: occ.items.get(oid)


def _unit(oid: str, only: str | None, meta: Metadata) -> Getter:
    def get(occ: Occurrence) -> str | None:
        ref = occ.units.get(oid) or (only if occ.items.get(oid) is not None else None)
        return meta.unit_text(ref) if ref else None

    return get


def _decode(oid: str, decodes: dict[str, str | None]) -> Getter:
    """A coded item's label; the value as written where the code list gives it none (a value
    outside the list is never nulled: the adapter's code list reports it)."""

    def get(occ: Occurrence) -> str | None:
        value = occ.items.get(oid)
        label = None if value is None else decodes.get(value)
        return value if label is None else label

    return get


def _code_lists(meta: Metadata, items: list[str], language: str | None) -> dict[str, str]:
    """The code list each decoded item is read through, for the rule of its quarantine."""
    facts = {}
    labels = f", labels in {language}" if language else ""
    for oid in items:
        codes = meta.codelists[meta.items[oid].codelist or ""]
        what = f"the export's code list {codes.oid} (item {oid}{labels})"
        facts[CODE_LIST + oid + DECODE_SUFFIX] = code_list_text(what, list(codes.decodes.items()))
    return facts


def _decodable(meta: Metadata, oid: str, value: str) -> bool:
    item = meta.items.get(oid)
    codes = meta.codelists.get(item.codelist) if item and item.codelist else None
    return codes is None or value in codes.decodes


def _batch(
    rows: list[Occurrence],
    cols: dict[str, Getter],
    names: list[str],
    checks: tuple[dict[str, str], dict[str, CodeList]],
    rejects: list[Reject],
) -> pa.RecordBatch:
    """The rows as a batch, number items (``checks[0]``: item -> ODM type) as ``CELL`` s. A row
    with a value that is not a number as its item's type writes one, or, in a decoded item
    (``checks[1]``: item -> its code list), no code of the list but one of its labels, is
    quarantined (``rejects``), not yielded."""
    arrays = [pa.array([get(occ) for occ in rows], pa.string()) for get in cols.values()]
    arrays.append(pa.array([occ.ordinal for occ in rows], pa.int64()))
    arrays.append(pa.array([occ.line for occ in rows], pa.int64()))
    batch = pa.RecordBatch.from_arrays(arrays, names=names)
    types, codes = checks
    if not types and not codes:
        return batch
    failed = pa.repeat(pa.scalar(False), len(rows))

    def reject(bad: pa.Array, reason: str, detail: str, column: str) -> None:
        nonlocal failed
        fresh = pc.and_(bad, pc.invert(failed))  # a row is reported once, for its first item
        for i in pc.indices_nonzero(fresh).to_pylist():
            rejects.append(Reject(rows[i].ordinal, reason, detail, column=column))
        failed = pc.or_(failed, bad)

    for oid, kind in types.items():
        typed, bad = cells(batch.column(oid), kind)
        batch = batch.set_column(names.index(oid), pa.field(oid, CELL), typed)
        reject(bad, "invalid-number", number_problem(oid, kind), oid)
    for oid, codelist in codes.items():
        bad = label_not_code(batch.column(oid), codelist)
        reject(bad, "unknown-code", label_problem(oid, codelist.oid), oid + DECODE_SUFFIX)
    return batch.filter(pc.invert(failed)) if pc.any(failed).as_py() else batch
