-- MESEMS crossover comparison, one row per patient: the data of the within-patient model
-- (federate/analyses/stats.py). Never a released table.
-- GEL and scans per period (period 1: W4, W12, W24; period 2: W28, W36, W48), for patients
-- scanned in both periods, with their randomised sequence.

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
)
SELECT p.site, p.subject_id, a.arm AS sequence, p.scans_period1, p.gel_period1,
       p.scans_period2, p.gel_period2
FROM per_period AS p
JOIN allocation AS a USING (site, subject_id)
WHERE p.scans_period1 > 0 AND p.scans_period2 > 0 AND a.arm <> 'ALL'
ORDER BY p.site, p.subject_id
