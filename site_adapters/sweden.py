"""Sweden: the investigators keep the data in SPSS, one .sav file per form. Swedish variable
names; coded variables are numbers with Swedish value labels (kön: 1 = kvinna, 2 = man; ja/nej:
1 = ja, 0 = nej), read through their labels; a declared user-missing code (99 = uppgift saknas)
reads as empty. ISO dates: SPSS date variables, and text yyyy-mm-dd where a date may be partial
(yyyy-mm, yyyy). Numbers are SPSS numerics, read as numbers; decimal comma where typed as
text. ALT and AST in µkat/L, haemoglobin in g/L, creatinine in µmol/L. The patient file carries
the 12-digit personnummer and the name: read, never written."""

from federate.adapters import vocabulary
from federate.adapters.declaration import LocalId, SiteAdapter, TableMap
from federate.adapters.parsers import (
    Code,
    Const,
    Date,
    Decimal,
    Integer,
    Locale,
    PartialDate,
    Text,
    Verbatim,
    YearOf,
)
from federate.readers.spss import SpssReader

PATIENT_ID = LocalId("studienr")  # e.g. STO-001

VISITS = {
    "screening": "SCR",
    "baslinje": "W0",
    "vecka 4": "W4",
    "vecka 12": "W12",
    "vecka 24": "W24",
    "vecka 28": "W28",
    "vecka 36": "W36",
    "vecka 48": "W48",
    "extra besök": "UNS",
}
YES_NO = {"ja": True, "nej": False}
RELATEDNESS = {
    "ej relaterad": "NOT",
    "osannolikt": "UNLIKELY",
    "möjligt": "POSSIBLE",
    "troligt": "PROBABLE",
    "säkert": "DEFINITE",
}
# Swedish laboratory names (system prefix: P- plasma, B- blood).
LAB_TESTS = {
    "P-Kreatinin": "CREAT",
    "B-Hemoglobin": "HGB",
    "P-Glukos": "GLUC",
    "P-ALAT": "ALT",
    "P-ASAT": "AST",
    "B-Lymfocyter": "LYMPH",
    "P-Bilirubin": "BILI",
}
# ALT and AST in µkat/L, as Swedish labs report them.
LAB_UNITS = vocabulary.lab_units("µmol/L", "umol/L", "µkat/L", "ukat/L", "g/L", "mmol/L", "10^9/L")

# Coded variables are numbers with value labels: a closed code list, read through the labels.
LABELLED = (
    "klinik",
    "kön",
    "ms_förlopp",
    "sekvens",
    "preparat",
    "besök",
    "central_granskning",
    "blindad_bedömare",
    "svårighetsgrad",
    "återhämtning",
    "steroider",
    "allvarlig",
    "allvarlig_död",
    "allvarlig_livshotande",
    "allvarlig_sjukhusvård",
    "allvarlig_funktionsnedsättning",
    "allvarlig_missbildning",
    "allvarlig_annan",
    "samband_preparat",
    "samband_benmärgsuttag",
    "utfall",
    "analys",
)

SWEDEN = SiteAdapter(
    name="sweden",
    country="se",
    version="1.0.0",
    title="Sweden (SE national trial): SPSS files with value labels",
    reader=SpssReader(decode=LABELLED),
    format="spss",
    spreadsheet=vocabulary.COMMA_DECIMAL_EXCEL,  # the quarantine CSV, for its Excel
    locale=Locale(
        decimal=",",
        group="\u00a0",  # Swedish locales write a no-break space; any space reads
        date_formats=("%Y-%m-%d",),
        month_formats=("%Y-%m",),
        year_formats=("%Y",),
    ),
    tables=(
        TableMap(
            "subjects",
            "patienter.sav",
            subject=PATIENT_ID,
            fields={
                "centre": Code("klinik", {"Stockholm": "SE-STO", "Göteborg": "SE-GOT"}),
                "sex": Code("kön", {"kvinna": "F", "man": "M"}),
                "birth_year": YearOf(Date("födelsedatum")),
                "ms_course": Code(
                    "ms_förlopp",
                    {
                        "skovvis förlöpande": "RRMS",
                        "sekundärprogressiv": "SPMS",
                        "primärprogressiv": "PPMS",
                    },
                ),
                "diagnosis_date": Date("diagnosdatum"),
                "eligibility_version": Const("SE-2012"),
            },
            dropped=("personnummer", "namn"),
        ),
        TableMap(
            "randomisation",
            "randomisering.sav",
            subject=PATIENT_ID,
            fields={
                "sequence": Code(
                    "sekvens", {"MSC-placebo": "MSC_PLACEBO", "placebo-MSC": "PLACEBO_MSC"}
                ),
                "randomisation_date": Date("randomiseringsdatum"),
            },
        ),
        TableMap(
            "infusions",
            "infusioner.sav",
            subject=PATIENT_ID,
            fields={
                "period": Integer("period"),
                "infusion_date": Date("infusionsdatum"),
                "product": Code("preparat", {"stamceller": "MSC", "placebo": "PLACEBO"}),
                "dose_million_cells_per_kg": Decimal("dos_milj_celler_kg"),
                "body_weight_kg": Decimal("vikt_kg", places=1),
                "viability_pct": Decimal("viabilitet_pct", places=1),
                "lot_id": Text("batchnr", upper=True),
            },
        ),
        TableMap(
            "visits",
            "besok.sav",
            subject=PATIENT_ID,
            fields={
                "visit_code": Code("besök", VISITS),
                "week": Integer("vecka"),
                "visit_date": Date("besöksdatum"),
            },
        ),
        TableMap(
            "mri",
            "mr.sav",
            subject=PATIENT_ID,
            fields={
                "visit_code": Code("besök", VISITS),
                "scan_date": Date("mr_datum"),
                "field_strength_t": Decimal("fältstyrka_t", places=1),
                "gel_count": Integer("gd_lesioner"),
                "new_t2_count": Integer("nya_t2_lesioner"),
                "cua_count": Integer("cua_lesioner"),
                "t2_volume_ml": Decimal("t2_volym_ml"),
                "brain_volume_ml": Decimal("hjärnvolym_ml", places=1),
                "central_read": Code("central_granskning", YES_NO),
            },
        ),
        TableMap(
            "edss",
            "edss.sav",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("bedömningsdatum"),
                "edss": Decimal("edss", places=1),
                "fs_pyramidal": Integer("fs_pyramidal"),
                "fs_cerebellar": Integer("fs_cerebellär"),
                "fs_brainstem": Integer("fs_hjärnstam"),
                "fs_sensory": Integer("fs_sensorisk"),
                "fs_bowel_bladder": Integer("fs_blåsa_tarm"),
                "fs_visual": Integer("fs_syn"),
                "fs_cerebral": Integer("fs_cerebral"),
                "ambulation_score": Integer("gångpoäng"),
                "rater_blinded": Code("blindad_bedömare", YES_NO),
            },
            note="The visit is assigned from the assessment date by the protocol windows.",
        ),
        TableMap(
            "msfc",
            "msfc.sav",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("bedömningsdatum"),
                "t25fw_trial1_s": Decimal("t25fw_1", places=1),
                "t25fw_trial2_s": Decimal("t25fw_2", places=1),
                "nhpt_dominant_trial1_s": Decimal("nhpt_dom_1", places=1),
                "nhpt_dominant_trial2_s": Decimal("nhpt_dom_2", places=1),
                "nhpt_nondominant_trial1_s": Decimal("nhpt_icke_dom_1", places=1),
                "nhpt_nondominant_trial2_s": Decimal("nhpt_icke_dom_2", places=1),
                "pasat3": Integer("pasat3"),
            },
            note="The visit is assigned from the assessment date by the protocol windows.",
        ),
        TableMap(
            "relapses",
            "skov.sav",
            subject=PATIENT_ID,
            fields={
                # Text, not an SPSS date: a date known only to the month or year is kept.
                "onset_date": PartialDate("skovdebut"),
                "end_date": PartialDate("skovslut"),
                "severity": Code(
                    "svårighetsgrad",
                    {"lindrigt": "MILD", "måttligt": "MODERATE", "svårt": "SEVERE"},
                ),
                "recovery": Code(
                    "återhämtning",
                    {"fullständig": "COMPLETE", "partiell": "PARTIAL", "ingen": "NONE"},
                ),
                "steroids": Code("steroider", YES_NO),
            },
            note="Recovery not known is the user-missing code 99 (uppgift saknas): empty.",
        ),
        TableMap(
            "adverse_events",
            "biverkningar.sav",
            subject=PATIENT_ID,
            fields={
                "ae_number": Integer("händelse_nr"),
                "verbatim_term": Verbatim("händelse"),
                "meddra_pt_code": Text("meddra_pt"),
                "meddra_soc_code": Text("meddra_soc"),
                "meddra_version": Text("meddra_version"),
                "onset_date": PartialDate("startdatum"),
                "end_date": PartialDate("slutdatum"),
                "serious": Code("allvarlig", YES_NO),
                "sae_death": Code("allvarlig_död", YES_NO),
                "sae_life_threatening": Code("allvarlig_livshotande", YES_NO),
                "sae_hospitalisation": Code("allvarlig_sjukhusvård", YES_NO),
                "sae_disability": Code("allvarlig_funktionsnedsättning", YES_NO),
                "sae_congenital_anomaly": Code("allvarlig_missbildning", YES_NO),
                "sae_other_important": Code("allvarlig_annan", YES_NO),
                "ctcae_grade": Integer("ctcae_grad"),
                "relatedness_product": Code("samband_preparat", RELATEDNESS),
                "relatedness_harvest": Code("samband_benmärgsuttag", RELATEDNESS),
                "outcome": Code(
                    "utfall",
                    {
                        "återställd": "RECOVERED",
                        "under återhämtning": "RECOVERING",
                        "ej återställd": "NOT_RECOVERED",
                        "återställd med bestående men": "RECOVERED_WITH_SEQUELAE",
                        "dödlig utgång": "FATAL",
                        "okänt": "UNKNOWN",
                    },
                ),
            },
            note="Verbatim terms in Swedish. Relatedness to the marrow harvest not known is the "
            "user-missing code 99 (uppgift saknas): empty.",
        ),
        TableMap(
            "conmeds",
            "lakemedel.sav",
            subject=PATIENT_ID,
            fields={
                "medication_verbatim": Verbatim("läkemedel"),
                "atc_code": Text("atc_kod", upper=True),
                "atc_version": Text("atc_version"),
                "start_date": PartialDate("startdatum"),
                "end_date": PartialDate("slutdatum"),
            },
            note="ATC codes of the 2024 index; the schema crosswalks older ones.",
        ),
        TableMap(
            "labs",
            "labb.sav",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("provdatum"),
                "analyte": Code("analys", LAB_TESTS),
                # A text variable: the value exactly as the lab system printed it.
                "value_raw": Verbatim("värde"),
                "unit_raw": Verbatim("enhet"),
                "value_reported": Decimal("värde"),
                "unit_reported": Code("enhet", LAB_UNITS),
            },
            note="Long format, one row per test. ALT and AST in µkat/L, haemoglobin in g/L, "
            "creatinine in µmol/L; the schema harmonises them.",
        ),
    ),
    notes=(
        "Coded variables (kön, besök, ja/nej...) are numbers with SPSS value labels: the "
        "labels are read, and a code the label set lacks is quarantined naming the label set. "
        "Codes declared user-missing in the file (99 = uppgift saknas) read as empty.",
        "Dates are SPSS date variables (any SPSS date format) or text yyyy-mm-dd; dates that "
        "may be partial (relapse and adverse-event onsets and ends, medication starts and "
        "stops) are text: yyyy-mm-dd, yyyy-mm or yyyy; a date variable there is known to what "
        "its format shows (MOYR, JUN 2014: the month) and kept as SPSS shows it.",
        "Numbers are SPSS numeric variables, read as the numbers they hold (a numeric MedDRA "
        "version 19.1 is 19.1); the decimal comma and grouping apply to numbers written as "
        "text. A numeric variable in a text column (a MedDRA version, a PT code) reads as SPSS "
        "shows it when its display format was set for it (`F4.1`: 26.0; `N8`: leading zeros; "
        "Stata `%4.1f`), else, under SPSS's default `F8.2` or Stata's general format, as its "
        "number in its shortest form (19.1; 26): keep MedDRA versions in `F4.1` or as text. "
        "Each form may be sent as .sav, .zsav, .por or Stata .dta under the same name.",
    ),
)
