"""MESEMS shared schema v1: the tables the primary endpoint needs (DOMAIN.md §1-2)."""

from __future__ import annotations

import datetime as dt

from federate.schema import Column, DType, Schema, Table

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
)

MESEMS_V1 = Schema("mesems", "1.0.0", (SUBJECTS, RANDOMISATION, INFUSIONS, VISITS, MRI))
