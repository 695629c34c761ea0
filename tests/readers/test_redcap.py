"""The REDCap reader against REDCap's own ODM export (``project.xml``) of every corpus project,
plus label exports, checkboxes, identifiers and unreadable exports."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from lxml import etree

from federate.adapters.declaration import Keep, TableMap
from federate.adapters.parsers import Text
from federate.errors import ExitCode, InputError
from federate.ingest.export import find_source
from federate.ingest.mapping import resolve_columns
from federate.ingest.reshape import reshaped, stream
from federate.readers import ROW_COLUMN, Reject, Source
from federate.readers.base import NO_PART
from federate.readers.redcap import RedcapReader
from federate.readers.redcap_names import form_slug
from tests.conftest import corpus_root

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
RC = "{https://projectredcap.org}"
SYSTEM = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"}
DAG = "redcap_data_access_group"
RAW = RedcapReader()

# Projects whose data.csv REDCap wrote, with its dictionary: checked value by value against ODM.
ORACLE_PROJECTS = (
    "checkboxes-1",
    "clinical-trial-1",
    "dag",
    "decimal-comma-and-dot",
    "longitudinal",
    "nonnumeric-record-id",
    "repeating-instruments",
    "repeating-instruments-sparse",
    "validation-types-1",
)
# Values compared per project (every column of every form row, keys and system columns aside).
VALUES_COMPARED = dict(zip(ORACLE_PROJECTS, (33, 3500, 27, 28, 451, 6, 28, 46, 0), strict=True))
# Forms never saved (all fields blank or unticked, status Incomplete), skipped with their reason
# though project.xml lists them (REDCap's ODM writes a form whose only value is its status 0).
NEVER_SAVED = {"checkboxes-1": 5, "validation-types-1": 1}
# Projects with a known defect: each has its own test below, asserting exactly that defect.
DEFECTS = {
    "decimal-comma": "dictionary misspelt as dictionay.csv",
    "empty-rows": "data.csv is one empty line, without even a header",
    "russian": "no dictionary; data.csv written by R, with a leading row-name column",
    "simple": "data.csv written by R: sex as TRUE/FALSE, no DAG column, no interpreter_needed",
}
# Values where data.csv and project.xml legitimately differ (each must still occur).
KNOWN = {
    ("longitudinal", "patient_document"): "file upload: ODM carries no file, data.csv its name",
    ("validation-types-1", "<row>"): "calc 3+4: project.xml holds 7, data.csv predates it: its "
    "form is blank there, never saved",
}


def projects() -> list[str]:
    root = corpus_root() / "redcap"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def read(reader: RedcapReader, path: Path, form: str | None) -> tuple[pa.Table, list[Reject]]:
    source = Source(path, path.name, form)
    rejects: list[Reject] = []
    batches = list(reader.batches(source, rejects))
    schema = pa.schema([(c, pa.string()) for c in reader.columns(source)] + [(ROW_COLUMN, "int64")])
    return pa.Table.from_batches(batches, schema=schema), rejects


# -- the oracle: REDCap's ODM export, parsed independently -----------------------------------

Key = tuple[str, str, str]  # record, unique event name, repeat instance


@dataclass
class Odm:
    forms: dict[str, dict[Key, dict[str, str]]] = field(default_factory=dict)
    dag: dict[str, str] = field(default_factory=dict)


def read_odm(path: Path) -> Odm:
    odm = Odm()
    for subject in etree.parse(str(path)).iter(f"{ODM}SubjectData"):
        record = subject.get("SubjectKey")
        for form in subject.iter(f"{ODM}FormData"):
            parent = form.getparent()
            event = parent.get("StudyEventOID", "") if parent.tag == f"{ODM}StudyEventData" else ""
            key = (record, event.removeprefix("Event."), form.get("FormRepeatKey", "1"))
            items = odm.forms.setdefault(form.get("FormOID").removeprefix("Form."), {})
            row = items.setdefault(key, {})
            for item in form.iter(f"{ODM}ItemData"):
                if item.get("ItemOID") == DAG:
                    odm.dag[record] = item.get("Value")
                else:
                    row[item.get("ItemOID")] = item.get("Value")
    return odm


def squash(text: str) -> str:
    # XML attribute normalisation turns line breaks into spaces: whitespace is compared loosely.
    return " ".join(text.split())


def empty(items: dict[str, str], form: str, rid: str) -> bool:
    """An ODM form holding nothing: the record id, unticked checkboxes, status Incomplete."""
    blank = {rid: None, f"{form}_complete": "0"}
    return all(
        v in ("", blank.get(k, "0" if "___" in k else "")) for k, v in items.items() if k != rid
    )


def differences(folder: Path, reader: RedcapReader = RAW) -> tuple[list[tuple[str, ...]], int, int]:
    """Every (form, key, column) where data.csv, read per form, differs from project.xml; how
    many values were compared; how many forms were skipped as never saved (ODM: empty)."""
    odm = read_odm(folder / "project.xml")
    path = folder / "data.csv"
    dictionary = reader.data_dictionary(Source(path, "data.csv"))
    rid = dictionary.record_id
    secret = {f.name for f in dictionary.fields if f.identifier}
    found: list[tuple[str, ...]] = []
    compared = skipped = never = 0
    for form in dictionary.forms:
        table, rejects = read(reader, path, form)
        assert all(r.deleted and r.reason == "form-never-saved" for r in rejects), rejects
        never += len(rejects)
        assert not {c.split("___")[0] for c in table.column_names} & secret, "identifier yielded"
        ours: dict[Key, dict[str, str]] = {}
        for row in table.to_pylist():
            key = (
                row[rid],
                row.get("redcap_event_name") or "",
                row.get("redcap_repeat_instance") or "1",
            )
            assert key not in ours, f"{form}: two rows for {key}"
            ours[key] = row
        theirs = odm.forms.get(form, {})
        for key in [k for k in theirs if k not in ours and empty(theirs[k], form, rid)]:
            del theirs[key]
            skipped += 1
        for key in sorted(ours.keys() ^ theirs.keys()):
            found.append((form, str(key), "<row>", str(key in theirs), str(key in ours)))
        for key in sorted(ours.keys() & theirs.keys()):
            row, items = ours[key], theirs[key]
            dag = odm.dag.get(key[0], "")
            if row.get(DAG, "") != dag:
                found.append((form, str(key), DAG, dag, row.get(DAG, "<not exported>")))
            for col in table.column_names:
                if col in {rid, DAG, ROW_COLUMN, *SYSTEM}:
                    continue
                compared += 1
                # An unsaved form's status is Incomplete (0); ODM leaves it out.
                expected = items.get(col, "0" if col == f"{form}_complete" else "")
                if squash(row[col]) != squash(expected):
                    found.append((form, str(key), col, expected, row[col]))
            for item, value in items.items():
                if item not in table.column_names and item.split("___")[0] not in secret | {rid}:
                    found.append((form, str(key), item, value, "<not exported>"))
    assert skipped <= never  # each empty ODM form is a row skipped as never saved
    return found, compared, never


def test_every_corpus_project_is_checked() -> None:
    assert projects() == sorted([*ORACLE_PROJECTS, *DEFECTS])


@pytest.mark.parametrize("project", ORACLE_PROJECTS)
def test_values_equal_redcaps_odm_export(corpus: Path, project: str) -> None:
    found, compared, skipped = differences(corpus / "redcap" / project)
    known = {(project, col) for _, _, col, *_ in found}
    assert {k for k in known if k not in KNOWN} == set(), found
    assert known == {k for k in KNOWN if k[0] == project}, "a known difference went away"
    assert compared == VALUES_COMPARED[project]
    assert skipped == NEVER_SAVED.get(project, 0)


def test_defect_misspelt_dictionary(corpus: Path) -> None:
    folder = corpus / "redcap" / "decimal-comma"
    with pytest.raises(InputError, match=r"no data dictionary dictionary\.csv") as err:
        RAW.columns(Source(folder / "data.csv", "data.csv", "demographics"))
    assert "did you mean 'dictionay.csv'" in str(err.value)
    assert err.value.exit_code == ExitCode.BAD_INPUT
    # Declared as it is spelt, the project reads and matches its ODM export.
    found, compared, skipped = differences(folder, RedcapReader(dictionary="dictionay.csv"))
    assert (found, compared, skipped) == ([], 16, 0)


def test_defect_no_dictionary(corpus: Path) -> None:
    path = corpus / "redcap" / "russian" / "data.csv"
    with pytest.raises(InputError, match=r"no data dictionary dictionary\.csv") as err:
        RAW.columns(Source(path, "data.csv", "screening"))
    assert err.value.code == "missing-file"
    assert err.value.where is not None and err.value.where.file == "dictionary.csv"


def test_defect_empty_records_file(corpus: Path) -> None:
    path = corpus / "redcap" / "empty-rows" / "data.csv"
    with pytest.raises(InputError, match="no header row") as err:
        RAW.columns(Source(path, "data.csv", "demographics"))
    assert err.value.code == "no-header"


def test_defect_records_written_by_r(corpus: Path) -> None:
    found, _, _ = differences(corpus / "redcap" / "simple")
    cols = {col for _, _, col, *_ in found}
    assert cols == {"sex", "mugshot", "interpreter_needed", DAG}
    assert {(v, o) for _, _, col, v, o in found if col == "sex"} == {("0", "FALSE"), ("1", "TRUE")}


# -- forms, repeating instruments, checkboxes, identifiers ------------------------------------


def test_repeating_instrument_rows_per_form(corpus: Path) -> None:
    path = corpus / "redcap" / "repeating-instruments" / "data.csv"
    bp, _ = read(RAW, path, "bp")
    assert bp.column_names == [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "date_bp",
        "bp_systolic",
        "bp_diastolic",
        "bp_complete",
        ROW_COLUMN,
    ]
    assert bp.column(ROW_COLUMN).to_pylist() == [3, 4, 5, 7]
    assert bp.column("redcap_repeat_instance").to_pylist() == ["1", "2", "3", "1"]
    demo, _ = read(RAW, path, "demographics")
    assert demo.column(ROW_COLUMN).to_pylist() == [2, 6]
    whole, _ = read(RAW, path, None)
    assert whole.column(ROW_COLUMN).to_pylist() == [2, 3, 4, 5, 6, 7]
    assert not {"first_name", "dob"} & set(whole.column_names)


def test_checkbox_fields_become_one_column_per_choice(corpus: Path) -> None:
    path = corpus / "redcap" / "checkboxes-1" / "data.csv"
    table, rejects = read(RAW, path, "form_2")
    assert table.column_names[:10] == [
        "record_id",
        *(f"check_one___{c}" for c in "1234"),
        *(f"check_two___{c}" for c in "abcde"),
    ]
    assert table.column("check_one___1").to_pylist() == ["1", "0", "1"]
    # Record 4: every choice unticked, the note blank, the status Incomplete: never saved.
    assert [(r.row, r.reason, r.deleted) for r in rejects] == [(5, "form-never-saved", True)]


def test_identifier_fields_are_never_yielded(corpus: Path) -> None:
    path = corpus / "redcap" / "clinical-trial-1" / "data.csv"
    source = Source(path, "data.csv", "demographics")
    table, _ = read(RAW, path, "demographics")
    secret = ["name_last", "name_first", "address", "phone", "dob"]
    assert not set(secret) & set(table.column_names)
    assert table.num_rows == 500
    facts = RAW.source_facts(source)
    assert facts["identifier_fields_dropped"] == ",".join(secret)
    assert facts["headers"] == "field names" and facts["encoding"] == "utf-8"


def test_values_are_text_exactly_as_exported(corpus: Path) -> None:
    table, _ = read(RAW, corpus / "redcap" / "decimal-comma-and-dot" / "data.csv", "demographics")
    assert table.column("height_comma").to_pylist()[:2] == ["1,54", "1,84"]
    assert table.column("height_dot").to_pylist()[:2] == ["1.54", "1.84"]
    source = Source(corpus / "redcap" / "validation-types-1" / "data.csv", "data.csv")
    types = {f.name: f.validation for f in RAW.data_dictionary(source).fields}
    assert types["v_date_dmy"] == "date_dmy"
    assert types["v_number_comma_decimal"] == "number_comma_decimal"


def test_batches_stream_in_blocks(corpus: Path) -> None:
    path = corpus / "redcap" / "clinical-trial-1" / "data.csv"
    small = RedcapReader(block_size=4096)
    batches = list(small.batches(Source(path, "data.csv", "demographics"), []))
    assert len(batches) > 5
    assert pa.Table.from_batches(batches).equals(read(RAW, path, "demographics")[0])


def test_unknown_form_is_an_input_error(corpus: Path) -> None:
    path = corpus / "redcap" / "longitudinal" / "data.csv"
    with pytest.raises(InputError, match="did you mean 'demographics'") as err:
        RAW.columns(Source(path, "data.csv", "demographic"))
    assert err.value.code == "unknown-form"


@pytest.mark.parametrize(
    "header",
    ["record_id,name,Note,demographics_complete", "Record ID,name,Note,Complete?"],
    ids=["names", "labels"],
)
def test_a_column_the_dictionary_lacks_is_an_extra_column(
    tmp_path: Path, corpus: Path, header: str
) -> None:
    """The spec ignores extra columns with a warning: a column that is no field of the
    dictionary is listed with every form's columns and as a column of no form (so the ingest
    warns of it once), and never yielded as data."""
    project = corpus / "redcap" / "nonnumeric-record-id"
    (tmp_path / "dictionary.csv").symlink_to(project / "dictionary.csv")
    (tmp_path / "data.csv").write_text(f"{header}\na,A,x,0\n")
    source = Source(tmp_path / "data.csv", "data.csv", "demographics")
    assert RAW.columns(source) == ["record_id", "name", "demographics_complete", "Note"]
    assert RAW.source_facts(source)[NO_PART] == '["Note"]'
    (batch,) = RAW.batches(source, [])
    assert batch.schema.names == ["record_id", "name", "demographics_complete", ROW_COLUMN]
    assert batch.column("name").to_pylist() == ["A"]


def test_extra_columns_do_not_make_a_raw_header_a_label_one(tmp_path: Path, corpus: Path) -> None:
    """A record id labelled with its own name, and a column no field: the header is still
    field names (most cells are names, not labels), read as such."""
    heading = (corpus / "redcap" / "nonnumeric-record-id" / "dictionary.csv").read_text()
    fields = "record_id,demographics,,text,record_id,,,,,,,,,,,,,\n"
    fields += "name,demographics,,text,Full name,,,,,,,,,,,,,\n"
    (tmp_path / "dictionary.csv").write_text(heading.splitlines()[0] + "\n" + fields)
    (tmp_path / "data.csv").write_text("record_id,name,Note,demographics_complete\na,A,x,2\n")
    source = Source(tmp_path / "data.csv", "data.csv", "demographics")
    assert RAW.columns(source) == ["record_id", "name", "demographics_complete", "Note"]
    assert RAW.source_facts(source)["headers"] == "field names"


def test_an_extra_column_twice_is_refused(tmp_path: Path, corpus: Path) -> None:
    project = corpus / "redcap" / "nonnumeric-record-id"
    (tmp_path / "dictionary.csv").symlink_to(project / "dictionary.csv")
    (tmp_path / "data.csv").write_text("record_id,name,Note,note\na,A,x,y\n")
    with pytest.raises(InputError, match="the header has column 'note' twice") as err:
        RAW.columns(Source(tmp_path / "data.csv", "data.csv", "demographics"))
    assert err.value.code == "duplicate-column"


# -- label exports ---------------------------------------------------------------------------

STATUS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
FIXED = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


def write_label_export(
    project: Path, out: Path, events: dict[str, str], instruments: dict[str, str]
) -> Path:
    """data.csv as REDCap's "CSV (labels)" export writes it: label headers, label values."""
    heads = {"redcap_event_name": "Event Name", "redcap_repeat_instrument": "Repeat Instrument"}
    heads |= {"redcap_repeat_instance": "Repeat Instance", DAG: "Data Access Group"}
    values: dict[str, dict[str, str]] = {"redcap_event_name": events}
    values["redcap_repeat_instrument"] = instruments
    with (project / "dictionary.csv").open(encoding="utf-8-sig", newline="") as fh:
        for f in csv.DictReader(fh):
            name, kind, label = f["Variable / Field Name"], f["Field Type"], f["Field Label"]
            text = f["Choices, Calculations, OR Slider Labels"]
            coded = kind in ("radio", "dropdown", "checkbox")
            pairs = [c.split(",", 1) for c in text.split("|")] if coded else []
            choices = [(c.strip(), lab.strip()) for c, lab in pairs]
            if kind == "checkbox":
                for code, lab in choices:
                    heads[f"{name}___{code}"] = f"{label} (choice={lab})"
                    values[f"{name}___{code}"] = {"1": "Checked", "0": "Unchecked"}
            else:
                heads[name] = label
                values[name] = FIXED.get(kind, dict(choices))
            heads[f"{f['Form Name']}_complete"] = "Complete?"
            values[f"{f['Form Name']}_complete"] = STATUS
    with (project / "data.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    out.mkdir()
    with (out / "data.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([heads[h] for h in rows[0]])
        for row in rows[1:]:
            writer.writerow(values.get(h, {}).get(v, v) for h, v in zip(rows[0], row, strict=True))
    for name in ("dictionary.csv", "event.csv"):
        if (project / name).exists():
            (out / name).symlink_to(project / name)
    return out / "data.csv"


def odm_event_labels(project: Path) -> dict[str, str]:
    tree = etree.parse(str(project / "project.xml"))
    return {e.get(f"{RC}UniqueEventName"): e.get("Name") for e in tree.iter(f"{ODM}StudyEventDef")}


def assert_same_as_raw(project: Path, label_csv: Path, reader: RedcapReader) -> None:
    for form in RAW.forms(Source(project / "data.csv", "data.csv")):
        raw, _ = read(RAW, project / "data.csv", form)
        labelled, _ = read(reader, label_csv, form)
        assert labelled.equals(raw), form


@pytest.mark.parametrize("project", ORACLE_PROJECTS)
def test_label_export_reads_as_the_raw_export(corpus: Path, tmp_path: Path, project: str) -> None:
    """Every project written as a label export, event and instrument labels from its ODM."""
    folder = corpus / "redcap" / project
    tree = etree.parse(str(folder / "project.xml"))
    forms = {f.get(f"{RC}FormName"): f.get("Name") for f in tree.iter(f"{ODM}FormDef")}
    events = odm_event_labels(folder)
    label_csv = write_label_export(folder, tmp_path / "export", events, forms)
    reader = RedcapReader(flavour="label", events={v: k for k, v in events.items()})
    assert_same_as_raw(folder, label_csv, reader)


def test_label_export_of_a_longitudinal_project(corpus: Path, tmp_path: Path) -> None:
    project = corpus / "redcap" / "longitudinal"
    events = odm_event_labels(project)
    assert events["deadline_to_opt_ou_arm_2"] == "Deadline to opt out of study (Arm 2: Drug B)"
    label_csv = write_label_export(project, tmp_path / "export", events, {})
    # Labels repeat (21 of them, e.g. "Creatinine (mg/dL)" four times): matched via dictionary.
    header = next(csv.reader(label_csv.open(encoding="utf-8")))
    assert header.count("Creatinine (mg/dL)") == 4 and header.count("Complete?") == 9
    reader = RedcapReader(flavour="label", event_file="event.csv")
    assert_same_as_raw(project, label_csv, reader)
    assert reader.source_facts(Source(label_csv, "data.csv", "demographics"))["headers"] == (
        "field labels"
    )
    # The events may be declared instead of read from REDCap's events export.
    declared = RedcapReader(flavour="label", events={v: k for k, v in events.items()})
    assert_same_as_raw(project, label_csv, declared)


def test_label_export_of_repeating_instruments_and_checkboxes(corpus: Path, tmp_path: Path) -> None:
    project = corpus / "redcap" / "repeating-instruments"
    label_csv = write_label_export(project, tmp_path / "a", {}, {"bp": "Blood Pressure"})
    declared = RedcapReader(flavour="label", instruments={"Blood Pressure": "bp"})
    assert_same_as_raw(project, label_csv, declared)
    # Undeclared, "Blood Pressure" (not what REDCap names it: blood_pressure) is the one
    # instrument whose fields its rows fill.
    assert_same_as_raw(project, label_csv, RedcapReader(flavour="label"))
    # An undeclared label that is the form's own label ("BP" -> bp) is matched to the form name.
    label_csv = write_label_export(project, tmp_path / "b", {}, {"bp": "BP"})
    assert_same_as_raw(project, label_csv, RedcapReader(flavour="label"))
    boxes = corpus / "redcap" / "checkboxes-1"
    assert_same_as_raw(boxes, write_label_export(boxes, tmp_path / "c", {}, {}), declared)
    assert form_slug("SURVEY #1-14 (questions about counselling and testing experience)") == (
        "survey_114_questions_about_counselling_and_testing"
    )


def test_a_repeat_label_whose_rows_fill_no_single_instrument_is_refused(
    corpus: Path, tmp_path: Path
) -> None:
    project = corpus / "redcap" / "repeating-instruments"
    label_csv = write_label_export(project, tmp_path / "a", {}, {"bp": "Blood Pressure"})
    text = label_csv.read_text(encoding="utf-8").splitlines()
    # A first-form value typed onto a repeat row: that label's rows now fill two instruments.
    cells = text[2].split(",")
    cells[3] = "2019-10-15"
    text[2] = ",".join(cells)
    label_csv.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be told from the data dictionary") as err:
        list(RedcapReader(flavour="label").batches(Source(label_csv, "data.csv", "bp"), []))
    assert err.value.where is not None
    assert (err.value.where.row, err.value.where.value) == (3, "Blood Pressure")
    assert "instruments=" not in str(err.value) and "declare" not in str(err.value)


def test_label_export_events_are_read_through_redcaps_unique_names(
    corpus: Path, tmp_path: Path
) -> None:
    """Without events declared or REDCap's events export, event labels are decoded by REDCap's
    own rule: "Deadline to opt out of study (Arm 2: Drug B)" -> deadline_to_opt_ou_arm_2."""
    project = corpus / "redcap" / "longitudinal"
    label_csv = write_label_export(project, tmp_path / "export", odm_event_labels(project), {})
    assert_same_as_raw(project, label_csv, RedcapReader(flavour="label"))
    partial = RedcapReader(
        flavour="label", events={"Enrollment (Arm 1: Drug A)": "enrollment_arm_1"}
    )
    assert_same_as_raw(project, label_csv, partial)
    # A label REDCap never wrote is read as the event it names, if any: no table of this
    # project has the event "dose_3_arm_1", so its row is read as that event's.
    text = label_csv.read_text(encoding="utf-8").replace(
        "Dose 2 (Arm 1: Drug A)", "Dose 3 (Arm 1: Drug A)"
    )
    label_csv.write_text(text, encoding="utf-8")
    table, _ = read(RedcapReader(flavour="label"), label_csv, "visit_lab_data")
    assert "dose_3_arm_1" not in table.column("redcap_event_name").to_pylist()
    whole, _ = read(RedcapReader(flavour="label"), label_csv, None)
    assert "dose_3_arm_1" in whole.column("redcap_event_name").to_pylist()


DICTIONARY = """\
"Variable / Field Name","Form Name","Section Header","Field Type","Field Label","Choices, \
Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number",\
"Text Validation Min","Text Validation Max",Identifier?,"Branching Logic (Show field only if...)\
","Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name",\
"Matrix Ranking?","Field Annotation"
id,patient,,text,Patient,,,,,,,,,,,,,
cpr,patient,,text,CPR,,,,,,y,,,,,,,
koen,patient,,radio,Køn,"0, Kvinde | 1, Mand",,,,,,,,,,,,
ms,patient,,yesno,MS,,,,,,,,,,,,,
w1,besoeg_1,,text,Vægt (kg),,,number_comma_decimal,,,,,,,,,,
d1,besoeg_1,,text,Dato,,,date_dmy,,,,,,,,,,
w2,besoeg_2,,text,Vægt (kg),,,number_comma_decimal,,,,,,,,,,
d2,besoeg_2,,text,Dato,,,date_dmy,,,,,,,,,,
"""


def danish(tmp_path: Path, data: str, encoding: str = "utf-8") -> Path:
    (tmp_path / "dictionary.csv").write_text(DICTIONARY, encoding="utf-8-sig")
    (tmp_path / "data.csv").write_text(data, encoding=encoding)
    return tmp_path / "data.csv"


def test_semicolon_cp1252_label_export(tmp_path: Path) -> None:
    data = 'Patient;Køn;Vægt (kg);Dato;Vægt (kg)\np1;Kvinde;"71,5";03-02-2014;\n'
    path = danish(tmp_path, data, encoding="cp1252")
    reader = RedcapReader(flavour="label", delimiter=";", encodings=("utf-8", "cp1252"))
    table, _ = read(reader, path, "besoeg_1")
    assert table.to_pylist() == [{"id": "p1", "w1": "71,5", "d1": "03-02-2014", ROW_COLUMN: 2}]
    assert reader.source_facts(Source(path, "data.csv", "patient"))["encoding"] == "cp1252"


def test_label_values_decode_and_repeated_labels_follow_the_dictionary(tmp_path: Path) -> None:
    path = danish(
        tmp_path,
        "Patient,CPR,Køn,MS,Complete?,Vægt (kg),Dato,Complete?,Vægt (kg),Dato,Complete?\n"
        'p1,211062-5629,Kvinde,Ja,Complete,"71,5",03-02-2014,Incomplete,,,\n'
        'p2,,MAND,Yes,Unverified,,,,"70,0",01-08-2014,Complete\n',
    )
    reader = RedcapReader(flavour="label")
    patient, _ = read(reader, path, "patient")
    assert patient.column_names == ["id", "koen", "ms", "patient_complete", ROW_COLUMN]
    assert patient.to_pylist()[0] == {
        "id": "p1",
        "koen": "0",
        "ms": "Ja",
        "patient_complete": "2",
        ROW_COLUMN: 2,
    }  # "Ja" is no label of yesno: kept as exported for the adapter to report
    assert patient.column("koen").to_pylist() == ["0", "1"]
    second, _ = read(reader, path, "besoeg_2")
    assert second.to_pylist() == [
        {"id": "p2", "w2": "70,0", "d2": "01-08-2014", "besoeg_2_complete": "2", ROW_COLUMN: 3}
    ]
    first, _ = read(reader, path, "besoeg_1")
    assert first.column("w1").to_pylist() == ["71,5"]
    assert reader.source_facts(Source(path, "data.csv", "patient"))[
        "identifier_fields_dropped"
    ] == ("cpr")


def test_a_value_no_choice_names_is_kept_as_exported_and_the_choices_named(
    tmp_path: Path,
) -> None:
    """REDCap's dictionary lists a radio field's choices ("0, Kvinde | 1, Mand"): in either
    flavour a value that is none of them reaches the adapter as exported, never nulled, and the
    facts name the choices, for the rule of its quarantine."""
    path = danish(tmp_path, "Patient,Køn,MS\np1,Kvinde,Ja\np2,Ukendt,\n")
    reader = RedcapReader(flavour="label")
    patient, _ = read(reader, path, "patient")
    assert patient.column("koen").to_pylist() == ["0", "Ukendt"]
    facts = reader.source_facts(Source(path, "data.csv", "patient"))
    assert facts["code_list.koen"] == (
        "the choices of field koen in dictionary.csv: 0 = Kvinde, 1 = Mand"
    )
    assert "code_list.ms" not in facts and "code_list.id" not in facts


def test_repeated_labels_that_cannot_be_told_apart_are_refused(tmp_path: Path) -> None:
    # Two forms' columns left out: "Vægt (kg)" could be w1 or w2.
    path = danish(tmp_path, 'Patient,Vægt (kg),Dato,Complete?\np1,"71,5",03-02-2014,2\n')
    with pytest.raises(InputError, match="could be field 'w1' or 'w2'") as err:
        RedcapReader(flavour="label").columns(Source(path, "data.csv", "besoeg_1"))
    assert err.value.code == "ambiguous-header"


@pytest.mark.parametrize(
    ("dictionary", "message"),
    [
        ("", "not a REDCap data dictionary"),
        ('"Variable / Field Name","Form Name","Field Type","Field Label"\n', "lists no fields"),
        (DICTIONARY + "koen,patient,,text,x,,,,,,,,,,,,,\n", "defined twice"),
    ],
)
def test_unreadable_dictionaries_are_input_errors(
    tmp_path: Path, dictionary: str, message: str
) -> None:
    path = danish(tmp_path, "id,patient_complete\np1,0\n")
    (tmp_path / "dictionary.csv").write_text(dictionary or " \n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        RAW.columns(Source(path, "data.csv", "patient"))


def test_header_with_a_line_break_is_refused_clearly(tmp_path: Path) -> None:
    path = danish(tmp_path, 'Patient,"Køn\nsex",Complete?\np1,Mand,0\n')
    with pytest.raises(InputError, match="line break") as err:
        RAW.columns(Source(path, "data.csv", "patient"))
    assert err.value.code == "multiline-header"


def test_engine_keeps_a_forms_rows_by_raw_event_name(corpus: Path, tmp_path: Path) -> None:
    """Through the engine's own plumbing: a label export, declared in raw codes."""
    project = corpus / "redcap" / "longitudinal"
    label_csv = write_label_export(project, tmp_path / "export", odm_event_labels(project), {})
    reader = RedcapReader(flavour="label", event_file="event.csv")
    tm = TableMap(
        table="labs",
        file=reader.records,
        fields={"creatinine": Text("vld3")},
        part="visit_lab_data",
        keep=Keep("redcap_event_name", ("visit_1_arm_1",), "other-visit"),
    )
    source = find_source(label_csv.parent, tm.file, tm.part)
    header = reader.columns(source)
    columns = resolve_columns(tm, header, source.relpath)
    batches = stream(reader.batches(source, []), header)
    kept = pa.Table.from_batches(list(reshaped(duckdb.connect(), tm, columns, batches)))
    assert kept.column("study_id").to_pylist() == ["100", "220"]
    assert kept.column(ROW_COLUMN).to_pylist() == [4, 10]


def test_mangled_exports_are_input_errors_never_crashes(corpus: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    project = corpus / "redcap" / "repeating-instruments"
    files = {n: (project / n).read_bytes() for n in ("data.csv", "dictionary.csv")}
    codes: set[str] = set()
    for i in range(60):
        folder = tmp_path / str(i)
        folder.mkdir()
        for name, content in files.items():
            mangled = bytearray(content)
            if rng.random() < 0.5:
                at = rng.randrange(len(mangled))
                mangled[at : at + rng.randint(1, 40)] = rng.choice([b"", b'"', b",", b"\xff\n"])
            (folder / name).write_bytes(mangled)
        for form in ("demographics", "bp", None):
            source = Source(folder / "data.csv", "data.csv", form)
            try:
                list(RedcapReader(flavour=rng.choice(["raw", "label"])).batches(source, []))
            except InputError as exc:
                codes.add(exc.code)
    assert codes  # some mangling is caught, and nothing else escapes
