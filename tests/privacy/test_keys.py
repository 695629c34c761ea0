"""Keys kept safe (issue 22): every key file's permissions checked, no message echoes what
could be a key, an encrypted backup that restores the same pseudonyms, a loud warning when a
site's pseudonym key changes, and the account that ran a command in the log."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from federate.errors import InputError, Location, UsageError
from federate.privacy.pseudonym import SiteKey, load_key, pseudonym
from federate.query.roles import record_unblinded
from federate.warehouse import audit
from tests.bundles import build_bundle, cli
from tests.italy_export import write_italy_export

PASSPHRASE = "correct horse battery staple"


def _owner_only(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A site's two keys, made by `federate keys init`."""
    folder = tmp_path / "keys"
    code, _, _ = cli(capsys, "keys", "init", "--site", "italy", "--dir", str(folder))
    assert code == 0
    return folder / "italy.key", folder / "italy.signing.pem"


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o660, 0o604])
def test_a_pseudonym_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    key = _owner_only(tmp_path / "site.key", bytes(range(32)).hex())
    key.chmod(mode)
    with pytest.raises(UsageError, match="chmod 600") as exc:
        load_key("italy", key)
    assert exc.value.code == "key-permissions"


def test_ingest_with_a_key_readable_by_others_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _owner_only(tmp_path / "site.key", bytes(range(32)).hex())
    key.chmod(0o644)
    export = write_italy_export(tmp_path / "export")
    out = tmp_path / "bundle"
    code, _, err = cli(
        capsys, "ingest", "italy", str(export), "--out", str(out), "--key-file", str(key)
    )
    assert code == 2
    assert "readable by others" in err
    assert not out.exists()


def test_no_error_message_echoes_what_could_be_a_key() -> None:
    """A reader names the columns it did not expect: a key file read as an export would show
    its key as a "column". Every message and location is redacted where it is made."""
    secret = bytes(range(100, 132)).hex()
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIH1ol\n-----END PRIVATE KEY-----"
    error = InputError(
        f"column {secret!r} is not a field of the dictionary; {pem}",
        where=Location(file="data.csv", row=1, column=secret, value=pem),
    )
    text = str(error)
    assert secret not in text and "MC4CAQ" not in text
    assert "data.csv" in text and "row 1" in text
    # What is not a secret stays: fingerprints (16 hex), paths, pseudonyms.
    kept = "key 0123456789abcdef at /tmp/pytest-of-x/test_long_name0/export/data.csv"
    assert str(InputError(kept)) == kept


def test_a_key_file_given_as_an_export_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = bytes(range(100, 132)).hex()
    export = write_italy_export(tmp_path / "export")
    (export / "pazienti.csv").write_text(secret + "\n")  # the key where the patients belong
    key = _owner_only(tmp_path / "site.key", bytes(range(32)).hex())
    code, out, err = cli(
        capsys,
        "ingest",
        "italy",
        str(export),
        "--out",
        str(tmp_path / "bundle"),
        "--key-file",
        str(key),
    )
    assert code == 2
    assert secret not in out + err
    assert secret[:32] not in "".join((out + err).split())


def test_backup_restores_the_same_keys_and_pseudonyms(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pseudo, signing = keys
    before = pseudonym(load_key("italy", pseudo), "it", "000123")
    _, public_before, _ = cli(
        capsys, "keys", "show", "--site", "italy", "--signing-key", str(signing)
    )
    phrase = _owner_only(tmp_path / "phrase.txt", PASSPHRASE + "\n")
    backup = tmp_path / "italy.backup"
    code, _, _ = cli(
        capsys,
        "keys",
        "export",
        "--site",
        "italy",
        "--out",
        str(backup),
        "--passphrase-file",
        str(phrase),
        "--key-file",
        str(pseudo),
        "--signing-key",
        str(signing),
    )
    assert code == 0
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert pseudo.read_text().strip() not in backup.read_text()  # encrypted, not copied
    # The keys are lost; the backup brings them back, elsewhere.
    new_pseudo, new_signing = tmp_path / "new" / "italy.key", tmp_path / "new" / "s.pem"
    code, _, err = cli(
        capsys,
        "keys",
        "import",
        "--site",
        "italy",
        str(backup),
        "--passphrase-file",
        str(phrase),
        "--key-file",
        str(new_pseudo),
        "--signing-key",
        str(new_signing),
    )
    assert code == 0, err
    assert pseudonym(load_key("italy", new_pseudo), "it", "000123") == before
    _, public_after, _ = cli(
        capsys, "keys", "show", "--site", "italy", "--signing-key", str(new_signing)
    )
    assert public_after == public_before
    for path in (new_pseudo, new_signing):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_backup_refuses_a_wrong_passphrase_another_site_and_a_different_key_in_place(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pseudo, signing = keys
    phrase = _owner_only(tmp_path / "phrase.txt", PASSPHRASE)
    backup = tmp_path / "italy.backup"
    assert (
        cli(
            capsys,
            "keys",
            "export",
            "--site",
            "italy",
            "--out",
            str(backup),
            "--passphrase-file",
            str(phrase),
            "--key-file",
            str(pseudo),
            "--signing-key",
            str(signing),
        )[0]
        == 0
    )
    wrong = _owner_only(tmp_path / "wrong.txt", "not the passphrase at all")
    code, _, err = cli(
        capsys,
        "keys",
        "import",
        "--site",
        "italy",
        str(backup),
        "--passphrase-file",
        str(wrong),
        "--key-file",
        str(tmp_path / "a.key"),
        "--signing-key",
        str(tmp_path / "a.pem"),
    )
    assert (code, "wrong passphrase" in err) == (2, True)
    code, _, err = cli(
        capsys, "keys", "import", "--site", "spain", str(backup), "--passphrase-file", str(phrase)
    )
    assert (code, "not 'spain'" in err) == (2, True)
    other = _owner_only(tmp_path / "other.key", bytes(range(1, 33)).hex())
    code, _, err = cli(
        capsys,
        "keys",
        "import",
        "--site",
        "italy",
        str(backup),
        "--passphrase-file",
        str(phrase),
        "--key-file",
        str(other),
        "--signing-key",
        str(signing),
    )
    assert (code, "never overwritten" in err) == (2, True)
    assert other.read_text() == bytes(range(1, 33)).hex()


def test_a_short_passphrase_or_one_readable_by_others_is_refused(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pseudo, signing = keys
    short = _owner_only(tmp_path / "short.txt", "abc")
    code, _, err = cli(
        capsys,
        "keys",
        "export",
        "--site",
        "italy",
        "--out",
        str(tmp_path / "b"),
        "--passphrase-file",
        str(short),
        "--key-file",
        str(pseudo),
        "--signing-key",
        str(signing),
    )
    assert (code, "at least 12" in err) == (2, True)
    shared = _owner_only(tmp_path / "shared.txt", PASSPHRASE)
    shared.chmod(0o644)
    code, _, err = cli(
        capsys,
        "keys",
        "export",
        "--site",
        "italy",
        "--out",
        str(tmp_path / "b"),
        "--passphrase-file",
        str(shared),
        "--key-file",
        str(pseudo),
        "--signing-key",
        str(signing),
    )
    assert (code, "readable by others" in err) == (2, True)
    assert not (tmp_path / "b").exists()


def test_pool_add_warns_when_a_sites_pseudonym_key_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = tmp_path / "wh"
    first = build_bundle(tmp_path / "a", SiteKey(bytes(range(32)), tmp_path / "k1"))
    second = build_bundle(tmp_path / "b", SiteKey(bytes(range(1, 33)), tmp_path / "k2"))
    assert cli(capsys, "pool", "add", str(first), "--warehouse", str(wh))[0] == 0
    code, _, err = cli(capsys, "pool", "add", str(second), "--warehouse", str(wh))
    assert code == 0
    assert "WARNING" in err and "will NOT" in " ".join(err.split())
    entry = audit.read_entries(wh)[-1]
    assert entry["action"] == "add" and "pseudonym key changed" in entry["reason"]


def test_the_log_records_the_account_and_only_adds_the_operator_given(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    first = build_bundle(tmp_path / "a", SiteKey(bytes(range(32)), tmp_path / "k1"))
    from federate.warehouse.publish import add

    add(first, wh)
    record_unblinded(wh, "DSMB review", operator="Someone Else")
    entry = audit.read_entries(wh)[-1]
    account = os.environ.get("USER") or entry["operator"].split(" ")[0]
    assert entry["operator"].startswith(account)
    assert entry["operator"].endswith("(as Someone Else)")
    assert json.dumps(entry).count("Someone Else") == 1
