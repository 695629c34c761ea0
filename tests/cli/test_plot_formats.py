"""--plot writes the figure in the format its name says (PNG, SVG or PDF), or refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from federate.privacy.pseudonym import SiteKey
from federate.warehouse import publish
from tests.bundles import build_bundle, cli

MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plots")
    publish.add(build_bundle(root / "it", SiteKey(bytes(range(32)), root / "k")), root / "wh")
    return root / "wh"


@pytest.mark.parametrize("suffix", sorted(MAGIC))
def test_the_suffix_says_the_format(
    warehouse: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"figure{suffix}"
    args = ("analyses", "run", "completeness", "--warehouse", str(warehouse), "--plot", str(out))
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    assert out.read_bytes().startswith(MAGIC[suffix])


def test_another_suffix_is_refused(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figure.jpg"
    args = ("analyses", "run", "completeness", "--warehouse", str(warehouse), "--plot", str(out))
    code, _, err = cli(capsys, *args)
    assert code == 2 and ".pdf" in err and not out.exists()
