-- Each account's expired legs (those of partitions not dropped whole), calls and quarantined
-- records; and the stale marks of expired days (a recomputation of such a day would empty its
-- aggregates and KPIs, which are kept). Telecom X's counters are per employee: past the calls
-- cut-off their counts are kept like the other aggregates (mart.kpi_employee_daily, by employee
-- id) and the employee's name and extension number go.
-- Returns what went, per provider account and table.
WITH legs AS (
    DELETE FROM cdr.fact_call_leg l
    USING (SELECT DISTINCT provider, account FROM cdr.fact_call_leg) AS a
    LEFT JOIN retention_policy p ON (p.provider, p.account) = (a.provider, a.account)
    WHERE (l.provider, l.account) = (a.provider, a.account)
      AND l.started_at < coalesce(p.calls_before, %(default_calls_before)s)
    RETURNING l.provider, l.account
), calls AS (
    DELETE FROM cdr.fact_call c
    USING (SELECT DISTINCT provider, account FROM cdr.fact_call) AS a
    LEFT JOIN retention_policy p ON (p.provider, p.account) = (a.provider, a.account)
    WHERE (c.provider, c.account) = (a.provider, a.account)
      AND c.started_at < coalesce(p.calls_before, %(default_calls_before)s)
    RETURNING c.provider, c.account
), quarantined AS (
    DELETE FROM cdr.quarantine q
    USING (SELECT DISTINCT provider, account FROM cdr.quarantine) AS a
    LEFT JOIN retention_policy p ON (p.provider, p.account) = (a.provider, a.account)
    WHERE (q.provider, q.account) = (a.provider, a.account)
      AND q.quarantined_at < coalesce(p.quarantine_before, %(default_quarantine_before)s)
    RETURNING q.provider, q.account
), marks AS (
    DELETE FROM cdr.stale_day s
    USING (SELECT DISTINCT provider, account FROM cdr.stale_day) AS a
    LEFT JOIN retention_policy p ON (p.provider, p.account) = (a.provider, a.account)
    WHERE (s.provider, s.account) = (a.provider, a.account)
      AND s.day < (coalesce(p.calls_before, %(default_calls_before)s) AT TIME ZONE 'UTC')::date
    RETURNING 1
), employee_names AS (
    UPDATE cdr.fact_pbx_stats s SET employee_name = NULL, extension_number = NULL, last_changed_at = now()
    FROM (SELECT DISTINCT provider, account FROM cdr.fact_pbx_stats) AS a
    LEFT JOIN retention_policy p ON (p.provider, p.account) = (a.provider, a.account)
    WHERE (s.provider, s.account) = (a.provider, a.account)
      AND s.interval_start < coalesce(p.calls_before, %(default_calls_before)s)
      AND (s.employee_name IS NOT NULL OR s.extension_number IS NOT NULL)
    RETURNING s.provider, s.account
)
SELECT provider, account, 'cdr.fact_call_leg' AS relation, count(*) FROM legs GROUP BY 1, 2
UNION ALL
SELECT provider, account, 'cdr.fact_call', count(*) FROM calls GROUP BY 1, 2
UNION ALL
SELECT provider, account, 'cdr.quarantine', count(*) FROM quarantined GROUP BY 1, 2
UNION ALL
SELECT provider, account, 'cdr.fact_pbx_stats.employee_name', count(*) FROM employee_names GROUP BY 1, 2;
