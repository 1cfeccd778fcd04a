-- The benchmark's reference target: an empty copy of the fact table's columns and primary key,
-- so the reference pays what the project's path pays for its key. Not partitioned (LIKE does not
-- copy partitioning) and without the fact's BRIN index: a slightly cheaper target than the fact,
-- which makes the reference, if anything, the harder one to match.
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.ref_fact_call_leg;
CREATE TABLE bench.ref_fact_call_leg (LIKE cdr.fact_call_leg INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench.ref_fact_call_leg ADD PRIMARY KEY (provider, account, leg_key, started_at);
