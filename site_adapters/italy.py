"""Italy: one CSV per form, `;` delimiter, `,` decimal, dd/mm/yyyy (or dd/mm/yy) dates,
cp1252 or UTF-8 with BOM, Italian column names and codes. The patient file carries the
codice fiscale and the patient's name: read, never written."""

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
from federate.readers.csv import CsvReader

PATIENT_ID = LocalId("id_paziente", zero_pad=6)  # Excel strips the leading zeros

VISITS = {
    "SCREENING": "SCR",
    "BASALE": "W0",
    "SETT4": "W4",
    "SETT12": "W12",
    "SETT24": "W24",
    "SETT28": "W28",
    "SETT36": "W36",
    "SETT48": "W48",
    "NON PROGRAMMATA": "UNS",
}
YES_NO = {"sì": True, "si": True, "no": False}
RELATEDNESS = {
    "non correlato": "NOT",
    "improbabile": "UNLIKELY",
    "possibile": "POSSIBLE",
    "probabile": "PROBABLE",
    "certa": "DEFINITE",
}
LAB_TESTS = {
    "creatinina": "CREAT",
    "emoglobina": "HGB",
    "glicemia": "GLUC",
    "ALT": "ALT",
    "GPT": "ALT",
    "AST": "AST",
    "GOT": "AST",
    "linfociti": "LYMPH",
    "bilirubina totale": "BILI",
}
LAB_UNITS = vocabulary.lab_units(
    *("mg/dl", "g/dl", "U/L", "UI/L", "/mm3", "/mm³", "10^3/µl", "x10^3/µl", "10^9/l"),
    *("µmol/l", "umol/l", "mmol/l"),
)

ITALY = SiteAdapter(
    name="italy",
    country="it",
    version="1.0.0",
    title="Italy (IT national trial): CSV forms from the Italian CRF",
    reader=CsvReader(delimiter=";", encodings=vocabulary.UTF8_OR_CP1252),
    spreadsheet=vocabulary.COMMA_DECIMAL_EXCEL,  # the quarantine CSV, for its Excel
    locale=Locale(
        decimal=",",
        group=".",
        date_formats=("%d/%m/%Y", "%d/%m/%y"),
        century_start=vocabulary.TRIAL_CENTURY,  # visit dates: "13" is 2013
    ),
    tables=(
        TableMap(
            "subjects",
            "pazienti.csv",
            subject=PATIENT_ID,
            fields={
                "centre": Code(
                    "centro", {"Genova": "IT-GEN", "Milano": "IT-MIL", "Roma": "IT-ROM"}
                ),
                "sex": Code("sesso", {"femmina": "F", "maschio": "M", **vocabulary.SEX_CODES}),
                # A birth year "62" is 1962.
                "birth_year": YearOf(Date("data_nascita", century_start=1920)),
                "ms_course": Code(
                    "forma_sm",
                    {
                        "recidivante-remittente": "RRMS",
                        "secondariamente progressiva": "SPMS",
                        "primariamente progressiva": "PPMS",
                        "SMRR": "RRMS",
                        "SMSP": "SPMS",
                        "SMPP": "PPMS",
                    },
                ),
                "diagnosis_date": Date("data_diagnosi", century_start=vocabulary.HISTORY_CENTURY),
                "eligibility_version": Const("IT-2012"),  # EDSS 3.0-6.5, duration 2-10 y
            },
            dropped=("codice_fiscale", "nome", "cognome"),
        ),
        TableMap(
            "randomisation",
            "randomizzazione.csv",
            subject=PATIENT_ID,
            fields={
                "sequence": Code(
                    "sequenza", {"CELLULE-PLACEBO": "MSC_PLACEBO", "PLACEBO-CELLULE": "PLACEBO_MSC"}
                ),
                "randomisation_date": Date("data_randomizzazione"),
            },
        ),
        TableMap(
            "infusions",
            "infusioni.csv",
            subject=PATIENT_ID,
            fields={
                "period": Integer("periodo"),
                "infusion_date": Date("data_infusione"),
                "product": Code("prodotto", {"cellule staminali": "MSC", "placebo": "PLACEBO"}),
                "dose_million_cells_per_kg": Decimal("dose_milioni_cellule_kg"),
                "body_weight_kg": Decimal("peso_kg", places=1),
                "viability_pct": Decimal("vitalita_pct", places=1),
                "lot_id": Text("lotto", upper=True),
            },
        ),
        TableMap(
            "visits",
            "visite.csv",
            subject=PATIENT_ID,
            fields={
                "visit_code": Code("visita", VISITS),
                "week": Integer("settimana"),
                "visit_date": Date("data_visita"),
            },
        ),
        TableMap(
            "mri",
            "rm.csv",
            subject=PATIENT_ID,
            fields={
                "visit_code": Code("visita", VISITS),
                "scan_date": Date("data_rm"),
                "field_strength_t": Decimal("campo_tesla", places=1),
                "gel_count": Integer("lesioni_gd"),
                "new_t2_count": Integer("lesioni_t2_nuove"),
                "cua_count": Integer("lesioni_cua"),
                "t2_volume_ml": Decimal("volume_t2_ml"),
                "brain_volume_ml": Decimal("volume_cerebrale_ml", places=1),
                "central_read": Code("lettura_centrale", YES_NO),
            },
        ),
        TableMap(
            "edss",
            "edss.csv",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("data_valutazione"),
                "edss": Decimal("edss", places=1),
                "fs_pyramidal": Integer("fs_piramidale"),
                "fs_cerebellar": Integer("fs_cerebellare"),
                "fs_brainstem": Integer("fs_tronco"),
                "fs_sensory": Integer("fs_sensitivo"),
                "fs_bowel_bladder": Integer("fs_sfinterico"),
                "fs_visual": Integer("fs_visivo"),
                "fs_cerebral": Integer("fs_cerebrale"),
                "ambulation_score": Integer("punteggio_deambulazione"),
                "rater_blinded": Code("valutatore_cieco", YES_NO),
            },
            note="The visit is assigned from the assessment date by the protocol windows.",
        ),
        TableMap(
            "msfc",
            "msfc.csv",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("data_valutazione"),
                "t25fw_trial1_s": Decimal("t25fw_1", places=1),
                "t25fw_trial2_s": Decimal("t25fw_2", places=1),
                "nhpt_dominant_trial1_s": Decimal("nhpt_dom_1", places=1),
                "nhpt_dominant_trial2_s": Decimal("nhpt_dom_2", places=1),
                "nhpt_nondominant_trial1_s": Decimal("nhpt_nondom_1", places=1),
                "nhpt_nondominant_trial2_s": Decimal("nhpt_nondom_2", places=1),
                "pasat3": Integer("pasat3"),
            },
            note="The visit is assigned from the assessment date by the protocol windows.",
        ),
        TableMap(
            "relapses",
            "ricadute.csv",
            subject=PATIENT_ID,
            fields={
                "onset_date": PartialDate("data_inizio"),
                "end_date": PartialDate("data_fine"),
                "severity": Code(
                    "gravita", {"lieve": "MILD", "moderata": "MODERATE", "grave": "SEVERE"}
                ),
                "recovery": Code(
                    "recupero", {"completo": "COMPLETE", "parziale": "PARTIAL", "nessuno": "NONE"}
                ),
                "steroids": Code("steroidi", YES_NO),
            },
        ),
        TableMap(
            "adverse_events",
            "eventi_avversi.csv",
            subject=PATIENT_ID,
            fields={
                "ae_number": Integer("n_evento"),
                "verbatim_term": Verbatim("termine_riportato"),
                "meddra_pt_code": Text("meddra_pt"),
                "meddra_soc_code": Text("meddra_soc"),
                "meddra_version": Text("versione_meddra"),
                "onset_date": PartialDate("data_inizio"),
                "end_date": PartialDate("data_fine"),
                "serious": Code("grave", YES_NO),
                "sae_death": Code("grave_decesso", YES_NO),
                "sae_life_threatening": Code("grave_pericolo_vita", YES_NO),
                "sae_hospitalisation": Code("grave_ospedalizzazione", YES_NO),
                "sae_disability": Code("grave_disabilita", YES_NO),
                "sae_congenital_anomaly": Code("grave_anomalia_congenita", YES_NO),
                "sae_other_important": Code("grave_altro", YES_NO),
                "ctcae_grade": Integer("grado_ctcae"),
                "relatedness_product": Code("correlazione_prodotto", RELATEDNESS),
                "relatedness_harvest": Code("correlazione_prelievo", RELATEDNESS),
                "outcome": Code(
                    "esito",
                    {
                        "risolto": "RECOVERED",
                        "in risoluzione": "RECOVERING",
                        "non risolto": "NOT_RECOVERED",
                        "risolto con postumi": "RECOVERED_WITH_SEQUELAE",
                        "fatale": "FATAL",
                        "sconosciuto": "UNKNOWN",
                    },
                ),
            },
        ),
        TableMap(
            "conmeds",
            "farmaci.csv",
            subject=PATIENT_ID,
            fields={
                "medication_verbatim": Verbatim("farmaco"),
                "atc_code": Text("codice_atc", upper=True),
                "atc_version": Text("versione_atc"),
                # A medication history: a course may have begun and ended long before the
                # trial ("98" is 1998 in both), and none ends after 2049.
                "start_date": PartialDate("data_inizio", century_start=vocabulary.HISTORY_CENTURY),
                "end_date": PartialDate("data_fine", century_start=vocabulary.HISTORY_CENTURY),
            },
            note="ATC codes as the Italian CRF recorded them (often pre-2024): the schema "
            "crosswalks them to atc_code_current.",
        ),
        TableMap(
            "labs",
            "esami.csv",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("data_prelievo"),
                "analyte": Code("esame", LAB_TESTS),
                "value_raw": Verbatim("valore"),
                "unit_raw": Verbatim("unita"),
                "value_reported": Decimal("valore"),
                "unit_reported": Code("unita", LAB_UNITS),
            },
            note="Long format, one row per test. Creatinine, glucose and bilirubin in mg/dL, "
            "haemoglobin in g/dL, lymphocytes per mm³ or 10^3/µL; the schema harmonises them.",
        ),
    ),
)
