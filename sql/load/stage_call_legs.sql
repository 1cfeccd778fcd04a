-- Per-transaction staging for one window's legs and quarantined records; dropped at commit (and
-- first, so a second batch in the same transaction starts empty).
-- Column types are the ones binary COPY writes fastest from Python (float8 for money and
-- seconds, text for the JSON attributes); the merge casts them to the fact's types.
DROP TABLE IF EXISTS pg_temp.stage_call_leg;

CREATE TEMP TABLE stage_call_leg (
    provider         text,
    account          text,
    customer         text,
    leg_key          text,
    call_key         text,
    started_at       timestamptz,
    answered_at      timestamptz,
    ended_at         timestamptz,
    duration_s       integer,
    billable_s       double precision,
    direction        text,
    caller_number    text,
    called_number    text,
    service_number   text,
    call_type        text,
    outcome          text,
    hangup_cause     text,
    cost_eur         double precision,
    source_network   text,
    extension        text,
    linked_leg_key   text,
    attributes       text,
    raw_response_id  bigint,
    seq              bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DROP;
