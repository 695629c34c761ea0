-- MESEMS crossover comparison, descriptive part: GEL over weeks 28, 36 and 48 (period 2)
-- against weeks 4, 12 and 24 (period 1), within each patient.
--
-- Patients: randomised patients scanned at least once in each period.
-- Arm: the randomised sequence (MSC_PLACEBO: MSC in period 1; PLACEBO_MSC: MSC in period 2);
--   'ALL' pools them. mean_change_gel_per_scan: the mean over patients of (GEL per scan in
--   period 2) - (GEL per scan in period 1).
-- The within-patient MSC vs placebo rate ratio is fitted on crossover_patients.sql.

WITH per_period AS (
    SELECT
        site,
        subject_id,
        count(*) FILTER (WHERE visit_code IN ('W4', 'W12', 'W24')) AS scans_period1,
        sum(gel_count) FILTER (WHERE visit_code IN ('W4', 'W12', 'W24')) AS gel_period1,
        count(*) FILTER (WHERE visit_code IN ('W28', 'W36', 'W48')) AS scans_period2,
        sum(gel_count) FILTER (WHERE visit_code IN ('W28', 'W36', 'W48')) AS gel_period2
    FROM mri
    GROUP BY site, subject_id
),
patients AS (
    SELECT p.*, a.arm
    FROM per_period AS p
    JOIN allocation AS a USING (site, subject_id)
    WHERE p.scans_period1 > 0 AND p.scans_period2 > 0
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    count(*) AS patients,
    sum(scans_period1)::BIGINT AS scans_period1,
    sum(gel_period1)::BIGINT AS gel_period1,
    sum(scans_period2)::BIGINT AS scans_period2,
    sum(gel_period2)::BIGINT AS gel_period2,
    sum(gel_period1) / sum(scans_period1) AS gel_per_scan_period1,
    sum(gel_period2) / sum(scans_period2) AS gel_per_scan_period2,
    avg(gel_period2 / scans_period2 - gel_period1 / scans_period1) AS mean_change_gel_per_scan
FROM patients
GROUP BY GROUPING SETS ((site, arm), (arm))
ORDER BY scope <> 'pooled', scope, arm
