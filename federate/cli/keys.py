"""``federate keys``: a site's secrets (pseudonym key, signing key pair)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from federate.output import err

keys_app = typer.Typer(
    help="A site's pseudonym key and signing key pair.\n\nExample: federate keys init --site italy",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


AnalystOpt = Annotated[
    bool,
    typer.Option(
        "--analyst",
        help="The analyst's signing key for federated runs (nodes trust it with "
        "--trust-analyst / --trust-unblinded), not a site's keys.",
    ),
]
SiteOpt = Annotated[str | None, typer.Option("--site", help="Registered site name.")]


def _site(site: str | None) -> str:
    if site is None:
        raise _usage("say --site SITE, or --analyst", "no-site")
    from federate.adapters import registry

    registry.adapter(site)
    return site


@keys_app.command("init")
def init(
    site: SiteOpt = None,
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write them (default: the per-user key folder)."),
    ] = None,
    analyst: AnalystOpt = False,
) -> None:
    """Create the site's secret pseudonym key and Ed25519 signing key pair (owner-only).
    Existing keys are never overwritten. Prints the public key for the central team.
    With --analyst: the analyst's signing key instead; prints its public key for the sites.

    Example: federate keys init --site italy
    """
    from federate.bundle.signing import init_keys

    if analyst:
        from federate.federation.keys import init_analyst

        path, public = init_analyst(folder)
        err.print(
            f"analyst signing key: {path} (secret). Public key for the sites (--trust-analyst):"
        )
        sys.stdout.write(public + "\n")
        raise typer.Exit(0)
    site = _site(site)
    pseudo, signing, public = init_keys(site, folder)
    err.print(
        f"pseudonym key: {pseudo}\nsigning key:   {signing}\n"
        "Both are secret and never leave the site. Public key for the central team "
        f"(federate pool trust {site} …):"
    )
    sys.stdout.write(public + "\n")
    raise typer.Exit(0)


@keys_app.command("show")
def show(
    site: SiteOpt = None,
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Signing key file (default: per-user).")
    ] = None,
    analyst: AnalystOpt = False,
) -> None:
    """Print the site's (or with --analyst, the analyst's) public signing key
    (ed25519:BASE64, alone on the last line), never the secret.

    Example: federate keys show --analyst
    """
    from federate.bundle.signing import load_signing_key

    if analyst:
        from federate.federation.keys import load_analyst

        sys.stdout.write(load_analyst(signing_key).public + "\n")
        raise typer.Exit(0)
    site = _site(site)
    sys.stdout.write(load_signing_key(site, signing_key, create=False).public + "\n")
    raise typer.Exit(0)


PassphraseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="Read the passphrase from this owner-only file (for scripts) instead of a prompt.",
    ),
]
KeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="The pseudonym key file (default: $FEDERATE_KEY_FILE, else the per-user key).",
    ),
]
SigningKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--signing-key",
        help="The signing key file (default: $FEDERATE_SIGNING_KEY, else the per-user key).",
    ),
]


@keys_app.command("export")
def export(
    site: Annotated[str, typer.Option("--site", help="Registered site name.")],
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (owner-only).")],
    passphrase_file: PassphraseFileOpt = None,
    key_file: KeyFileOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Write a passphrase-encrypted backup of the site's pseudonym key and signing key.

    Keep the backup and its passphrase apart, both at the site. A lost pseudonym key breaks
    the linkage of every later submission; `federate keys import` restores it.

    Example: federate keys export --site italy --out italy-keys.backup
    """
    from federate.adapters import registry
    from federate.privacy.backup import SiteKeys, seal_keys
    from federate.privacy.keyfiles import write_private

    registry.adapter(site)
    keys = SiteKeys(site, *_read_keys(site, key_file, signing_key))
    data = seal_keys(keys, _passphrase(passphrase_file, confirm=True))
    if out.exists():
        raise _usage(f"{out} exists already; a backup is never overwritten", "backup-exists")
    write_private(out, data)
    err.print(f"wrote the keys of {site} (pseudonym key {keys.pseudonym_key_id}) to {out}")
    raise typer.Exit(0)


@keys_app.command("import")
def import_(
    site: Annotated[str, typer.Option("--site", help="Registered site name.")],
    backup: Annotated[Path, typer.Argument(help="A backup written by federate keys export.")],
    passphrase_file: PassphraseFileOpt = None,
    key_file: KeyFileOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Restore the site's keys from a backup (owner-only). A key already in place is kept
    when it is the same and refused when it differs: keys are never overwritten.

    Example: federate keys import --site italy italy-keys.backup
    """
    from federate.adapters import registry
    from federate.privacy.backup import open_keys, restore

    registry.adapter(site)
    keys = open_keys(backup, site, _passphrase(passphrase_file, confirm=False))
    pseudo, signing = _key_paths(site, key_file, signing_key)
    for line in restore(keys, pseudo, signing):
        err.print(line)
    err.print(f"pseudonym key {keys.pseudonym_key_id} of {site} is in place")
    raise typer.Exit(0)


def _key_paths(site: str, key_file: Path | None, signing_key: Path | None) -> tuple[Path, Path]:
    import os

    from federate.bundle.signing import SIGNING_ENV
    from federate.privacy.keyfiles import default_key_path, signing_key_path
    from federate.privacy.pseudonym import KEY_ENV

    pseudo = key_file or Path(os.environ.get(KEY_ENV) or default_key_path(site))
    signing = signing_key or Path(os.environ.get(SIGNING_ENV) or signing_key_path(site))
    return pseudo, signing


def _read_keys(
    site: str, key_file: Path | None, signing_key: Path | None
) -> tuple[bytes, bytes, str]:
    """The two key files' bytes, each checked as ingest checks it, and the key's fingerprint."""
    from federate.bundle.signing import load_signing_key
    from federate.privacy.pseudonym import load_key

    pseudo, signing = _key_paths(site, key_file, signing_key)
    for path in (pseudo, signing):
        if not path.exists():
            raise _usage(f"{path} does not exist: there is no key to back up", "no-key")
    key = load_key(site, pseudo)
    load_signing_key(site, signing, create=False)
    return pseudo.read_bytes(), signing.read_bytes(), key.key_id


def _passphrase(path: Path | None, *, confirm: bool) -> str:
    if path is not None:
        from federate.privacy.keyfiles import check_private

        if not path.is_file():
            raise _usage(f"passphrase file {path} does not exist", "no-passphrase")
        check_private(path, "passphrase file")
        return path.read_text("utf-8").rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _usage(
            "no terminal to ask the passphrase at: give --passphrase-file FILE", "no-passphrase"
        )
    text: str = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    return text


def _usage(message: str, code: str) -> Exception:
    from federate.errors import UsageError

    return UsageError(message, code=code)
