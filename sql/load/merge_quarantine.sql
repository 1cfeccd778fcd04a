-- Quarantined records are keyed by the raw page and their place in it, so a re-run adds nothing.
-- Returns, as every merge of the shared load path does, (staged, distinct, inserted, updated).
WITH latest AS (
    SELECT DISTINCT ON (provider, account, raw_response_id, record_index)
           provider, account, raw_response_id, record_index, field, reason, record
    FROM stage_quarantine
    ORDER BY provider, account, raw_response_id, record_index
), added AS (
    INSERT INTO cdr.quarantine AS q (provider, account, raw_response_id, record_index, field, reason, record)
    SELECT provider, account, raw_response_id, record_index, field, reason, record
    FROM latest
    ON CONFLICT (provider, account, raw_response_id, record_index) DO UPDATE
        SET field = EXCLUDED.field, reason = EXCLUDED.reason, record = EXCLUDED.record
        WHERE (q.field, q.reason, q.record) IS DISTINCT FROM (EXCLUDED.field, EXCLUDED.reason, EXCLUDED.record)
    RETURNING (q.xmax = 0) AS inserted
)
SELECT
    (SELECT count(*) FROM stage_quarantine) AS staged,
    (SELECT count(*) FROM latest) AS distinct_records,
    count(*) FILTER (WHERE inserted) AS inserted,
    count(*) FILTER (WHERE NOT inserted) AS updated
FROM added;
