"""Streaming passes over an ODM file: the ``ItemGroupData`` occurrences in ``ClinicalData``.

``OdmWalk`` (the survey) sees every start and end event: every value is taken at its element's
start or end event and every finished element is cleared and unlinked, so memory holds the open
ancestors and one item group, never the file. Elements the reader does not turn into columns
(audit trails, signatures, vendor extensions) are skipped whole and counted by name; vendor
attributes not declared to be kept are counted by name, never read, except the removal flags
(``odm_removal``), which mark an occurrence the source system deleted.

``GroupWalk`` (one pass per item group read) yields the same rows of one group cheaply: lxml
reports only the ends of the structure's elements (``ClinicalData`` to ``ItemGroupData``), so
the items of every other group never reach Python, and an occurrence of the wanted group is
read from its finished subtree. Its rules are the survey's, applied to the occurrence's open
ancestors, so both passes agree on what is a row and what it holds (an ``ItemGroupData`` inside
an ``ItemData`` - no exporter writes one - is the exception: the survey counts it, this pass
does not read it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lxml import etree

from federate.errors import InputError, Location
from federate.readers.base import Source
from federate.readers.odm_meta import Metadata, read_metadata, read_units
from federate.readers.odm_removal import Removal, removal_flag
from federate.readers.odm_safe import check_prolog, has_entities, iterparse, xml_error

ODM_NAMESPACES = {
    "": "1.1",  # ODM 1.0/1.1 had no namespace
    "http://www.cdisc.org/ns/odm/v1.1": "1.1",
    "http://www.cdisc.org/ns/odm/v1.2": "1.2",
    "http://www.cdisc.org/ns/odm/v1.3": "1.3",
}
_NOT_VENDOR = {
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/XML/1998/namespace",
}
# The root's children (Study, AdminData, ...): their ends let GroupWalk free what came before.
_ROOT_PARTS = ("Study", "AdminData", "ReferenceData", "ClinicalData", "Association")
LEVELS = ("SubjectData", "StudyEventData", "FormData", "ItemGroupData")
# The ODM keys each row carries, and the level whose attribute holds them.
KEYS = (
    ("StudyOID", "ClinicalData"),
    ("SubjectKey", "SubjectData"),
    ("StudyEventOID", "StudyEventData"),
    ("StudyEventRepeatKey", "StudyEventData"),
    ("FormOID", "FormData"),
    ("FormRepeatKey", "FormData"),
    ("ItemGroupRepeatKey", "ItemGroupData"),
)

_NO_KEYS: dict[str, str | None] = dict.fromkeys(k for k, _ in KEYS)


@dataclass(frozen=True)
class Keep:
    """A declared vendor attribute: ``prefix:Name``, optionally pinned ``Level/prefix:Name``."""

    name: str  # as declared: the column name
    level: str | None
    clark: str  # {namespace}Name, resolved through the file's prefixes


@dataclass
class Occurrence:
    group: str
    line: int
    keys: dict[str, str | None]
    kept: dict[str, str | None]
    items: dict[str, str | None] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # ItemOID -> MeasurementUnitOID
    problem: tuple[str, str] | None = None  # (reason, detail): the row cannot be one record
    ordinal: int = 0  # 1-based, per item group, in file order
    removed: str | None = None  # why the source system deleted it (a removal flag), if it did


@dataclass
class WalkInfo:
    """What a pass learns besides the rows (names and counts only, never values)."""

    odm_version: str = "?"
    namespace: str = ""  # the ODM namespace of the file's elements ("" for ODM 1.0/1.1)
    root: dict[str, str] = field(default_factory=dict)  # FileType, SourceSystem, ...
    doctype: str | None = None
    encoding: str = "?"
    metadata: Metadata = field(default_factory=Metadata)
    prefixes: dict[str, str] = field(default_factory=dict)  # namespace -> prefix
    subjects: set[str] = field(default_factory=set)
    dropped: Counter[str] = field(default_factory=Counter)  # vendor attributes not kept
    not_read: Counter[str] = field(default_factory=Counter)  # elements skipped whole
    item_data: int = 0


# What an occurrence gets from its open ancestors: ODM keys, kept attributes and removal flags
# by level.
_Context = tuple[dict[str, str | None], dict[str, dict[str, str]], dict[str, str]]


class _Item:
    __slots__ = ("null", "oid", "typed", "unit", "value", "values")

    def __init__(self, elem: Any, typed: bool) -> None:
        self.oid: str = elem.get("ItemOID", "")
        self.value: str | None = elem.get("Value")
        self.values: list[str] = []
        self.null = elem.get("IsNull") == "Yes"
        self.typed = typed  # ODM 1.3 ItemDataString etc.: the value is the element's text
        self.unit: str | None = None


class OdmWalk:
    """Iterate to get the occurrences of ``want`` (an ItemGroupOID), or of every group."""

    def __init__(
        self,
        source: Source,
        keep: tuple[str, ...],
        language: str | None,
        want: str | None,
        removals: tuple[Removal, ...] = (),
    ) -> None:
        self.source, self.keep_spec, self.language, self.want = source, keep, language, want
        self.removals = removals
        self.info = WalkInfo()
        self.keeps: list[Keep] = []
        self._kept: dict[str, dict[str, str]] = {}  # level -> kept vendor attributes
        self._removed: dict[str, str] = {}  # level -> its removal flag, when it has one
        self._keys: dict[str, str | None] = {}
        self._ordinals: Counter[str] = Counter()

    def __iter__(self) -> Iterator[Occurrence]:
        path, relpath = self.source.path, self.source.relpath
        self.info.doctype, self.info.encoding = check_prolog(path, relpath)
        try:
            with path.open("rb") as fh:
                yield from self._walk(self._events(fh))
        except etree.XMLSyntaxError as exc:
            raise xml_error(exc, path, relpath) from None
        except OSError as exc:
            raise InputError(
                f"the file cannot be read: {exc.strerror}",
                code="unreadable-file",
                where=Location(file=relpath),
            ) from None

    def _events(self, fh: IO[bytes]) -> Any:
        return iterparse(fh)

    def _fail(self, message: str, code: str) -> InputError:
        return InputError(message, code=code, where=Location(file=self.source.relpath))

    def _open_root(self, root: Any) -> str:
        if has_entities(root):
            raise self._fail("the XML declares entities: refused for safety", "unsafe-xml")
        ns, _, local = root.tag[1:].partition("}") if root.tag[0] == "{" else ("", "", root.tag)
        version = root.get("ODMVersion") or ODM_NAMESPACES.get(ns, "?")
        if local != "ODM":
            raise self._fail(
                f"the root element is <{local}>, not <ODM>: not an ODM file", "not-odm"
            )
        if ns.endswith("/v2.0") or version.startswith("2"):
            raise self._fail(
                "ODM 2.0 is not supported: this reader reads CDISC ODM 1.x (1.1 to 1.3.2) exports",
                "unsupported-odm-version",
            )
        if ns not in ODM_NAMESPACES:
            raise self._fail(f"unknown ODM namespace {ns!r}", "not-odm")
        self.info.odm_version, self.info.namespace = version, ns
        self.info.root = {k: v for k, v in root.attrib.items() if k[0] != "{"}
        self.info.prefixes = {uri: p or "" for p, uri in root.nsmap.items()}
        self.keeps = [self._resolve(spec, root.nsmap) for spec in self.keep_spec]
        return ns

    def _resolve(self, spec: str, nsmap: dict[str | None, str]) -> Keep:
        level, _, name = spec.partition("/") if spec.split("/")[0] in LEVELS else ("", "", spec)
        if name.startswith("{"):
            return Keep(spec, level or None, name)
        prefix, _, local = name.partition(":")
        if not local or prefix not in nsmap:
            declared = ", ".join(p for p in nsmap if p) or "none"
            raise self._fail(
                f"keep_attributes names {name!r}, but the file declares no namespace prefix "
                f"{prefix!r} (it declares: {declared})",
                "unknown-vendor-prefix",
            )
        return Keep(spec, level or None, f"{{{nsmap[prefix]}}}{local}")

    def qname(self, clark: str) -> str:
        """``{uri}Name`` as the file writes it: ``prefix:Name``."""
        if clark[0] != "{":
            return clark
        uri, _, local = clark[1:].partition("}")
        prefix = self.info.prefixes.get(uri)
        if prefix is None:
            return clark
        return f"{prefix}:{local}" if prefix else local

    def _vendor(self, elem: Any, kept: set[str] | None) -> dict[str, str]:
        """Kept vendor attributes of ``elem``; the others are counted by name."""
        out: dict[str, str] = {}
        for k, v in elem.attrib.items():
            if k[0] == "{":
                if kept is not None and k in kept:
                    out[k] = v
                elif k[1 : k.index("}")] not in _NOT_VENDOR:
                    self.info.dropped[self.qname(k)] += 1
        return out

    def _walk(self, events: Any) -> Iterator[Occurrence]:
        it = iter(events)
        _, root = next(it)
        t = _tagger(self._open_root(root))
        clin, subj, event, form, ig = (t(x) for x in ("ClinicalData", *LEVELS))
        mdv, basic, value, unit_ref = (
            t(x) for x in ("MetaDataVersion", "BasicDefinitions", "Value", "MeasurementUnitRef")
        )
        item_tag = t("ItemData")
        level_of = {subj: "SubjectData", event: "StudyEventData", form: "FormData"}
        kept_names = {k.clark for k in self.keeps}
        in_clin, skip, meta = False, 0, ""
        stack: list[Occurrence] = []
        item: _Item | None = None
        info = self.info
        for kind, elem in it:
            tag = elem.tag
            if kind == "start":
                if skip:
                    skip += 1
                elif meta:
                    pass
                elif not in_clin:
                    if tag == clin:
                        in_clin = True
                        self._keys = {**_NO_KEYS, "StudyOID": elem.get("StudyOID")}
                        self._vendor(elem, None)
                    elif tag in (mdv, basic):
                        meta = tag
                elif tag == ig:
                    stack.append(self._occurrence(elem, kept_names))
                elif tag in level_of:
                    self._enter(level_of[tag], elem, kept_names)
                elif item is None and stack and tag.startswith(item_tag):
                    item = _Item(elem, typed=tag != item_tag)
                    self._vendor(elem, None)
                elif item is not None and tag in (value, unit_ref):
                    pass
                else:
                    skip = 1
                    info.not_read[self.qname(tag)] += 1
                continue
            # end events
            if skip:
                skip -= 1
            elif meta:
                if tag != meta:
                    continue
                reader = read_metadata if tag == mdv else read_units
                reader(elem, _ns(tag), info.metadata, self.language)
                meta = ""
            elif not in_clin:
                pass
            elif item is not None and tag == value:
                item.values.append(elem.text or "")
            elif item is not None and tag == unit_ref:
                item.unit = elem.get("MeasurementUnitOID")
            elif item is not None and tag.startswith(item_tag):
                if item.typed:
                    item.value = elem.text or ""
                _add(stack[-1], item)
                info.item_data += 1
                item = None
            elif tag == ig:
                occ = stack.pop()
                if self.want is None or occ.group == self.want:
                    self._ordinals[occ.group] += 1
                    occ.ordinal = self._ordinals[occ.group]
                    _drop(elem)
                    yield occ
                    continue
            elif tag in level_of:
                self._leave(level_of[tag])
            elif tag == clin:
                in_clin = False
            _drop(elem)

    def _enter(self, level: str, elem: Any, kept: set[str]) -> None:
        for key, at in KEYS:
            if at == level:
                self._keys[key] = elem.get(key)
        self._kept[level] = self._vendor(elem, kept)
        if flag := removal_flag(elem, level, self.removals, self.qname):
            self._removed[level] = flag
        if level == "SubjectData":
            self.info.subjects.add(elem.get("SubjectKey", ""))

    def _leave(self, level: str) -> None:
        for key, at in KEYS:
            if at == level:
                self._keys[key] = None
        self._kept.pop(level, None)
        self._removed.pop(level, None)

    def _occurrence(self, elem: Any, kept: set[str]) -> Occurrence:
        occ = _occurrence(elem, self._vendor(elem, kept), self.keeps, self._keys, self._kept)
        occ.removed = self._first_removal(self._removed, elem)
        return occ

    def _first_removal(self, removed: dict[str, str], group: Any) -> str | None:
        """The outermost removal flag over an item group: its subject's, event's, form's, own."""
        outer = (removed[level] for level in LEVELS[:-1] if level in removed)
        return next(outer, None) or removal_flag(group, "ItemGroupData", self.removals, self.qname)


class GroupWalk(OdmWalk):
    """The occurrences of one item group (``want``) in a file the survey has read (its
    ``namespace``), in file order, with the survey's rows, values and problems."""

    def __init__(
        self,
        source: Source,
        keep: tuple[str, ...],
        language: str | None,
        want: str,
        namespace: str,
        removals: tuple[Removal, ...] = (),
    ) -> None:
        super().__init__(source, keep, language, want, removals)
        self.namespace = namespace
        t = _tagger(namespace)
        self._clin, self._ig, self._item = t("ClinicalData"), t("ItemGroupData"), t("ItemData")
        self._value, self._unit_ref = t("Value"), t("MeasurementUnitRef")
        self._outside = {t("MetaDataVersion"), t("BasicDefinitions")}
        self._level_of = {t(x): x for x in LEVELS[:-1]}
        self._context_of: Any = None  # the parent element _context last answered for
        self._context_was: _Context | None = None

    def _events(self, fh: IO[bytes]) -> Any:
        t = _tagger(self.namespace)
        tags = [t(x) for x in dict.fromkeys([*_ROOT_PARTS, *LEVELS])]
        return iterparse(fh, ("start", "end"), tags)

    def _walk(self, events: Any) -> Iterator[Occurrence]:
        ig, want, kept = self._ig, self.want, set[str]()
        opened, ordinal = False, 0
        # A group's line, taken at its start as the survey does: past line 65535 libxml2 works
        # an element's line out from its first child, which can be the next line by its end.
        lines: list[int] = []
        for kind, elem in events:
            if not opened:
                self._open(elem.getroottree().getroot())
                opened, kept = True, {k.clark for k in self.keeps}
            if kind == "start":
                if elem.tag == ig:
                    lines.append(elem.sourceline or 0)
                continue
            parent = elem.getparent()
            if elem.tag != ig:
                if parent is not None and parent.tag != ig:
                    while (before := elem.getprevious()) is not None:  # finished: skipped whole
                        parent.remove(before)
                _drop(elem)
                continue
            line, context = lines.pop(), None
            if elem.get("ItemGroupOID", "") == want and parent is not None:
                context = self._context(parent, kept)
            if context is None:
                _drop(elem)
                continue
            own = {k: v for k, v in elem.attrib.items() if k in kept}
            keys, levels, removed = context
            occ = _occurrence(elem, own, self.keeps, keys, levels)
            occ.removed = self._first_removal(removed, elem)
            occ.line = line
            self._read_items(elem, occ)
            ordinal += 1
            occ.ordinal = ordinal
            _drop(elem)
            yield occ
        if not opened and events.root is not None:
            self._open(events.root)

    def _open(self, root: Any) -> None:
        if self._open_root(root) != self.namespace:
            raise self._fail("the file changed while it was read", "changed-file")

    def _context(self, parent: Any, kept: set[str]) -> _Context | None:
        """The keys and kept attributes an occurrence under ``parent`` gets, by the survey's
        rules replayed over its open ancestors; None when the survey does not read it."""
        if parent is self._context_of:
            return self._context_was
        chain = []
        node = parent
        while node is not None:
            chain.append(node)
            node = node.getparent()
        in_clin, in_group, in_item = False, False, False
        keys: dict[str, str | None] = {}
        levels: dict[str, dict[str, str]] = {}
        removed: dict[str, str] = {}
        answer: _Context | None = None
        for elem in reversed(chain[:-1]):  # the root is not one of the walk's events
            tag = elem.tag
            if not in_clin:
                if tag == self._clin:
                    in_clin, keys = True, {**_NO_KEYS, "StudyOID": elem.get("StudyOID")}
                elif tag in self._outside:
                    break
            elif tag == self._ig:
                in_group = True
            elif tag in self._level_of:
                level = self._level_of[tag]
                for key, at in KEYS:
                    if at == level:
                        keys[key] = elem.get(key)
                levels[level] = {k: v for k, v in elem.attrib.items() if k in kept}
                if flag := removal_flag(elem, level, self.removals, self.qname):
                    removed[level] = flag
            elif in_group and not in_item and tag.startswith(self._item):
                in_item = True
            elif not (in_item and tag in (self._value, self._unit_ref)):
                break  # skipped whole by the survey
        else:
            if in_clin and not in_item:
                answer = keys, levels, removed
        self._context_of, self._context_was = parent, answer
        return answer

    def _read_items(self, group: Any, occ: Occurrence) -> None:
        item_tag, value, unit_ref = self._item, self._value, self._unit_ref
        for elem in group:
            tag = elem.tag
            if tag != item_tag and not (isinstance(tag, str) and tag.startswith(item_tag)):
                continue  # audit trails, signatures, other groups: not read
            item = _Item(elem, typed=tag != item_tag)
            for sub in elem:
                if sub.tag == value:
                    item.values.append(sub.text or "")
                elif sub.tag == unit_ref:
                    item.unit = sub.get("MeasurementUnitOID")
            if item.typed:
                item.value = elem.text or ""
            _add(occ, item)


def _occurrence(
    elem: Any,
    own: dict[str, str],
    keeps: list[Keep],
    keys: dict[str, str | None],
    kept: dict[str, dict[str, str]],
) -> Occurrence:
    levels = [own, *(kept.get(lv, {}) for lv in reversed(LEVELS[:-1]))]
    values: dict[str, str | None] = {}
    for k in keeps:
        if k.level == "ItemGroupData":
            values[k.name] = own.get(k.clark)
        elif k.level:
            values[k.name] = kept.get(k.level, {}).get(k.clark)
        else:  # the innermost level carrying it
            values[k.name] = next((lv[k.clark] for lv in levels if k.clark in lv), None)
    keys = {**keys, "ItemGroupRepeatKey": elem.get("ItemGroupRepeatKey")}
    return Occurrence(elem.get("ItemGroupOID", ""), elem.sourceline or 0, keys, values)


def _add(occ: Occurrence, item: _Item) -> None:
    if item.oid in occ.items:
        occ.problem = ("repeated-item", f"item {item.oid} appears twice in one ItemGroupData")
    if len(item.values) > 1:
        occ.problem = ("several-values", f"item {item.oid} has {len(item.values)} <Value>s")
    value = item.value if item.value is not None else next(iter(item.values), None)
    occ.items[item.oid] = None if item.null else value
    if item.unit:
        occ.units[item.oid] = item.unit


def _drop(elem: Any) -> None:
    """Free a finished element: clear it and unlink it from its (still open) parent."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        parent.remove(elem)


def _ns(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag[0] == "{" else ""


def _tagger(ns: str) -> Callable[[str], str]:
    return (lambda local: f"{{{ns}}}{local}") if ns else (lambda local: local)
