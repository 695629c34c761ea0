"""REDCap's unique names, derived from labels the way REDCap derives them, and the labels a label
export writes in its system columns decoded back to those names.

A label export names an event by its label and arm ("SCR (Arm 1: Arm 1)"), a data access group
by its name ("Aarhus UH") and a repeating instrument by its label ("Uønskede hændelser"); a raw
export writes the unique names (``scr_arm_1``, ``aarhus_uh``, ``haendelser``). REDCap makes
the unique names of events and groups from their names, with one rule (``Project.php``,
``getUniqueEventNames`` and ``getUniqueGroupNames``): characters other than letters, digits,
``_`` and spaces dropped, spaces as ``_``, the first 18 characters, lower case, ``_`` trimmed
from the ends (a group: one trailing ``_``); a name left blank (all its characters dropped)
becomes the first 10 hex digits of the label's MD5; events add ``_arm_<arm number>``. Two
labels that make the same name get suffixes ``b``, ``c``... in REDCap, which a label export
does not show: such labels are refused, never guessed. An instrument's name is not derived
from its label (it is fixed when the instrument is made, and the label may change later): a
label is matched to the instrument name it spells, else to the one instrument whose fields
are filled on the rows that carry it (``redcap_profile``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping

from federate.errors import InputError, Location
from federate.readers.redcap_dictionary import norm

_DROPPED = re.compile(r"[^0-9A-Za-z_ ]")
# "<event> (<Arm> <n>: <arm name>)": REDCap's event label (the word is the server's language).
_EVENT_LABEL = re.compile(
    r"^(?P<event>.*?)\s*\((?P<word>[^\s():]+)\s+(?P<arm>\d+)\s*:\s*(?P<arm_name>.*)\)\s*$", re.S
)
_UNIQUE_EVENT = re.compile(r"^[a-z0-9_]+_arm_\d+[a-z]{0,2}$")
_UNIQUE_GROUP = re.compile(r"^[a-z0-9_]{1,20}$")

Where = Callable[[str], Location]  # a value -> where it first occurs, for messages


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]


def unique_event_name(event: str, arm: str) -> str:
    """REDCap's unique event name of event ``event`` in arm ``arm`` ("SCR", "1" -> scr_arm_1)."""
    text = _DROPPED.sub("", event.strip()).replace(" ", "_")[:18].lower().strip("_")
    return f"{text or _md5(event.strip())}_arm_{arm}"


def unique_group_name(group: str) -> str:
    """REDCap's unique name of a data access group ("Aarhus UH" -> aarhus_uh)."""
    text = _DROPPED.sub("", group.strip()).replace(" ", "_")[:18].lower()
    text = text[:-1] if text.endswith("_") else text
    return text or _md5(group)


def form_slug(label: str) -> str:
    """The instrument name REDCap makes of a new instrument's label ("Blood Pressure" ->
    blood_pressure): letters, digits and '_' kept, spaces as '_', no '_' doubled or at the
    ends, no leading digit, at most 50 characters."""
    kept = re.sub(r"[^a-z0-9_ ]", "", label.lower())
    return re.sub(r"[ _]+", "_", kept).strip("_").lstrip("0123456789_")[:50]


def event_names(
    labels: Iterable[str],
    declared: Mapping[str, str],
    events: list[tuple[str, str, str]],
    where: Where,
) -> dict[str, str]:
    """Each event value of the export -> its unique event name: as declared, through REDCap's
    events export (``events``: event name, arm number, unique name) when there is one, else
    through REDCap's derivation; a unique name (a raw value) is kept."""
    by_label = {norm(k): v for k, v in declared.items()}
    by_event = {(norm(name), arm): unique for name, arm, unique in events}
    out: dict[str, str] = {}
    derived: dict[str, str] = {}
    for label in labels:
        if not label.strip():
            continue
        parsed = _EVENT_LABEL.match(label)
        name, arm = (parsed["event"], parsed["arm"]) if parsed else (label, "1")
        if norm(label) in by_label:
            out[label] = by_label[norm(label)]
        elif _UNIQUE_EVENT.match(label.strip()):
            out[label] = label.strip()
        elif events:
            unique = by_event.get((norm(name), arm)) if parsed else _only(by_event, norm(label))
            if unique is None:
                raise InputError(
                    f"the event {label!r} is not an event of the project's events export: "
                    "export the records and the events from the same project",
                    code="unknown-event",
                    where=where(label),
                )
            out[label] = unique
        else:
            out[label] = derived[label] = unique_event_name(name, arm)
    _refuse_merged(derived, "event", "redcap_event_name", where)
    return out


def _only(by_event: dict[tuple[str, str], str], name: str) -> str | None:
    """The unique name of the one event called ``name`` in any arm (a label without its arm)."""
    found = [unique for (event, _), unique in by_event.items() if event == name]
    return found[0] if len(found) == 1 else None


def group_names(labels: Iterable[str], declared: Mapping[str, str], where: Where) -> dict[str, str]:
    """Each data access group value -> its unique group name (declared, kept, or derived)."""
    by_label = {norm(k): v for k, v in declared.items()}
    out: dict[str, str] = {}
    derived: dict[str, str] = {}
    for label in labels:
        if not label.strip():
            continue
        if norm(label) in by_label:
            out[label] = by_label[norm(label)]
        elif _UNIQUE_GROUP.match(label.strip()):
            out[label] = label.strip()
        else:
            out[label] = derived[label] = unique_group_name(label)
    _refuse_merged(derived, "data access group", "redcap_data_access_group", where)
    return out


def _refuse_merged(derived: dict[str, str], what: str, column: str, where: Where) -> None:
    """Two labels (not mere case or spacing variants) that make one unique name are two of the
    project's events or groups, which REDCap tells apart by a suffix the export does not show."""
    seen: dict[str, str] = {}
    for label, name in derived.items():
        other = seen.setdefault(name, label)
        if norm(other) != norm(label):
            raise InputError(
                f"the {what}s {other!r} and {label!r} both stand for REDCap's unique name "
                f"{name!r}, so rows of two {what}s could be merged: export raw data (unique "
                "names), or rename one of them in REDCap",
                code="ambiguous-label",
                where=where(label),
            )


def instrument_names(
    labels: Iterable[str],
    declared: Mapping[str, str],
    forms: list[str],
    filled: Mapping[str, set[str]],
    where: Where,
) -> dict[str, str]:
    """Each repeating-instrument value -> its instrument: as declared, the instrument it names
    or spells (its REDCap name), else the one instrument whose fields its rows fill. Rows that
    fill another instrument's fields are refused: a label is never matched by a guess."""
    by_label = {norm(k): v for k, v in declared.items()}
    by_name = {f.lower(): f for f in forms}
    out: dict[str, str] = {}
    for label in labels:
        if not label.strip():
            continue
        has = filled.get(label, set())
        form = (
            by_label.get(norm(label))
            or by_name.get(label.strip().lower())
            or by_name.get(form_slug(label))
            or (next(iter(has)) if len(has) == 1 else None)
        )
        if form is None or not has <= {form}:
            names = ", ".join(sorted(has)) or "none"
            raise InputError(
                f"the repeating instrument {label!r} cannot be told from the data dictionary: "
                f"its rows fill fields of {len(has)} instruments ({names}); export raw data "
                "(instrument names), or check that every repeat row belongs to one instrument",
                code="unknown-instrument",
                where=where(label),
            )
        out[label] = form
    return out
