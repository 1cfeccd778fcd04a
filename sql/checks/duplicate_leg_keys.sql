-- Leg keys of one account stored more than once, among the legs that start in the checked UTC
-- days [first, last). The key includes started_at (a partitioned table's unique keys must hold
-- the partition column), so a leg whose start time moved at the provider is stored twice. Its
-- other copy is looked for a day either side of the checked days: a bounded scan of their
-- partitions, not of the account's whole history (a start that moved by more is not seen).
SELECT count(*) AS duplicated, coalesce((array_agg(leg_key ORDER BY leg_key))[1:5], '{}') AS examples
FROM (
    SELECT leg_key
    FROM cdr.fact_call_leg
    WHERE provider = %(provider)s AND account = %(account)s
      AND started_at >= (%(first)s::date - 1)::timestamp AT TIME ZONE 'UTC'
      AND started_at < (%(last)s::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY leg_key
    HAVING count(*) > 1
       AND bool_or(started_at >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
                   AND started_at < %(last)s::date::timestamp AT TIME ZONE 'UTC')
) AS duplicated;
