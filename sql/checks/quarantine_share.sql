-- Per fetched UTC day of one account in [first, last): the records in the day's bodies and the
-- quarantine rows of its current pages (a body quarantined whole is one row).
SELECT (w.window_start AT TIME ZONE 'UTC')::date AS day, w.records,
       (SELECT count(*) FROM cdr.quarantine q
         WHERE q.provider = w.provider AND q.account = w.account
           AND q.raw_response_id = ANY (w.raw_response_ids)) AS quarantined
FROM cdr.window_fetch w
WHERE w.provider = %(provider)s AND w.account = %(account)s
  AND w.window_start >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
  AND w.window_start < %(last)s::date::timestamp AT TIME ZONE 'UTC'
ORDER BY w.window_start;
