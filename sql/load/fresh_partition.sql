-- A month's legs become its partition (pipelines.warehouse.load FreshMonth), under the partition
-- lock and only while the month holds no leg of any account: the month's empty partition, if
-- made already, is replaced by a plain table of the fact's shape, filled without indexes, then
-- attached. ATTACH builds the primary key and the indexes the fact declares (so they cannot
-- drift from it), and skips its scan of the rows because the CHECK on the bounds proves them
-- (a leg two windows hold is in fresh_call_leg once by then: sql/load/fresh_later_versions.sql).
-- {partition}, {bounds}, {start}, {end}: composed by the loader (psycopg.sql).
-- The insert casts as the merge's insert does (float8 to numeric(14, 6), text to jsonb).
DROP TABLE IF EXISTS cdr.{partition};

CREATE TABLE cdr.{partition} (LIKE cdr.fact_call_leg INCLUDING DEFAULTS INCLUDING CONSTRAINTS);

ALTER TABLE cdr.{partition} ADD CONSTRAINT {bounds} CHECK (started_at >= {start} AND started_at < {end});

INSERT INTO cdr.{partition} (
    provider, account, customer, leg_key, call_key, started_at, answered_at, ended_at, duration_s,
    billable_s, direction, caller_number, called_number, service_number, call_type, outcome,
    hangup_cause, cost_eur, source_network, extension, linked_leg_key, attributes, raw_response_id)
SELECT
    provider, account, customer, leg_key, call_key, started_at, answered_at, ended_at, duration_s,
    billable_s, direction, caller_number, called_number, service_number, call_type, outcome,
    hangup_cause, cost_eur, source_network, extension, linked_leg_key, attributes::jsonb, raw_response_id
FROM fresh_call_leg;

ALTER TABLE cdr.fact_call_leg ATTACH PARTITION cdr.{partition} FOR VALUES FROM ({start}) TO ({end});

ALTER TABLE cdr.{partition} DROP CONSTRAINT {bounds};
