-- MESEMS safety: adverse events before the first infusion (period 0: screening and the
-- marrow harvest), when no product has been given, so there is no arm. A partial onset date
-- counts from its first possible day.
-- Rows: one per (scope, breakdown, category): breakdown 'any' (every event), 'soc'
--   (MedDRA system organ class; 'not coded' when missing), 'seriousness' and 'grade' (CTCAE).
-- patients: patients with at least one such event; events: how many events.

WITH events AS (
    SELECT
        e.site,
        e.subject_id,
        coalesce(e.meddra_soc_code || ' ' || l.label, 'not coded') AS soc,
        CASE WHEN e.serious THEN 'serious' ELSE 'not serious' END AS seriousness,
        'grade ' || e.ctcae_grade AS grade
    FROM adverse_events AS e
    JOIN treatment_periods AS t
        ON t.site = e.site
        AND t.subject_id = e.subject_id
        AND t.period = 0
        AND t.arm = 'ALL'
        AND (t.start_date IS NULL OR e.onset_date >= t.start_date)
        AND (t.end_date IS NULL OR e.onset_date < t.end_date)
    LEFT JOIN code_labels AS l
        ON l.table_name = 'adverse_events'
        AND l.column_name = 'meddra_soc_code'
        AND l.code = e.meddra_soc_code
),
-- Each patient's count per category first (as in safety.sql).
per_patient AS (
    SELECT site, subject_id, 'any' AS breakdown, 'any adverse event' AS category,
           count(*) AS events
    FROM events
    GROUP BY site, subject_id
    UNION ALL
    SELECT site, subject_id, 'soc', soc, count(*) FROM events GROUP BY site, subject_id, soc
    UNION ALL
    SELECT site, subject_id, 'seriousness', seriousness, count(*)
    FROM events GROUP BY site, subject_id, seriousness
    UNION ALL
    SELECT site, subject_id, 'grade', grade, count(*) FROM events GROUP BY site, subject_id, grade
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    breakdown,
    category,
    count(*) AS patients,
    CAST(sum(events) AS BIGINT) AS events
FROM per_patient
GROUP BY GROUPING SETS ((site, breakdown, category), (breakdown, category))
ORDER BY scope <> 'pooled', scope, breakdown <> 'any', breakdown, category
