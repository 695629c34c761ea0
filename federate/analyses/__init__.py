"""Named analyses: plain SQL files a statistician can read, run on the sandboxed warehouse."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pyarrow as pa

from federate import query
from federate.errors import UsageError


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    sql_file: str  # beside this module
    description: str
    reads: tuple[str, ...]  # shared tables used
    unblinded: bool  # reveals allocation (arm): only for an unblinded statistician

    def sql(self) -> str:
        return resources.files(__package__).joinpath(self.sql_file).read_text("utf-8")


ANALYSES: tuple[Analysis, ...] = (
    Analysis(
        name="primary-endpoint",
        title="Primary efficacy endpoint: total GEL at weeks 4, 12 and 24 by arm",
        sql_file="primary_endpoint.sql",
        description=(
            "Per patient, total gadolinium-enhancing lesions over the W4/W12/W24 scans "
            "(period 1), by the arm given first; pooled and per site, with a crude "
            "MSC vs placebo rate ratio of GEL per scan."
        ),
        reads=("randomisation", "mri"),
        unblinded=True,
    ),
)


def get(name: str) -> Analysis:
    for analysis in ANALYSES:
        if analysis.name == name:
            return analysis
    names = [a.name for a in ANALYSES]
    hint = difflib.get_close_matches(name, names, n=1)
    suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
    raise UsageError(
        f"unknown analysis {name!r}.{suggestion} Known: {', '.join(names)}",
        code="unknown-analysis",
    )


def run_analysis(name: str, warehouse: Path) -> pa.Table:
    """Run a named analysis over the current submissions of every site."""
    analysis = get(name)
    return query.execute(query.connect(warehouse), analysis.sql())
