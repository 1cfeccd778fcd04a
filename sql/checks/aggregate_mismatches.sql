-- Rows of the hourly and daily leg aggregates that differ from a recomputation straight from the
-- legs (a missing, extra or different row counts once each way), per table and UTC day, for one
-- account's days in [first, last). Independent of sql/aggregates/refresh_leg_aggregates.sql on
-- purpose (that one sums the daily table from the hourly one), so a fault in either shows.
-- With `skip_pending`, days still marked stale for the aggregates (a load committed, its refresh
-- not yet) are pending, not wrong, and left out. A NULL filter covers everything: the recovery
-- tests compare a whole warehouse with it, pending days included (tests/recovery/conftest.py).
WITH legs AS (
    SELECT provider, account, started_at, customer, service_number, direction, outcome,
           1 AS legs, (call_key IS NULL OR call_key = leg_key)::int AS calls,
           (outcome = 'answered')::int AS answered, coalesce(duration_s, 0) AS duration_s,
           coalesce(billable_s, 0) AS billable_s, coalesce(cost_eur, 0) AS cost_eur
    FROM cdr.fact_call_leg
    WHERE (%(provider)s::text IS NULL OR provider = %(provider)s)
      AND (%(account)s::text IS NULL OR account = %(account)s)
      AND started_at >= coalesce(%(first)s::date::timestamp AT TIME ZONE 'UTC', '-infinity')
      AND started_at < coalesce(%(last)s::date::timestamp AT TIME ZONE 'UTC', 'infinity')
), hourly_recomputed AS (
    SELECT provider, account, date_trunc('hour', started_at, 'UTC') AS hour, customer, service_number,
           direction, outcome, sum(legs) AS legs, sum(calls) AS calls, sum(answered) AS answered,
           sum(duration_s) AS duration_s, sum(billable_s) AS billable_s, sum(cost_eur) AS cost_eur
    FROM legs GROUP BY 1, 2, 3, 4, 5, 6, 7
), hourly_stored AS (
    SELECT provider, account, hour, customer, service_number, direction, outcome,
           legs, calls, answered, duration_s, billable_s, cost_eur
    FROM cdr.agg_call_leg_hourly
    WHERE (%(provider)s::text IS NULL OR provider = %(provider)s)
      AND (%(account)s::text IS NULL OR account = %(account)s)
      AND hour >= coalesce(%(first)s::date::timestamp AT TIME ZONE 'UTC', '-infinity')
      AND hour < coalesce(%(last)s::date::timestamp AT TIME ZONE 'UTC', 'infinity')
), daily_recomputed AS (
    SELECT provider, account, (started_at AT TIME ZONE 'UTC')::date AS day, customer, service_number,
           direction, outcome, sum(legs) AS legs, sum(calls) AS calls, sum(answered) AS answered,
           sum(duration_s) AS duration_s, sum(billable_s) AS billable_s, sum(cost_eur) AS cost_eur
    FROM legs GROUP BY 1, 2, 3, 4, 5, 6, 7
), daily_stored AS (
    SELECT provider, account, day, customer, service_number, direction, outcome,
           legs, calls, answered, duration_s, billable_s, cost_eur
    FROM cdr.agg_call_leg_daily
    WHERE (%(provider)s::text IS NULL OR provider = %(provider)s)
      AND (%(account)s::text IS NULL OR account = %(account)s)
      AND day >= coalesce(%(first)s::date, '-infinity')
      AND day < coalesce(%(last)s::date, 'infinity')
), differing AS (
    SELECT 'hourly' AS aggregate, provider, account, (hour AT TIME ZONE 'UTC')::date AS day
    FROM ((TABLE hourly_recomputed EXCEPT ALL TABLE hourly_stored)
          UNION ALL (TABLE hourly_stored EXCEPT ALL TABLE hourly_recomputed)) AS hourly
    UNION ALL
    SELECT 'daily', provider, account, day
    FROM ((TABLE daily_recomputed EXCEPT ALL TABLE daily_stored)
          UNION ALL (TABLE daily_stored EXCEPT ALL TABLE daily_recomputed)) AS daily
)
SELECT aggregate, day, count(*) AS rows_differing
FROM differing d
WHERE NOT (%(skip_pending)s AND EXISTS (SELECT 1 FROM cdr.stale_day s
                                       WHERE s.target = 'aggregates' AND s.provider = d.provider
                                         AND s.account = d.account AND s.day = d.day))
GROUP BY aggregate, day
ORDER BY aggregate, day;
