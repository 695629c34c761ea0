"""The central warehouse: verified site submissions, published atomically.

    WH/
      catalog.json                        the only thing readers follow: the current submission
                                          per site, every kept submission, the publish history
      submissions/<site>/<submission_id>/ a verified copy of each bundle, never changed again
      blinded/<site>/<submission_id>/     its tables without restricted columns: all that the
                                          blinded role reads (federate.warehouse.blind)
      audit.jsonl, audit.head             the hash-chained log and its head (warehouse.audit)
      trust.json                          the signing key trusted for each site
      .staging/                           copies being made (ignored, cleaned by the next command)
      .lock                               flock held by every pool command that writes

A submission is copied into ``.staging``, fsync'd, verified again, its blinded copy written
beside it; an intent entry is logged, both copies are renamed into place, and only then is
``catalog.json`` replaced (temp file, fsync, os.replace, fsync the folder), followed by a commit
entry holding the new state (federate.warehouse.journal). A crash at any point leaves readers on
the previous catalog or the whole new one, and the next pool command logs which. Verification
of the whole warehouse is federate.warehouse.verify; the shrink guard, federate.warehouse.shrink.
"""

from __future__ import annotations

import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from federate.adapters import registry
from federate.bundle.manifest import (
    MANIFEST,
    SIGNATURE,
    read_manifest,
    sha256_file,
    table_path,
    verify,
)
from federate.bundle.signing import fingerprint
from federate.errors import ExitCode, FederateError, IntegrityError, Location, UsageError
from federate.privacy.gate import recheck_bundle
from federate.warehouse import audit, freeze, journal
from federate.warehouse.blind import current_blinded_files, verify_blinded, write_blinded
from federate.warehouse.catalog import (
    BLINDED,
    CATALOG,
    LOCK,
    STAGING,
    SUBMISSIONS,
    Catalog,
    Event,
    Submission,
    check_site,
    current_table_files,
    read_catalog,
    write_catalog,
)
from federate.warehouse.fs import copy_durably, crash_point, fsync_dir, locked, remove_tree
from federate.warehouse.shrink import check_shrink
from federate.warehouse.trust import check_signed, read_signature, set_trust

__all__ = [
    "BLINDED",
    "CATALOG",
    "LOCK",
    "STAGING",
    "SUBMISSIONS",
    "Catalog",
    "Event",
    "Submission",
    "add",
    "check_site",
    "current_blinded_files",
    "current_table_files",
    "read_catalog",
    "rollback",
    "trust",
]

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def add(
    bundle: Path, warehouse: Path, *, operator: str | None = None, allow_shrink: bool = False
) -> Event:
    """Verify ``bundle`` and publish it as its site's current submission. A refusal is
    recorded in the audit log of an existing warehouse, which is otherwise left as it was.
    ``allow_shrink`` lets through a bundle that would shrink its site sharply (logged)."""
    who = audit.accountable(operator)
    try:
        return _add(bundle, warehouse, who, allow_shrink)
    except FederateError as exc:
        if exc.exit_code == ExitCode.REFUSED and (warehouse / CATALOG).exists():
            with locked(warehouse / LOCK):
                audit.append(
                    warehouse,
                    operator=who,
                    action="add",
                    site=_claimed_site(bundle),
                    submission_id=_claimed_id(bundle),
                    manifest_sha256=_sha(bundle),
                    outcome="refused",
                    reason=f"{exc.code}: {exc}",
                )
        raise


def _add(bundle: Path, warehouse: Path, who: str, allow_shrink: bool) -> Event:
    bundle = bundle.absolute()
    manifest = _verify_bundle(bundle, warehouse)
    site, submission_id = manifest["site"], manifest["submission_id"]
    warehouse.mkdir(parents=True, exist_ok=True)
    with locked(warehouse / LOCK):
        journal.recover(warehouse, who)  # settle a crashed add first, and clean what it left
        freeze.refuse_if_locked(warehouse, "pool add")
        catalog = read_catalog(warehouse)
        _check_new(catalog, manifest)
        notes = [check_shrink(catalog, manifest, allow_shrink)]
        notes.append(_key_change(warehouse, catalog, manifest))
        note = "; ".join(n for n in notes if n)
        places = _Places.of(warehouse, site, submission_id)
        intent: journal.Entry | None = None
        try:
            sub, pin = _stage(bundle, manifest, places, warehouse)
            intent = journal.begin(warehouse, "add", sub, who, note)
            _move_into_place(places, warehouse)
            event = _record(warehouse, catalog, sub, pin, who, intent, note)
        except BaseException as exc:
            # Not published: undo our own folders (a killed process leaves them to the next add).
            if not _is_published(warehouse, submission_id):
                for path in (places.stage, places.dest, places.blind_stage, places.blind_dest):
                    remove_tree(path)
                if intent is not None:
                    journal.abort(warehouse, intent, who, f"failed, not published: {exc!r}")
            raise
    return event


@dataclass(frozen=True)
class _Places:
    """Where one add stages a submission and its blinded copy, and where it publishes them."""

    relpath: str  # the submission's folder, relative to the warehouse
    dest: Path
    stage: Path
    blind_stage: Path
    blind_dest: Path

    @classmethod
    def of(cls, warehouse: Path, site: str, submission_id: str) -> _Places:
        relpath = f"{SUBMISSIONS}/{site}/{submission_id}"
        stage = warehouse / STAGING / f"{submission_id}.{uuid.uuid4().hex[:8]}"
        return cls(
            relpath=relpath,
            dest=warehouse / relpath,
            stage=stage,
            blind_stage=stage.with_name(stage.name + ".blinded"),
            blind_dest=warehouse / BLINDED / site / submission_id,
        )


def _verify_bundle(bundle: Path, warehouse: Path) -> dict[str, Any]:
    """Step 1, before anything is written or locked: the bundle verifies and carries a
    signature, and ``warehouse`` is a warehouse (or not there yet). Returns its manifest."""
    if not bundle.is_dir():
        raise UsageError(f"{bundle} is not a bundle: not a folder", code="not-a-bundle")
    manifest = _verified(bundle)
    read_signature(bundle)  # unsigned: refused before anything is copied
    if warehouse.exists():
        read_catalog(warehouse)  # refuse a path that is not a warehouse before writing anything
    return manifest


def _check_new(catalog: Catalog, manifest: dict[str, Any]) -> None:
    """The submission is not in the warehouse yet, nor older than its site's current one."""
    site, submission_id = manifest["site"], manifest["submission_id"]
    if submission_id in catalog.submissions:
        raise IntegrityError(
            f"submission {submission_id} is already in the warehouse (to make it current "
            f"again: federate pool rollback {site} --to {submission_id})",
            code="duplicate-submission",
        )
    _check_not_older(catalog, site, manifest)


def _stage(
    bundle: Path, manifest: dict[str, Any], places: _Places, warehouse: Path
) -> tuple[Submission, str | None]:
    """Step 2: copy the bundle into staging, verify the copy, write its blinded copy beside it.
    Returns the submission to publish and the site's signing key if it is to be pinned (the
    site's first bundle)."""
    site, submission_id = manifest["site"], manifest["submission_id"]
    copy_durably(bundle, places.stage, [MANIFEST, SIGNATURE, *manifest["files"]])
    crash_point("staged")
    manifest = _verified(places.stage)  # the copy is what gets published: check the copy
    pin = check_signed(places.stage, site, warehouse)
    _check_rows(places.stage, manifest)
    # The site's scan is not taken on trust: a signed bundle is scanned again here.
    with duckdb.connect(":memory:") as con:
        recheck_bundle(con, places.stage, registry.schema(), manifest)
    blinded_sha256 = write_blinded(places.stage, places.blind_stage, list(manifest["tables"]))
    sub = Submission(
        submission_id=submission_id,
        site=site,
        path=places.relpath,
        manifest_sha256=sha256_file(places.stage / MANIFEST),
        rows={t: int(info["rows"]) for t, info in manifest["tables"].items()},
        created_utc=str(manifest.get("created_utc", "")),
        ingest_operator=str(manifest.get("operator", "")),
        blinded_sha256=blinded_sha256,
    )
    return sub, pin


def _move_into_place(places: _Places, warehouse: Path) -> None:
    """Step 3: rename both staged copies into place. Readers do not see them until the catalog
    names them (step 4)."""
    for src, to in ((places.stage, places.dest), (places.blind_stage, places.blind_dest)):
        to.parent.mkdir(parents=True, exist_ok=True)
        src.rename(to)
        for folder in (to.parent, to.parent.parent, warehouse, src.parent):
            fsync_dir(folder)  # the rename and any folder made for it
    crash_point("renamed")


def _key_change(warehouse: Path, catalog: Catalog, manifest: dict[str, Any]) -> str:
    """Warn, loudly, when the site's pseudonym key differs from its current submission's: its
    patients will not link to the earlier submissions'. Returns the note for the audit log."""
    site, current = manifest["site"], catalog.current.get(manifest["site"])
    if current is None:
        return ""
    before = read_manifest(warehouse / catalog.submissions[current].path).get("pseudonym_key_id")
    after = manifest.get("pseudonym_key_id")
    if before == after:
        return ""
    note = f"pseudonym key changed since {current} ({before} -> {after})"
    print(
        f"federate: WARNING: {site}'s {note}. Its patients get new pseudonyms and will NOT "
        "link to its earlier submissions. If the key was lost, restore it (federate keys "
        "import) and ingest again; if it was changed on purpose, every earlier submission "
        "of the site must be ingested again with the new key.",
        file=sys.stderr,
    )
    return note


def _record(
    warehouse: Path,
    catalog: Catalog,
    sub: Submission,
    pin: str | None,
    who: str,
    intent: journal.Entry,
    note: str,
) -> Event:
    """Step 4: pin a first bundle's key, replace the catalog (the one write that publishes; its
    event names the intent entry), then log the commit with the new state."""
    if pin:
        set_trust(warehouse, sub.site, pin, "pinned from the site's first bundle")
        print(
            f"federate: first bundle from {sub.site}: its signing key {fingerprint(pin)} "
            "is now trusted for it (pinned; see federate pool trust)",
            file=sys.stderr,
        )
        audit.append(
            warehouse,
            operator=who,
            action="trust",
            site=sub.site,
            submission_id=sub.submission_id,
            manifest_sha256=sub.manifest_sha256,
            outcome="ok",
            reason=f"pinned key {fingerprint(pin)} on first use",
        )
    new, event = catalog.publish(sub, "add", who, intent["hash"])
    write_catalog(warehouse, new)
    journal.commit(warehouse, intent, who, new, note)
    return event


def rollback(site: str, to: str, warehouse: Path, *, operator: str | None = None) -> Event:
    """Make an earlier kept submission the site's current one again (recorded in history)."""
    who = audit.accountable(operator)
    read_catalog(warehouse)  # a warehouse at all, before the lock file is made in it
    with locked(warehouse / LOCK):
        journal.recover(warehouse, who)
        freeze.refuse_if_locked(warehouse, "pool rollback")
        catalog = read_catalog(warehouse)
        check_site(site, catalog)
        sub = catalog.submissions.get(to)
        if sub is None or sub.site != site:
            kept = ", ".join(e.submission_id for e in catalog.site_history(site)) or "none"
            raise UsageError(
                f"{site} has no kept submission {to!r} (kept: {kept})", code="unknown-submission"
            )
        if catalog.current.get(site) == to:
            raise UsageError(f"{to} is already {site}'s current submission", code="already-current")
        manifest = _verified(warehouse / sub.path)
        if sha256_file(warehouse / sub.path / MANIFEST) != sub.manifest_sha256:
            raise IntegrityError(
                f"submission {to} changed since it was published",
                code="warehouse-tampered",
                where=Location(file=f"{sub.path}/{MANIFEST}"),
            )
        _check_rows(warehouse / sub.path, manifest)
        check_signed(warehouse / sub.path, site, warehouse)
        verify_blinded(warehouse / sub.blinded_path, sub.blinded_sha256, sub.blinded_path)
        note = f"was {catalog.current.get(site)}"
        intent = journal.begin(warehouse, "rollback", sub, who, note)
        new, event = catalog.publish(sub, "rollback", who, intent["hash"])
        write_catalog(warehouse, new)
        journal.commit(warehouse, intent, who, new, note)
    return event


def _check_not_older(catalog: Catalog, site: str, manifest: dict[str, Any]) -> None:
    """A replayed older bundle is refused; going back is what rollback is for."""
    current = catalog.current.get(site)
    if current is None:
        return
    in_place = catalog.submissions[current].created_utc
    made = str(manifest.get("created_utc", ""))
    if made < in_place:
        raise IntegrityError(
            f"bundle {manifest['submission_id']} was made {made}, before the submission in place "
            f"({current}, {in_place}); to go back use federate pool rollback",
            code="older-bundle",
        )


def trust(site: str, public: str, warehouse: Path, *, operator: str | None = None) -> None:
    """Trust ``public`` for ``site`` from now on (recorded in the audit log)."""
    registry.adapter(site)
    warehouse.mkdir(parents=True, exist_ok=True)
    if not (warehouse / CATALOG).exists():
        write_catalog(warehouse, read_catalog(warehouse))
    who = audit.accountable(operator)
    with locked(warehouse / LOCK):
        journal.recover(warehouse, who)
        set_trust(warehouse, site, public, "set by an operator")
        audit.append(
            warehouse,
            operator=who,
            action="trust",
            site=site,
            submission_id="",
            manifest_sha256="",
            outcome="ok",
            reason=f"trusted key {fingerprint(public)}",
        )


def _claimed_site(bundle: Path) -> str:
    try:
        return str(read_manifest(bundle).get("site", ""))
    except Exception:
        return ""


def _claimed_id(bundle: Path) -> str:
    try:
        return str(read_manifest(bundle).get("submission_id", ""))
    except Exception:
        return ""


def _sha(bundle: Path) -> str:
    path = bundle / MANIFEST
    return sha256_file(path) if path.is_file() else ""


def _is_published(warehouse: Path, submission_id: str) -> bool:
    """Whether catalog.json on disk lists the submission; if in doubt, say yes (keep files)."""
    try:
        return submission_id in read_catalog(warehouse).submissions
    except Exception:
        return True


def _verified(bundle: Path) -> dict[str, Any]:
    """bundle.verify, plus what the warehouse relies on; any malformed input is a refusal."""
    schema = registry.schema()
    try:
        manifest = verify(bundle, schema)  # nothing parsed before the signature (bundle.contents)
        _check_manifest(manifest, {t.name for t in schema})
    except (KeyError, TypeError, AttributeError, ValueError, OSError, pa.ArrowException) as exc:
        raise IntegrityError(
            f"bundle {bundle} is malformed: {type(exc).__name__}: {exc}", code="bad-bundle"
        ) from None
    return manifest


def _check_manifest(manifest: dict[str, Any], known: set[str]) -> None:
    site, submission_id = manifest["site"], manifest["submission_id"]
    for label, value in (("site", site), ("submission_id", submission_id)):
        if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
            raise IntegrityError(f"manifest {label} {value!r} is not a safe name", code="bad-id")
    if site not in registry.site_names():
        raise IntegrityError(f"bundle site {site!r} is not a registered site", code="unknown-site")
    files: dict[str, str] = manifest["files"]
    for name, info in manifest["tables"].items():
        expected = table_path(Path(), name).as_posix()
        if name not in known or info["file"] != expected or expected not in files:
            raise IntegrityError(
                f"manifest lists table {name!r} as {info['file']!r}",
                code="bad-manifest",
                where=Location(file=MANIFEST),
            )
        int(info["rows"])


def _check_rows(bundle: Path, manifest: dict[str, Any]) -> None:
    """Every row must carry the manifest's site and submission_id (one DuckDB scan per table)."""
    con = duckdb.connect(":memory:")
    for table in manifest["tables"]:
        rel = table_path(Path(), table).as_posix()
        try:
            bad_site, bad_sub = con.execute(
                "SELECT count(*) FILTER (WHERE site IS DISTINCT FROM $site), "
                "count(*) FILTER (WHERE submission_id IS DISTINCT FROM $sub) "
                "FROM read_parquet($path)",
                {
                    "site": manifest["site"],
                    "sub": manifest["submission_id"],
                    "path": str(bundle / rel),
                },
            ).fetchall()[0]
        except duckdb.Error as exc:
            raise IntegrityError(
                f"table {table} cannot be read: {exc}", code="bad-bundle", where=Location(file=rel)
            ) from None
        for count, column, want in (
            (bad_site, "site", manifest["site"]),
            (bad_sub, "submission_id", manifest["submission_id"]),
        ):
            if count:
                raise IntegrityError(
                    f"{count} row(s) of table {table} have {column} other than the "
                    f"manifest's {want!r}",
                    code="foreign-rows",
                    where=Location(file=rel, column=column),
                )
