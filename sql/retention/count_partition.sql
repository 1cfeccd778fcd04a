-- The legs of one month, per account: what dropping its partition removes.
SELECT provider, account, count(*) FROM cdr.fact_call_leg
WHERE started_at >= %(start)s AND started_at < %(end)s
GROUP BY 1, 2;
