"""``federate pool``: publish verified bundles into the warehouse, see and undo publishes."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from federate.cli.options import FormatOpt, OperatorOpt, SummaryFormatOpt, WarehouseOpt
from federate.errors import UsageError
from federate.output import Format, SummaryFormat, err, print_json
from federate.warehouse.catalog import check_site, read_catalog

if TYPE_CHECKING:
    import pyarrow as pa

    from federate.warehouse.catalog import Event

pool_app = typer.Typer(
    help="Publish site bundles into the central warehouse, atomically, with history.\n\n"
    "Example: federate pool add bundles/italy --warehouse wh",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(pool_app, name="pool")


@pool_app.command("add")
def add(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `federate ingest`.")],
    wh: WarehouseOpt,
    operator: OperatorOpt = None,
    fmt: SummaryFormatOpt = SummaryFormat.TABLE,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Publish even if the site would keep fewer than half of its current subjects "
            "or of a table's rows (recorded in the audit log).",
        ),
    ] = False,
) -> None:
    """Verify a bundle and publish it as its site's current data (earlier ones are kept).

    Exit 3, changing nothing but the audit log's record of the refusal, when a check
    fails: signature (unsigned, altered after signing, a key not trusted for the site),
    checksums, row counts, schema version, rows of another site or submission, a
    submission already published, one older than the submission in place, or one that
    would leave the site fewer than half of its current subjects or of a table's rows
    (each such table shown, before → after; --allow-shrink lets it through). A site's
    first bundle pins its signing key (said on stderr, recorded in the log). A publish
    interrupted by a crash is settled by the next pool command, and the log says how.

    Example: federate pool add italy-bundle --warehouse /srv/mesems-wh
    """
    from federate.warehouse import publish

    event = publish.add(bundle, wh, operator=operator, allow_shrink=allow_shrink)
    _emit_event(event, wh, fmt, "Published")
    raise typer.Exit(0)


@pool_app.command("trust")
def trust(
    site: Annotated[str, typer.Argument(help="Registered site name.")],
    public_key: Annotated[
        str, typer.Argument(help="The site's public key, ed25519:BASE64 (federate keys show).")
    ],
    wh: WarehouseOpt,
    operator: OperatorOpt = None,
) -> None:
    """Trust a site's signing key from now on (recorded in the audit log).

    Example: federate pool trust italy ed25519:BASE64… --warehouse wh
    """
    from federate.warehouse import publish

    publish.trust(site, public_key, wh, operator=operator)
    err.print(f"{site}: bundles must now be signed by {public_key}")
    raise typer.Exit(0)


@pool_app.command("verify")
def verify(
    wh: WarehouseOpt,
    fmt: SummaryFormatOpt = SummaryFormat.TABLE,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="An audit log head you kept elsewhere (printed by each publish and verify): "
            "it must still be in the log. Only this catches entries cut from the log's end, or "
            "a log rewritten with audit.head to match.",
        ),
    ] = None,
    operator: OperatorOpt = None,
) -> None:
    """Check that the warehouse is what its audit log explains: the hash chain and its head,
    each site's current submission and every kept submission as the last publish recorded
    them, the catalog, every submission's files and signature, and every blinded copy,
    recomputed from the signed tables. Exit 3, naming each difference, when anything was
    altered, removed, rolled back or truncated outside federate. A publish interrupted by a
    crash is settled first (logged), so a crash is never reported as tampering.

    Example: federate pool verify --warehouse /srv/mesems-wh --head "$(cat ~/wh-head.txt)"
    (the head noted after the last publish, kept off the warehouse's server)
    """
    from federate.warehouse.verify import verify_warehouse

    if head is not None and not re.fullmatch(r"[0-9a-f]{64}", head.strip().lower()):
        raise UsageError(
            "--head takes the 64 hex digits of an audit log head (as printed by pool add, "
            "rollback or verify)",
            code="bad-head",
        )
    kept = head.strip().lower() if head else None
    result = verify_warehouse(wh, head=kept, operator=operator)
    if fmt is SummaryFormat.JSON:
        print_json(result)
    else:
        err.print(
            f"[green]Verified[/]: {result['submissions']} submission(s), "
            f"{result['log_entries']} audit log entries, head {result['head']}"
        )
        if kept:
            err.print(
                "  the head you kept is in the log; entries logged since: "
                f"{result['entries_since_kept_head']}"
            )
        else:
            err.print("  keep the head elsewhere: `pool verify --head HEAD` checks against it")
    raise typer.Exit(0)


@pool_app.command("report")
def report(
    wh: WarehouseOpt,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (replaced whole).")],
    fmt: SummaryFormatOpt = SummaryFormat.TABLE,
) -> None:
    """Write the pool's data-quality report: rows and quarantine per site and table, each
    site's checks, completeness by visit, key values compared across sites, and the
    submission history. Blinded: it shows no allocation. One self-contained HTML file.

    Example: federate pool report --warehouse wh --out pool-quality.html
    """
    from federate.warehouse.pool_report import write_pool_report

    written = write_pool_report(wh, out)
    if fmt is SummaryFormat.JSON:
        print_json(written)
    else:
        err.print(f"[green]Wrote[/] {out} ({len(written['sites'])} site(s))")
    raise typer.Exit(0)


@pool_app.command("rollback")
def rollback(
    site: Annotated[str, typer.Argument(help="Registered site name.")],
    to: Annotated[str, typer.Option("--to", help="The kept submission_id to make current.")],
    wh: WarehouseOpt,
    operator: OperatorOpt = None,
    fmt: SummaryFormatOpt = SummaryFormat.TABLE,
) -> None:
    """Make an earlier kept submission the site's current data again (recorded in history
    and, as an intent and a commit, in the audit log).

    Example: federate pool rollback italy --to italy-20260301T101500Z-1a2b3c4d --warehouse WH
    """
    from federate.warehouse import publish

    event = publish.rollback(site, to, wh, operator=operator)
    _emit_event(event, wh, fmt, "Rolled back")
    raise typer.Exit(0)


ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why, in words (recorded in the audit log).")
]


@pool_app.command("lock")
def lock(
    wh: WarehouseOpt,
    reason: ReasonOpt,
    operator: OperatorOpt = None,
    fmt: SummaryFormatOpt = SummaryFormat.TABLE,
) -> None:
    """Lock the database: freeze the current state, as a blinded trial does before
    unblinding. Until `pool unlock`, `pool add` and `pool rollback` are refused (exit 3, saying
    since when, by whom and why). The lock, and the state it froze, are an audit log entry;
    `analyses report` says whether it was made from a locked state.

    Example: federate pool lock --warehouse wh --reason "final database lock before unblinding"
    """
    from federate.warehouse import freeze

    done = freeze.lock(wh, reason, operator=operator)
    _emit_freeze("Locked", done, fmt)


@pool_app.command("unlock")
def unlock(
    wh: WarehouseOpt,
    reason: ReasonOpt,
    operator: OperatorOpt = None,
    fmt: SummaryFormatOpt = SummaryFormat.TABLE,
) -> None:
    """Lift the database lock (an audit log entry, with the reason): publishing resumes.

    Example: federate pool unlock --warehouse wh --reason "query on site data, DMC approved"
    """
    from federate.warehouse import freeze

    lifted = freeze.unlock(wh, reason, operator=operator)
    _emit_freeze("Unlocked", lifted, fmt)


def _emit_freeze(verb: str, freeze: Any, fmt: SummaryFormat) -> None:
    about = asdict(freeze)
    if fmt is SummaryFormat.JSON:
        print_json({"action": verb.lower(), "lock": about})
    elif verb == "Locked":
        err.print(f"[green]Locked[/] at {freeze.since_utc} by {freeze.by}: {freeze.reason}")
        err.print(f"  audit log entry {freeze.entry_hash}")
    else:
        err.print(f"[green]Unlocked[/]: the lock of {freeze.since_utc} by {freeze.by} is lifted")
    raise typer.Exit(0)


@pool_app.command("history")
def history(
    site: Annotated[str, typer.Argument(help="Registered site name.")],
    wh: WarehouseOpt,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Every publish of a site's data: time, operator, rows, manifest hash, which is current.

    Example: federate pool history italy --warehouse wh
    """
    from federate.output import emit_table

    catalog = read_catalog(wh)
    check_site(site, catalog)
    current = catalog.current.get(site)
    rows: list[dict[str, Any]] = [
        {
            "seq": e.seq,
            "time_utc": e.time_utc,
            "action": e.action,
            "submission_id": e.submission_id,
            "current": e.submission_id == current,
            "operator": e.operator,
            **_table_rows(e.rows),
            "manifest_sha256": e.manifest_sha256,
        }
        for e in catalog.site_history(site)
    ]
    if fmt is Format.TABLE:
        _show(
            [
                {"#": r["seq"], "time (UTC)": _minute(r["time_utc"]),
                 "action": f"{r['action']}{', current' if r['current'] else ''}",
                 "submission": r["submission_id"], "by": r["operator"],
                 "rows": sum(v for t, v in r.items() if t in _table_names() and v)}
                for r in rows
            ],
            f"History of {site}",
        )  # fmt: skip
    else:
        emit_table(_table(rows, _history_schema()), fmt, title=f"History of {site}")
    raise typer.Exit(0)


@pool_app.command("status")
def status(wh: WarehouseOpt, fmt: FormatOpt = Format.TABLE) -> None:
    """The current submission and its rows per table, for every site.

    Example: federate pool status --warehouse wh
    """
    from federate.adapters import registry
    from federate.output import emit_table

    catalog = read_catalog(wh)
    last = {e.site: e for e in catalog.history}
    rows: list[dict[str, Any]] = []
    for site in sorted(set(registry.site_names()) | set(catalog.current)):
        sub = catalog.submissions.get(catalog.current.get(site, ""))
        rows.append(
            {
                "site": site,
                "submission_id": sub.submission_id if sub else None,
                "published_utc": last[site].time_utc if site in last else None,
                "operator": last[site].operator if site in last else None,
                **_table_rows(sub.rows if sub else {}),
            }
        )
    if fmt is Format.TABLE:
        _show(
            [
                {"site": r["site"], "submission": r["submission_id"] or "(none)",
                 "published (UTC)": _minute(r["published_utc"]), "by": r["operator"] or "",
                 "patients": r.get("subjects"),
                 "rows": sum(v for t, v in r.items() if t in _table_names() and v)}
                for r in rows
            ],
            f"Warehouse {wh}",
        )  # fmt: skip
        _say_lock(wh)
    else:
        emit_table(_table(rows, _status_schema()), fmt, title=f"Warehouse {wh}")
    raise typer.Exit(0)


def _say_lock(wh: Path) -> None:
    from federate.warehouse import audit, freeze

    lock = freeze.in_force(audit.read_entries(wh))
    if lock is not None:
        err.print(f"[bold]Locked[/] since {lock.since_utc} by {lock.by}: {lock.reason}")


def _minute(time_utc: str | None) -> str:
    return (time_utc or "")[:16].replace("T", " ")


def _show(rows: list[dict[str, Any]], title: str) -> None:
    """A table that fits 100 columns with every submission id whole, so it can be copied into
    `pool rollback --to`; the rows per table are in --format json or csv."""
    from rich.table import Table as RichTable
    from rich.text import Text

    from federate.output import out_console

    view = RichTable(title=title, title_justify="left", header_style="bold")
    for name in rows[0] if rows else ("site", "submission"):
        whole = name in ("site", "submission", "time (UTC)", "published (UTC)")
        widest = max((len(str(r[name])) for r in rows), default=0) if whole else None
        if name in ("#", "patients", "rows"):
            view.add_column(name, justify="right", no_wrap=True)
        else:
            view.add_column(name, no_wrap=whole, min_width=widest)
    for row in rows:
        view.add_row(*(Text("" if v is None else f"{v:,}" if isinstance(v, int) else str(v))
                       for v in row.values()))  # fmt: skip
    out_console.print(view)


def _table_names() -> list[str]:
    from federate.adapters import registry

    return [t.name for t in registry.schema()]


def _table_rows(rows: dict[str, int]) -> dict[str, int | None]:
    return {t: rows.get(t) for t in _table_names()}


def _history_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [("seq", pa.int64()), ("time_utc", pa.string()), ("action", pa.string())]
        + [("submission_id", pa.string()), ("current", pa.bool_()), ("operator", pa.string())]
        + [(t, pa.int64()) for t in _table_names()]
        + [("manifest_sha256", pa.string())]
    )


def _status_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [("site", pa.string()), ("submission_id", pa.string())]
        + [("published_utc", pa.string()), ("operator", pa.string())]
        + [(t, pa.int64()) for t in _table_names()]
    )


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema)


def _emit_event(event: Event, wh: Path, fmt: SummaryFormat, verb: str) -> None:
    """A publish or rollback: the event as JSON on stdout, or a summary on stderr; both say
    how many rows the site's ingest quarantined, what changed against the submission it
    replaces, and the audit log's head."""
    from federate.warehouse.audit import read_head

    head = read_head(wh)  # the commit entry's: what `pool verify --head` checks against
    change = _change(event, wh)
    if fmt is SummaryFormat.JSON:
        print_json({"warehouse": str(wh), **asdict(event), **change, "audit_head": head})
    else:
        _event_summary(event, verb, change, head)


def _change(event: Event, wh: Path) -> dict[str, Any]:
    import json

    from federate.bundle.manifest import MANIFEST

    catalog = read_catalog(wh)
    before = catalog.submissions.get(event.previous or "")
    sub = catalog.submissions[event.submission_id]
    manifest = json.loads((wh / sub.path / MANIFEST).read_text("utf-8"))
    rows_before = before.rows if before else {}
    return {
        "rows_quarantined": int(manifest.get("quarantine", {}).get("rows", 0)),
        "rows_before": {t: rows_before.get(t, 0) for t in event.rows} if before else None,
    }


def _event_summary(event: Event, verb: str, change: dict[str, Any], head: str) -> None:
    from rich.table import Table as RichTable

    err.print(f"[bold]{verb}[/] {event.site}: {event.submission_id}")
    before = change["rows_before"]
    view = RichTable(header_style="bold")
    view.add_column("table")
    view.add_column("rows", justify="right")
    if before is not None:
        view.add_column("before", justify="right")
        view.add_column("change", justify="right")
    for table, count in event.rows.items():
        cells = [table, f"{count:,}"]
        if before is not None:
            cells += [f"{before[table]:,}", f"{count - before[table]:+,}"]
        view.add_row(*cells)
    err.print(view)
    previous = event.previous or "none"
    err.print(f"  replaces {previous}; manifest sha256 {event.manifest_sha256[:16]}…")
    if change["rows_quarantined"]:
        err.print(
            f"  the site's ingest quarantined {change['rows_quarantined']:,} row(s) "
            "(quarantine.parquet in the submission)"
        )
    err.print(f"  audit log head {head} (keep it elsewhere: `pool verify --head` checks it)")
