-- Where one subscriber's numbers are (%(numbers)s: the number, and its pseudonyms where accounts
-- store those), per table: the rows that hold one of them, in the scope of an erasure (NULL
-- provider/account: every account). Free text (a quarantined record) is matched with
-- %(pattern)s, which finds the number in the forms providers send it (+49…, 0049…, 49…, 0…).
-- The number dimension is shared by every account: counted whatever the scope.
SELECT 'cdr.fact_call_leg' AS relation, count(*) AS touched FROM cdr.fact_call_leg l
WHERE (%(provider)s::text IS NULL OR l.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR l.account = %(account)s)
  AND (l.caller_number = ANY (%(numbers)s) OR l.called_number = ANY (%(numbers)s)
       OR l.service_number = ANY (%(numbers)s)
       OR EXISTS (SELECT 1 FROM jsonb_each_text(l.attributes) e WHERE e.value = ANY (%(numbers)s)))
UNION ALL
SELECT 'cdr.fact_call', count(*) FROM cdr.fact_call c
WHERE (%(provider)s::text IS NULL OR c.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR c.account = %(account)s)
  AND (c.caller_number = ANY (%(numbers)s) OR c.called_number = ANY (%(numbers)s)
       OR c.service_number = ANY (%(numbers)s))
UNION ALL
SELECT 'cdr.agg_call_leg_hourly', count(*) FROM cdr.agg_call_leg_hourly a
WHERE (%(provider)s::text IS NULL OR a.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR a.account = %(account)s) AND a.service_number = ANY (%(numbers)s)
UNION ALL
SELECT 'cdr.agg_call_leg_daily', count(*) FROM cdr.agg_call_leg_daily a
WHERE (%(provider)s::text IS NULL OR a.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR a.account = %(account)s) AND a.service_number = ANY (%(numbers)s)
UNION ALL
SELECT 'mart.kpi_hourly', count(*) FROM mart.kpi_hourly k
WHERE (%(provider)s::text IS NULL OR k.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR k.account = %(account)s) AND k.service_number = ANY (%(numbers)s)
UNION ALL
SELECT 'mart.kpi_daily', count(*) FROM mart.kpi_daily k
WHERE (%(provider)s::text IS NULL OR k.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR k.account = %(account)s) AND k.service_number = ANY (%(numbers)s)
UNION ALL
SELECT 'cdr.quarantine', count(*) FROM cdr.quarantine q
WHERE (%(provider)s::text IS NULL OR q.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR q.account = %(account)s) AND q.record ~ %(pattern)s
UNION ALL
SELECT 'cdr.fact_billing_item', count(*) FROM cdr.fact_billing_item b
WHERE (%(provider)s::text IS NULL OR b.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR b.account = %(account)s)
  AND (b.username = ANY (%(numbers)s) OR b.product = ANY (%(numbers)s)
       OR EXISTS (SELECT 1 FROM jsonb_each_text(b.attributes) e WHERE e.value = ANY (%(numbers)s)))
UNION ALL
SELECT 'cdr.number_enrichment', count(*) FROM cdr.number_enrichment n
WHERE n.number = ANY (%(numbers)s) OR n.e164 = ANY (%(numbers)s);
