-- The monthly partitions of cdr.fact_call_leg, oldest first, and whether each has expired whole:
-- no leg in it belongs to an account whose cut-off is after the partition's end (an empty
-- partition: when the default cut-off is past its end). Only such partitions are dropped; in the
-- others, each account's expired legs are deleted.
SELECT c.relname, part.month_start, part.month_end,
       NOT EXISTS (SELECT 1 FROM cdr.fact_call_leg l
                   LEFT JOIN retention_policy p ON (p.provider, p.account) = (l.provider, l.account)
                   WHERE l.started_at >= part.month_start AND l.started_at < part.month_end
                     AND coalesce(p.calls_before, %(default_calls_before)s) < part.month_end)
       AND (EXISTS (SELECT 1 FROM cdr.fact_call_leg l
                    WHERE l.started_at >= part.month_start AND l.started_at < part.month_end)
            OR part.month_end <= %(default_calls_before)s) AS expired
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (
    SELECT to_date(right(c.relname, 7), 'YYYY_MM')::timestamp AT TIME ZONE 'UTC' AS month_start,
           (to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC'
               AS month_end
) AS part
WHERE i.inhparent = 'cdr.fact_call_leg'::regclass
ORDER BY part.month_start;
