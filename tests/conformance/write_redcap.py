"""REDCap records exports, as REDCap writes them: a project (its data dictionary) built from the
spec's forms and fields, then one records file in either flavour. Rows are REDCap's: one per
record and event, shared by the forms of that event; one per instance of a repeating instrument;
the data access group on every row of a record; each form followed by its ``_complete`` status.
A raw export writes codes, field names and unique event names; a label export writes the
dictionary's labels, "Checked"/"Unchecked", the event and group labels."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federate.adapters.parsers import Code, Date, Decimal, Integer, Parser, PartialDate, Verbatim
from federate.readers.redcap import RedcapReader
from tests.conformance.cells import SUBJECT, Cell
from tests.conformance.grammar import Grammar
from tests.conformance.tabular import Sheet
from tests.conformance.truth import LOCAL
from tests.conformance.write_csv import Written

SYSTEM = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
SYSTEM += ("redcap_data_access_group",)
SYSTEM_LABELS = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
}


@dataclass(frozen=True)
class RedcapStyle:
    flavour: str = "raw"  # or "label"
    encoding: str = "utf-8"
    quote_all: bool = False
    newline: str = "\n"
    unsaved_forms: bool = False  # a form never saved at an event: blank, its status 0
    redcap_event_labels: bool = False  # names typed freely (case, dropped characters, arm name)
    name_case: bool = False  # field names in another case (raw headers)
    delimiter: str | None = None  # (never drawn: the spec forbids it) another delimiter


@dataclass
class Field:
    name: str
    form: str
    type: str
    label: str
    choices: list[tuple[str, str]] = field(default_factory=list)  # (code, label)
    validation: str = ""
    identifier: bool = False


def _label_of(value: Any) -> str:
    if value is True:
        return "Ja"
    if value is False:
        return "Nej"
    return str(value).replace("_", " ").capitalize()


def dictionary(sheets: list[Sheet], decimal: str) -> list[Field]:
    """The project: the record id, then each form's fields, as the spec declares them (a
    column the spec does not know is no field of it)."""
    record_id = next(s.tm.subject.source for s in sheets if s.tm.subject)
    first = sheets[0].tm.part or "form"
    fields: dict[str, Field] = {record_id: Field(record_id, first, "text", "Record ID")}
    for sheet in sheets:
        form = sheet.tm.part or first
        readers: dict[str, list[Parser]] = {}
        for parser in sheet.tm.fields.values():
            if parser.source:
                readers.setdefault(parser.source, []).append(parser)
        for column in sheet.columns:
            if column in SYSTEM or column == record_id or _extra(sheet, column):
                continue
            name = column.split("___")[0]
            if name in fields:
                continue
            parsers = readers.get(column, [])
            made = _field(name, form, column, parsers, decimal)
            made.identifier = column in sheet.tm.dropped
            fields[name] = made
    return list(fields.values())


def _field(name: str, form: str, column: str, parsers: list[Parser], decimal: str) -> Field:
    label = name.replace("_", " ").capitalize()
    p = next((q for q in parsers if not isinstance(q, Verbatim)), parsers[0] if parsers else None)
    if "___" in column and isinstance(p, Code):
        code = column.split("___")[1]
        return Field(name, form, "checkbox", label, [(code, "Behandlet")])
    if isinstance(p, Code) and not any(isinstance(q, Verbatim) for q in parsers):
        choices: list[tuple[str, str]] = []
        for code, value in p.mapping.items():
            text = _label_of(value)
            if any(text == t for _, t in choices):
                text = f"{text} ({code})"
            choices.append((code, text))
        return Field(name, form, "radio", label, choices)
    if isinstance(p, Date):
        return Field(name, form, "text", label, validation="date_dmy")
    if isinstance(p, Decimal):
        comma = "number_comma_decimal" if decimal == "," else "number"
        return Field(name, form, "text", label, validation=comma)
    if isinstance(p, Integer):
        return Field(name, form, "text", label, validation="integer")
    if isinstance(p, PartialDate) or p is None:
        return Field(name, form, "text", label)
    return Field(name, form, "notes" if isinstance(p, Verbatim) else "text", label)


def write_dictionary(path: Path, fields: list[Field]) -> None:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
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
        ]
    )
    for f in fields:
        choices = " | ".join(f"{c}, {t}" for c, t in f.choices)
        flag = "y" if f.identifier else ""
        w.writerow([f.name, f.form, "", f.type, f.label, choices, "", f.validation, "", "", flag])
    path.write_text(out.getvalue(), encoding="utf-8")


def columns(fields: list[Field], present: set[str]) -> list[tuple[str, str, Field | None]]:
    """(export column, its label header, its field) in REDCap's order: the record id, the system
    columns, then each form's fields and its status."""
    out: list[tuple[str, str, Field | None]] = [(fields[0].name, fields[0].label, fields[0])]
    out += [(s, SYSTEM_LABELS[s], None) for s in SYSTEM]
    forms = list(dict.fromkeys(f.form for f in fields))
    for form in forms:
        for f in fields[1:] if form == fields[0].form else fields:
            if f.form != form:
                continue
            if f.type == "checkbox":
                for code, text in f.choices:
                    name = f"{f.name}___{code}"
                    if name in present:
                        out.append((name, f"{f.label} (choice={text})", f))
            elif f.name in present:
                out.append((f.name, f.label, f))
        out.append((f"{form}_complete", "Complete?", None))
    return out


def _extra(sheet: Sheet, column: str) -> bool:
    """A column the spec does not know (the identifying ones it drops are known), whether or
    not the sheet has records."""
    tm = sheet.tm
    known = {*tm.input_columns(), *tm.dropped, *([tm.subject.source] if tm.subject else [])}
    return column not in known and column not in SYSTEM


Key = tuple[int, int, int, int]  # (record, event, repeating form, instance): REDCap's row order


@dataclass
class Project:
    """What the writer needs of the project, as REDCap holds it: its events (the adapter's event
    codes, in declared order, and one event of the running logs for forms the spec gives no
    event), its repeating instruments, its data access groups, and the names a designer typed
    for each (REDCap made the unique names of them)."""

    reader: RedcapReader
    style: RedcapStyle
    grammar: Grammar
    fields: list[Field]
    sheets: list[Sheet]

    def __post_init__(self) -> None:
        rng = self.grammar.rng
        free = self.style.redcap_event_labels
        declared = list(dict.fromkeys(_codes(self.sheets, "redcap_event_name")))
        self.forms = list(dict.fromkeys(f.form for f in self.fields))
        self.repeating = _repeating(self.sheets, self.forms[0])
        self.events = declared + ([LOGS] if LOGS not in declared else [])
        self.event_labels = {u: _event_label(u, rng, free) for u in self.events}
        self.instrument_labels = {f: _instrument_label(f, free) for f in self.repeating}
        groups = _codes(self.sheets, "redcap_data_access_group")
        self.group_labels = {u: _group_label(u, rng, free) for u in groups}
        self.by_name = {f.name: f for f in self.fields}

    @property
    def label(self) -> bool:
        return self.style.flavour == "label"

    def event_text(self, unique: str) -> str:
        return self.event_labels[unique] if self.label else unique

    def value_text(self, column: str, cell: Cell) -> str:
        """A field's cell: raw as the grammar wrote it, or its choice label."""
        f = self.by_name.get(column.split("___")[0])
        coded = f is not None and f.type in ("radio", "checkbox")
        if not self.label or not coded or not cell.text or cell.as_text:
            return cell.text
        assert f is not None
        if f.type == "checkbox":
            return "Checked" if cell.value else "Unchecked"
        code = _key(cell)
        text = next(t for c, t in f.choices if c == code)
        return self.grammar.pad(self.grammar.case(text))


LOGS = "logs_arm_1"  # the event of forms the spec gives no event (the running logs)
_ARM = re.compile(r"^(?P<stem>[a-z0-9_]+)_arm_(?P<arm>\d+)$")


def _codes(sheets: list[Sheet], column: str) -> list[str]:
    """The codes the spec declares for a system column (its ``Code`` parsers' keys)."""
    out: list[str] = []
    for sheet in sheets:
        for parser in sheet.tm.fields.values():
            if isinstance(parser, Code) and parser.source == column:
                out += [k for k in parser.mapping if k not in out]
    return out


def _repeating(sheets: list[Sheet], first: str) -> list[str]:
    """The repeating instruments: forms whose table reads the instance number, or that hold
    two rows of one record at one event (REDCap keeps one row per record and event for any
    other form). The record id's form never repeats."""
    out: list[str] = []
    for sheet in sheets:
        form = sheet.tm.part or first
        if form == first or form in out:
            continue
        reads_instance = any(p.source == SYSTEM[2] for p in sheet.tm.fields.values())
        keys = [(r.row[LOCAL], _system(r.cells.get("redcap_event_name"))) for r in sheet.records]
        if reads_instance or len(set(keys)) < len(keys):
            out.append(form)
    return out


def unique_event(name: str, arm: str) -> str:
    """The unique name REDCap makes of an event's name (Define My Events): characters other
    than letters, digits, '_' and space dropped, spaces as '_', the first 18 characters, lower
    case, no '_' at the ends, then '_arm_' and the arm's number."""
    text = re.sub(r"[^0-9A-Za-z_ ]", "", name).replace(" ", "_")[:18].lower().strip("_")
    return f"{text}_arm_{arm}"


def unique_group(name: str) -> str:
    """The unique name REDCap makes of a data access group's name (the same rule, no arm)."""
    text = re.sub(r"[^0-9A-Za-z_ ]", "", name).replace(" ", "_")[:18].lower()
    return text.removesuffix("_")


def _typed(stem: str, rng: Any, free: bool) -> str:
    """A name a designer may have typed for ``stem`` (a unique name without its arm): words
    for its '_', in upper case; ``free``: in any case, with a character REDCap drops."""
    words = stem.split("_")
    if not free:
        return " ".join(words).upper()
    words = [rng.choice((w.upper(), w.title(), w.lower())) for w in words]
    at = rng.randrange(len(words))
    cut = rng.randint(1, len(words[at])) if len(words[at]) > 1 else 1
    words[at] = words[at][:cut] + rng.choice((".", "-", "")) + words[at][cut:]
    return " ".join(words)


def _event_label(unique: str, rng: Any, free: bool) -> str:
    """A label export's event: its name and arm, "SCR (Arm 1: Arm 1)"."""
    parsed = _ARM.match(unique)
    assert parsed, f"{unique!r} is no unique event name REDCap makes"
    stem, arm = parsed["stem"], parsed["arm"]
    name = _typed(stem, rng, free)
    arm_name = rng.choice((f"Arm {arm}", "MESEMS", "Hovedforsøg")) if free else f"Arm {arm}"
    assert unique_event(name, arm) == unique, (name, unique)
    return f"{name} (Arm {arm}: {arm_name})"


def _group_label(unique: str, rng: Any, free: bool) -> str:
    name = _typed(unique, rng, free)
    name = name if free else name.title()
    assert unique_group(name) == unique, (name, unique)
    return name


def _instrument_label(form: str, free: bool) -> str:
    """A repeating instrument's label: its name in words, or (``free``) a label that is not
    its name, as a designer may rename an instrument after REDCap named it."""
    words = form.replace("_", " ").capitalize()
    return f"{words} (gentaget)" if free else words


def _key(cell: Cell) -> str:
    """The code the cell stands for (the grammar may have spelled it in another case)."""
    assert isinstance(cell.parser, Code)
    return next(k for k, v in cell.parser.mapping.items() if k.lower() == cell.text.strip().lower())


def _system(cell: Cell | None) -> str | None:
    """A system column's code from a field that reads it (an event, a group, an instance)."""
    if cell is None or cell.text.strip() == "":
        return None
    return _key(cell) if isinstance(cell.parser, Code) else cell.text.strip()


def write_redcap(
    reader: RedcapReader,
    sheets: list[Sheet],
    folder: Path,
    style: RedcapStyle,
    grammar: Grammar,
) -> Written:
    fields = dictionary(sheets, grammar.locale.decimal)
    write_dictionary(folder / reader.dictionary, fields)
    project = Project(reader, style, grammar, fields, sheets)
    present = {c for s in sheets for c in s.columns}
    layout = columns(fields, present)
    extra = list(dict.fromkeys(c for s in sheets for c in s.columns if _extra(s, c)))
    rows: dict[Key, dict[str, str]] = {}
    placed: dict[str, list[Key]] = {}
    ids = {r.row[LOCAL]: i for i, r in enumerate(sheets[0].records)}
    groups = {
        r.row[LOCAL]: _system(r.cells.get("redcap_data_access_group")) for r in sheets[0].records
    }
    counts: dict[tuple[int, int, int], int] = {}
    for sheet in sheets:
        form = sheet.tm.part or project.forms[0]
        for record in sheet.records:
            key = _place(project, sheet, record.cells, ids[record.row[LOCAL]], form, counts)
            row = rows.setdefault(key, {})
            mine = [
                c
                for c in sheet.columns
                if c not in SYSTEM and c != project.fields[0].name and not _extra(sheet, c)
            ]
            assert not any(c in row for c in mine), (key, sheet.tm.table)
            _fill(project, row, record.row[LOCAL], key, groups, form)
            for column in sheet.columns:
                cell = record.cells.get(column)
                if column not in SYSTEM and cell is not None and cell.field != SUBJECT:
                    row[column] = project.value_text(column, cell)
            row[f"{form}_complete"] = "Complete" if project.label else "2"
            placed.setdefault(sheet.tm.table, []).append(key)
    order = sorted(rows)
    if style.unsaved_forms:
        _unsaved(project, rows, layout)
    header, names = _header(project, layout, extra, style, grammar)
    body = [[rows[k].get(n, "") for n in names] for k in order]
    _write(folder / reader.records, header, body, style.delimiter or reader.delimiter, style)
    number = {k: i + 2 for i, k in enumerate(order)}
    written = Written({}, {}, {})
    for sheet in sheets:
        written.files[sheet.tm.table] = reader.records
        written.numbers[sheet.tm.table] = [number[k] for k in placed.get(sheet.tm.table, [])]
        written.texts[sheet.tm.table] = [
            {c: cell.text for c, cell in r.cells.items()} for r in sheet.records
        ]
    return written


def _place(
    project: Project,
    sheet: Sheet,
    cells: dict[str, Cell],
    record: int,
    form: str,
    counts: dict[tuple[int, int, int], int],
) -> Key:
    event = _system(cells.get("redcap_event_name"))
    repeating = form in project.repeating
    if event is None:  # a form the spec gives no event: the logs' event, else the first
        event = LOGS if repeating else project.events[0]
    e = project.events.index(event)
    if not repeating:
        return (record, e, 0, 0)
    r = project.forms.index(form) + 1
    instance = _system(cells.get("redcap_repeat_instance"))
    counts[(record, e, r)] = counts.get((record, e, r), 0) + 1
    return (record, e, r, int(instance) if instance else counts[(record, e, r)])


def _fill(
    project: Project,
    row: dict[str, str],
    local: str,
    key: Key,
    groups: dict[str, str | None],
    form: str,
) -> None:
    row[project.fields[0].name] = local
    row["redcap_event_name"] = project.event_text(project.events[key[1]])
    if key[2]:
        label = project.instrument_labels.get(form, form) if project.label else form
        row["redcap_repeat_instrument"] = label
        row["redcap_repeat_instance"] = str(key[3])
    group = groups.get(local)
    if group:
        row["redcap_data_access_group"] = (
            project.group_labels.get(group, group) if project.label else group
        )


def _unsaved(project: Project, rows: dict[Key, dict[str, str]], layout: list[Any]) -> None:
    """Every form never saved at an event row: its status exported as 0 (Incomplete)."""
    statuses = [n for n, _, _ in layout if n.endswith("_complete")]
    for key, row in rows.items():
        if key[2]:
            continue
        for status in statuses:
            if status.removesuffix("_complete") not in project.repeating:
                row.setdefault(status, "Incomplete" if project.label else "0")


def _header(
    project: Project,
    layout: list[tuple[str, str, Field | None]],
    extra: list[str],
    style: RedcapStyle,
    grammar: Grammar,
) -> tuple[list[str], list[str]]:
    names = [n for n, _, _ in layout] + extra
    if project.label:
        return [lbl for _, lbl, _ in layout] + extra, names
    if style.name_case:
        return [grammar.rng.choice((n.upper(), n.title(), n)) for n in names], names
    return names, names


def _write(
    path: Path, header: list[str], rows: list[list[str]], delimiter: str, style: RedcapStyle
) -> None:
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if style.quote_all else csv.QUOTE_MINIMAL
    w = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=style.newline)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(out.getvalue().encode(style.encoding))
