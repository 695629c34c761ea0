"""Shared fixtures. The real-world corpus is read where it lies (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from federate.privacy.pseudonym import SiteKey

REPO = Path(__file__).resolve().parent.parent


def corpus_root() -> Path:
    return Path(os.environ.get("FEDERATE_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(autouse=True, scope="session")
def private_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keys made on first use, and crash logs, go to a throwaway home, not the tester's."""
    home = tmp_path_factory.mktemp("home")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_STATE_HOME"] = str(home / "state")


@pytest.fixture(scope="session")
def corpus() -> Path:
    root = corpus_root()
    if not root.is_dir():
        pytest.fail(f"the shared corpus is missing at {root} (set FEDERATE_CORPUS)")
    return root


@pytest.fixture
def site_key(tmp_path: Path) -> SiteKey:
    return SiteKey(bytes(range(32)), tmp_path / "site.key")
