"""The trial simulator: a MESEMS-like trial's truth in the shared schema, and each registered
site's local export written from it through the site adapter's ``render()`` inverses.

``run(out, seed=..., patients=..., inject_errors=...)`` writes, under ``out``:

* ``truth/<table>.parquet``: every shared table for all six sites, exactly the shared Arrow
  schema (schema version in its metadata). ``submission_id`` is ``"truth"``; ``source_file`` and
  ``source_row`` point at the row in the site's export (header = record 1), so truth and an
  ingested bundle compare on every other column.
* ``keys/<site>.key``: each site's pseudonymisation key, derived from the seed.
* ``exports/<site>/``: the clean local export of each registered site (ingests with nothing
  quarantined).
* ``injected.json`` (``--inject-errors``): each deliberate error (site, table, file, source_row,
  column, value, reason). The truth is the same with or without injection and still holds the
  rows hit by an error: exclude the listed (site, source_file, source_row) when comparing.

Deterministic for a seed; each site draws from its own streams (seed, CRC-32 of the site name,
purpose), so adding a country or resizing one never changes another's truth.
"""

from federate.synth.inject import InjectedError
from federate.synth.run import DEFAULT_SEED, SynthResult, run

__all__ = ["DEFAULT_SEED", "InjectedError", "SynthResult", "run"]
