-- The (provider, account, day) marks of [first, last) a target ('calls' or 'aggregates') must
-- recompute: one account's, one provider's, or every account's (a NULL filter matches all).
SELECT provider, account, day
FROM cdr.stale_day
WHERE target = %(target)s AND day >= %(first)s AND day < %(last)s
  AND (%(provider)s::text IS NULL OR provider = %(provider)s)
  AND (%(account)s::text IS NULL OR account = %(account)s)
ORDER BY provider, account, day;
