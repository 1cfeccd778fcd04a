-- The lock cdr.ensure_call_leg_partitions takes (sql/migrations/001_warehouse.sql, the same key),
-- held to commit: while it is held no other load is between making a month's partition and
-- committing its legs, so a month seen empty under it stays empty until this transaction ends.
SELECT pg_advisory_xact_lock(hashtext('cdr.fact_call_leg partitions'));
