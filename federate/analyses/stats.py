"""The statistics SQL cannot do, kept thin: each function takes one row per patient (from a
``*_patients.sql`` file) and returns one row per scope (pooled, then each site).

- ``nb2_rate_ratio``: the primary endpoint. Negative binomial (NB2: variance mu + alpha*mu^2,
  alpha estimated by maximum likelihood: statsmodels.discrete NegativeBinomial, not the GLM
  family with a fixed alpha) of total GEL on MSC (1) vs placebo (0), baseline GEL (count) and,
  pooled, site (indicators, the first site the reference), with log(scans) as offset.
- ``crossover_rate_ratio``: within patient, conditional on the patient's total over both
  periods (which removes the patient's own level): GEL in period 2 out of both periods is
  binomial with logit = period effect + log RR * (+1 MSC in period 2, -1 MSC in period 1) +
  log(scans period 2 / scans period 1); standard errors scaled by the Pearson dispersion
  when it is over 1 (quasi-binomial).
- ``poisson_ci``: the exact (Garwood) 95% interval of an annualised rate.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from federate.analyses import likelihood

MODEL_FIELDS = [
    ("scope", pa.string()),
    ("rate_ratio", pa.float64()),
    ("ci_low", pa.float64()),
    ("ci_high", pa.float64()),
    ("p_value", pa.float64()),
    ("note", pa.string()),
]


def _scopes(patients: pa.Table) -> list[tuple[str, np.ndarray]]:
    sites = np.array(patients.column("site").to_pylist(), dtype=object)
    scopes = [("pooled", np.ones(len(sites), dtype=bool))]
    return scopes + [(str(s), sites == s) for s in sorted(set(sites))]


def _columns(patients: pa.Table, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {n: np.array(patients.column(n).to_pylist(), dtype=object) for n in names}


def _row(scope: str, fit: dict[str, Any] | None, note: str) -> dict[str, Any]:
    """A fitted row, or one with only a note (missing estimates are null)."""
    return {"scope": scope, **fit} if fit else {"scope": scope, "note": note}


def nb2_rate_ratio(patients: pa.Table) -> pa.Table:
    """Rows: scope, rate_ratio (MSC vs placebo), ci_low, ci_high, p_value, alpha, note."""
    cols = _columns(patients, ("site", "arm", "scans", "total_gel", "baseline_gel"))
    usable = np.array([b is not None for b in cols["baseline_gel"]], dtype=bool)
    rows = []
    for scope, in_scope in _scopes(patients):
        keep = in_scope & usable
        arm = cols["arm"][keep]
        if not (arm == "MSC").any() or not (arm == "PLACEBO").any():
            rows.append(_row(scope, None, "both arms are needed"))
            continue
        x = [(arm == "MSC").astype(float), cols["baseline_gel"][keep].astype(float)]
        sites = cols["site"][keep]
        if scope == "pooled":
            x += [(sites == s).astype(float) for s in sorted(set(sites))[1:]]
        fit = _fit_nb2(
            cols["total_gel"][keep].astype(float),
            np.column_stack([np.ones(keep.sum()), *x]),
            np.log(cols["scans"][keep].astype(float)),
        )
        rows.append(_row(scope, fit, "no stable fit (did not converge, or degenerate)"))
    schema = pa.schema([*MODEL_FIELDS[:5], ("alpha", pa.float64()), MODEL_FIELDS[5]])
    return pa.Table.from_pylist(rows, schema=schema)


def fit_nb2(
    y: np.ndarray, x: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, likelihood.Derivatives] | None:
    """The maximum likelihood (beta..., log alpha): statsmodels' optimiser, then Newton steps
    to a gradient norm of at most likelihood.TOLERANCE; None without a stable fit."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is reported in the row, not printed
        try:
            result = NegativeBinomial(y, x, loglike_method="nb2", offset=offset).fit(
                disp=0, maxiter=500
            )
            start = np.asarray(result.params, dtype=float)
            if not (np.all(np.isfinite(start)) and start[-1] > 0):
                return None
            start[-1] = math.log(start[-1])
            return likelihood.polish(lambda p: likelihood.derivatives(y, x, offset, p), start)
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            return None


def _fit_nb2(y: np.ndarray, x: np.ndarray, offset: np.ndarray) -> dict[str, Any] | None:
    fit = fit_nb2(y, x, offset)
    if fit is None:
        return None
    params, at = fit
    return ratio(params, at, 1, alpha=math.exp(float(params[-1])))


def crossover_rate_ratio(patients: pa.Table) -> pa.Table:
    """Rows: scope, rate_ratio (MSC vs placebo, within patient), ci, p, period_ratio, note."""
    names = ("site", "sequence", "scans_period1", "gel_period1", "scans_period2", "gel_period2")
    cols = _columns(patients, names)
    y1, y2 = cols["gel_period1"].astype(float), cols["gel_period2"].astype(float)
    informative = (y1 + y2) > 0  # a patient with no lesions in either period says nothing
    rows = []
    for scope, in_scope in _scopes(patients):
        keep = in_scope & informative
        seq = cols["sequence"][keep]
        if not (seq == "MSC_PLACEBO").any() or not (seq == "PLACEBO_MSC").any():
            rows.append(_row(scope, None, "both sequences with lesions are needed"))
            continue
        direction = np.where(seq == "PLACEBO_MSC", 1.0, -1.0)
        offset = np.log(
            cols["scans_period2"][keep].astype(float) / cols["scans_period1"][keep].astype(float)
        )
        fit = _fit_conditional(y2[keep], y1[keep], direction, offset)
        rows.append(_row(scope, fit, "no stable fit (did not converge, or degenerate)"))
    schema = pa.schema([*MODEL_FIELDS[:5], ("period_ratio", pa.float64()), MODEL_FIELDS[5]])
    return pa.Table.from_pylist(rows, schema=schema)


def fit_conditional(
    y2: np.ndarray, y1: np.ndarray, direction: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, likelihood.Derivatives, float] | None:
    """(period effect, log RR), the derivatives there and the dispersion scale: IRLS, then
    Newton steps to a gradient norm of at most likelihood.TOLERANCE."""
    import statsmodels.api as sm

    x = np.column_stack([np.ones(len(direction)), direction])
    n = y1 + y2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = sm.GLM(
                np.column_stack([y2, y1]), x, family=sm.families.Binomial(), offset=offset
            )
            start = np.asarray(model.fit().params, dtype=float)
            fit = likelihood.polish(
                lambda p: likelihood.logit_derivatives(y2, n, x, offset, p), start
            )
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            return None
    if fit is None:
        return None
    params, at = fit
    # Quasi-binomial: standard errors widened by the Pearson dispersion when over 1.
    p = 1 / (1 + np.exp(-(x @ params + offset)))
    pearson = float(np.sum((y2 - n * p) ** 2 / (n * p * (1 - p))))
    return params, at, max(1.0, pearson / max(len(y2) - 2, 1))


def _fit_conditional(
    y2: np.ndarray, y1: np.ndarray, direction: np.ndarray, offset: np.ndarray
) -> dict[str, Any] | None:
    fit = fit_conditional(y2, y1, direction, offset)
    if fit is None:
        return None
    params, at, scale = fit
    period = float(params[0])
    return ratio(
        params,
        at,
        1,
        scale=scale,
        period_ratio=math.exp(period) if abs(period) < _MAX_LOG else None,
    )


_MAX_LOG = 30.0  # |log ratio| beyond this is a degenerate fit (separation), not an estimate


def ratio(
    params: np.ndarray,
    at: likelihood.Derivatives,
    index: int,
    *,
    scale: float = 1.0,
    **extra: float | None,
) -> dict[str, Any] | None:
    """exp of coefficient ``index`` with its Wald 95% CI and p, or None for a degenerate fit."""
    try:
        estimate, low, high, p = likelihood.wald(params, at, index, scale)
    except (np.linalg.LinAlgError, ValueError):
        return None
    if not all(np.isfinite(v) and abs(v) < _MAX_LOG for v in (estimate, low, high)):
        return None
    return {
        "rate_ratio": math.exp(estimate),
        "ci_low": math.exp(low),
        "ci_high": math.exp(high),
        "p_value": p,
        **extra,
        "note": "",
    }


def poisson_ci(table: pa.Table, events: str, exposure: str) -> pa.Table:
    """Add ci_low and ci_high: the exact 95% interval of events / exposure."""
    from scipy.stats import chi2

    k = np.array(table.column(events).to_pylist(), dtype=float)
    t = np.array(table.column(exposure).to_pylist(), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, chi2.ppf(0.025, 2 * k) / 2, 0.0) / t
        high = chi2.ppf(0.975, 2 * k + 2) / 2 / t
    ok = np.isfinite(low) & np.isfinite(high) & (t > 0)
    table = table.append_column("ci_low", pa.array(np.where(ok, low, np.nan), from_pandas=True))
    return table.append_column("ci_high", pa.array(np.where(ok, high, np.nan), from_pandas=True))
