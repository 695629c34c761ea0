-- MESEMS primary efficacy endpoint (period 1), descriptive part.
--
-- Outcome: per patient, the total number of gadolinium-enhancing lesions (GEL, mri.gel_count)
-- over the scans at weeks 4, 12 and 24, i.e. after the first infusion and before the crossover.
-- Arm: the product of period 1 as randomised (intention to treat), from the sequence
--   MSC_PLACEBO -> MSC;  PLACEBO_MSC -> PLACEBO;  'ALL' pools the arms (the blinded role has
--   only 'ALL': see federate/roles.py).
-- Patients: randomised patients with at least one scan at W4, W12 or W24.
-- Rows: one per (scope, arm); scope 'pooled' (all sites) and one scope per site.
-- The rate ratio (negative binomial model) is fitted on primary_endpoint_patients.sql.

WITH period1 AS (
    SELECT site, subject_id, count(*) AS scans, sum(gel_count) AS total_gel
    FROM mri
    WHERE visit_code IN ('W4', 'W12', 'W24')
    GROUP BY site, subject_id
),
patients AS (
    SELECT
        p.*,
        CASE a.arm WHEN 'MSC_PLACEBO' THEN 'MSC' WHEN 'PLACEBO_MSC' THEN 'PLACEBO' ELSE a.arm END
            AS arm
    FROM period1 AS p
    JOIN allocation AS a USING (site, subject_id)
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    count(*) AS patients,
    sum(scans)::BIGINT AS scans,
    sum(total_gel)::BIGINT AS total_gel,
    avg(total_gel) AS mean_gel_per_patient,
    stddev_samp(total_gel) AS sd_gel_per_patient,
    quantile_cont(total_gel, 0.5) AS median_gel_per_patient,
    sum(total_gel) / sum(scans) AS gel_per_scan
FROM patients
GROUP BY GROUPING SETS ((site, arm), (arm))
ORDER BY scope <> 'pooled', scope, arm
