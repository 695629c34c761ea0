-- MESEMS data completeness at intake: per site and shared table, the source rows read, mapped
-- into the pool, quarantined (with the rows held with a quarantined patient) and skipped, from
-- each current submission's manifest. A quarantined row's visit is not known: the row was not
-- accepted, so this is by table, not by visit.

SELECT
    CASE WHEN grouping(site) = 1 THEN 'pooled' ELSE site END AS scope,
    table_name,
    sum(rows_read)::BIGINT AS rows_read,
    sum(rows_mapped)::BIGINT AS rows_mapped,
    sum(rows_quarantined)::BIGINT AS rows_quarantined,
    sum(rows_parent_quarantined)::BIGINT AS rows_parent_quarantined,
    sum(rows_skipped)::BIGINT AS rows_skipped
FROM intake
GROUP BY GROUPING SETS ((site, table_name), (table_name))
ORDER BY scope <> 'pooled', scope, table_name
