-- MESEMS safety denominators: patients given each product (treatment_periods, periods 1 and
-- 2); 'ALL': patients given at least one infusion.

SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    count(DISTINCT subject_id) AS patients
FROM treatment_periods
WHERE period > 0
GROUP BY GROUPING SETS ((site, arm), (arm))
ORDER BY scope <> 'pooled', scope, arm
