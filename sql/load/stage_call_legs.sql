-- Per-transaction staging for one window's legs and quarantined records; dropped at commit.
CREATE TEMP TABLE IF NOT EXISTS stage_call_leg (
    LIKE cdr.fact_call_leg INCLUDING DEFAULTS,
    seq bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DROP;
ALTER TABLE stage_call_leg DROP COLUMN first_seen_at, DROP COLUMN last_changed_at;
CREATE TEMP TABLE IF NOT EXISTS stage_quarantine (LIKE cdr.quarantine) ON COMMIT DROP;
ALTER TABLE stage_quarantine DROP COLUMN quarantined_at;
