"""Which columns an export may leave out: those the spec marks "required: no" (every shared
column they fill is not required), never the patient id or a column that selects rows."""

from __future__ import annotations

import pytest

from federate.adapters import registry
from federate.adapters.declaration import Keep, LocalId, TableMap
from federate.adapters.parsers import Decimal, Integer, PartialDate, Text, Verbatim
from federate.errors import InputError
from federate.ingest.mapping import may_be_absent, resolve_columns

SCHEMA = registry.schema()
MRI = TableMap(
    "mri",
    "rm.csv",
    subject=LocalId("id"),
    fields={
        "gel_count": Integer("gd"),  # required
        "new_t2_count": Integer("t2"),  # not required
        "t2_volume_ml": Decimal("vol"),  # not required
    },
)


def test_a_column_filling_only_optional_shared_columns_may_be_absent() -> None:
    assert may_be_absent(MRI, SCHEMA.table("mri")) == {"t2", "vol"}
    assert resolve_columns(MRI, ["ID", "GD"], "rm.csv", SCHEMA.table("mri")) == {
        "id": "ID",
        "gd": "GD",
    }


def test_a_required_column_absent_stops_naming_it_and_what_may_go() -> None:
    with pytest.raises(InputError) as caught:
        resolve_columns(MRI, ["id", "gadolinio", "t2"], "rm.csv", SCHEMA.table("mri"))
    message = str(caught.value)
    assert caught.value.code == "missing-column"
    assert "'gd'" in message and "needs id, gd" in message and "may leave out t2, vol" in message


def test_without_the_schema_every_declared_column_is_needed() -> None:
    with pytest.raises(InputError):
        resolve_columns(MRI, ["id", "gd"], "rm.csv")


def test_a_column_one_required_parser_reads_is_required() -> None:
    labs = TableMap(
        "labs",
        "lab.csv",
        subject=LocalId("id"),
        fields={"value_raw": Verbatim("v"), "value_reported": Decimal("v")},
    )
    assert may_be_absent(labs, SCHEMA.table("labs")) == set()


def test_the_patient_id_and_a_row_selecting_column_are_never_optional() -> None:
    conmeds = TableMap(
        "conmeds",
        "cm.csv",
        subject=LocalId("atc"),  # an odd map: the id column is also an optional field's
        fields={
            "medication_verbatim": Verbatim("drug"),
            "atc_code": Text("atc"),
            "atc_version": Text("kind"),
            "start_date": PartialDate("start"),
            "end_date": PartialDate("end"),
        },
        keep=Keep("kind", ("A",), "other"),
    )
    assert may_be_absent(conmeds, SCHEMA.table("conmeds")) == {"end"}
