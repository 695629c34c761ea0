-- MESEMS data completeness: per site and visit, the subjects expected and the assessments
-- present, by the protocol schedule (DOMAIN.md): a visit record and an MRI at every visit;
-- EDSS and MSFC at SCR, W0, W12, W24, W36, W48; laboratory samples at SCR, W0, W4, W12, W24,
-- W48. Every randomised subject is expected at every scheduled visit.
-- Rows: one per (scope, visit, assessment).

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
expected AS (
    SELECT s.site, s.subject_id, c.visit_code, c.week, c.assessment
    FROM subjects AS s
    CROSS JOIN schedule AS c
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
)
SELECT
    CASE WHEN grouping(e.site) = 1 THEN 'pooled' ELSE e.site END AS scope,
    e.visit_code,
    e.week,
    e.assessment,
    count(*) AS expected,
    count(p.subject_id) AS present,
    100.0 * count(p.subject_id) / count(*) AS percent_present
FROM expected AS e
LEFT JOIN present AS p USING (site, subject_id, visit_code, assessment)
GROUP BY GROUPING SETS ((e.site, e.visit_code, e.week, e.assessment), (e.visit_code, e.week, e.assessment))
ORDER BY scope <> 'pooled', scope, e.week, e.assessment
