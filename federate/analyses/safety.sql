-- MESEMS safety: treatment-emergent adverse events by the treatment at onset.
--
-- Arm: the product given in the period the event began in (treatment_periods: period 1 from
--   the first infusion, period 2 from the second, open-ended); 'ALL' pools the arms. Events
--   before the first infusion (e.g. of the marrow harvest) are in safety_pretreatment.sql.
--   A partial onset date counts from its first possible day.
-- Rows: one per (scope, arm, breakdown, category): breakdown 'any' (every event), 'soc'
--   (MedDRA system organ class; 'not coded' when missing), 'seriousness' and 'grade' (CTCAE).
-- patients: patients with at least one such event; events: how many events.
--
-- How: each category of a breakdown is a bit: a SOC its rank among the labelled codes (0: not
-- coded), seriousness 0 (not serious) or 1, the CTCAE grade (required, 1-5) itself, 'any' 0.
-- Events are counted per category directly. For the patients, one aggregate over the events
-- gives each patient and arm their set of categories in each breakdown as the bits of one
-- integer (bit_or), instead of one aggregate per breakdown keyed by the long pseudonym; the
-- patients with the same set are counted together, and a category's patients are those whose
-- set has its bit. One row per patient and site: a pseudonym carries its country's prefix, so
-- none recurs at another site, and the pooled counts are the sites' sums. 'ALL' is read from
-- treatment_periods' own 'ALL' rows (all the blinded role has), not made by a ROLLUP over arm,
-- which would need its own per-patient aggregate all the same.

WITH soc_codes AS (
    SELECT code, label, row_number() OVER (ORDER BY code) AS bit
    FROM code_labels
    WHERE table_name = 'adverse_events' AND column_name = 'meddra_soc_code'
),
events AS (
    SELECT
        e.site,
        e.subject_id,
        t.arm,
        coalesce(s.bit, 0) AS soc,
        CASE WHEN e.serious THEN 1 ELSE 0 END AS seriousness,
        e.ctcae_grade AS grade
    FROM adverse_events AS e
    JOIN treatment_periods AS t
        ON t.site = e.site
        AND t.subject_id = e.subject_id
        AND t.period > 0
        AND (t.start_date IS NULL OR e.onset_date >= t.start_date)
        AND (t.end_date IS NULL OR e.onset_date < t.end_date)
    LEFT JOIN soc_codes AS s ON s.code = e.meddra_soc_code
),
event_counts AS (
    SELECT site, arm, 'any' AS breakdown, 0 AS bit, count(*) AS events
    FROM events GROUP BY site, arm
    UNION ALL
    SELECT site, arm, 'soc', soc, count(*) FROM events GROUP BY site, arm, soc
    UNION ALL
    SELECT site, arm, 'seriousness', seriousness, count(*)
    FROM events GROUP BY site, arm, seriousness
    UNION ALL
    SELECT site, arm, 'grade', grade, count(*) FROM events GROUP BY site, arm, grade
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
        arm,
        bit_or(1::UBIGINT << soc) AS socs,
        bit_or(1::UBIGINT << seriousness) AS seriousnesses,
        bit_or(1::UBIGINT << grade) AS grades
    FROM events
    GROUP BY site, subject_id, arm
),
-- How many patients have each set of categories ('any': every patient, its one bit).
sets AS (
    SELECT site, arm, 'any' AS breakdown, 1::UBIGINT AS mask, count(*) AS patients
    FROM per_patient GROUP BY site, arm
    UNION ALL
    SELECT site, arm, 'soc', socs, count(*) FROM per_patient GROUP BY site, arm, socs
    UNION ALL
    SELECT site, arm, 'seriousness', seriousnesses, count(*)
    FROM per_patient GROUP BY site, arm, seriousnesses
    UNION ALL
    SELECT site, arm, 'grade', grades, count(*) FROM per_patient GROUP BY site, arm, grades
),
patient_counts AS (
    SELECT s.site, s.arm, s.breakdown, c.bit, sum(s.patients) AS patients
    FROM sets AS s
    JOIN categories AS c ON c.breakdown = s.breakdown AND ((s.mask >> c.bit) & 1) = 1
    GROUP BY s.site, s.arm, s.breakdown, c.bit
),
per_site AS (
    SELECT site, arm, breakdown, c.category, p.patients, n.events
    FROM patient_counts AS p
    JOIN event_counts AS n USING (site, arm, breakdown, bit)
    JOIN categories AS c USING (breakdown, bit)
)
SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    arm,
    breakdown,
    category,
    CAST(sum(patients) AS BIGINT) AS patients,
    CAST(sum(events) AS BIGINT) AS events
FROM per_site
GROUP BY GROUPING SETS ((site, arm, breakdown, category), (arm, breakdown, category))
ORDER BY scope <> 'pooled', scope, arm, breakdown <> 'any', breakdown, category
