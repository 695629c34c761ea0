"""Export writers, one per export format (not per site): the simulator renders every table map
of a site from the truth, then the site's format writer lays the rendered columns out as files.

A writer receives, per table map, the columns as the site writes them (strings, keyed by the
site's column names, already carrying the export's habits and any injected errors) and the
truth rows they came from (for typed formats that write numbers and dates as such).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.readers.csv import CsvReader
from federate.synth.export_csv import encoding_for, write_csv
from federate.synth.export_excel import write_excel_export
from federate.synth.export_odm import write_odm_export
from federate.synth.export_redcap import write_redcap_export
from federate.synth.export_sdtm import write_sdtm_export
from federate.synth.export_spss import write_spss_export


@dataclass(frozen=True)
class RenderedMap:
    tm: TableMap
    columns: dict[str, pa.Array]  # site column -> values as exported
    truth: pa.Table  # the shared rows behind them, in the same order


@dataclass(frozen=True)
class Written:
    files: list[Path]
    # Where each truth row landed, when not at CSV-style records 2.. of ``tm.file`` in truth
    # order: shared table -> (source_file, source_row per truth row). The truth is patched.
    provenance: dict[str, tuple[pa.Array, pa.Array]] = field(default_factory=dict)


ExportWriter = Callable[[SiteAdapter, list[RenderedMap], Path], Written]


def write_csv_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    reader = adapter.reader
    assert isinstance(reader, CsvReader)
    files = []
    for r in rendered:
        path = folder / r.tm.file
        write_csv(path, r.columns, reader, encoding_for(reader, r.tm))
        files.append(path)
    return Written(files)


# The explicit list: a format without a writer gets no simulated export (and a note).
WRITERS: dict[str, ExportWriter] = {
    "csv": write_csv_export,
    "spss": write_spss_export,
    "excel": write_excel_export,
    "odm": write_odm_export,
    "redcap": write_redcap_export,
    "sdtm": write_sdtm_export,
}
