"""The primary endpoint, federated: the same tables as ``federate analyses run
primary-endpoint`` on the pooled warehouse, from secure sums and the sites' sealed rows.

- period1, pooled rows: patients, scans and total GEL summed; mean and SD from the sums of
  total GEL and of its square; the median by search on the value, each round a count of
  patients at or under some thresholds (total GEL is a whole number, so the search is exact).
- model, pooled row: the NB2 fit by Newton-Raphson, each round the sites' summed log-likelihood,
  gradient and Hessian at the current parameters, to a gradient norm of at most 1e-8.
- the per-site rows: each site's own, as its node computed them with the pooled SQL.
- cumulative and crossover: secure sums; crossover_model: the conditional binomial by the same
  federated Newton-Raphson (``federation.crossover``).
A part not federated would be named in ``missing`` (today every part of the endpoint is).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from federate import analyses
from federate.analyses import estimates, likelihood, stats
from federate.federation.analyst import Session
from federate.federation.compute import ARMS, WEEKS
from federate.federation.wire import FederationError
from federate.query.roles import Role

FEDERATED_PARTS = ("period1", "model", "cumulative", "crossover", "crossover_model")
PERIOD1 = pa.schema(
    [
        ("scope", pa.string()),
        ("arm", pa.string()),
        ("patients", pa.int64()),
        ("scans", pa.int64()),
        ("total_gel", pa.int64()),
        ("mean_gel_per_patient", pa.float64()),
        ("sd_gel_per_patient", pa.float64()),
        ("median_gel_per_patient", pa.float64()),
        ("gel_per_scan", pa.float64()),
    ]
)
CUMULATIVE = pa.schema(
    [
        ("scope", pa.string()),
        ("arm", pa.string()),
        ("visit_code", pa.string()),
        ("week", pa.int32()),
        ("patients", pa.int64()),
        ("mean", pa.float64()),
        ("sd", pa.float64()),
    ]
)
MODEL = pa.schema([*stats.MODEL_FIELDS[:5], ("alpha", pa.float64()), stats.MODEL_FIELDS[5]])
SEARCH_WIDTH = 32  # thresholds per arm and rank in one round of the median's search


def run(session: Session, min_cell: int) -> tuple[analyses.Result, list[str]]:
    """The released primary endpoint, and the parts not (yet) federated."""
    analysis = analyses.get("primary-endpoint")
    result = analyses.Result(analysis, session.role, min_cell)
    missing = []
    for part in analysis.parts:
        if part.unblinded_only and session.role is not Role.UNBLINDED:
            continue
        if part.name not in FEDERATED_PARTS:
            missing.append(part.name)
            continue
        table = _TABLES[part.name](session)
        result.parts.append((part, analyses._release(part, table, result)))
    return result, missing


def _period1(session: Session) -> pa.Table:
    answers = session.ask("period1")
    site_rows = session.rows(answers, session.last_task())
    sums = np.array(session.secure_sum(answers)).reshape(-1, 4)
    arms = ARMS[session.role]
    counts = {arm: round(sums[i, 0]) for i, arm in enumerate(arms)}
    medians = _medians(session, counts, {arm: sums[i, 2] for i, arm in enumerate(arms)})
    pooled = []
    for i, arm in enumerate(arms):
        n, scans, total, squares = (float(v) for v in sums[i])
        if counts[arm] == 0:
            continue
        sd = math.sqrt(max(squares - total * total / n, 0.0) / (n - 1)) if n > 1 else None
        pooled.append(
            {
                "scope": "pooled",
                "arm": arm,
                "patients": counts[arm],
                "scans": round(scans),
                "total_gel": round(total),
                "mean_gel_per_patient": total / n,
                "sd_gel_per_patient": sd,
                "median_gel_per_patient": medians[arm],
                "gel_per_scan": total / scans,
            }
        )
    rows = sorted(pooled + site_rows, key=lambda r: (r["scope"] != "pooled", r["scope"], r["arm"]))
    return pa.Table.from_pylist(rows, schema=PERIOD1)


def _cumulative(session: Session) -> pa.Table:
    """Mean and SD of cumulative GEL per arm and week, from summed counts and sums."""
    answers = session.ask("cumulative")
    site_rows = session.rows(answers, session.last_task())
    sums = iter(np.array(session.secure_sum(answers)).reshape(-1, 3))
    pooled = []
    for arm in ARMS[session.role]:
        for visit, week in WEEKS:
            n, total, squares = (float(v) for v in next(sums))
            if round(n) == 0:
                continue
            sd = math.sqrt(max(squares - total * total / n, 0.0) / (n - 1)) if n > 1 else None
            pooled.append(
                {
                    "scope": "pooled",
                    "arm": arm,
                    "visit_code": visit,
                    "week": week,
                    "patients": round(n),
                    "mean": total / n,
                    "sd": sd,
                }
            )
    rows = pooled + site_rows
    rows.sort(key=lambda r: (r["scope"] != "pooled", r["scope"], r["arm"], r["week"]))
    # The 95% CI of each mean, as the pooled part derives it (catalogue: estimates.mean_ci).
    return estimates.mean_ci(pa.Table.from_pylist(rows, schema=CUMULATIVE))


def _medians(
    session: Session, counts: dict[str, int], totals: dict[str, float]
) -> dict[str, float]:
    """quantile_cont(total GEL, 0.5) per arm: the values of ranks floor and ceil of (n-1)/2."""
    targets: dict[tuple[str, int], list[int]] = {}  # (arm, rank) -> [a, b]: value in (a, b]
    for arm, n in counts.items():
        for rank in {(n - 1) // 2 + 1, n // 2 + 1} if n else set():
            targets[(arm, rank)] = [-1, round(totals[arm])]
    while any(b - a > 1 for a, b in targets.values()):
        asked = [(key, _thresholds(*bounds)) for key, bounds in targets.items()]
        params = {"thresholds": [[arm, ts] for (arm, _), ts in asked]}
        found = iter(session.secure_sum(session.ask("ranks", params)))
        for (key, ts), bounds in zip(asked, (targets[k] for k, _ in asked), strict=True):
            for t in ts:
                if round(next(found)) >= key[1]:
                    bounds[1] = min(bounds[1], t)
                else:
                    bounds[0] = max(bounds[0], t)
    out = {}
    for arm, n in counts.items():
        if n:
            low, high = targets[(arm, (n - 1) // 2 + 1)][1], targets[(arm, n // 2 + 1)][1]
            out[arm] = low + ((n - 1) / 2 - (n - 1) // 2) * (high - low)
    return out


def _thresholds(a: int, b: int) -> list[int]:
    if b - a <= 1:
        return []
    if b - a - 1 <= SEARCH_WIDTH:
        return list(range(a + 1, b))
    return sorted({int(v) for v in np.linspace(a + 1, b - 1, SEARCH_WIDTH)})


def _model(session: Session) -> pa.Table:
    params, at, _ = newton(_nb2_round(session), 3 + len(session.sites))
    fit = stats.ratio(params, at, 1, alpha=math.exp(float(params[-1])))
    pooled: dict[str, Any] = (
        {"scope": "pooled", **fit}
        if fit
        else {"scope": "pooled", "note": "no stable fit (did not converge, or degenerate)"}
    )
    answers = session.ask("nb2_site")
    sites = sorted(session.rows(answers, session.last_task()), key=lambda r: str(r["scope"]))
    return pa.Table.from_pylist([pooled, *sites], schema=MODEL)


Evaluate = Callable[[np.ndarray, int], tuple[likelihood.Derivatives, np.ndarray]]


def newton(evaluate: Evaluate, size: int) -> tuple[np.ndarray, likelihood.Derivatives, np.ndarray]:
    """Federated Newton-Raphson with step halving from zero: each round one task, whose summed
    answer ``evaluate`` returns as derivatives (and the raw sums); to a gradient norm of at
    most 1e-8. Returns the parameters, the derivatives and the raw sums there."""
    params = np.zeros(size)
    best: tuple[np.ndarray, likelihood.Derivatives, np.ndarray] | None = None
    step = np.zeros(size)
    for iteration in range(1, 61):
        at, totals = evaluate(params, iteration)
        if best is not None and not (at.loglik >= best[1].loglik - 1e-12 * abs(best[1].loglik)):
            step = step / 2  # the likelihood fell: back, half as far
            params = best[0] + step
            continue
        best = (params, at, totals)
        if float(np.linalg.norm(at.gradient)) <= likelihood.TOLERANCE:
            return best
        step = _ascent(at)
        params = params + step
    raise FederationError("the federated fit did not converge in 60 rounds", code="no-fit")


def derivatives(total: np.ndarray, size: int) -> likelihood.Derivatives:
    """Log-likelihood, gradient and Hessian from the head of a summed answer."""
    return likelihood.Derivatives(
        float(total[0]),
        total[1 : size + 1],
        total[size + 1 : size + 1 + size * size].reshape(size, size),
    )


def _ascent(at: likelihood.Derivatives) -> np.ndarray:
    """The Newton step, or a damped one where the Hessian is not negative definite."""
    step = likelihood.newton_step(at)
    if step is not None:
        return step
    lowest = float(np.min(np.linalg.eigvalsh(-at.hessian)))
    damped = -at.hessian + (abs(lowest) + 1.0) * np.eye(len(at.gradient))
    return np.asarray(np.linalg.solve(damped, at.gradient))


def _nb2_round(session: Session) -> Evaluate:
    def evaluate(params: np.ndarray, iteration: int) -> tuple[likelihood.Derivatives, np.ndarray]:
        request = {"at": [float(v) for v in params], "sites": session.sites, "iteration": iteration}
        total = np.array(session.secure_sum(session.ask("nb2", request)))
        return derivatives(total, len(params)), total

    return evaluate


def _tables() -> dict[str, Callable[[Session], pa.Table]]:
    from federate.federation import crossover

    return {
        "period1": _period1,
        "model": _model,
        "cumulative": _cumulative,
        "crossover": crossover.descriptive,
        "crossover_model": crossover.model,
    }


_TABLES = _tables()
