CREATE TEMP TABLE IF NOT EXISTS mart_account_stage (LIKE mart.dim_account) ON COMMIT DROP
