-- MESEMS safety denominators: patients given each product (treatment_periods, periods 1 and
-- 2); 'ALL': patients given at least one infusion.
-- Each patient once per arm first (one row per patient and site; a pseudonym carries its
-- country's prefix, so none recurs at another site): the patients are then a plain count under
-- the grouping sets, not a distinct aggregate per grouping set.

WITH exposed AS (
    SELECT DISTINCT site, subject_id, arm
    FROM treatment_periods
    WHERE period > 0
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    count(*) AS patients
FROM exposed
GROUP BY GROUPING SETS ((site, arm), (arm))
ORDER BY scope <> 'pooled', scope, arm
