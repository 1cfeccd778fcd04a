-- The days of a fresh month's legs, every one inserted, marked stale for the derived tables
-- (cdr.stale_targets, as the merge marks the days of the legs it inserts or changes).
INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT t.target, d.provider, d.account, d.day + t.days_before
FROM (SELECT DISTINCT provider, account, (started_at AT TIME ZONE 'UTC')::date AS day FROM fresh_call_leg) AS d
CROSS JOIN cdr.stale_targets() AS t
ON CONFLICT DO NOTHING;
