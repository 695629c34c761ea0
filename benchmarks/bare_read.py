"""Worker: read a site's export with the library its adapter's reader is built on, and nothing
else - the floor for that format.

    python benchmarks/bare_read.py FORMAT EXPORT_DIR COUNT_FILE

excel: python-calamine, every row of every sheet; redcap: pyarrow's CSV reader on the records
and the dictionary; spss: pyreadstat ``read_sav``; odm: lxml ``iterparse`` with the same safe
parser settings as the reader (no entities, no network), clearing each item group once read;
sdtm: pyreadstat ``read_xport``. Writes the number of records read to COUNT_FILE.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def excel(folder: Path) -> int:
    from python_calamine import CalamineWorkbook

    rows = 0
    for path in sorted(folder.glob("*.xls*")):
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            rows += sum(1 for _ in book.get_sheet_by_name(name).iter_rows()) - 1
    return rows


def redcap(folder: Path) -> int:
    import pyarrow.csv as pa_csv

    options = pa_csv.ParseOptions(delimiter=";", newlines_in_values=True)
    rows = 0
    for path in sorted(folder.glob("*.csv")):
        rows += pa_csv.read_csv(path, parse_options=options).num_rows
    return rows


def spss(folder: Path) -> int:
    import pyreadstat

    return sum(len(pyreadstat.read_sav(str(p))[0]) for p in sorted(folder.glob("*.sav")))


def sdtm(folder: Path) -> int:
    import pyreadstat

    # XPT records no encoding; the simulated French export is wlatin1 (cp1252).
    return sum(
        len(pyreadstat.read_xport(str(p), encoding="WINDOWS-1252")[0])
        for p in sorted(folder.glob("*.xpt"))
    )


def odm(folder: Path) -> int:
    from lxml import etree

    rows = 0
    for path in sorted(folder.glob("*.xml")):
        events = etree.iterparse(
            str(path), events=("end",), resolve_entities=False, no_network=True, load_dtd=False
        )
        for _, element in events:
            if element.tag.endswith("}ItemGroupData"):
                rows += 1
                element.clear(keep_tail=True)
            elif element.tag.endswith("}SubjectData"):
                element.clear(keep_tail=True)
    return rows


READERS: dict[str, Callable[[Path], int]] = {
    "excel": excel,
    "redcap": redcap,
    "spss": spss,
    "sdtm": sdtm,
    "odm": odm,
}

if __name__ == "__main__":
    Path(sys.argv[3]).write_text(str(READERS[sys.argv[1]](Path(sys.argv[2]))), "utf-8")
