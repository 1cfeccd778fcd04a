-- The days of [first, last) a target ('calls' or 'aggregates') must recompute.
SELECT day
FROM cdr.stale_day
WHERE target = %(target)s AND day >= %(first)s AND day < %(last)s
ORDER BY day;
