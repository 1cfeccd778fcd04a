-- The calls the refresh added, changed or removed (counted once each way) per UTC day: each one
-- a stored call that did not match its legs. Days still marked stale for the calls (a load
-- committed, its refresh not yet) are pending, not wrong, and left out.
SELECT (d.started_at AT TIME ZONE 'UTC')::date AS day, count(*) AS calls_differing
FROM ((TABLE check_call_before
       EXCEPT ALL
       SELECT * FROM cdr.fact_call
       WHERE provider = %(provider)s AND account = %(account)s
         AND started_at >= %(from)s::timestamptz AND started_at < %(to)s::timestamptz)
      UNION ALL
      (SELECT * FROM cdr.fact_call
       WHERE provider = %(provider)s AND account = %(account)s
         AND started_at >= %(from)s::timestamptz AND started_at < %(to)s::timestamptz
       EXCEPT ALL
       TABLE check_call_before)) AS d
WHERE NOT EXISTS (SELECT 1 FROM cdr.stale_day s
                  WHERE s.target = 'calls' AND s.provider = d.provider AND s.account = d.account
                    AND s.day = (d.started_at AT TIME ZONE 'UTC')::date)
GROUP BY 1
ORDER BY 1;
