-- Re-assemble the calls that start in [from, to) from their legs.
-- A leg belongs to the call of the leg that names it as its b-leg (TENIOS bleg_uuid), else to its
-- own call_key (main_leg_uuid or uuid). Legs are read one day either side so that a call whose
-- legs straddle midnight is assembled whole; it is kept in the day of its first leg.
-- Guarded upsert plus delete of vanished calls: an identical re-run rewrites nothing.
DROP TABLE IF EXISTS fresh_call;

CREATE TEMP TABLE fresh_call ON COMMIT DROP AS
WITH legs AS (
    SELECT l.*
    FROM cdr.fact_call_leg l
    WHERE l.started_at >= %(from)s::timestamptz - interval '1 day'
      AND l.started_at <  %(to)s::timestamptz + interval '1 day'
), parents AS (
    -- for each leg named as some other leg's b-leg: the call of the earliest such leg
    SELECT DISTINCT ON (provider, account, linked_leg_key)
           provider, account, linked_leg_key AS child_leg_key, call_key AS parent_call_key
    FROM legs
    WHERE linked_leg_key IS NOT NULL AND linked_leg_key <> leg_key
    ORDER BY provider, account, linked_leg_key, started_at
), linked AS (
    SELECT l.*, coalesce(p.parent_call_key, l.call_key, l.leg_key) AS assembled_key
    FROM legs l
    LEFT JOIN parents p
           ON p.provider = l.provider AND p.account = l.account AND p.child_leg_key = l.leg_key
)
SELECT
    provider,
    account,
    assembled_key AS call_key,
    min(started_at) AS started_at,
    min(answered_at) AS answered_at,
    max(ended_at) AS ended_at,
    extract(epoch FROM max(ended_at) - min(started_at))::integer AS duration_s,
    sum(billable_s) AS billable_s,
    (array_agg(direction ORDER BY started_at, leg_key))[1] AS direction,
    (array_agg(caller_number ORDER BY started_at, leg_key))[1] AS caller_number,
    (array_agg(service_number ORDER BY started_at, leg_key) FILTER (WHERE service_number IS NOT NULL))[1] AS service_number,
    CASE WHEN bool_or(outcome = 'answered') THEN 'answered'
         ELSE (array_agg(outcome ORDER BY started_at, leg_key))[1] END AS outcome,
    count(*)::integer AS legs,
    (count(*) FILTER (WHERE outcome = 'answered'))::integer AS answered_legs,
    sum(cost_eur) AS cost_eur
FROM linked
GROUP BY provider, account, assembled_key
HAVING min(started_at) >= %(from)s::timestamptz AND min(started_at) < %(to)s::timestamptz;

DELETE FROM cdr.fact_call c
WHERE c.started_at >= %(from)s::timestamptz AND c.started_at < %(to)s::timestamptz
  AND NOT EXISTS (SELECT 1 FROM fresh_call f
                  WHERE f.provider = c.provider AND f.account = c.account AND f.call_key = c.call_key);

INSERT INTO cdr.fact_call AS c
SELECT * FROM fresh_call
ON CONFLICT (provider, account, call_key) DO UPDATE SET
    started_at = EXCLUDED.started_at, answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at,
    duration_s = EXCLUDED.duration_s, billable_s = EXCLUDED.billable_s, direction = EXCLUDED.direction,
    caller_number = EXCLUDED.caller_number, service_number = EXCLUDED.service_number,
    outcome = EXCLUDED.outcome, legs = EXCLUDED.legs, answered_legs = EXCLUDED.answered_legs,
    cost_eur = EXCLUDED.cost_eur
WHERE (c.started_at, c.answered_at, c.ended_at, c.duration_s, c.billable_s, c.direction, c.caller_number,
       c.service_number, c.outcome, c.legs, c.answered_legs, c.cost_eur)
      IS DISTINCT FROM
      (EXCLUDED.started_at, EXCLUDED.answered_at, EXCLUDED.ended_at, EXCLUDED.duration_s, EXCLUDED.billable_s,
       EXCLUDED.direction, EXCLUDED.caller_number, EXCLUDED.service_number, EXCLUDED.outcome, EXCLUDED.legs,
       EXCLUDED.answered_legs, EXCLUDED.cost_eur);
