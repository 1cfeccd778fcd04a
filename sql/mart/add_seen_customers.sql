-- Customers of the calls in [from, to) that mart.dim_account does not name yet (a customer the
-- accounts file does not list, e.g. Telecom X's login's own): added with their account's settings,
-- named by their id.
INSERT INTO mart.dim_account (provider, account, customer, account_name, customer_name, time_zone,
                              holiday_country, peak_start_hour, peak_end_hour)
SELECT DISTINCT c.provider, c.account, c.customer, a.account_name, c.customer, a.time_zone,
       a.holiday_country, a.peak_start_hour, a.peak_end_hour
FROM cdr.fact_call c
JOIN mart.dim_account a ON a.provider = c.provider AND a.account = c.account AND a.customer IS NULL
WHERE c.customer IS NOT NULL
  AND c.started_at >= %(from)s::timestamptz AND c.started_at < %(to)s::timestamptz
ON CONFLICT ON CONSTRAINT dim_account_uq DO NOTHING;
