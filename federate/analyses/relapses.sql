-- MESEMS relapses: annualised relapse rate by period and by the product given in it.
--
-- Exposure: period 1 from the first infusion to the second, period 2 from the second to the
-- end of follow-up (the day after the last visit); years = days / 365.25. A relapse counts in
-- the period its onset falls in (a partial date from its first possible day; the last period
-- is open-ended). Arm: the product given in the period (as treated); 'ALL' pools the arms.
-- Rows: one per (scope, arm, period), period 'both' adding the two.
-- annualised_rate = relapses / patient_years; its exact Poisson 95% CI is added in Python.

WITH exposure AS (
    SELECT
        site,
        subject_id,
        period,
        arm,
        start_date,
        end_date,
        datediff('day', start_date, coalesce(end_date, follow_up_end)) / 365.25 AS years
    FROM treatment_periods
    WHERE period IN (1, 2)
),
counted AS (
    SELECT x.site, x.subject_id, x.period, x.arm, x.years, count(r.onset_date) AS relapses
    FROM exposure AS x
    LEFT JOIN relapses AS r
        ON r.site = x.site
        AND r.subject_id = x.subject_id
        AND r.onset_date >= x.start_date
        AND (x.end_date IS NULL OR r.onset_date < x.end_date)
    GROUP BY x.site, x.subject_id, x.period, x.arm, x.years
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    CASE WHEN grouping(period) = 1 THEN 'both' ELSE 'period ' || period END AS period,
    count(DISTINCT subject_id) AS patients,
    sum(relapses)::BIGINT AS relapses,
    sum(years) AS patient_years,
    sum(relapses) / sum(years) AS annualised_rate
FROM counted
GROUP BY GROUPING SETS ((site, arm, period), (arm, period), (site, arm), (arm))
ORDER BY scope <> 'pooled', scope, arm, period
