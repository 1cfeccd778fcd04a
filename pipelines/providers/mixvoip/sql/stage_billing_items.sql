-- Per-transaction staging for one window's billing items; dropped at commit. Dropped first so a
-- second batch in the same transaction starts empty.
DROP TABLE IF EXISTS pg_temp.stage_billing_item;

CREATE TEMP TABLE stage_billing_item (
    LIKE cdr.fact_billing_item INCLUDING DEFAULTS,
    seq bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DROP;

ALTER TABLE stage_billing_item DROP COLUMN invoiced, DROP COLUMN first_seen_at, DROP COLUMN last_changed_at;
