"""Lines that hold no value (blank, or only delimiters, as Excel writes for rows it once held)
are no data: skipped as ``blank-record`` and counted, never quarantined as rows of missing
values; and the records after them keep the numbers a coordinator finds in the file."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from federate.adapters import registry
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from tests.italy_export import FILES, write_italy_export


def test_blank_and_delimiter_only_lines_are_skipped_and_counted(
    tmp_path: Path, site_key: SiteKey
) -> None:
    header, *rows = FILES["rm.csv"].splitlines(keepends=True)
    text = header + rows[0] + ";;;;;;;;;\n" + "\n" + rows[1] + ";;;;;;;;;\n" + "".join(rows[2:])
    export = write_italy_export(tmp_path / "export", rm=text)
    result = ingest(registry.adapter("italy"), export, tmp_path / "bundle", site_key)
    assert result.exit_code == 0, result.quarantine.to_pylist()
    rm = next(s for s in result.manifest["sources"] if s["path"] == "rm.csv")
    assert (rm["rows_read"], rm["rows_mapped"], rm["rows_skipped"]) == (8, 5, 3)
    assert rm["skipped_reasons"] == {"blank-record": 3}
    mri = pq.read_table(tmp_path / "bundle" / "tables" / "mri.parquet")
    assert mri.column("source_row").to_pylist() == [2, 5, 7, 8, 9]
