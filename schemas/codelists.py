"""Code lists, crosswalks and unit conversions of the shared schema (DOMAIN.md §1-2).

Versioned with the schema: a change here is a change of the schema version, so every derived
value stays traceable to the rule that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Visit windows in days from W0 (the first infusion visit): ±7 days, ±14 at W48; SCR is
# 8 to 4 weeks before W0. An assessment outside every window is UNS.
VISIT_WINDOWS: dict[str, tuple[int, int]] = {
    "SCR": (-56, -28),
    "W0": (-7, 7),
    "W4": (21, 35),
    "W12": (77, 91),
    "W24": (161, 175),
    "W28": (189, 203),
    "W36": (245, 259),
    "W48": (322, 350),
}

EDSS_SCORES = (0.0, *(x / 2 for x in range(2, 21)))  # 0, then 1.0 to 10.0 by 0.5: 0.5 is invalid

# The 27 MedDRA System Organ Classes (public codes).
MEDDRA_SOC: dict[str, str] = {
    "10005329": "Blood and lymphatic system disorders",
    "10007541": "Cardiac disorders",
    "10010331": "Congenital, familial and genetic disorders",
    "10013993": "Ear and labyrinth disorders",
    "10014698": "Endocrine disorders",
    "10015919": "Eye disorders",
    "10017947": "Gastrointestinal disorders",
    "10018065": "General disorders and administration site conditions",
    "10019805": "Hepatobiliary disorders",
    "10021428": "Immune system disorders",
    "10021881": "Infections and infestations",
    "10022117": "Injury, poisoning and procedural complications",
    "10022891": "Investigations",
    "10027433": "Metabolism and nutrition disorders",
    "10028395": "Musculoskeletal and connective tissue disorders",
    "10029104": "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
    "10029205": "Nervous system disorders",
    "10036585": "Pregnancy, puerperium and perinatal conditions",
    "10037175": "Psychiatric disorders",
    "10038359": "Renal and urinary disorders",
    "10038604": "Reproductive system and breast disorders",
    "10038738": "Respiratory, thoracic and mediastinal disorders",
    "10040785": "Skin and subcutaneous tissue disorders",
    "10041244": "Social circumstances",
    "10042613": "Surgical and medical procedures",
    "10047065": "Vascular disorders",
    "10077536": "Product issues",
}

# ATC codes reassigned by WHO (2019: dimethyl fumarate; 2024: the MS immunosuppressants).
# Old exports keep old codes; both pool together under the current code.
ATC_CROSSWALK: dict[str, str] = {
    "N07XX09": "L04AX07",  # dimethyl fumarate (2019)
    "L04AA23": "L04AG03",  # natalizumab
    "L04AA27": "L04AE01",  # fingolimod
    "L04AA36": "L04AG08",  # ocrelizumab
    "L04AA34": "L04AG06",  # alemtuzumab
    "L04AA31": "L04AK02",  # teriflunomide
    "L04AA42": "L04AE03",  # siponimod
    "L04AA38": "L04AE02",  # ozanimod
}


@dataclass(frozen=True)
class Analyte:
    unit: str  # the one pinned unit every site's value is harmonised to
    factors: dict[str, float]  # accepted unit -> factor to the pinned unit
    name: str


# Canonical unit spellings; adapters map their own spellings onto these.
LAB_ANALYTES: dict[str, Analyte] = {
    "CREAT": Analyte("umol/L", {"umol/L": 1.0, "mg/dL": 88.4}, "creatinine"),
    "HGB": Analyte("g/L", {"g/L": 1.0, "g/dL": 10.0, "mmol/L": 10.0 / 0.6206}, "haemoglobin"),
    "GLUC": Analyte("mmol/L", {"mmol/L": 1.0, "mg/dL": 1.0 / 18.0}, "glucose"),
    "ALT": Analyte("U/L", {"U/L": 1.0, "ukat/L": 60.0}, "alanine aminotransferase"),
    "AST": Analyte("U/L", {"U/L": 1.0, "ukat/L": 60.0}, "aspartate aminotransferase"),
    "LYMPH": Analyte("10^9/L", {"10^9/L": 1.0, "10^3/uL": 1.0, "/mm3": 0.001}, "lymphocytes"),
    "BILI": Analyte("umol/L", {"umol/L": 1.0, "mg/dL": 17.1}, "total bilirubin"),
}
LAB_UNITS = tuple(sorted({u for a in LAB_ANALYTES.values() for u in a.factors}))


@dataclass(frozen=True)
class MsfcReference:
    """Reference population for the MSFC composite z-score (configurable: name it per version)."""

    name: str
    t25fw_mean: float
    t25fw_sd: float
    nhpt_inverse_mean: float  # mean of 1 / (mean 9HPT time), both hands averaged
    nhpt_inverse_sd: float
    pasat_mean: float
    pasat_sd: float


# The NMSS Clinical Outcomes Assessment Task Force reference (Fischer et al. 1999).
MSFC_TASK_FORCE = MsfcReference("NMSS-TF-1999", 9.5353, 11.4058, 0.0439, 0.0101, 45.0311, 12.0771)
