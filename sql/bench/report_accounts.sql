-- The report with many accounts (make bench): every account of the mart copied %(copies)s times,
-- its KPIs and its fetch windows with it (what the report's charts, tables and data quality read),
-- under the names <account>-copy-<n>.
INSERT INTO mart.dim_account (provider, account, customer, account_name, customer_name, time_zone,
                              holiday_country, peak_start_hour, peak_end_hour)
SELECT provider, account || '-copy-' || n, customer, account_name || ' copy ' || n, customer_name, time_zone,
       holiday_country, peak_start_hour, peak_end_hour
FROM mart.dim_account, generate_series(1, %(copies)s) AS n;

INSERT INTO mart.kpi_daily (provider, account, customer, service_number, direction, local_date, calls, answered,
                            missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur)
SELECT provider, account || '-copy-' || n, customer, service_number, direction, local_date, calls, answered,
       missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur
FROM mart.kpi_daily, generate_series(1, %(copies)s) AS n
WHERE account NOT LIKE '%%-copy-%%';

INSERT INTO mart.kpi_hourly (provider, account, customer, service_number, direction, local_date, local_hour,
                             calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur)
SELECT provider, account || '-copy-' || n, customer, service_number, direction, local_date, local_hour,
       calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur
FROM mart.kpi_hourly, generate_series(1, %(copies)s) AS n
WHERE account NOT LIKE '%%-copy-%%';

INSERT INTO cdr.window_fetch (provider, account, window_start, window_end, raw_response_ids, pages, records,
                              provider_count, fetched_at)
SELECT provider, account || '-copy-' || n, window_start, window_end, raw_response_ids, pages, records,
       provider_count, fetched_at
FROM cdr.window_fetch, generate_series(1, %(copies)s) AS n
WHERE account NOT LIKE '%%-copy-%%';
