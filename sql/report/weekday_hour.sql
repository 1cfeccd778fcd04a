-- Calls and answered calls by local weekday (1 Monday .. 7 Sunday) and local hour over the period:
-- mart.kpi_hourly grouped as mart.heatmap_weekday_hour groups it, for these dates only.
SELECT extract(isodow FROM local_date)::smallint AS weekday, local_hour,
       sum(calls)::bigint AS calls, sum(answered)::bigint AS answered
FROM mart.kpi_hourly
WHERE local_date BETWEEN %(from)s AND %(to)s
  AND (%(provider)s::text IS NULL OR provider = %(provider)s)
  AND (%(account)s::text IS NULL OR account = %(account)s)
GROUP BY 1, 2
ORDER BY 1, 2;
