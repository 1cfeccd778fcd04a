-- What a change to the legs of one UTC day makes stale (cdr.stale_day), written once for every
-- statement that changes legs: the merge (sql/load/merge_call_legs.sql), the fresh-month path
-- (sql/load/fresh_mark_stale.sql) and erasure (sql/privacy/erase_rows.sql). The day's
-- aggregates, and the calls of that day and of the day before: a call that started before
-- midnight is assembled on its own day with its legs of the next.
-- A function rather than a table: a table of rules would be emptied with the data it rules
-- (TRUNCATE of every cdr table) and would need granting; this is code.
CREATE FUNCTION cdr.stale_targets(OUT target text, OUT days_before integer)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ VALUES ('aggregates', 0), ('calls', 0), ('calls', -1) $$;
