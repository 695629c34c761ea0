"""Headless Chromium, as the reports' readers open them: the DOM after rendering, and every
message the page wrote to its console (a blocked fetch or script is one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


@dataclass(frozen=True)
class Rendered:
    dom: str
    console: list[str]


def chromium() -> str:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is missing: .ci/run installs the Debian package")
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def render(page: Path, *, screenshot: Path | None = None) -> Rendered:
    with tempfile.TemporaryDirectory() as profile:
        args = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=3000",
        ]  # fmt: skip
        if screenshot is not None:
            args += ["--window-size=1280,2400", f"--screenshot={screenshot}"]
        else:
            args.append("--dump-dom")
        done = subprocess.run(
            [*args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(done.stdout, console)
