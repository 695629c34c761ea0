-- MESEMS primary endpoint, one row per patient: the data of the negative binomial model
-- (federate/analyses/stats.py) and the unblinded row-level listing. Never a released table.
--
-- total_gel: GEL summed over the W4, W12 and W24 scans; scans: how many of them there are
--   (the model's offset is log(scans), so a missed scan is not counted as zero lesions).
-- baseline_gel: GEL on the W0 scan, else on the screening scan (the earliest, if repeated);
--   patients with neither are left out of the model.
-- arm: the product of period 1 as randomised (MSC_PLACEBO -> MSC, PLACEBO_MSC -> PLACEBO).

WITH period1 AS (
    SELECT site, subject_id, count(*) AS scans, sum(gel_count) AS total_gel
    FROM mri
    WHERE visit_code IN ('W4', 'W12', 'W24')
    GROUP BY site, subject_id
),
baseline AS (
    SELECT
        site,
        subject_id,
        coalesce(
            arg_min(gel_count, scan_date) FILTER (WHERE visit_code = 'W0'),
            arg_min(gel_count, scan_date) FILTER (WHERE visit_code = 'SCR')
        ) AS baseline_gel
    FROM mri
    WHERE visit_code IN ('W0', 'SCR')
    GROUP BY site, subject_id
)
SELECT
    p.site,
    p.subject_id,
    CASE a.arm WHEN 'MSC_PLACEBO' THEN 'MSC' WHEN 'PLACEBO_MSC' THEN 'PLACEBO' END AS arm,
    p.scans,
    p.total_gel,
    b.baseline_gel
FROM period1 AS p
JOIN allocation AS a USING (site, subject_id)
LEFT JOIN baseline AS b USING (site, subject_id)
WHERE a.arm <> 'ALL'
ORDER BY p.site, p.subject_id
