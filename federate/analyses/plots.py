"""The figures a trial report shows, drawn from the released (suppressed) tables only, so a
figure discloses no more than its table: suppressed points are not drawn, suppressed heat-map
cells are hatched and marked [c]. Blinded results have one line, pooled over arms.

matplotlib is used without pyplot (a Figure on the Agg canvas): no display, no global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from federate.output import MARK

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from federate.analyses import Result

_POOLED = "all patients (pooled over arms)"


def draw(result: Result, path: Path) -> None:
    """Write the analysis's figure to ``path`` (PNG)."""
    from matplotlib.figure import Figure

    drawers = {
        "primary-endpoint": _cumulative_gel,
        "disability": _edss,
        "completeness": _heat_map,
    }
    fig = Figure(figsize=(8, 5), dpi=120, layout="constrained")
    drawers[result.analysis.name](result, fig)
    fig.savefig(path, format=path.suffix.lower().lstrip("."))  # checked: PLOT_FORMATS


def _pooled_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [r for r in table.to_pylist() if r["scope"] == "pooled" and not r["suppressed"]]


def _lines(ax: Axes, rows: list[dict[str, Any]], x: str, y: str, err: str | None) -> None:
    """One line per arm ('ALL' last, dashed), or one line when blinded."""
    arms = sorted({r.get("arm", "ALL") for r in rows}, key=lambda a: (a == "ALL", a))
    for arm in arms:
        points = sorted((r for r in rows if r.get("arm", "ALL") == arm), key=lambda r: r[x])
        xs, ys = [r[x] for r in points], [r[y] for r in points]
        errs = [_se(r, err) for r in points] if err else None
        label = _POOLED if arm == "ALL" else arm
        style = "--" if arm == "ALL" and len(arms) > 1 else "-"
        ax.errorbar(xs, ys, yerr=errs, label=label, marker="o", capsize=3, linestyle=style)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)


def _se(row: dict[str, Any], sd: str) -> float:
    value, n = row.get(sd), row.get("patients") or 0
    return float(value) / n**0.5 if value is not None and n > 0 else 0.0


def _cumulative_gel(result: Result, fig: Figure) -> None:
    ax = fig.add_subplot()
    _lines(ax, _pooled_rows(result.part("cumulative")), "week", "mean", None)
    ax.set_xticks([4, 12, 24], ["W4", "W12", "W24"])
    ax.set_xlabel("week (period 1)")
    ax.set_ylabel("mean cumulative GEL per patient")
    ax.set_title("Cumulative gadolinium-enhancing lesions, all sites")


def _edss(result: Result, fig: Figure) -> None:
    ax = fig.add_subplot()
    rows = [r for r in _pooled_rows(result.part("change")) if r["measure"] == "EDSS"]
    _lines(ax, rows, "week", "mean_value", "sd_value")
    weeks = sorted({r["week"] for r in rows})
    ax.set_xticks(weeks, [f"W{w}" for w in weeks])
    ax.set_xlabel("visit")
    ax.set_ylabel("mean EDSS (± SE)")
    ax.set_title("EDSS over visits, all sites")


def _heat_map(result: Result, fig: Figure) -> None:
    """Per site and visit: assessments present out of those scheduled, every assessment."""
    import numpy as np

    rows = [r for r in result.part("visits").to_pylist() if r["scope"] != "pooled"]
    sites = sorted({r["scope"] for r in rows})
    visits = [v for _, v in sorted({(r["week"], r["visit_code"]) for r in rows})]
    grid = np.full((len(sites), len(visits)), np.nan)
    hidden = np.zeros(grid.shape, dtype=bool)
    sums: dict[tuple[int, int], list[int]] = {}
    for r in rows:
        at = (sites.index(r["scope"]), visits.index(r["visit_code"]))
        if r["suppressed"]:
            hidden[at] = True
            continue
        total = sums.setdefault(at, [0, 0])
        total[0] += r["present"]
        total[1] += r["expected"]
    for at, (present, expected) in sums.items():
        if not hidden[at] and expected:
            grid[at] = 100.0 * present / expected
    ax = fig.add_subplot()
    low = min(50.0, float(np.nanmin(grid))) if np.isfinite(grid).any() else 0.0
    image = ax.imshow(grid, cmap="viridis", vmin=low, vmax=100, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        text = MARK if hidden[i, j] else f"{value:.0f}"
        colour = "white" if value < (low + 100) / 2 else "black"
        ax.text(j, i, text, ha="center", va="center", color=colour)
        if hidden[i, j]:
            ax.add_patch(_hatch(j, i))
    ax.set_xticks(range(len(visits)), visits)
    ax.set_yticks(range(len(sites)), sites)
    ax.set_xlabel("visit")
    ax.set_title(f"Assessments present, % of scheduled ({MARK}: suppressed)")
    fig.colorbar(image, ax=ax, label="% present")


def _hatch(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="grey")
