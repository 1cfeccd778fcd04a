-- An access request: every leg that holds one of the subject's numbers (in scope), as stored, the
-- raw page it came from included (its body is the provider's own record of the call).
SELECT l.provider, l.account, l.customer, l.leg_key, l.call_key, l.started_at, l.answered_at, l.ended_at,
       l.duration_s, l.billable_s, l.direction, l.caller_number, l.called_number, l.service_number,
       l.call_type, l.outcome, l.hangup_cause, l.cost_eur, l.source_network, l.extension, l.attributes,
       l.raw_response_id
FROM cdr.fact_call_leg l
WHERE (%(provider)s::text IS NULL OR l.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR l.account = %(account)s)
  AND (l.caller_number = ANY (%(numbers)s) OR l.called_number = ANY (%(numbers)s)
       OR l.service_number = ANY (%(numbers)s)
       OR EXISTS (SELECT 1 FROM jsonb_each_text(l.attributes) e WHERE e.value = ANY (%(numbers)s)))
ORDER BY l.started_at, l.provider, l.account, l.leg_key;
