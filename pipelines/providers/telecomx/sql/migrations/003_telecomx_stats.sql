-- Telecom X PBX statistics (POST /pbx/cdrstats): counters per employee and interval, already
-- aggregated by the provider, so they get their own fact instead of cdr.fact_call_leg.

CREATE TABLE cdr.fact_pbx_stats (
    provider             text        NOT NULL,
    customer             text        NOT NULL,   -- the customer id requested; '' = the token's own
    employee_id          text        NOT NULL,
    extension_id         text,
    interval_start       timestamptz NOT NULL,   -- the bare interval key mapped to a real start
    grain                text        NOT NULL CHECK (grain IN ('HOUR', 'DAY', 'WEEK', 'MONTH')),
    time_zone            text        NOT NULL,   -- the zone the keys were read in (UTC by default)
    interval_key         text        NOT NULL,   -- the key as the API sent it ("49", "7")
    account              text        NOT NULL,   -- the configured account that last loaded the row
    employee_name        text,
    extension_number     text,
    -- Every counter exactly as sent; NULL when the interval did not carry it. Not "fixed":
    -- inboundAnswered is 0 in the doc's example while inboundCalls > unanswered + busy.
    outbound_calls       integer,
    outbound_seconds     bigint,
    outbound_answered    integer,
    outbound_unanswered  integer,
    outbound_failed      integer,
    inbound_calls        integer,
    inbound_seconds      bigint,
    inbound_answered     integer,
    inbound_unanswered   integer,
    inbound_busy         integer,
    raw_response_id      bigint,                 -- the page this version of the row came from
    first_seen_at        timestamptz NOT NULL DEFAULT now(),
    last_changed_at      timestamptz NOT NULL DEFAULT now(),
    -- A re-pull replaces the counts of the same key, never adds to them.
    CONSTRAINT fact_pbx_stats_uq UNIQUE NULLS NOT DISTINCT
        (provider, customer, employee_id, extension_id, interval_start, grain)
);
CREATE INDEX fact_pbx_stats_interval_idx ON cdr.fact_pbx_stats (interval_start);

-- Calls, answered calls and seconds per UTC day and direction, from the leg aggregates and from
-- the Telecom X counters, where the meanings match. Where they do not (docs/providers/telecomx.md):
-- * Telecom X answered is NULL for inbound: inboundAnswered is not trustworthy (0 in the doc's
--   example); the raw counter stays in cdr.fact_pbx_stats. Outbound answered is outboundAnswered.
-- * Telecom X counts per employee: a call that rang several employees may count once for each,
--   and a local call (between extensions) counts as outbound for one and inbound for the other
--   unless TELECOMX_IGNORE_LOCAL is set. Legs have an `internal` direction instead.
-- * seconds: legs give duration_s (for TENIOS including ring time); Telecom X gives its
--   "call seconds" (whether ring time is included is undocumented).
-- * Only HOUR rows (summed per UTC day) and DAY rows read in UTC count; a DAY row is left out
--   where HOUR rows of the same customer and day exist. WEEK and MONTH rows, and DAY rows read
--   in another zone, span no single UTC day and are not shown here.
CREATE VIEW cdr.v_daily_activity AS
SELECT 'call_legs'::text AS source, provider, account, NULL::text AS customer, day, direction,
       sum(calls)::bigint AS calls, sum(answered)::bigint AS answered, sum(duration_s)::bigint AS seconds
FROM cdr.agg_call_leg_daily
GROUP BY provider, account, day, direction
UNION ALL
SELECT 'pbx_stats', s.provider, s.account, s.customer, d.day, d.direction,
       sum(d.calls)::bigint, sum(d.answered)::bigint, sum(d.seconds)::bigint
FROM cdr.fact_pbx_stats s
CROSS JOIN LATERAL (VALUES
    ((s.interval_start AT TIME ZONE 'UTC')::date, 'outbound', s.outbound_calls, s.outbound_answered, s.outbound_seconds),
    ((s.interval_start AT TIME ZONE 'UTC')::date, 'inbound', s.inbound_calls, NULL::integer, s.inbound_seconds)
) AS d (day, direction, calls, answered, seconds)
WHERE s.grain = 'HOUR'
   OR (s.grain = 'DAY' AND s.time_zone = 'UTC'
       AND NOT EXISTS (SELECT 1 FROM cdr.fact_pbx_stats h
                       WHERE h.grain = 'HOUR' AND h.provider = s.provider AND h.customer = s.customer
                         AND h.interval_start >= s.interval_start
                         AND h.interval_start < s.interval_start + interval '1 day'))
GROUP BY s.provider, s.account, s.customer, d.day, d.direction;
