"""Denmark: the Danish MESEMS REDCap project, exported as one records file (``data.csv``, `;`)
with its data dictionary beside it. Longitudinal: one event per protocol visit, a repeating
event for unscheduled visits, and repeating instruments for relapses, adverse events,
medication (on the event of the running logs) and blood tests (on the visit events).

Either export flavour reads, whichever the values show: the reader decodes a label export
(Danish field and choice labels, dd-mm-yyyy dates) back to the raw codes declared here, and a
raw export carries those codes and yyyy-mm-dd dates itself. Events, data access groups and
repeating instruments are declared by REDCap's unique names only: a label export's "SCR (Arm 1:
Arm 1)" or "Aarhus UH" is read as the unique name REDCap makes of it (``scr_arm_1``,
``aarhus_uh``), never through a list of labels here. Decimal comma (number_comma_decimal);
haemoglobin in mmol/L. The CPR number and the date of birth are flagged ``Identifier?`` in the
dictionary: the reader never yields them, and they are declared dropped too, should a
dictionary lose the flag."""

from federate.adapters import vocabulary
from federate.adapters.declaration import LocalId, SiteAdapter, TableMap
from federate.adapters.parsers import (
    Code,
    Const,
    Date,
    Decimal,
    Integer,
    Locale,
    Parser,
    PartialDate,
    Text,
    Verbatim,
)
from federate.readers.redcap import RedcapReader

DATA = "data.csv"
RECORD = LocalId("record_id", upper=False)  # REDCap's record id is exact: nothing to normalise

# Unique event name -> visit, in the project's event order.
VISITS = {
    "scr_arm_1": "SCR",
    "w0_arm_1": "W0",
    "w4_arm_1": "W4",
    "w12_arm_1": "W12",
    "w24_arm_1": "W24",
    "w28_arm_1": "W28",
    "w36_arm_1": "W36",
    "w48_arm_1": "W48",
    "uns_arm_1": "UNS",  # a repeating event: one instance per unscheduled visit
}
ONGOING = "lobende_arm_1"  # the event of the running logs (relapses, adverse events, medication)

JA_NEJ = {"1": True, "0": False}
RELATEDNESS = {"1": "NOT", "2": "UNLIKELY", "3": "POSSIBLE", "4": "PROBABLE", "5": "DEFINITE"}
LAB_TESTS = {
    "1": "CREAT",  # P-Kreatinin
    "2": "HGB",  # B-Hæmoglobin, in mmol/L
    "3": "GLUC",  # P-Glukose
    "4": "ALT",  # P-ALAT
    "5": "AST",  # P-ASAT
    "6": "LYMPH",  # B-Lymfocytter
    "7": "BILI",  # P-Bilirubin
}
LAB_UNITS = vocabulary.lab_units("µmol/l", "umol/l", "mmol/l", "U/l", "10^9/l", "x10^9/l")


def _at_visit(form: str, table: str, fields: dict[str, Parser], note: str = "") -> TableMap:
    """A form filled at visit events: the visit is the event."""
    return TableMap(
        table,
        DATA,
        {"visit_code": Code("redcap_event_name", VISITS), **fields},
        subject=RECORD,
        part=form,
        note=note or "The visit is the REDCap event.",
    )


DENMARK = SiteAdapter(
    name="denmark",
    country="dk",
    version="1.2.0",
    title="Denmark (DK national trial): REDCap project, records export with its data dictionary",
    reader=RedcapReader(
        records=DATA,
        flavour="either",  # read off the values: a file mixing codes and labels is refused
        delimiter=";",
        encodings=vocabulary.UTF8_OR_CP1252,
    ),
    spreadsheet=vocabulary.COMMA_DECIMAL_EXCEL,  # the quarantine CSV, for its Excel
    locale=Locale(
        decimal=",",
        group="",  # REDCap's number_comma_decimal allows no digit grouping
        # Label exports write date_dmy fields as dd-mm-yyyy, raw exports as yyyy-mm-dd; partial
        # dates are free text, typed with dashes or dots.
        date_formats=("%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y"),
        month_formats=("%m-%Y", "%m.%Y"),
    ),
    tables=(
        TableMap(
            "subjects",
            DATA,
            {
                "centre": Code(
                    "redcap_data_access_group", {"rigshospitalet": "DK-CPH", "aarhus_uh": "DK-AAR"}
                ),
                "sex": Code("koen", {"0": "F", "1": "M"}),
                "birth_year": Integer("foedselsaar"),  # a calc field: year([foedselsdato])
                "ms_course": Code("ms_forloeb", {"1": "RRMS", "2": "SPMS", "3": "PPMS"}),
                "diagnosis_date": Date("diagnosedato"),
                "eligibility_version": Const("DK-2011"),  # Copenhagen: relapsing-remitting only
            },
            subject=RECORD,
            dropped=("cpr", "foedselsdato"),
            part="demografi",
            note="At screening; the centre is the record's data access group (in a label "
            "export, its name, read as REDCap's unique name: `Rigshospitalet`, `Aarhus UH`).",
        ),
        TableMap(
            "randomisation",
            DATA,
            {
                "sequence": Code("sekvens", {"1": "MSC_PLACEBO", "2": "PLACEBO_MSC"}),
                "randomisation_date": Date("rand_dato"),
            },
            subject=RECORD,
            part="randomisering",
            note="At week 0.",
        ),
        TableMap(
            "infusions",
            DATA,
            {
                "period": Code("redcap_event_name", {"w0_arm_1": 1, "w24_arm_1": 2}),
                "infusion_date": Date("inf_dato"),
                "product": Code("produkt", {"1": "MSC", "2": "PLACEBO"}),
                "dose_million_cells_per_kg": Decimal("dosis"),
                "body_weight_kg": Decimal("vaegt", places=1),
                "viability_pct": Decimal("viabilitet", places=1),
                "lot_id": Text("lot_nr", upper=True),
            },
            subject=RECORD,
            part="infusion",
            note="At weeks 0 and 24: the event is the crossover period.",
        ),
        _at_visit(
            "besoeg",
            "visits",
            {"week": Integer("uge"), "visit_date": Date("besoegsdato")},
            "The visit is the REDCap event; each unscheduled visit is an instance of the "
            "repeating event `uns_arm_1`.",
        ),
        _at_visit(
            "mr",
            "mri",
            {
                "scan_date": Date("mr_dato"),
                "field_strength_t": Code("mr_felt", {"1": 1.5, "2": 3.0}),
                "gel_count": Integer("gd_laesioner"),
                "new_t2_count": Integer("nye_t2_laesioner"),
                "cua_count": Integer("cua_laesioner"),
                "t2_volume_ml": Decimal("t2_volumen"),
                "brain_volume_ml": Decimal("hjernevolumen", places=1),
                "central_read": Code("central_vurdering", JA_NEJ),
            },
        ),
        _at_visit(
            "edss",
            "edss",
            {
                "assessment_date": Date("edss_dato"),
                "edss": Decimal("edss_score", places=1),
                "fs_pyramidal": Integer("fs_pyramidal"),
                "fs_cerebellar": Integer("fs_cerebellar"),
                "fs_brainstem": Integer("fs_hjernestamme"),
                "fs_sensory": Integer("fs_sensorisk"),
                "fs_bowel_bladder": Integer("fs_blaere_tarm"),
                "fs_visual": Integer("fs_syn"),
                "fs_cerebral": Integer("fs_cerebral"),
                "ambulation_score": Integer("ambulation"),
                "rater_blinded": Code("blindet_bedoemmer", JA_NEJ),
            },
        ),
        _at_visit(
            "msfc",
            "msfc",
            {
                "assessment_date": Date("msfc_dato"),
                "t25fw_trial1_s": Decimal("t25fw_1", places=1),
                "t25fw_trial2_s": Decimal("t25fw_2", places=1),
                "nhpt_dominant_trial1_s": Decimal("nhpt_dom_1", places=1),
                "nhpt_dominant_trial2_s": Decimal("nhpt_dom_2", places=1),
                "nhpt_nondominant_trial1_s": Decimal("nhpt_ikkedom_1", places=1),
                "nhpt_nondominant_trial2_s": Decimal("nhpt_ikkedom_2", places=1),
                "pasat3": Integer("pasat3"),
            },
        ),
        TableMap(
            "relapses",
            DATA,
            {
                "onset_date": PartialDate("attak_debut"),
                "end_date": PartialDate("attak_slut"),
                "severity": Code("attak_svaerhed", {"1": "MILD", "2": "MODERATE", "3": "SEVERE"}),
                "recovery": Code(
                    "attak_restitution", {"1": "COMPLETE", "2": "PARTIAL", "3": "NONE"}
                ),
                # The checkbox "Behandling": choice 1 is methylprednisolone.
                "steroids": Code("attak_behandling___1", JA_NEJ),
            },
            subject=RECORD,
            part="attak",
            note="A repeating instrument on the event `lobende_arm_1`; partial dates are free "
            "text.",
        ),
        TableMap(
            "adverse_events",
            DATA,
            {
                "ae_number": Integer("redcap_repeat_instance"),  # the log's own numbering
                "verbatim_term": Verbatim("ae_term"),
                "meddra_pt_code": Text("meddra_pt"),
                "meddra_soc_code": Text("meddra_soc"),
                "meddra_version": Text("meddra_version"),
                "onset_date": PartialDate("ae_debut"),
                "end_date": PartialDate("ae_slut"),
                "serious": Code("alvorlig", JA_NEJ),
                "sae_death": Code("sae_doed", JA_NEJ),
                "sae_life_threatening": Code("sae_livstruende", JA_NEJ),
                "sae_hospitalisation": Code("sae_indlaeggelse", JA_NEJ),
                "sae_disability": Code("sae_invaliditet", JA_NEJ),
                "sae_congenital_anomaly": Code("sae_misdannelse", JA_NEJ),
                "sae_other_important": Code("sae_andet", JA_NEJ),
                "ctcae_grade": Integer("ctcae_grad"),  # radio coded 1-5 by grade
                "relatedness_product": Code("relation_produkt", RELATEDNESS),
                "relatedness_harvest": Code("relation_udtagning", RELATEDNESS),
                "outcome": Code(
                    "ae_udfald",
                    {
                        "1": "RECOVERED",
                        "2": "RECOVERING",
                        "3": "NOT_RECOVERED",
                        "4": "RECOVERED_WITH_SEQUELAE",
                        "5": "FATAL",
                        "6": "UNKNOWN",
                    },
                ),
            },
            subject=RECORD,
            part="haendelser",
            note="A repeating instrument on the event `lobende_arm_1`: the event number is the "
            "instance. Terms in Danish; seriousness criteria only when serious.",
        ),
        TableMap(
            "conmeds",
            DATA,
            {
                "medication_verbatim": Verbatim("praeparat"),
                "atc_code": Text("atc_kode", upper=True),
                "atc_version": Text("atc_version"),
                "start_date": PartialDate("med_start"),
                "end_date": PartialDate("med_slut"),
            },
            subject=RECORD,
            part="medicin",
            note="A repeating instrument on the event `lobende_arm_1`, coded with the current "
            "(2024) ATC index.",
        ),
        _at_visit(
            "blodproever",
            "labs",
            {
                "assessment_date": Date("proevedato"),
                "analyte": Code("analyse", LAB_TESTS),
                "value_raw": Verbatim("resultat"),
                "unit_raw": Verbatim("enhed"),
                "value_reported": Decimal("resultat"),
                "unit_reported": Code("enhed", LAB_UNITS),
            },
            "A repeating instrument on the visit events, one instance per analysis (Danish NPU "
            "names). Haemoglobin in mmol/L; the schema harmonises it to g/L.",
        ),
    ),
    format="redcap",
    notes=(
        "The export is REDCap's CSV records export of the whole project, as raw data or as "
        "labels (the values say which: a file mixing codes and labels is refused), delimiter "
        "`;`, and the project's data dictionary `dictionary.csv` beside it. A column is a field "
        "of `dictionary.csv` by its field name, in any case, or by the label REDCap writes for "
        "it; a column that is no field of `dictionary.csv` is an extra column, ignored with a "
        "warning (once for the file).",
        "In a label export, an event, a data access group and a repeating instrument are read "
        "as the unique name REDCap makes of its label: letters, digits and `_` kept, spaces as "
        "`_`, lower case, the first 18 characters, and for an event `_arm_` and its arm "
        "(`SCR (Arm 1: Arm 1)` → `scr_arm_1`, `Aarhus UH` → `aarhus_uh`); two labels that make "
        "one name are refused. A repeating instrument's label is the instrument whose fields "
        "its rows fill (`Uønskede hændelser` → `haendelser`).",
        "An instrument never saved on an event (every field blank, status Incomplete or "
        "blank) is skipped and counted as `form-never-saved`. Fields flagged `Identifier?` "
        "(the CPR number, the date of birth) are never read.",
    ),
)
