"""Small inline SVG figures for the data-quality reports: no plotting library to import (the
ingest stays fast) and nothing fetched (the report is one self-contained file)."""

from __future__ import annotations

from html import escape

from federate.quality.profile import Distribution

WIDTH, HEIGHT, PAD = 360, 150, 30
TOP = 38  # room for the title and its note above the bars
LABEL = 60  # room for the site names left of a box plot
INK, BAR, WARN, BAD = "#1f2933", "#3e6fb0", "#f0b429", "#c62828"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _x(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return PAD + (value - low) / span * (WIDTH - 2 * PAD)


def _bounds_marks(dist: Distribution, low: float, high: float, top: float, bottom: float) -> str:
    """Dashed lines where values become implausible (amber) or impossible (red)."""
    marks = []
    for bounds, colour in ((dist.soft, WARN), (dist.hard, BAD)):
        for bound in bounds:
            if bound is not None and low <= bound <= high:
                x = _x(bound, low, high)
                marks.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="{colour}" '
                    f'stroke-dasharray="4 3"><title>bound {_fmt(bound)}</title></line>'
                )
    return "".join(marks)


def histogram(dist: Distribution, site: str) -> str:
    """One site's distribution on the distribution's bins, its bounds marked."""
    summary = dist.per_site[site]
    low, high = dist.edges[0], dist.edges[-1]
    tallest = max(summary.counts) or 1
    base, room = HEIGHT - PAD, HEIGHT - PAD - TOP
    bars = []
    for i, n in enumerate(summary.counts):
        if not n:
            continue
        x0, x1 = _x(dist.edges[i], low, high), _x(dist.edges[i + 1], low, high)
        h = room * n / tallest
        colour = BAR if _plausible(dist, dist.edges[i], dist.edges[i + 1]) else WARN
        bars.append(
            f'<rect x="{x0:.1f}" y="{base - h:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{_fmt(dist.edges[i])}–'
            f"{_fmt(dist.edges[i + 1])}: {n}</title></rect>"
        )
    return _frame(
        dist,
        "".join(bars) + _bounds_marks(dist, low, high, TOP, base),
        f"n = {summary.n}, median {_fmt(summary.median)}",
    )


def _plausible(dist: Distribution, left: float, right: float) -> bool:
    lo, hi = dist.soft
    return (lo is None or right > lo) and (hi is None or left < hi)


def boxes(dist: Distribution) -> str:
    """Every site's distribution as a box (quartiles), whiskers (min to max) and median, on one
    shared axis: a site whose unit or scale differs stands apart."""
    sites = sorted(dist.per_site)
    low, high = dist.edges[0], dist.edges[-1]
    row = 22
    height = TOP + row * len(sites) + PAD
    parts = []
    for i, site in enumerate(sites):
        s = dist.per_site[site]
        y = TOP + row * i + row / 2
        x = [_x(v, low, high) for v in (s.low, s.q1, s.median, s.q3, s.high)]
        parts.append(
            f'<text x="{4 - LABEL}" y="{y + 4:.1f}" font-size="11">{escape(site)}</text>'
            f'<line x1="{x[0]:.1f}" x2="{x[4]:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{INK}"/>'
            f'<rect x="{x[1]:.1f}" y="{y - 7:.1f}" width="{max(x[3] - x[1], 1):.1f}" height="14" '
            f'fill="{BAR}" fill-opacity="0.35" stroke="{BAR}"><title>{escape(site)}: n = {s.n}, '
            f"median {_fmt(s.median)}, IQR {_fmt(s.q1)}–{_fmt(s.q3)}</title></rect>"
            f'<line x1="{x[2]:.1f}" x2="{x[2]:.1f}" y1="{y - 7:.1f}" y2="{y + 7:.1f}" '
            f'stroke="{INK}" stroke-width="2"/>'
            f'<text x="{WIDTH - PAD + 6}" y="{y + 4:.1f}" font-size="10">'
            f"n={s.n}</text>"
        )
    marks = _bounds_marks(dist, low, high, TOP - 6, height - PAD + 6)
    return _frame(dist, "".join(parts) + marks, "", height=height, left=LABEL, right=24)


def _frame(
    dist: Distribution, body: str, note: str, height: int = HEIGHT, left: int = 0, right: int = 0
) -> str:
    low, high = dist.edges[0], dist.edges[-1]
    unit = f" ({escape(dist.unit)})" if dist.unit else ""
    axis = height - PAD
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="figure" role="img" '
        f'viewBox="0 0 {WIDTH + left + right} {height}" width="{WIDTH + left + right}" '
        f'height="{height}">'
        f"<title>{escape(dist.title)}</title>"
        f'<g transform="translate({left},0)">'
        f'<text x="{PAD}" y="16" font-size="12" font-weight="600">{escape(dist.title)}{unit}</text>'
        f'<text x="{PAD}" y="30" font-size="11" fill="#52606d">{escape(note)}</text>'
        f"{body}"
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{axis}" y2="{axis}" stroke="{INK}"/>'
        f'<text x="{PAD}" y="{axis + 14}" font-size="10">{_fmt(low)}</text>'
        f'<text x="{WIDTH - PAD}" y="{axis + 14}" font-size="10" text-anchor="end">'
        f"{_fmt(high)}</text></g></svg>"
    )
