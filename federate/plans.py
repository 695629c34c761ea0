"""Each source's plan: its file inspected, its header read and its columns resolved, before any
row of it is mapped.

A missing column or an undecodable file stops the run with exit 2 and nothing written. Every
table waits on the subjects table, which runs alone: so only the subjects' sources are resolved
before it starts, and the others on a thread beside it, where the second core is idle (a large
export's encoding pass takes ~1.5 s at 20M lab rows). No other table starts before all of them
are resolved, and a file's error is reported before any table's.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from federate.adapter import TableMap
from federate.mapping import resolve_columns
from federate.readers.base import Reader, Source


@dataclass(frozen=True)
class Plan:
    tm: TableMap
    source: Source
    header: list[str]
    columns: dict[str, str]  # declared input column -> the header's spelling
    facts: dict[str, str]  # what the reader found out about the file


def resolve(reader: Reader, found: list[tuple[TableMap, Source]]) -> list[Plan]:
    reader.prepare([source for _, source in found])
    plans = []
    for tm, source in found:
        header = reader.columns(source)
        columns = resolve_columns(tm, header, source.relpath)
        plans.append(Plan(tm, source, header, columns, reader.source_facts(source)))
    return plans


class Plans:
    """The plans of ``found`` (in its order): those of ``first`` (tables) at once, the others on
    a thread when ``ahead``, else at once too. Used as a context manager, which waits for that
    thread; an error of a later plan wins over the error that ended the block."""

    def __init__(
        self, reader: Reader, found: list[tuple[TableMap, Source]], first: str, ahead: bool
    ):
        self.found = found
        now = [i for i, (tm, _) in enumerate(found) if tm.table == first or not ahead]
        later = [i for i in range(len(found)) if i not in now]
        self._plans = dict(zip(now, resolve(reader, [found[i] for i in now]), strict=True))
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="plans")
        self._later: Future[list[Plan]] = self._pool.submit(
            resolve, reader, [found[i] for i in later]
        )
        self._later_at = later

    def __getitem__(self, i: int) -> Plan:
        if i not in self._plans:
            plans = self._later.result()  # raises a later plan's error
            self._plans.update(zip(self._later_at, plans, strict=True))
        return self._plans[i]

    def ready(self) -> None:
        """Wait for every plan (raising the first error)."""
        for i in self._later_at:
            self[i]

    def __enter__(self) -> Plans:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True)
        error = self._later.exception()
        if isinstance(exc, Exception) and error is not None and error is not exc:
            raise error from None
