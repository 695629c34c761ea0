-- MESEMS safety: treatment-emergent adverse events by the treatment at onset.
--
-- Arm: the product given in the period the event began in (treatment_periods: period 1 from
--   the first infusion, period 2 from the second, open-ended); 'ALL' pools the arms. Events
--   before the first infusion (e.g. of the marrow harvest) are in safety_pretreatment.sql.
--   A partial onset date counts from its first possible day.
-- Rows: one per (scope, arm, breakdown, category): breakdown 'any' (every event), 'soc'
--   (MedDRA system organ class; 'not coded' when missing), 'seriousness' and 'grade' (CTCAE).
-- patients: patients with at least one such event; events: how many events.

WITH events AS (
    SELECT
        e.site,
        e.subject_id,
        t.arm,
        coalesce(e.meddra_soc_code || ' ' || l.label, 'not coded') AS soc,
        CASE WHEN e.serious THEN 'serious' ELSE 'not serious' END AS seriousness,
        'grade ' || e.ctcae_grade AS grade
    FROM adverse_events AS e
    JOIN treatment_periods AS t
        ON t.site = e.site
        AND t.subject_id = e.subject_id
        AND t.period > 0
        AND (t.start_date IS NULL OR e.onset_date >= t.start_date)
        AND (t.end_date IS NULL OR e.onset_date < t.end_date)
    LEFT JOIN code_labels AS l
        ON l.table_name = 'adverse_events'
        AND l.column_name = 'meddra_soc_code'
        AND l.code = e.meddra_soc_code
),
-- Each patient's count per category first: the patients of a category are then a plain
-- count (one row per patient and site; a pseudonym carries its country's prefix, so none
-- recurs at another site), and no distinct aggregate runs over every event.
per_patient AS (
    SELECT site, subject_id, arm, 'any' AS breakdown, 'any adverse event' AS category,
           count(*) AS events
    FROM events
    GROUP BY site, subject_id, arm
    UNION ALL
    SELECT site, subject_id, arm, 'soc', soc, count(*)
    FROM events GROUP BY site, subject_id, arm, soc
    UNION ALL
    SELECT site, subject_id, arm, 'seriousness', seriousness, count(*)
    FROM events GROUP BY site, subject_id, arm, seriousness
    UNION ALL
    SELECT site, subject_id, arm, 'grade', grade, count(*)
    FROM events GROUP BY site, subject_id, arm, grade
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    breakdown,
    category,
    count(*) AS patients,
    CAST(sum(events) AS BIGINT) AS events
FROM per_patient
GROUP BY GROUPING SETS ((site, arm, breakdown, category), (arm, breakdown, category))
ORDER BY scope <> 'pooled', scope, arm, breakdown <> 'any', breakdown, category
