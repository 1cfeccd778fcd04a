-- Recompute one provider account's mart.kpi_hourly and mart.kpi_daily for the local dates that
-- overlap the UTC days [from, to), in the account's reporting zone (mart.dim_account). A UTC day
-- touches two local dates in a European zone (a call at 23:30 UTC in winter is on the next date
-- in Amsterdam), so whole local dates are recomputed from every call they hold.
-- The calls are read from cdr.fact_call itself, not through mart.calls: the view's per-row joins
-- (the account's zone, dates, numbers) cost a third of the refresh, and a KPI needs only the
-- local date and hour (started_at in the zone, as mart.calls defines them) and mart.talk_seconds.
-- Guarded upserts plus deletes of vanished groups: an identical re-run rewrites nothing.
SET LOCAL enable_nestloop = off;

DROP TABLE IF EXISTS kpi_scope, fresh_kpi_hourly, fresh_kpi_daily;

-- No local date that starts before the account's retention horizon (cdr.retention_horizon) is
-- recomputed: the calls before it are gone, and the horizon, a UTC month start, falls inside a
-- local date of most zones (02:00 in Berlin), whose KPIs retention kept whole.
CREATE TEMP TABLE kpi_scope ON COMMIT DROP AS
SELECT zone.time_zone,
       greatest((%(from)s::timestamptz AT TIME ZONE zone.time_zone)::date,
                ((zone.horizon - interval '1 microsecond') AT TIME ZONE zone.time_zone)::date + 1) AS first_date,
       ((%(to)s::timestamptz - interval '1 microsecond') AT TIME ZONE zone.time_zone)::date AS last_date
FROM (SELECT coalesce((SELECT time_zone FROM mart.dim_account
                       WHERE provider = %(provider)s AND account = %(account)s AND customer IS NULL),
                      'UTC') AS time_zone,
             (SELECT calls_before FROM cdr.retention_horizon
              WHERE provider = %(provider)s AND account = %(account)s) AS horizon) AS zone;

CREATE TEMP TABLE fresh_kpi_hourly ON COMMIT DROP AS
SELECT c.provider, c.account, c.local_start::date AS local_date,
       extract(hour FROM c.local_start)::smallint AS local_hour, c.customer, c.service_number, c.direction,
       count(*) AS calls,
       count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
       count(*) FILTER (WHERE c.outcome NOT IN ('answered', 'unknown')) AS missed,
       count(*) FILTER (WHERE c.outcome = 'unknown') AS unknown_outcome,
       coalesce(sum(mart.talk_seconds(c.outcome, c.answered_at, c.ended_at, c.duration_s)), 0)::bigint AS talk_s,
       coalesce(sum(c.duration_s), 0)::bigint AS duration_s,
       sum(c.billable_s) AS billable_s,
       sum(c.cost_eur) AS cost_eur
FROM kpi_scope s
CROSS JOIN LATERAL (
    SELECT f.*, f.started_at AT TIME ZONE s.time_zone AS local_start
    FROM cdr.fact_call f
    WHERE f.provider = %(provider)s AND f.account = %(account)s
      AND f.started_at >= s.first_date::timestamp AT TIME ZONE s.time_zone
      AND f.started_at < (s.last_date + 1)::timestamp AT TIME ZONE s.time_zone) AS c
GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TEMP TABLE fresh_kpi_daily ON COMMIT DROP AS
SELECT provider, account, local_date, customer, service_number, direction,
       sum(calls)::bigint AS calls, sum(answered)::bigint AS answered, sum(missed)::bigint AS missed,
       sum(unknown_outcome)::bigint AS unknown_outcome, sum(talk_s)::bigint AS talk_s,
       sum(duration_s)::bigint AS duration_s, sum(billable_s) AS billable_s, sum(cost_eur) AS cost_eur
FROM fresh_kpi_hourly
GROUP BY 1, 2, 3, 4, 5, 6;

DELETE FROM mart.kpi_hourly k
USING kpi_scope s
WHERE k.provider = %(provider)s AND k.account = %(account)s
  AND k.local_date BETWEEN s.first_date AND s.last_date
  AND NOT EXISTS (SELECT 1 FROM fresh_kpi_hourly f
                  WHERE (f.local_date, f.local_hour, f.direction) = (k.local_date, k.local_hour, k.direction)
                    AND f.customer IS NOT DISTINCT FROM k.customer
                    AND f.service_number IS NOT DISTINCT FROM k.service_number);

INSERT INTO mart.kpi_hourly AS k (
    provider, account, local_date, local_hour, customer, service_number, direction,
    calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur)
SELECT provider, account, local_date, local_hour, customer, service_number, direction,
       calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur
FROM fresh_kpi_hourly
ON CONFLICT ON CONSTRAINT kpi_hourly_uq DO UPDATE SET
    calls = EXCLUDED.calls, answered = EXCLUDED.answered, missed = EXCLUDED.missed,
    unknown_outcome = EXCLUDED.unknown_outcome, talk_s = EXCLUDED.talk_s, duration_s = EXCLUDED.duration_s,
    billable_s = EXCLUDED.billable_s, cost_eur = EXCLUDED.cost_eur
WHERE (k.calls, k.answered, k.missed, k.unknown_outcome, k.talk_s, k.duration_s, k.billable_s, k.cost_eur)
      IS DISTINCT FROM
      (EXCLUDED.calls, EXCLUDED.answered, EXCLUDED.missed, EXCLUDED.unknown_outcome, EXCLUDED.talk_s,
       EXCLUDED.duration_s, EXCLUDED.billable_s, EXCLUDED.cost_eur);

DELETE FROM mart.kpi_daily k
USING kpi_scope s
WHERE k.provider = %(provider)s AND k.account = %(account)s
  AND k.local_date BETWEEN s.first_date AND s.last_date
  AND NOT EXISTS (SELECT 1 FROM fresh_kpi_daily f
                  WHERE (f.local_date, f.direction) = (k.local_date, k.direction)
                    AND f.customer IS NOT DISTINCT FROM k.customer
                    AND f.service_number IS NOT DISTINCT FROM k.service_number);

INSERT INTO mart.kpi_daily AS k (
    provider, account, local_date, customer, service_number, direction,
    calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur)
SELECT provider, account, local_date, customer, service_number, direction,
       calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur
FROM fresh_kpi_daily
ON CONFLICT ON CONSTRAINT kpi_daily_uq DO UPDATE SET
    calls = EXCLUDED.calls, answered = EXCLUDED.answered, missed = EXCLUDED.missed,
    unknown_outcome = EXCLUDED.unknown_outcome, talk_s = EXCLUDED.talk_s, duration_s = EXCLUDED.duration_s,
    billable_s = EXCLUDED.billable_s, cost_eur = EXCLUDED.cost_eur
WHERE (k.calls, k.answered, k.missed, k.unknown_outcome, k.talk_s, k.duration_s, k.billable_s, k.cost_eur)
      IS DISTINCT FROM
      (EXCLUDED.calls, EXCLUDED.answered, EXCLUDED.missed, EXCLUDED.unknown_outcome, EXCLUDED.talk_s,
       EXCLUDED.duration_s, EXCLUDED.billable_s, EXCLUDED.cost_eur);

-- Customers of these calls that mart.dim_account does not name yet (a customer the accounts file
-- does not list, e.g. Telecom X's login's own): added with their account's settings, named by
-- their id. From the fresh KPIs: every call of the dates is in them, and no second read of them.
INSERT INTO mart.dim_account (provider, account, customer, account_name, customer_name, time_zone,
                              holiday_country, peak_start_hour, peak_end_hour)
SELECT DISTINCT f.provider, f.account, f.customer, a.account_name, f.customer, a.time_zone,
       a.holiday_country, a.peak_start_hour, a.peak_end_hour
FROM fresh_kpi_daily f
JOIN mart.dim_account a ON a.provider = f.provider AND a.account = f.account AND a.customer IS NULL
WHERE f.customer IS NOT NULL
ON CONFLICT ON CONSTRAINT dim_account_uq DO NOTHING;
