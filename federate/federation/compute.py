"""What a node computes on its own validated bundle: the allow-listed steps of the primary
endpoint, each over the same SQL files and statistics as the pooled warehouse. A step returns
numbers to be summed securely across sites (``secure``) and, for the site's own released rows,
rows sealed for the analyst (``rows``).

Steps (the allow-list):
- ``period1``: per arm, patients, scans, total GEL and the sum of its squares; the site's rows
  of primary_endpoint.sql.
- ``ranks``: per arm and threshold, how many patients have total GEL at most the threshold
  (the pooled median, by search on the value).
- ``nb2``: the log-likelihood, gradient and Hessian of the pooled NB2 model at the given
  parameters over the site's patients; ``nb2_site``: the site's own NB2 row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate import analyses
from federate.analyses import likelihood, stats
from federate.bundle import manifest
from federate.errors import PrivacyError, UsageError
from federate.query.roles import Role, views

WEEKS = (("W4", 4), ("W12", 12), ("W24", 24))
ARMS = {Role.BLINDED: ("ALL",), Role.UNBLINDED: ("MSC", "PLACEBO", "ALL")}
SEQUENCES = {Role.BLINDED: ("ALL",), Role.UNBLINDED: ("MSC_PLACEBO", "PLACEBO_MSC", "ALL")}
UNBLINDED_STEPS = ("nb2", "nb2_site", "logit", "logit_site")
PERIOD1, CUMULATIVE = ("primary-endpoint", "period1"), ("primary-endpoint", "cumulative")
UNREACHABLE = -1e20  # the log-likelihood a site reports where it overflows


@dataclass(frozen=True)
class Policy:
    """A site's limits (``--policy FILE``, JSON): DataSHIELD's nfilter.subset and nfilter.glm."""

    min_cell: int = 3
    max_parameters_per_patient: float = 1.0
    max_iterations: int = 60


@dataclass
class Answer:
    secure: list[float] = field(default_factory=list)
    rows: list[dict[str, Any]] | None = None
    part: tuple[str, str] | None = None  # (analysis, part) whose released table ``rows`` are


class Bundle:
    """The site's bundle, verified (seal and columns), as DuckDB views per role."""

    def __init__(self, path: Path) -> None:
        from federate.adapters import registry

        self.manifest = manifest.verify(path, registry.schema())
        self.site = str(self.manifest["site"])
        self.path = path
        self._patients: dict[Role, pa.Table] = {}

    def session(self, role: Role) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        for table in self.manifest["tables"]:
            source = manifest.table_path(self.path, table).as_posix().replace("'", "''")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{source}')")
        for statement in views(role):
            con.execute(statement)
        return con

    def run(self, role: Role, sql_file: str) -> pa.Table:
        return self.session(role).sql(analyses.sql(sql_file)).to_arrow_table()

    def patients(self, role: Role) -> pa.Table:
        """One row per patient (site, subject, arm, total GEL) under every arm label."""
        if role not in self._patients:
            self._patients[role] = (
                self.session(role)
                .sql(
                    "WITH p AS (SELECT site, subject_id, sum(gel_count) AS total_gel, "
                    "count(*) AS scans FROM mri WHERE visit_code IN ('W4', 'W12', 'W24') "
                    "GROUP BY ALL) SELECT CASE a.arm WHEN 'MSC_PLACEBO' THEN 'MSC' WHEN "
                    "'PLACEBO_MSC' THEN 'PLACEBO' ELSE a.arm END AS arm, p.total_gel, p.scans "
                    "FROM p JOIN allocation AS a USING (site, subject_id)"
                )
                .to_arrow_table()
            )
        return self._patients[role]


Step = Callable[[Bundle, Role, dict[str, Any], Policy], Answer]


def compute(
    bundle: Bundle, step: str, role: Role, params: dict[str, Any], policy: Policy
) -> Answer:
    """Answer one allow-listed step (``allow_list()``) on the site's bundle."""
    steps = allow_list()
    if step not in steps:
        raise PrivacyError(f"{step!r} is not on this site's allow-list", code="not-allowed")
    if step in UNBLINDED_STEPS and role is not Role.UNBLINDED:
        raise PrivacyError(f"{step} needs the unblinded role", code="not-allowed")
    return steps[step](bundle, role, params, policy)


def allow_list() -> dict[str, Step]:
    """Every step a node answers, by name: the primary endpoint's here, the other analyses'
    in their own modules, merged in here."""
    return {
        "period1": lambda b, r, p, pol: _period1(b, r, pol),
        "ranks": _ranks,
        "cumulative": lambda b, r, p, pol: _cumulative(b, r, pol),
        "nb2": lambda b, r, p, pol: _nb2(b, p, pol),
        "nb2_site": lambda b, r, p, pol: _site_fit(b, "nb2"),
        "crossover": lambda b, r, p, pol: _crossover(b, r, pol),
        "logit": lambda b, r, p, pol: _logit(b, p, pol),
        "logit_site": lambda b, r, p, pol: _site_fit(b, "logit"),
    }


def _site_fit(bundle: Bundle, model: str) -> Answer:
    """The site's own row of the NB2 or crossover model, fitted on its patients alone."""
    if model == "nb2":
        table = stats.nb2_rate_ratio(bundle.run(Role.UNBLINDED, "primary_endpoint_patients.sql"))
    else:
        table = stats.crossover_rate_ratio(bundle.run(Role.UNBLINDED, "crossover_patients.sql"))
    part = "model" if model == "nb2" else "crossover_model"
    rows = [r for r in table.to_pylist() if r["scope"] == bundle.site]
    return Answer(rows=rows, part=("primary-endpoint", part))


def _small(counts: dict[str, int], policy: Policy) -> None:
    """Refuse a computation over 1..min_cell-1 of the site's patients. Per-arm values go only
    into masked sums and into the site's rows, which are released under disclosure control."""
    for arm, n in counts.items():
        if 0 < n < policy.min_cell:
            raise PrivacyError(
                f"the subset {arm} has {n} patients, under this site's minimum cell "
                f"of {policy.min_cell}",
                code="small-subset",
            )


def _arm_values(bundle: Bundle, role: Role, policy: Policy) -> dict[str, np.ndarray]:
    table = bundle.patients(role)
    gel = table["total_gel"].to_numpy().astype(float)
    out = {a: gel[pc.equal(table["arm"], a).to_numpy(zero_copy_only=False)] for a in ARMS[role]}
    _small({"ALL": len(out["ALL"])}, policy)
    return out


def _period1(bundle: Bundle, role: Role, policy: Policy) -> Answer:
    values = _arm_values(bundle, role, policy)
    table = bundle.patients(role)
    scans = table["scans"].to_numpy().astype(float)
    secure: list[float] = []
    for a in ARMS[role]:
        gel, in_arm = values[a], pc.equal(table["arm"], a).to_numpy(zero_copy_only=False)
        secure += [len(gel), float(scans[in_arm].sum()), float(gel.sum()), float((gel**2).sum())]
    rows = bundle.run(role, "primary_endpoint.sql").to_pylist()
    return Answer(secure, [r for r in rows if r["scope"] == bundle.site], PERIOD1)


def _ranks(bundle: Bundle, role: Role, params: dict[str, Any], policy: Policy) -> Answer:
    values = _arm_values(bundle, role, policy)
    secure: list[float] = []
    for arm, thresholds in params["thresholds"]:
        gel = values[str(arm)]
        secure += [float((gel <= float(t)).sum()) for t in thresholds]
    return Answer(secure)


def _nb2(bundle: Bundle, params: dict[str, Any], policy: Policy) -> Answer:
    """Sums over the site's patients at ``params``: the design of the pooled model (intercept,
    MSC, baseline GEL, an indicator of each site but the first, then log alpha)."""
    if int(params["iteration"]) > policy.max_iterations:
        raise PrivacyError(
            f"iteration {params['iteration']} is past this site's limit of {policy.max_iterations}",
            code="too-many-iterations",
        )
    y, x, offset = _design(bundle, [str(s) for s in params["sites"]])
    used = int(np.count_nonzero(np.abs(x).sum(axis=0))) + 1  # columns this site informs, alpha
    if len(y) and used > policy.max_parameters_per_patient * len(y):
        raise PrivacyError(
            f"{used} parameters for {len(y)} patients is over this site's limit of "
            f"{policy.max_parameters_per_patient} per patient",
            code="too-many-parameters",
        )
    with np.errstate(all="ignore"):
        at = likelihood.derivatives(y, x, offset, np.array(params["at"], dtype=float))
    values = [at.loglik, *at.gradient, *at.hessian.ravel()]
    if not np.all(np.isfinite(values)):  # overflow far from the maximum: "much worse", step back
        values = [UNREACHABLE] + [0.0] * (len(values) - 1)
    return Answer(values)


def _design(bundle: Bundle, sites: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if bundle.site not in sites:
        raise UsageError(f"{bundle.site} is not among the model's sites", code="bad-request")
    table = bundle.run(Role.UNBLINDED, "primary_endpoint_patients.sql")
    table = table.filter(pc.is_valid(table["baseline_gel"]))
    n = table.num_rows
    x = np.zeros((n, 3 + len(sites) - 1))
    x[:, 0] = 1.0
    x[:, 1] = pc.equal(table["arm"], "MSC").to_numpy(zero_copy_only=False)
    x[:, 2] = table["baseline_gel"].to_numpy().astype(float)
    if bundle.site != sites[0]:
        x[:, 3 + sites.index(bundle.site) - 1] = 1.0
    y = table["total_gel"].to_numpy().astype(float)
    offset = np.log(table["scans"].to_numpy().astype(float))
    return y, x, offset


_CROSSOVER = """
SELECT a.arm,
       count(*) FILTER (WHERE visit_code IN ('W4', 'W12', 'W24'))::DOUBLE AS s1,
       coalesce(sum(gel_count) FILTER (WHERE visit_code IN ('W4', 'W12', 'W24')), 0)::DOUBLE
           AS g1,
       count(*) FILTER (WHERE visit_code IN ('W28', 'W36', 'W48'))::DOUBLE AS s2,
       coalesce(sum(gel_count) FILTER (WHERE visit_code IN ('W28', 'W36', 'W48')), 0)::DOUBLE
           AS g2
FROM mri JOIN allocation AS a USING (site, subject_id)
GROUP BY a.arm, site, subject_id
HAVING s1 > 0 AND s2 > 0
"""


def _crossover(bundle: Bundle, role: Role, policy: Policy) -> Answer:
    """Per sequence: patients, scans and GEL in each period, and the sum over patients of the
    change in GEL per scan (crossover.sql's columns); the site's rows of crossover.sql."""
    table = bundle.session(role).sql(_CROSSOVER).to_arrow_table()
    cols = {c: table[c].to_numpy() for c in ("s1", "g1", "s2", "g2")}
    secure: list[float] = []
    counts = {}
    for arm in SEQUENCES[role]:
        keep = pc.equal(table["arm"], arm).to_numpy(zero_copy_only=False)
        counts[arm] = int(keep.sum())
        s1, g1, s2, g2 = (cols[c][keep] for c in ("s1", "g1", "s2", "g2"))
        change = float((g2 / s2 - g1 / s1).sum())
        secure += [counts[arm], s1.sum(), g1.sum(), s2.sum(), g2.sum(), change]
    _small({"ALL": counts["ALL"]}, policy)
    rows = bundle.run(role, "crossover.sql").to_pylist()
    site_rows = [r for r in rows if r["scope"] == bundle.site]
    return Answer([float(v) for v in secure], site_rows, ("primary-endpoint", "crossover"))


def _logit(bundle: Bundle, params: dict[str, Any], policy: Policy) -> Answer:
    """The conditional binomial of the crossover at ``params`` (period, log RR) over the
    site's informative patients: log-likelihood, gradient, Hessian, then the Pearson sum and
    the number of patients (the dispersion)."""
    if int(params["iteration"]) > policy.max_iterations:
        raise PrivacyError(
            f"iteration {params['iteration']} is past this site's limit of {policy.max_iterations}",
            code="too-many-iterations",
        )
    table = bundle.run(Role.UNBLINDED, "crossover_patients.sql")
    cols = {c: table[c].to_numpy().astype(float) for c in table.column_names[3:]}
    y1, y2 = cols["gel_period1"], cols["gel_period2"]
    informative = (y1 + y2) > 0
    _small({"informative": int(informative.sum())}, policy)
    seq = pc.equal(table["sequence"], "PLACEBO_MSC").to_numpy(zero_copy_only=False)[informative]
    x = np.column_stack([np.ones(len(seq)), np.where(seq, 1.0, -1.0)])
    s1, s2 = table["scans_period1"].to_numpy().astype(float), cols["scans_period2"]
    offset = np.log(s2[informative] / s1[informative])
    y, n = y2[informative], (y1 + y2)[informative]
    at_params = np.array(params["at"], dtype=float)
    with np.errstate(all="ignore"):
        at = likelihood.logit_derivatives(y, n, x, offset, at_params)
        p = 1 / (1 + np.exp(-(x @ at_params + offset)))
        pearson = float(np.sum((y - n * p) ** 2 / (n * p * (1 - p))))
    values = [at.loglik, *at.gradient, *at.hessian.ravel(), pearson, float(len(y))]
    if not np.all(np.isfinite(values)):
        values = [UNREACHABLE] + [0.0] * (len(values) - 1)
    return Answer(values)


_CUMULATIVE = """
WITH scans AS (
    SELECT m.site, m.subject_id, w.week, sum(m.gel_count) AS gel
    FROM mri AS m
    JOIN (VALUES ('W4', 4), ('W12', 12), ('W24', 24)) AS w(visit_code, week) USING (visit_code)
    GROUP BY ALL
),
running AS (
    SELECT s.*, sum(s.gel) OVER (PARTITION BY s.site, s.subject_id ORDER BY s.week) AS c
    FROM scans AS s
)
SELECT CASE a.arm WHEN 'MSC_PLACEBO' THEN 'MSC' WHEN 'PLACEBO_MSC' THEN 'PLACEBO' ELSE a.arm END
           AS arm,
       r.week, count(*)::DOUBLE AS n, sum(r.c)::DOUBLE AS s, sum(r.c * r.c)::DOUBLE AS ss
FROM running AS r JOIN allocation AS a USING (site, subject_id)
GROUP BY ALL
"""


def _cumulative(bundle: Bundle, role: Role, policy: Policy) -> Answer:
    """Per arm and week: patients, and the sums of cumulative GEL and of its square (the
    columns of primary_endpoint_cumulative.sql); the site's rows of that file."""
    _arm_values(bundle, role, policy)  # the site's patients: its minimum cell
    groups = {
        (str(r["arm"]), int(r["week"])): (r["n"], r["s"], r["ss"])
        for r in bundle.session(role).sql(_CUMULATIVE).to_arrow_table().to_pylist()
    }
    secure: list[float] = []
    for arm in ARMS[role]:
        for _, week in WEEKS:
            secure += groups.get((arm, week), (0.0, 0.0, 0.0))
    rows = bundle.run(role, "primary_endpoint_cumulative.sql").to_pylist()
    return Answer(secure, [r for r in rows if r["scope"] == bundle.site], CUMULATIVE)
