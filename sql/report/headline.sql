-- The headline figures of the report's period and of the period of equal length before it, from
-- mart.kpi_daily (local dates of each account's reporting zone), one row per period. The ratios
-- are formed from the summed measures, as kpi_daily's generated columns form them per row.
SELECT p.period,
       coalesce(sum(k.calls), 0)::bigint AS calls,
       coalesce(sum(k.answered), 0)::bigint AS answered,
       coalesce(sum(k.missed), 0)::bigint AS missed,
       sum(k.answered)::numeric / nullif(sum(k.calls) FILTER (WHERE k.asr IS NOT NULL), 0) AS asr,
       sum(k.talk_s)::numeric / nullif(sum(k.answered), 0) AS acd_s,
       coalesce(sum(k.talk_s), 0) / 60.0 AS minutes,
       sum(k.cost_eur) AS cost_eur
FROM (VALUES ('current', %(from)s::date, %(to)s::date),
             ('previous', %(previous_from)s::date, %(previous_to)s::date)) AS p (period, first, last)
LEFT JOIN mart.kpi_daily k
       ON k.local_date BETWEEN p.first AND p.last
      AND (%(provider)s::text IS NULL OR k.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR k.account = %(account)s)
GROUP BY p.period;
