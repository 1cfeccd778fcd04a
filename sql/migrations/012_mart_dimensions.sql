-- Issue 16, first part: the BI schema `mart` and its two dimensions that depend on nothing but
-- the facts and two libraries. The views and KPI tables come later and join these.
CREATE SCHEMA IF NOT EXISTS mart;
COMMENT ON SCHEMA mart IS 'The BI-ready model: dimensions, friendly views and KPIs for BI tools.';

-- One row per distinct number seen in cdr.fact_call_leg, enriched once (never per leg).
CREATE TABLE mart.dim_number (
    number       text        PRIMARY KEY,
    e164         text,
    country_iso  text,
    country_name text,
    number_type  text        NOT NULL DEFAULT 'unknown'
        CHECK (number_type IN ('mobile', 'fixed', 'toll_free', 'premium', 'shared_cost', 'voip', 'unknown')),
    region       text,
    enriched_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mart.dim_number IS
    'One row per distinct phone number seen in the call legs (caller, called or service number), '
    'with its country and type as the phonenumbers library reads it. Filled incrementally.';
COMMENT ON COLUMN mart.dim_number.number IS 'The number exactly as stored in the call legs; the join key.';
COMMENT ON COLUMN mart.dim_number.e164 IS
    'The number in E.164 form (+<country code><number>) where it is a valid international number; '
    'NULL for extensions, short service numbers and anything unparseable.';
COMMENT ON COLUMN mart.dim_number.country_iso IS
    'ISO 3166-1 alpha-2 country of the number (e.g. NL, DE); NULL where unknown or non-geographic (e.g. +800).';
COMMENT ON COLUMN mart.dim_number.country_name IS 'English name of the country; NULL where country_iso is NULL.';
COMMENT ON COLUMN mart.dim_number.number_type IS
    'mobile, fixed, toll_free, premium, shared_cost, voip or unknown (extensions, short numbers, '
    'and numbers the library cannot tell apart, e.g. fixed-or-mobile ranges of some countries).';
COMMENT ON COLUMN mart.dim_number.region IS
    'Geographic area of a fixed number (e.g. Berlin) where the library knows it; NULL otherwise.';
COMMENT ON COLUMN mart.dim_number.enriched_at IS 'When the number was first seen and enriched.';

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
