-- Per-transaction staging for one day's Telecom X statistics rows; dropped at commit.
CREATE TEMP TABLE IF NOT EXISTS stage_pbx_stats (
    LIKE cdr.fact_pbx_stats INCLUDING DEFAULTS,
    seq bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DROP;
ALTER TABLE stage_pbx_stats DROP COLUMN first_seen_at, DROP COLUMN last_changed_at;
