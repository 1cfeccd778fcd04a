-- The distinct numbers in the call legs starting in [from, to) (NULL bounds: all legs) that the
-- number dimension does not have yet: the enrichment runs once per number, so a second run only
-- sees the numbers that arrived since. Distinct first, then one index probe each into the
-- dimension: the anti-join before the DISTINCT hashed the whole dimension (every number ever
-- seen) to test each of the day's number occurrences, two to three per leg.
SELECT day.number
FROM (SELECT DISTINCT n.number
      FROM cdr.fact_call_leg l
      CROSS JOIN LATERAL (VALUES (l.caller_number), (l.called_number), (l.service_number)) AS n(number)
      WHERE l.started_at >= coalesce(%(from)s::timestamptz, '-infinity')
        AND l.started_at < coalesce(%(to)s::timestamptz, 'infinity')
        AND n.number IS NOT NULL AND n.number <> '') AS day
WHERE NOT EXISTS (SELECT 1 FROM cdr.number_enrichment d WHERE d.number = day.number)
ORDER BY day.number
