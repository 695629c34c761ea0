"""A Spanish OpenClinica 3.x full extract, written by hand from docs/sites/spain.md and from how
OpenClinica 3.x writes one (see the real JUNO extract in the corpus): the ODM 1.3 namespace with
the ``OpenClinica:`` extension namespace, one ``ClinicalData`` per site-level study,
``SubjectData`` / ``StudyEventData`` / ``FormData`` with their ``OpenClinica:`` attributes,
``ItemGroupData ... TransactionType="Insert"`` and ``ItemData Value="..."``; metadata with
``ItemDef DataType`` and ``CodeList`` s. Nothing here comes from ``federate.synth`` or the
adapter's parsers: every value is a literal, next to what the pooled table must hold.

Three live patients (one per centre) and what OpenClinica keeps after removal: a removed
patient, a removed unscheduled event, a form marked invalid and two removed rows of repeating
groups. Options write the same data the ways OpenClinica may: numbers in real and integer items
(ODM's '.') or typed into text items (Spanish ','), code lists bilingual or untagged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

EXTRACT = "MESEMS_ES_odm1.3_fullExtract.xml"
OC_NS = "http://www.openclinica.org/ns/odm_ext_v130/v3.1"
D = dt.date

# --- metadata: item groups, their items and types, code lists ---------------------------------

# ItemOID -> (DataType when numbers are ODM's, code list). "float*" items are the ones a Spanish
# CRF may define as text instead (numbers typed with a decimal comma).
ITEMS: dict[str, dict[str, tuple[str, str | None]]] = {
    "IG_DATOS_DEMOGRAFIA": {
        "I_DATOS_SEXO": ("integer", "CL_SEXO"),
        "I_DATOS_ANIO_NACIMIENTO": ("integer*", None),
        "I_DATOS_FORMA_EM": ("integer", "CL_FORMA"),
        "I_DATOS_FECHA_DIAGNOSTICO": ("text", None),
        "I_DATOS_CRITERIOS": ("integer", "CL_CRITERIOS"),
    },
    "IG_ALEAT_ALEATORIZACION": {
        "I_ALEAT_SECUENCIA": ("integer", "CL_SECUENCIA"),
        "I_ALEAT_FECHA_ALEATORIZACION": ("date", None),
    },
    "IG_INFUS_INFUSION": {
        "I_INFUS_PERIODO": ("integer*", None),
        "I_INFUS_FECHA_INFUSION": ("date", None),
        "I_INFUS_PRODUCTO": ("integer", "CL_PRODUCTO"),
        "I_INFUS_DOSIS": ("float*", None),
        "I_INFUS_PESO": ("float*", None),
        "I_INFUS_VIABILIDAD": ("float*", None),
        "I_INFUS_LOTE": ("text", None),
    },
    "IG_VISIT_VISITA": {
        "I_VISIT_SEMANA": ("integer*", None),
        "I_VISIT_FECHA_VISITA": ("text", None),
    },
    "IG_RESON_RM": {
        "I_RESON_FECHA_RM": ("text", None),
        "I_RESON_CAMPO_TESLA": ("float*", None),
        "I_RESON_LESIONES_GD": ("integer*", None),
        "I_RESON_LESIONES_T2_NUEVAS": ("integer*", None),
        "I_RESON_LESIONES_CUA": ("integer*", None),
        "I_RESON_VOLUMEN_T2": ("float*", None),
        "I_RESON_VOLUMEN_CEREBRAL": ("float*", None),
        "I_RESON_LECTURA_CENTRAL": ("integer", "CL_SINO"),
    },
    "IG_EDSS_EDSS": {
        "I_EDSS_FECHA_EVALUACION": ("text", None),
        "I_EDSS_EDSS": ("float*", None),
        **{
            f"I_EDSS_FS_{fs}": ("integer*", None)
            for fs in (
                "PIRAMIDAL",
                "CEREBELOSO",
                "TRONCO",
                "SENSITIVO",
                "ESFINTERES",
                "VISUAL",
                "CEREBRAL",
            )
        },
        "I_EDSS_DEAMBULACION": ("integer*", None),
        "I_EDSS_EVALUADOR_CIEGO": ("integer", "CL_SINO"),
    },
    "IG_MSFC_MSFC": {
        "I_MSFC_FECHA_EVALUACION": ("text", None),
        **{
            f"I_MSFC_{test}": ("float*", None)
            for test in (
                "T25FW_1",
                "T25FW_2",
                "9HPT_DOM_1",
                "9HPT_DOM_2",
                "9HPT_NODOM_1",
                "9HPT_NODOM_2",
            )
        },
        "I_MSFC_PASAT3": ("integer*", None),
    },
    "IG_BROTE_BROTES": {
        "I_BROTE_FECHA_INICIO": ("text", None),
        "I_BROTE_FECHA_FIN": ("text", None),
        "I_BROTE_GRAVEDAD": ("integer", "CL_GRAVEDAD"),
        "I_BROTE_RECUPERACION": ("integer", "CL_RECUPERACION"),
        "I_BROTE_CORTICOIDES": ("integer", "CL_SINO"),
    },
    "IG_ACONT_AA": {
        "I_ACONT_NUMERO": ("integer*", None),
        "I_ACONT_TERMINO": ("text", None),
        "I_ACONT_MEDDRA_PT": ("text", None),
        "I_ACONT_MEDDRA_SOC": ("text", None),
        "I_ACONT_VERSION_MEDDRA": ("text", None),
        "I_ACONT_FECHA_INICIO": ("partialDate", None),
        "I_ACONT_FECHA_FIN": ("partialDate", None),
        **{
            f"I_ACONT_GRAVE{sae}": ("integer", "CL_SINO")
            for sae in (
                "",
                "_MUERTE",
                "_RIESGO_VITAL",
                "_HOSPITALIZACION",
                "_DISCAPACIDAD",
                "_ANOMALIA_CONG",
                "_OTRA",
            )
        },
        "I_ACONT_GRADO_CTCAE": ("integer*", None),
        "I_ACONT_RELACION_PRODUCTO": ("integer", "CL_RELACION"),
        "I_ACONT_RELACION_EXTRACCION": ("integer", "CL_RELACION"),
        "I_ACONT_DESENLACE": ("integer", "CL_DESENLACE"),
    },
    "IG_MEDIC_MEDCONCOMITANTE": {
        "I_MEDIC_MEDICAMENTO": ("text", None),
        "I_MEDIC_CODIGO_ATC": ("text", None),
        "I_MEDIC_VERSION_ATC": ("text", None),
        "I_MEDIC_FECHA_INICIO": ("text", None),
        "I_MEDIC_FECHA_FIN": ("partialDate", None),
    },
    "IG_ANALI_ANALITICA": {
        "I_ANALI_FECHA_EXTRACCION": ("date", None),
        "I_ANALI_PRUEBA": ("integer", "CL_PRUEBA"),
        "I_ANALI_RESULTADO": ("text", None),  # results with their units, typed as text
        "I_ANALI_UNIDAD": ("text", None),
    },
}
REPEATING = {"IG_BROTE_BROTES", "IG_ACONT_AA", "IG_MEDIC_MEDCONCOMITANTE", "IG_ANALI_ANALITICA"}

# CodeListOID -> coded value -> {xml:lang ("" untagged): label}. Barcelona's CRF is bilingual
# (Catalan first); others carry English next to Spanish, or one untagged label.
SI_NO = {"1": {"en": "Yes", "es": "Sí"}, "0": {"en": "No", "es": "No"}}
CODELISTS: dict[str, dict[str, dict[str, str]]] = {
    "CL_SEXO": {"1": {"ca": "Dona", "es": "Mujer"}, "2": {"ca": "Home", "es": "Hombre"}},
    "CL_FORMA": {
        "1": {"en": "Relapsing-remitting", "es": "Remitente-recurrente (EMRR)"},
        "2": {"en": "Secondary progressive", "es": "Secundaria progresiva (EMSP)"},
        "3": {"en": "Primary progressive", "es": "Primaria progresiva (EMPP)"},
    },
    "CL_CRITERIOS": {
        "1": {"": "Protocolo original (2013)"},
        "2": {"": "Enmienda 2016"},
    },
    "CL_SECUENCIA": {
        "1": {"ca": "Cèl·lules mare - placebo", "es": "Células madre - placebo"},
        "2": {"ca": "Placebo - cèl·lules mare", "es": "Placebo - células madre"},
    },
    "CL_PRODUCTO": {
        "1": {"en": "Mesenchymal stem cells", "es": "Células madre mesenquimales"},
        "2": {"en": "Placebo", "es": "Placebo"},
    },
    "CL_SINO": SI_NO,
    "CL_GRAVEDAD": {
        "1": {"ca": "Lleu", "es": "Leve"},
        "2": {"ca": "Moderat", "es": "Moderado"},
        "3": {"ca": "Greu", "es": "Grave"},
    },
    # An untagged label next to the Spanish one: the Spanish one is read.
    "CL_RECUPERACION": {
        "1": {"": "Complete", "es": "Completa"},
        "2": {"": "Partial", "es": "Parcial"},
        "3": {"": "None", "es": "Ninguna"},
    },
    "CL_RELACION": {
        "1": {"en": "Not related", "es": "No relacionado"},
        "2": {"en": "Unlikely", "es": "Improbable"},
        "3": {"en": "Possible", "es": "Posible"},
        "4": {"en": "Probable", "es": "Probable"},
        "5": {"en": "Definite", "es": "Definitiva"},
    },
    "CL_DESENLACE": {
        "1": {"en": "Recovered/resolved", "es": "Recuperado/resuelto"},
        "2": {"en": "Recovering", "es": "En recuperación"},
        "3": {"en": "Not recovered", "es": "No recuperado"},
        "4": {"en": "Recovered with sequelae", "es": "Recuperado con secuelas"},
        "5": {"en": "Fatal", "es": "Mortal"},
        "6": {"en": "Unknown", "es": "Desconocido"},
    },
    "CL_PRUEBA": {
        "1": {"en": "Creatinine", "es": "Creatinina"},
        "2": {"en": "Haemoglobin", "es": "Hemoglobina"},
        "3": {"en": "Glucose", "es": "Glucosa"},
        "4": {"en": "ALT", "es": "ALT (GPT)"},
        "5": {"en": "AST", "es": "AST (GOT)"},
        "6": {"en": "Lymphocytes", "es": "Linfocitos"},
        "7": {"en": "Total bilirubin", "es": "Bilirrubina total"},
    },
}

# --- the data: rows as OpenClinica nests them, each with what the pool must hold ----------------


@dataclass
class Row:
    """One ItemGroupData: item values as written (numbers in ODM's form; ``write(numbers=
    "text")`` types them into text items with a decimal comma), and the pooled row it must give
    (None: not pooled)."""

    group: str
    values: dict[str, str]
    pooled: dict[str, Any] | None
    removed: bool = False  # OpenClinica:Removed="Yes"


@dataclass
class Form:
    oid: str
    rows: list[Row]
    status: str = "data entry complete"


@dataclass
class Event:
    oid: str
    start: str
    forms: list[Form]
    repeat: int | None = None
    status: str = "completed"


@dataclass
class Subject:
    local_id: str
    study: str
    unique_id: str
    birth: str
    sex: str
    events: list[Event]
    status: str = "available"


def _row(group: str, pooled: dict[str, Any] | None, removed: bool = False, **values: str) -> Row:
    return Row(group, values, pooled, removed)


def _form(group: str, *rows: Row, status: str = "data entry complete") -> Form:
    return Form("F_" + group.split("_")[1] + "_V10", list(rows), status)


NO_SAE = {
    f"sae_{k}": None
    for k in (
        "death",
        "life_threatening",
        "hospitalisation",
        "disability",
        "congenital_anomaly",
        "other_important",
    )
}


def patient_sev() -> Subject:
    """Sevilla: every table, a removed unscheduled event and removed rows of repeating groups."""
    p = "ES-SEV-001"
    scr = Event(
        "SE_SELECCION",
        "2014-04-02",
        [
            _form(
                "IG_DATOS_DEMOGRAFIA",
                _row(
                    "IG_DATOS_DEMOGRAFIA",
                    {
                        "centre": "ES-SEV",
                        "sex": "F",
                        "birth_year": 1981,
                        "ms_course": "RRMS",
                        "diagnosis_date": D(1998, 9, 3),  # "98" is 1998 (before the trial)
                        "eligibility_version": "ES-2013",
                    },
                    I_DATOS_SEXO="1",
                    I_DATOS_ANIO_NACIMIENTO="1981",
                    I_DATOS_FORMA_EM="1",
                    I_DATOS_FECHA_DIAGNOSTICO="3/9/98",
                    I_DATOS_CRITERIOS="1",
                ),
            ),
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "SCR", "week": -6, "visit_date": D(2014, 4, 2)},
                    I_VISIT_SEMANA="-6",
                    I_VISIT_FECHA_VISITA="2/4/14",
                ),
            ),
            _form(
                "IG_RESON_RM",
                _row(
                    "IG_RESON_RM",
                    {
                        "visit_code": "SCR",
                        "scan_date": D(2014, 4, 2),
                        "field_strength_t": 1.5,
                        "gel_count": 2,
                        "new_t2_count": 1,
                        "cua_count": 3,
                        "t2_volume_ml": 10.4,
                        "brain_volume_ml": 1482.6,
                        "central_read": True,
                    },
                    I_RESON_FECHA_RM="2/4/14",
                    I_RESON_CAMPO_TESLA="1.5",
                    I_RESON_LESIONES_GD="2",
                    I_RESON_LESIONES_T2_NUEVAS="1",
                    I_RESON_LESIONES_CUA="3",
                    I_RESON_VOLUMEN_T2="10.4",
                    I_RESON_VOLUMEN_CEREBRAL="1482.6",
                    I_RESON_LECTURA_CENTRAL="1",
                ),
            ),
            _form(
                "IG_EDSS_EDSS",
                _row(
                    "IG_EDSS_EDSS",
                    {
                        "visit_code": "SCR",
                        "assessment_date": D(2014, 4, 2),
                        "edss": 3.5,
                        "fs_pyramidal": 2,
                        "fs_cerebellar": 1,
                        "fs_brainstem": 0,
                        "fs_sensory": 2,
                        "fs_bowel_bladder": 1,
                        "fs_visual": 0,
                        "fs_cerebral": 1,
                        "ambulation_score": None,
                        "rater_blinded": True,
                    },
                    I_EDSS_FECHA_EVALUACION="02/04/2014",
                    I_EDSS_EDSS="3.5",
                    I_EDSS_FS_PIRAMIDAL="2",
                    I_EDSS_FS_CEREBELOSO="1",
                    I_EDSS_FS_TRONCO="0",
                    I_EDSS_FS_SENSITIVO="2",
                    I_EDSS_FS_ESFINTERES="1",
                    I_EDSS_FS_VISUAL="0",
                    I_EDSS_FS_CEREBRAL="1",
                    I_EDSS_EVALUADOR_CIEGO="1",
                ),
            ),
            _form(
                "IG_MSFC_MSFC",
                _row(
                    "IG_MSFC_MSFC",
                    {
                        "visit_code": "SCR",
                        "assessment_date": D(2014, 4, 2),
                        "t25fw_trial1_s": 10.4,
                        "t25fw_trial2_s": 9.85,
                        "nhpt_dominant_trial1_s": 21.3,
                        "nhpt_dominant_trial2_s": 22.06,
                        "nhpt_nondominant_trial1_s": 24.1,
                        "nhpt_nondominant_trial2_s": 23.9,
                        "pasat3": 48,
                    },
                    I_MSFC_FECHA_EVALUACION="2/4/14",
                    I_MSFC_T25FW_1="10.4",
                    I_MSFC_T25FW_2="9.85",
                    I_MSFC_9HPT_DOM_1="21.3",
                    I_MSFC_9HPT_DOM_2="22.06",
                    I_MSFC_9HPT_NODOM_1="24.1",
                    I_MSFC_9HPT_NODOM_2="23.9",
                    I_MSFC_PASAT3="48",
                ),
            ),
            _form(
                "IG_ANALI_ANALITICA",
                _lab("SCR", D(2014, 4, 2), "1", "0,72", "mg/dL", "CREAT", 0.72, "mg/dL"),
                _lab("SCR", D(2014, 4, 2), "2", "13,4", "g/dL", "HGB", 13.4, "g/dL"),
                _lab("SCR", D(2014, 4, 2), "3", "95", "mg/dL", None, 0, "", removed=True),
            ),
        ],
    )
    w0 = Event(
        "SE_BASAL",
        "2014-05-20",
        [
            _form(
                "IG_ALEAT_ALEATORIZACION",
                _row(
                    "IG_ALEAT_ALEATORIZACION",
                    {"sequence": "MSC_PLACEBO", "randomisation_date": D(2014, 5, 15)},
                    I_ALEAT_SECUENCIA="1",
                    I_ALEAT_FECHA_ALEATORIZACION="2014-05-15",
                ),
            ),
            _form(
                "IG_INFUS_INFUSION",
                _row(
                    "IG_INFUS_INFUSION",
                    {
                        "period": 1,
                        "infusion_date": D(2014, 5, 20),
                        "product": "MSC",
                        "dose_million_cells_per_kg": 1.5,
                        "body_weight_kg": 68.4,
                        "viability_pct": 92.5,
                        "lot_id": "LT-2014-017",
                    },
                    I_INFUS_PERIODO="1",
                    I_INFUS_FECHA_INFUSION="2014-05-20",
                    I_INFUS_PRODUCTO="1",
                    I_INFUS_DOSIS="1.5",
                    I_INFUS_PESO="68.4",
                    I_INFUS_VIABILIDAD="92.5",
                    I_INFUS_LOTE="lt-2014-017",
                ),
            ),
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "W0", "week": 0, "visit_date": D(2014, 5, 20)},
                    I_VISIT_SEMANA="0",
                    I_VISIT_FECHA_VISITA="20/05/2014",
                ),
            ),
            _form(
                "IG_RESON_RM",
                _row(
                    "IG_RESON_RM",
                    {
                        "visit_code": "W0",
                        "scan_date": D(2014, 5, 20),
                        "field_strength_t": 3.0,
                        "gel_count": 0,
                        "new_t2_count": None,
                        "cua_count": None,
                        "t2_volume_ml": 0.72,
                        "brain_volume_ml": 1501.0,
                        "central_read": False,
                    },
                    I_RESON_FECHA_RM="20/5/14",
                    I_RESON_CAMPO_TESLA="3",
                    I_RESON_LESIONES_GD="0",
                    I_RESON_VOLUMEN_T2="0.72",
                    I_RESON_VOLUMEN_CEREBRAL="1501",
                    I_RESON_LECTURA_CENTRAL="0",
                ),
            ),
        ],
    )
    w24 = Event(
        "SE_SEMANA24",
        "2014-11-04",
        [
            _form(
                "IG_INFUS_INFUSION",
                _row(
                    "IG_INFUS_INFUSION",
                    {
                        "period": 2,
                        "infusion_date": D(2014, 11, 4),
                        "product": "PLACEBO",
                        "dose_million_cells_per_kg": None,
                        "body_weight_kg": 67.9,
                        "viability_pct": None,
                        "lot_id": None,
                    },
                    I_INFUS_PERIODO="2",
                    I_INFUS_FECHA_INFUSION="2014-11-04",
                    I_INFUS_PRODUCTO="2",
                    I_INFUS_PESO="67.9",
                ),
            ),
        ],
    )
    uns = Event(
        "SE_NOPROGRAMADA",
        "2014-08-09",
        [
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "UNS", "week": None, "visit_date": D(2014, 8, 9)},
                    I_VISIT_FECHA_VISITA="9/8/14",
                ),
            )
        ],
        repeat=1,
    )
    # Entered for the wrong patient, then removed in OpenClinica: its rows are not the patient's.
    removed_uns = Event(
        "SE_NOPROGRAMADA",
        "2014-09-30",
        [
            _form(
                "IG_VISIT_VISITA",
                _row("IG_VISIT_VISITA", None, I_VISIT_FECHA_VISITA="30/9/14"),
                status="auto-removed",
            ),
            _form(
                "IG_RESON_RM",
                _row(
                    "IG_RESON_RM",
                    None,
                    I_RESON_FECHA_RM="30/9/14",
                    I_RESON_CAMPO_TESLA="1.5",
                    I_RESON_LESIONES_GD="7",
                    I_RESON_LECTURA_CENTRAL="0",
                ),
                status="auto-removed",
            ),
        ],
        repeat=2,
        status="removed",
    )
    logs = Event(
        "SE_REGISTROS",
        "2014-04-02",
        [
            _form(
                "IG_BROTE_BROTES",
                _row(
                    "IG_BROTE_BROTES",
                    {
                        "onset_date": D(2014, 7, 1),
                        "onset_date_precision": "month",
                        "onset_date_raw": "07/2014",
                        "end_date": D(2014, 7, 25),
                        "end_date_precision": "day",
                        "end_date_raw": "25/7/14",
                        "severity": "MODERATE",
                        "recovery": "COMPLETE",
                        "steroids": True,
                    },
                    I_BROTE_FECHA_INICIO="07/2014",
                    I_BROTE_FECHA_FIN="25/7/14",
                    I_BROTE_GRAVEDAD="2",
                    I_BROTE_RECUPERACION="1",
                    I_BROTE_CORTICOIDES="1",
                ),
            ),
            _form(
                "IG_ACONT_AA",
                _ae(
                    1,
                    "Cefalea tras la infusión",
                    "2014-05-21",
                    (D(2014, 5, 21), "day"),
                    "2014-05-23",
                    (D(2014, 5, 23), "day"),
                    relatedness=("3", "POSSIBLE"),
                ),
                _ae(2, "Náuseas", "2014-05-21", None, None, None, removed=True),
                _ae(
                    3,
                    "Dolor lumbar tras la punción",
                    "2014-06",
                    (D(2014, 6, 1), "month"),
                    None,
                    None,
                    relatedness=("1", "NOT"),
                ),
            ),
            _form(
                "IG_MEDIC_MEDCONCOMITANTE",
                _row(
                    "IG_MEDIC_MEDCONCOMITANTE",
                    {
                        "medication_verbatim": "Interferón beta-1a",
                        "atc_code": "L03AB07",
                        "atc_version": "2019",
                        "start_date": D(1998, 3, 15),  # "98" is 1998 (before the trial)
                        "start_date_precision": "day",
                        "start_date_raw": "15/3/98",
                        "end_date": D(2013, 6, 1),
                        "end_date_precision": "month",
                        "end_date_raw": "2013-06",
                    },
                    I_MEDIC_MEDICAMENTO="Interferón beta-1a",
                    I_MEDIC_CODIGO_ATC="L03AB07",
                    I_MEDIC_VERSION_ATC="2019",
                    I_MEDIC_FECHA_INICIO="15/3/98",
                    I_MEDIC_FECHA_FIN="2013-06",
                ),
            ),
        ],
    )
    return Subject(
        p, "S_HUVR", "54362315K", "1981-06-14", "f", [scr, w0, uns, removed_uns, w24, logs]
    )


def _lab(
    visit: str,
    day: dt.date,
    test: str,
    value: str,
    unit: str,
    analyte: str | None,
    reported: float,
    canonical: str,
    removed: bool = False,
) -> Row:
    pooled = {
        "visit_code": visit,
        "assessment_date": day,
        "analyte": analyte,
        "value_raw": value,
        "unit_raw": unit,
        "value_reported": reported,
        "unit_reported": canonical,
    }
    return _row(
        "IG_ANALI_ANALITICA",
        None if removed else pooled,
        removed,
        I_ANALI_FECHA_EXTRACCION=day.isoformat(),
        I_ANALI_PRUEBA=test,
        I_ANALI_RESULTADO=value,
        I_ANALI_UNIDAD=unit,
    )


def _ae(
    number: int,
    term: str,
    onset: str,
    onset_is: tuple[dt.date, str] | None,
    end: str | None,
    end_is: tuple[dt.date, str] | None,
    relatedness: tuple[str, str] = ("1", "NOT"),
    removed: bool = False,
) -> Row:
    values = {
        "I_ACONT_NUMERO": str(number),
        "I_ACONT_TERMINO": term,
        "I_ACONT_MEDDRA_PT": "10019211",
        "I_ACONT_MEDDRA_SOC": "10029205",
        "I_ACONT_VERSION_MEDDRA": "17.0",
        "I_ACONT_FECHA_INICIO": onset,
        "I_ACONT_GRAVE": "0",
        "I_ACONT_GRADO_CTCAE": "1",
        "I_ACONT_RELACION_PRODUCTO": relatedness[0],
        "I_ACONT_DESENLACE": "1",
    }
    if end:
        values["I_ACONT_FECHA_FIN"] = end
    pooled = None
    if onset_is:
        pooled = {
            "ae_number": number,
            "verbatim_term": term,
            "meddra_pt_code": "10019211",
            "meddra_soc_code": "10029205",
            "meddra_version": "17.0",
            "onset_date": onset_is[0],
            "onset_date_precision": onset_is[1],
            "onset_date_raw": onset,
            "end_date": end_is[0] if end_is else None,
            "end_date_precision": end_is[1] if end_is else None,
            "end_date_raw": end,
            "serious": False,
            **NO_SAE,
            "ctcae_grade": 1,
            "relatedness_product": relatedness[1],
            "relatedness_harvest": None,
            "outcome": "RECOVERED",
        }
    return Row("IG_ACONT_AA", values, None if removed else pooled, removed)


def patient_bcn() -> Subject:
    """Barcelona: a form marked invalid (its EDSS row is not pooled), a serious AE."""
    p = "ES-BCN-002"
    scr = Event(
        "SE_SELECCION",
        "2016-09-01",
        [
            _form(
                "IG_DATOS_DEMOGRAFIA",
                _row(
                    "IG_DATOS_DEMOGRAFIA",
                    {
                        "centre": "ES-BCN",
                        "sex": "M",
                        "birth_year": 1975,
                        "ms_course": "SPMS",
                        "diagnosis_date": D(2008, 11, 20),
                        "eligibility_version": "ES-2016",
                    },
                    I_DATOS_SEXO="2",
                    I_DATOS_ANIO_NACIMIENTO="1975",
                    I_DATOS_FORMA_EM="2",
                    I_DATOS_FECHA_DIAGNOSTICO="20/11/08",
                    I_DATOS_CRITERIOS="2",
                ),
            ),
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "SCR", "week": -2, "visit_date": D(2016, 9, 1)},
                    I_VISIT_SEMANA="-2",
                    I_VISIT_FECHA_VISITA="1/9/16",
                ),
            ),
        ],
    )
    w0 = Event(
        "SE_BASAL",
        "2016-09-15",
        [
            _form(
                "IG_ALEAT_ALEATORIZACION",
                _row(
                    "IG_ALEAT_ALEATORIZACION",
                    {"sequence": "PLACEBO_MSC", "randomisation_date": D(2016, 9, 12)},
                    I_ALEAT_SECUENCIA="2",
                    I_ALEAT_FECHA_ALEATORIZACION="2016-09-12",
                ),
            ),
            _form(
                "IG_INFUS_INFUSION",
                _row(
                    "IG_INFUS_INFUSION",
                    {
                        "period": 1,
                        "infusion_date": D(2016, 9, 15),
                        "product": "PLACEBO",
                        "dose_million_cells_per_kg": None,
                        "body_weight_kg": 82.0,
                        "viability_pct": None,
                        "lot_id": None,
                    },
                    I_INFUS_PERIODO="1",
                    I_INFUS_FECHA_INFUSION="2016-09-15",
                    I_INFUS_PRODUCTO="2",
                    I_INFUS_PESO="82",
                ),
            ),
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "W0", "week": 0, "visit_date": D(2016, 9, 15)},
                    I_VISIT_SEMANA="0",
                    I_VISIT_FECHA_VISITA="15/9/16",
                ),
            ),
            _form(
                "IG_RESON_RM",
                _row(
                    "IG_RESON_RM",
                    {
                        "visit_code": "W0",
                        "scan_date": D(2016, 9, 15),
                        "field_strength_t": 3.0,
                        "gel_count": 5,
                        "new_t2_count": 2,
                        "cua_count": 6,
                        "t2_volume_ml": 25.33,
                        "brain_volume_ml": None,
                        "central_read": True,
                    },
                    I_RESON_FECHA_RM="15/9/16",
                    I_RESON_CAMPO_TESLA="3.0",
                    I_RESON_LESIONES_GD="5",
                    I_RESON_LESIONES_T2_NUEVAS="2",
                    I_RESON_LESIONES_CUA="6",
                    I_RESON_VOLUMEN_T2="25.33",
                    I_RESON_LECTURA_CENTRAL="1",
                ),
            ),
            _form(
                "IG_EDSS_EDSS",
                _row(
                    "IG_EDSS_EDSS",
                    _edss("W0", D(2016, 9, 15), 6.0, ambulation=7),
                    I_EDSS_FECHA_EVALUACION="15/9/16",
                    I_EDSS_EDSS="6.0",
                    I_EDSS_DEAMBULACION="7",
                    I_EDSS_EVALUADOR_CIEGO="1",
                ),
            ),
            _form(
                "IG_MSFC_MSFC",
                _row(
                    "IG_MSFC_MSFC",
                    _msfc("W0", D(2016, 9, 15), t25fw=7.15, pasat3=52),
                    I_MSFC_FECHA_EVALUACION="15/9/16",
                    I_MSFC_T25FW_1="7.15",
                    I_MSFC_PASAT3="52",
                ),
            ),
            _form(
                "IG_ANALI_ANALITICA",
                _lab("W0", D(2016, 9, 15), "6", "1,8", "10^3/µL", "LYMPH", 1.8, "10^3/uL"),
            ),
        ],
    )
    w24 = Event(
        "SE_SEMANA24",
        "2017-03-02",
        [
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "W24", "week": 24, "visit_date": D(2017, 3, 2)},
                    I_VISIT_SEMANA="24",
                    I_VISIT_FECHA_VISITA="2/3/17",
                ),
            ),
            # Entered twice; the first copy was removed and shows "invalid".
            _form(
                "IG_EDSS_EDSS",
                _row(
                    "IG_EDSS_EDSS",
                    None,
                    I_EDSS_FECHA_EVALUACION="2/3/17",
                    I_EDSS_EDSS="6.5",
                    I_EDSS_EVALUADOR_CIEGO="1",
                ),
                status="invalid",
            ),
        ],
    )
    logs = Event(
        "SE_REGISTROS",
        "2016-09-01",
        [
            _form(
                "IG_ACONT_AA",
                Row(
                    "IG_ACONT_AA",
                    {
                        "I_ACONT_NUMERO": "1",
                        "I_ACONT_TERMINO": "Infección urinaria",
                        "I_ACONT_VERSION_MEDDRA": "19.1",
                        "I_ACONT_FECHA_INICIO": "2016-10",
                        "I_ACONT_GRAVE": "1",
                        "I_ACONT_GRAVE_HOSPITALIZACION": "1",
                        "I_ACONT_GRADO_CTCAE": "3",
                        "I_ACONT_RELACION_PRODUCTO": "2",
                        "I_ACONT_RELACION_EXTRACCION": "1",
                        "I_ACONT_DESENLACE": "4",
                    },
                    {
                        "ae_number": 1,
                        "verbatim_term": "Infección urinaria",
                        "meddra_pt_code": None,
                        "meddra_soc_code": None,
                        "meddra_version": "19.1",
                        "onset_date": D(2016, 10, 1),
                        "onset_date_precision": "month",
                        "onset_date_raw": "2016-10",
                        "end_date": None,
                        "end_date_precision": None,
                        "end_date_raw": None,
                        "serious": True,
                        **NO_SAE,
                        "sae_hospitalisation": True,
                        "ctcae_grade": 3,
                        "relatedness_product": "UNLIKELY",
                        "relatedness_harvest": "NOT",
                        "outcome": "RECOVERED_WITH_SEQUELAE",
                    },
                ),
            ),
        ],
    )
    return Subject(p, "S_HUVH", "X2482300W", "1975-02-11", "m", [scr, w0, w24, logs])


def _edss(visit: str, day: dt.date, edss: float, ambulation: int | None = None) -> dict[str, Any]:
    fs = ("pyramidal", "cerebellar", "brainstem", "sensory", "bowel_bladder", "visual", "cerebral")
    return {
        "visit_code": visit,
        "assessment_date": day,
        "edss": edss,
        **{f"fs_{f}": None for f in fs},
        "ambulation_score": ambulation,
        "rater_blinded": True,
    }


def _msfc(visit: str, day: dt.date, t25fw: float, pasat3: int) -> dict[str, Any]:
    nhpt = ("dominant_trial1", "dominant_trial2", "nondominant_trial1", "nondominant_trial2")
    return {
        "visit_code": visit,
        "assessment_date": day,
        "t25fw_trial1_s": t25fw,
        "t25fw_trial2_s": None,
        **{f"nhpt_{n}_s": None for n in nhpt},
        "pasat3": pasat3,
    }


def patient_mad() -> Subject:
    """Madrid: a year-only conmed start, ISO dates typed into text items, an ALT in U/L."""
    p = "ES-MAD-003"
    scr = Event(
        "SE_SELECCION",
        "2017-01-10",
        [
            _form(
                "IG_DATOS_DEMOGRAFIA",
                _row(
                    "IG_DATOS_DEMOGRAFIA",
                    {
                        "centre": "ES-MAD",
                        "sex": "F",
                        "birth_year": 1990,
                        "ms_course": "PPMS",
                        "diagnosis_date": D(2012, 1, 15),
                        "eligibility_version": "ES-2016",
                    },
                    I_DATOS_SEXO="1",
                    I_DATOS_ANIO_NACIMIENTO="1990",
                    I_DATOS_FORMA_EM="3",
                    I_DATOS_FECHA_DIAGNOSTICO="15/01/2012",
                    I_DATOS_CRITERIOS="2",
                ),
            ),
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "SCR", "week": -4, "visit_date": D(2017, 1, 10)},
                    I_VISIT_SEMANA="-4",
                    I_VISIT_FECHA_VISITA="2017-01-10",
                ),
            ),
            _form(
                "IG_EDSS_EDSS",
                _row(
                    "IG_EDSS_EDSS",
                    _edss("SCR", D(2017, 1, 10), 2.5),
                    I_EDSS_FECHA_EVALUACION="10/1/17",
                    I_EDSS_EDSS="2.5",
                    I_EDSS_EVALUADOR_CIEGO="1",
                ),
            ),
            _form(
                "IG_ANALI_ANALITICA",
                _lab("SCR", D(2017, 1, 10), "4", "23", "U/L", "ALT", 23.0, "U/L"),
                _lab("SCR", D(2017, 1, 10), "7", "0,6", "mg/dL", "BILI", 0.6, "mg/dL"),
            ),
        ],
    )
    w0 = Event(
        "SE_BASAL",
        "2017-02-03",
        [
            _form(
                "IG_ALEAT_ALEATORIZACION",
                _row(
                    "IG_ALEAT_ALEATORIZACION",
                    {"sequence": "MSC_PLACEBO", "randomisation_date": D(2017, 2, 1)},
                    I_ALEAT_SECUENCIA="1",
                    I_ALEAT_FECHA_ALEATORIZACION="2017-02-01",
                ),
            ),
            _form(
                "IG_INFUS_INFUSION",
                _row(
                    "IG_INFUS_INFUSION",
                    {
                        "period": 1,
                        "infusion_date": D(2017, 2, 3),
                        "product": "MSC",
                        "dose_million_cells_per_kg": 1.25,
                        "body_weight_kg": 55.0,
                        "viability_pct": 88.0,
                        "lot_id": "MAD-77",
                    },
                    I_INFUS_PERIODO="1",
                    I_INFUS_FECHA_INFUSION="2017-02-03",
                    I_INFUS_PRODUCTO="1",
                    I_INFUS_DOSIS="1.25",
                    I_INFUS_PESO="55.0",
                    I_INFUS_VIABILIDAD="88",
                    I_INFUS_LOTE="MAD-77",
                ),
            ),
            _form(
                "IG_VISIT_VISITA",
                _row(
                    "IG_VISIT_VISITA",
                    {"visit_code": "W0", "week": 0, "visit_date": D(2017, 2, 3)},
                    I_VISIT_SEMANA="0",
                    I_VISIT_FECHA_VISITA="3/2/17",
                ),
            ),
        ],
    )
    logs = Event(
        "SE_REGISTROS",
        "2017-01-10",
        [
            _form(
                "IG_MEDIC_MEDCONCOMITANTE",
                _row(
                    "IG_MEDIC_MEDCONCOMITANTE",
                    {
                        "medication_verbatim": "Vitamina D",
                        "atc_code": "A11CC05",
                        "atc_version": "2022",
                        "start_date": D(2016, 1, 1),
                        "start_date_precision": "year",
                        "start_date_raw": "2016",
                        "end_date": None,
                        "end_date_precision": None,
                        "end_date_raw": None,
                    },
                    I_MEDIC_MEDICAMENTO="Vitamina D",
                    I_MEDIC_CODIGO_ATC="A11CC05",
                    I_MEDIC_VERSION_ATC="2022",
                    I_MEDIC_FECHA_INICIO="2016",
                ),
            ),
        ],
    )
    return Subject(p, "S_HCSC", "00000000T", "1990-08-30", "f", [scr, w0, logs])


def patient_removed() -> Subject:
    """Removed in OpenClinica (withdrew consent before randomisation): nothing of it is pooled."""
    scr = Event(
        "SE_SELECCION",
        "2017-03-01",
        [
            _form(
                "IG_DATOS_DEMOGRAFIA",
                _row(
                    "IG_DATOS_DEMOGRAFIA",
                    None,
                    I_DATOS_SEXO="2",
                    I_DATOS_ANIO_NACIMIENTO="1983",
                    I_DATOS_FORMA_EM="1",
                    I_DATOS_FECHA_DIAGNOSTICO="1/2/10",
                    I_DATOS_CRITERIOS="2",
                ),
                status="auto-removed",
            ),
            _form(
                "IG_VISIT_VISITA",
                _row("IG_VISIT_VISITA", None, I_VISIT_SEMANA="-8", I_VISIT_FECHA_VISITA="1/3/17"),
                status="auto-removed",
            ),
            _form(
                "IG_EDSS_EDSS",
                _row(
                    "IG_EDSS_EDSS",
                    None,
                    I_EDSS_FECHA_EVALUACION="1/3/17",
                    I_EDSS_EDSS="4.5",
                    I_EDSS_EVALUADOR_CIEGO="0",
                ),
                status="auto-removed",
            ),
        ],
        status="auto-removed",
    )
    return Subject("ES-MAD-004", "S_HCSC", "12345678Z", "1983-04-04", "m", [scr], status="removed")


def subjects(removed: bool = True) -> list[Subject]:
    people = [patient_sev(), patient_bcn(), patient_mad()]
    if removed:
        people.append(patient_removed())
        return people
    for person in people:  # without what OpenClinica keeps after removal
        person.events = [e for e in person.events if e.status != "removed"]
        for event in person.events:
            event.forms = [f for f in event.forms if f.status not in ("invalid", "auto-removed")]
            for form in event.forms:
                form.rows = [r for r in form.rows if not r.removed]
    return people


# --- writing -----------------------------------------------------------------------------------


def _spanish(value: str) -> str:
    """A number as typed into an OpenClinica text item in Spain: decimal comma."""
    return value.replace(".", ",")


def _data_type(kind: str, numbers: str) -> str:
    if kind.endswith("*"):
        return kind[:-1] if numbers == "odm" else "text"
    return kind


def _texts(labels: dict[str, str], languages: str) -> str:
    if languages == "untagged":
        labels = {"": labels.get("es") or labels[""]}
    return "".join(
        f"<TranslatedText{f' xml:lang={quoteattr(lang)}' if lang else ''}>{label}</TranslatedText>"
        for lang, label in labels.items()
    )


def metadata(numbers: str = "odm", languages: str = "bilingual") -> str:
    out = ['  <MetaDataVersion OID="v1.0.0" Name="MetaDataVersion_v1.0.0">\n']
    for group, items in ITEMS.items():
        name = group.split("_", 2)[2]
        repeating = "Yes" if group in REPEATING else "No"
        out.append(
            f'   <ItemGroupDef OID="{group}" Name="{name}" Repeating="{repeating}" '
            f'SASDatasetName="{name[:8]}">\n'
        )
        for n, oid in enumerate(items, start=1):
            out.append(f'    <ItemRef ItemOID="{oid}" OrderNumber="{n}" Mandatory="No"/>\n')
        out.append("   </ItemGroupDef>\n")
    for items in ITEMS.values():
        for oid, (kind, codelist) in items.items():
            name = oid.split("_", 2)[2]
            out.append(
                f'   <ItemDef OID="{oid}" Name="{name}" DataType="{_data_type(kind, numbers)}" '
                f'Length="25" SASFieldName="{name[:8]}" Comment="{name.lower()}">\n'
                f"    <Question>{_texts({'es': name.title()}, 'bilingual')}</Question>\n"
            )
            if codelist:
                out.append(f'    <CodeListRef CodeListOID="{codelist}"/>\n')
            out.append("   </ItemDef>\n")
    for oid, codes in CODELISTS.items():
        out.append(f'   <CodeList OID="{oid}" Name="{oid[3:].lower()}" DataType="integer">\n')
        for code, labels in codes.items():
            out.append(
                f'    <CodeListItem CodedValue="{code}"><Decode>{_texts(labels, languages)}'
                "</Decode></CodeListItem>\n"
            )
        out.append("   </CodeList>\n")
    out.append("  </MetaDataVersion>\n")
    return "".join(out)


def clinical_data(people: list[Subject], numbers: str = "odm") -> str:
    out = []
    for study in dict.fromkeys(p.study for p in people):
        out.append(f' <ClinicalData StudyOID="{study}" MetaDataVersionOID="v1.0.0">\n')
        for p in (p for p in people if p.study == study):
            out.append(
                f'  <SubjectData SubjectKey="SS_{p.local_id.replace("-", "")}" '
                f'OpenClinica:StudySubjectID="{p.local_id}" '
                f'OpenClinica:UniqueIdentifier="{p.unique_id}" '
                f'OpenClinica:Status="{p.status}" OpenClinica:DateOfBirth="{p.birth}" '
                f'OpenClinica:Sex="{p.sex}">\n'
            )
            for e in p.events:
                repeat = f' StudyEventRepeatKey="{e.repeat}"' if e.repeat else ""
                out.append(
                    f'   <StudyEventData StudyEventOID="{e.oid}"{repeat} '
                    f'OpenClinica:StartDate="{e.start}" OpenClinica:Status="{e.status}">\n'
                )
                for f in e.forms:
                    out.append(
                        f'    <FormData FormOID="{f.oid}" OpenClinica:Version="v1.0" '
                        f'OpenClinica:InterviewerName="Dra. Ruiz" '
                        f'OpenClinica:InterviewDate="{e.start}" '
                        f'OpenClinica:Status="{f.status}">\n'
                    )
                    for n, row in enumerate(f.rows, start=1):
                        out.append(_item_group(row, n, numbers))
                    out.append("    </FormData>\n")
                out.append("   </StudyEventData>\n")
            out.append("  </SubjectData>\n")
        out.append(" </ClinicalData>\n")
    return "".join(out)


def _item_group(row: Row, n: int, numbers: str) -> str:
    removed = ' OpenClinica:Removed="Yes"' if row.removed else ""
    out = [
        f'     <ItemGroupData ItemGroupOID="{row.group}" ItemGroupRepeatKey="{n}"'
        f'{removed} TransactionType="Insert">\n'
    ]
    kinds = ITEMS[row.group]
    for oid, value in row.values.items():
        kind = kinds[oid][0]
        written = _spanish(value) if kind == "float*" and numbers == "text" else value
        out.append(f"      <ItemData ItemOID={quoteattr(oid)} Value={quoteattr(written)}/>\n")
    out.append("     </ItemGroupData>\n")
    return "".join(out)


def write(
    folder: Path,
    *,
    numbers: str = "odm",
    languages: str = "bilingual",
    removed: bool = True,
    people: list[Subject] | None = None,
) -> Path:
    """The extract in ``folder``: ``numbers`` "odm" (real and integer items, '.') or "text"
    (typed into text items, ','); ``languages`` "bilingual" or "untagged"; with or without what
    OpenClinica keeps after removal."""
    people = people if people is not None else subjects(removed)
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" '
        f'xmlns:OpenClinica="{OC_NS}" '
        'xmlns:OpenClinicaRules="http://www.openclinica.org/ns/rules/v3.1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'FileOID="Extract_MESEMSES_D20190301" Description="MESEMS ES full extract" '
        'CreationDateTime="2019-03-01T09:12:44+01:00" FileType="Snapshot" ODMVersion="1.3" '
        'xsi:schemaLocation="http://www.cdisc.org/ns/odm/v1.3 OpenClinica-ODM1-3-0-OC2-0.xsd">\n'
        ' <Study OID="S_MESEMSES">\n  <GlobalVariables><StudyName>MESEMS España</StudyName>'
        "<StudyDescription>MESEMS</StudyDescription><ProtocolName>MESEMS-ES</ProtocolName>"
        "</GlobalVariables>\n  <BasicDefinitions/>\n"
        + metadata(numbers, languages)
        + " </Study>\n"
        + clinical_data(people, numbers)
        + "</ODM>\n"
    )
    path = folder / EXTRACT
    path.write_text(text, "utf-8")
    return path


def pooled(people: list[Subject]) -> dict[str, list[dict[str, Any]]]:
    """What each shared table must hold: the live rows, by the patient's local id."""
    tables = {
        "IG_DATOS_DEMOGRAFIA": "subjects",
        "IG_ALEAT_ALEATORIZACION": "randomisation",
        "IG_INFUS_INFUSION": "infusions",
        "IG_VISIT_VISITA": "visits",
        "IG_RESON_RM": "mri",
        "IG_EDSS_EDSS": "edss",
        "IG_MSFC_MSFC": "msfc",
        "IG_BROTE_BROTES": "relapses",
        "IG_ACONT_AA": "adverse_events",
        "IG_MEDIC_MEDCONCOMITANTE": "conmeds",
        "IG_ANALI_ANALITICA": "labs",
    }
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in tables.values()}
    for p in people:
        for e in p.events:
            for f in e.forms:
                for row in f.rows:
                    if row.pooled is not None:
                        out[tables[row.group]].append({"local_id": p.local_id, **row.pooled})
    return out


def removed_rows(people: list[Subject]) -> dict[str, int]:
    """Per item group, the rows OpenClinica marks removed (directly or by an ancestor)."""
    counts: dict[str, int] = {}
    for p in people:
        for e in p.events:
            for f in e.forms:
                gone = p.status == "removed" or e.status == "removed" or f.status == "invalid"
                gone = gone or f.status == "auto-removed"
                for row in f.rows:
                    if gone or row.removed:
                        counts[row.group] = counts.get(row.group, 0) + 1
    return counts
