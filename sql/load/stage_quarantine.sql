-- Per-transaction staging for quarantined records (any provider); dropped at commit (and
-- first, so a second batch in the same transaction starts empty).
DROP TABLE IF EXISTS pg_temp.stage_quarantine;

CREATE TEMP TABLE stage_quarantine (LIKE cdr.quarantine) ON COMMIT DROP;
ALTER TABLE stage_quarantine DROP COLUMN IF EXISTS quarantined_at;
