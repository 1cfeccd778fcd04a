-- TEST ONLY: sql/aggregates/refresh_calls.sql as it was before it was made faster (issue 19),
-- kept so tests/warehouse/test_calls_assembly.py can hold the current SQL equal to it, row for row.
-- Never run by the pipelines.
-- Re-assemble one provider account's calls that start in [from, to) from its legs.
-- A leg belongs to the call of the leg that names it as its b-leg (TENIOS bleg_uuid), else to its
-- own call_key (main_leg_uuid or uuid). Legs are read one day either side so that a call whose
-- legs straddle midnight is assembled whole; it is kept in the day of its first leg, and carries
-- that leg's customer.
-- Only the account's rows are read and written: other accounts' calls are left as they are.
-- Guarded upsert plus delete of vanished calls: an identical re-run rewrites nothing.
-- The recomputed days are marked for the mart's KPIs (pipelines/warehouse/mart.py), which read the
-- calls: marked here rather than by the leg merge, so the mart never clears a mark before the
-- calls it reads are current.
-- No nested loops, for this transaction: the refresh usually runs right after a load, before
-- autovacuum has analysed the new legs, and with no statistics the planner takes one account's
-- legs for a handful of rows and joins them to their b-leg links (and the fresh calls to the
-- stored ones) row by row: quadratic, half a minute for 40,000 legs instead of a second.
SET LOCAL enable_nestloop = off;

DROP TABLE IF EXISTS fresh_call;

CREATE TEMP TABLE fresh_call ON COMMIT DROP AS
WITH legs AS (
    SELECT l.*
    FROM cdr.fact_call_leg l
    WHERE l.provider = %(provider)s AND l.account = %(account)s
      AND l.started_at >= %(from)s::timestamptz - interval '1 day'
      AND l.started_at <  %(to)s::timestamptz + interval '1 day'
), parents AS (
    -- for each leg named as some other leg's b-leg: the call of the earliest such leg
    SELECT DISTINCT ON (linked_leg_key) linked_leg_key AS child_leg_key, call_key AS parent_call_key
    FROM legs
    WHERE linked_leg_key IS NOT NULL AND linked_leg_key <> leg_key
    ORDER BY linked_leg_key, started_at
), linked AS (
    SELECT l.*, coalesce(p.parent_call_key, l.call_key, l.leg_key) AS assembled_key
    FROM legs l
    LEFT JOIN parents p ON p.child_leg_key = l.leg_key
)
SELECT
    provider,
    account,
    assembled_key AS call_key,
    (array_agg(customer ORDER BY started_at, leg_key))[1] AS customer,
    min(started_at) AS started_at,
    min(answered_at) AS answered_at,
    max(ended_at) AS ended_at,
    extract(epoch FROM max(ended_at) - min(started_at))::integer AS duration_s,
    sum(billable_s) AS billable_s,
    (array_agg(direction ORDER BY started_at, leg_key))[1] AS direction,
    (array_agg(caller_number ORDER BY started_at, leg_key))[1] AS caller_number,
    (array_agg(called_number ORDER BY started_at, leg_key))[1] AS called_number,
    (array_agg(service_number ORDER BY started_at, leg_key)
        FILTER (WHERE service_number IS NOT NULL))[1] AS service_number,
    CASE WHEN bool_or(outcome = 'answered') THEN 'answered'
         ELSE (array_agg(outcome ORDER BY started_at, leg_key))[1] END AS outcome,
    count(*)::integer AS legs,
    (count(*) FILTER (WHERE outcome = 'answered'))::integer AS answered_legs,
    sum(cost_eur) AS cost_eur
FROM linked
GROUP BY provider, account, assembled_key
HAVING min(started_at) >= %(from)s::timestamptz AND min(started_at) < %(to)s::timestamptz;

DELETE FROM cdr.fact_call c
WHERE c.provider = %(provider)s AND c.account = %(account)s
  AND c.started_at >= %(from)s::timestamptz AND c.started_at < %(to)s::timestamptz
  AND NOT EXISTS (SELECT 1 FROM fresh_call f WHERE f.call_key = c.call_key);

INSERT INTO cdr.fact_call AS c (
    provider, account, call_key, customer, started_at, answered_at, ended_at, duration_s, billable_s,
    direction, caller_number, called_number, service_number, outcome, legs, answered_legs, cost_eur)
SELECT provider, account, call_key, customer, started_at, answered_at, ended_at, duration_s, billable_s,
       direction, caller_number, called_number, service_number, outcome, legs, answered_legs, cost_eur
FROM fresh_call
ON CONFLICT (provider, account, call_key) DO UPDATE SET
    customer = EXCLUDED.customer,
    started_at = EXCLUDED.started_at, answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at,
    duration_s = EXCLUDED.duration_s, billable_s = EXCLUDED.billable_s, direction = EXCLUDED.direction,
    caller_number = EXCLUDED.caller_number, called_number = EXCLUDED.called_number, service_number = EXCLUDED.service_number,
    outcome = EXCLUDED.outcome, legs = EXCLUDED.legs, answered_legs = EXCLUDED.answered_legs,
    cost_eur = EXCLUDED.cost_eur
WHERE (c.customer, c.started_at, c.answered_at, c.ended_at, c.duration_s, c.billable_s, c.direction,
       c.caller_number, c.called_number, c.service_number, c.outcome, c.legs, c.answered_legs, c.cost_eur)
      IS DISTINCT FROM
      (EXCLUDED.customer, EXCLUDED.started_at, EXCLUDED.answered_at, EXCLUDED.ended_at, EXCLUDED.duration_s,
       EXCLUDED.billable_s, EXCLUDED.direction, EXCLUDED.caller_number, EXCLUDED.called_number,
       EXCLUDED.service_number,
       EXCLUDED.outcome, EXCLUDED.legs, EXCLUDED.answered_legs, EXCLUDED.cost_eur);

INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT 'mart', %(provider)s, %(account)s, d::date
FROM generate_series((%(from)s::timestamptz AT TIME ZONE 'UTC')::date,
                     ((%(to)s::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
                     interval '1 day') AS d
ON CONFLICT DO NOTHING;
