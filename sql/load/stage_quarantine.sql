-- Per-transaction staging for quarantined records (any provider); dropped at commit.
CREATE TEMP TABLE IF NOT EXISTS stage_quarantine (LIKE cdr.quarantine) ON COMMIT DROP;
ALTER TABLE stage_quarantine DROP COLUMN IF EXISTS quarantined_at;
