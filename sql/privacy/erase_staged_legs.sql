-- The load path's side of an erasure: staged legs that hold an erased number get it replaced,
-- exactly as erase_rows.sql replaced it in the stored legs, so a re-pull that brings the number
-- back merges as "unchanged". Set-based; when no erasure was ever recorded it reads nothing else.
-- Returns the raw pages the erased legs came from (their bodies hold the number).
WITH erased AS (
    UPDATE stage_call_leg s SET
        caller_number = cdr.erased_number(s.caller_number, s.provider, s.account),
        called_number = cdr.erased_number(s.called_number, s.provider, s.account),
        service_number = cdr.erased_number(s.service_number, s.provider, s.account),
        attributes = cdr.erased_attributes(s.attributes::jsonb, s.provider, s.account,
            ARRAY[s.caller_number, s.called_number, s.service_number])::text
    WHERE EXISTS (SELECT 1 FROM cdr.erasure)
      AND (cdr.is_erased(s.caller_number, s.provider, s.account)
           OR cdr.is_erased(s.called_number, s.provider, s.account)
           OR cdr.is_erased(s.service_number, s.provider, s.account)
           OR cdr.erased_attributes(s.attributes::jsonb, s.provider, s.account,
            ARRAY[s.caller_number, s.called_number, s.service_number]) <> s.attributes::jsonb)
    RETURNING s.raw_response_id
)
SELECT coalesce(array_agg(DISTINCT raw_response_id) FILTER (WHERE raw_response_id IS NOT NULL), '{}')
FROM erased;
