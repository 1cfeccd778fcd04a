-- The company numbers (service numbers) with the most calls in the period, from mart.kpi_daily,
-- with the account they belong to; the `limit` largest.
SELECT k.service_number, k.provider, k.account, coalesce(min(a.account_name), k.account) AS account_name,
       sum(k.calls)::bigint AS calls,
       sum(k.answered)::bigint AS answered,
       sum(k.answered)::numeric / nullif(sum(k.calls) FILTER (WHERE k.asr IS NOT NULL), 0) AS asr,
       sum(k.talk_s) / 60.0 AS minutes
FROM mart.kpi_daily k
LEFT JOIN mart.dim_account a ON a.provider = k.provider AND a.account = k.account AND a.customer IS NULL
WHERE k.service_number IS NOT NULL
  AND k.local_date BETWEEN %(from)s AND %(to)s
  AND (%(provider)s::text IS NULL OR k.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR k.account = %(account)s)
GROUP BY k.service_number, k.provider, k.account
ORDER BY calls DESC, k.service_number, k.provider, k.account
LIMIT %(limit)s;
