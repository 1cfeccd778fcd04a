-- One window's staged legs into the month's fresh legs, deduplicated within the window exactly as
-- sql/load/merge_call_legs.sql does it (the last staged version of a leg wins); returns (staged,
-- distinct, earliest and latest start, legs that started outside [start, end)), the start range
-- telling whether every leg falls in the month, the legs outside whether two windows may hold a leg.
WITH latest AS (
    SELECT DISTINCT ON (provider, account, leg_key, started_at) *
    FROM stage_call_leg
    ORDER BY provider, account, leg_key, started_at, seq DESC
), kept AS (
    INSERT INTO fresh_call_leg
    SELECT *, %(window)s, started_at < %(start)s OR started_at >= %(end)s FROM latest
    RETURNING started_at, outside
)
SELECT (SELECT count(*) FROM stage_call_leg), count(*), min(started_at), max(started_at),
       count(*) FILTER (WHERE outside)
FROM kept;
