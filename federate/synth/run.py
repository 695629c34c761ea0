"""``federate synth``: simulate the trial, write the truth, the keys and each registered site's
export.

    OUT/truth/<table>.parquet    every shared table, exactly the shared Arrow schema, all sites
    OUT/keys/<site>.key          each site's pseudonymisation key (derived from the seed)
    OUT/exports/<site>/...       the local export of each registered site with a writer
    OUT/injected.json            with --inject-errors: the errors written, and their reasons
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter
from federate.errors import UsageError
from federate.synth.base import SiteTrial
from federate.synth.inject import InjectedError, inject
from federate.synth.render import ReadBack, render_table
from federate.synth.sites import DEFAULT_PATIENTS, Stream, site_counts, spec, stream
from federate.synth.trial import simulate
from federate.synth.truth import SiteTruth, key_secret, site_truth, write_key
from federate.synth.writers import WRITERS, RenderedMap

DEFAULT_SEED = 2012
INJECTED = "injected.json"


@dataclass(frozen=True)
class SynthResult:
    out: Path
    seed: int
    patients: dict[str, int]  # site -> patients simulated
    truth: dict[str, Path]  # shared table -> parquet file
    keys: dict[str, Path]  # site -> key file
    exports: dict[str, list[Path]]  # registered site -> export files written
    injected: list[InjectedError] = field(default_factory=list)
    injected_file: Path | None = None
    notes: list[str] = field(default_factory=list)  # sites skipped, habits not written

    def export_dir(self, site: str) -> Path:
        return self.out / "exports" / site


def _write_export(
    adapter: SiteAdapter,
    trial: SiteTrial,
    truth: SiteTruth,
    folder: Path,
    seed: int,
    inject_errors: bool,
    readback: ReadBack,
) -> tuple[list[Path], list[InjectedError], list[str]]:
    injected, notes, maps = [], [], []
    for tm in adapter.tables:
        label = tm.file if tm.part is None else f"{tm.file}#{tm.part}"
        rng = stream(seed, adapter.name, Stream.EXPORT, label)
        people = trial.people.take(truth.patients[tm.table])
        rendered = render_table(adapter, tm, truth.tables[tm.table], people, rng, readback)
        notes += rendered.notes
        if inject_errors:
            errors_rng = stream(seed, adapter.name, Stream.ERRORS, label)
            injected += inject(adapter, tm, rendered.columns, errors_rng)
        maps.append(RenderedMap(tm, rendered.columns, truth.tables[tm.table]))
    folder.mkdir(parents=True, exist_ok=True)
    written = WRITERS[adapter.format](adapter, maps, folder)
    for table, (files, rows) in written.provenance.items():
        rows_table = truth.tables[table]
        for name, values in (("source_file", files), ("source_row", rows)):
            at = rows_table.schema.get_field_index(name)
            rows_table = rows_table.set_column(at, rows_table.schema.field(at), values)
        truth.tables[table] = rows_table
    # Injected errors were numbered CSV-style (record i + 2); follow the writer's placement.
    placed = {t: rows.to_pylist() for t, (_, rows) in written.provenance.items()}
    injected = [
        replace(e, source_row=placed[e.table][e.source_row - 2]) if e.table in placed else e
        for e in injected
    ]
    return written.files, injected, notes


def run(
    out: Path,
    *,
    seed: int = DEFAULT_SEED,
    patients: int = DEFAULT_PATIENTS,
    inject_errors: bool = False,
    counts: Mapping[str, int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SynthResult:
    """Simulate MESEMS and write it under ``out``. ``counts`` (site -> patients) overrides the
    scaled shares of ``patients``; ``progress`` is told each step as it starts."""
    say = progress or (lambda step: None)
    if seed < 0:
        raise UsageError(f"--seed must be 0 or more, not {seed}", code="bad-seed")
    counts = dict(counts) if counts is not None else site_counts(patients)
    if any(n < 1 for n in counts.values()):
        raise UsageError("every site needs at least one patient", code="bad-patients")
    schema = registry.schema()
    adapters = {a.name: a for a in registry.adapters()}
    say(f"simulating {sum(counts.values()):,} patients")
    trials = simulate(seed, counts)
    readback = ReadBack()

    parts: dict[str, list[pa.Table]] = {t.name: [] for t in schema}
    keys: dict[str, Path] = {}
    exports: dict[str, list[Path]] = {}
    injected: list[InjectedError] = []
    notes: list[str] = []
    for name, trial in trials.items():
        say(f"{name}: the truth and the site's export")
        adapter = adapters.get(name)
        country = adapter.country if adapter else spec(name).country
        keys[name] = out / "keys" / f"{name}.key"
        key = write_key(keys[name], key_secret(seed, name))
        truth = site_truth(schema, trial, adapter, key, country)
        if adapter is not None and adapter.format not in WRITERS:
            notes.append(f"{name}: no writer for the {adapter.format!r} format yet; no export")
        elif adapter is not None:
            # Writing may place rows elsewhere than CSV-style (a sheet row, an XML ordinal):
            # the writer says where, and the truth's provenance follows before it is kept.
            files, errors, habit_notes = _write_export(
                adapter, trial, truth, out / "exports" / name, seed, inject_errors, readback
            )
            exports[name] = files
            notes += habit_notes
            injected += errors
        for table_name, rows in truth.tables.items():
            parts[table_name].append(rows)

    say("writing the truth")
    truth_paths: dict[str, Path] = {}
    for table in schema:
        path = truth_paths[table.name] = out / "truth" / f"{table.name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        arrow = schema.arrow_schema(table)
        combined = pa.concat_tables(parts[table.name]) if parts[table.name] else arrow.empty_table()
        pq.write_table(combined.cast(arrow), path, compression="zstd")

    injected_file = out / INJECTED
    if inject_errors:
        injected_file.write_text(
            json.dumps([e.as_dict() for e in injected], indent=2, ensure_ascii=False) + "\n",
            "utf-8",
        )
    else:  # never leave a stale list beside a clean export
        injected_file.unlink(missing_ok=True)
    return SynthResult(
        out=out,
        seed=seed,
        patients={name: len(t.people) for name, t in trials.items()},
        truth=truth_paths,
        keys=keys,
        exports=exports,
        injected=injected,
        injected_file=injected_file if inject_errors else None,
        notes=notes,
    )
