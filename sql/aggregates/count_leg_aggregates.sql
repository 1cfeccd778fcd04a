-- What the aggregates asset's range holds now (its Dagster metadata).
SELECT (SELECT count(*) FROM cdr.agg_call_leg_hourly WHERE hour >= %(start)s AND hour < %(end)s) AS hourly_rows,
       (SELECT count(*) FROM cdr.agg_call_leg_daily
         WHERE day >= %(start)s::date AND day < %(end)s::date) AS daily_rows;
