"""Spain, held to its published spec from the outside: OpenClinica 3.x extracts written by hand
(``openclinica_es``, from docs/sites/spain.md and the way OpenClinica writes its ODM), not by the
simulator. Real and integer items carry ODM's '.' numbers, removed records are still in the file,
code lists carry labels in two languages: the live data pools exactly, the removed never does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.adapters.docs import site_markdown
from federate.adapters.parsers import PartialDate
from federate.cli import main
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey, pseudonym
from tests.conftest import REPO
from tests.site_adapters import openclinica_es as oc

SPAIN = registry.adapter("spain")
SPEC = REPO / "docs" / "sites" / "spain.md"


def run(export: Path, out: Path, key: SiteKey) -> IngestResult:
    return ingest(SPAIN, export, out, key)


def pooled_rows(result: IngestResult, table: str, columns: list[str]) -> list[dict[str, Any]]:
    rows = pq.read_table(result.bundle / "tables" / f"{table}.parquet").to_pylist()
    return sorted(({c: r[c] for c in columns} for r in rows), key=repr)


def want_rows(people: list[oc.Subject], key: SiteKey) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table, rows in oc.pooled(people).items():
        with_ids = [{"subject_id": pseudonym(key, "es", r["local_id"]), **r} for r in rows]
        for r in with_ids:
            del r["local_id"]
        out[table] = sorted(with_ids, key=repr)
    return out


def assert_pools_exactly(result: IngestResult, people: list[oc.Subject], key: SiteKey) -> None:
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()[:5]
    assert result.exit_code == 0
    for table, want in want_rows(people, key).items():
        columns = list(want[0]) if want else ["subject_id"]
        assert pooled_rows(result, table, columns) == want, table


def skipped(result: IngestResult) -> dict[str, dict[str, int]]:
    return {s["part"]: s["skipped_reasons"] for s in result.manifest["sources"]}


# --- the clean, realistic extract -------------------------------------------------------------


def test_a_realistic_extract_pools_exactly_and_nothing_removed_reaches_the_pool(
    tmp_path: Path, site_key: SiteKey
) -> None:
    """ODM numbers in real and integer items, bilingual code lists, removal flags: exit 0,
    nothing quarantined, every value as written, every removed row skipped and counted."""
    people = oc.subjects()
    oc.write(tmp_path / "export")
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    assert_pools_exactly(result, people, site_key)
    removed = oc.removed_rows(people)
    assert sum(removed.values()) == 8
    for source in result.manifest["sources"]:
        gone = removed.get(source["part"], 0)
        assert source["skipped_reasons"] == ({"removed-in-source": gone} if gone else {})
        assert source["rows_read"] == source["rows_mapped"] + gone
    assert result.manifest["sources"][0]["facts"]["item_group_rows_removed_in_source"] == "1"
    bundle = "\n".join(
        str(pq.read_table(p).to_pylist())
        if p.suffix == ".parquet"
        else p.read_text("utf-8", "replace")
        for p in result.bundle.rglob("*")
        if p.is_file() and p.suffix != ".xlsx"
    )
    for person in people:  # DNI/NIE and date of birth: dropped unread
        assert person.unique_id not in bundle and person.birth not in bundle


# --- finding 1: ODM numbers are numbers, whatever the locale ----------------------------------


def test_odm_real_items_read_as_numbers_not_through_the_spanish_grouping(
    tmp_path: Path, site_key: SiteKey
) -> None:
    """OpenClinica writes 10.4 in a real item; Spain's text rules ('.' groups digits) read it as
    104 and pooled it with exit 0: every MSFC walk 10 times too long."""
    people = oc.subjects(removed=False)
    oc.write(tmp_path / "export", languages="untagged", removed=False)
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    # 0.72 and 10.4 mL misread as 72 and 104 stay in range: pooled silently, exit 0.
    volumes = pooled_rows(result, "mri", ["t2_volume_ml"])
    assert volumes == [{"t2_volume_ml": v} for v in (0.72, 10.4, 25.33)]
    walks = pooled_rows(result, "msfc", ["t25fw_trial1_s", "nhpt_dominant_trial2_s"])
    assert walks == [
        {"t25fw_trial1_s": 10.4, "nhpt_dominant_trial2_s": 22.06},
        {"t25fw_trial1_s": 7.15, "nhpt_dominant_trial2_s": None},
    ]
    assert_pools_exactly(result, people, site_key)


def test_numbers_typed_into_text_items_keep_the_spanish_rules(
    tmp_path: Path, site_key: SiteKey
) -> None:
    """The same CRF with its numbers as text items, typed with a decimal comma: same pool."""
    people = oc.subjects(removed=False)
    path = oc.write(tmp_path / "export", numbers="text", languages="untagged", removed=False)
    assert 'Value="10,4"' in path.read_text("utf-8") and 'DataType="float"' not in path.read_text(
        "utf-8"
    )
    assert_pools_exactly(run(tmp_path / "export", tmp_path / "bundle", site_key), people, site_key)


def test_a_real_item_holding_a_comma_is_quarantined_not_guessed(
    tmp_path: Path, site_key: SiteKey
) -> None:
    """'10,4' in a real item is not ODM's form: 10.4 or 104 cannot be told. Its row is
    quarantined, naming the item; the rest pools."""
    path = oc.write(tmp_path / "export", languages="untagged", removed=False)
    text = path.read_text("utf-8")
    assert text.count('ItemOID="I_MSFC_T25FW_1" Value="10.4"') == 1
    path.write_text(
        text.replace(
            'ItemOID="I_MSFC_T25FW_1" Value="10.4"', 'ItemOID="I_MSFC_T25FW_1" Value="10,4"'
        ),
        "utf-8",
    )
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    bad = result.quarantine.to_pylist()
    assert [(r["table"], r["column"], r["reason"]) for r in bad] == [
        ("msfc", "I_MSFC_T25FW_1", "invalid-number")
    ]
    assert "'.' as decimal mark" in bad[0]["rule"] and "10,4" not in bad[0]["rule"]
    assert pooled_rows(result, "msfc", ["t25fw_trial1_s"]) == [{"t25fw_trial1_s": 7.15}]


def _as_real_items(text: str) -> str:
    """The lab result and the MedDRA version made real items (``DataType="float"``), their
    values in ODM's own form, as an OpenClinica CRF may define them."""
    for item in ("I_ANALI_RESULTADO", "I_ACONT_VERSION_MEDDRA"):
        text = text.replace(
            f'OID="{item}" Name="{item.split("_", 2)[2]}" DataType="text"',
            f'OID="{item}" Name="{item.split("_", 2)[2]}" DataType="float"',
        )
    text = text.replace('Value="0,72"', 'Value="0.72"').replace('Value="1,8"', 'Value="1.8"')
    return text.replace('Value="13,4"', 'Value="13.4"').replace('"0,6"', '"0.6"')


def test_a_real_item_is_kept_as_the_site_sees_it(tmp_path: Path, site_key: SiteKey) -> None:
    """A real item's value as exported is its text as written: MedDRA version "17.0" became
    "17" (read as the number 17.0, shown as a whole number) and was quarantined by the
    version's format; the number a parser reads is still ODM's own."""
    path = oc.write(tmp_path / "export", languages="untagged", removed=False)
    path.write_text(_as_real_items(path.read_text("utf-8")), "utf-8")
    assert 'ItemOID="I_ACONT_VERSION_MEDDRA" Value="17.0"' in path.read_text("utf-8")
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    labs = pooled_rows(result, "labs", ["value_raw", "value_reported"])
    assert {"value_raw": "0.72", "value_reported": 0.72} in labs
    assert {"value_raw": "13.4", "value_reported": 13.4} in labs
    versions = pooled_rows(result, "adverse_events", ["meddra_version"])
    assert {"meddra_version": "17.0"} in versions and {"meddra_version": "19.1"} in versions


def test_a_real_item_is_quoted_as_written_in_its_quarantine(
    tmp_path: Path, site_key: SiteKey
) -> None:
    """A lab result of 1.500 in a real item is 1.5: out of its range it is quarantined quoting
    "1.500" as the site wrote it (never 1500, by Spain's '.' grouping, nor '1,5')."""
    path = oc.write(tmp_path / "export", languages="untagged", removed=False)
    text = _as_real_items(path.read_text("utf-8"))
    result_072 = 'ItemOID="I_ANALI_RESULTADO" Value="0.72"'
    assert text.count(result_072) == 1
    path.write_text(text.replace(result_072, result_072.replace("0.72", "-1.500")), "utf-8")
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    bad = [r for r in result.quarantine.to_pylist() if r["table"] == "labs"]
    quoted = [r["value"] for r in bad if r["column"] == "I_ANALI_RESULTADO"]
    assert quoted == ["-1.500"] and {r["reason"] for r in bad} == {"out-of-range"}


# --- finding 2: what OpenClinica keeps after removal is never pooled ---------------------------


@pytest.mark.parametrize(
    ("what", "part", "table"),
    [
        ("the removed patient", "IG_DATOS_DEMOGRAFIA", "subjects"),
        ("a removed event", "IG_RESON_RM", "mri"),
        ("a form marked invalid", "IG_EDSS_EDSS", "edss"),
        ("a removed row of a repeating group", "IG_ACONT_AA", "adverse_events"),
    ],
)
def test_removed_records_are_skipped_with_their_reason(
    tmp_path: Path, site_key: SiteKey, what: str, part: str, table: str
) -> None:
    """Numbers typed as text and untagged code lists, so only the removals are at stake."""
    people = oc.subjects()
    oc.write(tmp_path / "export", numbers="text", languages="untagged")
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    assert skipped(result)[part] == {"removed-in-source": oc.removed_rows(people)[part]}, what
    got = pq.read_table(result.bundle / "tables" / f"{table}.parquet")
    assert got.num_rows == len(oc.pooled(people)[table])
    removed_id = pseudonym(site_key, "es", "ES-MAD-004")
    assert removed_id not in got.column("subject_id").to_pylist()
    assert_pools_exactly(result, people, site_key)


def test_the_extract_carries_openclinicas_removal_flags(tmp_path: Path) -> None:
    """The removed rows are plausible data, marked only as OpenClinica marks them."""
    people = oc.subjects()
    assert oc.removed_rows(people) == {
        "IG_DATOS_DEMOGRAFIA": 1,
        "IG_VISIT_VISITA": 2,
        "IG_RESON_RM": 1,
        "IG_EDSS_EDSS": 2,
        "IG_ACONT_AA": 1,
        "IG_ANALI_ANALITICA": 1,
    }
    text = oc.write(tmp_path / "export").read_text("utf-8")
    assert text.count('OpenClinica:Status="removed"') == 2  # a patient, an event
    assert text.count('OpenClinica:Status="invalid"') == 1
    assert text.count('OpenClinica:Removed="Yes"') == 2


# --- finding 3: code lists decoded in the site's language --------------------------------------


def test_bilingual_code_lists_are_decoded_in_spanish(tmp_path: Path, site_key: SiteKey) -> None:
    """Catalan or English first, Spanish second: the first label is not the site's."""
    people = oc.subjects(removed=False)
    path = oc.write(tmp_path / "export", numbers="text", removed=False)
    assert '<TranslatedText xml:lang="ca">Dona</TranslatedText>' in path.read_text("utf-8")
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    assert pooled_rows(result, "subjects", ["sex"]) == [{"sex": "F"}, {"sex": "F"}, {"sex": "M"}]
    assert_pools_exactly(result, people, site_key)


def test_a_code_list_without_spanish_and_two_languages_stops_the_run(
    tmp_path: Path, site_key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    path = oc.write(tmp_path / "export", numbers="text", removed=False)
    text = path.read_text("utf-8").replace('<TranslatedText xml:lang="es">Mujer', "<X>")
    path.write_text(text.replace("<X>", '<TranslatedText xml:lang="en">Woman'), "utf-8")
    key_file = tmp_path / "es.key"
    key_file.write_text(site_key.secret.hex())
    key_file.chmod(0o600)
    with pytest.raises(SystemExit) as done:
        main(
            [
                "ingest",
                "spain",
                str(tmp_path / "export"),
                "--out",
                str(tmp_path / "b"),
                "--key-file",
                str(key_file),
            ]
        )
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "code list CL_SEXO (item I_DATOS_SEXO) gives code '1' several labels" in err
    assert '(ca "Dona", en "Woman") and no single one in the site\'s language (es)' in err
    assert 'one label per code in es (xml:lang="es")' in err
    assert "Traceback" not in err and not (tmp_path / "b").exists()


def test_a_code_outside_its_code_list_is_quarantined_showing_it_never_emptied(
    tmp_path: Path, site_key: SiteKey
) -> None:
    """The spec: codes not in the list are quarantined. Recovery is optional: its code 7, which
    CL_RECUPERACION lacks, decoded to nothing and the relapse pooled with no recovery, exit 0."""
    path = oc.write(tmp_path / "export", numbers="text", languages="untagged", removed=False)
    text = path.read_text("utf-8")
    written = 'ItemOID="I_BROTE_RECUPERACION" Value="1"'
    assert text.count(written) == 1
    path.write_text(text.replace(written, 'ItemOID="I_BROTE_RECUPERACION" Value="7"'), "utf-8")
    result = run(tmp_path / "export", tmp_path / "bundle", site_key)
    bad = result.quarantine.to_pylist()
    got = [(r["table"], r["column"], r["value"], r["reason"]) for r in bad]
    assert got == [("relapses", "I_BROTE_RECUPERACION@decode", "7", "unknown-code")]
    assert "the export's code list CL_RECUPERACION (item I_BROTE_RECUPERACION" in bad[0]["rule"]
    assert result.exit_code == 1


# --- findings 4 and 5: the published spec says what the adapter does ---------------------------


def _window(row: str, general: int) -> int:
    found = re.search(r"two-digit years (\d{4})–(\d{4})", row)
    return int(found.group(1)) if found else general


def test_every_two_digit_year_window_in_the_spec_is_the_adapters() -> None:
    """The spec's general window (2000–2099) unless a column's row says its own; '98' in a
    conmed start date is 1998, as the adapter reads it, and the spec now says so."""
    spec = SPEC.read_text("utf-8")
    general = int(re.search(r"two-digit years fall in (\d{4})–", spec).group(1))  # type: ignore[union-attr]
    checked = 0
    con = duckdb.connect()
    for tm in SPAIN.tables:
        for name, parser in tm.fields.items():
            start = getattr(getattr(parser, "date", parser), "century_start", "none")
            if start == "none" or parser.source is None:
                continue
            formats = (parser.formats if hasattr(parser, "formats") else None) or (
                SPAIN.locale.date_formats
            )
            if not any("%y" in f for f in formats):
                continue
            row = next(
                line
                for line in spec.splitlines()
                if line.startswith(f"| `{parser.source}` | {name} |")
            )
            window = _window(row, general)
            sql = (
                parser.outputs("d", "'15/3/98'", SPAIN.locale)["d"]
                if isinstance(parser, PartialDate)
                else parser.sql("'15/3/98'", SPAIN.locale)
            )
            year = con.execute(f"SELECT year({sql})").fetchone()[0]  # type: ignore[index]
            assert year == window + (98 - window % 100) % 100, (tm.table, name, row)
            checked += 1
    assert checked == 12
    assert site_markdown(SPAIN, registry.schema()) == spec


def test_the_spec_says_how_numbers_dates_removals_and_languages_are_read() -> None:
    spec = SPEC.read_text("utf-8")
    for promise in (
        "integer and float items, numbers in ODM's form whatever the locale ('.' decimal mark",
        "`.` as decimal mark and no digit grouping (`10.4`, `0.72`, `1500`)",
        "apply only to numbers typed into text items",
        "`OpenClinica:Status` `removed`, `auto-removed` or `invalid`",
        '`OpenClinica:Removed="Yes"`',
        "`removed-in-source`",
        "decoded in language `es` (xml:lang)",
        "partial dates `2014-06` or `2014`",
        "`98` is 1998 there",
    ):
        assert promise in spec, promise
    conmed = next(line for line in spec.splitlines() if "| start_date |" in line)
    assert "two-digit years 1950–2049" in conmed and "yyyy-mm" in conmed
