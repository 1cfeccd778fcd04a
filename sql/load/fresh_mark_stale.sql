-- The days of a fresh month's legs, every one inserted, marked stale for the derived tables as
-- sql/load/merge_call_legs.sql marks the days of the legs it inserts or changes.
INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT t.target, d.provider, d.account, d.day + t.days_before
FROM (SELECT DISTINCT provider, account, (started_at AT TIME ZONE 'UTC')::date AS day FROM fresh_call_leg) AS d
CROSS JOIN (VALUES ('aggregates', 0), ('calls', 0), ('calls', -1)) AS t(target, days_before)
ON CONFLICT DO NOTHING;
