"""Docs are held to account: generated documents are current, every command has help."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from federate.adapters import registry
from federate.adapters.docs import schema_markdown, site_markdown
from federate.cli import app
from tests.conftest import REPO

runner = CliRunner()


@pytest.mark.parametrize("site", registry.site_names())
def test_site_docs_are_current(site: str) -> None:
    path = REPO / "docs" / "sites" / f"{site}.md"
    expected = site_markdown(registry.adapter(site), registry.schema())
    assert path.read_text("utf-8") == expected, f"regenerate: federate sites show {site} > {path}"


def test_schema_docs_are_current() -> None:
    assert (REPO / "docs" / "schema.md").read_text("utf-8") == schema_markdown(registry.schema())


def commands() -> list[list[str]]:
    found = [[]]
    result = runner.invoke(app, ["--help"])
    for name in re.findall(r"│ (\w[\w-]*) +\S", result.output):
        found.append([name])
        sub = runner.invoke(app, [name, "--help"])
        if "Commands" in sub.output:
            found += [
                [name, s]
                for s in re.findall(r"│ (\w[\w-]*) +\S", sub.output.split("Commands", 1)[1])
            ]
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    found = commands()
    assert len(found) >= 8
    for words in found:
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0, words
        assert "Usage" in result.output
        if words:
            assert f"federate {' '.join(words)}" in readme, f"README lacks `federate {words}`"


def test_schema_docs_html_has_every_table() -> None:
    result = runner.invoke(app, ["schema", "docs", "--format", "html"])
    assert result.exit_code == 0
    assert result.output.count("<table>") == len(registry.schema().tables)
    for table in registry.schema():
        assert f"<code>{table.name}</code>" in result.output
    assert "<script" not in result.output


def test_site_docs_name_every_file_and_dropped_identifier() -> None:
    for site in registry.site_names():
        adapter = registry.adapter(site)
        text = site_markdown(adapter, registry.schema())
        for tm in adapter.tables:
            assert f"`{tm.file}`" in text
            for column in (*tm.source_columns(), *tm.dropped):
                assert f"`{column}`" in text
