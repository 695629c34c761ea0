-- MESEMS baseline characteristics ("Table 1") by randomised sequence.
--
-- Per patient: age at randomisation (its year minus the year of birth: the full date of birth
-- is never kept), sex, MS course, disease duration (diagnosis to randomisation, years),
-- EDSS and GEL at baseline (the W0 assessment, else screening; the earliest if repeated).
-- Arm: the randomised sequence (MSC_PLACEBO, PLACEBO_MSC); 'ALL' pools them.
-- Rows: one per (scope, arm, variable, level). Categorical variables have one row per level
-- ('missing' included) with patients and percent of the randomised; continuous variables one
-- 'summary' row over the patients with a value (patients), with mean, sd, median and quartiles.

WITH first_at AS (
    SELECT
        site,
        subject_id,
        coalesce(
            arg_min(edss, assessment_date) FILTER (WHERE visit_code = 'W0'),
            arg_min(edss, assessment_date) FILTER (WHERE visit_code = 'SCR')
        ) AS edss
    FROM edss
    GROUP BY site, subject_id
),
gel AS (
    SELECT
        site,
        subject_id,
        coalesce(
            arg_min(gel_count, scan_date) FILTER (WHERE visit_code = 'W0'),
            arg_min(gel_count, scan_date) FILTER (WHERE visit_code = 'SCR')
        ) AS gel
    FROM mri
    GROUP BY site, subject_id
),
patients AS (
    SELECT
        s.site,
        s.subject_id,
        a.arm,
        s.sex,
        s.ms_course,
        year(r.randomisation_date) - s.birth_year AS age_years,
        datediff('day', s.diagnosis_date, r.randomisation_date) / 365.25 AS disease_duration_years,
        f.edss,
        g.gel
    FROM subjects AS s
    JOIN randomisation AS r USING (site, subject_id)
    JOIN allocation AS a USING (site, subject_id)
    LEFT JOIN first_at AS f USING (site, subject_id)
    LEFT JOIN gel AS g USING (site, subject_id)
),
long AS (
    SELECT site, arm, 'patients' AS variable, 'randomised' AS level, NULL::DOUBLE AS value
    FROM patients
    UNION ALL
    SELECT site, arm, 'sex', coalesce(sex, 'missing'), NULL FROM patients
    UNION ALL
    SELECT site, arm, 'ms_course', coalesce(ms_course, 'missing'), NULL FROM patients
    UNION ALL
    SELECT site, arm, 'age_years', 'summary', age_years FROM patients WHERE age_years IS NOT NULL
    UNION ALL
    SELECT site, arm, 'disease_duration_years', 'summary', disease_duration_years
    FROM patients
    WHERE disease_duration_years IS NOT NULL
    UNION ALL
    SELECT site, arm, 'edss', 'summary', edss FROM patients WHERE edss IS NOT NULL
    UNION ALL
    SELECT site, arm, 'baseline_gel', 'summary', gel FROM patients WHERE gel IS NOT NULL
),
summary AS (
    SELECT
        CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
        arm,
        variable,
        level,
        count(*) AS patients,
        avg(value) AS mean,
        stddev_samp(value) AS sd,
        quantile_cont(value, 0.5) AS median,
        quantile_cont(value, 0.25) AS q1,
        quantile_cont(value, 0.75) AS q3
    FROM long
    GROUP BY GROUPING SETS ((site, arm, variable, level), (arm, variable, level))
)
SELECT
    s.scope,
    s.arm,
    s.variable,
    s.level,
    s.patients,
    CASE WHEN s.level <> 'summary' THEN 100.0 * s.patients / n.patients END AS percent,
    s.mean,
    s.sd,
    s.median,
    s.q1,
    s.q3
FROM summary AS s
JOIN summary AS n
    ON n.scope = s.scope AND n.arm = s.arm AND n.variable = 'patients'
ORDER BY s.scope <> 'pooled', s.scope, s.arm, s.variable <> 'patients', s.variable, s.level
