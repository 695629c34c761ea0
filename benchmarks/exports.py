"""Simulated exports for the benchmarks: made by ``federate synth`` in a measured child process,
then written again as a UTF-8 twin and a cp1252 twin.

The simulator writes Italy as a real site does, some forms in cp1252 and some in UTF-8 with a
BOM. The baseline must parse "the same UTF-8 files", so the ingest-versus-DuckDB ratio uses an
all-UTF-8 twin; the cp1252 twin measures what the legacy encoding costs on its own.
"""

from __future__ import annotations

import codecs
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
# Lab rows per simulated patient (7 analytes x ~6 sampled visits), measured on the simulator:
# 962,551 lab rows for 24,000 Italian patients.
LAB_ROWS_PER_PATIENT = 40.1


@dataclass(frozen=True)
class Export:
    folder: Path
    key: Path
    patients: int
    synth: measure.Run
    summary: dict[str, object]


def patients_for(lab_rows: int) -> int:
    return max(1, math.ceil(lab_rows / LAB_ROWS_PER_PATIENT))


def synthesise(out: Path, site: str, patients: int) -> Export:
    """``federate synth`` of one site (child process: its time and peak RSS are reported)."""
    run = measure.run(
        [PYTHON, HERE / "synth_export.py", out, "--site", site, "--patients", str(patients)]
    )
    summary = json.loads((out / "synth.json").read_text("utf-8"))
    return Export(out / "exports" / site, out / "keys" / f"{site}.key", patients, run, summary)


def synthesise_truth(out: Path, patients: int) -> tuple[measure.Run, dict[str, object]]:
    run = measure.run(
        [PYTHON, HERE / "synth_export.py", out, "--truth-only", "--patients", str(patients)]
    )
    return run, json.loads((out / "synth.json").read_text("utf-8"))


def _source_encoding(path: Path) -> str:
    """The Italian adapter's rule: UTF-8 (a BOM allowed) if it decodes, else cp1252."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def transcode(source: Path, dest: Path, encoding: str) -> Path:
    """Every file of ``source`` rewritten in ``encoding`` (``utf-8-sig`` writes the BOM Italian
    exports carry). Line endings and content are kept byte for byte otherwise."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if not path.is_file():
            continue
        decoder = codecs.getincrementaldecoder(_source_encoding(path))()
        encoder = codecs.getincrementalencoder(encoding)()  # strict: never a silent '?'
        with path.open("rb") as src, (dest / path.name).open("wb") as out:
            while chunk := src.read(1 << 20):
                out.write(encoder.encode(decoder.decode(chunk)))
            out.write(encoder.encode(decoder.decode(b"", final=True), final=True))
    return dest


def lab_rows(folder: Path, file: str = "esami.csv") -> int:
    """Records in the lab form, header excluded (the simulator writes no line breaks inside
    values of this form)."""
    with (folder / file).open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1
