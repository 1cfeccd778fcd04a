-- Per-transaction staging for one day's Telecom X statistics rows; dropped at commit (and
-- first, so a second batch in the same transaction starts empty).
DROP TABLE IF EXISTS pg_temp.stage_pbx_stats;

CREATE TEMP TABLE stage_pbx_stats (
    LIKE cdr.fact_pbx_stats INCLUDING DEFAULTS,
    seq bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DROP;
ALTER TABLE stage_pbx_stats DROP COLUMN first_seen_at, DROP COLUMN last_changed_at;
