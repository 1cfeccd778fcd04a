-- What a backfill of [from, to) loaded, per provider and account (duplicates: as the latest
-- load of each day found them; customers: how many distinct ones the rows carry, 0 where the
-- provider has none).
SELECT l.provider, l.account,
       count(DISTINCT l.customer) AS customers,
       count(DISTINCT (l.started_at AT TIME ZONE 'UTC')::date) AS days,
       count(*) AS legs,
       (SELECT count(*) FROM cdr.fact_call c
         WHERE c.provider = l.provider AND c.account = l.account
           AND c.started_at >= %(from)s AND c.started_at < %(to)s) AS calls,
       coalesce((SELECT sum(latest.duplicates_in_window) FROM (
           SELECT DISTINCT ON (a.window_start) a.duplicates_in_window FROM cdr.load_audit a
           WHERE a.provider = l.provider AND a.account = l.account
             AND a.window_start >= %(from)s AND a.window_start < %(to)s
           ORDER BY a.window_start, a.id DESC) AS latest), 0) AS duplicates_dropped,
       (SELECT count(*) FROM cdr.quarantine q
         JOIN cdr.raw_response r ON r.id = q.raw_response_id
         WHERE q.provider = l.provider AND q.account = l.account
           AND r.window_start >= %(from)s AND r.window_start < %(to)s) AS quarantined
FROM cdr.fact_call_leg l
WHERE l.started_at >= %(from)s AND l.started_at < %(to)s
GROUP BY l.provider, l.account
UNION ALL
-- Telecom X sends counters, not legs: its calls are the counted inbound and outbound calls.
SELECT s.provider, s.account,
       count(DISTINCT s.customer),
       count(DISTINCT (s.interval_start AT TIME ZONE 'UTC')::date),
       NULL,
       sum(coalesce(s.inbound_calls, 0) + coalesce(s.outbound_calls, 0)),
       0,
       (SELECT count(*) FROM cdr.quarantine q
         JOIN cdr.raw_response r ON r.id = q.raw_response_id
         WHERE q.provider = s.provider AND q.account = s.account
           AND r.window_start >= %(from)s AND r.window_start < %(to)s)
FROM cdr.fact_pbx_stats s
WHERE s.interval_start >= %(from)s AND s.interval_start < %(to)s AND s.grain = 'HOUR'
GROUP BY s.provider, s.account
ORDER BY 1, 2;
