"""Data quality as people read it: every check an ingest made, counted and grouped (Kahn's
categories), the causes to fix first, completeness by visit and the key values' distributions,
as one self-contained HTML page per bundle (``report.html``) and one for the pool."""
