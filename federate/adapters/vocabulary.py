"""What several site adapters say with the same meaning, said once: the spellings of lab units
and the unit each one means, the windows of two-digit years, the text encodings of Western
European exports, and the shared codes an export may write as they are.

A country's own words, codes and files stay in its adapter, which builds on these the way a
sqlglot dialect builds on its parent: ``SEX = {"femmina": "F", "maschio": "M",
**vocabulary.SEX_CODES}``, with a comment where it adds or differs.
"""

from __future__ import annotations

from federate.adapters.declaration import Spreadsheet

# Text files: tried in order. UTF-8 first, since cp1252 (Windows' Western European code page,
# SAS wlatin1) decodes almost any bytes and would misread UTF-8 accents without a complaint.
UTF8_OR_CP1252 = ("utf-8", "cp1252")

# Two-digit years ("13", "98") fall in the hundred years from a parser's `century_start`: which
# hundred depends on what is dated, and is the same at every site that writes such years.
TRIAL_CENTURY = 2000  # the trial's own dates (visits, from 2012): "13" is 2013
HISTORY_CENTURY = 1950  # before the trial (a diagnosis, an earlier treatment): "98" is 1998

# The shared schema's own sex codes (CDISC SEX's too): an export may write them as they are.
SEX_CODES = {"F": "F", "M": "M"}

# Every spelling of a lab unit the sites' laboratories write, under the canonical spelling of
# the shared schema it means (schemas/codelists.py, LAB_ANALYTES). Lower case: a Code matches
# ignoring case, so "mg/dL" and "mg/dl" are one spelling. µ is the micro sign (U+00B5).
UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "umol/L": ("umol/l", "µmol/l"),
    "mmol/L": ("mmol/l",),
    "mg/dL": ("mg/dl",),
    "g/dL": ("g/dl",),
    "g/L": ("g/l",),
    "U/L": ("u/l", "iu/l", "ui/l"),  # international units: IU in English, UI in Latin languages
    "ukat/L": ("ukat/l", "µkat/l"),
    "10^9/L": ("10^9/l", "x10^9/l"),
    "10^3/uL": ("10^3/ul", "10^3/µl", "x10^3/µl"),
    "/mm3": ("/mm3", "/mm³"),
}
_UNIT_OF = {spelling: unit for unit, spellings in UNIT_SPELLINGS.items() for spelling in spellings}


def lab_units(*spellings: str) -> dict[str, str]:
    """A site's lab unit code list: each of its laboratories' spellings, in the site's order and
    as the site writes it (the simulator writes a unit's first spelling), mapped to the
    canonical unit it means. A spelling the vocabulary lacks is an error: add it above, under
    the unit it means."""
    units: dict[str, str] = {}
    for spelling in spellings:
        unit = _UNIT_OF.get(spelling.strip().lower())
        if unit is None:
            raise ValueError(
                f"lab unit {spelling!r} is not in the shared vocabulary: add it to "
                "UNIT_SPELLINGS in federate/adapters/vocabulary.py, under the unit it means"
            )
        units[spelling] = unit
    return units


# How Excel opens a CSV file where a comma is the decimal mark (Italy, Spain, France, the Nordic
# countries), and where it is a point (the UK): with a byte-order mark, so UTF-8 reads as such.
COMMA_DECIMAL_EXCEL = Spreadsheet(delimiter=";", bom=True)
POINT_DECIMAL_EXCEL = Spreadsheet(delimiter=",", bom=True)
