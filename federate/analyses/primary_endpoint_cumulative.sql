-- MESEMS primary endpoint over time: mean cumulative GEL per patient at weeks 4, 12 and 24
-- (period 1), by arm as randomised (MSC_PLACEBO -> MSC, PLACEBO_MSC -> PLACEBO, 'ALL' pooled).
-- A patient counts at a visit when scanned at that visit; their cumulative GEL adds every
-- period-1 scan up to it. Rows: one per (scope, arm, visit); mean and sd of the cumulative GEL
-- (its 95% CI is added by federate.analyses.estimates.mean_ci).

WITH scans AS (
    SELECT m.site, m.subject_id, w.visit_code, w.week, sum(m.gel_count) AS gel
    FROM mri AS m
    JOIN (VALUES ('W4', 4), ('W12', 12), ('W24', 24)) AS w(visit_code, week) USING (visit_code)
    GROUP BY m.site, m.subject_id, w.visit_code, w.week
),
running AS (
    SELECT
        s.*,
        sum(s.gel) OVER (PARTITION BY s.site, s.subject_id ORDER BY s.week) AS cumulative_gel
    FROM scans AS s
),
patients AS (
    SELECT
        r.*,
        CASE a.arm WHEN 'MSC_PLACEBO' THEN 'MSC' WHEN 'PLACEBO_MSC' THEN 'PLACEBO' ELSE a.arm END
            AS arm
    FROM running AS r
    JOIN allocation AS a USING (site, subject_id)
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    visit_code,
    week,
    count(*) AS patients,
    avg(cumulative_gel) AS mean,
    stddev_samp(cumulative_gel) AS sd
FROM patients
GROUP BY GROUPING SETS ((site, arm, visit_code, week), (arm, visit_code, week))
ORDER BY scope <> 'pooled', scope, arm, week
