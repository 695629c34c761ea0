"""MESEMS shared schema v1: eleven tables (DOMAIN.md §1-2)."""

from __future__ import annotations

import datetime as dt

from federate.schema import Column, Derived, DType, Schema, Table, partial_date

from .codelists import (
    ATC_CROSSWALK,
    EDSS_SCORES,
    LAB_ANALYTES,
    LAB_UNITS,
    MEDDRA_SOC,
    MSFC_TASK_FORCE,
    VISIT_WINDOWS,
    MsfcReference,
)

# Protocol visit schedule: code -> nominal week (UNS has none).
VISIT_WEEKS: dict[str, int | None] = {
    "SCR": -6,
    "W0": 0,
    "W4": 4,
    "W12": 12,
    "W24": 24,
    "W28": 28,
    "W36": 36,
    "W48": 48,
    "UNS": None,
}
VISIT_CODES = tuple(VISIT_WEEKS)
SEQUENCES = ("MSC_PLACEBO", "PLACEBO_MSC")
PRODUCTS = ("MSC", "PLACEBO")

# Nothing in MESEMS happens before the first protocol (2010) nor far in the future.
TRIAL_START = dt.date(2010, 1, 1)
TRIAL_END = dt.date(2035, 12, 31)


def _trial_date(name: str, description: str, *, required: bool = True) -> Column:
    return Column(name, DType.DATE, description, required=required, min=TRIAL_START, max=TRIAL_END)


SUBJECTS = Table(
    "subjects",
    "One row per randomised patient.",
    (
        Column("centre", DType.STRING, "Recruiting centre code.", pattern=r"[A-Z]{2}-[A-Z]{3}"),
        Column("sex", DType.STRING, "Sex at birth.", codes=("F", "M")),
        Column(
            "birth_year",
            DType.INT,
            "Year of birth (the full date of birth is never kept).",
            min=1900,
            max=2020,
            warn_min=1960,
            warn_max=2000,
        ),
        Column(
            "ms_course",
            DType.STRING,
            "MS course at inclusion.",
            codes=("RRMS", "SPMS", "PPMS"),
            code_labels={
                "RRMS": "relapsing-remitting",
                "SPMS": "secondary progressive",
                "PPMS": "primary progressive",
            },
        ),
        Column("diagnosis_date", DType.DATE, "Date of MS diagnosis.", min=dt.date(1950, 1, 1)),
        Column(
            "eligibility_version",
            DType.STRING,
            "Which national eligibility criteria applied (they differ by site and over time).",
        ),
    ),
    key=("subject_id",),
    profile=("birth_year",),
)

RANDOMISATION = Table(
    "randomisation",
    "Allocation to a crossover sequence (restricted: reveals the arm).",
    (
        Column(
            "sequence",
            DType.STRING,
            "Crossover sequence: MSC at week 0 then placebo at week 24, or the reverse.",
            codes=SEQUENCES,
            restricted=True,
        ),
        _trial_date("randomisation_date", "Date of randomisation."),
    ),
    key=("subject_id",),
)

INFUSIONS = Table(
    "infusions",
    "One row per infusion (period 1 at week 0, period 2 at week 24).",
    (
        Column("period", DType.INT, "Crossover period.", codes=(1, 2)),
        _trial_date("infusion_date", "Date of the infusion."),
        Column(
            "product",
            DType.STRING,
            "Product given (restricted).",
            codes=PRODUCTS,
            restricted=True,
        ),
        Column(
            "dose_million_cells_per_kg",
            DType.FLOAT,
            "Cell dose; empty for placebo (restricted).",
            required=False,
            unit="10^6 cells/kg",
            min=0.0,
            max=10.0,
            warn_min=1.0,
            warn_max=2.0,
            restricted=True,
        ),
        Column(
            "body_weight_kg",
            DType.FLOAT,
            "Body weight on the day of infusion.",
            unit="kg",
            min=20.0,
            max=300.0,
            warn_min=40.0,
            warn_max=150.0,
        ),
        Column(
            "viability_pct",
            DType.FLOAT,
            "Cell viability of the product; empty for placebo (restricted).",
            required=False,
            unit="%",
            min=0.0,
            max=100.0,
            warn_min=70.0,
            restricted=True,
        ),
        Column(
            "lot_id",
            DType.STRING,
            "Cell product lot; empty for placebo (restricted).",
            required=False,
            restricted=True,
        ),
    ),
    key=("subject_id", "period"),
)

VISITS = Table(
    "visits",
    "One row per visit that took place.",
    (
        Column("visit_code", DType.STRING, "Protocol visit.", codes=VISIT_CODES),
        Column(
            "week",
            DType.INT,
            "Nominal week of the visit; empty for UNS.",
            required=False,
            min=-8,
            max=60,
        ),
        _trial_date("visit_date", "Date of the visit."),
    ),
    key=("subject_id", "visit_code", "visit_date"),
)

MRI = Table(
    "mri",
    "One row per MRI scan.",
    (
        Column("visit_code", DType.STRING, "Protocol visit of the scan.", codes=VISIT_CODES),
        _trial_date("scan_date", "Date of the scan."),
        Column(
            "field_strength_t", DType.FLOAT, "Scanner field strength.", unit="T", codes=(1.5, 3.0)
        ),
        Column(
            "gel_count", DType.INT, "Gadolinium-enhancing lesions.", min=0, max=500, warn_max=60
        ),
        Column(
            "new_t2_count",
            DType.INT,
            "New or enlarging T2 lesions.",
            required=False,
            min=0,
            max=500,
        ),
        Column(
            "cua_count",
            DType.INT,
            "Combined unique active lesions.",
            required=False,
            min=0,
            max=1000,
        ),
        Column(
            "t2_volume_ml",
            DType.FLOAT,
            "T2 lesion volume.",
            required=False,
            unit="mL",
            min=0.0,
            max=300.0,
            warn_max=80.0,
        ),
        Column(
            "brain_volume_ml",
            DType.FLOAT,
            "Normalised brain volume.",
            required=False,
            unit="mL",
            min=500.0,
            max=2500.0,
            warn_min=1300.0,
            warn_max=1700.0,
        ),
        Column("central_read", DType.BOOL, "Read centrally (blinded reader)."),
    ),
    key=("subject_id", "visit_code", "scan_date"),
    profile=("gel_count", "new_t2_count", "t2_volume_ml"),
)


def _assessment(description: str) -> tuple[Column, Column]:
    return (
        Column(
            "visit_code",
            DType.STRING,
            "Protocol visit; assigned from the date by window when the export does not say.",
            codes=VISIT_CODES,
        ),
        _trial_date("assessment_date", description),
    )


def _fs(name: str, label: str, top: int) -> Column:
    return Column(
        f"fs_{name}",
        DType.INT,
        f"Functional system: {label} (0-{top}).",
        required=False,
        min=0,
        max=top,
    )


EDSS = Table(
    "edss",
    "Expanded Disability Status Scale, one row per assessment.",
    (
        *_assessment("Date of the EDSS assessment."),
        Column(
            "edss",
            DType.FLOAT,
            "EDSS score: 0, or 1.0 to 10.0 in steps of 0.5.",
            codes=EDSS_SCORES,
            warn_min=2.5,
            warn_max=6.5,
        ),
        _fs("pyramidal", "pyramidal", 6),
        _fs("cerebellar", "cerebellar", 5),
        _fs("brainstem", "brainstem", 5),
        _fs("sensory", "sensory", 6),
        _fs("bowel_bladder", "bowel and bladder", 6),
        _fs("visual", "visual", 6),
        _fs("cerebral", "cerebral", 5),
        Column(
            "ambulation_score",
            DType.INT,
            "Neurostatus ambulation score (0-16).",
            required=False,
            min=0,
            max=16,
        ),
        Column("rater_blinded", DType.BOOL, "Rated by the blinded examining neurologist."),
    ),
    key=("subject_id", "visit_code", "assessment_date"),
    visit_date="assessment_date",
    profile=("edss", "ambulation_score"),
)


def _msfc_z(ref: MsfcReference) -> Derived:
    """Composite z = mean of z(9HPT: mean of 1/mean time per hand), -z(T25FW), z(PASAT-3)."""
    t25 = "((t25fw_trial1_s + t25fw_trial2_s) / 2)"
    dom = "((nhpt_dominant_trial1_s + nhpt_dominant_trial2_s) / 2)"
    nondom = "((nhpt_nondominant_trial1_s + nhpt_nondominant_trial2_s) / 2)"
    nhpt = f"((1 / {dom} + 1 / {nondom}) / 2)"
    z = (
        f"(({nhpt} - {ref.nhpt_inverse_mean}) / {ref.nhpt_inverse_sd}"
        f" - ({t25} - {ref.t25fw_mean}) / {ref.t25fw_sd}"
        f" + (pasat3 - {ref.pasat_mean}) / {ref.pasat_sd}) / 3"
    )
    return Derived(z, inputs=(), reason="underivable", rule=f"MSFC z against {ref.name}")


MSFC_TRIALS = tuple(
    Column(
        f"{test}_trial{n}_s",
        DType.FLOAT,
        f"{label}, trial {n}.",
        required=False,
        unit="s",
        min=0.0,
        max=cap,
    )
    for test, label, cap in (
        ("t25fw", "Timed 25-foot walk (capped at 180 s)", 180.0),
        ("nhpt_dominant", "9-hole peg test, dominant hand (capped at 300 s)", 300.0),
        ("nhpt_nondominant", "9-hole peg test, non-dominant hand (capped at 300 s)", 300.0),
    )
    for n in (1, 2)
)

MSFC = Table(
    "msfc",
    "Multiple Sclerosis Functional Composite, one row per assessment.",
    (
        *_assessment("Date of the MSFC assessment."),
        *MSFC_TRIALS,
        Column(
            "pasat3", DType.INT, "PASAT-3 correct answers (0-60).", required=False, min=0, max=60
        ),
        Column(
            "msfc_z",
            DType.FLOAT,
            "Composite z-score (derived; empty unless all parts).",
            required=False,
        ),
        Column("msfc_reference", DType.STRING, "Reference population of the z-score."),
    ),
    key=("subject_id", "visit_code", "assessment_date"),
    derived={
        "msfc_z": _msfc_z(MSFC_TASK_FORCE),
        "msfc_reference": Derived(f"'{MSFC_TASK_FORCE.name}'", (), "underivable", "constant"),
    },
    visit_date="assessment_date",
    profile=("t25fw_trial1_s", "nhpt_dominant_trial1_s", "pasat3", "msfc_z"),
)

RELAPSES = Table(
    "relapses",
    "One row per relapse: new or worsening symptoms for 24 h or more, without fever.",
    (
        *partial_date("onset_date", "Onset of the relapse.", min=TRIAL_START),
        *partial_date("end_date", "End of the relapse.", required=False, min=TRIAL_START),
        Column("severity", DType.STRING, "Severity.", codes=("MILD", "MODERATE", "SEVERE")),
        Column(
            "recovery",
            DType.STRING,
            "Recovery.",
            required=False,
            codes=("COMPLETE", "PARTIAL", "NONE"),
        ),
        Column("steroids", DType.BOOL, "Treated with methylprednisolone (ATC H02AB04)."),
    ),
    key=("subject_id", "onset_date_raw"),
)

RELATEDNESS = ("NOT", "UNLIKELY", "POSSIBLE", "PROBABLE", "DEFINITE")
OUTCOMES = (
    "RECOVERED",
    "RECOVERING",
    "NOT_RECOVERED",
    "RECOVERED_WITH_SEQUELAE",
    "FATAL",
    "UNKNOWN",
)
SERIOUSNESS = (
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "other_important",
)

ADVERSE_EVENTS = Table(
    "adverse_events",
    "One row per adverse event. Severe (CTCAE grade) is not serious (regulatory criteria).",
    (
        Column(
            "ae_number",
            DType.INT,
            "The site's sequence number of the event for the patient.",
            min=1,
        ),
        Column(
            "verbatim_term",
            DType.STRING,
            "Term as reported, in the local language.",
            free_text=True,
        ),
        Column(
            "meddra_pt_code",
            DType.STRING,
            "MedDRA preferred term code.",
            required=False,
            pattern=r"[0-9]{8}",
        ),
        Column(
            "meddra_soc_code",
            DType.STRING,
            "MedDRA system organ class code.",
            required=False,
            codes=tuple(MEDDRA_SOC),
            code_labels=MEDDRA_SOC,
        ),
        Column(
            "meddra_version",
            DType.STRING,
            "MedDRA version of the codes, e.g. 16.1.",
            required=False,
            pattern=r"[0-9]{1,2}\.[0-9]",
        ),
        *partial_date("onset_date", "Onset of the event.", min=TRIAL_START),
        *partial_date("end_date", "End of the event.", required=False, min=TRIAL_START),
        Column("serious", DType.BOOL, "Serious adverse event."),
        *(
            Column(
                f"sae_{c}",
                DType.BOOL,
                f"Seriousness criterion: {c.replace('_', ' ')}.",
                required=False,
            )
            for c in SERIOUSNESS
        ),
        Column("ctcae_grade", DType.INT, "CTCAE severity grade (1-5).", codes=(1, 2, 3, 4, 5)),
        Column(
            "relatedness_product",
            DType.STRING,
            "Relatedness to the study product.",
            codes=RELATEDNESS,
        ),
        Column(
            "relatedness_harvest",
            DType.STRING,
            "Relatedness to the bone-marrow harvest.",
            required=False,
            codes=RELATEDNESS,
        ),
        Column("outcome", DType.STRING, "Outcome.", codes=OUTCOMES),
    ),
    key=("subject_id", "ae_number"),
)

ATC_PATTERN = r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}"
CONMEDS = Table(
    "conmeds",
    "Concomitant medication, one row per medication and course.",
    (
        Column("medication_verbatim", DType.STRING, "Medication as reported.", free_text=True),
        Column(
            "atc_code",
            DType.STRING,
            "ATC code as exported (any ATC version).",
            required=False,
            pattern=ATC_PATTERN,
        ),
        Column(
            "atc_version",
            DType.STRING,
            "ATC index year the export used, e.g. 2019.",
            required=False,
            pattern=r"(19|20)[0-9][0-9]",
        ),
        Column(
            "atc_code_current",
            DType.STRING,
            "Current ATC code (2019 and 2024 reassignments crosswalked); pool on this.",
            required=False,
            pattern=ATC_PATTERN,
        ),
        *partial_date("start_date", "Start of the medication.", min=dt.date(1950, 1, 1)),
        *partial_date(
            "end_date", "End of the medication.", required=False, min=dt.date(1950, 1, 1)
        ),
    ),
    key=("subject_id", "medication_verbatim", "start_date_raw"),
    derived={
        "atc_code_current": Derived(
            "coalesce(CASE atc_code "
            + " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in ATC_CROSSWALK.items())
            + " END, atc_code)",
            inputs=("atc_code",),
            reason="underivable",
            rule="ATC crosswalk",
        )
    },
)


def _lab_value() -> Derived:
    whens = " ".join(
        f"WHEN analyte = '{code}' AND unit_reported = '{unit}' THEN value_reported * {factor!r}"
        for code, analyte in LAB_ANALYTES.items()
        for unit, factor in analyte.factors.items()
    )
    allowed = "; ".join(f"{c} in {', '.join(a.factors)}" for c, a in LAB_ANALYTES.items())
    return Derived(
        f"CASE {whens} END",
        ("analyte", "unit_reported", "value_reported"),
        "unit-not-allowed",
        allowed,
    )


LABS = Table(
    "labs",
    "Laboratory results, one row per analyte and sample: as exported, and harmonised to one "
    "pinned unit per analyte.",
    (
        *_assessment("Date the sample was taken."),
        Column(
            "analyte",
            DType.STRING,
            "Analyte.",
            codes=tuple(LAB_ANALYTES),
            code_labels={k: a.name for k, a in LAB_ANALYTES.items()},
        ),
        Column("value_raw", DType.STRING, "Value exactly as exported."),
        Column("unit_raw", DType.STRING, "Unit exactly as exported."),
        Column("value_reported", DType.FLOAT, "Value in the reported unit.", min=0.0),
        Column(
            "unit_reported", DType.STRING, "Reported unit, canonical spelling.", codes=LAB_UNITS
        ),
        Column("value", DType.FLOAT, "Harmonised value in the pinned unit (see unit).", min=0.0),
        Column(
            "unit",
            DType.STRING,
            "Pinned unit: " + ", ".join(f"{c} {a.unit}" for c, a in LAB_ANALYTES.items()) + ".",
            codes=tuple(sorted({a.unit for a in LAB_ANALYTES.values()})),
        ),
    ),
    key=("subject_id", "analyte", "assessment_date"),
    profile=("value",),
    profile_by="analyte",
    derived={
        "value": _lab_value(),
        "unit": Derived(
            "CASE analyte "
            + " ".join(f"WHEN '{c}' THEN '{a.unit}'" for c, a in LAB_ANALYTES.items())
            + " END",
            ("analyte",),
            "unit-not-allowed",
            "a pinned unit per analyte",
        ),
    },
    visit_date="assessment_date",
)

MESEMS_V1 = Schema(
    "mesems",
    "1.0.0",
    (
        SUBJECTS,
        RANDOMISATION,
        INFUSIONS,
        VISITS,
        MRI,
        EDSS,
        MSFC,
        RELAPSES,
        ADVERSE_EVENTS,
        CONMEDS,
        LABS,
    ),
    visit_windows=VISIT_WINDOWS,
)
