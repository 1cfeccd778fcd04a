-- The marks of one account that a recomputation has just dealt with, cleared in its transaction.
DELETE FROM cdr.stale_day
WHERE target = %(target)s AND provider = %(provider)s AND account = %(account)s
  AND day >= %(first)s AND day < %(last)s;
