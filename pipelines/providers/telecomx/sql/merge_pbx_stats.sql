-- One set-based upsert of the staged day into cdr.fact_pbx_stats.
-- A re-pull REPLACES the counters of a key (provider, customer, employee, extension, interval
-- start, grain), never adds to them; within the day the last staged version of a key wins.
-- The WHERE guard makes an identical re-load rewrite nothing (no dead tuples, same raw ids).
WITH latest AS (
    SELECT DISTINCT ON (provider, customer, employee_id, extension_id, interval_start, grain) *
    FROM stage_pbx_stats
    ORDER BY provider, customer, employee_id, extension_id, interval_start, grain, seq DESC
), upserted AS (
    INSERT INTO cdr.fact_pbx_stats AS f (
        provider, customer, employee_id, extension_id, interval_start, grain, time_zone, interval_key,
        account, employee_name, extension_number, outbound_calls, outbound_seconds, outbound_answered,
        outbound_unanswered, outbound_failed, inbound_calls, inbound_seconds, inbound_answered,
        inbound_unanswered, inbound_busy, raw_response_id)
    SELECT
        provider, customer, employee_id, extension_id, interval_start, grain, time_zone, interval_key,
        account, employee_name, extension_number, outbound_calls, outbound_seconds, outbound_answered,
        outbound_unanswered, outbound_failed, inbound_calls, inbound_seconds, inbound_answered,
        inbound_unanswered, inbound_busy, raw_response_id
    FROM latest
    ON CONFLICT ON CONSTRAINT fact_pbx_stats_uq DO UPDATE SET
        time_zone = EXCLUDED.time_zone,
        interval_key = EXCLUDED.interval_key,
        account = EXCLUDED.account,
        employee_name = EXCLUDED.employee_name,
        extension_number = EXCLUDED.extension_number,
        outbound_calls = EXCLUDED.outbound_calls,
        outbound_seconds = EXCLUDED.outbound_seconds,
        outbound_answered = EXCLUDED.outbound_answered,
        outbound_unanswered = EXCLUDED.outbound_unanswered,
        outbound_failed = EXCLUDED.outbound_failed,
        inbound_calls = EXCLUDED.inbound_calls,
        inbound_seconds = EXCLUDED.inbound_seconds,
        inbound_answered = EXCLUDED.inbound_answered,
        inbound_unanswered = EXCLUDED.inbound_unanswered,
        inbound_busy = EXCLUDED.inbound_busy,
        raw_response_id = EXCLUDED.raw_response_id,
        last_changed_at = now()
    WHERE (f.time_zone, f.interval_key, f.account, f.employee_name, f.extension_number,
           f.outbound_calls, f.outbound_seconds, f.outbound_answered, f.outbound_unanswered,
           f.outbound_failed, f.inbound_calls, f.inbound_seconds, f.inbound_answered,
           f.inbound_unanswered, f.inbound_busy)
          IS DISTINCT FROM
          (EXCLUDED.time_zone, EXCLUDED.interval_key, EXCLUDED.account, EXCLUDED.employee_name,
           EXCLUDED.extension_number, EXCLUDED.outbound_calls, EXCLUDED.outbound_seconds,
           EXCLUDED.outbound_answered, EXCLUDED.outbound_unanswered, EXCLUDED.outbound_failed,
           EXCLUDED.inbound_calls, EXCLUDED.inbound_seconds, EXCLUDED.inbound_answered,
           EXCLUDED.inbound_unanswered, EXCLUDED.inbound_busy)
    RETURNING (f.xmax = 0) AS inserted
)
SELECT
    (SELECT count(*) FROM stage_pbx_stats) AS staged,
    (SELECT count(*) FROM latest) AS distinct_rows,
    count(*) FILTER (WHERE inserted) AS inserted,
    count(*) FILTER (WHERE NOT inserted) AS updated
FROM upserted;
