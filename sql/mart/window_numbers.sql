-- The distinct numbers of the call legs starting in [from, to) (NULL bounds: all legs), in a
-- table the planner has statistics for: new_numbers.sql then probes the dimension's key for each
-- of a day's numbers, or hashes the dimension once for a month's (a re-run of a backfill), where
-- a DISTINCT inside the query was estimated at 200 numbers whatever the range and probed 2 million
-- keys one by one.
DROP TABLE IF EXISTS window_number;

CREATE TEMP TABLE window_number ON COMMIT DROP AS
SELECT DISTINCT n.number
FROM cdr.fact_call_leg l
CROSS JOIN LATERAL (VALUES (l.caller_number), (l.called_number), (l.service_number)) AS n(number)
WHERE l.started_at >= coalesce(%(from)s::timestamptz, '-infinity')
  AND l.started_at < coalesce(%(to)s::timestamptz, 'infinity')
  AND n.number IS NOT NULL AND n.number <> '';

ANALYZE window_number;
