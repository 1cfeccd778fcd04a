-- A staging table for one batch: COPY cannot skip conflicts, so the batch lands here first and
-- goes in with ON CONFLICT DO NOTHING (two runs enriching the same new number at once stay safe).
CREATE TEMP TABLE IF NOT EXISTS mart_number_stage (LIKE cdr.number_enrichment INCLUDING DEFAULTS) ON COMMIT DROP
