-- Re-assemble one provider account's calls that start in [from, to) from its legs.
-- A leg belongs to the call of the leg that names it as its b-leg (TENIOS bleg_uuid), else to its
-- own call_key (main_leg_uuid or uuid). Legs are read one day either side so that a call whose
-- legs straddle midnight is assembled whole; it is kept in the day of its first leg, and carries
-- that leg's customer.
-- Only the account's rows are read and written: other accounts' calls are left as they are.
-- Guarded update, insert of new calls and delete of vanished ones: an identical re-run rewrites nothing.
-- Cost (a day's refresh reads three days of legs, about 90,000 for 30,000 a day): one sort of the
-- legs by call, feeding a window that marks each call's first leg and start, and the aggregates.
-- The first leg's attributes are the values of the marked row (not six ordered array_aggs, which
-- copied every leg's values into per-call arrays); calls starting outside the range are dropped
-- before they are aggregated; keys are compared bytewise (COLLATE "C": the same groups, and
-- sort abbreviation the database's collation may not allow), with ties between legs that start
-- together still broken by leg_key in the database's collation, as calls were first assembled.
-- tests/warehouse/test_calls_assembly.py holds the result equal, row for row, to the former SQL.
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
    -- only the columns a call is made of: this is kept in memory for the two steps that read it
    SELECT l.leg_key COLLATE "C" AS leg_key, l.call_key COLLATE "C" AS call_key,
           l.linked_leg_key COLLATE "C" AS linked_leg_key, l.leg_key AS tie_key, l.customer, l.started_at,
           l.answered_at, l.ended_at, l.billable_s, l.direction, l.caller_number, l.called_number,
           l.service_number, l.outcome, l.cost_eur
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
), ordered AS (
    -- one sort, by call then start: the window numbers each call's legs and gives its start
    SELECT l.*, coalesce(p.parent_call_key, l.call_key, l.leg_key) AS assembled_key,
           row_number() OVER w = 1 AS first_leg,
           first_value(l.started_at) OVER w AS call_started_at
    FROM legs l
    LEFT JOIN parents p ON p.child_leg_key = l.leg_key
    WINDOW w AS (PARTITION BY coalesce(p.parent_call_key, l.call_key, l.leg_key) ORDER BY l.started_at, l.tie_key)
)
SELECT
    %(provider)s::text AS provider,
    %(account)s::text AS account,
    assembled_key COLLATE "default" AS call_key,
    any_value(customer) FILTER (WHERE first_leg) AS customer,
    min(started_at) AS started_at,
    min(answered_at) AS answered_at,
    max(ended_at) AS ended_at,
    extract(epoch FROM max(ended_at) - min(started_at))::integer AS duration_s,
    sum(billable_s) AS billable_s,
    any_value(direction) FILTER (WHERE first_leg) AS direction,
    any_value(caller_number) FILTER (WHERE first_leg) AS caller_number,
    any_value(called_number) FILTER (WHERE first_leg) AS called_number,
    -- the first service number given, not the first leg's: the input is already in this order
    (array_agg(service_number ORDER BY started_at, tie_key)
        FILTER (WHERE service_number IS NOT NULL))[1] AS service_number,
    CASE WHEN bool_or(outcome = 'answered') THEN 'answered'
         ELSE any_value(outcome) FILTER (WHERE first_leg) END AS outcome,
    count(*)::integer AS legs,
    (count(*) FILTER (WHERE outcome = 'answered'))::integer AS answered_legs,
    sum(cost_eur) AS cost_eur
FROM ordered
WHERE call_started_at >= %(from)s::timestamptz AND call_started_at < %(to)s::timestamptz
GROUP BY assembled_key;

DELETE FROM cdr.fact_call c
WHERE c.provider = %(provider)s AND c.account = %(account)s
  AND c.started_at >= %(from)s::timestamptz AND c.started_at < %(to)s::timestamptz
  AND NOT EXISTS (SELECT 1 FROM fresh_call f WHERE f.call_key = c.call_key);

-- Calls the range holds that changed: updated in place, through one hash join with the range's
-- stored calls. The guard: a call equal to the stored one is left as it is, so an identical re-run
-- writes nothing. The calls the range does not hold yet are inserted after this script
-- (aggregates/insert_new_calls.sql, pipelines.warehouse.aggregates.assemble_calls).
UPDATE cdr.fact_call AS s SET
    customer = f.customer,
    started_at = f.started_at, answered_at = f.answered_at, ended_at = f.ended_at,
    duration_s = f.duration_s, billable_s = f.billable_s, direction = f.direction,
    caller_number = f.caller_number, called_number = f.called_number, service_number = f.service_number,
    outcome = f.outcome, legs = f.legs, answered_legs = f.answered_legs, cost_eur = f.cost_eur
FROM fresh_call f
WHERE s.provider = %(provider)s AND s.account = %(account)s
  AND s.started_at >= %(from)s::timestamptz AND s.started_at < %(to)s::timestamptz
  AND s.call_key = f.call_key
  AND (s.customer, s.started_at, s.answered_at, s.ended_at, s.duration_s, s.billable_s, s.direction,
       s.caller_number, s.called_number, s.service_number, s.outcome, s.legs, s.answered_legs, s.cost_eur)
      IS DISTINCT FROM -- the guard
      (f.customer, f.started_at, f.answered_at, f.ended_at, f.duration_s, f.billable_s, f.direction,
       f.caller_number, f.called_number, f.service_number, f.outcome, f.legs, f.answered_legs, f.cost_eur);

INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT 'mart', %(provider)s, %(account)s, d::date
FROM generate_series((%(from)s::timestamptz AT TIME ZONE 'UTC')::date,
                     ((%(to)s::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
                     interval '1 day') AS d
ON CONFLICT DO NOTHING;
