-- One set-based upsert of the staged window into the fact (float8 money and seconds are cast to
-- numeric(14, 6) on insert: exact for any value of up to 15 significant digits).
-- Within the window the last staged version of a leg wins (records can repeat across pages).
-- The WHERE guard makes an identical re-load rewrite nothing: no dead tuples, no WAL, and the
-- row keeps its raw_response_id and timestamps, so re-runs leave the table row-for-row equal.
WITH latest AS (
    SELECT DISTINCT ON (provider, account, leg_key, started_at) *
    FROM stage_call_leg
    ORDER BY provider, account, leg_key, started_at, seq DESC
), upserted AS (
    INSERT INTO cdr.fact_call_leg AS f (
        provider, account, leg_key, call_key, started_at, answered_at, ended_at, duration_s,
        billable_s, direction, caller_number, called_number, service_number, call_type, outcome,
        hangup_cause, cost_eur, source_network, extension, linked_leg_key, attributes, raw_response_id)
    SELECT
        provider, account, leg_key, call_key, started_at, answered_at, ended_at, duration_s,
        billable_s, direction, caller_number, called_number, service_number, call_type, outcome,
        hangup_cause, cost_eur, source_network, extension, linked_leg_key, attributes::jsonb, raw_response_id
    FROM latest
    ON CONFLICT (provider, account, leg_key, started_at) DO UPDATE SET
        call_key = EXCLUDED.call_key,
        answered_at = EXCLUDED.answered_at,
        ended_at = EXCLUDED.ended_at,
        duration_s = EXCLUDED.duration_s,
        billable_s = EXCLUDED.billable_s,
        direction = EXCLUDED.direction,
        caller_number = EXCLUDED.caller_number,
        called_number = EXCLUDED.called_number,
        service_number = EXCLUDED.service_number,
        call_type = EXCLUDED.call_type,
        outcome = EXCLUDED.outcome,
        hangup_cause = EXCLUDED.hangup_cause,
        cost_eur = EXCLUDED.cost_eur,
        source_network = EXCLUDED.source_network,
        extension = EXCLUDED.extension,
        linked_leg_key = EXCLUDED.linked_leg_key,
        attributes = EXCLUDED.attributes,
        raw_response_id = EXCLUDED.raw_response_id,
        last_changed_at = now()
    WHERE (f.call_key, f.answered_at, f.ended_at, f.duration_s, f.billable_s, f.direction,
           f.caller_number, f.called_number, f.service_number, f.call_type, f.outcome,
           f.hangup_cause, f.cost_eur, f.source_network, f.extension, f.linked_leg_key, f.attributes)
          IS DISTINCT FROM
          (EXCLUDED.call_key, EXCLUDED.answered_at, EXCLUDED.ended_at, EXCLUDED.duration_s,
           EXCLUDED.billable_s, EXCLUDED.direction, EXCLUDED.caller_number, EXCLUDED.called_number,
           EXCLUDED.service_number, EXCLUDED.call_type, EXCLUDED.outcome, EXCLUDED.hangup_cause,
           EXCLUDED.cost_eur, EXCLUDED.source_network, EXCLUDED.extension, EXCLUDED.linked_leg_key,
           EXCLUDED.attributes)
    -- A row inserted by this statement carries this transaction's now() as first_seen_at; an updated
    -- one keeps its older value. (xmax = 0 does not work on partitioned tables.)
    RETURNING (f.first_seen_at = now()) AS inserted
)
SELECT
    (SELECT count(*) FROM stage_call_leg) AS staged,
    (SELECT count(*) FROM latest) AS distinct_legs,
    count(*) FILTER (WHERE inserted) AS inserted,
    count(*) FILTER (WHERE NOT inserted) AS updated
FROM upserted;
