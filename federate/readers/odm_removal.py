"""Records the source system deleted but still exports, as ODM vendor attributes mark them.

OpenClinica 3.x never drops what a user removes: its extracts keep the subject, event, form or
item group, marked. Such a record, and everything inside it, is not a row of the export: the
reader hands it to the engine as a ``Reject(deleted=True)``, skipped with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REMOVED_REASON = "removed-in-source"
OPENCLINICA_NS = "http://www.openclinica.org/ns/"  # every OpenClinica version's extension URIs
_RECORD = {
    "SubjectData": "subject",
    "StudyEventData": "event",
    "FormData": "form",
    "ItemGroupData": "item group",
}


@dataclass(frozen=True)
class Removal:
    """A vendor attribute whose value marks a record the source system deleted."""

    name: str  # the attribute's local name, in any namespace whose URI starts with ``namespace``
    values: tuple[str, ...]  # as the source writes them; matched ignoring case and outer spaces
    namespace: str = OPENCLINICA_NS
    prefix: str = "OpenClinica"  # how the source's files usually name the namespace (for people)

    def describe(self) -> str:
        *most, last = [f'"{v}"' for v in self.values]
        return f"{self.prefix}:{self.name} " + (f"{', '.join(most)} or {last}" if most else last)

    def matches(self, value: str) -> bool:
        return value.strip().lower() in {v.lower() for v in self.values}


# OpenClinica 3.x marks subjects, events and forms with Status "removed" ("auto-removed" when
# removed with their subject or event; "invalid" for a removed form or event) and the rows of a
# repeating group with Removed="Yes".
OPENCLINICA_REMOVALS = (
    Removal("Status", ("removed", "auto-removed", "invalid")),
    Removal("Removed", ("Yes",)),
)


def removal_flag(
    elem: Any, level: str, rules: tuple[Removal, ...], qname: Callable[[str], str]
) -> str | None:
    """The removal flag ``elem`` (a ``level`` element) carries, said for the coordinator as the
    file writes it; None when it carries none."""
    if not rules:
        return None
    for k, v in elem.attrib.items():
        if k[0] != "{":
            continue
        uri, _, local = k[1:].partition("}")
        for rule in rules:
            if local == rule.name and uri.startswith(rule.namespace) and rule.matches(v):
                return f'its {_RECORD[level]} is marked {qname(k)}="{v}"'
    return None
