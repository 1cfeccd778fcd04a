-- The reference loader: one MERGE of the staged rows (the project's own staging table, filled by
-- the same binary COPY), guarded so identical rows are not rewritten.
MERGE INTO bench.ref_fact_call_leg AS t
USING stage_call_leg AS s
ON t.provider = s.provider AND t.account = s.account AND t.leg_key = s.leg_key AND t.started_at = s.started_at
WHEN MATCHED AND (t.customer, t.call_key, t.answered_at, t.ended_at, t.duration_s, t.billable_s, t.direction,
                  t.caller_number, t.called_number, t.service_number, t.call_type, t.outcome,
                  t.hangup_cause, t.cost_eur, t.source_network, t.extension, t.linked_leg_key, t.attributes)
                 IS DISTINCT FROM
                 (s.customer, s.call_key, s.answered_at, s.ended_at, s.duration_s, s.billable_s::numeric(14, 6), s.direction,
                  s.caller_number, s.called_number, s.service_number, s.call_type, s.outcome,
                  s.hangup_cause, s.cost_eur::numeric(14, 6), s.source_network, s.extension, s.linked_leg_key,
                  s.attributes::jsonb) THEN
    UPDATE SET customer = s.customer, call_key = s.call_key, answered_at = s.answered_at, ended_at = s.ended_at,
               duration_s = s.duration_s, billable_s = s.billable_s, direction = s.direction,
               caller_number = s.caller_number, called_number = s.called_number,
               service_number = s.service_number, call_type = s.call_type, outcome = s.outcome,
               hangup_cause = s.hangup_cause, cost_eur = s.cost_eur, source_network = s.source_network,
               extension = s.extension, linked_leg_key = s.linked_leg_key, attributes = s.attributes::jsonb,
               raw_response_id = s.raw_response_id
WHEN NOT MATCHED THEN
    INSERT (provider, account, customer, leg_key, call_key, started_at, answered_at, ended_at, duration_s, billable_s,
            direction, caller_number, called_number, service_number, call_type, outcome, hangup_cause,
            cost_eur, source_network, extension, linked_leg_key, attributes, raw_response_id)
    VALUES (s.provider, s.account, s.customer, s.leg_key, s.call_key, s.started_at, s.answered_at, s.ended_at, s.duration_s,
            s.billable_s, s.direction, s.caller_number, s.called_number, s.service_number, s.call_type,
            s.outcome, s.hangup_cause, s.cost_eur, s.source_network, s.extension, s.linked_leg_key,
            s.attributes::jsonb, s.raw_response_id);
