"""The figures a trial report shows, drawn from the released (suppressed) tables only, so a
figure discloses no more than its table: suppressed points are not drawn, suppressed heat-map
cells are hatched and marked [c]. Blinded results have one line, pooled over arms.

One house style (``STYLE``): a sans-serif at journal sizes, no top or right spines, the arms
in words and one colour each, estimates with 95% CIs, time on a true axis from 0, and a
footer saying where the figure comes from (analysis, warehouse state, role, date).

matplotlib is used without pyplot (a Figure on the Agg canvas): no display, no global state
but the style, applied in a context around each figure.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from federate.analyses.labels import arm as arm_words
from federate.output import MARK

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from federate.analyses import Result

STYLE: dict[Any, Any] = {  # keys: matplotlib rcParams
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "svg.fonttype": "none",  # text stays text: searchable, and no glyph paths
    "svg.hashsalt": "federate",  # the same figure gives the same SVG
    "pdf.fonttype": 42,
}
COLOURS = {"MSC": "#1b6ca8", "PLACEBO": "#d1495b", "ALL": "#3c3c3c"}
COLOURS |= {"MSC_PLACEBO": COLOURS["MSC"], "PLACEBO_MSC": COLOURS["PLACEBO"]}


def draw(result: Result, path: Path, footer: str = "") -> None:
    """Write the analysis's figure to ``path`` (PNG, SVG or PDF by its suffix)."""
    import matplotlib as mpl

    fmt = path.suffix.lower().lstrip(".")  # checked: PLOT_FORMATS
    with mpl.rc_context(STYLE), path.open("wb") as fh:  # saved in the style: SVG text as text
        figure(result, footer).savefig(fh, format=fmt, metadata=_metadata(fmt))


def figure(result: Result, footer: str = "") -> Figure:
    import matplotlib as mpl
    from matplotlib.figure import Figure

    drawers = {
        "primary-endpoint": _primary,
        "disability": _disability,
        "completeness": _completeness,
    }
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(9, 5.5), dpi=150, layout="constrained")
        drawers[result.analysis.name](result, fig)
        if footer:
            fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))  # type: ignore[call-arg, union-attr]
            fig.text(0.005, 0.003, footer, fontsize=6.5, color="#666666", va="bottom")
        fig.canvas.draw()  # in the style's context: fonts and sizes fixed here
    return fig


def _metadata(fmt: str) -> dict[str, Any]:
    """No creation date in the file: the footer dates it, and the same figure is the same."""
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return {}


def _arms(rows: list[dict[str, Any]]) -> list[str]:
    """The arms present, 'ALL' last (blinded: 'ALL' only)."""
    return sorted({r.get("arm", "ALL") for r in rows}, key=lambda a: (a == "ALL", a))


def _shown(table: Any, *, scope: str = "pooled") -> list[dict[str, Any]]:
    return [r for r in table.to_pylist() if r["scope"] == scope and not r["suppressed"]]


def _half_ci(mean_sd_n: tuple[Any, Any, Any]) -> float | None:
    from scipy.stats import t

    _, sd, n = mean_sd_n
    if sd is None or not n or n < 2:
        return None
    return float(t.ppf(0.975, n - 1) * sd / math.sqrt(n))


def _by_arm(
    ax: Axes,
    rows: list[dict[str, Any]],
    y: str,
    interval: Any,
    *,
    spread: float,
    counts: bool,
) -> None:
    """One series per arm: points with 95% CI bars, offset by arm so no bars overlap; the N
    of each point under the axis, one line per arm."""
    arms = _arms(rows)
    for i, arm in enumerate(arms):
        points = sorted((r for r in rows if r.get("arm", "ALL") == arm), key=lambda r: r["week"])
        shift = (i - (len(arms) - 1) / 2) * spread
        xs = [r["week"] + shift for r in points]
        ys = [r[y] for r in points]
        lows, highs = zip(*(interval(r) for r in points), strict=True) if points else ((), ())
        err = [
            [v - lo for v, lo in zip(ys, lows, strict=True)],
            [hi - v for v, hi in zip(ys, highs, strict=True)],
        ]
        style = "--" if arm == "ALL" and len(arms) > 1 else "-"
        ax.errorbar(
            xs,
            ys,
            yerr=err,
            label=_legend(arm, len(arms)),
            color=COLOURS.get(arm, "#555"),
            marker="o",
            markersize=4,
            capsize=2.5,
            linestyle=style,
            linewidth=1.2,
        )
        if counts:
            row_y = -0.16 - 0.06 * i
            ax.text(
                -0.01,
                row_y,
                f"N, {_legend(arm, len(arms))}",
                transform=ax.transAxes,
                ha="right",
                va="center",
                fontsize=7,
                color=COLOURS.get(arm, "#555"),
            )
            for r in points:
                ax.text(
                    r["week"],
                    row_y,
                    str(r["patients"]),
                    fontsize=7,
                    ha="center",
                    va="center",
                    transform=ax.get_xaxis_transform(),
                    color=COLOURS.get(arm, "#555"),
                )
    ax.grid(axis="y", alpha=0.3)


def _legend(arm: str, arms: int) -> str:
    if arm == "ALL":
        return "all patients (pooled)" if arms == 1 else "all patients"
    return str(arm_words(arm))


def _mean_interval(value: str) -> Any:
    def interval(r: dict[str, Any]) -> tuple[float, float]:
        half = _half_ci((r[value], r.get("sd_" + value.split("_", 1)[-1]), r["patients"]))
        v = r[value]
        return (v, v) if half is None else (v - half, v + half)

    return interval


def _primary(result: Result, fig: Figure) -> None:
    """Cumulative GEL by arm (95% CI, N per visit, weeks on a true axis from 0); unblinded,
    the forest plot of the rate ratio per site and pooled beside it."""
    forest = any(p.name == "model" for p, _ in result.parts)
    grid = fig.add_gridspec(1, 2, width_ratios=(1.4, 1)) if forest else fig.add_gridspec(1, 1)
    ax = fig.add_subplot(grid[0, 0])
    rows = _shown(result.part("cumulative"))

    def ci(r: dict[str, Any]) -> tuple[float, float]:
        return (r["ci_low"], r["ci_high"]) if r["ci_low"] is not None else (r["mean"], r["mean"])

    _by_arm(ax, rows, "mean", ci, spread=0.5, counts=True)
    ax.set_xlim(0, 26)
    ax.set_ylim(bottom=0)
    ax.set_xticks([0, 4, 12, 24])
    ax.set_xlabel("weeks since the first infusion (period 1)")
    ax.set_ylabel("mean cumulative GEL per patient (95% CI)")
    ax.set_title("Cumulative gadolinium-enhancing lesions, all sites")
    ax.legend(loc="upper left")
    if forest:
        _forest(fig.add_subplot(grid[0, 1]), result.part("model"))


def _forest(ax: Axes, model: Any) -> None:
    """Rate ratio (95% CI) per site, and pooled as a diamond, on a log scale."""
    from matplotlib.patches import Polygon

    rows = [r for r in model.to_pylist() if r["rate_ratio"] is not None]
    sites = [r for r in rows if r["scope"] != "pooled"]
    pooled = next((r for r in rows if r["scope"] == "pooled"), None)
    labels = [r["scope"] for r in sites] + (["pooled"] if pooled else [])
    for y, r in enumerate(sites):
        ax.plot([r["ci_low"], r["ci_high"]], [y, y], color="#3c3c3c", linewidth=1.2)
        ax.plot(r["rate_ratio"], y, marker="s", color="#3c3c3c", markersize=5)
    if pooled:
        at = len(sites) + 0.3
        ax.add_patch(
            Polygon(
                [
                    (pooled["ci_low"], at),
                    (pooled["rate_ratio"], at + 0.3),
                    (pooled["ci_high"], at),
                    (pooled["rate_ratio"], at - 0.3),
                ],
                closed=True,
                color=COLOURS["MSC"],
            )
        )
    ax.axvline(1.0, color="#888888", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ticks = [t for t in (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20) if _within(ax, t)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks([*range(len(sites)), len(sites) + 0.3][: len(labels)], labels)
    ax.set_ylim(len(labels) + 0.2, -0.8)
    ax.set_xlabel("rate ratio, MSC vs placebo (95% CI, log scale)")
    ax.set_title("GEL rate ratio by site (NB2)")
    hidden = [r["scope"] for r in model.to_pylist() if r["rate_ratio"] is None]
    if hidden:
        ax.text(
            0,
            -0.2,
            "not shown (suppressed or no fit): " + ", ".join(hidden),
            transform=ax.transAxes,
            fontsize=7,
            color="#666666",
            va="top",
        )


def _within(ax: Axes, tick: float) -> bool:
    low, high = ax.get_xlim()
    return bool(low <= tick <= high)


def _disability(result: Result, fig: Figure) -> None:
    """EDSS and MSFC z-score, and their change from baseline, by arm and visit (95% CIs)."""
    rows = _shown(result.part("change"))
    axes = fig.subplots(2, 2, sharex=True)
    panels = (("mean_value", "{}"), ("mean_change", "change in {} from baseline"))
    for i, measure in enumerate(("EDSS", "MSFC z")):
        of = [r for r in rows if r["measure"] == measure]
        for j, (value, label) in enumerate(panels):
            ax = axes[i][j]
            _by_arm(ax, of, value, _mean_interval(value), spread=1.2, counts=False)
            ax.set_ylabel(label.format("MSFC z-score" if measure == "MSFC z" else measure))
            if j == 1:
                ax.axhline(0, color="#888888", linewidth=0.8, linestyle=":")
    weeks = sorted({r["week"] for r in rows})
    for ax in axes[1]:
        ax.set_xticks(weeks)
        ax.set_xlabel("weeks since the first infusion")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=max(len(labels), 1))
    fig.suptitle("Disability by visit: mean (95% CI), all sites", fontsize=10)


ASSESSMENTS = {"visit": "visit", "mri": "MRI", "edss": "EDSS", "msfc": "MSFC", "labs": "laboratory"}


def _completeness(result: Result, fig: Figure) -> None:
    """Per assessment type, a site × visit grid: % present, with n/N (N: expected)."""
    rows = [r for r in result.part("visits").to_pylist() if r["scope"] != "pooled"]
    kinds = [k for k in ASSESSMENTS if any(r["assessment"] == k for r in rows)]
    kinds += sorted({r["assessment"] for r in rows} - set(kinds))
    sites = sorted({r["scope"] for r in rows})
    visits = [v for _, v in sorted({(r["week"], r["visit_code"]) for r in rows})]
    fig.set_size_inches(9, 2.0 + 1.7 * len(kinds))
    axes: list[Axes] = list(fig.subplots(len(kinds), 1, squeeze=False)[:, 0]) if kinds else []
    image = None
    for ax, kind in zip(axes, kinds, strict=True):
        image = _grid(ax, [r for r in rows if r["assessment"] == kind], sites, visits)
        ax.set_title(f"{ASSESSMENTS.get(kind, kind)}: present n / expected N", loc="left")
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="% of expected present", shrink=0.6)
    fig.suptitle(
        f"Assessments present per site and visit ({MARK}: suppressed; blank: not scheduled)",
        fontsize=10,
    )


def _grid(ax: Axes, rows: list[dict[str, Any]], sites: list[str], visits: list[str]) -> Any:
    import numpy as np

    grid = np.full((len(sites), len(visits)), np.nan)
    for r in rows:
        at = (sites.index(r["scope"]), visits.index(r["visit_code"]))
        if r["suppressed"]:
            ax.text(at[1], at[0], MARK, ha="center", va="center", fontsize=7)
            ax.add_patch(_hatch(at[1], at[0]))
        elif r["expected"]:
            grid[at] = 100.0 * r["present"] / r["expected"]
            colour = "white" if grid[at] < 75 else "black"
            ax.text(
                at[1],
                at[0],
                f"{r['present']}/{r['expected']}",
                ha="center",
                va="center",
                fontsize=7,
                color=colour,
            )
    image = ax.imshow(grid, cmap="viridis", vmin=50, vmax=100, aspect="auto")
    ax.set_xticks(range(len(visits)), [_visit(v) for v in visits])
    ax.set_yticks(range(len(sites)), sites)
    return image


def _visit(code: str) -> str:
    from federate.analyses.labels import visit

    return str(visit(code)).replace("baseline (week 0)", "week 0")


def _hatch(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="grey")


def svg(result: Result, footer: str) -> str:
    """The figure as an inline ``<svg>`` element (ids salted by analysis: unique in a page)."""
    import io

    import matplotlib as mpl

    sink = io.StringIO()
    salt = {**STYLE, "svg.hashsalt": f"federate-{result.analysis.name}"}
    with mpl.rc_context(salt):
        figure(result, footer).savefig(sink, format="svg", metadata=_metadata("svg"))
    text = sink.getvalue()
    return text[text.index("<svg") :]
