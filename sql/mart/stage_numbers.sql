-- A staging table for a batch whose COPY into the dimension failed on the key (another run added
-- some of its numbers meanwhile): COPY cannot skip conflicts, so the batch lands here and goes in
-- with ON CONFLICT DO NOTHING (two runs enriching the same new number at once stay safe).
CREATE TEMP TABLE IF NOT EXISTS mart_number_stage (LIKE cdr.number_enrichment INCLUDING DEFAULTS) ON COMMIT DROP
