"""Exports written by hand from ``docs/sites/SITE.md`` alone, as a coordinator would make them:
small, literal, using what the document allows (column names in another case, codes in another
case, two-digit years, digit grouping, partial dates, title rows, value labels...). Each pools
with exit 0, nothing quarantined, and the values the document promises. The sites that
export tables (CSV, Excel, SPSS): Italy, the UK, Sweden."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.check import ingest_by_hand, pooled

# -- Italy: docs/sites/italy.md ---------------------------------------------------------------

ITALY = {
    "pazienti.csv": "ID_PAZIENTE;Centro;sesso;data_nascita;forma_sm;data_diagnosi;codice_fiscale\n"
    "123;genova;FEMMINA;18/11/83;SMRR;01/02/10;\n"
    "000124;Roma;M;01/03/1985;secondariamente progressiva;15/06/2008;\n",
    "randomizzazione.csv": "id_paziente;sequenza;data_randomizzazione\n"
    "000123;cellule-placebo;01/03/13\n"
    "000124;PLACEBO-CELLULE;02/03/2013\n",
    "infusioni.csv": "id_paziente;periodo;data_infusione;prodotto;dose_milioni_cellule_kg;"
    "peso_kg;vitalita_pct;lotto\n"
    "000123;1;05/03/2013;Cellule staminali;1,5;70,5;92;l-001\n"
    "000124;1;06/03/2013;placebo;;64,2;;\n",
    "visite.csv": "id_paziente;visita;settimana;data_visita\n"
    "000123;basale;0;05/03/2013\n"
    "000123;sett4;;02/04/13\n"
    "000124;BASALE;0;06/03/2013\n",
    "rm.csv": "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
    "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
    "000123;BASALE;05/03/2013;1,5;2;;;12,25;1.512,5;Sì\n",
    "edss.csv": "id_paziente;data_valutazione;edss;fs_piramidale;fs_cerebellare;fs_tronco;"
    "fs_sensitivo;fs_sfinterico;fs_visivo;fs_cerebrale;punteggio_deambulazione;"
    "valutatore_cieco\n"
    "000123;02/04/2013;3,5;;;;;;;;;no\n",
    "msfc.csv": "id_paziente;data_valutazione;t25fw_1;t25fw_2;nhpt_dom_1;nhpt_dom_2;"
    "nhpt_nondom_1;nhpt_nondom_2;pasat3\n",
    "ricadute.csv": "id_paziente;data_inizio;data_fine;gravita;recupero;steroidi\n"
    "000124;03/2014;2014;Moderata;;si\n",
    "eventi_avversi.csv": "id_paziente;n_evento;termine_riportato;meddra_pt;meddra_soc;"
    "versione_meddra;data_inizio;data_fine;grave;grave_decesso;grave_pericolo_vita;"
    "grave_ospedalizzazione;grave_disabilita;grave_anomalia_congenita;grave_altro;grado_ctcae;"
    "correlazione_prodotto;correlazione_prelievo;esito\n"
    '000123;1;"cefalea; lieve";10019211;10029205;16.1;06/03/13;;no;;;;;;;1;possibile;;'
    "in risoluzione\n",
    "farmaci.csv": "id_paziente;farmaco;codice_atc;versione_atc;data_inizio;data_fine\n",
    "esami.csv": "id_paziente;data_prelievo;esame;valore;unita\n"
    "000124;06/03/2013;linfociti;1.850;/mm³\n",
}


def write_text(files: dict[str, str], encoding: str) -> Callable[[Path], None]:
    def write(export: Path) -> None:
        for name, text in files.items():
            (export / name).write_bytes(text.encode(encoding))

    return write


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig"])
def test_italy_by_hand(tmp_path: Path, encoding: str) -> None:
    result = ingest_by_hand("italy", tmp_path, write_text(ITALY, encoding))
    subjects = pooled(result, "subjects")
    assert [(s["centre"], s["sex"], s["birth_year"]) for s in subjects] == [
        ("IT-GEN", "F", 1983),  # "18/11/83": birth years 1920-2019
        ("IT-ROM", "M", 1985),
    ]
    assert subjects[0]["diagnosis_date"] == dt.date(2010, 2, 1)
    (mri,) = pooled(result, "mri")
    assert (mri["brain_volume_ml"], mri["t2_volume_ml"], mri["central_read"]) == (
        1512.5,
        12.25,
        True,
    )
    visits = pooled(result, "visits")
    assert [(v["visit_code"], v["week"], v["visit_date"]) for v in visits][1] == (
        "W4",
        None,
        dt.date(2013, 4, 2),  # "02/04/13": visit dates 2000-2099
    )
    (relapse,) = pooled(result, "relapses")
    assert relapse["onset_date"] == dt.date(2014, 3, 1)
    assert (relapse["onset_date_precision"], relapse["onset_date_raw"]) == ("month", "03/2014")
    assert (relapse["end_date_precision"], relapse["steroids"]) == ("year", True)
    (ae,) = pooled(result, "adverse_events")
    assert (ae["verbatim_term"], ae["outcome"]) == ("cefalea; lieve", "RECOVERING")
    (lab,) = pooled(result, "labs")
    assert (lab["value_raw"], lab["value_reported"], lab["unit_reported"]) == (
        "1.850",
        1850.0,
        "/mm3",
    )
    assert lab["value"] == pytest.approx(1.85)  # 10^9/L
    (edss,) = pooled(result, "edss")
    assert edss["visit_code"] == "W4"  # 28 days after W0: by the protocol windows


# -- UK: docs/sites/uk.md -------------------------------------------------------------------------

UK_SHEETS: dict[str, list[list[Any]]] = {
    "Patients": [
        ["MESEMS UK - patient register"],  # a title above the header
        [],
        [
            "Trial No",
            "Centre",
            "Sex",
            "Date of birth",
            "MS course",
            "Date of diagnosis",
            "Protocol version",
            "NHS number",
        ],
        [
            "MSC01-001",
            "London",
            "Female",
            dt.date(1980, 5, 2),
            "RRMS",
            "12/03/2009",
            "v1.0 (2012)",
            "",
        ],
        [
            "msc01-002",
            "cambridge",
            "M",
            "1975-01-30",
            "Secondary progressive",
            "2010-07-01",
            "V3.0 (2015)",
            "",
        ],
    ],
    "Randomisation": [
        ["Trial No", "Sequence", "Date randomised"],
        ["MSC01-001", "MSC then placebo", "01/03/2013"],
        ["MSC01-002", "Placebo then MSC", dt.date(2016, 2, 1)],
    ],
    "Infusions": [
        [
            "Trial No",
            "Period",
            "Infusion date",
            "Product",
            "Dose (x10^6 cells/kg)",
            "Weight (kg)",
            "Viability (%)",
            "Lot number",
        ],
        ["MSC01-001", 1, dt.date(2013, 3, 5), "MSC", 1.5, "70.5", 92, "l-001"],
    ],
    "Visits": [
        ["Trial No", "Visit", "Week", "Visit date"],
        ["MSC01-001", "Baseline", 0, 41338],  # a bare serial day number: 2013-03-05
        ["MSC01-001", "week 4", "4", "02/04/2013"],
    ],
    "MRI": [
        [
            "Trial No",
            "Visit",
            "Scan date",
            "Field strength (T)",
            "Gd+ lesions",
            "New/enlarging T2 lesions",
            "CUA lesions",
            "T2 lesion volume (mL)",
            "Brain volume (mL)",
            "Central read",
        ],
        ["MSC01-001", "Baseline", "05/03/2013", 3, 4, None, None, 12.25, "1,512.5", "y"],
    ],
    "EDSS": [
        [
            "Trial No",
            "Assessment date",
            "EDSS",
            "FS pyramidal",
            "FS cerebellar",
            "FS brainstem",
            "FS sensory",
            "FS bowel/bladder",
            "FS visual",
            "FS cerebral",
            "Ambulation score",
            "Blinded rater",
        ],
        ["MSC01-001", dt.date(2013, 3, 5), 4.5, 2, 1, 0, 2, 1, 0, 1, 3, "Yes"],
    ],
    "MSFC": [
        [
            "Trial No",
            "Assessment date",
            "T25FW trial 1 (s)",
            "T25FW trial 2 (s)",
            "9HPT dominant 1 (s)",
            "9HPT dominant 2 (s)",
            "9HPT non-dominant 1 (s)",
            "9HPT non-dominant 2 (s)",
            "PASAT-3",
        ],
    ],
    "Relapses": [
        ["Trial No", "Onset date", "End date", "Severity", "Recovery", "IV methylprednisolone"],
        ["MSC01-002", "06/2016", "", "severe", "Partial", "No"],
    ],
    "Adverse events": [
        [
            "Trial No",
            "AE No",
            "AE term",
            "MedDRA PT code",
            "MedDRA SOC code",
            "MedDRA version",
            "Onset date",
            "End date",
            "Serious",
            "SAE: death",
            "SAE: life-threatening",
            "SAE: hospitalisation",
            "SAE: disability",
            "SAE: congenital anomaly",
            "SAE: other important",
            "CTCAE grade",
            "Related to IMP",
            "Related to harvest",
            "Outcome",
        ],
    ],
    "Concomitant meds": [
        ["Trial No", "Medication", "ATC code", "ATC version", "Start date", "Stop date"],
        ["MSC01-001", "Tysabri", "l04aa23", "2018", "2011", "03/2013"],
    ],
    "Labs": [
        ["Trial No", "Sample date", "Test", "Result", "Units"],
        ["MSC01-001", "05/03/2013", "Creatinine", 71, "µmol/L"],
    ],
}


def write_uk(export: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    readme = book.active
    assert readme is not None
    readme.title = "README"
    readme["A1"] = "One sheet per form."
    for name, rows in UK_SHEETS.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book["Patients"]["D4"].number_format = "dd/mm/yyyy"
    book.save(export / "MESEMS_UK.xlsx")


def test_uk_by_hand(tmp_path: Path) -> None:
    result = ingest_by_hand("uk", tmp_path, write_uk)
    subjects = pooled(result, "subjects")
    assert [(s["source_row"], s["sex"], s["birth_year"]) for s in subjects] == [
        (4, "F", 1980),  # Excel's own row numbers, under a title
        (5, "M", 1975),
    ]
    assert subjects[1]["eligibility_version"] == "UK-2015"
    visits = pooled(result, "visits")
    assert [(v["visit_code"], v["week"], v["visit_date"]) for v in visits] == [
        ("W0", 0, dt.date(2013, 3, 5)),
        ("W4", 4, dt.date(2013, 4, 2)),
    ]
    (mri,) = pooled(result, "mri")
    assert (mri["field_strength_t"], mri["brain_volume_ml"], mri["central_read"]) == (
        3.0,
        1512.5,
        True,
    )
    (infusion,) = pooled(result, "infusions")
    assert (infusion["body_weight_kg"], infusion["lot_id"]) == (70.5, "L-001")
    (relapse,) = pooled(result, "relapses")
    assert (relapse["onset_date"], relapse["onset_date_precision"]) == (
        dt.date(2016, 6, 1),
        "month",
    )
    (med,) = pooled(result, "conmeds")
    assert (med["atc_code"], med["atc_code_current"], med["start_date_precision"]) == (
        "L04AA23",
        "L04AG03",
        "year",
    )
    (lab,) = pooled(result, "labs")
    assert (lab["value_raw"], lab["unit_reported"], lab["value"]) == ("71", "umol/L", 71.0)


# -- Sweden: docs/sites/sweden.md -----------------------------------------------------------------

JA_NEJ = {1.0: "ja", 0.0: "nej"}
MISSING = {99.0: "uppgift saknas"}
D = dt.date
# file -> (variables and their values, value labels, user-missing codes)
SWEDEN: dict[str, tuple[dict[str, list[Any]], dict[str, dict[float, str]], list[str]]] = {
    "patienter.sav": (
        {
            "studienr": ["STO-001", "got-002"],
            "klinik": [1.0, 2.0],
            "kön": [1.0, 2.0],
            "födelsedatum": [D(1981, 4, 2), D(1977, 12, 24)],
            "ms_förlopp": [1.0, 2.0],
            "diagnosdatum": [D(2008, 1, 15), D(2005, 6, 1)],
            "personnummer": ["", ""],
        },
        {
            "klinik": {1.0: "Stockholm", 2.0: "Göteborg"},
            "kön": {1.0: "kvinna", 2.0: "man"},
            "ms_förlopp": {1.0: "skovvis förlöpande", 2.0: "sekundärprogressiv"},
        },
        [],
    ),
    "randomisering.sav": (
        {
            "studienr": ["STO-001", "GOT-002"],
            "sekvens": [1.0, 2.0],
            "randomiseringsdatum": [D(2013, 2, 20), D(2014, 5, 5)],
        },
        {"sekvens": {1.0: "MSC-placebo", 2.0: "placebo-MSC"}},
        [],
    ),
    "infusioner.sav": (
        {
            "studienr": ["STO-001"],
            "period": [1.0],
            "infusionsdatum": [D(2013, 3, 1)],
            "preparat": [1.0],
            "dos_milj_celler_kg": [1.25],
            "vikt_kg": [68.5],
            "viabilitet_pct": [95.0],
            "batchnr": ["b-17"],
        },
        {"preparat": {1.0: "stamceller", 2.0: "placebo"}},
        [],
    ),
    "besok.sav": (
        {
            "studienr": ["STO-001", "STO-001"],
            "besök": [1.0, 2.0],
            "vecka": [0.0, 4.0],
            "besöksdatum": [D(2013, 3, 1), D(2013, 3, 29)],
        },
        {"besök": {1.0: "baslinje", 2.0: "vecka 4"}},
        [],
    ),
    "mr.sav": (
        {
            "studienr": ["STO-001"],
            "besök": [1.0],
            "mr_datum": [D(2013, 3, 1)],
            "fältstyrka_t": [1.5],
            "gd_lesioner": [3.0],
            "nya_t2_lesioner": [None],
            "cua_lesioner": [None],
            "t2_volym_ml": [10.5],
            "hjärnvolym_ml": [1480.2],
            "central_granskning": [1.0],
        },
        {"besök": {1.0: "baslinje"}, "central_granskning": JA_NEJ},
        [],
    ),
    "edss.sav": (
        {
            "studienr": [],
            "bedömningsdatum": [],
            "edss": [],
            **{v: [] for v in ("fs_pyramidal", "fs_cerebellär", "fs_hjärnstam", "fs_sensorisk")},
            **{v: [] for v in ("fs_blåsa_tarm", "fs_syn", "fs_cerebral", "gångpoäng")},
            "blindad_bedömare": [],
        },
        {},
        [],
    ),
    "msfc.sav": (
        {
            "studienr": [],
            "bedömningsdatum": [],
            **{v: [] for v in ("t25fw_1", "t25fw_2", "nhpt_dom_1", "nhpt_dom_2")},
            **{v: [] for v in ("nhpt_icke_dom_1", "nhpt_icke_dom_2", "pasat3")},
        },
        {},
        [],
    ),
    "skov.sav": (
        {
            "studienr": ["GOT-002"],
            "skovdebut": ["2015-02"],
            "skovslut": ["2015-03-10"],
            "svårighetsgrad": [2.0],
            "återhämtning": [99.0],  # not known: the declared missing code
            "steroider": [0.0],
        },
        {
            "svårighetsgrad": {1.0: "lindrigt", 2.0: "måttligt", 3.0: "svårt"},
            "återhämtning": {1.0: "fullständig", 2.0: "partiell", 3.0: "ingen", **MISSING},
            "steroider": JA_NEJ,
        },
        ["återhämtning"],
    ),
    "biverkningar.sav": (
        {
            "studienr": [],
            "händelse_nr": [],
            "händelse": [],
            **{v: [] for v in ("meddra_pt", "meddra_soc", "meddra_version")},
            **{v: [] for v in ("startdatum", "slutdatum", "allvarlig", "allvarlig_död")},
            **{v: [] for v in ("allvarlig_livshotande", "allvarlig_sjukhusvård")},
            **{v: [] for v in ("allvarlig_funktionsnedsättning", "allvarlig_missbildning")},
            **{v: [] for v in ("allvarlig_annan", "ctcae_grad", "samband_preparat")},
            **{v: [] for v in ("samband_benmärgsuttag", "utfall")},
        },
        {},
        [],
    ),
    "lakemedel.sav": (
        {
            "studienr": ["STO-001"],
            "läkemedel": ["Gilenya (fingolimod)"],
            "atc_kod": ["L04AE01"],
            "atc_version": ["2024"],
            "startdatum": ["2012"],
            "slutdatum": [""],
        },
        {},
        [],
    ),
    "labb.sav": (
        {
            "studienr": ["STO-001"],
            "provdatum": [D(2013, 3, 1)],
            "analys": [1.0],
            "värde": ["0,45"],
            "enhet": ["µkat/L"],
        },
        {"analys": {1.0: "P-ALAT", 2.0: "P-ASAT"}},
        [],
    ),
}


def write_sweden(export: Path) -> None:
    import polars as pl
    import pyreadstat

    for name, (values, labels, missing) in SWEDEN.items():
        columns = {}
        formats = {}
        for var, vals in values.items():
            if var in ("studienr", "personnummer", "batchnr", "värde", "enhet", "läkemedel"):
                dtype: Any = pl.Utf8
            elif var in ("skovdebut", "skovslut", "atc_kod", "atc_version", "händelse") or var in (
                "startdatum",
                "slutdatum",
                "meddra_pt",
                "meddra_soc",
                "meddra_version",
            ):
                dtype = pl.Utf8
            elif var.endswith("datum"):
                dtype, formats[var] = pl.Date, "SDATE10"
            else:
                dtype = pl.Float64
            columns[var] = pl.Series(var, vals, dtype=dtype)
        pyreadstat.write_sav(
            pl.DataFrame(columns),
            str(export / name),
            variable_value_labels=labels,
            missing_ranges={v: [99.0] for v in missing},
            variable_format=formats,
        )


def test_sweden_by_hand(tmp_path: Path) -> None:
    result = ingest_by_hand("sweden", tmp_path, write_sweden)
    subjects = pooled(result, "subjects")
    assert [(s["centre"], s["sex"], s["ms_course"], s["birth_year"]) for s in subjects] == [
        ("SE-STO", "F", "RRMS", 1981),
        ("SE-GOT", "M", "SPMS", 1977),
    ]
    (mri,) = pooled(result, "mri")
    assert (mri["field_strength_t"], mri["brain_volume_ml"], mri["central_read"]) == (
        1.5,
        1480.2,
        True,
    )
    (relapse,) = pooled(result, "relapses")
    assert (relapse["onset_date"], relapse["onset_date_precision"]) == (
        dt.date(2015, 2, 1),
        "month",
    )
    assert (relapse["severity"], relapse["recovery"], relapse["steroids"]) == (
        "MODERATE",
        None,  # 99 = uppgift saknas, declared missing
        False,
    )
    (lab,) = pooled(result, "labs")
    assert (lab["analyte"], lab["value_raw"], lab["value_reported"]) == ("ALT", "0,45", 0.45)
    assert lab["value"] == pytest.approx(27.0)  # µkat/L x 60 = U/L
    assert [v["visit_code"] for v in pooled(result, "visits")] == ["W0", "W4"]
