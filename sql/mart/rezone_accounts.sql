-- The accounts sync_accounts.sql found in a new reporting zone (rezoned_account): every day of
-- their calls is marked for the KPIs, and pipelines.warehouse.mart recomputes them all, not only
-- the run's range. Run only when some account changed zone: it reads each such account's calls.
DROP TABLE IF EXISTS rezoned_span;

CREATE TEMP TABLE rezoned_span ON COMMIT DROP AS
SELECT r.provider, r.account, r.time_zone, span.first_call, span.last_call
FROM rezoned_account r
CROSS JOIN LATERAL (SELECT min(c.started_at) AS first_call, max(c.started_at) AS last_call
                    FROM cdr.fact_call c
                    WHERE c.provider = r.provider AND c.account = r.account) AS span;

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
FROM rezoned_span s
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
