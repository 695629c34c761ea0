"""How each national trial records what it measures (DOMAIN.md §2-3, §6): the language of its
verbatim terms, how it writes numbers and partial dates, which MedDRA and ATC dictionaries it
codes with, and the units and spellings of its laboratories.

Where a site has a registered adapter, the adapter's declaration wins for what it declares (the
truth renders partial dates through it); what this table says must then agree with it, which
the writer's read-back check and the tests verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Practice:
    language: str  # ISO 639-1: picks verbatim terms and medication names
    decimal: str
    group: str  # thousands separator the lab system prints ("" for none)
    partial_formats: tuple[str, str, str]  # a date known to the day, the month, the year
    meddra_version: str
    atc_versions: tuple[str, ...]  # ATC index year each centre coded with (by centre)
    lab_units: Mapping[str, tuple[str, ...]]  # analyte -> reported unit of each centre
    spellings: Mapping[str, tuple[str, ...]]  # canonical unit -> as each centre's lab writes it
    edss_range: tuple[float, float]  # EDSS at screening allowed by the national criteria

    def by_centre(self, options: tuple[str, ...], centre: int) -> str:
        return options[centre % len(options)]


_SI = {"CREAT": ("umol/L",), "GLUC": ("mmol/L",), "BILI": ("umol/L",), "LYMPH": ("10^9/L",)}

PRACTICE: dict[str, Practice] = {
    "italy": Practice(
        "it",
        ",",
        ".",
        ("%d/%m/%Y", "%m/%Y", "%Y"),
        "16.1",
        # Genova recoded at lock with the 2019 index, Milano with 2023, Roma kept its original
        # 2016 coding: all pre-2024, and Roma's dimethyl fumarate is still N07XX09.
        ("2019", "2023", "2016"),
        {
            "CREAT": ("mg/dL",),
            "HGB": ("g/dL",),
            "GLUC": ("mg/dL",),
            "ALT": ("U/L",),
            "AST": ("U/L",),
            "LYMPH": ("/mm3", "10^3/uL", "/mm3"),
            "BILI": ("mg/dL",),
        },
        {
            "mg/dL": ("mg/dl",),
            "g/dL": ("g/dl",),
            "U/L": ("U/L", "UI/L", "U/L"),
            "/mm3": ("/mm³", "/mm3", "/mm3"),
            "10^3/uL": ("10^3/µl", "x10^3/µl", "10^3/µl"),
        },
        (3.0, 6.5),  # Italy registered EDSS 3.0-6.5
    ),
    "denmark": Practice(
        "da",
        ",",
        "",  # REDCap's number_comma_decimal has no digit grouping
        ("%d-%m-%Y", "%m-%Y", "%Y"),  # as the REDCap project's free-text partial dates
        "17.0",
        ("2024", "2024"),
        {**_SI, "HGB": ("mmol/L",), "ALT": ("U/L",), "AST": ("U/L",)},
        {"umol/L": ("µmol/l",), "mmol/L": ("mmol/l",), "U/L": ("U/l",), "10^9/L": ("10^9/l",)},
        (2.5, 6.5),
    ),
    "uk": Practice(
        "en",
        ".",
        ",",
        ("%d/%m/%Y", "%m/%Y", "%Y"),
        "18.0",
        ("2021", "2018"),
        {**_SI, "HGB": ("g/L",), "ALT": ("U/L",), "AST": ("U/L",)},
        {
            "umol/L": ("umol/L", "µmol/L"),
            "g/L": ("g/L",),
            "mmol/L": ("mmol/L",),
            "U/L": ("U/L", "IU/L"),
            "10^9/L": ("x10^9/L", "10^9/L"),
        },
        (2.5, 6.5),
    ),
    "france": Practice(
        "fr",
        ",",  # the lab's printout, kept in LBORRES; SDTM's own values use a point
        "\u202f",
        ("%Y-%m-%d", "%Y-%m", "%Y"),  # SDTM --DTC: ISO 8601, partial to the month or year
        "16.0",
        ("2018", "2020", "2024"),
        {**_SI, "HGB": ("g/dL",), "GLUC": ("mg/dL",), "ALT": ("U/L",), "AST": ("U/L",)},
        {
            "umol/L": ("µmol/L",),
            "g/dL": ("g/dL",),
            "mg/dL": ("mg/dL",),
            "U/L": ("UI/L",),
            "10^9/L": ("G/L",),
        },
        (2.5, 6.5),
    ),
    "sweden": Practice(
        "sv",
        ",",
        "\u00a0",
        ("%Y-%m-%d", "%Y-%m", "%Y"),
        "19.1",
        ("2024", "2024"),
        {**_SI, "HGB": ("g/L",), "ALT": ("ukat/L",), "AST": ("ukat/L",)},  # Swedish µkat/L
        {
            "umol/L": ("µmol/L",),
            "g/L": ("g/L",),
            "mmol/L": ("mmol/L",),
            "ukat/L": ("µkat/L",),
            "10^9/L": ("10^9/L",),
        },
        (2.5, 6.5),
    ),
    "spain": Practice(
        "es",
        ",",
        ".",
        ("%d/%m/%y", "%m/%Y", "%Y"),
        "17.1",
        ("2017", "2019", "2022"),
        {
            "CREAT": ("mg/dL",),
            "HGB": ("g/dL",),
            "GLUC": ("mg/dL",),
            "ALT": ("U/L",),
            "AST": ("U/L",),
            "LYMPH": ("10^3/uL",),
            "BILI": ("mg/dL",),
        },
        {
            "mg/dL": ("mg/dL", "mg/dl", "mg/dL"),
            "g/dL": ("g/dL",),
            "U/L": ("U/L", "UI/L", "U/L"),
            "10^3/uL": ("10^3/µL", "x10^3/µL"),
        },
        (2.5, 6.5),
    ),
}


def practice(site: str) -> Practice:
    return PRACTICE[site]
