"""One canonical spelling of text for the identifier detectors, whatever keyboard typed it.

NFKC turns full-width forms ("２１１０６２") into ASCII and every no-break or narrow space into a
space; then every dash (en dash, non-breaking hyphen, minus sign) becomes "-", and format
characters (soft hyphen, zero-width space, BOM) and combining marks are dropped, so none of them
can split a number. ``canonical_array`` does it vectorised, for the prefilter; ``canonical``
does it for one candidate value and also says where each character came from, so that a hit is
reported (and masked) as it was written.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# The same rules twice: RE2 classes for the vectorised pass, Unicode categories per character.
_DROP_RE2 = r"[\p{Cf}\p{Mn}]"
_DASH_RE2 = r"[\p{Pd}\x{2212}]"
_DROP = frozenset({"Cf", "Mn"})


def canonical_array(values: pa.Array) -> pa.Array:
    """Each value in its canonical spelling (ASCII values, the usual case, are left alone)."""
    if len(values) == 0 or pc.all(pc.string_is_ascii(values)).as_py():
        return values
    text = pc.utf8_normalize(values, form="NFKC")
    # Few values hold a dash, a mark or a format character: only those are rewritten.
    special = pc.match_substring_regex(text, f"{_DROP_RE2}|{_DASH_RE2}")
    if not pc.any(special).as_py():
        return text
    rewritten = pc.replace_substring_regex(pc.filter(text, special), _DROP_RE2, "")
    rewritten = pc.replace_substring_regex(rewritten, _DASH_RE2, "-")
    return pc.replace_with_mask(text, special, rewritten)


def _char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category in _DROP:
        return ""
    return "-" if category == "Pd" or ch == "\u2212" else ch


@dataclass(frozen=True)
class Canonical:
    """A value's canonical text; ``starts[i]``/``ends[i]`` bound the original characters that
    canonical character ``i`` came from (None when the value was ASCII: the same text)."""

    value: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def original(self, start: int, end: int) -> str:
        """The original text of the canonical span [start, end)."""
        if self.starts is None or self.ends is None:
            return self.value[start:end]
        return self.value[self.starts[start] : self.ends[end - 1]]


def canonical(value: str) -> Canonical:
    """``value`` spelt as ``canonical_array`` spells it. NFKC runs per base character and its
    combining marks (its composition never crosses them), which keeps the map back exact."""
    if value.isascii():
        return Canonical(value, value)
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(value)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(value[j]):
            j += 1
        piece = "".join(_char(ch) for ch in unicodedata.normalize("NFKC", value[i:j]))
        pieces.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return Canonical(value, "".join(pieces), tuple(starts), tuple(ends))
