-- Issue 16: the BI-ready model, schema `mart`. BI tools read it and nothing else: local time in
-- each account's reporting zone, calls rather than legs, the telecom KPIs, numbers enriched with
-- their country and type, every relation and column commented (`cdr-etl docs` turns the comments
-- into docs/data-dictionary.md).
--
-- Stored and kept current by the `mart` asset (pipelines/warehouse/mart.py) for the days a load
-- changed: dim_account, dim_date, the number enrichment, kpi_daily and kpi_hourly. Views over
-- those and the facts: dim_number, calls, call_legs, heatmap_weekday_hour, kpi_employee_daily,
-- data_quality_daily.
--
-- Access: cdr_bi_reader reads the mart only (no longer schema cdr: raw bodies, quarantine and
-- bookkeeping are not for BI users); cdr_bi_masked reads the same relations with subscriber
-- numbers masked (mart.numbers_hidden()).

-- Calls carry their destination: the first leg's called number -----------------------------------
ALTER TABLE cdr.fact_call ADD COLUMN called_number text;

UPDATE cdr.fact_call c
SET called_number = first_leg.called_number
FROM (
    SELECT DISTINCT ON (l.provider, l.account, coalesce(l.call_key, l.leg_key))
           l.provider, l.account, coalesce(l.call_key, l.leg_key) AS call_key, l.called_number
    FROM cdr.fact_call_leg l
    ORDER BY l.provider, l.account, coalesce(l.call_key, l.leg_key), l.started_at, l.leg_key
) AS first_leg
WHERE (c.provider, c.account, c.call_key) = (first_leg.provider, first_leg.account, first_leg.call_key)
  AND first_leg.called_number IS NOT NULL;

-- The mart's KPIs are recomputed for the days whose calls a refresh recomputed -------------------
DO $$
DECLARE
    old_check text;
BEGIN
    -- its name depends on the constraints that existed when migration 008 created the table
    SELECT conname INTO old_check FROM pg_catalog.pg_constraint
    WHERE conrelid = 'cdr.stale_day'::regclass AND contype = 'c';
    EXECUTE format('ALTER TABLE cdr.stale_day DROP CONSTRAINT %I', old_check);
END
$$;
ALTER TABLE cdr.stale_day ADD CONSTRAINT stale_day_target_check
    CHECK (target IN ('calls', 'aggregates', 'mart'));
INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT DISTINCT 'mart', provider, account, (started_at AT TIME ZONE 'UTC')::date FROM cdr.fact_call
ON CONFLICT DO NOTHING;

CREATE SCHEMA IF NOT EXISTS mart;
COMMENT ON SCHEMA mart IS
    'The BI-ready model: dimensions, friendly views and KPIs in each account''s local time. '
    'Read it as cdr_bi_reader (or cdr_bi_masked: subscriber numbers masked).';

-- Dimensions ------------------------------------------------------------------------------------
-- One row per distinct number seen in cdr.fact_call_leg, enriched once (never per leg). Stored in
-- cdr, out of the BI roles' reach; they read it through the view mart.dim_number, which masks the
-- number for cdr_bi_masked.
CREATE TABLE cdr.number_enrichment (
    number       text        PRIMARY KEY,
    e164         text,
    country_iso  text,
    country_name text,
    number_type  text        NOT NULL DEFAULT 'unknown'
        CHECK (number_type IN ('mobile', 'fixed', 'toll_free', 'premium', 'shared_cost', 'voip', 'unknown')),
    region       text,
    country_code smallint,
    enriched_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cdr.number_enrichment IS
    'One row per distinct phone number seen in the call legs (caller, called or service number), '
    'with its country and type as the phonenumbers library reads it. Filled incrementally.';
COMMENT ON COLUMN cdr.number_enrichment.number IS 'The number exactly as stored in the call legs; the join key.';
COMMENT ON COLUMN cdr.number_enrichment.e164 IS
    'The number in E.164 form (+<country code><number>) where it is a valid international number; '
    'NULL for extensions, short service numbers and anything unparseable.';
COMMENT ON COLUMN cdr.number_enrichment.country_iso IS
    'ISO 3166-1 alpha-2 country of the number (e.g. NL, DE); NULL where unknown or non-geographic (e.g. +800).';
COMMENT ON COLUMN cdr.number_enrichment.country_name IS 'English name of the country; NULL where country_iso is NULL.';
COMMENT ON COLUMN cdr.number_enrichment.number_type IS
    'mobile, fixed, toll_free, premium, shared_cost, voip or unknown (extensions, short numbers, '
    'and numbers the library cannot tell apart, e.g. fixed-or-mobile ranges of some countries).';
COMMENT ON COLUMN cdr.number_enrichment.region IS
    'Geographic area of a fixed number (e.g. Berlin) where the library knows it; NULL otherwise.';
COMMENT ON COLUMN cdr.number_enrichment.country_code IS
    'The number''s country calling code (31, 49, 800) where it starts with +; how much mart.mask_number keeps.';
COMMENT ON COLUMN cdr.number_enrichment.enriched_at IS 'When the number was first seen and enriched.';

-- One row per calendar date over the range filled (pipelines.warehouse.mart.fill_dates, idempotent).
CREATE TABLE mart.dim_date (
    date           date     PRIMARY KEY,
    year           smallint NOT NULL,
    quarter        smallint NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    month          smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    iso_year       smallint NOT NULL,
    iso_week       smallint NOT NULL CHECK (iso_week BETWEEN 1 AND 53),
    iso_weekday    smallint NOT NULL CHECK (iso_weekday BETWEEN 1 AND 7),
    weekday_name   text     NOT NULL,
    is_weekend     boolean  NOT NULL,
    is_holiday_nl  boolean  NOT NULL,
    is_holiday_lu  boolean  NOT NULL,
    is_holiday_de  boolean  NOT NULL,
    is_holiday_dk  boolean  NOT NULL
);
COMMENT ON TABLE mart.dim_date IS
    'One row per calendar date (a local date: join it to local_date, not to a UTC day), '
    'with calendar attributes and public holidays of the four provider countries.';
COMMENT ON COLUMN mart.dim_date.date IS 'The calendar date; the join key for local_date.';
COMMENT ON COLUMN mart.dim_date.year IS 'Calendar year.';
COMMENT ON COLUMN mart.dim_date.quarter IS 'Calendar quarter, 1 to 4.';
COMMENT ON COLUMN mart.dim_date.month IS 'Calendar month, 1 to 12.';
COMMENT ON COLUMN mart.dim_date.iso_year IS
    'ISO 8601 week-numbering year (differs from year for some days around New Year).';
COMMENT ON COLUMN mart.dim_date.iso_week IS 'ISO 8601 week number, 1 to 53.';
COMMENT ON COLUMN mart.dim_date.iso_weekday IS 'ISO 8601 weekday: 1 Monday to 7 Sunday.';
COMMENT ON COLUMN mart.dim_date.weekday_name IS 'English weekday name (Monday ... Sunday).';
COMMENT ON COLUMN mart.dim_date.is_weekend IS 'Saturday or Sunday.';
COMMENT ON COLUMN mart.dim_date.is_holiday_nl IS
    'A national public holiday in the Netherlands (holidays package; e.g. King''s Day).';
COMMENT ON COLUMN mart.dim_date.is_holiday_lu IS 'A national public holiday in Luxembourg (holidays package).';
COMMENT ON COLUMN mart.dim_date.is_holiday_de IS
    'A nationwide public holiday in Germany (holidays package; state-only holidays are not counted).';
COMMENT ON COLUMN mart.dim_date.is_holiday_dk IS 'A national public holiday in Denmark (holidays package).';

-- The accounts and their customers as reports name them, with the zone their local time is read in.
CREATE TABLE mart.dim_account (
    provider        text     NOT NULL,
    account         text     NOT NULL,
    customer        text,
    account_name    text     NOT NULL,
    customer_name   text,
    time_zone       text     NOT NULL,
    holiday_country text     CHECK (holiday_country IN ('NL', 'LU', 'DE', 'DK')),
    peak_start_hour smallint NOT NULL DEFAULT 8 CHECK (peak_start_hour BETWEEN 0 AND 24),
    peak_end_hour   smallint NOT NULL DEFAULT 18 CHECK (peak_end_hour BETWEEN 0 AND 24),
    CONSTRAINT dim_account_uq UNIQUE NULLS NOT DISTINCT (provider, account, customer)
);
COMMENT ON TABLE mart.dim_account IS
    'One row per provider account (customer NULL: the account as a whole, and its calls that name '
    'no customer) and one per customer seen under it. Settings from the accounts file.';
COMMENT ON COLUMN mart.dim_account.provider IS 'The provider: tenios, belfabriek, mixvoip, telecomx.';
COMMENT ON COLUMN mart.dim_account.account IS 'The account''s name in the accounts file; the `account` of every table.';
COMMENT ON COLUMN mart.dim_account.customer IS
    'The provider''s own customer id under the account (MIXvoip profile, Belfabriek customer, Telecom X '
    'customer); NULL on the account''s own row.';
COMMENT ON COLUMN mart.dim_account.account_name IS
    'The account''s display name (accounts file `display_name`; else its name).';
COMMENT ON COLUMN mart.dim_account.customer_name IS
    'The customer''s display name (accounts file `customer_names`); else the customer id; NULL on the account''s own row.';
COMMENT ON COLUMN mart.dim_account.time_zone IS
    'The reporting zone (IANA) every local_* column of this account is read in: accounts file `time_zone`, '
    'default per provider (TENIOS Europe/Berlin, Belfabriek Europe/Amsterdam, MIXvoip Europe/Luxembourg, '
    'Telecom X Europe/Copenhagen).';
COMMENT ON COLUMN mart.dim_account.holiday_country IS
    'Whose public holidays count as off-peak (NL, LU, DE or DK): accounts file `holiday_country`, by '
    'default the country of time_zone; NULL where it is none of the four.';
COMMENT ON COLUMN mart.dim_account.peak_start_hour IS
    'First local hour of the peak tariff period on working days (accounts file `peak_hours`, default 8).';
COMMENT ON COLUMN mart.dim_account.peak_end_hour IS
    'The local hour the peak period ends, exclusive (accounts file `peak_hours`, default 18).';

-- Functions the views share ----------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'cdr_bi_masked') THEN
        CREATE ROLE cdr_bi_masked NOLOGIN;
    END IF;
END
$$;

-- Whether the current user must see subscriber numbers masked: a member of cdr_bi_masked (also
-- one that holds cdr_bi_reader as well: the stricter role wins). pg_has_role counts a superuser
-- as a member of every role, so superusers are exempted explicitly.
CREATE FUNCTION mart.numbers_hidden() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(current_user, 'cdr_bi_masked', 'MEMBER')
           AND NOT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false)
$$;
COMMENT ON FUNCTION mart.numbers_hidden() IS
    'True for members of cdr_bi_masked (superusers excepted): the mart views then mask subscriber numbers.';

-- A subscriber number as cdr_bi_masked sees it: "+", the country code and the next two digits
-- kept, every later digit replaced by "x" (+31612345678 -> +3161xxxxxxx). A number without a
-- known country code (extensions, short numbers) keeps no digit at all.
CREATE FUNCTION mart.mask_number(number text, country_code smallint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN country_code IS NOT NULL AND number LIKE '+' || country_code::text || '%'
        THEN left(number, 3 + length(country_code::text))
             || regexp_replace(substr(number, 4 + length(country_code::text)), '[0-9]', 'x', 'g')
        ELSE regexp_replace(number, '[0-9]', 'x', 'g')
    END
$$;
COMMENT ON FUNCTION mart.mask_number(text, smallint) IS
    'The masked form of a subscriber number: +, country code and two more digits kept, the other digits x.';

-- Seconds of conversation of an answered call or leg: from answer to end where the provider gives
-- an answer time (TENIOS), else its duration (MIXvoip gives the talk time as its duration); NULL
-- for a call that was not answered.
CREATE FUNCTION mart.talk_seconds(outcome text, answered_at timestamptz, ended_at timestamptz,
                                  duration_s integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN outcome = 'answered'
                THEN coalesce(round(extract(epoch FROM ended_at - answered_at))::integer, duration_s) END
$$;
COMMENT ON FUNCTION mart.talk_seconds(text, timestamptz, timestamptz, integer) IS
    'Talk time of an answered call: answer to end where known, else its duration; NULL when not answered.';

-- The tariff period of a local start: peak on working days (Monday to Friday, not a public
-- holiday of the account's country) from peak_start_hour to peak_end_hour, off-peak otherwise.
CREATE FUNCTION mart.tariff_period(local_start timestamp, is_holiday boolean, peak_start_hour smallint,
                                   peak_end_hour smallint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN extract(isodow FROM local_start) <= 5 AND NOT coalesce(is_holiday, false)
                     AND extract(hour FROM local_start) >= peak_start_hour
                     AND extract(hour FROM local_start) < peak_end_hour
                THEN 'peak' ELSE 'off_peak' END
$$;
COMMENT ON FUNCTION mart.tariff_period(timestamp, boolean, smallint, smallint) IS
    'peak on working days between the account''s peak hours (local time), off_peak otherwise.';

-- Whether a date is a public holiday in one of the four countries (NULL country: never).
CREATE FUNCTION mart.is_holiday(d mart.dim_date, country text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE country WHEN 'NL' THEN d.is_holiday_nl WHEN 'LU' THEN d.is_holiday_lu
                        WHEN 'DE' THEN d.is_holiday_de WHEN 'DK' THEN d.is_holiday_dk ELSE false END
$$;
COMMENT ON FUNCTION mart.is_holiday(mart.dim_date, text) IS
    'Whether the dim_date row is a public holiday of the country (NL, LU, DE, DK).';

-- Numbers and calls ------------------------------------------------------------------------------
CREATE VIEW mart.dim_number AS
SELECT CASE WHEN viewer.hidden THEN mart.mask_number(n.number, n.country_code) ELSE n.number END AS number,
       CASE WHEN viewer.hidden THEN mart.mask_number(n.e164, n.country_code) ELSE n.e164 END AS e164,
       n.country_iso, n.country_name, n.number_type, n.region
FROM cdr.number_enrichment n
CROSS JOIN (SELECT mart.numbers_hidden() AS hidden) AS viewer;
COMMENT ON VIEW mart.dim_number IS
    'One row per distinct phone number seen in the call legs (caller, called or service number), with its '
    'country and type as the phonenumbers library reads it; filled after each load, once per new number.';
COMMENT ON COLUMN mart.dim_number.number IS
    'The number exactly as stored in the call legs (masked for cdr_bi_masked); the join key.';
COMMENT ON COLUMN mart.dim_number.e164 IS
    'The number in E.164 form (+<country code><number>) where it is a valid international number '
    '(masked for cdr_bi_masked); NULL for extensions, short service numbers and anything unparseable.';
COMMENT ON COLUMN mart.dim_number.country_iso IS
    'ISO 3166-1 alpha-2 country of the number (e.g. NL, DE); NULL where unknown or non-geographic (e.g. +800).';
COMMENT ON COLUMN mart.dim_number.country_name IS 'English name of the country; NULL where country_iso is NULL.';
COMMENT ON COLUMN mart.dim_number.number_type IS
    'mobile, fixed, toll_free, premium, shared_cost, voip or unknown (extensions, short numbers, and '
    'numbers the library cannot tell apart, e.g. the fixed-or-mobile ranges of Denmark or the US).';
COMMENT ON COLUMN mart.dim_number.region IS
    'Geographic area of a fixed number (e.g. Berlin) where the library knows it; NULL otherwise.';

-- The columns mart.calls and mart.call_legs share are commented once, below, for both.
CREATE VIEW mart.calls AS
SELECT c.provider, c.account, c.customer,
       acct.account_name, coalesce(cust.customer_name, c.customer) AS customer_name,
       c.call_key, c.started_at, c.answered_at, c.ended_at,
       coalesce(acct.time_zone, 'UTC') AS time_zone,
       t.local_start, t.local_start::date AS local_date,
       extract(hour FROM t.local_start)::smallint AS local_hour,
       extract(isodow FROM t.local_start)::smallint AS weekday,
       mart.tariff_period(t.local_start, mart.is_holiday(d, acct.holiday_country),
                          coalesce(acct.peak_start_hour, 8::smallint), coalesce(acct.peak_end_hour, 18::smallint))
           AS tariff_period,
       c.direction, c.outcome, c.legs, c.answered_legs,
       CASE WHEN viewer.hidden AND c.caller_number IS DISTINCT FROM c.service_number
            THEN mart.mask_number(c.caller_number, caller.country_code) ELSE c.caller_number END AS caller_number,
       caller.country_iso AS caller_country_iso, caller.country_name AS caller_country,
       coalesce(caller.number_type, 'unknown') AS caller_number_type,
       CASE WHEN viewer.hidden AND coalesce(c.called_number, c.service_number) IS DISTINCT FROM c.service_number
            THEN mart.mask_number(c.called_number, destination.country_code)
            ELSE coalesce(c.called_number, c.service_number) END AS destination_number,
       destination.country_iso AS destination_country_iso, destination.country_name AS destination_country,
       coalesce(destination.number_type, 'unknown') AS destination_number_type,
       c.service_number,
       c.duration_s, mart.talk_seconds(c.outcome, c.answered_at, c.ended_at, c.duration_s) AS talk_s,
       c.billable_s, c.cost_eur
FROM cdr.fact_call c
LEFT JOIN mart.dim_account acct
       ON acct.provider = c.provider AND acct.account = c.account AND acct.customer IS NULL
LEFT JOIN mart.dim_account cust
       ON cust.provider = c.provider AND cust.account = c.account AND cust.customer = c.customer
CROSS JOIN LATERAL (SELECT c.started_at AT TIME ZONE coalesce(acct.time_zone, 'UTC') AS local_start) AS t
LEFT JOIN mart.dim_date d ON d.date = t.local_start::date
LEFT JOIN cdr.number_enrichment caller ON caller.number = c.caller_number
LEFT JOIN cdr.number_enrichment destination ON destination.number = coalesce(c.called_number, c.service_number)
CROSS JOIN (SELECT mart.numbers_hidden() AS hidden) AS viewer;
COMMENT ON VIEW mart.calls IS
    'One row per call (legs assembled: a transferred or forwarded call is one call), in the account''s '
    'local time, with caller and destination country and type. Count calls here, not legs.';
COMMENT ON COLUMN mart.calls.call_key IS 'The call''s key within its account (the provider''s uuid of its first leg, or a content hash).';
COMMENT ON COLUMN mart.calls.started_at IS 'When the call''s first leg started (timestamptz; shown in the session''s zone).';
COMMENT ON COLUMN mart.calls.answered_at IS 'When the call was first answered; NULL when not answered or where the provider gives no answer time.';
COMMENT ON COLUMN mart.calls.ended_at IS 'When the call''s last leg ended.';
COMMENT ON COLUMN mart.calls.legs IS 'How many legs (a-leg, b-legs, forwards) the call has.';
COMMENT ON COLUMN mart.calls.answered_legs IS 'How many of its legs were answered.';
COMMENT ON COLUMN mart.calls.duration_s IS 'Seconds from the first leg''s start to the last leg''s end, ring time included.';
COMMENT ON COLUMN mart.calls.outcome IS
    'answered if any leg was answered, else the first leg''s outcome: no_answer, busy, cancelled, failed, or '
    'unknown (Belfabriek gives no outcome).';

CREATE VIEW mart.call_legs AS
SELECT l.provider, l.account, l.customer,
       acct.account_name, coalesce(cust.customer_name, l.customer) AS customer_name,
       l.leg_key, l.call_key, l.started_at, l.answered_at, l.ended_at,
       coalesce(acct.time_zone, 'UTC') AS time_zone,
       t.local_start, t.local_start::date AS local_date,
       extract(hour FROM t.local_start)::smallint AS local_hour,
       extract(isodow FROM t.local_start)::smallint AS weekday,
       mart.tariff_period(t.local_start, mart.is_holiday(d, acct.holiday_country),
                          coalesce(acct.peak_start_hour, 8::smallint), coalesce(acct.peak_end_hour, 18::smallint))
           AS tariff_period,
       l.direction, l.outcome, l.hangup_cause, l.call_type, l.source_network, l.extension,
       CASE WHEN viewer.hidden AND l.caller_number IS DISTINCT FROM l.service_number
            THEN mart.mask_number(l.caller_number, caller.country_code) ELSE l.caller_number END AS caller_number,
       caller.country_iso AS caller_country_iso, caller.country_name AS caller_country,
       coalesce(caller.number_type, 'unknown') AS caller_number_type,
       CASE WHEN viewer.hidden AND coalesce(l.called_number, l.service_number) IS DISTINCT FROM l.service_number
            THEN mart.mask_number(l.called_number, destination.country_code)
            ELSE coalesce(l.called_number, l.service_number) END AS destination_number,
       destination.country_iso AS destination_country_iso, destination.country_name AS destination_country,
       coalesce(destination.number_type, 'unknown') AS destination_number_type,
       l.service_number,
       l.duration_s, mart.talk_seconds(l.outcome, l.answered_at, l.ended_at, l.duration_s) AS talk_s,
       l.billable_s, l.cost_eur
FROM cdr.fact_call_leg l
LEFT JOIN mart.dim_account acct
       ON acct.provider = l.provider AND acct.account = l.account AND acct.customer IS NULL
LEFT JOIN mart.dim_account cust
       ON cust.provider = l.provider AND cust.account = l.account AND cust.customer = l.customer
CROSS JOIN LATERAL (SELECT l.started_at AT TIME ZONE coalesce(acct.time_zone, 'UTC') AS local_start) AS t
LEFT JOIN mart.dim_date d ON d.date = t.local_start::date
LEFT JOIN cdr.number_enrichment caller ON caller.number = l.caller_number
LEFT JOIN cdr.number_enrichment destination ON destination.number = coalesce(l.called_number, l.service_number)
CROSS JOIN (SELECT mart.numbers_hidden() AS hidden) AS viewer;
COMMENT ON VIEW mart.call_legs IS
    'One row per call leg, in the account''s local time. For the detail of a call; count calls in mart.calls.';
COMMENT ON COLUMN mart.call_legs.leg_key IS 'The leg''s key within its account: the provider''s uuid, or a content hash plus ordinal.';
COMMENT ON COLUMN mart.call_legs.call_key IS 'The key its call has in mart.calls (legs of one call share it; NULL: a call of one leg, keyed by leg_key).';
COMMENT ON COLUMN mart.call_legs.started_at IS 'When the leg started (timestamptz).';
COMMENT ON COLUMN mart.call_legs.answered_at IS 'When the leg was answered; NULL when not answered or where the provider gives no answer time.';
COMMENT ON COLUMN mart.call_legs.ended_at IS 'When the leg ended.';
COMMENT ON COLUMN mart.call_legs.hangup_cause IS 'The provider''s hangup cause, as sent (e.g. NORMAL_CLEARING).';
COMMENT ON COLUMN mart.call_legs.call_type IS 'The provider''s own call type, as sent.';
COMMENT ON COLUMN mart.call_legs.source_network IS 'The network the call came from where the provider says (MIXvoip: mobile, fixed).';
COMMENT ON COLUMN mart.call_legs.extension IS 'The PBX extension that handled the leg, where the provider gives it.';
COMMENT ON COLUMN mart.call_legs.duration_s IS 'The leg''s duration in seconds as the provider reports it (TENIOS: ring time included).';
COMMENT ON COLUMN mart.call_legs.outcome IS
    'answered, no_answer, busy, cancelled, failed or unknown (Belfabriek gives no outcome).';

-- What the two views share, commented once for both.
DO $$
DECLARE
    relation text;
    shared CONSTANT text[][] := ARRAY[
        ['provider', 'The provider: tenios, belfabriek, mixvoip, telecomx.'],
        ['account', 'The provider account, as named in the accounts file.'],
        ['customer', 'The provider''s customer under the account (MIXvoip profile, Belfabriek customer); NULL where it has none.'],
        ['account_name', 'The account''s display name (mart.dim_account).'],
        ['customer_name', 'The customer''s display name, else its id (mart.dim_account).'],
        ['time_zone', 'The account''s reporting zone, which local_start, local_date, local_hour and weekday are read in.'],
        ['local_start', 'The start in the account''s reporting zone (timestamp without zone: wall-clock time).'],
        ['local_date', 'The local calendar date of the start: a call at 23:30 UTC in winter is on the next date in Amsterdam. Join mart.dim_date on it.'],
        ['local_hour', 'The local hour of the start, 0 to 23 (the repeated hour of the autumn clock change is one hour here).'],
        ['weekday', 'The local ISO weekday of the start: 1 Monday to 7 Sunday.'],
        ['tariff_period', 'peak (working days, not a public holiday of the account''s country, between its peak hours) or off_peak.'],
        ['direction', 'inbound, outbound, internal or unknown.'],
        ['caller_number', 'The calling number (masked for cdr_bi_masked unless it is the service number).'],
        ['caller_country_iso', 'ISO country of the calling number (mart.dim_number); NULL where unknown.'],
        ['caller_country', 'Country name of the calling number; NULL where unknown.'],
        ['caller_number_type', 'Type of the calling number: mobile, fixed, toll_free, premium, shared_cost, voip, unknown.'],
        ['destination_number', 'The number dialled: the called number, else the service number (masked for cdr_bi_masked unless it is the service number).'],
        ['destination_country_iso', 'ISO country of the destination number; NULL where unknown.'],
        ['destination_country', 'Country name of the destination number; NULL where unknown.'],
        ['destination_number_type', 'Type of the destination number: mobile, fixed, toll_free, premium, shared_cost, voip, unknown.'],
        ['service_number', 'The company''s own number the call came in on or went out from (never masked).'],
        ['talk_s', 'Seconds of conversation when answered: answer to end where known, else the duration; NULL when not answered.'],
        ['billable_s', 'Billed seconds where the provider gives them (TENIOS); NULL otherwise.'],
        ['cost_eur', 'Cost in euro where the provider gives it; NULL otherwise.']];
    i int;
BEGIN
    FOREACH relation IN ARRAY ARRAY['mart.calls', 'mart.call_legs'] LOOP
        FOR i IN 1 .. array_length(shared, 1) LOOP
            EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', relation, shared[i][1], shared[i][2]);
        END LOOP;
    END LOOP;
END
$$;

-- KPIs -------------------------------------------------------------------------------------------
-- The additive measures are stored (the refresh writes them; sums over any grouping stay right);
-- the ratios are generated from them, so every KPI has one formula.
CREATE TABLE mart.kpi_daily (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    customer         text,
    service_number   text,
    direction        text        NOT NULL,
    local_date       date        NOT NULL,
    calls            bigint      NOT NULL,
    answered         bigint      NOT NULL,
    missed           bigint      NOT NULL,
    unknown_outcome  bigint      NOT NULL,
    talk_s           bigint      NOT NULL,
    duration_s       bigint      NOT NULL,
    billable_s       numeric(18, 6),
    cost_eur         numeric(18, 6),
    asr              numeric GENERATED ALWAYS AS
        (CASE WHEN answered + missed > 0 THEN answered::numeric / calls END) STORED,
    acd_s            numeric GENERATED ALWAYS AS (talk_s::numeric / nullif(answered, 0)) STORED,
    minutes          numeric GENERATED ALWAYS AS (talk_s / 60.0) STORED,
    billable_minutes numeric GENERATED ALWAYS AS (billable_s / 60) STORED,
    cost_per_minute  numeric GENERATED ALWAYS AS
        (cost_eur / nullif(coalesce(billable_s, talk_s) / 60.0, 0)) STORED,
    CONSTRAINT kpi_daily_uq UNIQUE NULLS NOT DISTINCT
        (provider, account, local_date, customer, service_number, direction)
);
COMMENT ON TABLE mart.kpi_daily IS
    'Call KPIs per local date (in the account''s reporting zone), provider, account, customer, service number '
    'and direction. Counts calls (assembled), not legs. Refreshed after each load for the dates it touched.';
COMMENT ON COLUMN mart.kpi_daily.provider IS 'The provider.';
COMMENT ON COLUMN mart.kpi_daily.account IS 'The provider account.';
COMMENT ON COLUMN mart.kpi_daily.customer IS 'The customer under the account; NULL where the provider has none.';
COMMENT ON COLUMN mart.kpi_daily.service_number IS 'The company''s number the calls came in on or went out from; NULL where unknown.';
COMMENT ON COLUMN mart.kpi_daily.direction IS 'inbound, outbound, internal or unknown.';
COMMENT ON COLUMN mart.kpi_daily.local_date IS 'The local date the calls started on, in the account''s reporting zone (mart.dim_account.time_zone).';
COMMENT ON COLUMN mart.kpi_daily.calls IS 'Calls started (legs assembled into calls).';
COMMENT ON COLUMN mart.kpi_daily.answered IS 'Calls answered (any leg answered).';
COMMENT ON COLUMN mart.kpi_daily.missed IS 'Calls with a known outcome that were not answered (no answer, busy, cancelled, failed).';
COMMENT ON COLUMN mart.kpi_daily.unknown_outcome IS
    'Calls whose outcome the provider does not give (all of Belfabriek''s); in neither answered nor missed.';
COMMENT ON COLUMN mart.kpi_daily.talk_s IS 'Seconds of conversation of the answered calls (mart.calls.talk_s summed).';
COMMENT ON COLUMN mart.kpi_daily.duration_s IS 'Seconds from start to end of all calls, ring time included.';
COMMENT ON COLUMN mart.kpi_daily.billable_s IS 'Billed seconds; NULL where the provider gives none.';
COMMENT ON COLUMN mart.kpi_daily.cost_eur IS 'Cost in euro; NULL where the provider gives none.';
COMMENT ON COLUMN mart.kpi_daily.asr IS
    'Answer-seizure ratio: answered / calls, 0 to 1 (a call of unknown outcome counts as a seizure not known to '
    'be answered); NULL when no call has a known outcome (Belfabriek gives none).';
COMMENT ON COLUMN mart.kpi_daily.acd_s IS 'Average call duration: talk seconds per answered call; NULL with none answered.';
COMMENT ON COLUMN mart.kpi_daily.minutes IS 'Minutes of use: talk_s / 60.';
COMMENT ON COLUMN mart.kpi_daily.billable_minutes IS 'billable_s / 60; NULL where the provider gives no billed time.';
COMMENT ON COLUMN mart.kpi_daily.cost_per_minute IS
    'cost_eur per billable minute (per minute of use where the provider gives no billed time); NULL without cost or minutes.';

CREATE TABLE mart.kpi_hourly (LIKE mart.kpi_daily INCLUDING GENERATED INCLUDING COMMENTS);
ALTER TABLE mart.kpi_hourly ADD COLUMN local_hour smallint NOT NULL CHECK (local_hour BETWEEN 0 AND 23);
ALTER TABLE mart.kpi_hourly ADD CONSTRAINT kpi_hourly_uq UNIQUE NULLS NOT DISTINCT
    (provider, account, local_date, local_hour, customer, service_number, direction);
COMMENT ON TABLE mart.kpi_hourly IS
    'The KPIs of mart.kpi_daily per local hour. On the autumn clock change the repeated hour is one row '
    '(both occurrences); on the spring change the skipped hour has none.';
COMMENT ON COLUMN mart.kpi_hourly.local_hour IS 'The local hour the calls started in, 0 to 23.';

CREATE VIEW mart.heatmap_weekday_hour AS
SELECT provider, account, customer,
       extract(isodow FROM local_date)::smallint AS weekday,
       to_char(local_date, 'FMDay') AS weekday_name,
       local_hour,
       sum(calls)::bigint AS calls, sum(answered)::bigint AS answered,
       count(DISTINCT local_date)::integer AS dates,
       min(local_date) AS first_date, max(local_date) AS last_date
FROM mart.kpi_hourly
GROUP BY 1, 2, 3, 4, 5, 6;
COMMENT ON VIEW mart.heatmap_weekday_hour IS
    'Calls and answered calls by local weekday and hour, per account and customer, over every loaded date: '
    'for staffing. For one period, group mart.kpi_hourly by weekday and hour instead.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.provider IS 'The provider.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.account IS 'The provider account.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.customer IS 'The customer under the account; NULL where the provider has none.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.weekday IS 'Local ISO weekday: 1 Monday to 7 Sunday.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.weekday_name IS 'English weekday name.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.local_hour IS 'Local hour, 0 to 23.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.calls IS 'Calls started in that weekday and hour.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.answered IS 'Of those, answered.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.dates IS 'On how many dates that weekday and hour had calls (divide calls by it for an average).';
COMMENT ON COLUMN mart.heatmap_weekday_hour.first_date IS 'The first local date counted.';
COMMENT ON COLUMN mart.heatmap_weekday_hour.last_date IS 'The last local date counted.';

-- Telecom X's per-employee counters, in the KPIs' shape where the meanings match ----------------
-- HOUR rows are summed per local date of the account's zone; a DAY row counts only where it was
-- read in that zone and the employee has no HOUR rows that day (WEEK and MONTH rows span more than
-- a date and are left out).
CREATE VIEW mart.kpi_employee_daily AS
WITH zoned AS (
    SELECT s.*, coalesce(a.time_zone, 'UTC') AS account_zone
    FROM cdr.fact_pbx_stats s
    LEFT JOIN mart.dim_account a ON a.provider = s.provider AND a.account = s.account AND a.customer IS NULL
), counted AS (
    SELECT z.*
    FROM zoned z
    WHERE z.grain = 'HOUR'
       OR (z.grain = 'DAY' AND z.time_zone = z.account_zone
           AND NOT EXISTS (SELECT 1 FROM cdr.fact_pbx_stats h
                           WHERE h.grain = 'HOUR' AND h.provider = z.provider AND h.customer = z.customer
                             AND h.employee_id = z.employee_id
                             AND h.interval_start >= z.interval_start
                             AND h.interval_start < z.interval_start + interval '1 day'))
)
SELECT c.provider, c.account, nullif(c.customer, '') AS customer, c.employee_id,
       max(c.employee_name) AS employee_name, max(c.extension_number) AS extension_number,
       (c.interval_start AT TIME ZONE c.account_zone)::date AS local_date,
       d.direction,
       sum(d.calls)::bigint AS calls,
       sum(d.answered)::bigint AS answered,
       sum(d.missed)::bigint AS missed,
       sum(d.seconds)::bigint AS talk_s,
       sum(d.answered)::numeric / nullif(sum(d.calls), 0) AS asr,
       sum(d.seconds)::numeric / nullif(sum(d.answered), 0) AS acd_s,
       sum(d.seconds) / 60.0 AS minutes
FROM counted c
CROSS JOIN LATERAL (VALUES
    ('outbound', c.outbound_calls, c.outbound_answered,
     c.outbound_unanswered + c.outbound_failed, c.outbound_seconds),
    ('inbound', c.inbound_calls, NULL::integer, c.inbound_unanswered + c.inbound_busy, c.inbound_seconds)
) AS d (direction, calls, answered, missed, seconds)
GROUP BY c.provider, c.account, c.customer, c.employee_id, 7, d.direction;
COMMENT ON VIEW mart.kpi_employee_daily IS
    'Telecom X''s per-employee counters per local date and direction, in the shape of mart.kpi_daily where '
    'the meanings match. The counters are the provider''s own aggregates, per employee: a call that rang '
    'several employees counts once for each, and a call between extensions counts for both.';
COMMENT ON COLUMN mart.kpi_employee_daily.provider IS 'The provider (telecomx).';
COMMENT ON COLUMN mart.kpi_employee_daily.account IS 'The provider account.';
COMMENT ON COLUMN mart.kpi_employee_daily.customer IS 'The Telecom X customer; NULL: the login''s own.';
COMMENT ON COLUMN mart.kpi_employee_daily.employee_id IS 'Telecom X''s employee id.';
COMMENT ON COLUMN mart.kpi_employee_daily.employee_name IS 'The employee''s name as Telecom X sends it.';
COMMENT ON COLUMN mart.kpi_employee_daily.extension_number IS 'The employee''s extension number.';
COMMENT ON COLUMN mart.kpi_employee_daily.local_date IS
    'Local date in the account''s reporting zone (hourly counters summed; daily counters only where read in that zone).';
COMMENT ON COLUMN mart.kpi_employee_daily.direction IS 'outbound or inbound, as the counters are split.';
COMMENT ON COLUMN mart.kpi_employee_daily.calls IS 'outboundCalls or inboundCalls: calls the employee made or was offered.';
COMMENT ON COLUMN mart.kpi_employee_daily.answered IS
    'outboundAnswered; NULL for inbound: inboundAnswered is not trustworthy (0 in the provider''s own example '
    'while inboundCalls exceeds unanswered + busy), so it is left out (kept in the raw counters).';
COMMENT ON COLUMN mart.kpi_employee_daily.missed IS
    'outboundUnanswered + outboundFailed, or inboundUnanswered + inboundBusy.';
COMMENT ON COLUMN mart.kpi_employee_daily.talk_s IS
    'The counters'' call seconds (whether ring time is included is undocumented; unlike kpi_daily.talk_s it '
    'is not limited to answered calls).';
COMMENT ON COLUMN mart.kpi_employee_daily.asr IS 'answered / calls; NULL for inbound (see answered).';
COMMENT ON COLUMN mart.kpi_employee_daily.acd_s IS 'talk_s per answered call; NULL for inbound (see answered).';
COMMENT ON COLUMN mart.kpi_employee_daily.minutes IS 'talk_s / 60.';

-- Data quality, per loaded window ----------------------------------------------------------------
-- Per UTC day, not per local date: the provider's own count, the quarantine and the loads are all
-- per fetched window, which is a UTC day; splitting them by local date would invent numbers.
CREATE VIEW mart.data_quality_daily AS
SELECT w.provider, w.account,
       (w.window_start AT TIME ZONE 'UTC')::date AS day,
       w.records AS records_fetched,
       legs.legs,
       quarantined.records AS quarantined,
       quarantined.bodies AS quarantined_pages,
       w.provider_count,
       CASE WHEN w.provider_count IS NOT NULL
            THEN w.provider_count - legs.legs - quarantined.records END AS mismatch,
       w.fetched_at AS last_fetched_at,
       wl.loaded_at AS last_loaded_at
FROM cdr.window_fetch w
LEFT JOIN cdr.window_load wl
       ON (wl.provider, wl.account, wl.window_start, wl.window_end)
        = (w.provider, w.account, w.window_start, w.window_end)
CROSS JOIN LATERAL (
    SELECT count(*) AS legs FROM cdr.fact_call_leg l
    WHERE l.provider = w.provider AND l.account = w.account
      AND l.started_at >= w.window_start AND l.started_at < w.window_end) AS legs
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE q.record_index >= 0) AS records,
           count(*) FILTER (WHERE q.record_index < 0) AS bodies
    FROM cdr.quarantine q
    WHERE q.provider = w.provider AND q.account = w.account AND q.raw_response_id = ANY (w.raw_response_ids)
) AS quarantined;
COMMENT ON VIEW mart.data_quality_daily IS
    'Per provider, account and UTC day: what was fetched, loaded and quarantined, against the provider''s own '
    'count where it has one. By UTC day, not local date: the fetch windows, the provider''s counts and the '
    'quarantine are per UTC day, and splitting them by local date would invent numbers.';
COMMENT ON COLUMN mart.data_quality_daily.provider IS 'The provider.';
COMMENT ON COLUMN mart.data_quality_daily.account IS 'The provider account.';
COMMENT ON COLUMN mart.data_quality_daily.day IS 'The UTC day of the fetch window (the Dagster daily partition).';
COMMENT ON COLUMN mart.data_quality_daily.records_fetched IS 'Records in the latest fetch''s pages, before parsing.';
COMMENT ON COLUMN mart.data_quality_daily.legs IS 'Call legs in the warehouse that started in the window (0 for Telecom X, which has counters).';
COMMENT ON COLUMN mart.data_quality_daily.quarantined IS 'Records of the window''s pages that could not be read and were quarantined.';
COMMENT ON COLUMN mart.data_quality_daily.quarantined_pages IS 'Whole pages of the window quarantined (unreadable bodies).';
COMMENT ON COLUMN mart.data_quality_daily.provider_count IS 'The provider''s own count of records for the window (TENIOS); NULL where it has none.';
COMMENT ON COLUMN mart.data_quality_daily.mismatch IS
    'provider_count - legs - quarantined: 0 when every record the provider counts is accounted for; NULL without a provider count.';
COMMENT ON COLUMN mart.data_quality_daily.last_fetched_at IS 'When the window was last fetched.';
COMMENT ON COLUMN mart.data_quality_daily.last_loaded_at IS 'When the window was last loaded (parsed and merged); NULL if never.';

-- Access -----------------------------------------------------------------------------------------
-- cdr_bi_reader (migration 005) no longer reads schema cdr: raw bodies, quarantine and bookkeeping
-- are not for BI users. Both BI roles read the mart, now and later; the views read cdr as their
-- owner.
REVOKE ALL ON ALL TABLES IN SCHEMA cdr FROM cdr_bi_reader;
REVOKE USAGE ON SCHEMA cdr FROM cdr_bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA cdr REVOKE SELECT ON TABLES FROM cdr_bi_reader;
GRANT USAGE ON SCHEMA mart TO cdr_bi_reader, cdr_bi_masked;
GRANT SELECT ON ALL TABLES IN SCHEMA mart TO cdr_bi_reader, cdr_bi_masked;
ALTER DEFAULT PRIVILEGES IN SCHEMA mart GRANT SELECT ON TABLES TO cdr_bi_reader, cdr_bi_masked;
