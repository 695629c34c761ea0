"""The ODM reader: real exports read in full, vendor attributes accounted for, unsafe or broken
XML refused with a clear message, and memory that does not grow with the file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from lxml import etree

from federate.errors import ExitCode, InputError
from federate.readers import odm_walk
from federate.readers.base import ROW_COLUMN, Reject, Source
from federate.readers.odm import DECODE_SUFFIX, LINE_COLUMN, UNIT_SUFFIX, OdmReader
from federate.readers.odm_walk import KEYS
from tests.conftest import REPO, corpus_root

ODM = corpus_root() / "odm"
OC = ODM / "openclinica" / "JUNO_DEMO_odm1.3_fullExtract_All_Data_2016-08-01.xml"
EXAMPLES = ODM / "cdisc-examples"
KEEP = ("OpenClinica:StudySubjectID",)
READER = OdmReader(keep_attributes=KEEP)


def read(path: Path, part: str | None, reader: OdmReader = READER) -> tuple[pa.Table, list[Reject]]:
    rejects: list[Reject] = []
    source = Source(path, path.name, part)
    batches = list(reader.batches(source, rejects))
    schema = batches[0].schema if batches else None
    return pa.Table.from_batches(batches, schema), rejects


def item_columns(table: pa.Table, reader: OdmReader = READER) -> list[str]:
    fixed = {k for k, _ in KEYS} | set(reader.keep_attributes) | {ROW_COLUMN, LINE_COLUMN}
    return [c for c in table.column_names if c not in fixed and "@" not in c]


def all_groups(path: Path, reader: OdmReader = READER) -> Iterator[tuple[str, pa.Table]]:
    for group in reader.survey(Source(path, path.name)).groups:
        table, rejects = read(path, group, reader)
        assert rejects == []
        yield group, table


def count_item_data(path: Path) -> int:
    """Independently of the reader: every ItemData element, by a full (small-file) parse."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    return sum(1 for e in tree.iter() if isinstance(e.tag, str) and e.tag.endswith("ItemData"))


# --- the real OpenClinica export --------------------------------------------------------------


def test_openclinica_every_item_value_is_accounted_for() -> None:
    values, subjects, study_ids = 0, set(), set()
    for _, table in all_groups(OC):
        values += sum(len(table) - table.column(c).null_count for c in item_columns(table))
        subjects.update(table.column("SubjectKey").to_pylist())
        study_ids.update(table.column("OpenClinica:StudySubjectID").to_pylist())
    assert values == count_item_data(OC) == 3908
    assert len(subjects) == 22 and len(study_ids) == 22 and None not in study_ids
    facts = READER.source_facts(Source(OC, OC.name))
    assert facts["subjects"] == "22" and facts["item_data"] == "3908"


def test_vendor_attributes_not_kept_are_listed_by_name_never_read() -> None:
    source = Source(OC, OC.name, "IG_DEMOG_DEMO")
    facts = READER.source_facts(source)
    dropped = facts["vendor_attributes_dropped"].split(", ")
    for name in ("DateOfBirth", "UniqueIdentifier", "Sex", "InterviewerName", "Status"):
        assert f"OpenClinica:{name}" in dropped
    assert facts["vendor_attributes_kept"] == "OpenClinica:StudySubjectID"
    assert "OpenClinica:AuditLogs (4440)" in facts["elements_not_read"]
    table, _ = read(OC, "IG_DEMOG_DEMO")
    cells = {v for col in table.columns for v in col.to_pylist()}
    assert "1980-08-02" not in cells  # subject 101-001's OpenClinica:DateOfBirth
    assert not any("1980-08-02" in v for v in facts.values())
    assert not any("DateOfBirth" in c for c in table.column_names)


def test_rows_carry_odm_keys_values_as_written_and_where_they_are() -> None:
    table, _ = read(OC, "IG_DEMOG_DEMO")
    first = table.slice(0, 1).to_pylist()[0]
    assert first["SubjectKey"] == "SS_101001"
    assert first["OpenClinica:StudySubjectID"] == "101-001"
    assert first["StudyOID"] == "S_101"
    assert first["StudyEventOID"] == "SE_INITIALVISIT"
    assert first["FormOID"] == "F_DEMOGRAPHICS_V20"
    assert first["ItemGroupRepeatKey"] == "1"
    assert first["I_DEMOG_DEM_AGE"] == "35 Years "  # trailing space kept as exported
    assert first["I_DEMOG_DEM_RACE"] == "1,2"
    assert first["I_DEMOG_DEM_OTRACE"] is None  # declared item, absent from the record
    assert table.column(ROW_COLUMN).to_pylist() == list(range(1, len(table) + 1))
    lines = OC.read_text("ascii").splitlines()
    for line in table.column(LINE_COLUMN).to_pylist():
        assert 'ItemGroupOID="IG_DEMOG_DEMO"' in lines[line - 1]
    facts = READER.source_facts(Source(OC, OC.name, "IG_DEMOG_DEMO"))
    assert facts["item_group_rows"] == str(len(table)) == "21"
    assert facts["values_with_outer_spaces"] == "21"
    assert facts["xml_encoding"] == "US-ASCII" and facts["format"] == "CDISC ODM 1.3"


def test_the_survey_is_done_once_per_file_version() -> None:
    reader = OdmReader()
    first = reader.survey(Source(OC, OC.name, "IG_DEMOG_DEMO"))
    assert reader.survey(Source(OC, OC.name, "IG_MRI_MRI")) is first
    assert len(first.info.metadata.items) == 311 and len(first.info.metadata.codelists) == 42


def test_columns_are_the_groups_item_refs_and_match_the_batches() -> None:
    meta = READER.metadata(Source(OC, OC.name))
    for group in ("IG_VITAL_VITALS", "IG_MRI_MRI", "IG_ADVER_AELOG"):
        cols = READER.columns(Source(OC, OC.name, group))
        assert [c for c in cols if c in meta.items] == meta.item_groups[group].items
        table, _ = read(OC, group)
        assert table.column_names == [*cols, ROW_COLUMN, LINE_COLUMN]


def test_part_is_the_oid_or_the_name_in_any_case() -> None:
    by_oid = READER.columns(Source(OC, OC.name, "IG_DEMOG_DEMO"))
    assert READER.columns(Source(OC, OC.name, "ig_demog_demo")) == by_oid
    assert READER.columns(Source(OC, OC.name, "DEMO")) == by_oid
    with pytest.raises(InputError, match="Did you mean 'IG_VITAL_VITALS'") as err:
        READER.columns(Source(OC, OC.name, "IG_VITAL_VITAL"))
    assert err.value.code == "unknown-part"
    with pytest.raises(InputError, match="one table per item group") as err:
        READER.columns(Source(OC, OC.name))
    assert err.value.code == "missing-part"


def test_units_and_decodes_are_added_next_to_the_value() -> None:
    reader = OdmReader(decode=True)
    table, _ = read(OC, "IG_PHYSI_UNGROUPED", reader)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["I_PHYSI_WEIGHT"] == "135" and row["I_PHYSI_WEIGHT" + UNIT_SUFFIX] == "lb"
    table, _ = read(OC, "IG_DEMOG_DEMO", reader)
    assert table.column("I_DEMOG_DEM_GEN").to_pylist()[:2] == ["1", "2"]
    assert table.column("I_DEMOG_DEM_GEN" + DECODE_SUFFIX).to_pylist()[:2] == ["Male", "Female"]
    assert reader.source_facts(Source(OC, OC.name, "IG_DEMOG_DEMO"))["undecoded_values"] == "0"
    assert DECODE_SUFFIX not in "".join(READER.columns(Source(OC, OC.name, "IG_DEMOG_DEMO")))


def test_kept_attributes_come_from_the_innermost_or_the_named_level() -> None:
    reader = OdmReader(
        keep_attributes=("OpenClinica:Status", "StudyEventData/OpenClinica:StartDate")
    )
    table, _ = read(OC, "IG_DEMOG_DEMO", reader)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["OpenClinica:Status"] == "data entry complete"  # FormData's, not the subject's
    assert row["StudyEventData/OpenClinica:StartDate"] == "2015-08-21"
    dropped = reader.source_facts(Source(OC, OC.name))["vendor_attributes_dropped"]
    assert "OpenClinica:StartDate" not in dropped and "OpenClinica:Sex" in dropped


def test_a_kept_attribute_with_an_undeclared_prefix_is_refused() -> None:
    reader = OdmReader(keep_attributes=("OC:StudySubjectID",))
    with pytest.raises(InputError, match="declares no namespace prefix 'OC'"):
        reader.columns(Source(OC, OC.name, "IG_DEMOG_DEMO"))


# --- CDISC's own examples ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["odm1_1_0_example.xml", "Matrix_CRF_FH_ODM1-3-2.xml"])
def test_cdisc_odm1_examples_read_in_full(name: str) -> None:
    path, reader = EXAMPLES / name, OdmReader()
    values = sum(
        len(t) - t.column(c).null_count
        for _, t in all_groups(path, reader)
        for c in item_columns(t, reader)
    )
    assert values == count_item_data(path) > 0


def test_odm1_1_doctype_naming_a_dtd_is_allowed_and_not_loaded() -> None:
    path = EXAMPLES / "odm1_1_0_example.xml"
    facts = OdmReader().source_facts(Source(path, path.name))
    assert "odm1-1-0.dtd" in facts["doctype"] and facts["file_type"].startswith("Transactional")
    table, _ = read(path, "VITALS", OdmReader())
    assert table.column("SBP").to_pylist()[:3] == ["120", "130", "125"]


@pytest.mark.parametrize(
    "name", ["Chronic_Low_Back_Pain_example.xml", "RepeatingIG-UC-D-Example.xml"]
)
def test_odm2_is_refused_with_a_message(name: str) -> None:
    with pytest.raises(InputError, match=r"ODM 2\.0 is not supported") as err:
        READER.columns(Source(EXAMPLES / name, name, "x"))
    assert err.value.exit_code == ExitCode.BAD_INPUT


# --- structure handled in small files ---------------------------------------------------------

OC_NS = "http://www.openclinica.org/ns/odm_ext_v130/v3.1"
SMALL = f"""<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:OC="{OC_NS}" ODMVersion="1.3.2">
 <Study OID="S"><BasicDefinitions>
  <MeasurementUnit OID="MU_G" Name="g/dL"><Symbol><TranslatedText>g/dL</TranslatedText>
  </Symbol></MeasurementUnit>
  <MeasurementUnit OID="MU_MMOL" Name="mmol/L"/></BasicDefinitions>
  <MetaDataVersion OID="v1" Name="v1">
   <ItemGroupDef OID="IG_LAB" Name="Labs" Repeating="Yes">
    <ItemRef ItemOID="I_HB"/><ItemRef ItemOID="I_NOTE"/></ItemGroupDef>
   <ItemDef OID="I_HB" Name="HB" DataType="float">
    <MeasurementUnitRef MeasurementUnitOID="MU_G"/>
    <MeasurementUnitRef MeasurementUnitOID="MU_MMOL"/></ItemDef>
   <ItemDef OID="I_NOTE" Name="NOTE" DataType="text"/>
  </MetaDataVersion></Study>
 <ClinicalData StudyOID="S" MetaDataVersionOID="v1">
  <SubjectData SubjectKey="A" OC:StudySubjectID="ES-01" OC:DateOfBirth="1970-01-02">
   <StudyEventData StudyEventOID="E" StudyEventRepeatKey="2">
    <FormData FormOID="F" OC:InterviewerName="Dr X">
     <ItemGroupData ItemGroupOID="IG_LAB" ItemGroupRepeatKey="1">
      <ItemData ItemOID="I_HB" Value="13,5"><MeasurementUnitRef MeasurementUnitOID="MU_G"/>
      </ItemData>
      <ItemDataString ItemOID="I_NOTE"> typed </ItemDataString>
      <ItemData ItemOID="I_NEW" Value="x"/>
     </ItemGroupData>
     <ItemGroupData ItemGroupOID="IG_LAB" ItemGroupRepeatKey="2">
      <ItemData ItemOID="I_HB" Value="8.4"/><ItemData ItemOID="I_HB" Value="8.5"/>
     </ItemGroupData>
     <Signature><UserRef UserOID="U1"/></Signature>
     <ItemGroupData ItemGroupOID="IG_LAB" ItemGroupRepeatKey="3">
      <ItemData ItemOID="I_HB" IsNull="Yes"/><ItemData ItemOID="I_NOTE"><Value>v</Value></ItemData>
     </ItemGroupData>
     <ItemGroupData ItemGroupOID="IG_ODD"><ItemData ItemOID="I_Q" Value="1"/></ItemGroupData>
    </FormData></StudyEventData></SubjectData></ClinicalData></ODM>
"""


def test_small_file_values_units_rejects_and_undeclared_items(tmp_path: Path) -> None:
    path = tmp_path / "small.xml"
    path.write_text(SMALL, "utf-8")
    reader = OdmReader(keep_attributes=("OC:StudySubjectID",), batch_size=1)
    table, rejects = read(path, "labs", reader)
    assert table.column_names[:3] == ["StudyOID", "SubjectKey", "OC:StudySubjectID"]
    assert table.column("I_HB").to_pylist() == ["13,5", None]
    assert table.column("I_HB" + UNIT_SUFFIX).to_pylist() == ["g/dL", None]
    assert table.column("I_NOTE").to_pylist() == [" typed ", "v"]
    assert table.column("I_NEW").to_pylist() == ["x", None]  # not declared: kept, listed
    assert table.column(ROW_COLUMN).to_pylist() == [1, 3]
    assert table.column("StudyEventRepeatKey").to_pylist() == ["2", "2"]
    assert rejects == [Reject(2, "repeated-item", "item I_HB appears twice in one ItemGroupData")]
    facts = reader.source_facts(Source(path, path.name, "IG_LAB"))
    assert facts["undeclared_items"] == "I_NEW"
    assert facts["undeclared_item_groups"] == "IG_ODD"
    assert facts["vendor_attributes_dropped"] == "OC:DateOfBirth, OC:InterviewerName"
    assert facts["elements_not_read"] == "Signature (1)"
    odd, _ = read(path, "IG_ODD", reader)
    assert odd.column("I_Q").to_pylist() == ["1"]


def odd_structure(tmp_path: Path) -> Path:
    """SMALL with what exporters rarely write: a group in ReferenceData, one inside a skipped
    element and one inside MetaDataVersion (none are rows), a nested group, keys at levels
    left out, vendor elements between subjects."""
    text = SMALL.replace(
        "</FormData></StudyEventData></SubjectData></ClinicalData>",
        '</FormData></StudyEventData></SubjectData><OC:Extra><ItemGroupData ItemGroupOID="IG_LAB">'
        '<ItemData ItemOID="I_HB" Value="no"/></ItemGroupData></OC:Extra>'
        '<SubjectData SubjectKey="B"><FormData FormOID="F2"><ItemGroupData ItemGroupOID="IG_LAB">'
        '<ItemData ItemOID="I_HB" Value="1"/><ItemGroupData ItemGroupOID="IG_LAB" '
        'ItemGroupRepeatKey="in"><ItemData ItemOID="I_NOTE" Value="inner"/></ItemGroupData>'
        '<ItemData ItemOID="I_NOTE" Value="after"/></ItemGroupData></FormData>'
        '<StudyEventData StudyEventOID="E2"><ItemGroupData ItemGroupOID="IG_LAB">'
        '<ItemData ItemOID="I_HB" Value="2"><Value>a</Value><Value>b</Value></ItemData>'
        "</ItemGroupData></StudyEventData></SubjectData></ClinicalData>"
        '<ReferenceData StudyOID="S" MetaDataVersionOID="v1"><ItemGroupData ItemGroupOID="IG_LAB">'
        '<ItemData ItemOID="I_HB" Value="ref"/></ItemGroupData></ReferenceData>',
    ).replace(
        "</MetaDataVersion>",
        '<ClinicalData StudyOID="M"><SubjectData SubjectKey="M"><ItemGroupData '
        'ItemGroupOID="IG_LAB"><ItemData ItemOID="I_HB" Value="meta"/></ItemGroupData>'
        "</SubjectData></ClinicalData></MetaDataVersion>",
    )
    path = tmp_path / "odd.xml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(
    "name", ["OC", "odm1_1_0_example.xml", "Matrix_CRF_FH_ODM1-3-2.xml", "small", "odd", "large"]
)
def test_the_pass_per_group_yields_the_surveys_rows(name: str, tmp_path: Path) -> None:
    if name == "OC":
        path, keep = OC, (*KEEP, "OpenClinica:Status", "StudyEventData/OpenClinica:StartDate")
    elif name in ("small", "odd"):
        path, keep = tmp_path / "small.xml", ("OC:StudySubjectID", "FormData/OC:InterviewerName")
        path.write_text(SMALL, "utf-8")
        path = odd_structure(tmp_path) if name == "odd" else path
    elif name == "large":  # past line 65535, where libxml2 works line numbers out
        path, keep = tmp_path / "large.xml", ("OC:StudySubjectID",)
        write_large_odm(path, subjects=400)
    else:
        path, keep = EXAMPLES / name, ()
    source = Source(path, path.name)
    survey = odm_walk.OdmWalk(source, keep, None, want=None)
    everything = list(survey)
    assert everything
    for group in {occ.group for occ in everything}:
        fast = list(odm_walk.GroupWalk(source, keep, None, group, survey.info.namespace))
        assert fast == [occ for occ in everything if occ.group == group], group
        assert fast == list(odm_walk.OdmWalk(source, keep, None, want=group)), group


# --- unsafe and broken XML --------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE ODM [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><ClinicalData StudyOID="&lol3;"/></ODM>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE ODM [ <!-- ] > --> <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><ClinicalData StudyOID="&xxe;"/></ODM>
"""
PARAMETER = """<?xml version="1.0"?>
<!DOCTYPE ODM [ <!ENTITY % ext SYSTEM "http://example.invalid/x.dtd"> %ext; ]>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"/>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL, PARAMETER])
def test_entity_declarations_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(text, "utf-8")
    with pytest.raises(InputError, match="refused for safety") as err:
        READER.columns(Source(path, path.name, "IG"))
    assert err.value.code == "unsafe-xml" and err.value.exit_code == ExitCode.BAD_INPUT


def test_entities_are_refused_in_utf16_too(tmp_path: Path) -> None:
    path = tmp_path / "evil16.xml"
    path.write_bytes(
        EXTERNAL.replace("<?xml version", "<?xml encoding='UTF-16' version").encode("utf-16")
    )
    with pytest.raises(InputError) as err:
        READER.columns(Source(path, path.name, "IG"))
    assert err.value.code == "unsafe-xml"


def test_the_parser_refuses_entities_even_if_the_prolog_check_missed_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(odm_walk, "check_prolog", lambda path, relpath: (None, "?"))
    path = tmp_path / "evil.xml"
    path.write_text(BILLION_LAUGHS, "utf-8")
    with pytest.raises(InputError, match="refused for safety"):
        READER.columns(Source(path, path.name, "IG"))


def test_a_truncated_file_names_the_line(tmp_path: Path) -> None:
    data = OC.read_bytes()
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: len(data) // 2])
    last_line = data[: len(data) // 2].count(b"\n") + 1
    with pytest.raises(InputError, match=f"line {last_line}.*looks truncated") as err:
        READER.columns(Source(path, path.name, "IG_DEMOG_DEMO"))
    assert err.value.code == "truncated-file"


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    text = SMALL.replace("</ItemGroupData>", "</ItemGroup>", 1)
    path.write_text(text, "utf-8")
    line = text[: text.index("</ItemGroup>")].count("\n") + 1
    with pytest.raises(InputError, match=f"cannot be parsed at line {line}: .*mismatch") as err:
        OdmReader().columns(Source(path, path.name, "IG_LAB"))
    assert err.value.code == "malformed-xml"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty-file"),
        (b"a;b\n1;2\n", "not-xml"),
        (b"<html><body/></html>", "not-odm"),
        (b'<?xml version="1.0" encoding="US-ASCII"?><ODM a="\xc3\xa9"/>', "wrong-encoding"),
        (
            b'<?xml version="1.0"?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3">\n<C',
            "truncated-file",
        ),
    ],
)
def test_files_that_are_not_odm_are_refused(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "x.xml"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        OdmReader().source_facts(Source(path, path.name))
    assert err.value.code == code


# --- memory -----------------------------------------------------------------------------------


def write_large_odm(path: Path, subjects: int, groups: int = 50) -> None:
    """A large OpenClinica-like export, written as a stream: ``subjects * groups`` item groups."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(SMALL.split("<ClinicalData")[0].replace("</ODM>", ""))
        fh.write('<ClinicalData StudyOID="S" MetaDataVersionOID="v1">\n')
        for s in range(subjects):
            fh.write(f'<SubjectData SubjectKey="SS_{s}" OC:StudySubjectID="{s}" OC:Sex="f">\n')
            fh.write('<StudyEventData StudyEventOID="E"><FormData FormOID="F">\n')
            for g in range(groups):
                fh.write(
                    f'<ItemGroupData ItemGroupOID="IG_LAB" ItemGroupRepeatKey="{g}">\n'
                    f'<ItemData ItemOID="I_HB" Value="{g}.5 "><OC:AuditLogs><OC:AuditLog '
                    f'NewValue="{g}"/></OC:AuditLogs></ItemData>\n'
                    f'<ItemData ItemOID="I_NOTE" Value="note {s} {g}"/>\n</ItemGroupData>\n'
                )
            fh.write("</FormData></StudyEventData></SubjectData>\n")
        fh.write("</ClinicalData></ODM>\n")


PEAK = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from federate.readers.base import Source
    from federate.readers.odm import OdmReader
    reader = OdmReader(keep_attributes=("OC:StudySubjectID",))
    source = Source(Path(sys.argv[1]), "big.xml", "IG_LAB")
    reader.source_facts(source)
    rows = sum(b.num_rows for b in reader.batches(source, []))
    print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def peak_rss_kib(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)], cwd=REPO, check=True, capture_output=True
    )
    rows, rss = out.stdout.split()
    return int(rows), int(rss)


def test_memory_stays_flat_as_the_file_grows(tmp_path: Path) -> None:
    small, big = tmp_path / "small.xml", tmp_path / "big.xml"
    write_large_odm(small, subjects=200)
    write_large_odm(big, subjects=1200)
    rows_small, rss_small = peak_rss_kib(small)
    rows_big, rss_big = peak_rss_kib(big)
    assert (rows_small, rows_big) == (10_000, 60_000)
    grown_mib = (big.stat().st_size - small.stat().st_size) / 2**20
    # A tree in memory costs several times the file; streaming costs a constant.
    assert grown_mib > 10
    assert (rss_big - rss_small) / 1024 < 8, (rss_small, rss_big, grown_mib)
