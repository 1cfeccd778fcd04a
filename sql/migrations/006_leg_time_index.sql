-- The derived tables are refreshed by time range (a day to a month at a time); without an index
-- on started_at each refresh scans its whole monthly partition. BRIN: legs arrive roughly in
-- time order, so a block-range index is a few kB per month and almost free to maintain.
-- The call_key btree is dropped: nothing reads by it (calls are assembled by time range), and it
-- cost every load a second index insert per leg.
CREATE INDEX fact_call_leg_started_brin ON cdr.fact_call_leg USING brin (started_at);
DROP INDEX IF EXISTS cdr.fact_call_leg_call_idx;
