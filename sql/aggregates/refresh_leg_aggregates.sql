-- Recompute one provider account's hourly and daily leg aggregates for the UTC days in [from, to).
-- The grain: provider, account, period, customer, service number, direction, outcome.
-- `calls` counts the legs that start a call (call_key is the leg's own key, or absent), so it
-- adds up across hours: the daily table is summed from the hourly one instead of re-reading legs.
-- Only the account's rows are read and written: other accounts' aggregates are left as they are.
-- Guarded upserts plus deletes of vanished groups: an identical re-run rewrites nothing.
-- No nested loops (as in refresh_calls.sql): without statistics on newly loaded rows the planner
-- would match the fresh groups to the stored ones row by row.
SET LOCAL enable_nestloop = off;

DROP TABLE IF EXISTS fresh_hourly, fresh_daily;

CREATE TEMP TABLE fresh_hourly ON COMMIT DROP AS
SELECT provider, account, date_trunc('hour', started_at, 'UTC') AS hour, customer, service_number, direction,
       outcome,
       count(*) AS legs,
       count(*) FILTER (WHERE call_key IS NULL OR call_key = leg_key) AS calls,
       count(*) FILTER (WHERE outcome = 'answered') AS answered,
       coalesce(sum(duration_s), 0)::bigint AS duration_s,
       coalesce(sum(billable_s), 0) AS billable_s,
       coalesce(sum(cost_eur), 0) AS cost_eur
FROM cdr.fact_call_leg
WHERE provider = %(provider)s AND account = %(account)s
  AND started_at >= %(from)s::timestamptz AND started_at < %(to)s::timestamptz
GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TEMP TABLE fresh_daily ON COMMIT DROP AS
SELECT provider, account, (hour AT TIME ZONE 'UTC')::date AS day, customer, service_number, direction, outcome,
       sum(legs)::bigint AS legs, sum(calls)::bigint AS calls, sum(answered)::bigint AS answered,
       sum(duration_s)::bigint AS duration_s, sum(billable_s) AS billable_s, sum(cost_eur) AS cost_eur
FROM fresh_hourly
GROUP BY 1, 2, 3, 4, 5, 6, 7;

DELETE FROM cdr.agg_call_leg_hourly a
WHERE a.provider = %(provider)s AND a.account = %(account)s
  AND a.hour >= %(from)s::timestamptz AND a.hour < %(to)s::timestamptz
  AND NOT EXISTS (SELECT 1 FROM fresh_hourly f
                  WHERE (f.hour, f.direction, f.outcome) = (a.hour, a.direction, a.outcome)
                    AND f.customer IS NOT DISTINCT FROM a.customer
                    AND f.service_number IS NOT DISTINCT FROM a.service_number);

INSERT INTO cdr.agg_call_leg_hourly AS a (
    provider, account, hour, customer, service_number, direction, outcome,
    legs, calls, answered, duration_s, billable_s, cost_eur)
SELECT provider, account, hour, customer, service_number, direction, outcome,
       legs, calls, answered, duration_s, billable_s, cost_eur
FROM fresh_hourly
ON CONFLICT ON CONSTRAINT agg_call_leg_hourly_uq DO UPDATE SET
    legs = EXCLUDED.legs, calls = EXCLUDED.calls, answered = EXCLUDED.answered,
    duration_s = EXCLUDED.duration_s, billable_s = EXCLUDED.billable_s, cost_eur = EXCLUDED.cost_eur
WHERE (a.legs, a.calls, a.answered, a.duration_s, a.billable_s, a.cost_eur)
      IS DISTINCT FROM
      (EXCLUDED.legs, EXCLUDED.calls, EXCLUDED.answered, EXCLUDED.duration_s, EXCLUDED.billable_s,
       EXCLUDED.cost_eur);

DELETE FROM cdr.agg_call_leg_daily a
WHERE a.provider = %(provider)s AND a.account = %(account)s
  AND a.day >= (%(from)s::timestamptz AT TIME ZONE 'UTC')::date
  AND a.day <  (%(to)s::timestamptz AT TIME ZONE 'UTC')::date
  AND NOT EXISTS (SELECT 1 FROM fresh_daily f
                  WHERE (f.day, f.direction, f.outcome) = (a.day, a.direction, a.outcome)
                    AND f.customer IS NOT DISTINCT FROM a.customer
                    AND f.service_number IS NOT DISTINCT FROM a.service_number);

INSERT INTO cdr.agg_call_leg_daily AS a (
    provider, account, day, customer, service_number, direction, outcome,
    legs, calls, answered, duration_s, billable_s, cost_eur)
SELECT provider, account, day, customer, service_number, direction, outcome,
       legs, calls, answered, duration_s, billable_s, cost_eur
FROM fresh_daily
ON CONFLICT ON CONSTRAINT agg_call_leg_daily_uq DO UPDATE SET
    legs = EXCLUDED.legs, calls = EXCLUDED.calls, answered = EXCLUDED.answered,
    duration_s = EXCLUDED.duration_s, billable_s = EXCLUDED.billable_s, cost_eur = EXCLUDED.cost_eur
WHERE (a.legs, a.calls, a.answered, a.duration_s, a.billable_s, a.cost_eur)
      IS DISTINCT FROM
      (EXCLUDED.legs, EXCLUDED.calls, EXCLUDED.answered, EXCLUDED.duration_s, EXCLUDED.billable_s,
       EXCLUDED.cost_eur);
