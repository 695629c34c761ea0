"""Who may see allocation: the blinded role (the default) and the unblinded statistician.

Each role's SQL session sees the shared tables plus views that put every patient under an arm
label, so one analysis reads the same for both roles:

    allocation(site, subject_id, arm)             arm: the randomised sequence (MSC_PLACEBO,
                                                  PLACEBO_MSC), and 'ALL' for every patient
    periods(site, subject_id, period, start_date, end_date, follow_up_end)
                                                  0 before the first infusion, 1 from it,
                                                  2 from the second; end exclusive, NULL for
                                                  the last period (open); follow-up ends the
                                                  day after the last visit
    treatment_periods(site, subject_id, period, arm, start_date, end_date, follow_up_end)
                                                  arm: the product given in the period (MSC,
                                                  PLACEBO; NONE in period 0), and 'ALL'

A patient has one row under their own arm and one under 'ALL' (pooled over arms). The blinded
role's views are built from its blinded tables, which have no sequence or product at all: it
sees only the 'ALL' rows.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from federate.warehouse import audit
from federate.warehouse.catalog import LOCK
from federate.warehouse.fs import locked

ALL = "ALL"  # the arm label of "pooled over arms"


class Role(StrEnum):
    BLINDED = "blinded"
    UNBLINDED = "unblinded"


_PERIODS = """
CREATE VIEW periods AS
WITH infused AS (
    SELECT site, subject_id,
           min(infusion_date) FILTER (WHERE period = 1) AS first_infusion,
           min(infusion_date) FILTER (WHERE period = 2) AS second_infusion
    FROM infusions
    GROUP BY site, subject_id
),
follow_up AS (  -- ends the day after the last visit
    SELECT site, subject_id, max(visit_date) + 1 AS ends FROM visits GROUP BY site, subject_id
)
SELECT r.site, r.subject_id, p.period,
       CASE p.period WHEN 1 THEN i.first_infusion WHEN 2 THEN i.second_infusion END AS start_date,
       CASE p.period WHEN 0 THEN i.first_infusion WHEN 1 THEN i.second_infusion END AS end_date,
       f.ends AS follow_up_end
FROM randomisation AS r
CROSS JOIN (VALUES (0), (1), (2)) AS p(period)
LEFT JOIN infused AS i USING (site, subject_id)
LEFT JOIN follow_up AS f USING (site, subject_id)
WHERE p.period = 0
   OR (p.period = 1 AND i.first_infusion IS NOT NULL)
   OR (p.period = 2 AND i.second_infusion IS NOT NULL)
"""

_BLINDED = (
    _PERIODS,
    "CREATE VIEW allocation AS SELECT site, subject_id, 'ALL' AS arm FROM randomisation",
    """CREATE VIEW treatment_periods AS
    SELECT site, subject_id, period, 'ALL' AS arm, start_date, end_date, follow_up_end
    FROM periods""",
)

_UNBLINDED = (
    _PERIODS,
    """CREATE VIEW allocation AS
    SELECT site, subject_id, sequence AS arm FROM randomisation
    UNION ALL
    SELECT site, subject_id, 'ALL' AS arm FROM randomisation""",
    # Each period row twice, under its product and under 'ALL', from one pass over periods: a
    # UNION ALL of the two would compute periods (and the follow-up from every visit) twice
    # for every query that reads this view.
    """CREATE VIEW treatment_periods AS
    SELECT p.site, p.subject_id, p.period, a.arm, p.start_date, p.end_date, p.follow_up_end
    FROM periods AS p
    LEFT JOIN infusions AS i USING (site, subject_id, period)
    CROSS JOIN unnest([CASE WHEN p.period = 0 THEN 'NONE' ELSE i.product END, 'ALL']) AS a(arm)""",
)


def views(role: Role) -> tuple[str, ...]:
    return _UNBLINDED if role is Role.UNBLINDED else _BLINDED


def record_unblinded(warehouse: Path, purpose: str, operator: str | None = None) -> str:
    """Log an unblinded session in the warehouse's audit log before it sees anything. The
    entry says who and what for, never a result (the log must not unblind its readers)."""
    with locked(warehouse / LOCK):
        return audit.append(
            warehouse,
            operator=audit.accountable(operator),
            action="unblinded",
            site="",
            submission_id="",
            manifest_sha256="",
            outcome="ok",
            reason=purpose,
        )
