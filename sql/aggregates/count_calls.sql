-- What cdr.fact_call holds per UTC day of the calls asset's range: each day partition's figures,
-- the count of the asset's table under Dagster's own name for it.
SELECT (started_at AT TIME ZONE 'UTC')::date AS day, count(*) AS "dagster/row_count"
FROM cdr.fact_call
WHERE started_at >= %(start)s AND started_at < %(end)s
GROUP BY 1;
