"""Blinding: restricted data (sequence, product, dose, the cell product) are stored apart, a
blinded session cannot reach them by any query, blinded outputs never show an arm, unblinded
runs are logged, and nothing a site coordinator sees at ingest shows a restricted value."""

from __future__ import annotations

import getpass
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from federate.schemas.mesems_v1 import PRODUCTS, SEQUENCES

from federate.adapters import registry
from federate.analyses import ANALYSES
from federate.query.sandbox import connect
from federate.warehouse import audit
from federate.warehouse.catalog import BLINDED, SUBMISSIONS
from tests.bundles import cli
from tests.italy_export import write_italy_export
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]

SCHEMA = registry.schema()
RESTRICTED = {(t.name, c) for t in SCHEMA for c in t.restricted_columns}
ARM_WORDS = (*SEQUENCES, *PRODUCTS)


def test_the_blinded_area_never_held_a_restricted_value(simulated: Simulated) -> None:
    wh = simulated.warehouse
    files = sorted((wh / BLINDED).rglob("*.parquet"))
    assert {f.stem for f in files} == {t.name for t in SCHEMA}
    for path in files:
        names = set(pq.read_schema(path).names)
        assert not {c for t, c in RESTRICTED if t == path.stem} & names, path
        data = path.read_bytes()
        assert not any(word.encode() in data for word in SEQUENCES), path
    # ... while the signed submissions keep every column, for the unblinded role.
    full = next((wh / SUBMISSIONS).rglob("randomisation.parquet"))
    assert "sequence" in pq.read_schema(full).names


def test_a_blinded_session_has_no_restricted_column_anywhere(simulated: Simulated) -> None:
    con = connect(simulated.warehouse).con
    columns = con.sql("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    assert {("randomisation", "randomisation_date"), ("infusions", "period")} <= set(columns)
    assert not {c for _, c in columns} & {c for _, c in RESTRICTED}
    for table, column in sorted(RESTRICTED):
        with pytest.raises(Exception, match="Binder Error"):
            con.sql(f"SELECT {column} FROM {table}").fetchall()
    assert con.sql("SELECT DISTINCT arm FROM allocation").fetchall() == [("ALL",)]
    assert con.sql("SELECT DISTINCT arm FROM treatment_periods").fetchall() == [("ALL",)]


def test_no_string_in_any_blinded_relation_is_an_arm(simulated: Simulated) -> None:
    con = connect(simulated.warehouse).con
    relations = [
        r[0]
        for r in con.sql("SELECT DISTINCT table_name FROM information_schema.columns").fetchall()
    ]
    for relation in relations:
        table = con.sql(f"SELECT * FROM {relation}").to_arrow_table()
        for name in table.column_names:
            if str(table.schema.field(name).type) in ("string", "large_string"):
                values = set(table.column(name).to_pylist())
                assert not values & set(ARM_WORDS), (relation, name)


def test_blinded_cannot_reach_restricted_files_by_sql(simulated: Simulated) -> None:
    wh = simulated.warehouse
    session = connect(wh)
    full = next((wh / SUBMISSIONS).rglob("randomisation.parquet"))
    for sql in (
        f"SELECT sequence FROM read_parquet('{full}')",
        f"SELECT * FROM '{full}'",
        "SELECT * FROM glob('**/*.parquet')",
    ):
        with pytest.raises(Exception, match=r"refused|disabled"):
            session.run(sql)


@pytest.mark.parametrize("analysis", [a.name for a in ANALYSES])
def test_blinded_outputs_never_show_an_arm(
    simulated: Simulated, analysis: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["analyses", "run", analysis, "--warehouse", str(simulated.warehouse)]
    outputs = []
    for fmt in ("table", "csv", "json"):
        code, out, err = cli(capsys, *args, "--format", fmt)
        assert code == 0, err
        outputs.append(out)
    code, _, err = cli(capsys, *args, "--format", "parquet", "--out", str(tmp_path / "r.parquet"))
    assert code == 0, err
    table = pq.read_table(tmp_path / "r.parquet")
    assert "arm" not in table.column_names
    assert "arm" not in json.loads(outputs[2])["parts"][0]["rows"][0]
    for text in outputs:
        for word in ARM_WORDS:
            assert f" {word} " not in text and f'"{word}"' not in text, (analysis, word)


def test_unblinded_runs_are_logged_and_show_arms(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = simulated.warehouse
    before = len(audit.read_entries(wh))
    code, out, _ = cli(capsys, "analyses", "run", "baseline", "--warehouse", str(wh))
    assert code == 0 and len(audit.read_entries(wh)) == before  # blinded: nothing to log
    args = ["analyses", "run", "baseline", "--warehouse", str(wh), "--role", "unblinded"]
    code, out, _ = cli(capsys, *args, "--operator", "stat-1", "--format", "json")
    assert code == 0
    arms = {r["arm"] for r in json.loads(out)["parts"][0]["rows"]}
    assert arms == {"ALL", *SEQUENCES}
    logged = audit.read_entries(wh)[before:]
    # The account that ran it is recorded; the --operator given is only added to it.
    assert [(e["action"], e["operator"]) for e in logged] == [
        ("unblinded", f"{getpass.getuser()} (as stat-1)")
    ]
    assert "baseline" in str(logged[0]["reason"])
    sql = "SELECT sequence, count(*) AS n FROM randomisation GROUP BY ALL"
    code, out, _ = cli(capsys, "query", sql, "--warehouse", str(wh), "--role", "unblinded")
    assert code == 0 and "MSC_PLACEBO" in out
    entry = audit.read_entries(wh)[-1]
    assert entry["action"] == "unblinded" and "sha256:" in str(entry["reason"])
    assert "MSC" not in json.dumps(entry)  # the log never holds what was seen
    code, _, err = cli(capsys, "pool", "verify", "--warehouse", str(wh))
    assert code == 0, err


def test_row_listings_only_unblinded(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = str(simulated.warehouse)
    code, out, err = cli(capsys, "analyses", "run", "safety", "--warehouse", wh, "--rows")
    assert (code, out) == (2, "") and "--role unblinded" in err
    args = ["analyses", "run", "safety", "--warehouse", wh, "--role", "unblinded", "--rows"]
    code, out, _ = cli(capsys, *args, "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows and {r["treatment_at_onset"] for r in rows} <= {"MSC", "PLACEBO", "NONE"}
    code, out, err = cli(
        capsys, "analyses", "run", "baseline", "--warehouse", wh, "--role", "unblinded", "--rows"
    )
    assert code == 2 and "no row-level listing" in err


_INFUSIONS_HEADER = (
    "id_paziente;periodo;data_infusione;prodotto;dose_milioni_cellule_kg;peso_kg;vitalita_pct;"
    "lotto\n"
)
_RANDOMISATION = (
    "id_paziente;sequenza;data_randomizzazione\n"
    "000123;CELLULE-ZZZ;01/03/2013\n"  # not a sequence code: quarantined
    "000124;PLACEBO-CELLULE;02/03/2013\n"
    "000125;placebo-cellule;04/03/13\n"
)
_QUARANTINED_DOSE = _INFUSIONS_HEADER + (
    "000123;1;05/03/2013;cellule staminali;33,37;70,5;92,0;l-001\n"  # over 10: impossible
    "000124;1;06/03/2013;placebo;;64,2;;\n"
)
_WARNED_DOSE = _INFUSIONS_HEADER + (
    "000123;1;05/03/2013;cellule staminali;7,77;70,5;92,0;l-001\n"  # over 2: implausible
    "000124;1;06/03/2013;placebo;;64,2;;\n"
)


@pytest.mark.parametrize(
    ("replace", "code"),
    [
        ({"randomizzazione": _RANDOMISATION, "infusioni": _QUARANTINED_DOSE}, 1),
        ({"infusioni": _WARNED_DOSE}, 0),
    ],
)
def test_nothing_the_coordinator_sees_at_ingest_shows_a_restricted_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], replace: dict[str, str], code: int
) -> None:
    export = write_italy_export(tmp_path / "export", **replace)
    bundle = tmp_path / "bundle"
    got, out, err = cli(capsys, "ingest", "italy", str(export), "--out", str(bundle))
    assert got == code, err
    seen = out + err + (bundle / "report.json").read_text("utf-8")
    seen += (bundle / "quarantine.csv").read_text("utf-8")
    seen += pq.read_table(bundle / "quarantine.parquet").to_pandas().to_csv()
    with zipfile.ZipFile(bundle / "quarantine.xlsx") as book:
        seen += "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    for secret in ("CELLULE-ZZZ", "33,37", "33.37", "7,77", "7.77"):
        assert secret not in seen, secret
    assert "(restricted)" in seen  # the failure is reported, its value masked
