"""A Danish REDCap export written by hand from the published spec (``docs/sites/denmark.md``),
the way REDCap itself writes one - nothing here comes from ``federate.synth`` or the adapter:

* ``dictionary.csv``: the project's data dictionary as Project Setup downloads it (18 columns);
  field names and codes as the spec lists them, Danish labels, dates ``date_dmy``, numbers
  ``number_comma_decimal``, the CPR number and date of birth flagged ``Identifier?``.
* ``data.csv``: the records export, one row per record and event (and repeat instance), every
  column on every row; ``;`` as delimiter, UTF-8 with a byte-order mark. A raw export writes
  field names, codes, unique event and group names, instrument names and ``yyyy-mm-dd`` dates;
  a label export writes field labels (``Complete?`` once per instrument, ``Label (choice=...)``
  per checkbox choice), choice labels, ``Checked``/``Unchecked``, ``Complete``/``Incomplete``,
  REDCap's event labels (``SCR (Arm 1: Arm 1)``), group and instrument labels and ``dd-mm-yyyy``
  dates. An instrument designated for an event but never saved there is written blank with its
  status ``0`` (``Incomplete``), as REDCap writes it.

The project's events, groups and instruments are named as a Danish coordinator would: events
``SCR`` ... ``UNS`` and ``Lobende`` (REDCap makes the unique names ``scr_arm_1`` ... from them),
groups ``Rigshospitalet`` and ``Aarhus UH``, instruments with Danish labels that are not their
names (``Uønskede hændelser`` is the instrument ``haendelser``).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

# (name, form, type, label, choices, validation, identifier)
FIELDS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("record_id", "demografi", "text", "Forsøgsperson", "", "", ""),
    ("cpr", "demografi", "text", "CPR-nr.", "", "", "y"),
    ("foedselsdato", "demografi", "text", "Fødselsdag", "", "date_dmy", "y"),
    ("foedselsaar", "demografi", "calc", "Fødselsår", "year([foedselsdato])", "", ""),
    ("koen", "demografi", "radio", "Køn", "0, Kvinde | 1, Mand", "", ""),
    (
        "ms_forloeb",
        "demografi",
        "radio",
        "Forløbstype",
        "1, Attakvis | 2, Sekundært progressiv | 3, Primært progressiv",
        "",
        "",
    ),
    ("diagnosedato", "demografi", "text", "Diagnosedato", "", "date_dmy", ""),
    ("sekvens", "randomisering", "radio", "Sekvens", "1, MSC først | 2, Placebo først", "", ""),
    ("rand_dato", "randomisering", "text", "Dato", "", "date_dmy", ""),
    ("inf_dato", "infusion", "text", "Dato", "", "date_dmy", ""),
    ("produkt", "infusion", "radio", "Produkt", "1, MSC | 2, Placebo", "", ""),
    ("dosis", "infusion", "text", "Dosis", "", "number_comma_decimal", ""),
    ("vaegt", "infusion", "text", "Vægt (kg)", "", "number_comma_decimal", ""),
    ("viabilitet", "infusion", "text", "Viabilitet (%)", "", "number_comma_decimal", ""),
    ("lot_nr", "infusion", "text", "Lot", "", "", ""),
    ("uge", "besoeg", "text", "Uge", "", "integer", ""),
    ("besoegsdato", "besoeg", "text", "Dato", "", "date_dmy", ""),
    ("mr_dato", "mr", "text", "Dato", "", "date_dmy", ""),
    ("mr_felt", "mr", "radio", "Felt", "1, 1,5 T | 2, 3 T", "", ""),
    ("gd_laesioner", "mr", "text", "Gd+ læsioner", "", "integer", ""),
    ("nye_t2_laesioner", "mr", "text", "Nye T2", "", "integer", ""),
    ("cua_laesioner", "mr", "text", "CUA", "", "integer", ""),
    ("t2_volumen", "mr", "text", "T2-volumen (ml)", "", "number_comma_decimal", ""),
    ("hjernevolumen", "mr", "text", "Hjernevolumen (ml)", "", "number_comma_decimal", ""),
    ("central_vurdering", "mr", "radio", "Central", "1, Ja | 0, Nej", "", ""),
    ("edss_dato", "edss", "text", "Dato", "", "date_dmy", ""),
    ("edss_score", "edss", "text", "EDSS", "", "number_comma_decimal", ""),
    ("fs_pyramidal", "edss", "dropdown", "Pyramidal", "0, 0 | 1, 1 | 2, 2 | 3, 3", "", ""),
    ("fs_cerebellar", "edss", "dropdown", "Cerebellar", "0, 0 | 1, 1 | 2, 2 | 3, 3", "", ""),
    ("fs_hjernestamme", "edss", "text", "Hjernestamme", "", "integer", ""),
    ("fs_sensorisk", "edss", "text", "Sensorisk", "", "integer", ""),
    ("fs_blaere_tarm", "edss", "text", "Blære/tarm", "", "integer", ""),
    ("fs_syn", "edss", "text", "Syn", "", "integer", ""),
    ("fs_cerebral", "edss", "text", "Cerebral", "", "integer", ""),
    ("ambulation", "edss", "text", "Gang", "", "integer", ""),
    ("blindet_bedoemmer", "edss", "yesno", "Blindet", "", "", ""),
    ("msfc_dato", "msfc", "text", "Dato", "", "date_dmy", ""),
    ("t25fw_1", "msfc", "text", "T25FW 1", "", "number_comma_decimal", ""),
    ("t25fw_2", "msfc", "text", "T25FW 2", "", "number_comma_decimal", ""),
    ("nhpt_dom_1", "msfc", "text", "9HPT dom 1", "", "number_comma_decimal", ""),
    ("nhpt_dom_2", "msfc", "text", "9HPT dom 2", "", "number_comma_decimal", ""),
    ("nhpt_ikkedom_1", "msfc", "text", "9HPT ikke-dom 1", "", "number_comma_decimal", ""),
    ("nhpt_ikkedom_2", "msfc", "text", "9HPT ikke-dom 2", "", "number_comma_decimal", ""),
    ("pasat3", "msfc", "text", "PASAT-3", "", "integer", ""),
    ("attak_debut", "attak", "text", "Debut", "", "", ""),
    ("attak_slut", "attak", "text", "Slut", "", "", ""),
    ("attak_svaerhed", "attak", "radio", "Sværhed", "1, Let | 2, Moderat | 3, Svær", "", ""),
    (
        "attak_restitution",
        "attak",
        "radio",
        "Restitution",
        "1, Fuld | 2, Delvis | 3, Ingen",
        "",
        "",
    ),
    (
        "attak_behandling",
        "attak",
        "checkbox",
        "Behandling",
        "1, Methylprednisolon | 2, Plasmaferese",
        "",
        "",
    ),
    ("ae_term", "haendelser", "notes", "Hændelse", "", "", ""),
    ("meddra_pt", "haendelser", "text", "PT", "", "", ""),
    ("meddra_soc", "haendelser", "text", "SOC", "", "", ""),
    ("meddra_version", "haendelser", "text", "MedDRA", "", "", ""),
    ("ae_debut", "haendelser", "text", "Debut", "", "", ""),
    ("ae_slut", "haendelser", "text", "Slut", "", "", ""),
    ("alvorlig", "haendelser", "yesno", "Alvorlig", "", "", ""),
    ("sae_doed", "haendelser", "yesno", "Død", "", "", ""),
    ("sae_livstruende", "haendelser", "yesno", "Livstruende", "", "", ""),
    ("sae_indlaeggelse", "haendelser", "yesno", "Indlæggelse", "", "", ""),
    ("sae_invaliditet", "haendelser", "yesno", "Invaliditet", "", "", ""),
    ("sae_misdannelse", "haendelser", "yesno", "Misdannelse", "", "", ""),
    ("sae_andet", "haendelser", "yesno", "Andet vigtigt", "", "", ""),
    (
        "ctcae_grad",
        "haendelser",
        "radio",
        "CTCAE",
        "1, Grad 1 | 2, Grad 2 | 3, Grad 3 | 4, Grad 4 | 5, Grad 5",
        "",
        "",
    ),
    (
        "relation_produkt",
        "haendelser",
        "radio",
        "Relation (produkt)",
        "1, Ingen | 2, Usandsynlig | 3, Mulig | 4, Sandsynlig | 5, Sikker",
        "",
        "",
    ),
    (
        "relation_udtagning",
        "haendelser",
        "radio",
        "Relation (udtagning)",
        "1, Ingen | 2, Usandsynlig | 3, Mulig | 4, Sandsynlig | 5, Sikker",
        "",
        "",
    ),
    (
        "ae_udfald",
        "haendelser",
        "radio",
        "Udfald",
        "1, Rask | 2, Bedring | 3, Ikke rask | 4, Rask med følger | 5, Død | 6, Ukendt",
        "",
        "",
    ),
    ("praeparat", "medicin", "text", "Præparat", "", "", ""),
    ("atc_kode", "medicin", "text", "ATC", "", "", ""),
    ("atc_version", "medicin", "text", "ATC-år", "", "", ""),
    ("med_start", "medicin", "text", "Start", "", "", ""),
    ("med_slut", "medicin", "text", "Slut", "", "", ""),
    ("proevedato", "blodproever", "text", "Dato", "", "date_dmy", ""),
    (
        "analyse",
        "blodproever",
        "dropdown",
        "Analyse",
        "1, P-Kreatinin | 2, B-Hæmoglobin | 3, P-Glukose | 4, P-ALAT | 5, P-ASAT | "
        "6, B-Lymfocytter | 7, P-Bilirubin",
        "",
        "",
    ),
    ("resultat", "blodproever", "text", "Resultat", "", "number_comma_decimal", ""),
    ("enhed", "blodproever", "text", "Enhed", "", "", ""),
)
HEADINGS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
FORMS = tuple(dict.fromkeys(f[1] for f in FIELDS))
# The instruments' labels (Online Designer): REDCap writes them in a label export's
# "Repeat Instrument" column. Several are not what REDCap would name the instrument.
INSTRUMENT_LABELS = {
    "demografi": "Demografi",
    "randomisering": "Randomisering",
    "infusion": "Infusion",
    "besoeg": "Besøg",
    "mr": "MR-scanning",
    "edss": "EDSS",
    "msfc": "MSFC",
    "attak": "Attak",
    "haendelser": "Uønskede hændelser",
    "medicin": "Konkomitant medicin",
    "blodproever": "Blodprøver",
}
# Event name (Define My Events) -> the unique name REDCap made of it, in arm 1 ("Arm 1").
EVENTS = {
    "SCR": "scr_arm_1",
    "W0": "w0_arm_1",
    "W4": "w4_arm_1",
    "W12": "w12_arm_1",
    "W24": "w24_arm_1",
    "W28": "w28_arm_1",
    "W36": "w36_arm_1",
    "W48": "w48_arm_1",
    "UNS": "uns_arm_1",
    "Lobende": "lobende_arm_1",
}
# Data access group name -> the unique group name REDCap made of it.
GROUPS = {"Rigshospitalet": "rigshospitalet", "Aarhus UH": "aarhus_uh"}
SYSTEM = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
}
STATUS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
YESNO = {"1": "Yes", "0": "No"}


@dataclass
class Row:
    """One record row: its key, and the values (raw codes, yyyy-mm-dd dates) of the instruments
    saved on it; ``unsaved`` instruments are designated for the event but were never saved."""

    record: str
    event: str  # the event's name, e.g. "SCR"
    values: dict[str, str] = field(default_factory=dict)
    saved: tuple[str, ...] = ()
    unsaved: tuple[str, ...] = ()
    repeat: str = ""  # a repeating instrument's name
    instance: str = ""


CENTRE = {"101": "Rigshospitalet", "102": "Rigshospitalet", "201": "Aarhus UH"}


def _patient_101() -> list[Row]:
    return [
        Row(
            "101",
            "SCR",
            {
                "cpr": "120475-1234",
                "foedselsdato": "1975-04-12",
                "foedselsaar": "1975",
                "koen": "0",
                "ms_forloeb": "1",
                "diagnosedato": "2009-03-02",
                "uge": "-6",
                "besoegsdato": "2013-01-07",
                "mr_dato": "2013-01-08",
                "mr_felt": "2",
                "gd_laesioner": "3",
                "nye_t2_laesioner": "2",
                "cua_laesioner": "4",
                "t2_volumen": "12,45",
                "hjernevolumen": "1480,3",
                "central_vurdering": "1",
                "edss_dato": "2013-01-07",
                "edss_score": "3,5",
                "fs_pyramidal": "2",
                "fs_cerebellar": "1",
                "fs_hjernestamme": "1",
                "fs_sensorisk": "2",
                "fs_blaere_tarm": "1",
                "fs_syn": "0",
                "fs_cerebral": "1",
                "ambulation": "0",
                "blindet_bedoemmer": "1",
                "msfc_dato": "2013-01-07",
                "t25fw_1": "6,2",
                "t25fw_2": "5,9",
                "nhpt_dom_1": "21,4",
                "nhpt_dom_2": "20,8",
                "nhpt_ikkedom_1": "23,1",
                "nhpt_ikkedom_2": "22,7",
                "pasat3": "48",
            },
            saved=("demografi", "besoeg", "mr", "edss", "msfc"),
        ),
        _lab("101", "SCR", "1", "2013-01-07", "1", "71", "µmol/l"),
        _lab("101", "SCR", "2", "2013-01-07", "2", "8,6", "mmol/l"),
        Row(
            "101",
            "W0",
            {
                "sekvens": "1",
                "rand_dato": "2013-02-04",
                "inf_dato": "2013-02-05",
                "produkt": "1",
                "dosis": "1,52",
                "vaegt": "68,5",
                "viabilitet": "95,2",
                "lot_nr": "dk-0101",
                "uge": "0",
                "besoegsdato": "2013-02-05",
                "mr_dato": "2013-02-04",
                "mr_felt": "2",
                "gd_laesioner": "1",
                "central_vurdering": "1",
            },
            saved=("randomisering", "infusion", "besoeg", "mr"),
            unsaved=("edss", "msfc"),
        ),
        Row(
            "101",
            "W4",
            {
                "uge": "4",
                "besoegsdato": "2013-03-05",
                "mr_dato": "2013-03-05",
                "mr_felt": "2",
                "gd_laesioner": "0",
                "central_vurdering": "0",
            },
            saved=("besoeg", "mr"),
        ),
        Row(
            "101",
            "W24",
            {
                "inf_dato": "2013-07-23",
                "produkt": "2",
                "vaegt": "69,0",
                "uge": "24",
                "besoegsdato": "2013-07-23",
            },
            saved=("infusion", "besoeg"),
            unsaved=("mr", "edss", "msfc"),
        ),
        Row(
            "101",
            "UNS",
            {
                "besoegsdato": "2013-05-14",
                "edss_dato": "2013-05-14",
                "edss_score": "4,0",
                "blindet_bedoemmer": "0",
            },
            saved=("besoeg", "edss"),
            instance="1",
        ),
        Row(
            "101",
            "Lobende",
            {
                "attak_debut": "03-2013",
                "attak_slut": "",
                "attak_svaerhed": "2",
                "attak_restitution": "2",
                "attak_behandling___1": "1",
                "attak_behandling___2": "0",
            },
            saved=("attak",),
            repeat="attak",
            instance="1",
        ),
        Row(
            "101",
            "Lobende",
            {
                "ae_term": "Hovedpine efter infusion",
                "meddra_pt": "10019211",
                "meddra_soc": "10029205",
                "meddra_version": "16.0",
                "ae_debut": "06-02-2013",
                "ae_slut": "08-02-2013",
                "alvorlig": "0",
                "ctcae_grad": "1",
                "relation_produkt": "3",
                "relation_udtagning": "1",
                "ae_udfald": "1",
            },
            saved=("haendelser",),
            repeat="haendelser",
            instance="1",
        ),
        Row(
            "101",
            "Lobende",
            {
                "praeparat": "Tecfidera",
                "atc_kode": "L04AX07",
                "atc_version": "2024",
                "med_start": "2012",
            },
            saved=("medicin",),
            repeat="medicin",
            instance="1",
        ),
    ]


def _lab(
    record: str, event: str, instance: str, day: str, analyte: str, value: str, unit: str
) -> Row:
    values = {"proevedato": day, "analyse": analyte, "resultat": value, "enhed": unit}
    return Row(record, event, values, ("blodproever",), (), "blodproever", instance)


def _patient(record: str, sex: str, born: str, sequence: str, product: str) -> list[Row]:
    """A patient seen at screening and week 0 only."""
    return [
        Row(
            record,
            "SCR",
            {
                "cpr": f"0101{born[2:4]}-4321",
                "foedselsdato": f"{born}-01-01",
                "foedselsaar": born,
                "koen": sex,
                "ms_forloeb": "1",
                "diagnosedato": "2010-06-15",
                "uge": "-6",
                "besoegsdato": "2013-09-02",
            },
            saved=("demografi", "besoeg"),
            unsaved=("mr", "edss", "msfc"),
        ),
        Row(
            record,
            "W0",
            {
                "sekvens": sequence,
                "rand_dato": "2013-10-01",
                "inf_dato": "2013-10-02",
                "produkt": product,
                "vaegt": "81,2",
                "uge": "0",
                "besoegsdato": "2013-10-02",
            },
            saved=("randomisering", "infusion", "besoeg"),
        ),
    ]


def records() -> list[Row]:
    rows = [*_patient_101(), *_patient("102", "1", "1980", "2", "2")]
    rows += _patient("201", "0", "1984", "1", "1")
    rows.append(
        Row(
            "201",
            "Lobende",
            {
                "ae_term": "Lungebetændelse",
                "meddra_pt": "10035664",
                "meddra_soc": "10021881",
                "meddra_version": "16.0",
                "ae_debut": "11-2013",
                "alvorlig": "1",
                "sae_doed": "0",
                "sae_livstruende": "0",
                "sae_indlaeggelse": "1",
                "sae_invaliditet": "0",
                "sae_misdannelse": "0",
                "sae_andet": "0",
                "ctcae_grad": "3",
                "relation_produkt": "2",
                "relation_udtagning": "1",
                "ae_udfald": "1",
            },
            saved=("haendelser",),
            repeat="haendelser",
            instance="1",
        )
    )
    return rows


# -- the files, as REDCap writes them ------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    form: str
    label: str  # its header in a label export
    labels: dict[str, str]  # code -> label in a label export
    date: bool = False  # a date_dmy field
    checkbox: bool = False  # one choice of a checkbox field


def columns() -> list[Column]:
    rid = FIELDS[0]
    out = [Column(rid[0], rid[1], rid[3], {})]
    out += [Column(name, "", label, {}) for name, label in SYSTEM.items()]
    for form in FORMS:
        for name, f_form, kind, label, choices, validation, _ in FIELDS[1:]:
            if f_form != form:
                continue
            coded_kind = kind in ("radio", "dropdown", "checkbox")
            pairs = [c.split(",", 1) for c in choices.split("|")] if coded_kind else []
            coded = {c.strip(): lab.strip() for c, lab in pairs}
            if kind == "checkbox":
                out += [
                    Column(f"{name}___{c}", form, f"{label} (choice={lab})", {}, checkbox=True)
                    for c, lab in coded.items()
                ]
            elif kind in ("radio", "dropdown"):
                out.append(Column(name, form, label, coded))
            elif kind == "yesno":
                out.append(Column(name, form, label, YESNO))
            else:
                out.append(Column(name, form, label, {}, validation == "date_dmy"))
        out.append(Column(f"{form}_complete", form, "Complete?", STATUS))
    return out


def table(
    flavour: str = "raw", rows: list[Row] | None = None, unsaved: str = "0"
) -> list[list[str]]:
    """The records export as REDCap writes it: the header, then one list of cells per row.
    ``unsaved`` is the status written for an instrument never saved on its event (REDCap
    writes 0; blank leaves the row out of that instrument, as for undesignated ones)."""
    cols = columns()
    label = flavour == "label"
    out = [[c.label if label else c.name for c in cols]]
    for row in records() if rows is None else rows:
        cells = {c.name: "" for c in cols}
        cells |= {
            "record_id": row.record,
            "redcap_event_name": (
                f"{row.event} (Arm 1: Arm 1)" if label else EVENTS.get(row.event, row.event)
            ),
            "redcap_repeat_instrument": (
                INSTRUMENT_LABELS[row.repeat] if label and row.repeat else row.repeat
            ),
            "redcap_repeat_instance": row.instance,
            "redcap_data_access_group": (
                CENTRE[row.record] if label else GROUPS[CENTRE[row.record]]
            ),
        }
        for c in cols:
            if c.checkbox and c.form in (*row.saved, *row.unsaved):
                cells[c.name] = "0"  # unticked choices: 0 on every row of the instrument
        cells |= row.values
        for form in row.saved:
            cells[f"{form}_complete"] = "2"
        for form in row.unsaved:
            cells[f"{form}_complete"] = unsaved
        if label:
            for c in cols:
                value = cells[c.name]
                if c.checkbox and value:
                    cells[c.name] = {"1": "Checked", "0": "Unchecked"}[value]
                elif c.labels and value:
                    cells[c.name] = c.labels[value]
                elif c.date and value:
                    cells[c.name] = f"{value[8:10]}-{value[5:7]}-{value[:4]}"
        out.append([cells[c.name] for c in cols])
    return out


def dictionary_text() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADINGS)
    for name, form, kind, label, choices, validation, identifier in FIELDS:
        writer.writerow(
            [name, form, "", kind, label, choices, "", validation, "", "", identifier] + [""] * 7
        )
    return buffer.getvalue()


def save(folder: Path, rows: list[list[str]], delimiter: str = ";") -> Path:
    """Write ``data.csv`` (UTF-8 with a byte-order mark, CRLF, as REDCap does) and the
    dictionary beside it; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    (folder / "data.csv").write_bytes(codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))
    (folder / "dictionary.csv").write_text(dictionary_text(), encoding="utf-8")
    return folder


def export(folder: Path, flavour: str = "raw", unsaved: str = "0") -> Path:
    return save(folder, table(flavour, unsaved=unsaved))
