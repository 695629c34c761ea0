-- MESEMS data completeness: per site and visit, the subjects expected and the assessments
-- present, by the protocol schedule (DOMAIN.md): a visit record and an MRI at every visit;
-- EDSS and MSFC at SCR, W0, W12, W24, W36, W48; laboratory samples at SCR, W0, W4, W12, W24,
-- W48. Every randomised subject is expected at every scheduled visit.
-- Rows: one per (scope, visit, assessment).
-- Counted per site, visit and assessment (subjects expected; distinct subjects present), never
-- as the grid of every subject at every visit.

WITH schedule AS (
    SELECT visit_code, week, assessment
    FROM
        (VALUES ('SCR', -6), ('W0', 0), ('W4', 4), ('W12', 12), ('W24', 24), ('W28', 28),
            ('W36', 36), ('W48', 48)) AS v(visit_code, week)
    CROSS JOIN (VALUES ('visit'), ('mri'), ('edss'), ('msfc'), ('labs')) AS a(assessment)
    WHERE assessment IN ('visit', 'mri')
       OR (assessment IN ('edss', 'msfc') AND visit_code IN ('SCR', 'W0', 'W12', 'W24', 'W36', 'W48'))
       OR (assessment = 'labs' AND visit_code IN ('SCR', 'W0', 'W4', 'W12', 'W24', 'W48'))
),
enrolled AS (  -- a subject listed twice is expected twice, as in the full grid
    SELECT site, subject_id, count(*) AS times FROM subjects GROUP BY site, subject_id
),
expected AS (
    SELECT site, sum(times) AS expected FROM enrolled GROUP BY site
),
present AS (
    SELECT DISTINCT site, subject_id, visit_code, 'visit' AS assessment FROM visits
    UNION ALL
    SELECT DISTINCT site, subject_id, visit_code, 'mri' FROM mri
    UNION ALL
    SELECT DISTINCT site, subject_id, visit_code, 'edss' FROM edss
    UNION ALL
    SELECT DISTINCT site, subject_id, visit_code, 'msfc' FROM msfc
    UNION ALL
    SELECT DISTINCT site, subject_id, visit_code, 'labs' FROM labs
),
present_counts AS (
    SELECT p.site, p.visit_code, p.assessment, sum(s.times) AS present
    FROM present AS p
    JOIN enrolled AS s USING (site, subject_id)
    GROUP BY p.site, p.visit_code, p.assessment
),
grid AS (  -- per site, visit and assessment: subjects expected, and present
    SELECT e.site, c.visit_code, c.week, c.assessment, e.expected, coalesce(p.present, 0) AS present
    FROM expected AS e
    CROSS JOIN schedule AS c
    LEFT JOIN present_counts AS p
        ON p.site = e.site AND p.visit_code = c.visit_code AND p.assessment = c.assessment
),
totals AS (
    SELECT
        CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
        visit_code,
        week,
        assessment,
        CAST(sum(expected) AS BIGINT) AS expected,
        CAST(sum(present) AS BIGINT) AS present
    FROM grid
    GROUP BY GROUPING SETS ((site, visit_code, week, assessment), (visit_code, week, assessment))
)
SELECT scope, visit_code, week, assessment, expected, present,
       100.0 * present / expected AS percent_present
FROM totals
ORDER BY scope <> 'pooled', scope, week, assessment
