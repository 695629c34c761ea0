"""UK: one Excel workbook from the trials unit (MESEMS_UK.xlsx), one sheet per case report form,
English labels and codes, decimal point. Dates come three ways in one workbook: dd/mm/yyyy text,
true date cells (read as the dates they hold, to the precision their number format shows:
a cell formatted mmm-yy is known to the month) and, in the visit dates, bare Excel serial day
numbers whose date format was lost. Number cells are read as the numbers they hold. The
Patients sheet carries the NHS number: read, never written. Some sheets have a title row above
the header, so rows are Excel's own row numbers."""

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
    YearOf,
)
from federate.readers.excel import ExcelReader

WORKBOOK = "MESEMS_UK.xlsx"
PATIENT_ID = LocalId("Trial No")  # MSC01-001: not numeric, so Excel keeps it whole

VISITS = {
    "Screening": "SCR",
    "Baseline": "W0",
    "Week 4": "W4",
    "Week 12": "W12",
    "Week 24": "W24",
    "Week 28": "W28",
    "Week 36": "W36",
    "Week 48": "W48",
    "Unscheduled": "UNS",
}
YES_NO = {"Yes": True, "No": False, "Y": True, "N": False}
RELATEDNESS = {
    "Not related": "NOT",
    "Unlikely": "UNLIKELY",
    "Possible": "POSSIBLE",
    "Probable": "PROBABLE",
    "Definite": "DEFINITE",
}
LAB_TESTS = {
    "Creatinine": "CREAT",
    "Haemoglobin": "HGB",
    "Glucose": "GLUC",
    "ALT": "ALT",
    "AST": "AST",
    "Lymphocytes": "LYMPH",
    "Bilirubin": "BILI",
}
# The two centres' laboratories spell some units differently.
LAB_UNITS = vocabulary.lab_units(
    "umol/L", "µmol/L", "g/L", "mmol/L", "U/L", "IU/L", "x10^9/L", "10^9/L"
)


def _sheet(name: str) -> str:
    return f"Sheet “{name}” of {WORKBOOK}."


UK = SiteAdapter(
    name="uk",
    country="gb",  # ISO 3166 alpha-2, as the simulator's site list has it
    version="1.0.0",
    title="UK (UK national trial): one Excel workbook from the trials unit",
    format="excel",
    # A UK Excel shows the system's short date as dd/mm/yyyy.
    reader=ExcelReader(expect=("Trial No",), serial_dates=("Visit date",), short_date="%d/%m/%Y"),
    spreadsheet=vocabulary.POINT_DECIMAL_EXCEL,  # the quarantine CSV, for its Excel
    locale=Locale(
        decimal=".",
        group=",",
        # Dates typed as text (date cells are read as the dates they hold).
        date_formats=("%d/%m/%Y", "%Y-%m-%d"),
    ),
    tables=(
        TableMap(
            "subjects",
            WORKBOOK,
            part="Patients",
            subject=PATIENT_ID,
            fields={
                "centre": Code("Centre", {"London": "UK-LON", "Cambridge": "UK-CAM"}),
                "sex": Code("Sex", {"Female": "F", "Male": "M", **vocabulary.SEX_CODES}),
                "birth_year": YearOf(Date("Date of birth")),
                "ms_course": Code(
                    "MS course",
                    {
                        "Relapsing-remitting": "RRMS",
                        "Secondary progressive": "SPMS",
                        "Primary progressive": "PPMS",
                        "RRMS": "RRMS",
                        "SPMS": "SPMS",
                        "PPMS": "PPMS",
                    },
                ),
                "diagnosis_date": Date("Date of diagnosis"),
                # The 2015 amendment changed the criteria mid-trial.
                "eligibility_version": Code(
                    "Protocol version", {"v1.0 (2012)": "UK-2012", "v3.0 (2015)": "UK-2015"}
                ),
            },
            dropped=("NHS number",),
            note=_sheet("Patients"),
        ),
        TableMap(
            "randomisation",
            WORKBOOK,
            part="Randomisation",
            subject=PATIENT_ID,
            fields={
                "sequence": Code(
                    "Sequence",
                    {"MSC then placebo": "MSC_PLACEBO", "Placebo then MSC": "PLACEBO_MSC"},
                ),
                "randomisation_date": Date("Date randomised"),
            },
            note=_sheet("Randomisation"),
        ),
        TableMap(
            "infusions",
            WORKBOOK,
            part="Infusions",
            subject=PATIENT_ID,
            fields={
                "period": Integer("Period"),
                "infusion_date": Date("Infusion date"),
                "product": Code("Product", {"MSC": "MSC", "Placebo": "PLACEBO"}),
                "dose_million_cells_per_kg": Decimal("Dose (x10^6 cells/kg)"),
                "body_weight_kg": Decimal("Weight (kg)", places=1),
                "viability_pct": Decimal("Viability (%)", places=1),
                "lot_id": Text("Lot number", upper=True),
            },
            note=_sheet("Infusions"),
        ),
        TableMap(
            "visits",
            WORKBOOK,
            part="Visits",
            subject=PATIENT_ID,
            fields={
                "visit_code": Code("Visit", VISITS),
                "week": Integer("Week"),
                "visit_date": Date("Visit date"),
            },
            note=_sheet("Visits")
            + " Visit date cells may hold bare Excel serial day numbers: read as dates.",
        ),
        TableMap(
            "mri",
            WORKBOOK,
            part="MRI",
            subject=PATIENT_ID,
            fields={
                "visit_code": Code("Visit", VISITS),
                "scan_date": Date("Scan date"),
                "field_strength_t": Decimal("Field strength (T)", places=1),
                "gel_count": Integer("Gd+ lesions"),
                "new_t2_count": Integer("New/enlarging T2 lesions"),
                "cua_count": Integer("CUA lesions"),
                "t2_volume_ml": Decimal("T2 lesion volume (mL)"),
                "brain_volume_ml": Decimal("Brain volume (mL)", places=1),
                "central_read": Code("Central read", YES_NO),
            },
            note=_sheet("MRI"),
        ),
        TableMap(
            "edss",
            WORKBOOK,
            part="EDSS",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("Assessment date"),
                "edss": Decimal("EDSS", places=1),
                "fs_pyramidal": Integer("FS pyramidal"),
                "fs_cerebellar": Integer("FS cerebellar"),
                "fs_brainstem": Integer("FS brainstem"),
                "fs_sensory": Integer("FS sensory"),
                "fs_bowel_bladder": Integer("FS bowel/bladder"),
                "fs_visual": Integer("FS visual"),
                "fs_cerebral": Integer("FS cerebral"),
                "ambulation_score": Integer("Ambulation score"),
                "rater_blinded": Code("Blinded rater", YES_NO),
            },
            note=_sheet("EDSS")
            + " The visit is assigned from the assessment date by the protocol windows.",
        ),
        TableMap(
            "msfc",
            WORKBOOK,
            part="MSFC",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("Assessment date"),
                "t25fw_trial1_s": Decimal("T25FW trial 1 (s)", places=1),
                "t25fw_trial2_s": Decimal("T25FW trial 2 (s)", places=1),
                "nhpt_dominant_trial1_s": Decimal("9HPT dominant 1 (s)", places=1),
                "nhpt_dominant_trial2_s": Decimal("9HPT dominant 2 (s)", places=1),
                "nhpt_nondominant_trial1_s": Decimal("9HPT non-dominant 1 (s)", places=1),
                "nhpt_nondominant_trial2_s": Decimal("9HPT non-dominant 2 (s)", places=1),
                "pasat3": Integer("PASAT-3"),
            },
            note=_sheet("MSFC")
            + " The visit is assigned from the assessment date by the protocol windows.",
        ),
        TableMap(
            "relapses",
            WORKBOOK,
            part="Relapses",
            subject=PATIENT_ID,
            fields={
                "onset_date": PartialDate("Onset date"),
                "end_date": PartialDate("End date"),
                "severity": Code(
                    "Severity", {"Mild": "MILD", "Moderate": "MODERATE", "Severe": "SEVERE"}
                ),
                "recovery": Code(
                    "Recovery", {"Complete": "COMPLETE", "Partial": "PARTIAL", "None": "NONE"}
                ),
                "steroids": Code("IV methylprednisolone", YES_NO),
            },
            note=_sheet("Relapses"),
        ),
        TableMap(
            "adverse_events",
            WORKBOOK,
            part="Adverse events",
            subject=PATIENT_ID,
            fields={
                "ae_number": Integer("AE No"),
                "verbatim_term": Verbatim("AE term"),
                "meddra_pt_code": Text("MedDRA PT code"),
                "meddra_soc_code": Text("MedDRA SOC code"),
                "meddra_version": Text("MedDRA version"),
                "onset_date": PartialDate("Onset date"),
                "end_date": PartialDate("End date"),
                "serious": Code("Serious", YES_NO),
                "sae_death": Code("SAE: death", YES_NO),
                "sae_life_threatening": Code("SAE: life-threatening", YES_NO),
                "sae_hospitalisation": Code("SAE: hospitalisation", YES_NO),
                "sae_disability": Code("SAE: disability", YES_NO),
                "sae_congenital_anomaly": Code("SAE: congenital anomaly", YES_NO),
                "sae_other_important": Code("SAE: other important", YES_NO),
                "ctcae_grade": Integer("CTCAE grade"),
                "relatedness_product": Code("Related to IMP", RELATEDNESS),
                "relatedness_harvest": Code("Related to harvest", RELATEDNESS),
                "outcome": Code(
                    "Outcome",
                    {
                        "Recovered/resolved": "RECOVERED",
                        "Recovering/resolving": "RECOVERING",
                        "Not recovered/not resolved": "NOT_RECOVERED",
                        "Recovered with sequelae": "RECOVERED_WITH_SEQUELAE",
                        "Fatal": "FATAL",
                        "Unknown": "UNKNOWN",
                    },
                ),
            },
            note=_sheet("Adverse events") + " MedDRA-coded; verbatim terms in English.",
        ),
        TableMap(
            "conmeds",
            WORKBOOK,
            part="Concomitant meds",
            subject=PATIENT_ID,
            fields={
                "medication_verbatim": Verbatim("Medication"),
                "atc_code": Text("ATC code", upper=True),
                "atc_version": Text("ATC version"),
                "start_date": PartialDate("Start date"),
                "end_date": PartialDate("Stop date"),
            },
            note=_sheet("Concomitant meds")
            + " ATC codes as each centre coded them (2018 or 2021 index): the schema crosswalks "
            "them to atc_code_current.",
        ),
        TableMap(
            "labs",
            WORKBOOK,
            part="Labs",
            subject=PATIENT_ID,
            fields={
                "assessment_date": Date("Sample date"),
                "analyte": Code("Test", LAB_TESTS),
                "value_raw": Verbatim("Result"),
                "unit_raw": Verbatim("Units"),
                "value_reported": Decimal("Result"),
                "unit_reported": Code("Units", LAB_UNITS),
            },
            note=_sheet("Labs")
            + " Long format, one row per test, in UK units: creatinine and bilirubin µmol/L, "
            "haemoglobin g/L, glucose mmol/L.",
        ),
    ),
    notes=(
        "The workbook's other sheets (a README, a hidden look-up sheet) are never read. A "
        "quarantined row's source_row is the row number Excel shows on the table's sheet.",
    ),
)
