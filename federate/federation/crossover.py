"""The primary endpoint's crossover parts, federated: the descriptive table from secure sums
(crossover.sql's columns), and the within-patient rate ratio (the conditional binomial of
``stats.crossover_rate_ratio``) by federated Newton-Raphson, its quasi-binomial dispersion
from the summed Pearson statistic at the maximum."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from federate.analyses import likelihood, stats
from federate.federation.analyst import Session
from federate.federation.compute import SEQUENCES
from federate.federation.primary import Evaluate, derivatives, newton

DESCRIPTIVE = pa.schema(
    [
        ("scope", pa.string()),
        ("arm", pa.string()),
        ("patients", pa.int64()),
        ("scans_period1", pa.int64()),
        ("gel_period1", pa.int64()),
        ("scans_period2", pa.int64()),
        ("gel_period2", pa.int64()),
        ("gel_per_scan_period1", pa.float64()),
        ("gel_per_scan_period2", pa.float64()),
        ("mean_change_gel_per_scan", pa.float64()),
    ]
)
MODEL = pa.schema([*stats.MODEL_FIELDS[:5], ("period_ratio", pa.float64()), stats.MODEL_FIELDS[5]])


def descriptive(session: Session) -> pa.Table:
    answers = session.ask("crossover")
    site_rows = session.rows(answers, session.last_task())
    sums = np.array(session.secure_sum(answers)).reshape(-1, 6)
    pooled = []
    for i, arm in enumerate(SEQUENCES[session.role]):
        n, s1, g1, s2, g2, change = (float(v) for v in sums[i])
        if round(n) == 0:
            continue
        pooled.append(
            {
                "scope": "pooled",
                "arm": arm,
                "patients": round(n),
                "scans_period1": round(s1),
                "gel_period1": round(g1),
                "scans_period2": round(s2),
                "gel_period2": round(g2),
                "gel_per_scan_period1": g1 / s1,
                "gel_per_scan_period2": g2 / s2,
                "mean_change_gel_per_scan": change / n,
            }
        )
    rows = sorted(pooled + site_rows, key=lambda r: (r["scope"] != "pooled", r["scope"], r["arm"]))
    return pa.Table.from_pylist(rows, schema=DESCRIPTIVE)


def _round(session: Session) -> Evaluate:
    def evaluate(params: np.ndarray, iteration: int) -> tuple[likelihood.Derivatives, np.ndarray]:
        request = {"at": [float(v) for v in params], "iteration": iteration}
        total = np.array(session.secure_sum(session.ask("logit", request)))
        return derivatives(total, 2), total

    return evaluate


def model(session: Session) -> pa.Table:
    params, at, total = newton(_round(session), 2)
    pearson, patients = float(total[-2]), float(total[-1])
    scale = max(1.0, pearson / max(round(patients) - 2, 1))
    period = float(params[0])
    fit = stats.ratio(
        params,
        at,
        1,
        scale=scale,
        period_ratio=math.exp(period) if abs(period) < 30 else None,
    )
    pooled: dict[str, Any] = (
        {"scope": "pooled", **fit}
        if fit
        else {
            "scope": "pooled",
            "note": "no stable fit (did not converge, or degenerate)",
        }
    )
    answers = session.ask("logit_site")
    sites = sorted(session.rows(answers, session.last_task()), key=lambda r: str(r["scope"]))
    return pa.Table.from_pylist([pooled, *sites], schema=MODEL)
