"""The Spanish OpenClinica ODM extract: written from the truth as OpenClinica nests it, read by
the adapter one item group per table; DNI/NIE and dates of birth never leave the site; an XML
file with entity declarations is refused before anything is written."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from lxml import etree

from federate.adapters import registry
from federate.cli import main
from federate.errors import PrivacyError
from federate.ingest.run import IngestResult, ingest
from federate.privacy.identifiers import dni
from federate.privacy.pseudonym import load_key
from federate.readers import OdmReader, Source
from federate.readers.base import ROW_COLUMN
from federate.synth import SynthResult
from federate.synth import run as synth_run
from federate.synth.identifiers import dni_letters

SPAIN = registry.adapter("spain")
EXTRACT = "MESEMS_ES_odm1.3_fullExtract.xml"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
OC = "{http://www.openclinica.org/ns/odm_ext_v130/v3.1}"


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synth_run(tmp_path_factory.mktemp("es") / "out", seed=7, counts={"spain": 30})


@pytest.fixture(scope="module")
def clean(trial: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    key = load_key("spain", trial.keys["spain"])
    return ingest(SPAIN, trial.export_dir("spain"), tmp_path_factory.mktemp("b") / "bundle", key)


@pytest.fixture(scope="module")
def tree(trial: SynthResult) -> etree._ElementTree:
    return etree.parse(str(trial.export_dir("spain") / EXTRACT))


@pytest.fixture
def export(trial: SynthResult, tmp_path: Path) -> Path:
    """A copy of the clean export to damage."""
    return Path(shutil.copytree(trial.export_dir("spain"), tmp_path / "export"))


def truth(trial: SynthResult, table: str) -> pa.Table:
    rows = pq.read_table(trial.truth[table])
    return rows.filter(pc.equal(rows.column("site"), "spain"))


def subjects(tree: etree._ElementTree) -> list[etree._Element]:
    return list(tree.iter(f"{ODM}SubjectData"))


def bundle_text(bundle: Path) -> str:
    """Every byte of the bundle as text, Parquet tables as their values."""
    parts = []
    for path in sorted(bundle.rglob("*")):
        if path.suffix == ".parquet":
            parts.append(str(pq.read_table(path).to_pylist()))
        elif path.is_file() and path.suffix != ".xlsx":
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def run_cli(export: Path, out: Path, key: Path) -> int:
    with pytest.raises(SystemExit) as done:
        main(["ingest", "spain", str(export), "--out", str(out), "--key-file", str(key)])
    return int(done.value.code or 0)


def test_clean_extract_ingests_every_item_group(clean: IngestResult) -> None:
    assert clean.exit_code == 0 and clean.quarantine.num_rows == 0
    sources = clean.manifest["sources"]
    assert {s["path"] for s in sources} == {EXTRACT}
    assert [s["part"] for s in sources] == [tm.part for tm in SPAIN.tables]
    assert all(s["rows_read"] == s["rows_mapped"] > 0 for s in sources)


def test_dni_nie_and_dates_of_birth_never_reach_the_bundle(
    trial: SynthResult, tree: etree._ElementTree, clean: IngestResult
) -> None:
    people = subjects(tree)
    ids = [s.get(f"{OC}UniqueIdentifier") for s in people]
    births = [s.get(f"{OC}DateOfBirth") for s in people]
    # The export does carry them, valid, in the subject record and again in its audit log.
    assert len(ids) == 30 and all(dni(i) for i in ids)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", b) for b in births)
    logged = {a.get("NewValue") for a in tree.iter(f"{OC}AuditLog")}
    assert set(ids) | set(births) <= logged
    text = bundle_text(clean.bundle)
    for value in (*ids, *births):
        assert value not in text
    for birth in births:  # nor as the CRF would write it
        day = dt.date.fromisoformat(birth)
        assert f"{day.day}/{day.month}/{day:%y}" not in text
        assert f"{day:%d/%m/%y}" not in text
    # Listed by name only, as dropped and never read.
    dropped = clean.manifest["sources"][0]["facts"]["vendor_attributes_dropped"]
    assert {"OpenClinica:UniqueIdentifier", "OpenClinica:DateOfBirth"} <= set(dropped.split(", "))
    assert "OpenClinica:AuditLogs" in clean.manifest["sources"][0]["facts"]["elements_not_read"]
    got = pq.read_table(clean.bundle / "tables" / "subjects.parquet")
    assert "birth_year" in got.column_names
    assert not any(pa.types.is_date(f.type) and "birth" in f.name for f in got.schema)
    years = sorted(dt.date.fromisoformat(b).year for b in births)
    assert sorted(got.column("birth_year").to_pylist()) == years


def test_dni_and_nie_check_letters() -> None:
    """DOMAIN.md §4's published examples; a NIE's X/Y/Z counts as 0/1/2."""
    assert list(dni_letters(np.array([54362315, 2482300]))) == ["K", "W"]
    assert dni("54362315K") and dni("X2482300W")


def test_a_dni_typed_into_a_free_text_item_refuses_the_bundle(
    trial: SynthResult, export: Path, tmp_path: Path
) -> None:
    path = export / EXTRACT
    xml = path.read_text("utf-8")
    found = re.search(r'ItemOID="I_ACONT_TERMINO" Value="([^"]*)"', xml)
    assert found is not None
    path.write_text(xml.replace(found.group(0), found.group(0)[:-1] + ' 54362315K"', 1), "utf-8")
    key = load_key("spain", trial.keys["spain"])
    with pytest.raises(PrivacyError, match="es-dni-nie"):
        ingest(SPAIN, export, tmp_path / "bundle", key)
    assert not (tmp_path / "bundle").exists()


BILLION_LAUGHS = (
    '<!DOCTYPE ODM [\n <!ENTITY lol "lol">\n'
    ' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    ' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n]>\n'
)
EXTERNAL = '<!DOCTYPE ODM [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'


@pytest.mark.parametrize(("doctype", "value"), [(BILLION_LAUGHS, "&lol2;"), (EXTERNAL, "&xxe;")])
def test_entity_declarations_are_refused_with_exit_2(
    trial: SynthResult,
    export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    doctype: str,
    value: str,
) -> None:
    path = export / EXTRACT
    head, _, body = path.read_text("utf-8").partition("\n")
    body = body.replace('Value="', f'Value="{value}', 1)
    path.write_text(f"{head}\n{doctype}{body}", "utf-8")
    out = tmp_path / "bundle"
    assert run_cli(export, out, trial.keys["spain"]) == 2
    assert "unsafe-xml" in capsys.readouterr().err
    assert not out.exists()


def test_extract_is_nested_as_openclinica_writes_it(
    trial: SynthResult, tree: etree._ElementTree
) -> None:
    root = tree.getroot()
    assert root.nsmap["OpenClinica"] == OC.strip("{}") and root.get("ODMVersion") == "1.3"
    clinical = list(root.iter(f"{ODM}ClinicalData"))
    centres = truth(trial, "subjects").column("centre").to_pylist()
    assert len(clinical) == len(set(centres))  # one site-level study per centre
    for person in subjects(tree):
        local = person.get(f"{OC}StudySubjectID")
        assert person.get("SubjectKey") == f"SS_{local}"
        events = [e.get("StudyEventOID") for e in person.iter(f"{ODM}StudyEventData")]
        assert events[0] == "SE_SELECCION" and "SE_REGISTROS" not in events[:-1]
        # The unscheduled visit repeats, numbered in date order.
        unscheduled = [
            (e.get("StudyEventRepeatKey"), e.get(f"{OC}StartDate"))
            for e in person.iter(f"{ODM}StudyEventData")
            if e.get("StudyEventOID") == "SE_NOPROGRAMADA"
        ]
        assert [k for k, _ in unscheduled] == [str(n) for n in range(1, len(unscheduled) + 1)]
        assert [d for _, d in unscheduled] == sorted(d for _, d in unscheduled)
    assert any(e.get("StudyEventRepeatKey") == "2" for e in root.iter(f"{ODM}StudyEventData"))


def test_spanish_values_labels_dates_and_decimals(tree: etree._ElementTree) -> None:
    values: dict[str, list[str]] = {}
    for item in tree.iter(f"{ODM}ItemData"):
        values.setdefault(item.get("ItemOID"), []).append(item.get("Value"))
    visits = values["I_VISIT_FECHA_VISITA"]
    assert all(re.fullmatch(r"\d{1,2}/\d{1,2}/\d\d", d) for d in visits)
    assert any(re.match(r"\d/", d) for d in visits) and any(re.match(r"\d\d/", d) for d in visits)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in values["I_INFUS_FECHA_INFUSION"])
    assert all("," in v for v in values["I_RESON_VOLUMEN_CEREBRAL"])
    assert re.search("[áéíóúñ]", " ".join(values["I_ACONT_TERMINO"]))
    decodes = {
        t.text for t in tree.iter(f"{ODM}TranslatedText") if t.getparent().tag == f"{ODM}Decode"
    }
    assert {"Mujer", "Hombre", "Sí", "No", "Creatinina", "Glucosa"} <= decodes
    assert values["I_DATOS_SEXO"] and set(values["I_DATOS_SEXO"]) <= {"1", "2"}
    units = Counter(
        u
        for p, u in zip(values["I_ANALI_PRUEBA"], values["I_ANALI_UNIDAD"], strict=True)
        if p in ("1", "3")  # creatinine and glucose
    )
    assert units and all(u.lower() == "mg/dl" for u in units)


def test_rows_are_numbered_by_item_group_occurrence(trial: SynthResult) -> None:
    """The truth's source_row is the reader's: each item group's 1-based occurrence ordinal."""
    path = trial.export_dir("spain") / EXTRACT
    reader = OdmReader(keep_attributes=("OpenClinica:StudySubjectID",))
    for tm in SPAIN.tables:
        rows = truth(trial, tm.table)
        batches = list(reader.batches(Source(path, EXTRACT, tm.part), []))
        read = pa.Table.from_batches(batches).column(ROW_COLUMN).to_pylist()
        assert (
            sorted(rows.column("source_row").to_pylist())
            == read
            == list(range(1, rows.num_rows + 1))
        ), tm.table
        assert set(rows.column("source_file").to_pylist()) == {EXTRACT}


def test_writing_is_deterministic(trial: SynthResult, tmp_path: Path) -> None:
    again = synth_run(tmp_path / "again", seed=7, counts={"spain": 30})
    assert (again.export_dir("spain") / EXTRACT).read_bytes() == (
        trial.export_dir("spain") / EXTRACT
    ).read_bytes()


def test_injected_errors_are_quarantined_where_the_truth_puts_their_rows(
    trial: SynthResult, tmp_path: Path
) -> None:
    """Listed at their item-group ordinals; an injected unknown event (a StudyEventData of its
    own) moves no row, so the truth is the clean export's."""
    broken = synth_run(tmp_path / "broken", seed=7, counts={"spain": 30}, inject_errors=True)
    for table in trial.truth:
        assert truth(trial, table).equals(truth(broken, table)), table
    key = load_key("spain", broken.keys["spain"])
    got = ingest(SPAIN, broken.export_dir("spain"), tmp_path / "bundle", key).quarantine
    want = {(e.source_row, e.column, e.reason) for e in broken.injected}
    assert len(want) == 4 and ("StudyEventOID", "SE_SEMANA99") in {
        (e.column, e.value) for e in broken.injected
    }
    assert {(r["source_row"], r["column"], r["reason"]) for r in got.to_pylist()} == want


def test_odm_tables_are_staged_one_at_a_time(
    trial: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The XML walk is Python under the GIL: two ODM tables side by side only take turns
    (13.6 s against 16.6 s for 1,000 patients), so the ingest stages them one by one."""
    import federate.ingest.run

    seen: list[int] = []
    real = federate.ingest.run.run_when_ready

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(int(args[3]))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(federate.ingest.run, "run_when_ready", spy)
    key = load_key("spain", trial.keys["spain"])
    ingest(SPAIN, trial.export_dir("spain"), tmp_path / "bundle", key)
    assert seen == [1]
