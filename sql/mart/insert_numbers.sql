INSERT INTO mart.dim_number (number, e164, country_iso, country_name, number_type, region)
SELECT number, e164, country_iso, country_name, number_type, region FROM mart_number_stage
ON CONFLICT (number) DO NOTHING;

TRUNCATE mart_number_stage
