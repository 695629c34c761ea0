"""The warehouse catalog: the one file readers follow (layout: federate.warehouse.publish).

It names each site's current submission, every kept submission and the full, append-only
history of publishes, and is only ever replaced whole (federate.warehouse.fs.write_json_atomic).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from federate.bundle.manifest import MANIFEST, sha256_file, table_path
from federate.errors import IntegrityError, Location, UsageError
from federate.warehouse.fs import write_json_atomic

# federate.adapters.registry (the schema, pandera) is imported in the functions that need it: the
# command line imports this module, through federate.query.roles, only to build its options.

CATALOG = "catalog.json"
SUBMISSIONS = "submissions"
BLINDED = "blinded"  # every table without restricted columns (federate.warehouse.blind)
STAGING = ".staging"
LOCK = ".lock"
CATALOG_FORMAT = "federate-warehouse"
CATALOG_VERSION = 1
# Our own names: a folder holding only these is a warehouse (perhaps left by a crashed add).
_OWN_NAMES = {CATALOG, SUBMISSIONS, BLINDED, STAGING, LOCK}
_OWN_NAMES |= {"audit.jsonl", "audit.head", "trust.json"}
CATALOG_TMP = f".{CATALOG}.tmp-"  # write_json_atomic's temp file, left by a kill

Action = Literal["add", "rollback"]


@dataclass(frozen=True)
class Submission:
    """A kept copy of one bundle."""

    submission_id: str
    site: str
    path: str  # relative to the warehouse
    manifest_sha256: str
    rows: dict[str, int]
    created_utc: str  # when the site made the bundle
    ingest_operator: str
    blinded_sha256: str = ""  # index of the blinded copy (BLINDED/<site>/<submission_id>)

    @property
    def blinded_path(self) -> str:
        return f"{BLINDED}/{self.site}/{self.submission_id}"


@dataclass(frozen=True)
class Event:
    """One publish: an add or a rollback; the history only ever grows."""

    seq: int
    action: Action
    site: str
    submission_id: str
    time_utc: str
    operator: str
    rows: dict[str, int]
    manifest_sha256: str
    previous: str | None  # the site's current submission before this event
    log_head: str = ""  # the audit log's head hash once this publish was logged


@dataclass(frozen=True)
class Catalog:
    schema: dict[str, str]
    current: dict[str, str] = field(default_factory=dict)
    submissions: dict[str, Submission] = field(default_factory=dict)
    history: list[Event] = field(default_factory=list)

    def current_submissions(self) -> list[Submission]:
        return [self.submissions[sid] for _, sid in sorted(self.current.items())]

    def site_history(self, site: str) -> list[Event]:
        return [e for e in self.history if e.site == site]

    def publish(
        self, sub: Submission, action: Action, operator: str, log_head: str = ""
    ) -> tuple[Catalog, Event]:
        event = Event(
            seq=len(self.history) + 1,
            action=action,
            site=sub.site,
            submission_id=sub.submission_id,
            time_utc=_now(),
            operator=operator,
            rows=dict(sub.rows),
            manifest_sha256=sub.manifest_sha256,
            previous=self.current.get(sub.site),
            log_head=log_head,
        )
        new = replace(
            self,
            current={**self.current, sub.site: sub.submission_id},
            submissions={**self.submissions, sub.submission_id: sub},
            history=[*self.history, event],
        )
        return new, event

    def to_json(self) -> dict[str, Any]:
        return {"format": CATALOG_FORMAT, "version": CATALOG_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalog:
        if data.get("format") != CATALOG_FORMAT or data.get("version") != CATALOG_VERSION:
            raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
        return cls(
            schema=dict(data["schema"]),
            current=dict(data["current"]),
            submissions={k: Submission(**v) for k, v in data["submissions"].items()},
            history=[Event(**e) for e in data["history"]],
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _empty_catalog() -> Catalog:
    from federate.adapters import registry

    schema = registry.schema()
    return Catalog(schema={"name": schema.name, "version": schema.version})


def read_catalog(warehouse: Path) -> Catalog:
    """The published state; an empty catalog for a new (or never published) warehouse."""
    if not warehouse.is_dir():
        problem = "is not a folder" if warehouse.exists() else "does not exist"
        raise UsageError(f"warehouse {warehouse} {problem}", code="no-warehouse")
    path = warehouse / CATALOG
    if not path.exists():
        _check_is_warehouse(warehouse)
        return _empty_catalog()
    try:
        catalog = Catalog.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"{path} cannot be read: {exc}", code="bad-catalog") from None
    ours = _empty_catalog().schema
    if catalog.schema != ours:
        raise IntegrityError(
            f"the warehouse holds schema {catalog.schema}, this tool reads {ours}",
            code="schema-version",
        )
    return catalog


def check_site(site: str, catalog: Catalog) -> None:
    """A registered site (or one the warehouse holds), else a did-you-mean usage error."""
    if site not in catalog.current:
        from federate.adapters import registry

        registry.adapter(site)


def _check_is_warehouse(warehouse: Path) -> None:
    strangers = sorted(
        p.name
        for p in warehouse.iterdir()
        if p.name not in _OWN_NAMES and not p.name.startswith(CATALOG_TMP)
    )
    if strangers:
        raise UsageError(
            f"{warehouse} is not a warehouse: it has no {CATALOG} and holds other files "
            f"({', '.join(strangers[:5])})",
            code="not-a-warehouse",
        )


def current_table_files(warehouse: Path, catalog: Catalog | None = None) -> dict[str, list[Path]]:
    """Per shared table, the Parquet files of every site's current submission."""
    from federate.adapters import registry

    catalog = catalog or read_catalog(warehouse)
    files: dict[str, list[Path]] = {t.name: [] for t in registry.schema()}
    for sub in catalog.current_submissions():
        folder = warehouse / sub.path
        manifest = folder / MANIFEST
        if not manifest.is_file() or sha256_file(manifest) != sub.manifest_sha256:
            raise IntegrityError(
                f"submission {sub.submission_id} changed or vanished since it was published",
                code="warehouse-tampered",
                where=Location(file=f"{sub.path}/{MANIFEST}"),
            )
        for table in sub.rows:
            path = table_path(folder, table)
            if not path.is_file():
                raise IntegrityError(
                    f"submission {sub.submission_id} lost a table file",
                    code="warehouse-tampered",
                    where=Location(file=path.relative_to(warehouse).as_posix()),
                )
            files[table].append(path)
    return files


def write_catalog(warehouse: Path, catalog: Catalog) -> None:
    write_json_atomic(warehouse / CATALOG, catalog.to_json(), step="catalog")
