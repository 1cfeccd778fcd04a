-- The numbers of the legs starting in [from, to) are forgotten by the number dimension, so that
-- the mart refresh of that day enriches every one of them: the most a day's refresh can cost.
DELETE FROM cdr.number_enrichment
WHERE number IN (SELECT n.number
                 FROM cdr.fact_call_leg l
                 CROSS JOIN LATERAL (VALUES (l.caller_number), (l.called_number), (l.service_number)) AS n(number)
                 WHERE l.started_at >= %(from)s AND l.started_at < %(to)s)
