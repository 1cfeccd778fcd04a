-- What the aggregates hold per UTC day of the asset's range: each day partition's figures, the
-- daily table's count (the asset's table) under Dagster's own name for it.
SELECT day, sum(daily_rows)::bigint AS "dagster/row_count", sum(hourly_rows)::bigint AS hourly_rows
FROM (
    SELECT (hour AT TIME ZONE 'UTC')::date AS day, 0 AS daily_rows, count(*) AS hourly_rows
    FROM cdr.agg_call_leg_hourly WHERE hour >= %(start)s AND hour < %(end)s GROUP BY 1
    UNION ALL
    SELECT day, count(*), 0
    FROM cdr.agg_call_leg_daily WHERE day >= %(first)s AND day < %(last)s GROUP BY 1
) AS per_table
GROUP BY day;
