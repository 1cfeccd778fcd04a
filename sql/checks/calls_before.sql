-- The calls check (pipelines.assets.checks), in a transaction it rolls back: one account's calls
-- that start in [from, to) as stored, before the calls refresh recomputes them from the legs.
DROP TABLE IF EXISTS check_call_before;

CREATE TEMP TABLE check_call_before ON COMMIT DROP AS
SELECT * FROM cdr.fact_call
WHERE provider = %(provider)s AND account = %(account)s
  AND started_at >= %(from)s::timestamptz AND started_at < %(to)s::timestamptz;
