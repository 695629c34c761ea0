"""What the spec cannot read is refused with exit 2, for every registered site: a required
column left out, a declared file missing, a file that is not of the declared format, and (where
the format has one) another delimiter. The message names the file, holds no traceback, and
nothing is written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from federate.adapters import registry
from federate.cli import main
from tests.conformance.check import site_key
from tests.conformance.exports import Draw, build
from tests.conformance.formats import FORMATS
from tests.conformance.tabular import Layout

SITES = registry.site_names()


def _clean(site: str, root: Path, draw: Draw | None = None) -> Path:
    return build(site, root / "export", draw or Draw(seed=11), site_key(root)).folder


def _first_file(site: str, export: Path) -> Path:
    """The file the patients' table is read from, as written (its case may differ)."""
    name = registry.adapter(site).tables[0].file
    return next(p for p in export.iterdir() if p.name.lower() == name.lower())


def required_column_left_out(site: str, root: Path) -> str:
    _clean(site, root, Draw(layout=Layout(drop_required=True), seed=11))
    return "missing"


def declared_file_missing(site: str, root: Path) -> str:
    path = _first_file(site, _clean(site, root))
    path.unlink()
    return path.name


def not_the_declared_format(site: str, root: Path) -> str:
    path = _first_file(site, _clean(site, root))
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\n\x00\x00")
    return path.name


def another_delimiter(site: str, root: Path) -> str:
    adapter = registry.adapter(site)
    delimiter = "," if getattr(adapter.reader, "delimiter", ",") != "," else ";"
    style = dataclasses.replace(FORMATS[adapter.format].default, delimiter=delimiter)
    _clean(site, root, Draw(style=style, seed=11))
    return registry.adapter(site).tables[0].file


Case = Callable[[str, Path], str]
CASES: dict[str, Case] = {
    "required_column_left_out": required_column_left_out,
    "declared_file_missing": declared_file_missing,
    "not_the_declared_format": not_the_declared_format,
    "another_delimiter": another_delimiter,
}


def _applies(site: str, case: str) -> bool:
    style = FORMATS[registry.adapter(site).format].default
    return case != "another_delimiter" or hasattr(style, "delimiter")


@pytest.mark.parametrize(("site", "case"), [(s, c) for s in SITES for c in CASES if _applies(s, c)])
def test_what_the_spec_cannot_read_is_refused_with_exit_2(
    site: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = CASES[case](site, tmp_path)
    key = tmp_path / "key"
    key.write_text("ab" * 32)
    key.chmod(0o600)
    out = tmp_path / "bundle"
    args = ["ingest", site, str(tmp_path / "export"), "--out", str(out), "--key-file", str(key)]
    with pytest.raises(SystemExit) as done:
        main(args)
    err = capsys.readouterr().err
    assert done.value.code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert named.lower() in " ".join(err.split()).lower(), err
    assert not out.exists()
