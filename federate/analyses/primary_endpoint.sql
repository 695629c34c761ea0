-- MESEMS primary efficacy endpoint (period 1), crude descriptive version.
--
-- Outcome: per patient, the total number of gadolinium-enhancing lesions (GEL, mri.gel_count)
-- over the scans at weeks 4, 12 and 24, i.e. after the first infusion and before the crossover.
-- Arm: the product given in period 1, read from the crossover sequence
--   MSC_PLACEBO -> MSC first;  PLACEBO_MSC -> placebo first.
-- Patients: randomised patients with at least one scan at W4, W12 or W24.
-- Rows: one per (scope, arm); scope 'pooled' (all sites) and one scope per site.
-- crude_rate_ratio (pooled rows only): GEL per scan, MSC over placebo, no adjustment for
-- overdispersion or repeated scans; a negative binomial (NB2) model replaces it later.

WITH scans AS (
    SELECT
        r.site,
        r.subject_id,
        CASE r.sequence WHEN 'MSC_PLACEBO' THEN 'MSC' WHEN 'PLACEBO_MSC' THEN 'PLACEBO' END AS arm,
        m.gel_count
    FROM mri AS m
    JOIN randomisation AS r USING (site, subject_id)
    WHERE m.visit_code IN ('W4', 'W12', 'W24')
),
patients AS (
    SELECT site, subject_id, arm, count(*) AS scans, sum(gel_count) AS total_gel
    FROM scans
    GROUP BY site, subject_id, arm
),
summary AS (
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
    GROUP BY GROUPING SETS ((arm), (site, arm))
)
SELECT
    s.*,
    CASE WHEN s.scope = 'pooled' THEN
        (SELECT max(gel_per_scan) FILTER (WHERE arm = 'MSC')
              / nullif(max(gel_per_scan) FILTER (WHERE arm = 'PLACEBO'), 0)
         FROM summary WHERE scope = 'pooled')
    END AS crude_rate_ratio
FROM summary AS s
ORDER BY s.scope <> 'pooled', s.scope, s.arm
