"""The French SDTM export: written from the truth as SAS transport files (cp1252 text, SUPP--
qualifiers, findings one record per test), read by the adapter back to the truth; the NIR never
leaves the site; EDSS reads from RS as from QS; damaged files stop the run; the CDISC pilot
study runs to the end with every row accounted for."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyreadstat
import pytest

from federate.adapters import registry
from federate.adapters.docs import site_markdown
from federate.adapters.parsers import Code, Verbatim
from federate.cli import main
from federate.errors import InputError
from federate.ingest.run import IngestResult, ingest
from federate.privacy.identifiers import nir
from federate.privacy.pseudonym import SiteKey, load_key
from federate.readers import Source
from federate.synth import SynthResult
from federate.synth import run as synth_run
from federate.synth.export_sdtm import write_xpt
from federate.synth.practice import PRACTICE
from federate.synth.sites import spec
from tests.conftest import corpus_root

FRANCE = registry.adapter("france")
PILOT = corpus_root() / "sdtm" / "cdiscpilot_update2"
PATIENTS = 10


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synth_run(tmp_path_factory.mktemp("fr") / "out", seed=11, counts={"france": PATIENTS})


def ingest_export(trial: SynthResult, export: Path, out: Path) -> IngestResult:
    return ingest(FRANCE, export, out, load_key("france", trial.keys["france"]))


@pytest.fixture(scope="module")
def clean(trial: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    return ingest_export(trial, trial.export_dir("france"), tmp_path_factory.mktemp("b") / "b")


@pytest.fixture
def export(trial: SynthResult, tmp_path: Path) -> Path:
    """A copy of the clean export to damage."""
    return Path(shutil.copytree(trial.export_dir("france"), tmp_path / "export"))


def truth(trial: SynthResult, table: str) -> pa.Table:
    rows = pq.read_table(trial.truth[table])
    return rows.filter(pc.equal(rows.column("site"), "france"))


def read(path: Path) -> pl.DataFrame:
    frame, _ = pyreadstat.read_xport(str(path), output_format="polars", encoding="cp1252")
    assert isinstance(frame, pl.DataFrame)
    return frame


def as_text(value: object) -> str | None:
    """A value read back as the writer takes it (numbers as SAS holds them)."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None if value is None else str(value)


def rewrite(path: Path, frame: pl.DataFrame, label: str) -> None:
    columns = {c: [as_text(v) for v in frame.get_column(c)] for c in frame.columns}
    write_xpt(path, path.stem.upper(), label, columns)


def run_cli(export: Path, out: Path, key: Path) -> int:
    with pytest.raises(SystemExit) as done:
        main(["ingest", "france", str(export), "--out", str(out), "--key-file", str(key)])
    return int(done.value.code or 0)


def test_clean_export_ingests_with_nothing_quarantined(clean: IngestResult) -> None:
    assert clean.exit_code == 0 and clean.quarantine.num_rows == 0
    sources = clean.manifest["sources"]
    written = {tm.file for tm in FRANCE.tables if tm.table not in ("edss", "labs")}
    supp = {f"supp{d}.xpt" for d in ("ae", "cm", "dm", "ex", "mo")}
    assert {s["path"] for s in sources} == written | {"qs.xpt", "lb.xpt"} | supp
    for s in sources:
        assert s["rows_read"] == s["rows_mapped"] + s["rows_skipped"], s
        if s["path"] in supp:  # counted whole: their qualifiers are merged onto the parents
            assert s["table"] == "" and s["rows_skipped"] == s["rows_read"] > 0
        else:
            assert set(s["skipped_reasons"]) <= {"merged-into-record"}
    encodings = {s["path"]: s["facts"]["encoding"] for s in sources}
    assert encodings["ae.xpt"] == encodings["cm.xpt"] == "cp1252"  # French verbatims
    assert encodings["mo.xpt"] == "utf-8"  # plain ASCII reads as either


def test_datasets_have_the_shape_of_sdtm(trial: SynthResult) -> None:
    folder = trial.export_dir("france")
    names = sorted(p.name for p in folder.iterdir())
    domains = ["ae", "ce", "cm", "dm", "ex", "ft", "lb", "mo", "qs", "sv"]
    supp = ["suppae", "suppcm", "suppdm", "suppex", "suppmo"]
    assert names == sorted(f"{d}.xpt" for d in (*domains, *supp))
    for path in folder.iterdir():
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        assert meta.table_name == path.stem.upper()
        assert b"20DEC19:14:30:00" in path.read_bytes()[:600]  # the lock, not the writing time
    dm = read(folder / "dm.xpt")
    assert dm.columns[:3] == ["STUDYID", "DOMAIN", "USUBJID"]
    assert set(dm.get_column("DOMAIN")) == {"DM"}
    assert all(len(b) == 4 for b in dm.get_column("BRTHDTC"))  # the year of birth only
    suppdm = read(folder / "suppdm.xpt")
    assert set(suppdm.get_column("QNAM")) == {"MSTYPE", "MSDIAGDT", "NIR"}
    assert set(suppdm.get_column("IDVAR")) == {""}  # qualifiers of the patient
    assert set(read(folder / "suppmo.xpt").get_column("IDVAR")) == {"MOGRPID"}
    assert read(folder / "sv.xpt").get_column("VISITNUM").dtype == pl.Float64


def test_findings_sort_by_test_and_rows_point_at_their_first_record(trial: SynthResult) -> None:
    mo = read(trial.export_dir("france") / "mo.xpt")
    pivot = FRANCE.table_map("mri").pivot
    assert pivot is not None
    order = [pivot.tests.index(t) for t in mo.get_column("MOTESTCD")]
    keys = list(zip(mo.get_column("USUBJID"), order, strict=True))
    assert keys == sorted(keys)
    mri = truth(trial, "mri")
    rows = mri.column("source_row").to_numpy() - 1
    assert mri.column("source_file").unique().to_pylist() == ["mo.xpt"]
    assert mo[rows, "MODTC"].to_list() == [d.isoformat() for d in mri["scan_date"].to_pylist()]
    assert set(mo[rows, "MOTESTCD"]) == {"GDLESNUM"}  # every scan's first record
    assert mo.get_column("MOSTRESN")[rows].to_list() == mri["gel_count"].to_pylist()


def test_same_truth_same_bytes(trial: SynthResult, tmp_path: Path) -> None:
    again = synth_run(tmp_path / "out", seed=11, counts={"france": PATIENTS})
    for path in trial.export_dir("france").iterdir():
        assert (again.export_dir("france") / path.name).read_bytes() == path.read_bytes()


def test_nir_is_valid_in_the_export_and_never_reaches_the_bundle(
    trial: SynthResult, clean: IngestResult
) -> None:
    supp = read(trial.export_dir("france") / "suppdm.xpt").filter(pl.col("QNAM") == "NIR")
    numbers = supp.get_column("QVAL").to_list()
    assert len(numbers) == PATIENTS and all(nir(n) and len(n) == 15 for n in numbers)
    dm = read(trial.export_dir("france") / "dm.xpt")
    sexes = dict(zip(dm.get_column("USUBJID"), dm.get_column("SEX"), strict=True))
    for subject, number in zip(supp.get_column("USUBJID"), numbers, strict=True):
        assert number[0] == ("1" if sexes[subject] == "M" else "2")
    text = "\n".join(
        str(pq.read_table(p).to_pylist())
        if p.suffix == ".parquet"
        else p.read_bytes().decode("utf-8", "replace")
        for p in sorted(clean.bundle.rglob("*"))
        if p.is_file() and p.suffix != ".xlsx"
    )
    assert not any(n in text for n in numbers)
    reported = [c for c in clean.report["columns"] if c["file"] == "dm.xpt"]
    assert all(c["dropped_identifiers"] == ["NIR"] for c in reported)


def test_cp1252_verbatims_read_back_through_the_adapter(
    trial: SynthResult, clean: IngestResult
) -> None:
    raw = (trial.export_dir("france") / "ae.xpt").read_bytes()
    assert "é".encode("cp1252") in raw and "é".encode() not in raw
    got = pq.read_table(clean.bundle / "tables" / "adverse_events.parquet").sort_by("source_row")
    want = truth(trial, "adverse_events").sort_by("source_row")
    assert got["verbatim_term"].to_pylist() == want["verbatim_term"].to_pylist()
    assert any("é" in t for t in got["verbatim_term"].to_pylist())


def test_a_cp1252_only_character_in_a_verbatim_term_reads_correctly(
    trial: SynthResult, export: Path, tmp_path: Path
) -> None:
    """œ is a cp1252 byte (0x9C) that Latin-1 lacks: the file must be read as cp1252."""
    ae = read(export / "ae.xpt")
    term = "œdème de la cheville"
    ae = ae.with_columns(pl.Series("AETERM", [term, *ae.get_column("AETERM")[1:]]))
    rewrite(export / "ae.xpt", ae, "Adverse Events")
    assert b"\x9cd\xe8me" in (export / "ae.xpt").read_bytes()
    result = ingest_export(trial, export, tmp_path / "bundle")
    assert result.exit_code == 0
    events = pq.read_table(tmp_path / "bundle" / "tables" / "adverse_events.parquet")
    first = events.filter(pc.equal(events["source_row"], 1))
    assert first["verbatim_term"].to_pylist() == [term]
    reader = FRANCE.reader
    assert reader.source_facts(Source(export / "ae.xpt", "ae.xpt"))["encoding"] == "cp1252"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", "looks truncated"),
        ("cut-after-an-observation", "looks truncated"),
        ("not-xpt", "not a SAS transport (XPT) file"),
    ],
)
def test_a_malformed_xpt_stops_with_exit_2(
    trial: SynthResult,
    export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    message: str,
) -> None:
    path = export / "ae.xpt"
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) - 500])  # cut inside a record
    elif damage == "cut-after-an-observation":  # whole observations left, but not 80-byte records
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        width = sum(meta.variable_storage_width.values())
        first = raw.index(b"HEADER RECORD*******OBS") + 80
        keep = next(n for n in range(1, 80) if (first + n * width) % 80)
        path.write_bytes(raw[: first + keep * width])
    else:
        path.write_text("USUBJID,AETERM\n010001,céphalées\n", "cp1252")  # a CSV named .xpt
    out = tmp_path / "bundle"
    assert run_cli(export, out, trial.keys["france"]) == 2
    err = capsys.readouterr().err
    assert "ae.xpt" in err and message in err
    assert not out.exists()


def test_edss_reads_from_rs_as_from_qs(
    trial: SynthResult, clean: IngestResult, export: Path, tmp_path: Path
) -> None:
    """The newer CDISC instrument supplements file EDSS in RS: the same records, RS-prefixed."""
    qs = read(export / "qs.xpt")
    rs = qs.rename({c: "RS" + c[2:] for c in qs.columns if c.startswith("QS")})
    rs = rs.with_columns(pl.lit("RS").alias("DOMAIN"))
    rewrite(export / "rs.xpt", rs, "Disease Response and Clin Classification")
    (export / "qs.xpt").unlink()
    result = ingest_export(trial, export, tmp_path / "bundle")
    assert result.exit_code == 0
    got = pq.read_table(tmp_path / "bundle" / "tables" / "edss.parquet")
    want = pq.read_table(clean.bundle / "tables" / "edss.parquet")
    assert set(got["source_file"].to_pylist()) == {"rs.xpt"}
    drop = ["submission_id", "source_file"]
    assert got.drop_columns(drop).equals(want.drop_columns(drop))


def test_injected_errors_are_quarantined(tmp_path: Path) -> None:
    broken = synth_run(tmp_path / "out", seed=5, counts={"france": PATIENTS}, inject_errors=True)
    result = ingest_export(broken, broken.export_dir("france"), tmp_path / "bundle")
    got = {(r["source_file"], r["column"], r["reason"]) for r in result.quarantine.to_pylist()}
    assert got == {(e.file, e.column, e.reason) for e in broken.injected}
    assert result.quarantine.num_rows == len(broken.injected) == 4


def test_french_practice_agrees_with_the_adapter() -> None:
    local, loc = PRACTICE["france"], FRANCE.locale
    assert local.partial_formats == (
        loc.date_formats[0],
        loc.month_formats[0],
        loc.year_formats[0],
    )
    labs = FRANCE.table_map("labs")
    assert isinstance(labs.fields["value_raw"], Verbatim)  # the printout's decimal comma kept
    units = labs.fields["unit_reported"]
    assert isinstance(units, Code)
    for analyte_units in local.lab_units.values():
        assert all(units.mapping.get(u) == u for u in analyte_units)
    centres = FRANCE.table_map("subjects").fields["centre"]
    assert isinstance(centres, Code)
    assert set(centres.mapping.values()) == {c.code for c in spec("france").centres}


def xpt_rows(path: Path) -> int:
    frame, _ = pyreadstat.read_xport(str(path), usecols=["STUDYID"], output_format="polars")
    assert isinstance(frame, pl.DataFrame)
    return frame.height


def read_quarantine(bundle: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pq.read_table(bundle / "quarantine.parquet").to_pylist()
    return rows


def pilot_key(tmp_path: Path) -> Path:
    key = tmp_path / "site.key"
    key.write_text(bytes(range(32)).hex() + "\n")
    key.chmod(0o600)
    return key


def test_unknown_variables_are_named_once_and_sdtm_identifiers_never(
    clean: IngestResult,
) -> None:
    """DM is read for two tables: a variable one of them reads is not unknown at the other,
    and one neither reads is named once; SDTMIG's identifier variables (STUDYID, DOMAIN,
    --SEQ, --GRPID) are the datasets' bookkeeping, not unknown columns."""
    unknown = [
        (w["source_file"], w["column"])
        for w in clean.warnings.to_pylist()
        if w["reason"] == "unknown-column"
    ]
    assert len(unknown) == len(set(unknown))
    names = {name for _, name in unknown}
    assert not names & {"STUDYID", "DOMAIN", "SEX", "SITEID", "BRTHDTC", "MSTYPE"}
    assert not [n for n in names if n.endswith(("SEQ", "GRPID"))]
    assert ("dm.xpt", "COUNTRY") in unknown  # no table reads it: still named


def test_a_define_xml_is_a_known_file_never_read(trial: SynthResult, export: Path) -> None:
    """A Define-XML (and the stylesheet beside it) is part of an SDTM submission: listed with
    its declared reason, size and SHA-256, never opened as rows (here it is not even XML),
    and no 'not in the spec' warning; a file the spec does not name still gets one."""
    garbage = b"\x00\xff not xml at all"
    (export / "Define.xml").write_bytes(garbage)
    (export / "define2-0-0.xsl").write_text("<xsl:stylesheet/>", "utf-8")
    (export / "notes.txt").write_text("ok", "utf-8")
    result = ingest_export(trial, export, export.parent / "bundle")
    assert result.exit_code == 0
    reasons = {r.pattern: r.reason for r in FRANCE.skip if not r.read}
    unread = {s["path"]: s for s in result.manifest["sources"] if s["skipped_whole"]}
    assert {p: s["skipped_whole"] for p, s in unread.items()} == {
        "Define.xml": reasons["define.xml"],
        "define2-0-0.xsl": reasons["define*.xsl"],
        "notes.txt": "not-in-spec",
    }
    assert unread["Define.xml"]["rows_read"] == 0 and unread["Define.xml"]["bytes"] == len(garbage)
    warned = [w["source_file"] for w in result.warnings.to_pylist()]
    assert "notes.txt" in warned
    assert "Define.xml" not in warned and "define2-0-0.xsl" not in warned
    assert "`define.xml`: the Define-XML" in site_markdown(FRANCE, registry.schema())


def test_the_cdisc_pilot_runs_to_the_end_with_every_row_accounted_for(tmp_path: Path) -> None:
    """The CDISC pilot study (Alzheimer's disease, SDTM as released): its patients are no
    MESEMS patients (DM skips them all: another trial's arms, screen failures), so every record
    of theirs in every other dataset is skipped with DM's reason, counted, and nothing is
    quarantined; every record of every dataset is read and accounted for."""
    out = tmp_path / "bundle"
    assert run_cli(PILOT, out, pilot_key(tmp_path)) == 0
    sources = json.loads((out / "manifest.json").read_text())["sources"]
    files = {p.name: xpt_rows(p) for p in PILOT.iterdir() if p.suffix == ".xpt"}
    by_file = {s["path"]: s for s in sources if not s["skipped_whole"]}
    assert set(by_file) == set(files)
    # The files beside the datasets are listed too, never read: nothing is left out silently.
    unread = {s["path"]: s["skipped_whole"] for s in sources if s["skipped_whole"]}
    define = next(r for r in FRANCE.skip if r.pattern == "define.xml")
    assert unread == {"define.xml": define.reason, "Readme.md": "not-in-spec"}
    for s in by_file.values():
        assert s["rows_read"] == files[s["path"]], s
        assert s["rows_read"] == s["rows_mapped"] + s["rows_quarantined"] + s["rows_skipped"]
    once = [s for s in sources if s["table"] != "randomisation"]  # DM is read for two tables
    assert sum(s["rows_read"] for s in once) == sum(files.values())
    assert not {s["table"] for s in sources} & {"mri", "edss", "msfc", "relapses"}
    # What real SDTM looks like: screen failures and another trial's arms in DM, lymphocytes
    # as LYM, urinalysis split off (LBUR), vital signs and disposition the schema lacks.
    randomised = FRANCE.table_map("randomisation").keep
    other_test = FRANCE.table_map("labs").keep
    assert randomised is not None and other_test is not None
    assert by_file["dm.xpt"]["skipped_reasons"] == {randomised.reason: 306}
    for name in ("ex.xpt", "sv.xpt", "ae.xpt", "cm.xpt"):
        assert by_file[name]["skipped_reasons"] == {randomised.reason: files[name]}, name
    lbhe = by_file["lbhe.xpt"]["skipped_reasons"]
    assert lbhe == {randomised.reason: 1809 + 1808, other_test.reason: 21927 - 1809 - 1808}
    assert {by_file[f]["table"] for f in ("ds.xpt", "vs.xpt", "lbur.xpt")} == {""}
    assert read_quarantine(out) == []


# --- an export written by hand from docs/sites/france.md, as SAS writes SDTM -------------------

STUDY = "MESEMS-FR"
P1, P2, FAIL = (f"{STUDY}-01-001", f"{STUDY}-02-002", f"{STUDY}-01-003")


def supp(domain: str, rows: list[tuple[str, str, str, str, str]]) -> dict[str, list[object]]:
    """A SUPP-- dataset: (USUBJID, IDVAR, IDVARVAL, QNAM, QVAL) per qualifier."""
    return {
        "STUDYID": [STUDY] * len(rows),
        "RDOMAIN": [domain] * len(rows),
        "USUBJID": [r[0] for r in rows],
        "IDVAR": [r[1] for r in rows],
        "IDVARVAL": [r[2] for r in rows],
        "QNAM": [r[3] for r in rows],
        "QLABEL": [r[3].title() for r in rows],
        "QVAL": [r[4] for r in rows],
        "QORIG": ["CRF"] * len(rows),
    }


def sdtm_datasets() -> dict[str, dict[str, list[object]]]:
    """Two randomised patients and a screen failure (ARMCD SCRNFAIL) with records of their own
    in SV, AE, CM and LB, as SDTM keeps them; NaN is SAS's missing number."""
    nan = math.nan
    return {
        "dm": {"STUDYID": [STUDY] * 3, "DOMAIN": ["DM"] * 3, "USUBJID": [P1, P2, FAIL],
               "SITEID": ["01", "02", "01"], "BRTHDTC": ["1980", "1975", "1990"],
               "SEX": ["F", "M", "F"], "ARMCD": ["MSC-PBO", "PBO-MSC", "SCRNFAIL"],
               "ARM": ["MSC then placebo", "Placebo then MSC", "Screen Failure"],
               "RFSTDTC": ["2014-01-10", "2014-02-03", ""]},
        "suppdm": supp("DM", [
            (P1, "", "", "MSTYPE", "RR"), (P1, "", "", "MSDIAGDT", "2008-05-01"),
            (P1, "", "", "NIR", "295109912611193"), (P2, "", "", "MSTYPE", "SP"),
            (P2, "", "", "MSDIAGDT", "2005-01-20"), (P2, "", "", "NIR", "253072B07300470"),
            (FAIL, "", "", "MSTYPE", "RR"), (FAIL, "", "", "MSDIAGDT", "2012-02-02"),
        ]),
        "ex": {"STUDYID": [STUDY] * 2, "DOMAIN": ["EX"] * 2, "USUBJID": [P1, P2],
               "EXSEQ": [1.0, 1.0], "EXTRT": ["AUTOLOGOUS MSC", "PLACEBO"],
               "EXDOSE": [1.5, nan], "EXDOSU": ["10^6 cells/kg", ""], "EXLOT": ["LOT-01", ""],
               "EPOCH": ["TREATMENT 1", "TREATMENT 1"],
               "EXSTDTC": ["2014-01-20", "2014-02-12"]},
        "suppex": supp("EX", [(P1, "EXSEQ", "1", "WEIGHT", "68.5"),
                              (P1, "EXSEQ", "1", "VIABIL", "97.2"),
                              (P2, "EXSEQ", "1", "WEIGHT", "81")]),
        "sv": {"STUDYID": [STUDY] * 4, "DOMAIN": ["SV"] * 4, "USUBJID": [P1, P2, FAIL, P1],
               "VISITNUM": [2.0, 2.0, 1.0, 3.0],
               "VISIT": ["SEMAINE 0", "SEMAINE 0", "SELECTION", "SEMAINE 4"],
               "VISITDY": [1.0, 1.0, -42.0, 29.0],
               "SVSTDTC": ["2014-01-20", "2014-02-12", "2013-12-01", "2014-02-17"]},
        "ae": {"STUDYID": [STUDY] * 2, "DOMAIN": ["AE"] * 2, "USUBJID": [P1, FAIL],
               "AESEQ": [1.0, 1.0], "AETERM": ["Céphalée après perfusion", "Lombalgie"],
               "AEPTCD": [10019211.0, 10024891.0], "AESOCCD": [10029205.0, 10028395.0],
               "AESTDTC": ["2014-01-21", "2013-12-03"], "AEENDTC": ["2014-01-23", ""],
               "AESER": ["N", "N"], "AESDTH": ["", ""], "AESLIFE": ["", ""],
               "AESHOSP": ["", ""], "AESDISAB": ["", ""], "AESCONG": ["", ""],
               "AESMIE": ["", ""], "AETOXGR": ["1", "2"],
               "AEREL": ["POSSIBLY RELATED", "NOT RELATED"],
               "AEOUT": ["RECOVERED/RESOLVED", "NOT RECOVERED/NOT RESOLVED"]},
        "suppae": supp("AE", [(P1, "AESEQ", "1", "MEDDRAV", "19.1"),
                              (P1, "AESEQ", "1", "AERELPRC", "NOT RELATED"),
                              (FAIL, "AESEQ", "1", "MEDDRAV", "19.1")]),
        "cm": {"STUDYID": [STUDY] * 2, "DOMAIN": ["CM"] * 2, "USUBJID": [P1, FAIL],
               "CMSEQ": [1.0, 1.0], "CMTRT": ["TYSABRI", "DOLIPRANE"],
               "CMCLASCD": ["L04AA23", "N02BE01"], "CMSTDTC": ["2012", "2013-11"],
               "CMENDTC": ["2013-12", ""]},
        "suppcm": supp("CM", [(P1, "CMSEQ", "1", "ATCVER", "2019"),
                              (FAIL, "CMSEQ", "1", "ATCVER", "2019")]),
        "lb": {"STUDYID": [STUDY] * 3, "DOMAIN": ["LB"] * 3, "USUBJID": [P1, P1, FAIL],
               "LBSEQ": [1.0, 2.0, 1.0], "LBTESTCD": ["CREAT", "SODIUM", "CREAT"],
               "LBTEST": ["Creatinine", "Sodium", "Creatinine"],
               "LBORRES": ["88,4", "140", "70"], "LBORRESU": ["µmol/L", "mmol/L", "µmol/L"],
               "LBSTRESN": [88.4, 140.0, 70.0], "LBSTRESU": ["umol/L", "mmol/L", "umol/L"],
               "VISIT": ["SEMAINE 0", "SEMAINE 0", "SELECTION"],
               "LBDTC": ["2014-01-19T08:30", "2014-01-19T08:30", "2013-12-01"]},
        "ds": {"STUDYID": [STUDY] * 3, "DOMAIN": ["DS"] * 3, "USUBJID": [P1, P2, FAIL],
               "DSDECOD": ["COMPLETED", "COMPLETED", "SCREEN FAILURE"]},
    }  # fmt: skip


def write_sdtm(folder: Path, kind: str = "xpt") -> Path:
    """Each dataset as SAS writes it: XPT v5 (pyreadstat, as SAS's XPORT engine), or CSV with a
    header row and SAS's blank for a missing value."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    for name, columns in sdtm_datasets().items():
        frame = pd.DataFrame(columns)
        if kind == "csv":  # numbers as SAS's BEST. format writes them: 1, 88.4, blank
            frame = frame.apply(lambda c: c.map(_best) if c.dtype.kind == "f" else c)
            frame.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")
        else:
            pyreadstat.write_xport(
                frame, str(folder / f"{name}.xpt"), table_name=name.upper(), file_format_version=5
            )
    return folder


def _best(value: float) -> str:
    if math.isnan(value):
        return ""
    return str(int(value)) if value.is_integer() else repr(value)


def bundle_rows(result: IngestResult, table: str) -> list[dict[str, object]]:
    rows = pq.read_table(result.bundle / "tables" / f"{table}.parquet").sort_by("source_row")
    return rows.drop(["site", "submission_id", "subject_id", "source_file"]).to_pylist()


@pytest.mark.parametrize("kind", ["xpt", "csv"])
def test_a_handmade_sdtm_export_pools_exactly(tmp_path: Path, kind: str) -> None:
    """The spec allows .xpt, .sas7bdat and .csv datasets: both written ones pool the same."""
    result = ingest(FRANCE, write_sdtm(tmp_path / "export", kind), tmp_path / "b", _key(tmp_path))
    assert result.quarantine.num_rows == 0 and result.exit_code == 0
    subjects = bundle_rows(result, "subjects")
    assert [(r["centre"], r["ms_course"], r["birth_year"]) for r in subjects] == [
        ("FR-PAR", "RRMS", 1980),
        ("FR-LYO", "SPMS", 1975),
    ]
    infusions = bundle_rows(result, "infusions")
    assert [(r["body_weight_kg"], r["dose_million_cells_per_kg"]) for r in infusions] == [
        (68.5, 1.5),
        (81.0, None),
    ]
    assert [r["week"] for r in bundle_rows(result, "visits")] == [0, 0, 4]
    event = bundle_rows(result, "adverse_events")[0]
    assert (event["meddra_pt_code"], event["meddra_version"]) == ("10019211", "19.1")
    lab = bundle_rows(result, "labs")[0]
    assert (lab["value_raw"], lab["value_reported"], lab["unit_reported"]) == (
        "88,4", 88.4, "umol/L",
    )  # fmt: skip
    used = {s["path"] for s in result.manifest["sources"]}
    assert f"dm.{kind}" in used and f"ds.{kind}" in used and f"suppae.{kind}" in used


def test_a_screen_failures_records_are_skipped_in_every_domain(tmp_path: Path) -> None:
    """DM skips a screen failure with a declared reason; their SV, AE, CM and LB records are
    skipped with the same reason and counted, never quarantined as unknown patients."""
    result = ingest(FRANCE, write_sdtm(tmp_path / "export"), tmp_path / "b", _key(tmp_path))
    assert result.quarantine.num_rows == 0 and result.exit_code == 0
    subjects_keep, labs_keep = FRANCE.table_map("subjects").keep, FRANCE.table_map("labs").keep
    assert subjects_keep is not None and labs_keep is not None
    reason = subjects_keep.reason
    by_file = {(s["path"], s["table"]): s for s in result.manifest["sources"]}
    assert by_file["dm.xpt", "subjects"]["skipped_reasons"] == {reason: 1}
    for name, table in (("sv", "visits"), ("ae", "adverse_events"), ("cm", "conmeds")):
        source = by_file[f"{name}.xpt", table]
        assert source["skipped_reasons"] == {reason: 1}, name
        assert source["rows_read"] == source["rows_mapped"] + 1
    labs = by_file["lb.xpt", "labs"]
    assert labs["skipped_reasons"] == {reason: 1, labs_keep.reason: 1}
    assert (labs["rows_read"], labs["rows_mapped"], labs["rows_quarantined"]) == (3, 1, 0)


def test_a_sas7bdat_dataset_is_read_under_its_dataset_name(tmp_path: Path) -> None:
    """No SDTM .sas7bdat can be written here (pyreadstat writes none, and the corpus has none
    from SDTM): a real sas7bdat of the corpus sent as dm.sas7bdat is found and read, and its
    missing SDTM variables stop the run naming the file, not 'the export has no dm.xpt'."""
    export = write_sdtm(tmp_path / "export")
    (export / "dm.xpt").unlink()
    (export / "suppdm.xpt").unlink()
    shutil.copy(corpus_root() / "spss" / "basic" / "sample.sas7bdat", export / "dm.sas7bdat")
    with pytest.raises(InputError) as stopped:
        ingest(FRANCE, export, tmp_path / "b", _key(tmp_path))
    assert stopped.value.code == "missing-column"
    assert stopped.value.where is not None and stopped.value.where.file == "dm.sas7bdat"


def test_one_dataset_in_two_formats_is_refused(tmp_path: Path) -> None:
    export = write_sdtm(tmp_path / "export")
    write_sdtm(tmp_path / "csv", "csv")
    shutil.copy(tmp_path / "csv" / "dm.csv", export / "dm.csv")
    with pytest.raises(InputError, match=r"dm\.csv and dm\.xpt: the same form in 2 files"):
        ingest(FRANCE, export, tmp_path / "b", _key(tmp_path))


def test_a_permissible_variable_the_dataset_lacks_holds_rows_not_the_run(tmp_path: Path) -> None:
    export = write_sdtm(tmp_path / "export")
    ae = sdtm_datasets()["ae"]
    del ae["AETOXGR"]  # another sponsor's AE may lack it (the CDISC pilot does)
    import pandas as pd

    pyreadstat.write_xport(pd.DataFrame(ae), str(export / "ae.xpt"), table_name="AE")
    result = ingest(FRANCE, export, tmp_path / "b", _key(tmp_path))
    rows = result.quarantine.to_pylist()
    assert [(r["table"], r["column"], r["reason"]) for r in rows] == [
        ("adverse_events", "AETOXGR", "required-missing")
    ]


def test_the_spec_says_which_result_is_read() -> None:
    spec = site_markdown(FRANCE, registry.schema())
    assert "--STRESN" in spec and "--ORRES is never read in its place" in spec
    labs = FRANCE.table_map("labs").fields
    assert labs["value_reported"].source == "LBSTRESN"
    assert all(p.source != "LBORRES" for p in labs.values() if not isinstance(p, Verbatim))


def _key(tmp_path: Path) -> SiteKey:
    return load_key("france", pilot_key(tmp_path))
