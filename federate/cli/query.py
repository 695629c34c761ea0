"""``federate query "SQL"``: read-only SQL over the current pooled data."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
import typer

from federate.cli.options import FormatOpt, WarehouseOpt
from federate.errors import UsageError
from federate.output import Format, emit_table
from federate.query import run_query


def register(app: typer.Typer) -> None:
    @app.command("query")
    def query(
        sql: Annotated[
            str,
            typer.Argument(
                help="One SELECT over subjects, randomisation, infusions, visits and mri."
            ),
        ],
        wh: WarehouseOpt,
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        """Run one read-only SELECT over every site's current submission.

        Each shared table is a relation of the same name.
        SQL cannot read or write files, attach databases, load extensions or change settings.
        Anything but a single SELECT (or WITH ... SELECT) exits 2.
        """
        result = run_query(sql, wh)
        try:
            emit_table(result, fmt)
        except pa.ArrowNotImplementedError as exc:
            raise UsageError(
                f"this result cannot be written as {fmt.value} ({exc}); try --format json",
                code="bad-format",
            ) from None
        raise typer.Exit(0)
