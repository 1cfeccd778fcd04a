-- A full refresh of one account: every day of the range is marked for recomputation, but none
-- that starts before the account's retention horizon (cdr.retention_horizon): retention kept the
-- aggregates and KPIs of those days, and their legs are gone.
INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT %(target)s, %(provider)s, %(account)s, d::date
FROM generate_series(%(first)s::date, %(last)s::date - 1, interval '1 day') AS d
WHERE d::date::timestamp AT TIME ZONE 'UTC' >= coalesce(
    (SELECT h.calls_before FROM cdr.retention_horizon h
     WHERE h.provider = %(provider)s AND h.account = %(account)s), '-infinity')
ON CONFLICT DO NOTHING;
