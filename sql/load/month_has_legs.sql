-- Whether any account has a leg in [start, end) (one month: the partition, if it exists, alone is read).
SELECT EXISTS (SELECT 1 FROM cdr.fact_call_leg WHERE started_at >= %(start)s AND started_at < %(end)s);
