-- The marks a recomputation has just dealt with, cleared in its own transaction.
DELETE FROM cdr.stale_day
WHERE target = %(target)s AND day >= %(first)s AND day < %(last)s;
