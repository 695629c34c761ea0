"""France: the French national trial's data management delivers CDISC SDTM datasets, one file
per domain: SAS transport (XPT v5), or the same dataset as .sas7bdat or .csv under the same
name, as the CDISC Therapeutic Area User Guide for Multiple Sclerosis (TAUG-MS v1.0) lays out
MS data. Text is cp1252 (SAS wlatin1) or UTF-8, dates are ISO
8601 (``--DTC``, possibly partial: ``2014-03``, ``2014``; possibly timed), numbers use a decimal
point. SUPP-- qualifiers are merged onto their parent records by the reader; the NIR, which the
French CRF recorded, travels as the SUPPDM qualifier ``NIR``: read, never written.

Conventions (where SDTM leaves a choice, the French data management's):

* DM holds every patient, screen failures included (``ARMCD`` ``SCRNFAIL``): only the two
  crossover sequences are kept, and every other record of a patient DM skips (in AE, CM,
  LB...) is skipped with the same reason. ``RFSTDTC`` is the date of randomisation
  (sponsor-defined); ``BRTHDTC`` is the year of birth only. MS course and date of diagnosis
  are the SUPPDM qualifiers ``MSTYPE`` and ``MSDIAGDT`` (the TAUG puts them in MH; the shared
  table needs them on the patient's record).
* EX: one record per infusion, the crossover period in ``EPOCH``; body weight and viability are
  the SUPPEX qualifiers ``WEIGHT`` and ``VIABIL``.
* Results are the standard numeric result ``--STRESN`` (in ``--STRESU``), never ``--ORRES``
  in its place: the original result may be text ("<5") or in another unit, so a record
  without ``--STRESN`` is held, not converted. ``LBORRES``/``LBORRESU`` are kept as exported.
* Findings (MO, QS or RS, FT) are pivoted to one row per assessment; a test code names each
  result. MO test codes are the French data management's own; field strength is the SUPPMO
  qualifier ``MRIFS`` on the scan's group (``MOGRPID``).
"""

from federate.adapters import vocabulary
from federate.adapters.declaration import Keep, LocalId, Pivot, SiteAdapter, SkipFiles, TableMap
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
from federate.readers.sdtm import SdtmReader

USUBJID = LocalId("USUBJID", upper=False)  # SDTM ids are exact: nothing to normalise

YES_NO = {"Y": True, "N": False}  # the CDISC NY code list
VISITS = {
    "SELECTION": "SCR",
    "SEMAINE 0": "W0",
    "SEMAINE 4": "W4",
    "SEMAINE 12": "W12",
    "SEMAINE 24": "W24",
    "SEMAINE 28": "W28",
    "SEMAINE 36": "W36",
    "SEMAINE 48": "W48",
    "VISITE NON PROGRAMMEE": "UNS",
}
# Planned study day of each visit (TV.VISITDY; blank for an unplanned visit) -> nominal week.
WEEKS = {"-42": -6, "1": 0, "29": 4, "85": 12, "169": 24, "197": 28, "253": 36, "337": 48}
SEQUENCES = {"MSC-PBO": "MSC_PLACEBO", "PBO-MSC": "PLACEBO_MSC"}
RANDOMISED = Keep(
    "ARMCD",
    tuple(SEQUENCES),
    "not randomised to a crossover sequence (a screen failure, or another trial's arm)",
)
DM_NOTE = (
    "One record per patient; screen failures (ARMCD `SCRNFAIL`) are skipped, and so are their "
    "records in every other dataset (AE, CM, LB...), with the same reason. The SUPPDM "
    "qualifiers are merged onto it by the reader."
)
# Which result a finding is read from: the standardised numeric result, never the original.
RESULT_NOTE = (
    "Results are read from the standard numeric result --STRESN (LBSTRESN in LBSTRESU; "
    "MOSTRESN, QSSTRESN or RSSTRESN, FTSTRESN). --ORRES is never read in its place: the "
    "original result may be text (`<5`) or in another unit, so a record whose --STRESN is "
    "empty is quarantined as missing, not converted. LBORRES and LBORRESU are kept exactly as "
    "exported beside the value."
)
EXTENSIONS = ("xpt", "sas7bdat", "csv")
RELATEDNESS = {
    "NOT RELATED": "NOT",
    "UNLIKELY RELATED": "UNLIKELY",
    "POSSIBLY RELATED": "POSSIBLE",
    "PROBABLY RELATED": "PROBABLE",
    "RELATED": "DEFINITE",
    # Other sponsors' spellings, as in the CDISC pilot study.
    "NONE": "NOT",
    "REMOTE": "UNLIKELY",
    "POSSIBLE": "POSSIBLE",
    "PROBABLE": "PROBABLE",
    "DEFINITE": "DEFINITE",
}
OUTCOMES = {  # the CDISC OUT code list
    "RECOVERED/RESOLVED": "RECOVERED",
    "RECOVERING/RESOLVING": "RECOVERING",
    "NOT RECOVERED/NOT RESOLVED": "NOT_RECOVERED",
    "RECOVERED/RESOLVED WITH SEQUELAE": "RECOVERED_WITH_SEQUELAE",
    "FATAL": "FATAL",
    "UNKNOWN": "UNKNOWN",
}
EVALUATORS = {"INDEPENDENT ASSESSOR": True, "INVESTIGATOR": False}  # --EVAL: blinded or not
# LBTESTCD (CDISC code list) -> analyte: lymphocytes are LYM in SDTM.
LAB_TESTS = {
    "CREAT": "CREAT",
    "HGB": "HGB",
    "GLUC": "GLUC",
    "ALT": "ALT",
    "AST": "AST",
    "LYM": "LYMPH",
    "BILI": "BILI",
}
# LBSTRESU in the CDISC UNIT code list: the shared schema's canonical spellings.
LAB_UNITS = vocabulary.lab_units(
    "umol/L", "mg/dL", "g/dL", "g/L", "mmol/L", "U/L", "ukat/L", "10^9/L", "10^3/uL"
)
OTHER_LAB_TEST = "another laboratory test: not in the shared schema"
# Variables SDTMIG marks Permissible, and SUPP-- qualifiers, that another sponsor's export may
# lack (the CDISC pilot has none of them): read as empty, so rows are held, not the whole run.
DM_OPTIONAL = ("BRTHDTC", "MSTYPE", "MSDIAGDT")
EX_OPTIONAL = ("EPOCH", "EXLOT", "WEIGHT", "VIABIL")
AE_OPTIONAL = (
    *("AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE", "AETOXGR", "AEOUT"),
    *("MEDDRAV", "AERELPRC"),
)
CM_OPTIONAL = ("CMCLASCD", "CMSTDTC", "CMENDTC", "ATCVER")

MRI_TESTS = ("GDLESNUM", "NT2LESNM", "CUALESNM", "T2LESVOL", "BRAINVOL")
EDSS_TESTS = (
    "EDSS01",  # EDSS score
    "KFSS101",  # Kurtzke functional systems: pyramidal
    "KFSS102",  # cerebellar
    "KFSS103",  # brainstem
    "KFSS104",  # sensory
    "KFSS105",  # bowel and bladder
    "KFSS106",  # visual
    "KFSS107",  # cerebral
    "EDSS02",  # Neurostatus ambulation score
)
# One test code per trial and hand: the pivot names a column per code (FTREPNUM and FTLAT
# cannot take part in it).
MSFC_TESTS = ("T25FWT1", "T25FWT2", "NHPTDT1", "NHPTDT2", "NHPTNT1", "NHPTNT2", "PASAT3")


def _edss(p: str) -> TableMap:
    """EDSS and functional systems from QS (TAUG-MS v1.0) or RS (newer CDISC supplements):
    ``p`` is the domain, the variables' prefix."""
    return TableMap(
        "edss",
        f"{p.lower()}.xpt",
        subject=USUBJID,
        keep=Keep(f"{p}TESTCD", EDSS_TESTS, "another instrument's item: not in the shared schema"),
        pivot=Pivot(
            by=("USUBJID", "VISIT", f"{p}DTC"),
            name=f"{p}TESTCD",
            value=f"{p}STRESN",
            tests=EDSS_TESTS,
            carry=(f"{p}EVAL",),
        ),
        fields={
            "visit_code": Code("VISIT", VISITS),
            "assessment_date": Date(f"{p}DTC"),
            "edss": Decimal("EDSS01", places=1),
            "fs_pyramidal": Integer("KFSS101"),
            "fs_cerebellar": Integer("KFSS102"),
            "fs_brainstem": Integer("KFSS103"),
            "fs_sensory": Integer("KFSS104"),
            "fs_bowel_bladder": Integer("KFSS105"),
            "fs_visual": Integer("KFSS106"),
            "fs_cerebral": Integer("KFSS107"),
            "ambulation_score": Integer("EDSS02"),
            "rater_blinded": Code(f"{p}EVAL", EVALUATORS),
        },
        optional=True,
        note=f"{p}: one record per item ({p}TESTCD `EDSS01` the score, `KFSS101`-`KFSS107` the "
        "functional systems, `EDSS02` ambulation), pivoted to one row per assessment. The "
        "export carries QS or RS (either, or both).",
    )


def _labs(file: str, note: str) -> TableMap:
    return TableMap(
        "labs",
        file,
        subject=USUBJID,
        keep=Keep("LBTESTCD", tuple(LAB_TESTS), OTHER_LAB_TEST),
        fields={
            "visit_code": Code("VISIT", VISITS),
            "assessment_date": Date("LBDTC"),
            "analyte": Code("LBTESTCD", LAB_TESTS),
            "value_raw": Verbatim("LBORRES"),
            "unit_raw": Verbatim("LBORRESU"),
            "value_reported": Decimal("LBSTRESN"),
            "unit_reported": Code("LBSTRESU", LAB_UNITS),
        },
        optional=True,
        note=note,
    )


# A Define-XML is part of an SDTM submission: metadata about the datasets, never rows.
DEFINE_XML = (
    SkipFiles(
        "define.xml",
        "the Define-XML: the submission's metadata (datasets, variables, code lists), not data",
        read=False,
    ),
    SkipFiles(
        "define*.xsl",
        "the Define-XML's stylesheet (shows define.xml in a browser), not data",
        read=False,
    ),
)

FRANCE = SiteAdapter(
    name="france",
    country="fr",
    version="1.0.0",
    title="France (FR national trial): CDISC SDTM datasets, one file per domain",
    reader=SdtmReader(encodings=vocabulary.UTF8_OR_CP1252),
    spreadsheet=vocabulary.COMMA_DECIMAL_EXCEL,  # the quarantine CSV, for its Excel
    locale=Locale(
        decimal=".",
        date_formats=("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"),
        month_formats=("%Y-%m",),
        year_formats=("%Y",),
    ),
    tables=(
        TableMap(
            "subjects",
            "dm.xpt",
            subject=USUBJID,
            keep=RANDOMISED,
            fields={
                "centre": Code("SITEID", {"01": "FR-PAR", "02": "FR-LYO", "03": "FR-TOU"}),
                "sex": Code("SEX", vocabulary.SEX_CODES),  # CDISC SEX writes the shared codes
                # The French CRF records the year of birth only; a full or month date reads too.
                "birth_year": YearOf(Date("BRTHDTC", formats=("%Y", "%Y-%m", "%Y-%m-%d"))),
                "ms_course": Code("MSTYPE", {"RR": "RRMS", "SP": "SPMS", "PP": "PPMS"}),
                "diagnosis_date": Date("MSDIAGDT"),
                "eligibility_version": Const("FR-2013"),
            },
            dropped=("NIR",),
            optional_columns=DM_OPTIONAL,
            note=DM_NOTE,
        ),
        TableMap(
            "randomisation",
            "dm.xpt",
            subject=USUBJID,
            keep=RANDOMISED,
            fields={
                "sequence": Code("ARMCD", SEQUENCES),
                "randomisation_date": Date("RFSTDTC"),
            },
            dropped=("NIR",),
            note=DM_NOTE + " RFSTDTC is the date of randomisation.",
        ),
        TableMap(
            "infusions",
            "ex.xpt",
            subject=USUBJID,
            fields={
                "period": Code("EPOCH", {"TREATMENT 1": 1, "TREATMENT 2": 2}),
                "infusion_date": Date("EXSTDTC"),
                "product": Code("EXTRT", {"AUTOLOGOUS MSC": "MSC", "PLACEBO": "PLACEBO"}),
                "dose_million_cells_per_kg": Decimal("EXDOSE"),
                "body_weight_kg": Decimal("WEIGHT", places=1),
                "viability_pct": Decimal("VIABIL", places=1),
                "lot_id": Text("EXLOT", upper=True),
            },
            optional_columns=EX_OPTIONAL,
            note="One record per infusion; EXDOSE in 10^6 cells/kg, blank for placebo. Body "
            "weight and viability are SUPPEX qualifiers.",
        ),
        TableMap(
            "visits",
            "sv.xpt",
            subject=USUBJID,
            fields={
                "visit_code": Code("VISIT", VISITS),
                "week": Code("VISITDY", WEEKS),
                "visit_date": Date("SVSTDTC"),
            },
            note="The nominal week comes from the planned study day (VISITDY), which an "
            "unplanned visit lacks.",
        ),
        TableMap(
            "mri",
            "mo.xpt",
            subject=USUBJID,
            keep=Keep(
                "MOTESTCD", MRI_TESTS, "another morphology finding: not in the shared schema"
            ),
            pivot=Pivot(
                by=("USUBJID", "VISIT", "MODTC"),
                name="MOTESTCD",
                value="MOSTRESN",
                tests=MRI_TESTS,
                carry=("MOEVAL", "MRIFS"),
            ),
            fields={
                "visit_code": Code("VISIT", VISITS),
                "scan_date": Date("MODTC"),
                "field_strength_t": Decimal("MRIFS", places=1),
                "gel_count": Integer("GDLESNUM"),
                "new_t2_count": Integer("NT2LESNM"),
                "cua_count": Integer("CUALESNM"),
                "t2_volume_ml": Decimal("T2LESVOL"),
                "brain_volume_ml": Decimal("BRAINVOL", places=1),
                "central_read": Code("MOEVAL", EVALUATORS),
            },
            optional=True,
            note="MO (TAUG-MS morphology), one record per lesion count or volume, pivoted to one "
            "row per scan: MOTESTCD `GDLESNUM` Gd-enhancing lesions, `NT2LESNM` new or "
            "enlarging T2 lesions, `CUALESNM` combined unique active lesions, `T2LESVOL` T2 "
            "lesion volume (mL), `BRAINVOL` normalised brain volume (mL). A central read is "
            "MOEVAL `INDEPENDENT ASSESSOR`; the field strength (T) is the SUPPMO qualifier MRIFS.",
        ),
        _edss("QS"),
        _edss("RS"),
        TableMap(
            "msfc",
            "ft.xpt",
            subject=USUBJID,
            keep=Keep("FTTESTCD", MSFC_TESTS, "another functional test: not in the shared schema"),
            pivot=Pivot(
                by=("USUBJID", "VISIT", "FTDTC"),
                name="FTTESTCD",
                value="FTSTRESN",
                tests=MSFC_TESTS,
            ),
            fields={
                "visit_code": Code("VISIT", VISITS),
                "assessment_date": Date("FTDTC"),
                "t25fw_trial1_s": Decimal("T25FWT1", places=1),
                "t25fw_trial2_s": Decimal("T25FWT2", places=1),
                "nhpt_dominant_trial1_s": Decimal("NHPTDT1", places=1),
                "nhpt_dominant_trial2_s": Decimal("NHPTDT2", places=1),
                "nhpt_nondominant_trial1_s": Decimal("NHPTNT1", places=1),
                "nhpt_nondominant_trial2_s": Decimal("NHPTNT2", places=1),
                "pasat3": Integer("PASAT3"),
            },
            optional=True,
            note="FT, one record per timed trial, pivoted to one row per assessment: FTTESTCD "
            "`T25FWT1`/`T25FWT2` timed 25-foot walk, `NHPTDT1`/`NHPTDT2` and `NHPTNT1`/"
            "`NHPTNT2` 9-hole peg test (dominant, non-dominant hand), `PASAT3` PASAT-3.",
        ),
        TableMap(
            "relapses",
            "ce.xpt",
            subject=USUBJID,
            keep=Keep(
                "CEDECOD",
                ("MULTIPLE SCLEROSIS RELAPSE",),
                "another clinical event: not a relapse",
            ),
            fields={
                "onset_date": PartialDate("CESTDTC"),
                "end_date": PartialDate("CEENDTC"),
                "severity": Code(
                    "CESEV", {"MILD": "MILD", "MODERATE": "MODERATE", "SEVERE": "SEVERE"}
                ),
                "recovery": Code(
                    "CEOUT",
                    {
                        "RECOVERED/RESOLVED": "COMPLETE",
                        "RECOVERED/RESOLVED WITH SEQUELAE": "PARTIAL",
                        "NOT RECOVERED/NOT RESOLVED": "NONE",
                    },
                ),
                # The only relapse treatment the French CRF collects is IV methylprednisolone.
                "steroids": Code("CECONTRT", YES_NO),
            },
            optional=True,
            note="CE, one record per relapse (CEDECOD `MULTIPLE SCLEROSIS RELAPSE`); recovery "
            "is the outcome CEOUT, steroid treatment CECONTRT.",
        ),
        TableMap(
            "adverse_events",
            "ae.xpt",
            subject=USUBJID,
            fields={
                "ae_number": Integer("AESEQ"),
                "verbatim_term": Verbatim("AETERM"),
                "meddra_pt_code": Text("AEPTCD"),
                "meddra_soc_code": Text("AESOCCD"),
                "meddra_version": Text("MEDDRAV"),
                "onset_date": PartialDate("AESTDTC"),
                "end_date": PartialDate("AEENDTC"),
                "serious": Code("AESER", YES_NO),
                "sae_death": Code("AESDTH", YES_NO),
                "sae_life_threatening": Code("AESLIFE", YES_NO),
                "sae_hospitalisation": Code("AESHOSP", YES_NO),
                "sae_disability": Code("AESDISAB", YES_NO),
                "sae_congenital_anomaly": Code("AESCONG", YES_NO),
                "sae_other_important": Code("AESMIE", YES_NO),
                "ctcae_grade": Integer("AETOXGR"),
                "relatedness_product": Code("AEREL", RELATEDNESS),
                "relatedness_harvest": Code("AERELPRC", RELATEDNESS),
                "outcome": Code("AEOUT", OUTCOMES),
            },
            optional_columns=AE_OPTIONAL,
            note="Verbatim terms in French (cp1252); MedDRA codes numeric as SDTM has them. "
            "SUPPAE qualifiers: MEDDRAV the MedDRA version, AERELPRC the relatedness to the "
            "bone-marrow harvest.",
        ),
        TableMap(
            "conmeds",
            "cm.xpt",
            subject=USUBJID,
            fields={
                "medication_verbatim": Verbatim("CMTRT"),
                "atc_code": Text("CMCLASCD", upper=True),
                "atc_version": Text("ATCVER"),
                "start_date": PartialDate("CMSTDTC"),
                "end_date": PartialDate("CMENDTC"),
            },
            optional_columns=CM_OPTIONAL,
            note="CMCLASCD holds the ATC code as each centre coded it (often pre-2024), the "
            "SUPPCM qualifier ATCVER its ATC index year; the schema crosswalks the code.",
        ),
        _labs(
            "lb.xpt",
            "LB, one record per test: LBORRES/LBORRESU kept as exported (decimal comma), "
            "LBSTRESN/LBSTRESU the reported value and unit, read as the value (creatinine and "
            "bilirubin in µmol/L, haemoglobin in g/dL, glucose in mg/dL); LBORRES is never "
            "read in place of an empty LBSTRESN. Other tests are skipped.",
        ),
        _labs("lbch.xpt", "LB split by category (SDTMIG): chemistry."),
        _labs("lbhe.xpt", "LB split by category (SDTMIG): haematology."),
    ),
    format="sdtm",
    notes=(
        "SUPP-- datasets are merged onto their parent datasets' records. Other datasets are "
        "counted and skipped with a reason: trial design (TA, TE, TI, TS, TV), disposition "
        "(DS), vital signs (VS) and any other domain the shared schema has no place for, and "
        "split datasets such as urinalysis (LBUR).",
        "Variables SDTMIG marks Permissible, and the SUPP-- qualifiers, may be missing from a "
        "dataset: they read as empty (a required shared column then holds its rows, not the "
        "run): "
        + ", ".join(f"`{c}`" for c in (*DM_OPTIONAL, *EX_OPTIONAL, *AE_OPTIONAL, *CM_OPTIONAL))
        + ".",
        RESULT_NOTE,
    ),
    skip=(
        *DEFINE_XML,
        *(
            SkipFiles(f"{pattern}.{extension}", reason)
            for pattern, reason in (
                (
                    "??",
                    "an SDTM domain the shared schema has no place for (trial design "
                    "TA/TE/TI/TS/TV, disposition DS, vital signs VS, medical history MH...)",
                ),
                (
                    "????",
                    "a split SDTM dataset the shared schema has no place for (urinalysis LBUR...)",
                ),
                (
                    "supp*",
                    "SUPP-- qualifiers: merged onto their parent records (read with the "
                    "parent domain)",
                ),
            )
            for extension in EXTENSIONS
        ),
    ),
)
