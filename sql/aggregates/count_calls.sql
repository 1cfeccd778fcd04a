-- What the calls asset's range holds now (its Dagster metadata).
SELECT count(*) AS calls
FROM cdr.fact_call
WHERE started_at >= %(start)s AND started_at < %(end)s;
