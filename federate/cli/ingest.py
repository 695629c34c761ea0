"""``federate ingest SITE EXPORT_DIR --out BUNDLE``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from federate.output import SummaryFormat, err, print_json

if TYPE_CHECKING:
    from rich.progress import TaskID

    from federate.ingest.run import IngestResult


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)


def ingest_command(
    site: Annotated[str, typer.Argument(help="Registered site name (see `federate sites`).")],
    export_dir: Annotated[
        Path, typer.Argument(help="The site's export folder (read only, never written).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Bundle folder to write.")],
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Site pseudonymisation key (default: $FEDERATE_KEY_FILE, else a per-user "
            "key created on first use).",
        ),
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(
            "--signing-key",
            help="Site Ed25519 signing key (default: $FEDERATE_SIGNING_KEY, else the per-user "
            "key, created on first use).",
        ),
    ] = None,
    operator: Annotated[
        str | None, typer.Option(help="Who runs the ingest (default: the login name).")
    ] = None,
    fmt: Annotated[
        SummaryFormat, typer.Option("--format", help="table (summary) or json (the report).")
    ] = SummaryFormat.TABLE,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help="The site's previous bundle: report.html then says what changed since, per "
            "table (rows added, removed and changed).",
        ),
    ] = None,
    allow_identifier_in: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-identifier-in",
            help="TABLE.COLUMN whose identifier-like values are a documented false positive "
            "(repeatable; recorded in the manifest).",
        ),
    ] = None,
) -> None:
    """Turn a site's local export into a validated, sealed submission bundle.

    Exit 0 when every row was accepted, 1 when some rows were quarantined
    (see BUNDLE.site/quarantine.xlsx), 2 when the export cannot be read or is not
    the expected export (a file with more than 10,000 rows, and more than half,
    quarantined), 3 when a national identifier, e-mail address or phone number is
    in the data, 70 on an internal error (a log file is named). On 2, 3 and 70
    nothing is written, and Ctrl-C or SIGTERM leaves nothing behind either. The
    data-quality report: BUNDLE/report.html (values as exported: BUNDLE.site/).

    Example: federate ingest italy export/ --out bundles/italy --previous bundles/italy-old
    """
    from federate.adapters import registry
    from federate.bundle.signing import load_signing_key
    from federate.ingest.run import ingest, use_jemalloc
    from federate.privacy.pseudonym import load_key

    use_jemalloc()  # before any table is read: the pool serves the whole process
    adapter = registry.adapter(site)
    key = load_key(adapter.name, key_file)
    signing = load_signing_key(adapter.name, signing_key)
    with _interrupted_by_sigterm(), _progress_bar() as on_progress:
        result = ingest(
            adapter,
            export_dir,
            out,
            key,
            operator=operator,
            progress=on_progress,
            allow_identifiers_in=tuple(allow_identifier_in or ()),
            signing=signing,
            previous=previous,
        )
    _report(result, fmt)
    raise typer.Exit(int(result.exit_code))


@contextmanager
def _interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, a service stopping) unwinds the ingest as Ctrl-C does, so its staging
    folders are removed; the handler before it is restored after."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int], None]]:
    """One bar per source table on stderr, gone when the ingest ends; none off a terminal."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}
        adding = threading.Lock()  # tables are staged two at a time

        def on_progress(source: str, rows: int) -> None:
            with adding:
                if source not in tasks:
                    tasks[source] = bar.add_task(source, total=None)
            bar.advance(tasks[source], rows)

        yield on_progress


def _report(result: IngestResult, fmt: SummaryFormat) -> None:
    """The whole report as JSON on stdout, or a summary on stderr."""
    if fmt is SummaryFormat.JSON:
        print_json(
            {"bundle": str(result.bundle), "exit_code": int(result.exit_code), **result.report}
        )
    else:
        _summary(result)


def _summary(result: IngestResult) -> None:
    from rich.markup import escape
    from rich.table import Table as RichTable

    _causes(result)
    view = RichTable(title=f"Bundle {result.bundle}", title_justify="left", header_style="bold")
    for name in ("file", "table", "read", "mapped", "quarantined", "skipped"):
        view.add_column(name, justify="left" if name in ("file", "table") else "right")
    for s in result.manifest["sources"]:
        view.add_row(
            s["path"] + (f" [{s['part']}]" if s.get("part") else ""),
            s["table"]
            or (f"(not read: {s['skipped_whole']})" if s.get("skipped_whole") else "(skipped)"),
            f"{s['rows_read']:,}",
            f"{s['rows_mapped']:,}",
            f"{s['rows_quarantined']:,}",
            f"{s['rows_skipped']:,}",
        )
    err.print(view)
    for col in result.report["columns"]:
        if col["dropped_identifiers"]:
            err.print(
                f"  {col['file']}: identifying column(s) dropped, never written: "
                f"{', '.join(col['dropped_identifiers'])}"
            )
    q = result.report["quarantine"]
    if q["rows"]:
        err.print(
            f"[yellow]{q['rows']} row(s) quarantined[/] ({q['failures']} failure(s)); "
            f"fix them in the export, see {result.site_copy / 'quarantine.xlsx'} (values as "
            "exported, for the site only; the bundle's copy masks identifiers and patient ids)."
        )
    w = result.report["warnings"]
    if w["count"]:
        err.print(f"[yellow]{w['count']} warning(s)[/] (nothing dropped; see report.html):")
        for row in w["by_reason"][:10]:
            where = ".".join(p for p in (row["table"], row["shared_column"]) if p) or "export"
            named = f"column {row['column']!r}" if row.get("column") else ""
            site = ", ".join(p for p in (row.get("source_file"), named) if p)
            where += f" ({site})" if site else ""
            err.print(escape(f"  {where}: {row['reason']} × {row['count_all']}"))
    if not q["rows"]:
        err.print("[green]All rows accepted.[/]")
    err.print(f"Data-quality report: {result.site_copy / 'report.html'}")


def _causes(result: IngestResult) -> None:
    """What to fix first, once per cause, with the first records as the site wrote them."""
    from federate.quality.bundle_page import first_records

    causes = result.site_report.get("quality", {}).get("causes", [])
    if not causes:
        return
    err.print("[bold]Causes[/] (fix these in the export; each once, with its first records):")
    for cause in causes[:CAUSES_SHOWN]:
        where = cause["source_file"] + (f" [{cause['part']}]" if cause.get("part") else "")
        column = f", column {cause['column']!r}" if cause.get("column") else ""
        first = first_records(cause["examples"])
        err.print(
            f"  {cause['severity']}: {where}{column}: {cause['reason']} ({cause['rule']}) "
            f"× {cause['rows']} — {first}",
            markup=False,
        )
    if len(causes) > CAUSES_SHOWN:
        err.print(f"  … {len(causes) - CAUSES_SHOWN} more causes in report.html")
    follow_on = result.site_report["quality"]["follow_on_rows"]
    if follow_on:
        err.print(
            f"  and {follow_on:,} row(s) held only because their patient's own row was "
            "quarantined: they follow once the causes are fixed"
        )


CAUSES_SHOWN = 12
