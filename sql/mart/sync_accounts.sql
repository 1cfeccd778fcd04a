-- mart.dim_account from the accounts file (staged in mart_account_stage).
-- The accounts read in another zone than before are kept in rezoned_account: when there are any,
-- pipelines.warehouse.mart runs mart/rezone_accounts.sql next, which marks every day of their calls
-- for the KPIs (local dates move with the zone). Nothing here reads the calls or the KPIs: an
-- unchanged accounts file costs a comparison of a few rows.
DROP TABLE IF EXISTS rezoned_account;

CREATE TEMP TABLE rezoned_account ON COMMIT DROP AS
SELECT s.provider, s.account, s.time_zone
FROM mart_account_stage s
JOIN mart.dim_account a
  ON a.provider = s.provider AND a.account = s.account AND a.customer IS NULL AND s.customer IS NULL
WHERE a.time_zone <> s.time_zone;

INSERT INTO mart.dim_account AS a (provider, account, customer, account_name, customer_name, time_zone,
                                   holiday_country, peak_start_hour, peak_end_hour)
SELECT provider, account, customer, account_name, customer_name, time_zone, holiday_country,
       peak_start_hour, peak_end_hour
FROM mart_account_stage
ON CONFLICT ON CONSTRAINT dim_account_uq DO UPDATE SET
    account_name = EXCLUDED.account_name, customer_name = EXCLUDED.customer_name,
    time_zone = EXCLUDED.time_zone, holiday_country = EXCLUDED.holiday_country,
    peak_start_hour = EXCLUDED.peak_start_hour, peak_end_hour = EXCLUDED.peak_end_hour
WHERE (a.account_name, a.customer_name, a.time_zone, a.holiday_country, a.peak_start_hour, a.peak_end_hour)
      IS DISTINCT FROM
      (EXCLUDED.account_name, EXCLUDED.customer_name, EXCLUDED.time_zone, EXCLUDED.holiday_country,
       EXCLUDED.peak_start_hour, EXCLUDED.peak_end_hour);

-- Customers seen in the calls but not named in the file follow their account's settings.
UPDATE mart.dim_account c
SET account_name = a.account_name, time_zone = a.time_zone, holiday_country = a.holiday_country,
    peak_start_hour = a.peak_start_hour, peak_end_hour = a.peak_end_hour
FROM mart.dim_account a
WHERE a.provider = c.provider AND a.account = c.account AND a.customer IS NULL AND c.customer IS NOT NULL
  AND (c.account_name, c.time_zone, c.holiday_country, c.peak_start_hour, c.peak_end_hour)
      IS DISTINCT FROM (a.account_name, a.time_zone, a.holiday_country, a.peak_start_hour, a.peak_end_hour);
