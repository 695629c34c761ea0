"""The SDTM datasets as the French data management writes them, beyond the columns an adapter
reads: each domain's standard variables in SDTMIG order (a rendered column not among them is a
SUPP-- qualifier), its constant variables, and for findings the name, category and unit of each
test code. The writer (``export_sdtm``) fills the identifiers (STUDYID, DOMAIN, --SEQ,
--GRPID) itself; a variable with nothing to fill is left out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Test:
    name: str  # --TEST
    category: str = ""  # --CAT
    unit: str = ""  # --ORRESU / --STRESU


@dataclass(frozen=True)
class Domain:
    label: str  # the dataset label
    variables: tuple[str, ...]  # standard variables, in SDTMIG order
    constants: dict[str, str] = field(default_factory=dict)
    tests: dict[str, Test] = field(default_factory=dict)  # findings: --TESTCD -> its test
    qualifiers: dict[str, str] = field(default_factory=dict)  # SUPP-- QNAM -> QLABEL


def _findings(p: str, *extra: str) -> tuple[str, ...]:
    return (
        "STUDYID",
        "DOMAIN",
        "USUBJID",
        f"{p}SEQ",
        f"{p}GRPID",
        f"{p}TESTCD",
        f"{p}TEST",
        f"{p}CAT",
        f"{p}ORRES",
        f"{p}ORRESU",
        f"{p}STRESC",
        f"{p}STRESN",
        f"{p}STRESU",
        f"{p}STAT",
        *extra,
        f"{p}EVAL",
        "VISIT",
        f"{p}DTC",
    )


_EDSS = {
    "EDSS01": Test("Expanded Disability Status Scale Score", "EDSS"),
    "EDSS02": Test("Ambulation Score", "EDSS"),
    "KFSS101": Test("Pyramidal Functions", "KFSS"),
    "KFSS102": Test("Cerebellar Functions", "KFSS"),
    "KFSS103": Test("Brain Stem Functions", "KFSS"),
    "KFSS104": Test("Sensory Functions", "KFSS"),
    "KFSS105": Test("Bowel and Bladder Functions", "KFSS"),
    "KFSS106": Test("Visual Functions", "KFSS"),
    "KFSS107": Test("Cerebral Functions", "KFSS"),
}

DOMAINS: dict[str, Domain] = {
    "DM": Domain(
        "Demographics",
        (
            *("STUDYID", "DOMAIN", "USUBJID", "RFSTDTC", "SITEID", "BRTHDTC", "SEX", "ARMCD"),
            "COUNTRY",
        ),
        constants={"COUNTRY": "FRA"},
        qualifiers={
            "MSTYPE": "MS Course at Inclusion",
            "MSDIAGDT": "Date of MS Diagnosis",
            "NIR": "Numero de Securite Sociale",
        },
    ),
    "EX": Domain(
        "Exposure",
        (
            *("STUDYID", "DOMAIN", "USUBJID", "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXROUTE"),
            *("EXLOT", "EPOCH", "EXSTDTC"),
        ),
        constants={"EXDOSU": "10^6 cells/kg", "EXROUTE": "INTRAVENOUS"},
        qualifiers={"WEIGHT": "Body Weight at Infusion (kg)", "VIABIL": "Cell Viability (%)"},
    ),
    "SV": Domain(
        "Subject Visits",
        ("STUDYID", "DOMAIN", "USUBJID", "VISITNUM", "VISIT", "VISITDY", "SVSTDTC"),
    ),
    "MO": Domain(
        "Morphology",
        _findings("MO", "MOLOC", "MOMETHOD"),
        constants={"MOLOC": "BRAIN", "MOMETHOD": "MRI"},
        tests={
            "GDLESNUM": Test("Number of Gd-Enhancing Lesions", "MRI LESIONS"),
            "NT2LESNM": Test("Number of New or Enlarging T2 Lesions", "MRI LESIONS"),
            "CUALESNM": Test("Number of Combined Unique Active Lesions", "MRI LESIONS"),
            "T2LESVOL": Test("T2 Lesion Volume", "MRI VOLUMES", "mL"),
            "BRAINVOL": Test("Normalized Brain Volume", "MRI VOLUMES", "mL"),
        },
        qualifiers={"MRIFS": "MRI Field Strength (T)"},
    ),
    "QS": Domain("Questionnaires", _findings("QS"), tests=_EDSS),
    "RS": Domain("Disease Response and Clin Classification", _findings("RS"), tests=_EDSS),
    "FT": Domain(
        "Functional Tests",
        _findings("FT"),
        tests={
            "T25FWT1": Test("Timed 25-Foot Walk, Trial 1", "T25FW", "sec"),
            "T25FWT2": Test("Timed 25-Foot Walk, Trial 2", "T25FW", "sec"),
            "NHPTDT1": Test("9-Hole Peg Test, Dominant Hand, Trial 1", "NHPT", "sec"),
            "NHPTDT2": Test("9-Hole Peg Test, Dominant Hand, Trial 2", "NHPT", "sec"),
            "NHPTNT1": Test("9-Hole Peg Test, Non-Dominant Hand, Trial 1", "NHPT", "sec"),
            "NHPTNT2": Test("9-Hole Peg Test, Non-Dominant Hand, Trial 2", "NHPT", "sec"),
            "PASAT3": Test("PASAT-3 Total Correct", "PASAT"),
        },
    ),
    "CE": Domain(
        "Clinical Events",
        (
            *("STUDYID", "DOMAIN", "USUBJID", "CESEQ", "CETERM", "CEDECOD", "CECAT", "CESEV"),
            *("CEOUT", "CECONTRT", "CESTDTC", "CEENDTC"),
        ),
        constants={"CETERM": "POUSSÉE DE SEP", "CECAT": "MULTIPLE SCLEROSIS"},
    ),
    "AE": Domain(
        "Adverse Events",
        (
            *("STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEPTCD", "AESOCCD", "AESER"),
            *("AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE", "AETOXGR"),
            *("AEREL", "AEOUT", "AESTDTC", "AEENDTC"),
        ),
        qualifiers={
            "MEDDRAV": "MedDRA Version",
            "AERELPRC": "Relationship to Bone-Marrow Harvest",
        },
    ),
    "CM": Domain(
        "Concomitant Medications",
        ("STUDYID", "DOMAIN", "USUBJID", "CMSEQ", "CMTRT", "CMCLASCD", "CMSTDTC", "CMENDTC"),
        qualifiers={"ATCVER": "ATC Index Year"},
    ),
    "LB": Domain(
        "Laboratory Test Results",
        _findings("LB"),
        tests={
            "CREAT": Test("Creatinine", "CHEMISTRY"),
            "GLUC": Test("Glucose", "CHEMISTRY"),
            "ALT": Test("Alanine Aminotransferase", "CHEMISTRY"),
            "AST": Test("Aspartate Aminotransferase", "CHEMISTRY"),
            "BILI": Test("Bilirubin", "CHEMISTRY"),
            "HGB": Test("Hemoglobin", "HEMATOLOGY"),
            "LYM": Test("Lymphocytes", "HEMATOLOGY"),
        },
    ),
}
