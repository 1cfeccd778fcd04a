-- The calls of the period by destination (mart.calls: the number dialled, its country and type
-- from mart.dim_number), grouped by `dimension` (destination_country or destination_number_type),
-- the `limit` largest by calls.
--
-- started_at is bounded two days either side of the local dates first: it is the fact table's own
-- column, so the bound reaches its index; no zone is more than a day off UTC.
SELECT CASE %(dimension)s WHEN 'destination_country' THEN coalesce(destination_country, 'unknown')
                          ELSE destination_number_type END AS destination,
       count(*) AS calls,
       count(*) FILTER (WHERE direction = 'outbound') AS outbound,
       count(*) FILTER (WHERE direction = 'inbound') AS inbound,
       count(*) FILTER (WHERE direction NOT IN ('outbound', 'inbound')) AS other,
       count(*) FILTER (WHERE outcome = 'answered') AS answered,
       coalesce(sum(talk_s), 0) / 60.0 AS minutes
FROM mart.calls
WHERE started_at >= (%(from)s::date - 2)::timestamp AT TIME ZONE 'UTC'
  AND started_at < (%(to)s::date + 3)::timestamp AT TIME ZONE 'UTC'
  AND local_date BETWEEN %(from)s AND %(to)s
  AND (%(provider)s::text IS NULL OR provider = %(provider)s)
  AND (%(account)s::text IS NULL OR account = %(account)s)
GROUP BY 1
ORDER BY calls DESC, destination
LIMIT %(limit)s;
