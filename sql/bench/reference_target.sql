-- The benchmark's reference target: an empty copy of the fact table (same columns, same
-- partitioning, same primary key), so the reference pays what the project's path pays.
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.ref_fact_call_leg;
CREATE TABLE bench.ref_fact_call_leg (LIKE cdr.fact_call_leg INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench.ref_fact_call_leg ADD PRIMARY KEY (provider, account, leg_key, started_at);
