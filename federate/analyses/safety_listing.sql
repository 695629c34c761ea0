-- MESEMS serious adverse events, one row per event, with the treatment at onset: the
-- unblinded row-level listing (--role unblinded --rows). Never a released table.

SELECT
    e.site,
    e.subject_id,
    e.ae_number,
    t.arm AS treatment_at_onset,
    e.verbatim_term,
    e.meddra_pt_code,
    e.meddra_soc_code,
    e.onset_date,
    e.onset_date_precision,
    e.end_date,
    e.ctcae_grade,
    e.sae_death,
    e.sae_life_threatening,
    e.sae_hospitalisation,
    e.sae_disability,
    e.sae_congenital_anomaly,
    e.sae_other_important,
    e.relatedness_product,
    e.relatedness_harvest,
    e.outcome
FROM adverse_events AS e
JOIN treatment_periods AS t
    ON t.site = e.site
    AND t.subject_id = e.subject_id
    AND t.arm <> 'ALL'
    AND (t.start_date IS NULL OR e.onset_date >= t.start_date)
    AND (t.end_date IS NULL OR e.onset_date < t.end_date)
WHERE e.serious
ORDER BY e.site, e.subject_id, e.ae_number
