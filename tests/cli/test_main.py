"""The command's own conventions: exit codes, errors as JSON with --format json, --version,
and the crash log of an internal error (issue 23, finding 7: it was world-readable and held the
whole command line, SQL included)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import platformdirs
import pytest

from federate import __version__
from federate.query import sandbox
from tests.bundles import cli, json_error

REPO = Path(__file__).resolve().parent.parent.parent
SECRET_SQL = "SELECT 'tell-no-one' AS marker FROM subjects WHERE subject_id = 'it-secret-7'"


def _crash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Path:
    """Run `federate query SECRET_SQL ARGS` with a bug planted in the engine; the log."""

    def bug(sql: str) -> None:
        key = os.environ.get("FEDERATE_KEY_FILE")
        raise RuntimeError(f"planted bug while reading {sql} ({key})\nLINE 1: {sql}\n   ^")

    monkeypatch.setattr(sandbox, "parse_select", bug)
    code, _, err = cli(capsys, "query", SECRET_SQL, *args)
    assert code == 70 and "internal error (RuntimeError)" in err and "Traceback" not in err
    logs = sorted(Path(platformdirs.user_log_dir("federate")).glob("crash-*.log"))
    named = re.search(r"Details:(\S+?\.log)", "".join(err.split()))  # rich may wrap it
    assert named, err
    assert Path(named.group(1)) in logs
    return Path(named.group(1))


def test_a_crash_log_is_owner_only_and_keeps_no_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_path = tmp_path / "keys" / "italy-pseudonym.key"
    folder = Path(platformdirs.user_log_dir("federate"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # left open by an earlier version
    monkeypatch.setenv("FEDERATE_KEY_FILE", str(tmp_path / "env-named.key"))
    log = _crash(monkeypatch, capsys, "--warehouse", str(key_path), "--format", "csv")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert log.stat().st_uid == os.getuid()
    text = log.read_text("utf-8")
    secrets = ("tell-no-one", "it-secret-7", "SELECT", "italy-pseudonym", "env-named")
    for secret in (*secrets, str(key_path), str(tmp_path)):
        assert secret not in text, secret
    # What is kept: the command, the options given, the SQL's SHA-256, the stack.
    first = text.splitlines()[0]
    assert first.startswith("federate query <sha256:")
    assert hashlib.sha256(SECRET_SQL.encode()).hexdigest() in first
    assert "--warehouse" in first and "--format" in first
    assert "RuntimeError: planted bug while reading <sha256:" in text
    assert "federate/cli/query.py" in text


def test_errors_are_json_on_stdout_with_format_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = ["--warehouse", str(tmp_path / "nowhere")]
    cases = [
        (["query", "SELECT 1", *wh, "--format", "json"], 2, "no-warehouse"),
        (["query", "DROP VIEW mri", *wh, "--format=json"], 2, "sql-refused"),
        (["query", "SELECT 1", *wh, "--format", "json", "--no-such-option"], 2, "usage"),
        (["pool", "status", *wh, "--format", "json"], 2, "no-warehouse"),
    ]
    for args, exit_code, code in cases:
        got, out, err = cli(capsys, *args)
        error = json_error(out)  # one JSON object, nothing else on stdout
        assert (got, error["exit_code"], error["code"]) == (exit_code, exit_code, code), args
        assert error["error"] and "Traceback" not in err
    log = _crash(monkeypatch, capsys, *wh, "--format", "json")
    got, out, _ = cli(capsys, "query", SECRET_SQL, *wh, "--format", "json")
    error = json_error(out)
    assert (error["exit_code"], error["code"]) == (70, "internal")
    assert str(log.parent) in error["error"] and "tell-no-one" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--version")
    assert (code, out) == (0, f"federate {__version__}\n")


def test_every_exit_code_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    table = readme[readme.index("### Exit codes") :].split("\n## ")[0]
    from federate.errors import ExitCode

    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", table, re.M), code
    assert json.dumps({"error": "…", "code": "…", "exit_code": 2}, ensure_ascii=False)[:9] in (
        readme
    )
