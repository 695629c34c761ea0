"""REDCap's data dictionary: fields, forms, choice lists, validation types, identifier flags, and
the export columns each field becomes (a checkbox becomes one ``field___code`` column per choice,
each form adds ``form_complete``, surveys add ``form_timestamp``).

The dictionary is metadata (hundreds of rows), so it is read whole with the ``csv`` module.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from federate.errors import InputError, Location
from federate.readers.base import CODE_LIST, code_list_text
from federate.readers.csv import inspect_file

# System columns REDCap adds after the record id, with their headers in a label export.
SYSTEM_LABELS = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
    "redcap_survey_identifier": "Survey Identifier",
}
# The survey identifier is the participant's e-mail or name: never yielded, like flagged fields.
SURVEY_IDENTIFIER = "redcap_survey_identifier"

# Labels of fixed code lists, as a label export writes them (keys normalised by ``norm``).
_STATUS = {"incomplete": "0", "unverified": "1", "complete": "2"}
_FIXED = {"yesno": {"yes": "1", "no": "0"}, "truefalse": {"true": "1", "false": "0"}}
_CHECKBOX = {"checked": "1", "unchecked": "0"}
_CHOICE_TYPES = {"radio", "dropdown", "checkbox"}

# The dictionary's headings as downloaded from Project Setup, and as the API's metadata names them.
_HEADINGS = {
    "name": ("variable / field name", "field_name"),
    "form": ("form name", "form_name"),
    "type": ("field type", "field_type"),
    "label": ("field label", "field_label"),
    "choices": ("choices, calculations, or slider labels", "select_choices_or_calculations"),
    "validation": (
        "text validation type or show slider number",
        "text_validation_type_or_show_slider_number",
    ),
    "identifier": ("identifier?", "identifier"),
}
_REQUIRED = ("name", "form", "type", "label")

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    """A label as matched: HTML tags and entities resolved, spaces collapsed, case folded
    (exports strip the markup that labels may carry)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", text))).strip().lower()


def text_encoding(encoding: str) -> str:
    """The codec to open a text file with: UTF-8 drops a byte-order mark."""
    return "utf-8-sig" if encoding.replace("_", "-").lower() == "utf-8" else encoding


def checkbox_suffix(code: str) -> str:
    """REDCap's column suffix for a checkbox code: lower case, '-' and '.' as '_' (-1 -> _1)."""
    return re.sub(r"[^a-z0-9_]", "_", code.strip().lower())


@dataclass(frozen=True)
class Field:
    name: str
    form: str
    type: str
    label: str
    choices: tuple[tuple[str, str], ...]  # (code, label) for radio, dropdown, checkbox
    validation: str  # e.g. date_dmy, number_comma_decimal ('' when none)
    identifier: bool


@dataclass(frozen=True)
class Column:
    """One column a records export can carry."""

    name: str
    form: str
    kind: str  # "field", "checkbox", "status" or "timestamp"
    label: str  # its header in a label export
    identifier: bool
    codes: Mapping[str, str] = field(default_factory=dict)  # norm(label) -> raw code
    clash: str = ""  # a choice label that names two codes: a label export cannot be decoded


@dataclass(frozen=True)
class Dictionary:
    fields: tuple[Field, ...]
    relpath: str
    sha256: str

    @property
    def record_id(self) -> str:
        """REDCap's record id is the first field of the dictionary."""
        return self.fields[0].name

    @property
    def forms(self) -> list[str]:
        return list(dict.fromkeys(f.form for f in self.fields))

    def choice_lists(self, columns: list[str]) -> dict[str, str]:
        """``CODE_LIST + field`` -> the choices of each radio or dropdown field of ``columns``, in
        the dictionary's terms: what a value no choice names is quarantined against."""
        wanted = set(columns)
        return {
            CODE_LIST + f.name: code_list_text(
                f"the choices of field {f.name} in {self.relpath}", list(f.choices)
            )
            for f in self.fields
            if f.name in wanted and f.choices and f.type in ("radio", "dropdown")
        }

    def columns(self) -> list[Column]:
        """Every column a full export can carry, in export order (system columns aside)."""
        out: list[Column] = []
        for form in self.forms:
            out.append(Column(f"{form}_timestamp", form, "timestamp", "Survey Timestamp", False))
            for f in (f for f in self.fields if f.form == form):
                out.extend(_field_columns(f))
            out.append(Column(f"{form}_complete", form, "status", "Complete?", False, _STATUS))
        return out


def _field_columns(f: Field) -> list[Column]:
    if f.type == "descriptive":
        return []
    if f.type == "checkbox":
        return [
            Column(
                f"{f.name}___{checkbox_suffix(code)}",
                f.form,
                "checkbox",
                f"{f.label} (choice={label})",
                f.identifier,
                {**_CHECKBOX, norm(label): "1"},
            )
            for code, label in f.choices
        ]
    codes: dict[str, str] = dict(_FIXED.get(f.type, {}))
    clash = ""
    if f.type in _CHOICE_TYPES:
        for code, label in f.choices:
            key = norm(label)
            if key in codes and codes[key] != code:
                clash = label
            codes[key] = code
    return [Column(f.name, f.form, "field", f.label, f.identifier, codes, clash)]


def parse_choices(text: str) -> tuple[tuple[str, str], ...]:
    """``0, Kvinde | 1, Mand`` -> (("0", "Kvinde"), ("1", "Mand"))."""
    pairs = []
    for item in text.split("|"):
        code, comma, label = item.partition(",")
        if code.strip():
            pairs.append((code.strip(), label.strip() if comma else code.strip()))
    return tuple(pairs)


def read_dictionary(path: Path, relpath: str, encodings: tuple[str, ...]) -> Dictionary:
    facts = inspect_file(path, encodings, relpath)
    try:
        with path.open(encoding=text_encoding(facts.encoding), newline="") as fh:
            rows = list(csv.reader(fh))
    except csv.Error as exc:
        raise InputError(
            f"the data dictionary cannot be read as CSV: {exc}",
            code="bad-dictionary",
            where=Location(file=relpath),
        ) from None
    heads = [norm(h) for h in rows[0]] if rows else []
    at = {
        key: next((heads.index(s) for s in spellings if s in heads), -1)
        for key, spellings in _HEADINGS.items()
    }
    missing = [_HEADINGS[k][0] for k in _REQUIRED if at[k] < 0]
    if missing:
        raise InputError(
            f"this is not a REDCap data dictionary: no column {', '.join(map(repr, missing))}",
            code="bad-dictionary",
            where=Location(file=relpath, row=1),
        )
    fields: dict[str, Field] = {}
    for number, row in enumerate(rows[1:], start=2):
        cell = {k: (row[i].strip() if 0 <= i < len(row) else "") for k, i in at.items()}
        if not any(cell.values()):
            continue
        name = cell["name"]
        where = Location(file=relpath, row=number, column=rows[0][at["name"]], value=name)
        if not name or not cell["form"]:
            raise InputError("a field without a name or a form", code="bad-dictionary", where=where)
        if name in fields:
            raise InputError(f"field {name!r} is defined twice", code="bad-dictionary", where=where)
        ftype = cell["type"].lower()
        fields[name] = Field(
            name=name,
            form=cell["form"],
            type=ftype,
            label=cell["label"],
            choices=parse_choices(cell["choices"]) if ftype in _CHOICE_TYPES else (),
            validation=cell["validation"].lower() if ftype == "text" else "",
            identifier=cell["identifier"].lower() == "y",
        )
    if not fields:
        raise InputError(
            "the data dictionary lists no fields", code="bad-dictionary", where=Location(relpath)
        )
    return Dictionary(tuple(fields.values()), relpath, facts.sha256)
