-- A full refresh of one account: every day of the range is marked for recomputation.
INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT %(target)s, %(provider)s, %(account)s, d::date
FROM generate_series(%(first)s::date, %(last)s::date - 1, interval '1 day') AS d
ON CONFLICT DO NOTHING;
