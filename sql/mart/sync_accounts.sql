-- mart.dim_account from the accounts file (staged in mart_account_stage).
-- The accounts read in another zone than before, with the span of their calls: every day of it is
-- marked for the KPIs, and pipelines.warehouse.mart recomputes them all, not only the run's range.
DROP TABLE IF EXISTS rezoned_account;

CREATE TEMP TABLE rezoned_account ON COMMIT DROP AS
SELECT s.provider, s.account, s.time_zone, span.first_call, span.last_call
FROM mart_account_stage s
JOIN mart.dim_account a
  ON a.provider = s.provider AND a.account = s.account AND a.customer IS NULL AND s.customer IS NULL
CROSS JOIN LATERAL (SELECT min(c.started_at) AS first_call, max(c.started_at) AS last_call
                    FROM cdr.fact_call c
                    WHERE c.provider = s.provider AND c.account = s.account) AS span
WHERE a.time_zone <> s.time_zone;

INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT DISTINCT 'mart', c.provider, c.account, (c.started_at AT TIME ZONE 'UTC')::date
FROM rezoned_account r
JOIN cdr.fact_call c ON c.provider = r.provider AND c.account = r.account
ON CONFLICT DO NOTHING;

-- Its KPI rows on local dates none of its calls falls on in the new zone are deleted: the
-- recomputation goes by the local dates of the new zone and would never reach them (a call at
-- 23:30 UTC in winter is on the next date in Berlin, on the same date in London).
DROP TABLE IF EXISTS rezoned_orphan_date;

CREATE TEMP TABLE rezoned_orphan_date ON COMMIT DROP AS
SELECT DISTINCT k.provider, k.account, k.local_date
FROM rezoned_account s
JOIN mart.kpi_daily k ON k.provider = s.provider AND k.account = s.account
WHERE NOT EXISTS (SELECT 1 FROM cdr.fact_call c
                  WHERE c.provider = s.provider AND c.account = s.account
                    AND c.started_at >= k.local_date::timestamp AT TIME ZONE s.time_zone
                    AND c.started_at < (k.local_date + 1)::timestamp AT TIME ZONE s.time_zone);

DELETE FROM mart.kpi_daily k
USING rezoned_orphan_date o
WHERE (k.provider, k.account, k.local_date) = (o.provider, o.account, o.local_date);

DELETE FROM mart.kpi_hourly k
USING rezoned_orphan_date o
WHERE (k.provider, k.account, k.local_date) = (o.provider, o.account, o.local_date);

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
