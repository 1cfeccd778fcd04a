-- Per local date, provider and account of the period: calls, answered, ASR, minutes and cost
-- (every customer, service number and direction summed). Accounts are named as mart.dim_account
-- names them.
SELECT k.local_date, k.provider, k.account, coalesce(min(a.account_name), k.account) AS account_name,
       sum(k.calls)::bigint AS calls,
       sum(k.answered)::bigint AS answered,
       sum(k.missed)::bigint AS missed,
       sum(k.answered)::numeric / nullif(sum(k.calls) FILTER (WHERE k.asr IS NOT NULL), 0) AS asr,
       sum(k.calls) FILTER (WHERE k.asr IS NOT NULL)::bigint AS asr_calls,
       sum(k.talk_s) / 60.0 AS minutes,
       sum(k.cost_eur) AS cost_eur
FROM mart.kpi_daily k
LEFT JOIN mart.dim_account a ON a.provider = k.provider AND a.account = k.account AND a.customer IS NULL
WHERE k.local_date BETWEEN %(from)s AND %(to)s
  AND (%(provider)s::text IS NULL OR k.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR k.account = %(account)s)
GROUP BY k.local_date, k.provider, k.account
ORDER BY k.local_date, k.provider, k.account;
