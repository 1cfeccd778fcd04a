CREATE TEMP TABLE IF NOT EXISTS mart_date_stage (LIKE mart.dim_date) ON COMMIT DROP
