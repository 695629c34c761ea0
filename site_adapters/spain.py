"""Spain: the Andalusian, Catalan and Madrid centres run OpenClinica 3.x, which exports one CDISC
ODM 1.3 XML full extract. Each shared table is one item group (``part``); the centre is the
site-level study (``StudyOID``) and the visit is the study event the form was entered in
(``StudyEventOID``). Coded items are read through their Spanish code-list labels (``@decode``,
``xml:lang="es"``). Integer and real items are numbers in ODM's own form ("10.4"), read as numbers
by the reader whatever the locale; numbers typed into text items are Spanish ("10,4"). Dates
typed into text items as d/m/yy (day and month often without a leading zero), OpenClinica date
items as yyyy-mm-dd and partial dates as yyyy-mm or yyyy. What OpenClinica users removed is still
in the extract, marked: the reader skips it (``removed-in-source``). The subject record carries
the DNI/NIE (``OpenClinica:UniqueIdentifier``) and the full date of birth: the reader drops both
unread."""

from federate.adapters import vocabulary
from federate.adapters.declaration import LocalId, SiteAdapter, TableMap
from federate.adapters.parsers import (
    Code,
    Date,
    Decimal,
    Integer,
    Locale,
    PartialDate,
    Text,
    Verbatim,
)
from federate.readers.odm import OdmReader

EXTRACT = "MESEMS_ES_odm1.3_fullExtract.xml"
# OpenClinica's human-readable study subject id; SubjectKey (SS_...) is its internal twin.
PATIENT_ID = LocalId("OpenClinica:StudySubjectID")
ISO = ("%Y-%m-%d",)  # how OpenClinica writes its own date items

CENTRES = {  # site-level studies of the national study S_MESEMSES
    "S_HUVR": "ES-SEV",  # Hospital Universitario Virgen del Rocío, Sevilla
    "S_HUVH": "ES-BCN",  # Hospital Universitari Vall d'Hebron, Barcelona
    "S_HCSC": "ES-MAD",  # Hospital Clínico San Carlos, Madrid
}
EVENTS = {
    "SE_SELECCION": "SCR",
    "SE_BASAL": "W0",
    "SE_SEMANA4": "W4",
    "SE_SEMANA12": "W12",
    "SE_SEMANA24": "W24",
    "SE_SEMANA28": "W28",
    "SE_SEMANA36": "W36",
    "SE_SEMANA48": "W48",
    "SE_NOPROGRAMADA": "UNS",  # repeating: one event per unscheduled visit
}
VISIT = Code("StudyEventOID", EVENTS)
VISIT_NOTE = "The visit is the study event the form was entered in."
YES_NO = {"Sí": True, "Si": True, "No": False}
RELATEDNESS = {
    "No relacionado": "NOT",
    "Improbable": "UNLIKELY",
    "Posible": "POSSIBLE",
    "Probable": "PROBABLE",
    "Definitiva": "DEFINITE",
}
LAB_TESTS = {
    "Creatinina": "CREAT",
    "Hemoglobina": "HGB",
    "Glucosa": "GLUC",
    "ALT (GPT)": "ALT",
    "AST (GOT)": "AST",
    "Linfocitos": "LYMPH",
    "Bilirrubina total": "BILI",
}
# A free-text item: each centre's laboratory spells units its own way.
LAB_UNITS = vocabulary.lab_units("mg/dL", "g/dL", "U/L", "UI/L", "10^3/µL", "x10^3/µL")


SPAIN = SiteAdapter(
    name="spain",
    country="es",
    version="1.0.0",
    title="Spain (ES national trial): OpenClinica 3.x CDISC ODM 1.3 XML extract",
    # Code lists may carry labels in several languages (Spanish, Catalan, English): Spanish.
    reader=OdmReader(keep_attributes=(PATIENT_ID.source,), decode=True, language="es"),
    format="odm",
    spreadsheet=vocabulary.COMMA_DECIMAL_EXCEL,  # the quarantine CSV, for its Excel
    locale=Locale(  # numbers typed into text items; ODM's integer and float items are numbers
        decimal=",",
        group=".",
        # Typed into text items, then OpenClinica's own date and partial date items (ISO).
        date_formats=("%d/%m/%y", "%d/%m/%Y", *ISO),
        month_formats=("%m/%Y", "%Y-%m"),
        century_start=vocabulary.TRIAL_CENTURY,  # visit dates: "13" is 2013
    ),
    tables=(
        TableMap(
            "subjects",
            EXTRACT,
            part="IG_DATOS_DEMOGRAFIA",
            subject=PATIENT_ID,
            fields={
                "centre": Code("StudyOID", CENTRES),
                "sex": Code("I_DATOS_SEXO@decode", {"Mujer": "F", "Hombre": "M"}),
                # The CRF asks the year only; the full date is the subject record's (dropped).
                "birth_year": Integer("I_DATOS_ANIO_NACIMIENTO"),
                "ms_course": Code(
                    "I_DATOS_FORMA_EM@decode",
                    {
                        "Remitente-recurrente (EMRR)": "RRMS",
                        "Secundaria progresiva (EMSP)": "SPMS",
                        "Primaria progresiva (EMPP)": "PPMS",
                    },
                ),
                "diagnosis_date": Date(
                    "I_DATOS_FECHA_DIAGNOSTICO", century_start=vocabulary.HISTORY_CENTURY
                ),
                # The 2016 amendment changed the criteria: the CRF records which applied.
                "eligibility_version": Code(
                    "I_DATOS_CRITERIOS@decode",
                    {"Protocolo original (2013)": "ES-2013", "Enmienda 2016": "ES-2016"},
                ),
            },
            dropped=("OpenClinica:UniqueIdentifier", "OpenClinica:DateOfBirth"),
            note=(
                "The centre is the site-level study the patient is enrolled in. The subject "
                "record's DNI/NIE and date of birth are vendor attributes the reader drops unread."
            ),
        ),
        TableMap(
            "randomisation",
            EXTRACT,
            part="IG_ALEAT_ALEATORIZACION",
            subject=PATIENT_ID,
            fields={
                "sequence": Code(
                    "I_ALEAT_SECUENCIA@decode",
                    {
                        "Células madre - placebo": "MSC_PLACEBO",
                        "Placebo - células madre": "PLACEBO_MSC",
                    },
                ),
                "randomisation_date": Date("I_ALEAT_FECHA_ALEATORIZACION", formats=ISO),
            },
        ),
        TableMap(
            "infusions",
            EXTRACT,
            part="IG_INFUS_INFUSION",
            subject=PATIENT_ID,
            fields={
                "period": Integer("I_INFUS_PERIODO"),
                "infusion_date": Date("I_INFUS_FECHA_INFUSION", formats=ISO),
                "product": Code(
                    "I_INFUS_PRODUCTO@decode",
                    {"Células madre mesenquimales": "MSC", "Placebo": "PLACEBO"},
                ),
                "dose_million_cells_per_kg": Decimal("I_INFUS_DOSIS"),
                "body_weight_kg": Decimal("I_INFUS_PESO", places=1),
                "viability_pct": Decimal("I_INFUS_VIABILIDAD", places=1),
                "lot_id": Text("I_INFUS_LOTE", upper=True),
            },
        ),
        TableMap(
            "visits",
            EXTRACT,
            part="IG_VISIT_VISITA",
            subject=PATIENT_ID,
            fields={
                "visit_code": VISIT,
                "week": Integer("I_VISIT_SEMANA"),
                "visit_date": Date("I_VISIT_FECHA_VISITA"),
            },
            note=VISIT_NOTE,
        ),
        TableMap(
            "mri",
            EXTRACT,
            part="IG_RESON_RM",
            subject=PATIENT_ID,
            fields={
                "visit_code": VISIT,
                "scan_date": Date("I_RESON_FECHA_RM"),
                "field_strength_t": Decimal("I_RESON_CAMPO_TESLA", places=1),
                "gel_count": Integer("I_RESON_LESIONES_GD"),
                "new_t2_count": Integer("I_RESON_LESIONES_T2_NUEVAS"),
                "cua_count": Integer("I_RESON_LESIONES_CUA"),
                "t2_volume_ml": Decimal("I_RESON_VOLUMEN_T2"),
                "brain_volume_ml": Decimal("I_RESON_VOLUMEN_CEREBRAL", places=1),
                "central_read": Code("I_RESON_LECTURA_CENTRAL@decode", YES_NO),
            },
            note=VISIT_NOTE,
        ),
        TableMap(
            "edss",
            EXTRACT,
            part="IG_EDSS_EDSS",
            subject=PATIENT_ID,
            fields={
                "visit_code": VISIT,
                "assessment_date": Date("I_EDSS_FECHA_EVALUACION"),
                "edss": Decimal("I_EDSS_EDSS", places=1),
                "fs_pyramidal": Integer("I_EDSS_FS_PIRAMIDAL"),
                "fs_cerebellar": Integer("I_EDSS_FS_CEREBELOSO"),
                "fs_brainstem": Integer("I_EDSS_FS_TRONCO"),
                "fs_sensory": Integer("I_EDSS_FS_SENSITIVO"),
                "fs_bowel_bladder": Integer("I_EDSS_FS_ESFINTERES"),
                "fs_visual": Integer("I_EDSS_FS_VISUAL"),
                "fs_cerebral": Integer("I_EDSS_FS_CEREBRAL"),
                "ambulation_score": Integer("I_EDSS_DEAMBULACION"),
                "rater_blinded": Code("I_EDSS_EVALUADOR_CIEGO@decode", YES_NO),
            },
            note=VISIT_NOTE,
        ),
        TableMap(
            "msfc",
            EXTRACT,
            part="IG_MSFC_MSFC",
            subject=PATIENT_ID,
            fields={
                "visit_code": VISIT,
                "assessment_date": Date("I_MSFC_FECHA_EVALUACION"),
                "t25fw_trial1_s": Decimal("I_MSFC_T25FW_1", places=1),
                "t25fw_trial2_s": Decimal("I_MSFC_T25FW_2", places=1),
                "nhpt_dominant_trial1_s": Decimal("I_MSFC_9HPT_DOM_1", places=1),
                "nhpt_dominant_trial2_s": Decimal("I_MSFC_9HPT_DOM_2", places=1),
                "nhpt_nondominant_trial1_s": Decimal("I_MSFC_9HPT_NODOM_1", places=1),
                "nhpt_nondominant_trial2_s": Decimal("I_MSFC_9HPT_NODOM_2", places=1),
                "pasat3": Integer("I_MSFC_PASAT3"),
            },
            note=VISIT_NOTE,
        ),
        TableMap(
            "relapses",
            EXTRACT,
            part="IG_BROTE_BROTES",
            subject=PATIENT_ID,
            fields={
                "onset_date": PartialDate("I_BROTE_FECHA_INICIO"),
                "end_date": PartialDate("I_BROTE_FECHA_FIN"),
                "severity": Code(
                    "I_BROTE_GRAVEDAD@decode",
                    {"Leve": "MILD", "Moderado": "MODERATE", "Grave": "SEVERE"},
                ),
                "recovery": Code(
                    "I_BROTE_RECUPERACION@decode",
                    {"Completa": "COMPLETE", "Parcial": "PARTIAL", "Ninguna": "NONE"},
                ),
                "steroids": Code("I_BROTE_CORTICOIDES@decode", YES_NO),
            },
            note="A repeating group of the log event.",
        ),
        TableMap(
            "adverse_events",
            EXTRACT,
            part="IG_ACONT_AA",
            subject=PATIENT_ID,
            fields={
                "ae_number": Integer("I_ACONT_NUMERO"),
                "verbatim_term": Verbatim("I_ACONT_TERMINO"),
                "meddra_pt_code": Text("I_ACONT_MEDDRA_PT"),
                "meddra_soc_code": Text("I_ACONT_MEDDRA_SOC"),
                "meddra_version": Text("I_ACONT_VERSION_MEDDRA"),
                "onset_date": PartialDate("I_ACONT_FECHA_INICIO"),
                "end_date": PartialDate("I_ACONT_FECHA_FIN"),
                "serious": Code("I_ACONT_GRAVE@decode", YES_NO),
                "sae_death": Code("I_ACONT_GRAVE_MUERTE@decode", YES_NO),
                "sae_life_threatening": Code("I_ACONT_GRAVE_RIESGO_VITAL@decode", YES_NO),
                "sae_hospitalisation": Code("I_ACONT_GRAVE_HOSPITALIZACION@decode", YES_NO),
                "sae_disability": Code("I_ACONT_GRAVE_DISCAPACIDAD@decode", YES_NO),
                "sae_congenital_anomaly": Code("I_ACONT_GRAVE_ANOMALIA_CONG@decode", YES_NO),
                "sae_other_important": Code("I_ACONT_GRAVE_OTRA@decode", YES_NO),
                "ctcae_grade": Integer("I_ACONT_GRADO_CTCAE"),
                "relatedness_product": Code("I_ACONT_RELACION_PRODUCTO@decode", RELATEDNESS),
                "relatedness_harvest": Code("I_ACONT_RELACION_EXTRACCION@decode", RELATEDNESS),
                "outcome": Code(
                    "I_ACONT_DESENLACE@decode",
                    {
                        "Recuperado/resuelto": "RECOVERED",
                        "En recuperación": "RECOVERING",
                        "No recuperado": "NOT_RECOVERED",
                        "Recuperado con secuelas": "RECOVERED_WITH_SEQUELAE",
                        "Mortal": "FATAL",
                        "Desconocido": "UNKNOWN",
                    },
                ),
            },
            note="A repeating group of the log event; terms in Spanish.",
        ),
        TableMap(
            "conmeds",
            EXTRACT,
            part="IG_MEDIC_MEDCONCOMITANTE",
            subject=PATIENT_ID,
            fields={
                "medication_verbatim": Verbatim("I_MEDIC_MEDICAMENTO"),
                "atc_code": Text("I_MEDIC_CODIGO_ATC", upper=True),
                "atc_version": Text("I_MEDIC_VERSION_ATC"),
                # Treatments before the trial: "98" is 1998.
                "start_date": PartialDate(
                    "I_MEDIC_FECHA_INICIO", century_start=vocabulary.HISTORY_CENTURY
                ),
                "end_date": PartialDate(
                    "I_MEDIC_FECHA_FIN", century_start=vocabulary.HISTORY_CENTURY
                ),
            },
            note=(
                "A repeating group of the log event. ATC codes as each centre coded them "
                "(2017, 2019 or 2022 index): the schema crosswalks them to atc_code_current."
            ),
        ),
        TableMap(
            "labs",
            EXTRACT,
            part="IG_ANALI_ANALITICA",
            subject=PATIENT_ID,
            fields={
                "visit_code": VISIT,
                "assessment_date": Date("I_ANALI_FECHA_EXTRACCION"),
                "analyte": Code("I_ANALI_PRUEBA@decode", LAB_TESTS),
                "value_raw": Verbatim("I_ANALI_RESULTADO"),
                "unit_raw": Verbatim("I_ANALI_UNIDAD"),
                "value_reported": Decimal("I_ANALI_RESULTADO"),
                "unit_reported": Code("I_ANALI_UNIDAD", LAB_UNITS),
            },
            note=(
                "A repeating group, one row per test. Creatinine, glucose and bilirubin in "
                "mg/dL, haemoglobin in g/dL, lymphocytes in 10^3/µL; the schema harmonises them."
            ),
        ),
    ),
    notes=(
        f"One file: rename the OpenClinica full extract (ODM 1.3 with OpenClinica extensions) to "
        f"`{EXTRACT}`, exported with the study's metadata: each item's type (`ItemDef DataType`) "
        "and each code's label are read from it.",
        "**Numbers.** OpenClinica writes the items the CRF defines as integer or real "
        "(`DataType` `integer` or `float`) in ODM's own form, whatever the language: `.` as "
        "decimal mark and no digit grouping (`10.4`, `0.72`, `1500`). They are read as numbers "
        "as written. The decimal mark `,` and the grouping `.` above apply only to numbers "
        "typed into text items (`DataType` `text`), as in `10,4`. A value of an integer or real "
        "item that is not in ODM's form (`10,4` in a real item) quarantines its row.",
        "**Dates.** Dates typed into text items are day first: `12/6/14`, `12/06/2014` (day "
        "and month with or without a leading zero). OpenClinica's own date items are written "
        "`2014-06-12`, its partial dates `2014-06` or `2014`: every date column whose row "
        "lists these forms reads them. Two-digit years fall in 2000–2099, except in the "
        "columns whose row says 1950–2049 (dates before the trial: diagnosis, earlier "
        "treatments): `98` is 1998 there.",
        "**Records removed in OpenClinica.** OpenClinica keeps what a user removes and exports "
        "it, marked: a subject, event or form with `OpenClinica:Status` `removed`, "
        "`auto-removed` or `invalid`, a row of a repeating group with "
        '`OpenClinica:Removed="Yes"`. Such a record, with everything recorded under it, is '
        "never pooled: each of its rows is counted in the manifest as skipped, "
        "`removed-in-source`.",
        "**Code lists.** Coded items are read through their code list's Spanish label "
        '(`<TranslatedText xml:lang="es">`, or `es-ES`), else its label without a language, '
        "else its only label. A code with different labels in other languages and none in "
        "Spanish stops the run (exit 2, naming the code list): which one is meant cannot be "
        "told.",
        "Of the vendor attributes, only `OpenClinica:StudySubjectID` is read as data (it is "
        "pseudonymised); `OpenClinica:Status` and `OpenClinica:Removed` are looked at only to "
        "skip removed records; the others (DNI/NIE, date of birth, sex...) and the audit logs "
        "are skipped unread and listed by name in the manifest.",
    ),
)
