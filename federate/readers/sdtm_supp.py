"""SUPP-- datasets merged back onto their parent records, batch by batch.

A SUPP-- record says: on the parent record of ``RDOMAIN`` and ``USUBJID`` whose ``IDVAR`` column
holds ``IDVARVAL``, qualifier ``QNAM`` is ``QVAL``; a blank ``IDVAR`` means every record of the
subject. The SUPP dataset is small, so it is held whole, turned into one lookup per ``IDVAR``
(unique keys, and per QNAM the value aligned with them); each parent batch is then matched with
``index_in`` + ``take``, which keeps the batch's order and never sees the whole parent.
Keys compare as trimmed text; where the parent column is numeric (typed, or numeric by SDTM
naming), both sides are normalised through float64, so 1, "1" and "1.0" match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import InputError, Location

SUPP_COLUMNS = ("RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL")
_SEP = "\x1f"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# SDTM variables that are numeric by the IG, after the two-letter domain prefix (AESEQ, LBDY...).
_NUMERIC_SUFFIX_NAMES = (
    "SEQ DY STDY ENDY DOSE DOSTOT STRESN STNRLO STNRHI TPTNUM LLOQ ULOQ "
    "LLTCD PTCD HLTCD HLGTCD BDSYCD SOCCD"  # MedDRA codes are numeric in SDTM
)
_NUMERIC_SUFFIXES = frozenset(_NUMERIC_SUFFIX_NAMES.split())
_NUMERIC_NAMES = frozenset({"AGE", "VISITNUM", "VISITDY", "TAETORD"})


def sdtm_numeric(name: str) -> bool:
    """Whether SDTM declares this variable numeric (for text formats, which carry no types)."""
    upper = name.upper()
    return upper in _NUMERIC_NAMES or upper[2:] in _NUMERIC_SUFFIXES


def normalised(arr: pa.Array, numeric: bool) -> pa.Array:
    """Text to match on: trimmed, and numbers in one spelling when ``numeric``."""
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return arr.cast(pa.float64()).cast(pa.string())
    text = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    if not numeric:
        return text
    looks = pc.match_substring_regex(text, _NUMBER)
    number = pc.if_else(looks, text, pa.scalar(None, pa.string())).cast(pa.float64())
    return pc.if_else(looks, number.cast(pa.string()), text)


@dataclass
class _Lookup:
    keys: pa.Array  # unique, no nulls
    values: dict[str, pa.Array]  # QNAM -> QVAL aligned with keys (null where absent)


@dataclass
class Supp:
    """One SUPP-- dataset, held whole (it is small), ready to merge onto parent batches."""

    relpath: str
    table: pa.Table  # SUPP_COLUMNS, trimmed text
    qnams: list[str]  # in order of first appearance: the extra columns
    duplicates: int  # records repeating a (parent record, QNAM) pair: the first wins
    _lookups: dict[tuple[str, bool], _Lookup] = field(default_factory=dict)

    @classmethod
    def load(cls, batches: Iterable[pa.RecordBatch], relpath: str) -> Supp:
        table = pa.Table.from_batches(list(batches))
        upper = {name.upper(): name for name in table.column_names}
        missing = [c for c in SUPP_COLUMNS if c not in upper]
        if missing and (table.num_rows or table.num_columns):
            raise InputError(
                f"a SUPP-- dataset needs column(s) {', '.join(missing)}",
                code="bad-supp",
                where=Location(file=relpath),
            )
        cols = [
            pc.utf8_trim_whitespace(table.column(upper[c]).cast(pa.string()))
            if c in upper
            else pa.chunked_array([], pa.string())
            for c in SUPP_COLUMNS
        ]
        table = pa.table(cols, names=list(SUPP_COLUMNS)).combine_chunks()
        qnams = [q for q in pc.unique(table.column("QNAM")).to_pylist() if q]
        keys = ["RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"]
        pairs = table.group_by(keys, use_threads=False).aggregate([]).num_rows
        return cls(relpath, table, qnams, table.num_rows - pairs)

    def idvars(self) -> list[str]:
        """IDVARs in SUPP order, record-level before subject-level ("")."""
        seen = pc.unique(pc.coalesce(self.table.column("IDVAR"), "")).to_pylist()
        return sorted(seen, key=lambda v: v == "")

    def check_names(self, header: list[str], relpath: str) -> None:
        clash = sorted({q.upper() for q in self.qnams} & {h.upper() for h in header})
        if clash:
            raise InputError(
                f"SUPP-- qualifier(s) {', '.join(clash)} in {self.relpath} repeat a column of the "
                "parent dataset: the merged column would be ambiguous",
                code="supp-name-clash",
                where=Location(file=relpath),
            )

    def merge(self, batch: pa.RecordBatch, domain: str) -> list[pa.Array]:
        """One array per QNAM, aligned with ``batch``'s rows (null where no SUPP value)."""
        n = batch.num_rows
        cols = {f.name.upper(): batch.column(f.name) for f in batch.schema}
        out: dict[str, pa.Array] = {}
        if "USUBJID" in cols:
            dom = cols.get("DOMAIN", pa.nulls(n, pa.string()))
            base = [pc.coalesce(normalised(dom, False), domain), normalised(cols["USUBJID"], False)]
            for idvar in self.idvars():
                if idvar and idvar.upper() not in cols:
                    continue  # reported in the source facts
                parts, numeric = list(base), False
                if idvar:
                    col = cols[idvar.upper()]
                    numeric = pa.types.is_floating(col.type) or pa.types.is_integer(col.type)
                    numeric = numeric or sdtm_numeric(idvar)
                    parts.append(normalised(col, numeric))
                lookup = self._lookup(idvar, numeric)
                idx = pc.index_in(pc.binary_join_element_wise(*parts, _SEP), value_set=lookup.keys)
                for q, vals in lookup.values.items():
                    got = vals.take(idx)
                    out[q] = pc.coalesce(out[q], got) if q in out else got
        return [out.get(q, pa.nulls(n, pa.string())) for q in self.qnams]

    def _lookup(self, idvar: str, numeric: bool) -> _Lookup:
        if (idvar, numeric) in self._lookups:
            return self._lookups[(idvar, numeric)]
        t = self.table.filter(pc.equal(pc.coalesce(self.table.column("IDVAR"), ""), idvar))
        parts = [t.column("RDOMAIN"), t.column("USUBJID")]
        if idvar:
            parts.append(normalised(t.column("IDVARVAL").combine_chunks(), numeric))
        keys = pc.binary_join_element_wise(*parts, _SEP)
        uniq = pc.drop_null(pc.unique(keys))
        pos = pc.fill_null(pc.index_in(keys, value_set=uniq), -1).to_numpy()
        qnam = t.column("QNAM").to_numpy(zero_copy_only=False)
        qval = t.column("QVAL").combine_chunks()
        values: dict[str, pa.Array] = {}
        for q in self.qnams:
            rec = np.flatnonzero((qnam == q) & (pos >= 0))
            if not rec.size:
                continue
            first_pos, first = np.unique(pos[rec], return_index=True)
            take = np.full(len(uniq), -1, dtype=np.int64)
            take[first_pos] = rec[first]
            values[q] = qval.take(pa.array(take, mask=take < 0))
        lookup = _Lookup(uniq, values)
        self._lookups[(idvar, numeric)] = lookup
        return lookup
