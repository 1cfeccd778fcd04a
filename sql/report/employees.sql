-- Telecom X's per-employee counters over the period (mart.kpi_employee_daily), outbound and
-- inbound side by side. Inbound answered is not given: the view leaves it NULL (untrustworthy).
SELECT provider, account, employee_id, max(employee_name) AS employee_name,
       max(extension_number) AS extension_number,
       coalesce(sum(calls) FILTER (WHERE direction = 'outbound'), 0)::bigint AS outbound_calls,
       coalesce(sum(answered) FILTER (WHERE direction = 'outbound'), 0)::bigint AS outbound_answered,
       sum(answered) FILTER (WHERE direction = 'outbound')::numeric
           / nullif(sum(calls) FILTER (WHERE direction = 'outbound'), 0) AS outbound_asr,
       coalesce(sum(calls) FILTER (WHERE direction = 'inbound'), 0)::bigint AS inbound_calls,
       coalesce(sum(missed) FILTER (WHERE direction = 'inbound'), 0)::bigint AS inbound_missed
FROM mart.kpi_employee_daily
WHERE local_date BETWEEN %(from)s AND %(to)s
  AND (%(provider)s::text IS NULL OR provider = %(provider)s)
  AND (%(account)s::text IS NULL OR account = %(account)s)
GROUP BY provider, account, employee_id
ORDER BY sum(calls) DESC, employee_name, employee_id;
