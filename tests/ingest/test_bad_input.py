"""The bad-input matrix of the CSV path: each case with the README's exit code and a message
that names the file, the row, the column and the value."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from federate.readers.base import Reject, Source
from tests.italy_export import FILES, write_italy_export

Edit = Callable[[Path], None]


def text(name: str, old: str, new: str) -> Edit:
    def edit(export: Path) -> None:
        path = export / name
        content = FILES[name]
        assert old in content, old
        path.write_bytes(content.replace(old, new, 1).encode("utf-8"))

    return edit


def raw(name: str, data: bytes) -> Edit:
    return lambda export: (export / name).write_bytes(data)


def both(*edits: Edit) -> Edit:
    def edit(export: Path) -> None:
        for one in edits:
            one(export)

    return edit


RM_ROW = "000123;SETT4;02/04/2013;3;0;0;0;12,00;1499,5;SI\n"
CASES: list[tuple[str, Edit, int, list[str]]] = [
    (
        "missing column",
        text("rm.csv", "lesioni_gd;", "gd;"),
        2,
        ["rm.csv", "missing column(s) 'lesioni_gd'"],
    ),
    (
        "extra unknown column",
        raw(
            "ricadute.csv",
            FILES["ricadute.csv"]
            .replace("steroidi\n", "steroidi;note\n")
            .replace("sì\n", "sì;x\n")
            .replace("no\n", "no;\n")
            .encode(),
        ),
        0,
        [],
    ),
    ("empty file", raw("visite.csv", b""), 2, ["visite.csv", "empty"]),
    (
        # The MRI file is resolved beside the subjects table's staging: its error is still the
        # one reported, as when every file was resolved first.
        "missing column, and the patients file truncated",
        both(
            text("rm.csv", "lesioni_gd;", "gd;"),
            raw("pazienti.csv", FILES["pazienti.csv"].encode()[:-30]),
        ),
        2,
        ["rm.csv", "missing column(s) 'lesioni_gd'"],
    ),
    (
        "header only",
        raw("ricadute.csv", FILES["ricadute.csv"].split("\n")[0].encode() + b"\n"),
        0,
        [],
    ),
    (
        "truncated last line",
        raw("rm.csv", FILES["rm.csv"].encode()[:-30]),
        2,
        ["rm.csv", "truncated"],
    ),
    ("wrong encoding", raw("rm.csv", FILES["rm.csv"].encode("utf-16")), 2, ["rm.csv", "UTF-16"]),
    (
        # Not read as cp1252 (which would report the first column missing, its name "ï»¿...").
        "UTF-8 with a byte-order mark and one cp1252 byte",
        raw("rm.csv", FILES["rm.csv"].encode("utf-8-sig").replace(b";SI\n", b";S\xcc\n", 1)),
        2,
        ["rm.csv", "byte-order mark but is not valid UTF-8", "(line 3)"],
    ),
    (
        "delimiter inside a quoted verbatim term",
        text("eventi_avversi.csv", "cefalea", '"cefalea; forte"'),
        0,
        [],
    ),
    (
        "unknown code",
        text("rm.csv", "000124;SETT4", "000124;SETT99"),
        1,
        ["rm.csv row 6", "'visita'", "'SETT99'", "unknown-code"],
    ),
    (
        "impossible date",
        text("rm.csv", "02/04/2013", "31/02/2020"),
        1,
        ["rm.csv row 3", "'data_rm'", "'31/02/2020'", "invalid-date"],
    ),
    (
        "value out of range",
        text("rm.csv", "000124;SETT4;03/04/2013;3;4", "000124;SETT4;03/04/2013;3;-4"),
        1,
        ["rm.csv row 6", "'lesioni_gd'", "'-4'", "out-of-range", "gel_count >= 0"],
    ),
    ("exact duplicate", text("rm.csv", RM_ROW, RM_ROW + RM_ROW), 0, []),
    (
        "conflicting duplicate",
        text("rm.csv", RM_ROW, RM_ROW + RM_ROW.replace(";3;0;0;0;", ";3;5;0;0;")),
        1,
        ["rm.csv row 3", "rm.csv row 4", "conflicting-key"],
    ),
    (
        "orphan",
        text("rm.csv", RM_ROW, RM_ROW + RM_ROW.replace("000123", "000999")),
        1,
        ["rm.csv row 4", "'id_paziente'", "unknown-subject"],
    ),
]


@pytest.mark.parametrize(("case", "edit", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_matrix(
    tmp_path: Path, case: str, edit: Edit, code: int, words: list[str]
) -> None:
    export = write_italy_export(tmp_path / "export")
    edit(export)
    key = tmp_path / "k"
    key.write_text("ab" * 32)
    key.chmod(0o600)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "federate",
            "ingest",
            "italy",
            str(export),
            "--out",
            str(tmp_path / "b"),
            "--key-file",
            str(key),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == code, (case, done.stderr)
    assert "Traceback" not in done.stderr
    if code == 2:
        message = done.stderr
        assert not (tmp_path / "b").exists()
    else:
        report = json.loads(done.stdout)  # --format json: only JSON on stdout
        message = json.dumps(report["quarantine"]["examples"])
        for source in report["sources"]:
            assert source["rows_read"] == (
                source["rows_mapped"] + source["rows_quarantined"] + source["rows_skipped"]
            )
        message = "\n".join(
            f"{e['source_file']} row {e['source_row']}, column {e['column']!r}, value "
            f"{e['value']!r}: {e['reason']} ({e['rule']})"
            for e in report["quarantine"]["examples"]
        )
    for word in words:
        assert word in message, (case, word, message)


def test_exact_duplicate_is_kept_once_and_counted_as_skipped(tmp_path: Path) -> None:
    from federate.adapters import registry
    from federate.ingest.run import ingest
    from federate.privacy.pseudonym import SiteKey

    export = write_italy_export(tmp_path / "export")
    text("rm.csv", RM_ROW, RM_ROW + RM_ROW)(export)
    result = ingest(
        registry.adapter("italy"), export, tmp_path / "b", SiteKey(bytes(32), tmp_path / "k")
    )
    rm = next(s for s in result.manifest["sources"] if s["path"] == "rm.csv")
    assert (rm["rows_read"], rm["rows_mapped"], rm["rows_skipped"]) == (6, 5, 1)
    assert rm["skipped_reasons"] == {"exact-duplicate": 1}
    assert [
        (w["source_row"], w["reason"]) for w in result.warnings.to_pylist() if w["table"] == "mri"
    ] == [(4, "exact-duplicate")]


def test_rows_of_a_quarantined_patient_are_held(tmp_path: Path) -> None:
    from federate.adapters import registry
    from federate.ingest.run import ingest
    from federate.privacy.pseudonym import SiteKey

    export = write_italy_export(tmp_path / "export")
    text("pazienti.csv", "01/03/85;femmina", "01/03/85;donna")(export)  # patient 000124
    result = ingest(
        registry.adapter("italy"), export, tmp_path / "b", SiteKey(bytes(32), tmp_path / "k")
    )
    held = {
        (q["table"], q["source_row"])
        for q in result.quarantine.to_pylist()
        if q["reason"] == "parent-quarantined"
    }
    assert ("mri", 5) in held and ("mri", 6) in held and ("randomisation", 3) in held
    sources = {s["path"]: s for s in result.manifest["sources"]}
    assert sources["rm.csv"]["rows_parent_quarantined"] == 2
    assert sources["pazienti.csv"]["rows_quarantined"] == 1
    assert sources["pazienti.csv"]["rows_parent_quarantined"] == 0
    assert result.report["quarantine"]["rows"] == sum(
        s["rows_quarantined"] for s in result.manifest["sources"]
    )


def test_quarantine_workbook_has_a_summary_then_a_sheet_per_file(tmp_path: Path) -> None:
    import openpyxl

    from federate.adapters import registry
    from federate.ingest.run import ingest
    from federate.privacy.pseudonym import SiteKey

    export = write_italy_export(tmp_path / "export")
    text("rm.csv", "02/04/2013", "31/02/2020")(export)
    text("esami.csv", ";90;mg/dL", ";90;g/furlong")(export)
    ingest(registry.adapter("italy"), export, tmp_path / "b", SiteKey(bytes(32), tmp_path / "k"))
    book = openpyxl.load_workbook(tmp_path / "b" / "quarantine.xlsx")
    assert book.sheetnames == ["Summary", "esami.csv", "rm.csv", "warnings"]
    mri = [tuple(r) for r in book["rm.csv"].iter_rows(values_only=True)]
    assert mri[0] == ("source_row", "column", "value", "reason", "rule")
    assert mri[1][:4] == (3, "data_rm", "31/02/2020", "invalid-date")
    labs = [tuple(r) for r in book["esami.csv"].iter_rows(values_only=True)]
    assert labs[1][1:4] == ("unita", "g/furlong", "unknown-code")


def test_quarantine_workbook_writes_values_as_text_never_formulas(tmp_path: Path) -> None:
    import openpyxl

    from federate.adapters import registry
    from federate.ingest.run import ingest
    from federate.privacy.pseudonym import SiteKey

    export = write_italy_export(tmp_path / "export")
    text("esami.csv", ";90;mg/dL", ";90;=HYPERLINK(1)")(export)
    ingest(registry.adapter("italy"), export, tmp_path / "b", SiteKey(bytes(32), tmp_path / "k"))
    book = openpyxl.load_workbook(tmp_path / "b" / "quarantine.xlsx")
    rows = book["esami.csv"].iter_rows(min_row=2)
    cell = next(r for r in rows if r[2].value == "=HYPERLINK(1)")[2]
    assert cell.data_type == "s"  # a string, not a formula


def test_warnings_beside_quarantined_rows_and_restricted_warnings_unlisted(tmp_path: Path) -> None:
    from federate.adapters import registry
    from federate.ingest.run import ingest
    from federate.privacy.pseudonym import SiteKey

    export = write_italy_export(tmp_path / "export")
    infusions = FILES["infusioni.csv"].replace(";1,50;70,5", ";33,33;70,5")  # impossible
    infusions = infusions.replace(";1,85;63,9", ";7,77;63,9")  # implausible: a warning
    (export / "infusioni.csv").write_text(infusions, encoding="utf-8")
    result = ingest(
        registry.adapter("italy"), export, tmp_path / "b", SiteKey(bytes(32), tmp_path / "k")
    )
    quarantined = [
        (q["source_row"], q["reason"], q["value"]) for q in result.quarantine.to_pylist()
    ]
    assert quarantined == [(2, "out-of-range", "(restricted)")]
    dose = [
        w for w in result.warnings.to_pylist() if w["shared_column"] == "dose_million_cells_per_kg"
    ]
    assert [(w["source_row"], w["value"]) for w in dose] == [(0, "(restricted)")]
    assert "1 row(s), not listed" in dose[0]["rule"]


def test_a_failing_table_beside_a_streaming_one_reports_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables are staged two at a time. When one fails (here: a truncated file), the other's
    pass is interrupted mid-stream: the user must get the real error (exit 2), not the
    interruption (exit 70), and no lookup thread may outlive the run (it aborted the
    interpreter at exit). The adverse events are held mid-stream until the relapses fail."""
    import threading

    from federate.adapters import registry
    from federate.errors import InputError
    from federate.ingest.lookup import BATCH_ROWS
    from federate.ingest.run import ingest
    from federate.privacy.pseudonym import SiteKey
    from federate.readers.csv import CsvReader

    export = write_italy_export(tmp_path / "export")
    header, *rows = FILES["eventi_avversi.csv"].splitlines(keepends=True)
    with (export / "eventi_avversi.csv").open("w", encoding="utf-8") as fh:
        fh.write(header)
        for i in range(3 * BATCH_ROWS // len(rows)):  # three of the lookup's batches
            fh.writelines(row.replace(";1;", f";{i + 1};", 1) for row in rows)
    (export / "ricadute.csv").write_bytes(FILES["ricadute.csv"].encode()[:-12])
    failed = threading.Event()
    real = CsvReader.batches

    def batches(self: CsvReader, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        if source.relpath == "ricadute.csv":
            try:
                yield from real(self, source, rejects)
            except BaseException:
                failed.set()
                raise
            return
        done = 0
        for batch in real(self, source, rejects):
            yield batch
            done += batch.num_rows
            if source.relpath == "eventi_avversi.csv" and done >= 2 * BATCH_ROWS:
                failed.wait(10)  # mid-stream (rows already written) until the relapses fail

    monkeypatch.setattr(CsvReader, "batches", batches)
    with pytest.raises(InputError, match="truncated"):
        ingest(
            registry.adapter("italy"), export, tmp_path / "b", SiteKey(bytes(32), tmp_path / "k")
        )
    assert failed.is_set()
    assert not [t.name for t in threading.enumerate() if t.name == "lookup"]
    assert not (tmp_path / "b").exists()
