-- The warehouse: raw landing, canonical call-leg fact (monthly partitions), assembled calls,
-- hourly and daily aggregates, quarantine. Requires PostgreSQL 15+ (NULLS NOT DISTINCT, MERGE).

CREATE SCHEMA IF NOT EXISTS cdr;

-- Every successful HTTP response body exactly as received, gzip-compressed by the client
-- (the server has no lz4, and pglz is slow and weak on JSON/XML), so any load can be replayed.
-- A byte-identical re-fetch of the same page of the same window is stored once.
CREATE TABLE cdr.raw_response (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text        NOT NULL,
    account         text        NOT NULL,
    endpoint        text        NOT NULL,
    request_params  jsonb       NOT NULL,   -- secrets removed by the client before it gets here
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    page            integer     NOT NULL,
    http_status     smallint    NOT NULL,
    content_type    text,
    body_sha256     bytea       NOT NULL,
    body_bytes      integer     NOT NULL,
    body_gzip       bytea       NOT NULL,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_response_page_uq
        UNIQUE (provider, account, endpoint, window_start, window_end, page, body_sha256)
);
ALTER TABLE cdr.raw_response ALTER COLUMN body_gzip SET STORAGE EXTERNAL;

-- The latest complete fetch of each window: which raw pages make it up. The parse step reads
-- exactly these pages, so a re-pull that changed a record supersedes the older pages.
CREATE TABLE cdr.window_fetch (
    provider          text        NOT NULL,
    account           text        NOT NULL,
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    raw_response_ids  bigint[]    NOT NULL,
    pages             integer     NOT NULL,
    records           integer     NOT NULL,  -- records in the bodies, before parsing
    provider_count    integer,               -- the provider's own count, where it has one
    fetched_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, account, window_start, window_end)
);

-- One row per call leg, all providers, one canonical shape.
CREATE TABLE cdr.fact_call_leg (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    leg_key          text        NOT NULL,   -- provider uuid, or a content hash + ordinal
    call_key         text,                   -- legs of one call share it
    started_at       timestamptz NOT NULL,
    answered_at      timestamptz,
    ended_at         timestamptz,
    duration_s       integer,                -- total, including set-up and ring time
    billable_s       numeric(14, 6),
    direction        text        NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal', 'unknown')),
    caller_number    text,
    called_number    text,
    service_number   text,
    call_type        text,                   -- the provider's own type, kept as data
    outcome          text        NOT NULL CHECK (outcome IN ('answered', 'no_answer', 'busy', 'cancelled', 'failed', 'unknown')),
    hangup_cause     text,
    cost_eur         numeric(14, 6),
    source_network   text,
    extension        text,
    linked_leg_key   text,                   -- the leg this one was connected to (TENIOS bleg_uuid)
    attributes       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    raw_response_id  bigint,                 -- the page this version of the leg came from
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at  timestamptz NOT NULL DEFAULT now(),
    -- started_at is part of the key because a partitioned table's unique keys must contain the
    -- partition column; the no-duplicate-leg-keys asset check watches for a leg whose start moved.
    PRIMARY KEY (provider, account, leg_key, started_at)
) PARTITION BY RANGE (started_at);

CREATE INDEX fact_call_leg_call_idx ON cdr.fact_call_leg (provider, account, call_key);

-- Monthly partitions are made on demand by the loader, under a lock so concurrent loads agree.
CREATE FUNCTION cdr.ensure_call_leg_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    part_name   text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cdr.fact_call_leg partitions'));
    WHILE month_start <= (to_ts AT TIME ZONE 'UTC')::date LOOP
        part_name := format('fact_call_leg_%s', to_char(month_start, 'YYYY_MM'));
        IF to_regclass(format('cdr.%I', part_name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE cdr.%I PARTITION OF cdr.fact_call_leg FOR VALUES FROM (%L) TO (%L)',
                part_name,
                (month_start::timestamp AT TIME ZONE 'UTC'),
                ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
END;
$$;

-- Legs assembled into calls (TENIOS: grouped by main_leg_uuid / uuid / bleg_uuid).
CREATE TABLE cdr.fact_call (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    call_key         text        NOT NULL,
    started_at       timestamptz NOT NULL,
    answered_at      timestamptz,
    ended_at         timestamptz,
    duration_s       integer,
    billable_s       numeric(14, 6),
    direction        text        NOT NULL,
    caller_number    text,
    service_number   text,
    outcome          text        NOT NULL,
    legs             integer     NOT NULL,
    answered_legs    integer     NOT NULL,
    cost_eur         numeric(14, 6),
    PRIMARY KEY (provider, account, call_key)
);
CREATE INDEX fact_call_started_idx ON cdr.fact_call (started_at);

-- Aggregates over legs, by UTC hour and UTC day.
CREATE TABLE cdr.agg_call_leg_hourly (
    provider        text        NOT NULL,
    account         text        NOT NULL,
    hour            timestamptz NOT NULL,
    service_number  text,
    direction       text        NOT NULL,
    outcome         text        NOT NULL,
    legs            bigint      NOT NULL,
    calls           bigint      NOT NULL,
    answered        bigint      NOT NULL,
    duration_s      bigint      NOT NULL,
    billable_s      numeric(18, 6) NOT NULL,
    cost_eur        numeric(18, 6) NOT NULL,
    CONSTRAINT agg_call_leg_hourly_uq UNIQUE NULLS NOT DISTINCT
        (provider, account, hour, service_number, direction, outcome)
);

CREATE TABLE cdr.agg_call_leg_daily (
    provider        text        NOT NULL,
    account         text        NOT NULL,
    day             date        NOT NULL,
    service_number  text,
    direction       text        NOT NULL,
    outcome         text        NOT NULL,
    legs            bigint      NOT NULL,
    calls           bigint      NOT NULL,
    answered        bigint      NOT NULL,
    duration_s      bigint      NOT NULL,
    billable_s      numeric(18, 6) NOT NULL,
    cost_eur        numeric(18, 6) NOT NULL,
    CONSTRAINT agg_call_leg_daily_uq UNIQUE NULLS NOT DISTINCT
        (provider, account, day, service_number, direction, outcome)
);

-- Records that could not be parsed, with why, and where the raw body is.
CREATE TABLE cdr.quarantine (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    raw_response_id  bigint      NOT NULL,
    record_index     integer     NOT NULL,   -- -1: the whole body
    field            text,
    reason           text        NOT NULL,
    record           text,
    quarantined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, account, raw_response_id, record_index)
);

-- One row per partition load: what a run fetched and changed. Audit only; not warehouse data.
CREATE TABLE cdr.load_audit (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text        NOT NULL,
    account       text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    legs_parsed   integer     NOT NULL,
    inserted      integer     NOT NULL,
    updated       integer     NOT NULL,
    unchanged     integer     NOT NULL,
    quarantined   integer     NOT NULL,
    duplicates_in_window integer NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now()
);
