-- MESEMS safety: adverse events before the first infusion (period 0: screening and the
-- marrow harvest), when no product has been given, so there is no arm: the period is read from
-- periods itself, which treatment_periods would only repeat under 'NONE' and 'ALL'. A partial
-- onset date counts from its first possible day.
-- Rows: one per (scope, breakdown, category): breakdown 'any' (every event), 'soc'
--   (MedDRA system organ class; 'not coded' when missing), 'seriousness' and 'grade' (CTCAE).
-- patients: patients with at least one such event; events: how many events.
--
-- How (as in safety.sql): each category of a breakdown is a bit; events are counted per
-- category directly, and patients from each patient's set of categories in each breakdown,
-- held as the bits of one integer, so one aggregate per patient serves every breakdown.

WITH soc_codes AS (
    SELECT code, label, row_number() OVER (ORDER BY code) AS bit
    FROM code_labels
    WHERE table_name = 'adverse_events' AND column_name = 'meddra_soc_code'
),
events AS (
    SELECT
        e.site,
        e.subject_id,
        coalesce(s.bit, 0) AS soc,
        CASE WHEN e.serious THEN 1 ELSE 0 END AS seriousness,
        e.ctcae_grade AS grade
    FROM adverse_events AS e
    JOIN periods AS p
        ON p.site = e.site
        AND p.subject_id = e.subject_id
        AND p.period = 0
        AND (p.start_date IS NULL OR e.onset_date >= p.start_date)
        AND (p.end_date IS NULL OR e.onset_date < p.end_date)
    LEFT JOIN soc_codes AS s ON s.code = e.meddra_soc_code
),
event_counts AS (
    SELECT site, 'any' AS breakdown, 0 AS bit, count(*) AS events FROM events GROUP BY site
    UNION ALL
    SELECT site, 'soc', soc, count(*) FROM events GROUP BY site, soc
    UNION ALL
    SELECT site, 'seriousness', seriousness, count(*) FROM events GROUP BY site, seriousness
    UNION ALL
    SELECT site, 'grade', grade, count(*) FROM events GROUP BY site, grade
),
categories AS (
    SELECT 'any' AS breakdown, 0 AS bit, 'any adverse event' AS category
    UNION ALL
    SELECT 'soc', 0, 'not coded'
    UNION ALL
    SELECT 'soc', bit, code || ' ' || label FROM soc_codes
    UNION ALL
    SELECT 'seriousness', 0, 'not serious'
    UNION ALL
    SELECT 'seriousness', 1, 'serious'
    UNION ALL
    SELECT DISTINCT 'grade', bit, 'grade ' || bit FROM event_counts WHERE breakdown = 'grade'
),
per_patient AS (
    SELECT
        site,
        bit_or(1::UBIGINT << soc) AS socs,
        bit_or(1::UBIGINT << seriousness) AS seriousnesses,
        bit_or(1::UBIGINT << grade) AS grades
    FROM events
    GROUP BY site, subject_id
),
-- How many patients have each set of categories ('any': every patient, its one bit).
sets AS (
    SELECT site, 'any' AS breakdown, 1::UBIGINT AS mask, count(*) AS patients
    FROM per_patient GROUP BY site
    UNION ALL
    SELECT site, 'soc', socs, count(*) FROM per_patient GROUP BY site, socs
    UNION ALL
    SELECT site, 'seriousness', seriousnesses, count(*)
    FROM per_patient GROUP BY site, seriousnesses
    UNION ALL
    SELECT site, 'grade', grades, count(*) FROM per_patient GROUP BY site, grades
),
patient_counts AS (
    SELECT s.site, s.breakdown, c.bit, sum(s.patients) AS patients
    FROM sets AS s
    JOIN categories AS c ON c.breakdown = s.breakdown AND ((s.mask >> c.bit) & 1) = 1
    GROUP BY s.site, s.breakdown, c.bit
),
per_site AS (
    SELECT site, breakdown, c.category, p.patients, n.events
    FROM patient_counts AS p
    JOIN event_counts AS n USING (site, breakdown, bit)
    JOIN categories AS c USING (breakdown, bit)
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    breakdown,
    category,
    CAST(sum(patients) AS BIGINT) AS patients,
    CAST(sum(events) AS BIGINT) AS events
FROM per_site
GROUP BY GROUPING SETS ((site, breakdown, category), (breakdown, category))
ORDER BY scope <> 'pooled', scope, breakdown <> 'any', breakdown, category
