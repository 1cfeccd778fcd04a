-- The provider accounts a full refresh of [first, last) covers: every one with legs or derived
-- rows in the range (the latter so that calls and aggregates of vanished legs are removed),
-- optionally of one provider or one account (a NULL filter matches all).
SELECT provider, account FROM (
    SELECT provider, account FROM cdr.fact_call_leg
    WHERE started_at >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
      AND started_at < %(last)s::date::timestamp AT TIME ZONE 'UTC'
    UNION
    SELECT provider, account FROM cdr.fact_call
    WHERE started_at >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
      AND started_at < %(last)s::date::timestamp AT TIME ZONE 'UTC'
    UNION
    SELECT provider, account FROM cdr.agg_call_leg_daily
    WHERE day >= %(first)s::date AND day < %(last)s::date
) AS found
WHERE (%(provider)s::text IS NULL OR provider = %(provider)s)
  AND (%(account)s::text IS NULL OR account = %(account)s)
ORDER BY provider, account;
