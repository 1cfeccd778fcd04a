INSERT INTO cdr.number_enrichment (number, e164, country_iso, country_name, number_type, region, country_code)
SELECT number, e164, country_iso, country_name, number_type, region, country_code FROM mart_number_stage
ON CONFLICT (number) DO NOTHING;

TRUNCATE mart_number_stage
