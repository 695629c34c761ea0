"""Italy, from its published spec alone (``docs/sites/italy.md``): exports a coordinator writes
by hand or with Excel, never with the simulator. What the spec allows pools exactly; what it
leaves ambiguous is quarantined or refused, naming what to change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.errors import InputError
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey

ITALY = registry.adapter("italy")
SPEC = Path(__file__).resolve().parents[2] / "docs" / "sites" / "italy.md"

# The spec's "required: no" columns left out, headers in other case and with spaces, columns in
# another order, a column the spec does not know, dd/mm/yy dates, digit grouping, blank lines
# and lines of delimiters only (Excel writes those for rows it once held).
EXPORT: dict[str, str] = {
    "pazienti.csv": (
        " ID_Paziente ;Cognome;Nome;Codice_Fiscale;Centro;Sesso;Data_Nascita;Forma_SM;"
        "Data_Diagnosi;Note\n"
        "000201;Esposito;Giulia;SPSGLI80A41F839U;Genova;femmina;01/01/1980;SMRR;15/09/2008;\n"
        "202;Russo;Niccolò;RSSNCC75B12H501Q;Roma;maschio;12/02/75;secondariamente progressiva;"
        "03/11/98;trasferito da Napoli\n"
        ";;;;;;;;;\n"
        "\n"
        "000203;Colombo;Chiara;CLMCHR88C50F205X;Milano;F;10/03/1988;SMRR;20/05/2010;\n"
    ),
    "randomizzazione.csv": (
        "id_paziente;data_randomizzazione;sequenza\n"
        "000201;04/03/2013;CELLULE-PLACEBO\n"
        "000202;05/03/13;PLACEBO-CELLULE\n"
        "000203;11/03/2013;Placebo-Cellule\n"
    ),
    # dose, viability and lot are not required: this site leaves them out.
    "infusioni.csv": (
        "id_paziente;periodo;data_infusione;prodotto;peso_kg\n"
        "000201;1;06/03/2013;cellule staminali;61,5\n"
        "000201;2;21/08/2013;placebo;62,0\n"
        "000202;1;07/03/2013;placebo;80,25\n"
        "000203;1;12/03/2013;placebo;58\n"
    ),
    "visite.csv": (
        "id_paziente;visita;data_visita\n"  # no week column
        "000201;SCREENING;21/01/2013\n"
        "000201;BASALE;06/03/2013\n"
        ";;\n"
        "000201;SETT4;03/04/2013\n"
        "000202;BASALE;07/03/13\n"
        "000203;BASALE;12/03/2013\n"
        "\n"
    ),
    "rm.csv": (
        "ID_PAZIENTE;VISITA;DATA_RM;CAMPO_TESLA;LESIONI_GD;LETTURA_CENTRALE;VOLUME_CEREBRALE_ML\n"
        "000201;BASALE;06/03/2013;1,5;3;sì;1.234,5\n"
        "000201;SETT4;03/04/2013;3;0;Sì;1.230\n"
        "000202;BASALE;07/03/13;3;12;no;1187,25\n"
    ),
    "edss.csv": (
        "id_paziente;data_valutazione;edss;valutatore_cieco\n"
        "000201;06/03/2013;3,5;sì\n"
        "000202;07/03/2013;6,0;si\n"
    ),
    "msfc.csv": (
        "id_paziente;data_valutazione;t25fw_1;t25fw_2;pasat3\n"
        "000201;06/03/2013;10,4;9,8;52\n"
        "000202;07/03/2013;0,72;;40\n"
    ),
    "ricadute.csv": (
        "id_paziente;data_inizio;gravita;steroidi\n"
        "000201;05/2013;moderata;sì\n"
        "000202;2013;lieve;no\n"
    ),
    "eventi_avversi.csv": (
        "id_paziente;n_evento;termine_riportato;data_inizio;grave;grado_ctcae;"
        "correlazione_prodotto;esito\n"
        "000201;1;cefalea;07/03/2013;no;1;possibile;risolto\n"
        '000202;1;"nausea; vomito";08/03/13;no;2;improbabile;in risoluzione\n'
    ),
    # A medication history: begun and ended before the trial, in two-digit years.
    "farmaci.csv": (
        "id_paziente;farmaco;data_inizio;data_fine\n"
        "000201;interferone beta-1a;05/03/95;10/06/98\n"
        "000201;natalizumab;01/2011;12/2012\n"
        "000202;paracetamolo;08/03/2013;09/03/13\n"
    ),
    "esami.csv": (
        "id_paziente;data_prelievo;esame;valore;unita\n"
        "000201;21/01/2013;creatinina;0,82;mg/dl\n"
        "000201;21/01/2013;linfociti;1.850;/mm3\n"
        "000202;07/03/2013;emoglobina;14,1;g/dl\n"
    ),
}


def write(folder: Path, encoding: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or EXPORT).items():
        data = text.encode(encoding)
        if encoding == "cp1252":
            data = data.replace(b"\n", b"\r\n")  # Excel on Windows
        (folder / name).write_bytes(data)
    return folder


def run(export: Path, tmp_path: Path) -> IngestResult:
    key = SiteKey(bytes(range(32)), tmp_path / "site.key")
    return ingest(ITALY, export, tmp_path / "bundle", key, operator="test")


def table(result: IngestResult, name: str) -> list[dict[str, object]]:
    return pq.read_table(result.bundle / "tables" / f"{name}.parquet").to_pylist()


def test_the_spec_says_what_these_exports_rely_on() -> None:
    spec = SPEC.read_text("utf-8")
    assert "delimiter ';'" in spec and "utf-8 or cp1252" in spec
    assert "`dd/mm/yyyy` or `dd/mm/yy`" in spec
    assert "decimal mark `,`" in spec and "grouped by `.`" in spec
    assert "| `dose_milioni_cellule_kg` | dose_million_cells_per_kg (restricted) | no |" in spec
    assert "| `settimana` | week | no |" in spec
    assert "matched ignoring case and surrounding spaces" in spec
    assert "(required: no) may be left out" in spec


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_hand_written_export_pools_exactly(tmp_path: Path, encoding: str) -> None:
    result = run(write(tmp_path / "export", encoding), tmp_path)
    assert result.exit_code == 0, result.quarantine.to_pylist()
    assert result.quarantine.num_rows == 0
    rows = {name: info["rows"] for name, info in result.manifest["tables"].items()}
    assert rows == {
        "subjects": 3,
        "randomisation": 3,
        "infusions": 4,
        "visits": 5,
        "mri": 3,
        "edss": 2,
        "msfc": 2,
        "relapses": 2,
        "adverse_events": 2,
        "conmeds": 3,
        "labs": 3,
    }
    subjects = table(result, "subjects")
    assert [(s["centre"], s["sex"], s["birth_year"], s["ms_course"]) for s in subjects] == [
        ("IT-GEN", "F", 1980, "RRMS"),
        ("IT-ROM", "M", 1975, "SPMS"),
        ("IT-MIL", "F", 1988, "RRMS"),
    ]
    assert subjects[1]["diagnosis_date"] == dt.date(1998, 11, 3)
    assert [s["source_row"] for s in subjects] == [2, 3, 6]  # the rows Excel shows
    infusions = table(result, "infusions")
    assert [i["body_weight_kg"] for i in infusions] == [61.5, 62.0, 80.25, 58.0]
    assert {i["dose_million_cells_per_kg"] for i in infusions} == {None}
    visits = table(result, "visits")
    assert [(v["visit_code"], v["visit_date"], v["week"]) for v in visits][:2] == [
        ("SCR", dt.date(2013, 1, 21), None),
        ("W0", dt.date(2013, 3, 6), None),
    ]
    assert [v["source_row"] for v in visits] == [2, 3, 5, 6, 7]
    mri = table(result, "mri")
    assert [(m["gel_count"], m["brain_volume_ml"], m["central_read"]) for m in mri] == [
        (3, 1234.5, True),
        (0, 1230.0, True),
        (12, 1187.25, False),
    ]
    assert {m["new_t2_count"] for m in mri} == {None}
    msfc = table(result, "msfc")
    assert [(m["t25fw_trial1_s"], m["pasat3"]) for m in msfc] == [(10.4, 52), (0.72, 40)]
    conmeds = table(result, "conmeds")
    assert [(c["start_date"], c["end_date"]) for c in conmeds] == [
        (dt.date(1995, 3, 5), dt.date(1998, 6, 10)),
        (dt.date(2011, 1, 1), dt.date(2012, 12, 1)),
        (dt.date(2013, 3, 8), dt.date(2013, 3, 9)),
    ]
    assert [c["end_date_raw"] for c in conmeds] == ["10/06/98", "12/2012", "09/03/13"]
    labs = table(result, "labs")
    assert [(x["analyte"], x["value_reported"]) for x in labs] == [
        ("CREAT", 0.82),
        ("LYMPH", 1850.0),
        ("HGB", 14.1),
    ]
    sources = {s["path"]: s for s in result.manifest["sources"]}
    assert sources["pazienti.csv"]["rows_read"] == 5
    assert sources["pazienti.csv"]["skipped_reasons"] == {"blank-record": 2}
    assert sources["visite.csv"]["skipped_reasons"] == {"blank-record": 2}
    assert sources["pazienti.csv"]["facts"]["encoding"] == (
        "cp1252" if encoding == "cp1252" else "utf-8"
    )
    for source in sources.values():
        assert source["rows_read"] == (
            source["rows_mapped"] + source["rows_quarantined"] + source["rows_skipped"]
        )


def test_optional_columns_left_out_are_said_in_the_report(tmp_path: Path) -> None:
    result = run(write(tmp_path / "export", "utf-8"), tmp_path)
    notes = {c["file"]: c for c in result.report["columns"]}
    assert notes["infusioni.csv"]["absent_optional"] == [
        "dose_milioni_cellule_kg",
        "vitalita_pct",
        "lotto",
    ]
    assert notes["pazienti.csv"]["ignored_unknown"] == ["Note"]


def test_a_required_column_left_out_still_stops_the_run(tmp_path: Path) -> None:
    files = dict(EXPORT)
    files["infusioni.csv"] = files["infusioni.csv"].replace(";peso_kg", ";peso")
    with pytest.raises(InputError) as caught:
        run(write(tmp_path / "export", "utf-8", files), tmp_path)
    assert caught.value.code == "missing-column"
    assert "'peso_kg'" in str(caught.value) and caught.value.where is not None
    assert caught.value.where.file == "infusioni.csv"


@pytest.mark.parametrize("value", ["1.23,4", "12.34", "1.2345", "1234.5"])
def test_ill_formed_grouping_is_quarantined_never_reread(tmp_path: Path, value: str) -> None:
    files = dict(EXPORT)
    files["rm.csv"] = files["rm.csv"].replace("1187,25", value)
    result = run(write(tmp_path / "export", "utf-8", files), tmp_path)
    assert result.exit_code == 1
    [failure] = result.quarantine.to_pylist()
    assert (failure["source_row"], failure["column"], failure["value"]) == (
        4,
        "VOLUME_CEREBRALE_ML",
        value,
    )
    assert failure["reason"] == "invalid-number"
    assert "','" in failure["rule"] and "'.'" in failure["rule"] and "threes" in failure["rule"]


def test_a_medication_history_reads_two_digit_years_in_the_same_window() -> None:
    conmeds = ITALY.table_map("conmeds").fields
    windows = {getattr(conmeds[n], "century_start", None) for n in ("start_date", "end_date")}
    assert windows == {1950}
    spec = SPEC.read_text("utf-8")
    section = spec.split("## `farmaci.csv`")[1].split("## ")[0]
    assert section.count("two-digit years 1950–2049") == 2
