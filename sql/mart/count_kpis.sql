-- What mart.kpi_daily holds per local date of the mart asset's range (each day partition's figures).
SELECT local_date AS day, count(*) AS "dagster/row_count", sum(calls)::bigint AS calls,
       sum(answered)::bigint AS answered
FROM mart.kpi_daily
WHERE local_date >= %(first)s AND local_date < %(last)s
GROUP BY 1;
