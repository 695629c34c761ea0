"""The REDCap reader on exports as REDCap writes them: headers in any case, the flavour read off
the values (never recoded silently), REDCap's own unique names for events and groups, forms
never saved, and a wrong delimiter named as such."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from federate.errors import InputError
from federate.readers import ROW_COLUMN, Reject, Source
from federate.readers.redcap import RedcapReader
from federate.readers.redcap_names import unique_event_name, unique_group_name
from tests.readers.test_redcap import RAW, assert_same_as_raw, read

HEADINGS = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note",'
    '"Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max",'
    'Identifier?,"Branching Logic (Show field only if...)","Required Field?","Custom Alignment",'
    '"Question Number (surveys only)","Matrix Group Name","Matrix Ranking?","Field Annotation"\n'
)
# A score whose choice labels are numbers, but not its codes: 1 is labelled 0, 2 is labelled 1.
SCORES = HEADINGS + (
    "id,visit,,text,ID,,,,,,,,,,,,,\n"
    'score,visit,,dropdown,Score,"1, 0 | 2, 1 | 3, 2",,,,,,,,,,,,\n'
    "note,visit,,text,Note,,,,,,,,,,,,,\n"
)


def project(folder: Path, dictionary: str, data: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dictionary.csv").write_text(dictionary, encoding="utf-8")
    (folder / "data.csv").write_text(data, encoding="utf-8")
    return folder / "data.csv"


def values(reader: RedcapReader, path: Path, form: str, column: str) -> list[str]:
    table, _ = read(reader, path, form)
    return [str(v) for v in table.column(column).to_pylist()]


# -- 1: field names in any case ----------------------------------------------------------------


@pytest.mark.parametrize("project_name", ["longitudinal", "repeating-instruments", "dag"])
def test_field_names_match_in_any_case_and_with_spaces(
    corpus: Path, tmp_path: Path, project_name: str
) -> None:
    folder = corpus / "redcap" / project_name
    lines = (folder / "data.csv").read_text(encoding="utf-8").split("\n", 1)
    header = ",".join(f" {h.upper()} " for h in lines[0].split(","))
    export = tmp_path / "export"
    export.mkdir()
    (export / "data.csv").write_text(header + "\n" + lines[1], encoding="utf-8")
    shutil.copy(folder / "dictionary.csv", export / "dictionary.csv")
    assert_same_as_raw(folder, export / "data.csv", RAW)
    columns = RAW.columns(Source(export / "data.csv", "data.csv"))
    assert columns[0] == RAW.data_dictionary(Source(folder / "data.csv", "data.csv")).record_id


def test_a_column_twice_in_another_case_is_refused(tmp_path: Path) -> None:
    path = project(tmp_path, SCORES, "id,score,SCORE,visit_complete\na,1,1,2\n")
    with pytest.raises(InputError, match="column 'score' twice") as err:
        RAW.columns(Source(path, "data.csv", "visit"))
    assert err.value.code == "duplicate-column"


# -- 4: the flavour, read off the values --------------------------------------------------------


def test_a_raw_export_is_never_recoded_as_labels(tmp_path: Path) -> None:
    """Raw codes 1, 2, 3 where labels 0, 1, 2 exist: decoding them as labels gave 2, 3, 3."""
    path = project(tmp_path, SCORES, "id,score,visit_complete\na,1,2\nb,2,2\nc,3,2\n")
    with pytest.raises(InputError, match="this export has raw values") as err:
        read(RedcapReader(flavour="label"), path, "visit")
    assert "asks for label values" in str(err.value) and err.value.code == "wrong-flavour"
    assert err.value.where is not None and err.value.where.row == 2
    either = RedcapReader(flavour="either")
    assert values(either, path, "visit", "score") == ["1", "2", "3"]
    assert values(RAW, path, "visit", "score") == ["1", "2", "3"]
    assert either.source_facts(Source(path, "data.csv", "visit"))["flavour"] == "raw"


def test_a_label_export_of_the_same_values_decodes_them(tmp_path: Path) -> None:
    path = project(
        tmp_path, SCORES, "ID,Score,Complete?\na,0,Complete\nb,1,Complete\nc,2,Complete\n"
    )
    assert values(RedcapReader(flavour="either"), path, "visit", "score") == ["1", "2", "3"]
    assert values(RedcapReader(flavour="label"), path, "visit", "score") == ["1", "2", "3"]
    with pytest.raises(InputError, match="this export has label values") as err:
        read(RAW, path, "visit")
    assert "asks for raw values" in str(err.value)


def test_values_that_could_be_codes_or_labels_alone_are_refused(tmp_path: Path) -> None:
    path = project(tmp_path, SCORES, "id,score,note\na,1,x\nb,2,y\n")
    with pytest.raises(InputError, match="code of one choice and the label of another") as err:
        read(RedcapReader(flavour="either"), path, "visit")
    assert err.value.code == "ambiguous-flavour"


def test_codes_and_labels_in_one_export_are_refused(tmp_path: Path) -> None:
    path = project(tmp_path, SCORES, "id,score,visit_complete\na,1,Complete\nb,3,2\n")
    with pytest.raises(InputError, match="mixes raw codes and labels") as err:
        read(RedcapReader(flavour="either"), path, "visit")
    assert "row 3" in str(err.value) and "row 2" in str(err.value)


# -- 2: REDCap's unique names, derived from labels ---------------------------------------------


@pytest.mark.parametrize(
    ("event", "arm", "unique"),
    [
        ("SCR", "1", "scr_arm_1"),
        ("Deadline to opt out of study", "2", "deadline_to_opt_ou_arm_2"),
        ("Uge 0 - baseline", "1", "uge_0__baseline_arm_1"),
        ("Løbende registrering", "1", "lbende_registrerin_arm_1"),
        (" _Visit 1_ ", "3", "visit_1_arm_3"),
        ("Ærø", "1", "r_arm_1"),
    ],
)
def test_unique_event_names_as_redcap_derives_them(event: str, arm: str, unique: str) -> None:
    assert unique_event_name(event, arm) == unique


@pytest.mark.parametrize(
    ("group", "unique"),
    [
        ("dag-a", "daga"),
        ("Aarhus UH", "aarhus_uh"),
        ("Aarhus Universitetshospital", "aarhus_universitet"),
        ("Rigshospitalet", "rigshospitalet"),
    ],
)
def test_unique_group_names_as_redcap_derives_them(group: str, unique: str) -> None:
    assert unique_group_name(group) == unique


def test_a_name_with_no_letter_left_is_the_md5_of_the_label() -> None:
    """REDCap: substr(md5($label), 0, 10) when nothing of the label is kept."""
    assert unique_group_name("Ææ") == hashlib.md5("Ææ".encode()).hexdigest()[:10]
    assert unique_event_name("Øø", "2") == hashlib.md5("Øø".encode()).hexdigest()[:10] + "_arm_2"


def test_data_access_group_names_are_read_as_their_unique_names(
    corpus: Path, tmp_path: Path
) -> None:
    """The corpus project's groups are "dag-a" and "dag-b"; REDCap wrote daga and dagb."""
    folder = corpus / "redcap" / "dag"
    text = (folder / "data.csv").read_text(encoding="utf-8")
    labelled = text.replace(",daga,", ",dag-a,").replace(",dagb,", ",DAG-B,")
    path = project(tmp_path, (folder / "dictionary.csv").read_text(encoding="utf-8"), labelled)
    assert values(RAW, path, "demographics", "redcap_data_access_group") == [
        "daga",
        "daga",
        "dagb",
    ]


def test_two_groups_redcap_tells_apart_by_a_suffix_are_refused(tmp_path: Path) -> None:
    """ "Aarhus Universitetshospital" and "Aarhus Universitetshospital Skejby" are both
    aarhus_universitet to the rule; REDCap named the second aarhus_universitetb."""
    dictionary = HEADINGS + "id,p,,text,ID,,,,,,,,,,,,,\nnote,p,,text,Note,,,,,,,,,,,,,\n"
    data = (
        "id,redcap_data_access_group,note,p_complete\n"
        "a,Aarhus Universitetshospital,x,2\nb,Aarhus Universitetshospital Skejby,y,2\n"
    )
    path = project(tmp_path, dictionary, data)
    with pytest.raises(InputError, match="both stand for REDCap's unique name") as err:
        read(RAW, path, "p")
    assert err.value.where is not None and err.value.where.row == 3


# -- 3: forms never saved ------------------------------------------------------------------


def test_forms_never_saved_are_skipped_with_their_reason(tmp_path: Path) -> None:
    dictionary = HEADINGS + (
        "id,base,,text,ID,,,,,,,,,,,,,\n"
        "w,base,,text,Weight,,,number,,,,,,,,,,\n"
        "bp,vitals,,text,BP,,,integer,,,,,,,,,,\n"
        'tick,vitals,,checkbox,Tick,"1, A | 2, B",,,,,,,,,,,,\n'
    )
    data = (
        "id,redcap_repeat_instrument,redcap_repeat_instance,w,base_complete,"
        "bp,tick___1,tick___2,vitals_complete\n"
        "a,,,70,2,,0,0,0\n"  # vitals never saved: blank, unticked, Incomplete
        "a,vitals,1,,,120,0,0,2\n"
        "a,vitals,2,,,,0,0,\n"  # a repeat instance written but never saved
        "b,,,,0,,,,\n"  # base never saved; vitals not on this row at all
        "c,,,,1,,,,\n"  # base saved empty (Unverified): the form's row, blank
    )
    path = project(tmp_path, dictionary, data)
    table, rejects = read(RAW, path, "vitals")
    assert table.column(ROW_COLUMN).to_pylist() == [3]
    assert rejects == [
        Reject(2, "form-never-saved", rejects[0].detail, deleted=True),
        Reject(4, "form-never-saved", rejects[1].detail, deleted=True),
    ]
    base, rejects = read(RAW, path, "base")
    assert base.column(ROW_COLUMN).to_pylist() == [2, 6]
    assert [r.row for r in rejects] == [5]


# -- 5: a wrong delimiter ------------------------------------------------------------------


@pytest.mark.parametrize(("written", "word"), [(",", "comma"), ("\t", "tab")])
def test_a_file_with_another_delimiter_is_named_as_such(
    corpus: Path, tmp_path: Path, written: str, word: str
) -> None:
    folder = corpus / "redcap" / "repeating-instruments"
    text = (folder / "data.csv").read_text(encoding="utf-8").replace(",", written)
    path = project(tmp_path, (folder / "dictionary.csv").read_text(encoding="utf-8"), text)
    with pytest.raises(InputError) as err:
        RedcapReader(delimiter=";").columns(Source(path, "data.csv", "bp"))
    assert str(err.value).startswith(f"this file is {word}-separated; the export must use ';'")
    assert err.value.code == "wrong-delimiter"


def test_a_label_export_with_another_delimiter_is_named_as_such(tmp_path: Path) -> None:
    path = project(tmp_path, SCORES, "ID;Score;Complete?\na;0;Complete\n")
    with pytest.raises(InputError, match="this file is semicolon-separated; the export must use"):
        RAW.columns(Source(path, "data.csv", "visit"))


def test_whole_file_reads_every_row(tmp_path: Path) -> None:
    path = project(tmp_path, SCORES, "id,score,visit_complete\na,1,2\nb,,0\n")
    table, rejects = read(RAW, path, None)
    assert table.num_rows == 2 and rejects == []
    assert isinstance(table, pa.Table)
