-- The customer as a column, and derived tables refreshed per account.
--
-- `customer` is the provider's own customer within an account: the MIXvoip profile id, the
-- Belfabriek customer id, the Telecom X customer (cdr.fact_pbx_stats has it already); NULL where
-- the provider has none (TENIOS). The legs carry it, a call carries its legs', and it is part of
-- the aggregates' grain. The billing items get theirs in the MIXvoip folder's own migration.
--
-- Existing rows are filled from where the customer is today, so the warehouse is consistent when
-- this migration commits (and the next load, whose parser fills the same values, rewrites nothing):
-- - legs: MIXvoip from attributes.profile_id, else the request_params.profile_id of the raw page
--   the leg came from; Belfabriek from that page's request_params.customer_id; others stay NULL;
-- - calls: the customer of their earliest leg (as sql/aggregates/refresh_calls.sql assembles it);
-- - aggregates: recomputed from the legs for every account whose legs have a customer (the others'
--   rows keep their values, customer NULL), with the formulas of refresh_leg_aggregates.sql;
-- - cdr.stale_day: keyed by account; each existing mark becomes a mark for every account with
--   legs (or derived rows) on that day.

-- Legs ------------------------------------------------------------------------------------------
ALTER TABLE cdr.fact_call_leg ADD COLUMN customer text;

UPDATE cdr.fact_call_leg
SET customer = attributes->>'profile_id'
WHERE provider = 'mixvoip' AND attributes ? 'profile_id';

UPDATE cdr.fact_call_leg l
SET customer = nullif(r.request_params->>'profile_id', '')
FROM cdr.raw_response r
WHERE l.provider = 'mixvoip' AND l.customer IS NULL AND r.id = l.raw_response_id;

UPDATE cdr.fact_call_leg l
SET customer = nullif(r.request_params->>'customer_id', '')
FROM cdr.raw_response r
WHERE l.provider = 'belfabriek' AND r.id = l.raw_response_id;

-- The accounts whose calls and aggregates change: those with legs that now have a customer.
CREATE TEMP TABLE customer_account ON COMMIT DROP AS
SELECT DISTINCT provider, account FROM cdr.fact_call_leg WHERE customer IS NOT NULL;

-- Calls -----------------------------------------------------------------------------------------
ALTER TABLE cdr.fact_call ADD COLUMN customer text;

UPDATE cdr.fact_call c
SET customer = first_leg.customer
FROM (
    SELECT DISTINCT ON (l.provider, l.account, coalesce(l.call_key, l.leg_key))
           l.provider, l.account, coalesce(l.call_key, l.leg_key) AS call_key, l.customer
    FROM cdr.fact_call_leg l
    JOIN customer_account ca ON (ca.provider, ca.account) = (l.provider, l.account)
    ORDER BY l.provider, l.account, coalesce(l.call_key, l.leg_key), l.started_at, l.leg_key
) AS first_leg
WHERE (c.provider, c.account, c.call_key) = (first_leg.provider, first_leg.account, first_leg.call_key);

-- A refresh recomputes one account's calls over a day range.
CREATE INDEX fact_call_account_started_idx ON cdr.fact_call (provider, account, started_at);

-- Aggregates: customer in the grain, right after the period (a refresh deletes and upserts by
-- provider, account and period).
ALTER TABLE cdr.agg_call_leg_hourly ADD COLUMN customer text;
ALTER TABLE cdr.agg_call_leg_hourly DROP CONSTRAINT agg_call_leg_hourly_uq;
ALTER TABLE cdr.agg_call_leg_daily ADD COLUMN customer text;
ALTER TABLE cdr.agg_call_leg_daily DROP CONSTRAINT agg_call_leg_daily_uq;

DELETE FROM cdr.agg_call_leg_hourly a
USING customer_account ca
WHERE (a.provider, a.account) = (ca.provider, ca.account);

INSERT INTO cdr.agg_call_leg_hourly (provider, account, hour, customer, service_number, direction, outcome,
                                     legs, calls, answered, duration_s, billable_s, cost_eur)
SELECT l.provider, l.account, date_trunc('hour', l.started_at, 'UTC'), l.customer, l.service_number,
       l.direction, l.outcome,
       count(*),
       count(*) FILTER (WHERE l.call_key IS NULL OR l.call_key = l.leg_key),
       count(*) FILTER (WHERE l.outcome = 'answered'),
       coalesce(sum(l.duration_s), 0)::bigint,
       coalesce(sum(l.billable_s), 0),
       coalesce(sum(l.cost_eur), 0)
FROM cdr.fact_call_leg l
JOIN customer_account ca ON (ca.provider, ca.account) = (l.provider, l.account)
GROUP BY 1, 2, 3, 4, 5, 6, 7;

DELETE FROM cdr.agg_call_leg_daily a
USING customer_account ca
WHERE (a.provider, a.account) = (ca.provider, ca.account);

INSERT INTO cdr.agg_call_leg_daily (provider, account, day, customer, service_number, direction, outcome,
                                    legs, calls, answered, duration_s, billable_s, cost_eur)
SELECT h.provider, h.account, (h.hour AT TIME ZONE 'UTC')::date, h.customer, h.service_number, h.direction,
       h.outcome, sum(h.legs)::bigint, sum(h.calls)::bigint, sum(h.answered)::bigint,
       sum(h.duration_s)::bigint, sum(h.billable_s), sum(h.cost_eur)
FROM cdr.agg_call_leg_hourly h
JOIN customer_account ca ON (ca.provider, ca.account) = (h.provider, h.account)
GROUP BY 1, 2, 3, 4, 5, 6, 7;

ALTER TABLE cdr.agg_call_leg_hourly ADD CONSTRAINT agg_call_leg_hourly_uq UNIQUE NULLS NOT DISTINCT
    (provider, account, hour, customer, service_number, direction, outcome);
ALTER TABLE cdr.agg_call_leg_daily ADD CONSTRAINT agg_call_leg_daily_uq UNIQUE NULLS NOT DISTINCT
    (provider, account, day, customer, service_number, direction, outcome);

-- Stale days, per account -------------------------------------------------------------------------
-- The leg merge marks (target, provider, account, day); each account's refresh clears its own.
ALTER TABLE cdr.stale_day RENAME TO stale_day_before_008;
ALTER TABLE cdr.stale_day_before_008 RENAME CONSTRAINT stale_day_pkey TO stale_day_before_008_pkey;

CREATE TABLE cdr.stale_day (
    target     text        NOT NULL CHECK (target IN ('calls', 'aggregates')),
    provider   text        NOT NULL,
    account    text        NOT NULL,
    day        date        NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, provider, account, day)
);

-- A calls mark on a day also covers the calls of legs starting the day after (the merge marks the
-- day before a changed leg, where its call may have started).
INSERT INTO cdr.stale_day (target, provider, account, day, marked_at)
SELECT DISTINCT s.target, a.provider, a.account, s.day, s.marked_at
FROM cdr.stale_day_before_008 s
CROSS JOIN LATERAL (
    SELECT l.provider, l.account FROM cdr.fact_call_leg l
    WHERE l.started_at >= s.day::timestamp AT TIME ZONE 'UTC'
      AND l.started_at < (s.day + CASE s.target WHEN 'calls' THEN 2 ELSE 1 END)::timestamp AT TIME ZONE 'UTC'
    UNION
    SELECT c.provider, c.account FROM cdr.fact_call c
    WHERE s.target = 'calls'
      AND c.started_at >= s.day::timestamp AT TIME ZONE 'UTC'
      AND c.started_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC'
    UNION
    SELECT d.provider, d.account FROM cdr.agg_call_leg_daily d
    WHERE s.target = 'aggregates' AND d.day = s.day
) AS a;

DROP TABLE cdr.stale_day_before_008;
