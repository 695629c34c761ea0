-- MESEMS disability: EDSS and MSFC composite z-score, and their change from baseline, by
-- randomised sequence and visit.
--
-- Baseline: the W0 assessment, else screening. A patient counts at a visit when assessed
-- then and at baseline (the earliest assessment if a visit was repeated; unscheduled visits
-- are left out). W0 is the baseline row itself.
-- Arm: the randomised sequence (MSC_PLACEBO, PLACEBO_MSC); 'ALL' pools them.
-- Rows: one per (scope, arm, measure, visit).

WITH scores AS (
    SELECT site, subject_id, 'EDSS' AS measure, visit_code, assessment_date, edss AS value
    FROM edss
    WHERE edss IS NOT NULL
    UNION ALL
    SELECT site, subject_id, 'MSFC z', visit_code, assessment_date, msfc_z
    FROM msfc
    WHERE msfc_z IS NOT NULL
),
per_visit AS (
    SELECT site, subject_id, measure, visit_code, arg_min(value, assessment_date) AS value
    FROM scores
    WHERE visit_code <> 'UNS'
    GROUP BY site, subject_id, measure, visit_code
),
baseline AS (
    SELECT
        site,
        subject_id,
        measure,
        coalesce(
            max(value) FILTER (WHERE visit_code = 'W0'),
            max(value) FILTER (WHERE visit_code = 'SCR')
        ) AS baseline
    FROM per_visit
    GROUP BY site, subject_id, measure
),
changes AS (
    SELECT v.site, v.subject_id, a.arm, v.measure, w.visit_code, w.week, b.baseline, v.value
    FROM per_visit AS v
    JOIN
        (VALUES ('W0', 0), ('W12', 12), ('W24', 24), ('W36', 36), ('W48', 48))
            AS w(visit_code, week)
        USING (visit_code)
    JOIN baseline AS b USING (site, subject_id, measure)
    JOIN allocation AS a USING (site, subject_id)
    WHERE b.baseline IS NOT NULL
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    measure,
    visit_code,
    week,
    count(*) AS patients,
    avg(baseline) AS mean_baseline,
    avg(value) AS mean_value,
    stddev_samp(value) AS sd_value,
    avg(value - baseline) AS mean_change,
    stddev_samp(value - baseline) AS sd_change,
    quantile_cont(value - baseline, 0.5) AS median_change
FROM changes
GROUP BY GROUPING SETS ((site, arm, measure, visit_code, week), (arm, measure, visit_code, week))
ORDER BY scope <> 'pooled', scope, arm, measure, week
