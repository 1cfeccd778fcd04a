-- For each fetched window of one account in the checked UTC days [first, last) that has a
-- provider count: legs in the fact plus records quarantined from that window's pages, against
-- the provider's own count.
SELECT w.window_start, w.provider_count,
       (SELECT count(*) FROM cdr.fact_call_leg l
         WHERE l.provider = w.provider AND l.account = w.account
           AND l.started_at >= w.window_start AND l.started_at < w.window_end)
     + (SELECT count(*) FROM cdr.quarantine q
         WHERE q.provider = w.provider AND q.account = w.account AND q.record_index >= 0
           AND q.raw_response_id = ANY (w.raw_response_ids)) AS loaded
FROM cdr.window_fetch w
WHERE w.provider = %(provider)s AND w.account = %(account)s
  AND w.provider_count IS NOT NULL
  AND w.window_start >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
  AND w.window_start < %(last)s::date::timestamp AT TIME ZONE 'UTC'
ORDER BY w.window_start;
