-- Quarantined records are keyed by the raw page and their place in it, so a re-run adds nothing.
WITH added AS (
    INSERT INTO cdr.quarantine (provider, account, raw_response_id, record_index, field, reason, record)
    SELECT DISTINCT ON (provider, account, raw_response_id, record_index)
           provider, account, raw_response_id, record_index, field, reason, record
    FROM stage_quarantine
    ORDER BY provider, account, raw_response_id, record_index
    ON CONFLICT (provider, account, raw_response_id, record_index) DO UPDATE
        SET field = EXCLUDED.field, reason = EXCLUDED.reason, record = EXCLUDED.record
        WHERE (cdr.quarantine.field, cdr.quarantine.reason, cdr.quarantine.record)
              IS DISTINCT FROM (EXCLUDED.field, EXCLUDED.reason, EXCLUDED.record)
    RETURNING 1
)
SELECT count(*) FROM added;
