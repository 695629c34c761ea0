"""Italy: one CSV per form, `;` delimiter, `,` decimal, dd/mm/yyyy (or dd/mm/yy) dates,
cp1252 or UTF-8 with BOM, Italian column names and codes. The patient file carries the
codice fiscale and the patient's name: read, never written."""

from federate.adapter import (
    Code,
    Const,
    Date,
    Decimal,
    Integer,
    Locale,
    LocalId,
    SiteAdapter,
    TableMap,
    Text,
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

ITALY = SiteAdapter(
    name="italy",
    country="it",
    version="1.0.0",
    title="Italy (IT national trial): CSV forms from the Italian CRF",
    reader=CsvReader(delimiter=";", encodings=("utf-8", "cp1252")),
    locale=Locale(
        decimal=",",
        group=".",
        date_formats=("%d/%m/%Y", "%d/%m/%y"),
        century_start=2000,  # visit dates: "13" is 2013
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
                "sex": Code("sesso", {"femmina": "F", "maschio": "M", "F": "F", "M": "M"}),
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
                "diagnosis_date": Date("data_diagnosi", century_start=1950),
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
    ),
)
