"""The writer of each export format (an adapter's ``format``), and the styles it may draw."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from federate.adapters.declaration import SiteAdapter
from federate.readers.csv import CsvReader
from federate.readers.excel import ExcelReader
from federate.readers.odm import OdmReader
from federate.readers.redcap import RedcapReader
from federate.readers.spss import SpssReader
from tests.conformance.grammar import Grammar
from tests.conformance.tabular import Layout, Sheet, plan_sheets
from tests.conformance.truth import SiteTruth
from tests.conformance.write_csv import CsvStyle, Written, write_csv
from tests.conformance.write_excel import ExcelStyle, write_excel
from tests.conformance.write_odm import KEYS as ODM_KEYS
from tests.conformance.write_odm import OdmStyle, write_odm
from tests.conformance.write_redcap import SYSTEM, RedcapStyle, write_redcap
from tests.conformance.write_sdtm import SdtmStyle, write_sdtm
from tests.conformance.write_spss import SpssStyle, write_spss

Plan = Callable[[SiteAdapter, SiteTruth, Grammar, Layout, random.Random], list[Sheet]]


@dataclass(frozen=True)
class Format:
    plan: Plan
    write: Callable[[SiteAdapter, list[Sheet], Path, Any, Grammar], Written]
    styles: Callable[[SiteAdapter, frozenset[str]], st.SearchStrategy[Any]]
    default: Any
    layout_off: frozenset[str] = frozenset()  # layout dimensions the format cannot have
    # Columns the format itself fills (REDCap's events and groups): never a forbidden value.
    structural: frozenset[str] = frozenset()


def _csv_write(
    adapter: SiteAdapter, sheets: list[Sheet], folder: Path, style: Any, grammar: Grammar
) -> Written:
    assert isinstance(adapter.reader, CsvReader)
    return write_csv(adapter.reader, sheets, folder, style or CsvStyle(), grammar.rng)


def _csv_styles(adapter: SiteAdapter, off: frozenset[str]) -> st.SearchStrategy[CsvStyle]:
    reader = adapter.reader
    assert isinstance(reader, CsvReader)
    encodings = [e for e in reader.encodings if e != "utf-8"] + ["utf-8"]
    if "utf-8" in reader.encodings:
        encodings.append("utf-8-sig")  # UTF-8 with a byte-order mark is UTF-8
    return st.builds(
        CsvStyle,
        encoding=st.sampled_from(encodings),
        newline=st.sampled_from(("\n", "\r\n")),
        quote_all=st.booleans(),
        final_newline=st.booleans(),
        file_case=st.booleans(),
        blank_lines=_flag("blank_lines", off),
        delimiter_lines=_flag("delimiter_lines", off),
    )


def _flag(name: str, off: frozenset[str]) -> st.SearchStrategy[bool]:
    """A dimension drawn freely, or held off while the site is known to fail it."""
    return st.just(False) if name in off else st.booleans()


def _excel_write(
    adapter: SiteAdapter, sheets: list[Sheet], folder: Path, style: Any, grammar: Grammar
) -> Written:
    assert isinstance(adapter.reader, ExcelReader)
    return write_excel(adapter.reader, sheets, folder, style or ExcelStyle(), grammar.rng)


def _excel_styles(adapter: SiteAdapter, off: frozenset[str]) -> st.SearchStrategy[ExcelStyle]:
    flags = ("typed_numbers", "date_cells", "serial_numbers", "title_rows", "blank_rows")
    flags += ("other_sheets", "sheet_case", "partial_date_cells", "month_cells", "datetime_cells")
    return st.builds(
        ExcelStyle,
        engine=st.sampled_from(("openpyxl", "xlsxwriter")),
        **{name: _flag(name, off) for name in flags},
    )


def _spss_write(
    adapter: SiteAdapter, sheets: list[Sheet], folder: Path, style: Any, grammar: Grammar
) -> Written:
    assert isinstance(adapter.reader, SpssReader)
    return write_spss(adapter.reader, sheets, folder, style or SpssStyle(), grammar.rng)


def _spss_styles(adapter: SiteAdapter, off: frozenset[str]) -> st.SearchStrategy[SpssStyle]:
    kinds = ["sav", "zsav", "dta"]
    return st.builds(
        SpssStyle,
        kind=st.sampled_from(kinds),
        **{
            name: _flag(name, off)
            for name in (
                *("extension", "labelled_codes", "user_missing", "date_variables"),
                *("numeric_text", "numbers_as_text"),
            )
        },
    )


def _redcap_write(
    adapter: SiteAdapter, sheets: list[Sheet], folder: Path, style: Any, grammar: Grammar
) -> Written:
    assert isinstance(adapter.reader, RedcapReader)
    return write_redcap(adapter.reader, sheets, folder, style or RedcapStyle(), grammar)


def _redcap_styles(adapter: SiteAdapter, off: frozenset[str]) -> st.SearchStrategy[RedcapStyle]:
    reader = adapter.reader
    assert isinstance(reader, RedcapReader)
    encodings = [*reader.encodings, *(["utf-8-sig"] if "utf-8" in reader.encodings else [])]
    return st.builds(
        RedcapStyle,
        flavour=st.sampled_from(("raw", "label")),
        encoding=st.sampled_from(encodings),
        quote_all=st.booleans(),
        newline=st.sampled_from(("\n", "\r\n")),
        **{n: _flag(n, off) for n in ("unsaved_forms", "redcap_event_labels", "name_case")},
    )


def _odm_write(
    adapter: SiteAdapter, sheets: list[Sheet], folder: Path, style: Any, grammar: Grammar
) -> Written:
    assert isinstance(adapter.reader, OdmReader)
    return write_odm(adapter.reader, sheets, folder, style or OdmStyle(), grammar)


def _odm_styles(adapter: SiteAdapter, off: frozenset[str]) -> st.SearchStrategy[OdmStyle]:
    return st.builds(
        OdmStyle,
        encoding=st.sampled_from(("UTF-8", "ISO-8859-1")),
        **{n: _flag(n, off) for n in ("typed_numbers", "removed", "bilingual")},
    )


def _sdtm_write(
    adapter: SiteAdapter, sheets: list[Sheet], folder: Path, style: Any, grammar: Grammar
) -> Written:
    style = replace(style or SdtmStyle(), selector_case=grammar.knobs.selector_case)
    return write_sdtm(sheets, folder, style, grammar.rng)


def _sdtm_styles(adapter: SiteAdapter, off: frozenset[str]) -> st.SearchStrategy[SdtmStyle]:
    flags = ("csv_files", "other_records", "screen_failure", "screen_failure_records")
    flags += ("define_xml",)
    return st.builds(
        SdtmStyle,
        version=st.sampled_from((5, 8)),
        qualifiers_in_parent=st.booleans(),
        **{n: _flag(n, off) for n in flags},
    )


FORMATS: dict[str, Format] = {
    "csv": Format(plan_sheets, _csv_write, _csv_styles, CsvStyle()),
    "excel": Format(plan_sheets, _excel_write, _excel_styles, ExcelStyle()),
    # SPSS and Stata variable names hold no spaces.
    "spss": Format(
        plan_sheets, _spss_write, _spss_styles, SpssStyle(), frozenset({"header_spaces"})
    ),
    # Item OIDs are identifiers: their case and spaces are not drawn.
    "odm": Format(
        plan_sheets,
        _odm_write,
        _odm_styles,
        OdmStyle(),
        frozenset({"header_case", "header_spaces"}),
        frozenset(ODM_KEYS),
    ),
    # SAS transport names are upper case, without spaces.
    "sdtm": Format(
        plan_sheets,
        _sdtm_write,
        _sdtm_styles,
        SdtmStyle(),
        frozenset({"header_case", "header_spaces"}),
    ),
    # REDCap writes its columns in the dictionary's order; header case is its style's.
    "redcap": Format(
        plan_sheets,
        _redcap_write,
        _redcap_styles,
        RedcapStyle(),
        frozenset({"shuffle", "header_case", "header_spaces"}),
        frozenset(SYSTEM),
    ),
}
