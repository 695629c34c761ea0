"""Text as the XML of an OpenClinica ODM extract holds it: attribute values and element text
are escaped alike, line breaks and tabs as character references (an attribute keeps them)."""

from __future__ import annotations

_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;"}
    | {"\t": "&#9;"}
)


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def attr(name: str, value: object) -> str:
    """`` name="value"``, the value escaped."""
    return f' {name}="{escape(str(value))}"'
